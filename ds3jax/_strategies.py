"""Inference strategies of Table I: success probability and expected token usage.

Notation (Sec. II-A to II-E): ``q`` = iota_hat * p is the per-step probability of selecting
and executing the next required skill, ``m`` the number of required skills, ``budget`` the
total token budget Omega (tokens), ``omega`` the tokens emitted per skill step.  Step
budgets are continuous: T = budget / omega need not be an integer, and the floors of
Eq. 29 and 32 are dropped (pass ``floor(...)`` budgets to recover them).

Strategies are frozen dataclasses registered as pytrees; discrete settings (branching
factor, number of samples) are static fields, so a strategy can be passed straight
through ``jax.jit`` / ``jax.vmap`` as an argument.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, ndtr

from ._checks import check_values, is_concrete, non_negative, positive
from ._majority import mv_log_table, mv_success
from .special import betainc, log_betainc, log_betaincc

__all__ = [
    "CoT",
    "ToT",
    "BestOfN",
    "MajorityVote",
    "Strategy",
    "success",
    "log_success",
    "expected_tokens",
]


def _static_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be a Python int >= {minimum}, got {value!r}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class CoT:
    """Chain of thought: one sequential trace (Sec. II-B, Eq. 19-28)."""


@dataclasses.dataclass(frozen=True)
class ToT:
    """ToT(1) with ``branching`` parallel candidates per step (Sec. II-C, Eq. 29-31).

    Each step evaluates ``branching`` nodes (b * omega tokens); an oracle keeps a
    successful branch, so the per-step success probability is 1 - (1 - q)^b and a budget
    of T steps allows T / b sequential steps.
    """

    branching: int = dataclasses.field(default=2, metadata=dict(static=True))

    def __post_init__(self):
        object.__setattr__(self, "branching", _static_int("branching", self.branching))


@dataclasses.dataclass(frozen=True)
class BestOfN:
    """Best-of-N with an oracle verifier (pass@k), Sec. II-D, Eq. 32-37 and footnote 10.

    ``base`` is the policy each of the ``k`` traces runs (CoT, ToT, ...), each with budget
    ``budget / k``.  A mixture of k possibly different policies is a tuple of k
    strategies as ``base``; ``shares`` (optional, length k, non-negative, sum 1) gives
    the fraction of the total budget each member receives (default: equal shares).
    Success is 1 - prod_j (1 - psi_j).
    """

    k: int = dataclasses.field(default=1, metadata=dict(static=True))
    base: Any = dataclasses.field(default_factory=CoT)
    shares: Any = None

    def __post_init__(self):
        k = _static_int("k", self.k)
        object.__setattr__(self, "k", k)
        base = self.base
        if isinstance(base, list):
            base = tuple(base)
            object.__setattr__(self, "base", base)
        if isinstance(base, tuple):
            if len(base) != k:
                raise ValueError(f"a mixture base must hold k = {k} strategies, got {len(base)}")
            for b in base:
                _check_strategy(b, "base")
        else:
            _check_strategy(base, "base")
        shares = self.shares
        # jax arrays too (they gave tokens beyond the budget); traced ones pass unchecked
        # (a scalar is a vmap axis spec, not shares)
        given = isinstance(shares, (list, tuple, np.ndarray, jax.Array))
        if given and is_concrete(shares):
            s = np.asarray(shares, dtype=float)
            if s.shape != (k,) or np.any(s < 0) or not np.isclose(s.sum(), 1.0):
                raise ValueError(
                    f"shares must be k = {k} non-negative budget fractions summing to 1, "
                    f"got {shares!r}"
                )
            if not isinstance(shares, jax.Array):
                object.__setattr__(self, "shares", s)
        if given and not isinstance(base, tuple):
            # shares split the budget between members: one base is k equal members (the
            # shares were checked, then dropped, and every member got budget / k)
            object.__setattr__(self, "base", (base,) * k)


@dataclasses.dataclass(frozen=True)
class MajorityVote:
    """Majority voting over k independent traces (Sec. II-E, Eq. 38), random tie-breaking.

    Each trace runs ``base`` with budget ``budget / k`` and answers correctly with the
    base success probability psi; otherwise it returns wrong answer j with probability
    ``error_weights[j]`` (non-negative, summing to 1; the alphabet has
    ``len(error_weights) + 1`` answers).  Costs and tokens are those of BestOfN.
    """

    k: int = dataclasses.field(default=1, metadata=dict(static=True))
    base: Any = dataclasses.field(default_factory=CoT)
    error_weights: Any = (1.0,)

    def __post_init__(self):
        object.__setattr__(self, "k", _static_int("k", self.k))
        _check_strategy(self.base, "base")
        c = self.error_weights
        if isinstance(c, (list, tuple, np.ndarray, float, int)):
            c = np.atleast_1d(np.asarray(c, dtype=float))
            if c.ndim != 1 or np.any(c < 0) or not np.isclose(c.sum(), 1.0):
                raise ValueError(
                    "error_weights must be a 1-D array of non-negative probabilities over "
                    f"the wrong answers summing to 1, got {self.error_weights!r}"
                )
            object.__setattr__(self, "error_weights", c)


for _cls in (CoT, ToT, BestOfN, MajorityVote):
    jax.tree_util.register_dataclass(_cls)

Strategy = CoT | ToT | BestOfN | MajorityVote
_STRATEGY_TYPES = (CoT, ToT, BestOfN, MajorityVote)


def _check_strategy(s, name="strategy"):
    if not isinstance(s, _STRATEGY_TYPES):
        raise ValueError(
            f"{name} must be one of CoT(), ToT(branching=b), BestOfN(k=..., base=...), "
            f"MajorityVote(k=..., base=..., error_weights=...); got {s!r}"
        )


# ---------------------------------------------------------------------------------------
# Argument handling


def _prepare(strategy, q, m, budget, omega):
    _check_strategy(strategy)
    for name, v, ok, allowed in (
        ("q", q, lambda a: (a >= 0) & (a <= 1), "in [0, 1]"),
        ("m", m, lambda a: a >= 1, ">= 1"),
        ("budget", budget, non_negative, "finite and >= 0 (tokens)"),
        ("omega", omega, positive, "finite and > 0 (tokens per step)"),
    ):
        check_values(name, v, ok, allowed)
    dtype = jnp.result_type(q, m, budget, omega, float)
    return tuple(jnp.asarray(v, dtype) for v in (q, m, budget, omega))


def _log1mexp(x):
    """log(1 - exp(x)) for x <= 0, accurate on both sides of -log 2; -inf at x = 0."""
    near = x > -0.6931471805599453
    a = jnp.log(-jnp.expm1(jnp.where(near, x, -1.0)))
    b = jnp.log1p(-jnp.exp(jnp.where(near, -1.0, x)))
    return jnp.where(near, a, b)


def _chain_args(x, m, steps):
    """Second incomplete-beta parameter T - m + 1, safe where infeasible (double where)."""
    n = steps - m + 1
    feasible = n > 0
    return feasible, jnp.where(feasible, n, 1.0)


def _chain_prob(strategy, q, m, budget, omega):
    """Per-step success probability x and the number of sequential steps for CoT/ToT."""
    steps = budget / omega
    if isinstance(strategy, CoT):
        return q, steps
    b = strategy.branching
    # 1 - (1 - q)^b: expm1/log1p for small q (no cancellation), integer power near q = 1
    # (finite derivative there); double where keeps the unused branch's gradient finite.
    small = q < 0.5
    x_small = -jnp.expm1(b * jnp.log1p(-jnp.where(small, q, 0.0)))
    x_large = 1.0 - (1.0 - jnp.where(small, 0.5, q)) ** b
    return jnp.where(small, x_small, x_large), steps / b


def _chain_fail_prob(strategy, q):
    """1 - x = (1 - q)^b, exact where x rounds to 1."""
    if isinstance(strategy, CoT):
        return 1.0 - q
    return (1.0 - q) ** strategy.branching


def _chain_logs(strategy, q, m, budget, omega, want_success: bool):
    """log psi or log(1 - psi) of a chain, each from the side that does not cancel:
    1 - I_x(m, n) = I_{1-x}(n, m), used with 1 - x = (1 - q)^b where x > 1/2."""
    x, steps = _chain_prob(strategy, q, m, budget, omega)
    y = _chain_fail_prob(strategy, q)
    feasible, n = _chain_args(x, m, steps)
    low = x <= 0.5
    x_lo, y_lo = jnp.where(low, x, 0.25), jnp.where(low, 0.25, y)
    if want_success:
        val = jnp.where(low, log_betainc(m, n, x_lo), log_betaincc(n, m, y_lo))
        return jnp.where(feasible, val, -jnp.inf)
    val = jnp.where(low, log_betaincc(m, n, x_lo), log_betainc(n, m, y_lo))
    return jnp.where(feasible, val, 0.0)


# ---------------------------------------------------------------------------------------
# Success probability


def _success(s, q, m, budget, omega):
    if isinstance(s, (CoT, ToT)):
        x, steps = _chain_prob(s, q, m, budget, omega)
        feasible, n = _chain_args(x, m, steps)
        return jnp.where(feasible, betainc(m, n, x), 0.0)
    if isinstance(s, BestOfN):
        return -jnp.expm1(_log_failure(s, q, m, budget, omega))
    psi = _success(s.base, q, m, budget / s.k, omega)
    return mv_success(psi, s.k, jnp.asarray(s.error_weights, psi.dtype))


def _log_success(s, q, m, budget, omega):
    if isinstance(s, (CoT, ToT)):
        return _chain_logs(s, q, m, budget, omega, want_success=True)
    if isinstance(s, BestOfN):
        return _log_bon_success(s, q, m, budget, omega)
    return _log_mv_success(s, q, m, budget, omega)


def _log_mv_success(s, q, m, budget, omega):
    """log Psi_MV = logsumexp_y [log Binom(y; k, psi) + log Q_y] with the binomial weights
    from the base's log psi and log(1 - psi): finite where psi underflows (mv_log_success
    takes psi itself, and gave -inf there)."""
    lp = _log_success(s.base, q, m, budget / s.k, omega)
    l1 = _log_failure(s.base, q, m, budget / s.k, omega)
    dtype = lp.dtype
    log_q = mv_log_table(s.k, jnp.asarray(s.error_weights, dtype)).astype(dtype)
    k = s.k
    y = jnp.arange(k + 1, dtype=dtype)
    # -inf (an infeasible base, or psi = 1) times y = 0 must stay 0: floored, not -inf
    floor = jnp.finfo(dtype).min / (2 * (k + 1))
    lp_c, l1_c = jnp.maximum(lp, floor)[..., None], jnp.maximum(l1, floor)[..., None]
    log_binom = gammaln(k + 1.0) - gammaln(y + 1.0) - gammaln(k - y + 1.0)
    terms = log_binom + jnp.where(y > 0, y * lp_c, 0.0) + jnp.where(y < k, (k - y) * l1_c, 0.0)
    # clipped like the library's kernel: the binomial weights sum to 1 only to rounding
    out = jnp.minimum(jax.nn.logsumexp(terms + log_q, axis=-1), 0.0)
    # psi = 0 (an infeasible base): every vote is wrong, Psi = Q_0 (the floor above left a
    # huge negative number instead of its -inf)
    return jnp.where(lp == -jnp.inf, log_q[0], out)


def _log_neg_log_failure(s, q, m, budget, omega):
    """log(-log(1 - psi)) of one member, from log psi where psi is tiny (there log(1 - psi)
    rounds to 0): -log1p(-psi) = psi (1 + psi / 2 + ...)."""
    lf = _log_failure(s, q, m, budget, omega)
    ls = _log_success(s, q, m, budget, omega)
    tiny = lf > -1e-8
    big = jnp.log(-jnp.where(tiny, -1.0, lf))
    return jnp.where(tiny, ls + 0.5 * jnp.exp(jnp.minimum(ls, 0.0)), big)


def _log_bon_success(s, q, m, budget, omega):
    """log(1 - prod_j (1 - psi_j)) = log u + log((1 - e^-u) / u), u = -sum_j log(1 - psi_j),
    with log u a logsumexp of the members' log(-log(1 - psi_j)): finite where every psi_j
    underflows (it was -inf once k log1p(-psi) rounded to 0)."""
    terms = jnp.stack(
        [_log_neg_log_failure(b, q, m, bj, omega) + np.log(n) for b, bj, n in _members(s, budget)]
    )
    log_u = jax.nn.logsumexp(terms, axis=0)
    u = jnp.exp(log_u)
    # log((1 - e^-u) / u): -u / 2 to first order where u is tiny (the ratio rounds there)
    small = u < 1e-8
    u_s = jnp.where(small, 1.0, u)
    corr = jnp.where(small, -0.5 * u, jnp.log(-jnp.expm1(-u_s) / u_s))
    return log_u + corr


def _log_failure(s, q, m, budget, omega):
    """log(1 - psi), accurate where psi is tiny (BoN's 1 - (1 - psi)^k needs it)."""
    if isinstance(s, (CoT, ToT)):
        return _chain_logs(s, q, m, budget, omega, want_success=False)
    if isinstance(s, BestOfN):
        return sum(n * _log_failure(b, q, m, bj, omega) for b, bj, n in _members(s, budget))
    return jnp.log1p(-_success(s, q, m, budget, omega))


def _members(s: BestOfN, budget):
    """(strategy, budget, count) of each kind of trace: a mixture's members at their shares,
    or the one base k times at budget / k."""
    if isinstance(s.base, tuple):
        shares = _shares(s, budget.dtype)
        return [(b, budget * shares[j], 1) for j, b in enumerate(s.base)]
    return [(s.base, budget / s.k, s.k)]


def _shares(s: BestOfN, dtype):
    if s.shares is None:
        return jnp.full((s.k,), 1.0 / s.k, dtype)
    return jnp.asarray(s.shares, dtype)


def success(strategy: Strategy, q, m, budget, omega) -> jax.Array:
    """Task success probability psi of Table I (Eq. 20, 29, 32, 35, 38, footnote 10).

    - CoT: I_q(m, T - m + 1) with T = budget / omega (Eq. 20); 0 where T - m + 1 <= 0.
    - ToT(b): I_x(m, T / b - m + 1), x = 1 - (1 - q)^b (Eq. 29).
    - BestOfN(k, base): 1 - (1 - psi_base(budget / k))^k (Eq. 32, 35), computed as
      -expm1(k log(1 - psi_base)) from log_betaincc, so small psi does not cancel;
      mixtures: 1 - prod_j (1 - psi_j(share_j budget)).
    - MajorityVote(k, base, c): exact Eq. 38 with psi_base(budget / k) as the correct-answer
      probability (see ``ds3jax._majority``).

    Args:
      strategy: CoT(), ToT(b), BestOfN(...) or MajorityVote(...).
      q: per-step success probability iota_hat * p, in [0, 1].
      m: number of required skills (>= 1; real values allowed).
      budget: total token budget Omega (tokens).
      omega: tokens per skill step.

    Arrays broadcast; the result has the broadcast shape and the inputs' float dtype.
    Differentiable in q, m and budget; gradients are finite everywhere, including the
    infeasible region (value 0, gradient 0).
    """
    return _success(strategy, *_prepare(strategy, q, m, budget, omega))


def log_success(strategy: Strategy, q, m, budget, omega) -> jax.Array:
    """log psi (see :func:`success`), accurate where psi underflows; -inf where infeasible."""
    return _log_success(strategy, *_prepare(strategy, q, m, budget, omega))


# ---------------------------------------------------------------------------------------
# Expected token usage


def _cot_steps_exact(x, m, steps):
    # E[min(T, K)] for T ~ NB(m, x) (trials to the m-th success), K = steps:
    # t P(T = t) = (m / x) P(T' = t + 1) with T' ~ NB(m + 1, x), hence
    # E[min(T, K)] = (m / x) I_x(m + 1, K - m + 1) + K (1 - I_x(m, K - m + 1)).
    feasible, n = _chain_args(x, m, steps)
    x_safe = jnp.where(x > 0, x, 1.0)
    # (m / x) I_x(m + 1, n); in logs for tiny x, where m / x^2 (its derivative) overflows and
    # met I = 0 (inf * 0). Not everywhere: near I = 1 the log form's rounding made the
    # tokens wobble by an ulp as the budget grew
    tiny = jnp.finfo(x_safe.dtype).tiny ** 0.25
    direct = x_safe > tiny
    x_d, x_l = jnp.where(direct, x_safe, 1.0), jnp.where(direct, 0.5, x_safe)
    first = jnp.where(
        direct,
        m / x_d * betainc(m + 1, n, x_d),
        m * jnp.exp(log_betainc(m + 1, n, x_l) - jnp.log(x_l)),
    )
    first = jnp.where(feasible & (x > 0), first, 0.0)
    tail = jnp.where(feasible, jnp.exp(log_betaincc(m, n, x)), 1.0)
    # E[min(T, K)] <= K; the interpolation between integer K exceeds it for K in (m - 1, m)
    return jnp.minimum(first + steps * tail, steps)


def _live(x, steps):
    """Where a chain can still finish within K = steps: x K above sqrt(eps). Below, its
    chance to finish is at most (x K)^m / m! and E[min(T, K)] = K to rounding, while m / x
    and its derivative overflow."""
    tiny = jnp.sqrt(jnp.finfo(jnp.result_type(x, steps)).eps)
    return x * steps > tiny


def _cot_steps_gaussian(x, m, steps, z_star):
    # Eq. 26 in step units: Gaussian approximation of NB(m, x) in |z| <= z*, tails linear.
    live = _live(x, steps)
    x_safe = jnp.where(live, x, 1.0)
    mu = m / x_safe
    degenerate = x >= 1  # no variance: T = m exactly
    sig = jnp.sqrt(m * (1.0 - jnp.where(degenerate, 0.0, x))) / x_safe
    z = (steps - mu) / sig
    mid = mu * ndtr(z) + steps * (1.0 - ndtr(z)) - sig * jnp.exp(-0.5 * z**2) / jnp.sqrt(2 * jnp.pi)
    val = jnp.where(z < -z_star, steps, jnp.where(z > z_star, mu, mid))
    val = jnp.where(degenerate, jnp.minimum(mu, steps), val)
    # for m < z*^2 z stays above -z* as x -> 0, and the middle branch fell to -c / x (tokens
    # of -1870 on a budget of 250). Held to what its own Gaussian allows, E[min(T, K)] in
    # [K P(T > K), K]; elsewhere Eq. 26 is kept as printed
    val = jnp.clip(val, steps * (1.0 - ndtr(z)), steps)
    return jnp.where(live, val, steps)


def _cot_steps_linear(x, m, steps):
    # Eq. 27: min(m / x, K).
    live = _live(x, steps)
    x_safe = jnp.where(live, x, 1.0)
    return jnp.where(live, jnp.minimum(m / x_safe, steps), steps)


def _tokens(s, q, m, budget, omega, method, z_star):
    if isinstance(s, (CoT, ToT)):
        x, steps = _chain_prob(s, q, m, budget, omega)
        if method == "exact":
            n = _cot_steps_exact(x, m, steps)
        elif method == "gaussian":
            n = _cot_steps_gaussian(x, m, steps, z_star)
        else:
            n = _cot_steps_linear(x, m, steps)
        width = 1 if isinstance(s, CoT) else s.branching
        return omega * width * n
    if isinstance(s, BestOfN):
        return sum(
            n * _tokens(b, q, m, bj, omega, method, z_star) for b, bj, n in _members(s, budget)
        )
    return s.k * _tokens(s.base, q, m, budget / s.k, omega, method, z_star)


def expected_tokens(
    strategy: Strategy, q, m, budget, omega, method: str = "exact", z_star: float = 2.0
) -> jax.Array:
    """Expected generated tokens E[Omega' | Omega] under a token budget (Table I).

    A chain stops at the m-th success or when its budget is spent.  For CoT, with
    K = budget / omega steps and T ~ NB(m, q):

    - ``"exact"``: omega E[min(T, K)] = omega [(m / q) I_q(m + 1, K - m + 1)
      + K (1 - I_q(m, K - m + 1))], the closed form of Eq. 23 (no sum over t; exact at
      integer K, a smooth interpolation between).  Tends to omega m / q (Eq. 24) for
      large budgets and to the budget (Eq. 25) for small ones.
    - ``"gaussian"``: the piecewise linear-Gaussian approximation Eq. 26 with cut ``z_star``.
    - ``"linear"``: min(omega m / q, budget), Eq. 27.

    ToT(b) applies the same with per-step probability 1 - (1 - q)^b, K / b sequential steps
    and b * omega tokens per step (Eq. 30); BestOfN and MajorityVote use k times the base
    at budget / k (Eq. 33, 36), mixtures sum their members at their budget shares.

    Returns tokens with the broadcast shape of the arguments.
    """
    if method not in ("exact", "gaussian", "linear"):
        raise ValueError(f"method must be 'exact', 'gaussian' or 'linear', got {method!r}")
    if method == "gaussian":
        check_values("z_star", z_star, positive, "finite and > 0 (the Gaussian cut)")
    args = _prepare(strategy, q, m, budget, omega)
    return _tokens(strategy, *args, method, z_star)
