"""Inference compute of Table I (Eq. 28, 31, 34, 37) and equal-compute token budgets.

Every strategy's cost is a quadratic in its generated tokens Omega:

    C(Omega) = 2 N Omega                                          (parameters)
             + 2 n_layer d_attn (P_k Omega_p^2 + Omega_p Omega + Omega^2 / (2 L))   (attention)
             + C_eval(Omega)                                      (evaluation, optional)

with Omega_p the prompt length, P_k the number of independently processed prompts and L
the number of equal-length chains sharing the tokens:

    CoT: P_k = 1, L = 1          ToT(b): P_k = 1, L = b
    BestOfN / MajorityVote(k, CoT): P_k = k, L = k;   with a ToT(b) base: P_k = k, L = b k.

Evaluation terms (Table I note c and App. A-B), counted as one FLOP per operation:
ToT(b) accumulates the logits of every generated token (Omega) and makes b - 1
comparisons at each of the Omega / (b omega) branching steps; BestOfN accumulates logits
(Omega) and selects among k outputs (k); MajorityVote compares k answers (k); CoT has none.
A mixture (footnote 10) sums its members' costs, member j receiving share_j of the tokens.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_values, non_negative, positive
from ._strategies import BestOfN, CoT, MajorityVote, ToT, _check_strategy

__all__ = [
    "inference_flops",
    "flops_coefficients",
    "equal_compute_tokens",
    "tot_equal_compute_budget",
]


def _coefficients(s, n_params, n_layer, d_attn, prompt_tokens, include_eval, omega):
    """(a2, a1, a0) with C(Omega) = a2 Omega^2 + a1 Omega + a0 for a non-mixture strategy."""
    attn = 2.0 * n_layer * d_attn
    if isinstance(s, CoT):
        prompts, chains, inner = 1, 1, None
    elif isinstance(s, ToT):
        prompts, chains, inner = 1, s.branching, None
    else:
        base = s.base
        if isinstance(base, (BestOfN, MajorityVote)) or isinstance(base, tuple):
            raise ValueError("nested parallel strategies: use a mixture BestOfN instead")
        prompts, chains, inner = s.k, s.k * (base.branching if isinstance(base, ToT) else 1), base
    a2 = attn / (2.0 * chains)
    a1 = 2.0 * n_params + attn * prompt_tokens
    a0 = attn * prompts * prompt_tokens**2
    if include_eval:
        if isinstance(s, ToT):
            b = s.branching
            a1 = a1 + 1.0 + (b - 1) / (b * omega)
        elif isinstance(s, BestOfN):
            a1 = a1 + 1.0
            a0 = a0 + s.k
            if isinstance(inner, ToT):
                b = inner.branching
                a1 = a1 + (b - 1) / (b * omega)
        elif isinstance(s, MajorityVote):
            a0 = a0 + s.k
            if isinstance(inner, ToT):
                b = inner.branching
                a1 = a1 + 1.0 + (b - 1) / (b * omega)
    return a2, a1, a0


def flops_coefficients(
    strategy,
    n_params,
    *,
    n_layer=0,
    d_attn=0,
    prompt_tokens=0,
    include_eval=False,
    omega=25.0,
):
    """Coefficients (a2, a1, a0) of C(Omega) = a2 Omega^2 + a1 Omega + a0 (see module doc).

    ``omega`` (tokens per step) only enters ToT's comparison count.  A mixture gives
    member j the tokens share_j Omega, so its a2 scales with share_j^2 and a1 with share_j.
    """
    _check_strategy(strategy)
    for name, v in (
        ("n_params", n_params),
        ("n_layer", n_layer),
        ("d_attn", d_attn),
        ("prompt_tokens", prompt_tokens),
    ):
        check_values(name, v, non_negative, "finite and >= 0")
    check_values("omega", omega, positive, "positive and finite (tokens per step)")
    if isinstance(strategy, BestOfN) and isinstance(strategy.base, tuple):
        shares = (
            np.full(strategy.k, 1.0 / strategy.k) if strategy.shares is None else strategy.shares
        )
        a2 = a1 = a0 = 0.0
        for sh, member in zip(shares, strategy.base):
            c2, c1, c0 = _coefficients(
                member, n_params, n_layer, d_attn, prompt_tokens, False, omega
            )
            a2 = a2 + c2 * sh**2
            a1 = a1 + c1 * sh
            a0 = a0 + c0
            if include_eval and isinstance(member, ToT):
                b = member.branching
                a1 = a1 + sh * (b - 1) / (b * omega)  # member's branching comparisons
        if include_eval:
            a1 = a1 + 1.0  # logits of every token, once
            a0 = a0 + strategy.k  # selecting among k outputs
        return a2, a1, a0
    return _coefficients(strategy, n_params, n_layer, d_attn, prompt_tokens, include_eval, omega)


def inference_flops(
    strategy,
    tokens,
    n_params,
    *,
    n_layer=0,
    d_attn=0,
    prompt_tokens=0,
    include_eval=False,
    omega=25.0,
) -> jax.Array:
    """Inference FLOPs C_param + C_attn (+ C_eval) of Table I for ``tokens`` generated tokens.

    Eq. 28 (CoT), 31 (ToT(b)), 34 (BestOfN with CoT base), 37 (BestOfN with ToT(b) base);
    MajorityVote costs as BestOfN with the evaluation term k (Table I note c).  Pass the
    budget or :func:`ds3jax._strategies.expected_tokens` as ``tokens``.

    Args:
      strategy: a Table I strategy.
      tokens: generated tokens Omega (all traces together), any shape.
      n_params: non-embedding parameters N.
      n_layer, d_attn: transformer layers and attention width (0 drops the attention term).
      prompt_tokens: prompt length Omega_prompt (tokens).
      include_eval: add the evaluation terms (logit accumulation and comparisons, App. A-B).
      omega: tokens per step (only for ToT's branching-step count).

    Returns FLOPs with the broadcast shape of the arguments.
    """
    check_values("tokens", tokens, non_negative, "finite and >= 0")
    a2, a1, a0 = flops_coefficients(
        strategy,
        n_params,
        n_layer=n_layer,
        d_attn=d_attn,
        prompt_tokens=prompt_tokens,
        include_eval=include_eval,
        omega=omega,
    )
    tokens = jnp.asarray(tokens)
    tokens = tokens.astype(jnp.result_type(tokens, float))
    return (a2 * tokens + a1) * tokens + a0


def equal_compute_tokens(
    reference,
    reference_tokens,
    strategy,
    n_params,
    *,
    n_layer=0,
    d_attn=0,
    prompt_tokens=0,
    include_eval=False,
    omega=25.0,
) -> jax.Array:
    """Tokens Omega' such that ``strategy`` costs exactly what ``reference`` costs at
    ``reference_tokens`` (the positive root of a2 Omega'^2 + a1 Omega' + a0 = C_ref).

    Solved with the cancellation-free form Omega' = 2 c / (a1 + sqrt(a1^2 + 4 a2 c)),
    c = C_ref - a0 (0 where the reference cannot even pay the strategy's fixed cost; the
    derivative at c = 0 is the one from above, as tokens cannot be negative).
    """
    kw = dict(
        n_layer=n_layer,
        d_attn=d_attn,
        prompt_tokens=prompt_tokens,
        include_eval=include_eval,
        omega=omega,
    )
    target = inference_flops(reference, reference_tokens, n_params, **kw)
    a2, a1, a0 = flops_coefficients(strategy, n_params, **kw)
    c = target - a0
    c = jnp.where(c >= 0.0, c, 0.0)
    # where 4 a2 c overflows (FLOP counts beyond ~1e300) the root is sqrt(c / a2) to
    # rounding; each branch sees only the c it is right for, so neither's gradient is NaN
    huge = 4.0 * a2 * c > 1e300
    small = jnp.where(huge, 0.0, c)
    root = 2.0 * small / (a1 + jnp.sqrt(a1 * a1 + 4.0 * a2 * small))
    big = jnp.where(huge, c, 1.0)
    return jnp.where(huge, jnp.sqrt(big) / jnp.sqrt(jnp.where(huge, a2, 1.0)), root)


def tot_equal_compute_budget(
    cot_budget,
    branching: int,
    n_params,
    *,
    n_layer=0,
    d_attn=0,
    prompt_tokens=0,
    include_eval=True,
    omega=25.0,
) -> jax.Array:
    """ToT(b) token budget with the same total compute as CoT at ``cot_budget`` (Fig. 4).

    Exact root of C_ToT(b)(Omega_T) = C_CoT(Omega_CoT) (Eq. 28 = Eq. 31, with App. A-B's
    evaluation terms by default).  For large budgets the quadratic attention terms dominate
    and Omega_T / Omega_CoT -> sqrt(b) (Eq. 39).  Fig. 4 / App. A-B use N = 1e10,
    n_layer = 96, d_attn = 12288, prompt_tokens = 200, omega = 25.
    """
    return equal_compute_tokens(
        CoT(),
        cot_budget,
        ToT(branching),
        n_params,
        n_layer=n_layer,
        d_attn=d_attn,
        prompt_tokens=prompt_tokens,
        include_eval=include_eval,
        omega=omega,
    )
