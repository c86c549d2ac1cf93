"""Monte Carlo simulator of the idealised DS3 walk (Sec. II-A, Eq. 12-18, kernels Eq. 16-17).

Each trace walks a fully connected graph over the M relevant skills.  At every step it
moves to the next required skill s* with probability delta + (1 - delta) / M (a directed
move with probability delta, otherwise a uniform draw among the M relevant skills, which
may also land on s*), emits omega tokens, and -- if it is on s* -- executes it with
probability p.  A trace stops at the m-th success (in order) or when its budget is spent.

Strategies map onto the walk directly, never onto the closed forms:

- CoT: one trace.
- ToT(b): b branches per step from the shared history; an oracle keeps a successful
  branch (any success advances the chain); b * omega tokens per step.
- BestOfN(k, base): k independent traces, budget / k each (mixtures: their own shares);
  an oracle verifier accepts if any succeeds.
- MajorityVote(k, base, c): k independent traces; a successful trace answers correctly,
  a failed one draws a wrong answer from c; the most frequent answer wins, ties broken
  uniformly at random.

``step_decay`` multiplies p by a factor depending on the step index (fatigue, Sec. II-F),
a history-dependent kernel with no closed form in Table I.  Compute follows Eq. 18
literally: each generated token costs C_forward(n_ctx) = 2 N + 2 n_layer d_attn n_ctx at
its context length n_ctx, plus Table I's prompt term 2 n_layer d_attn Omega_prompt^2 per
independently processed prompt, plus the evaluation operations when asked.  (The
token-by-token sum differs from Table I's continuous Omega^2 / 2 by exactly
n_layer d_attn Omega.)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_probability, check_values, is_concrete, non_negative
from ._strategies import BestOfN, CoT, ToT, _check_strategy

# steps per trace beyond which a simulation is refused (memory: two keys per step, and one
# scan step each)
_MAX_STEPS = 1e7

__all__ = ["SimulationResult", "simulate", "fatigue_decay"]


class SimulationResult(NamedTuple):
    """Per-trial outcomes, each of shape [n_trials]."""

    success: jax.Array  # 1.0 where the task was solved (float for easy averaging)
    tokens: jax.Array  # generated tokens, all traces together
    flops: jax.Array  # inference FLOPs (Eq. 18 + Table I prompt term [+ evaluation])


@dataclasses.dataclass(frozen=True)
class _Model:
    m: int
    n_relevant: int
    delta: Any
    p: Any
    omega: int
    step_decay: Any
    n_params: float
    n_layer: float
    d_attn: float
    prompt_tokens: float
    include_eval: bool


def _walk(key, model: _Model, n_chains: int, width: int, rounds_max: int):
    """Run n_chains chains of `width` branches for at most rounds_max steps.

    Returns (solved [n_chains] bool, rounds used [n_chains] int).
    """
    m, M = model.m, model.n_relevant
    key_task, key_walk = jax.random.split(key)
    # The task: m required skills (ids among the M relevant ones, repeats allowed).
    task = jax.random.randint(key_task, (n_chains, m), 0, M)
    decay = model.step_decay

    def step(state, inputs):
        progress, rounds = state
        t, k = inputs
        k_dir, k_skill, k_exec = jax.random.split(k, 3)
        active = progress < m
        target = jnp.take_along_axis(task, jnp.minimum(progress, m - 1)[:, None], axis=1)
        # Transition kernel Eq. 16: directed move, else uniform over the relevant set.
        directed = jax.random.uniform(k_dir, (n_chains, width)) < model.delta
        wander = jax.random.randint(k_skill, (n_chains, width), 0, M)
        visited = jnp.where(directed, target, wander)
        # Outcome kernel Eq. 17: executing s* succeeds with probability p (times fatigue).
        p_t = model.p if decay is None else model.p * decay[t]
        executed = jax.random.uniform(k_exec, (n_chains, width)) < p_t
        advanced = jnp.any((visited == target) & executed, axis=1)  # oracle keeps a winner
        progress = progress + (active & advanced)
        rounds = rounds + active
        return (progress, rounds), None

    init = (jnp.zeros(n_chains, jnp.int32), jnp.zeros(n_chains, jnp.int32))
    if rounds_max == 0:
        return init[0] >= m, init[1]
    xs = (jnp.arange(rounds_max), jax.random.split(key_walk, rounds_max))
    (progress, rounds), _ = jax.lax.scan(step, init, xs)
    return progress >= m, rounds


def _chain_flops(model: _Model, rounds, width: int):
    """Eq. 18 summed token by token for one chain: `width` branches share the history."""
    L = rounds * model.omega  # tokens along the chain (per branch)
    attn = 2.0 * model.n_layer * model.d_attn
    per_branch = 2.0 * model.n_params * L + attn * (model.prompt_tokens * L + L * (L - 1) / 2.0)
    flops = width * per_branch + attn * model.prompt_tokens**2
    if model.include_eval and width > 1:
        flops = flops + (width - 1) * rounds  # b - 1 comparisons per branching step
    return flops


def _whole_steps(steps: float) -> int:
    """The whole steps a budget of ``steps`` allows (1e-9 absorbs a budget's rounding)."""
    return int(np.floor(steps + 1e-9))


def _single(key, model, strategy, budget_steps: float, n: int):
    """CoT / ToT chains: (solved, tokens, flops), each [n]."""
    if isinstance(strategy, CoT):
        width = 1
    elif isinstance(strategy, ToT):
        width = strategy.branching
    else:
        raise ValueError("the simulator supports CoT and ToT bases (nest parallel strategies once)")
    rounds_max = _whole_steps(budget_steps / width)
    solved, rounds = _walk(key, model, n, width, rounds_max)
    tokens = (rounds * width * model.omega).astype(float)
    return solved, tokens, _chain_flops(model, rounds.astype(float), width)


def simulate(
    strategy,
    key,
    *,
    m: int,
    budget: float,
    omega: int,
    n_relevant: int,
    delta,
    p,
    n_trials: int = 10_000,
    step_decay=None,
    n_params: float = 0.0,
    n_layer: float = 0.0,
    d_attn: float = 0.0,
    prompt_tokens: float = 0.0,
    include_eval: bool = False,
) -> SimulationResult:
    """Simulate ``n_trials`` independent tasks under ``strategy``.

    Args:
      strategy: CoT(), ToT(b), BestOfN(k, base) (base CoT/ToT or a mixture tuple) or
        MajorityVote(k, base, error_weights) with a CoT/ToT base.
      key: a ``jax.random`` key.
      m: required skills (Python int).
      budget: total token budget (Python number); the step budget of a trace is
        floor(budget_of_trace / (width * omega)) steps of its width.
      omega: tokens per step (Python int).
      n_relevant: size M of the relevant skill set.
      delta: directionality in [0, 1]; iota_hat = delta + (1 - delta) / M.
      p: execution success probability of the next required skill.
      n_trials: number of simulated tasks.
      step_decay: optional array d_t (length >= the longest trace's step count): the
        execution probability at step t (0-based, within each trace) is p * d_t.
      n_params, n_layer, d_attn, prompt_tokens, include_eval: cost model (Table I).

    Returns a :class:`SimulationResult` of per-trial success, tokens and FLOPs.
    """
    _check_strategy(strategy)
    for name, v in (("m", m), ("omega", omega), ("n_relevant", n_relevant), ("n_trials", n_trials)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive Python int, got {v!r}")
    if not isinstance(budget, (int, float, np.number)) or not 0 <= budget < np.inf:
        raise ValueError(
            f"budget must be a finite, non-negative Python number (tokens), got {budget!r}"
        )
    if budget / omega > _MAX_STEPS:
        raise ValueError(
            f"budget / omega = {budget / omega:.3g} steps per trace: the simulator draws every "
            f"step of every trace (one scan step each), at most {_MAX_STEPS:.0e}; the "
            "formulas (ds3jax.success) need no simulation at such budgets"
        )
    check_probability("delta", delta)
    check_probability("p", p)
    decay = None if step_decay is None else jnp.asarray(step_decay)
    # the walk's step count (with _single's rounding tolerance: budget // omega could be one
    # less, and JAX clamped the missing step's index silently)
    n_steps = _whole_steps(float(budget) / float(omega))
    if decay is not None and (decay.ndim != 1 or decay.shape[0] < n_steps):
        raise ValueError(
            f"step_decay must be 1-D with at least {n_steps} entries (one per step of "
            f"budget / omega), got shape {decay.shape}"
        )
    if decay is not None and is_concrete((p, decay)):
        check_probability(
            "p * step_decay", np.asarray(p, float) * np.asarray(decay), "an execution probability"
        )
    for name, v in (
        ("n_params", n_params),
        ("n_layer", n_layer),
        ("d_attn", d_attn),
        ("prompt_tokens", prompt_tokens),
    ):
        check_values(name, v, non_negative, "non-negative and finite")
    costs = tuple(jnp.asarray(v, float) for v in (n_params, n_layer, d_attn, prompt_tokens))
    shares = None
    if isinstance(strategy, BestOfN) and isinstance(strategy.base, tuple):
        k = strategy.k
        raw = np.full(k, 1.0 / k) if strategy.shares is None else np.asarray(strategy.shares)
        shares = tuple(float(x) for x in raw)  # static: they set each member's step budget
    return _simulate(
        strategy,
        key,
        jnp.asarray(delta, float),
        jnp.asarray(p, float),
        decay,
        costs,
        m=int(m),
        budget=float(budget),
        omega=int(omega),
        n_relevant=int(n_relevant),
        n_trials=int(n_trials),
        include_eval=bool(include_eval),
        shares=shares,
    )


@functools.partial(
    jax.jit,
    static_argnames=("m", "budget", "omega", "n_relevant", "n_trials", "include_eval", "shares"),
)
def _simulate(
    strategy,
    key,
    delta,
    p,
    decay,
    costs,
    *,
    m,
    budget,
    omega,
    n_relevant,
    n_trials,
    include_eval,
    shares,
):
    n_params, n_layer, d_attn, prompt_tokens = costs
    model = _Model(
        m=m,
        n_relevant=n_relevant,
        delta=delta,
        p=p,
        omega=omega,
        step_decay=decay,
        n_params=n_params,
        n_layer=n_layer,
        d_attn=d_attn,
        prompt_tokens=prompt_tokens,
        include_eval=include_eval,
    )
    steps = budget / omega
    n = n_trials

    if isinstance(strategy, (CoT, ToT)):
        solved, tokens, flops = _single(key, model, strategy, steps, n)
        if include_eval and isinstance(strategy, ToT):
            flops = flops + tokens  # logits of every generated token are accumulated
        return SimulationResult(solved.astype(float), tokens, flops)

    k = strategy.k
    if isinstance(strategy, BestOfN) and isinstance(strategy.base, tuple):
        keys = jax.random.split(key, k)
        outs = [
            _single(keys[j], model, b, steps * shares[j], n) for j, b in enumerate(strategy.base)
        ]
        solved = jnp.stack([o[0] for o in outs], axis=1)
        tokens = jnp.stack([o[1] for o in outs], axis=1)
        flops = jnp.stack([o[2] for o in outs], axis=1)
    else:
        key, sub = jax.random.split(key)
        solved, tokens, flops = _single(sub, model, strategy.base, steps / k, n * k)
        solved, tokens, flops = (a.reshape(n, k) for a in (solved, tokens, flops))
    total_tokens = tokens.sum(axis=1)
    total_flops = flops.sum(axis=1)

    if isinstance(strategy, BestOfN):
        if include_eval:
            total_flops = total_flops + total_tokens + k  # logit accumulation + selection
        return SimulationResult(jnp.any(solved, axis=1).astype(float), total_tokens, total_flops)

    # Majority vote: failed traces answer wrong answer j with probability c_j.
    c = jnp.asarray(strategy.error_weights, float)
    k_ans, k_tie = jax.random.split(key)
    wrong = 1 + jax.random.categorical(k_ans, jnp.log(c), shape=(n, k))
    answers = jnp.where(solved, 0, wrong)
    counts = jnp.sum(jax.nn.one_hot(answers, c.shape[0] + 1, dtype=jnp.int32), axis=1)
    # Uniform tie-breaking: jitter below 1 keeps the order of distinct counts.
    jitter = jax.random.uniform(k_tie, counts.shape, maxval=0.5)
    winner = jnp.argmax(counts + jitter, axis=1)
    if include_eval:
        total_flops = total_flops + k  # comparing the k answers
        if isinstance(strategy.base, ToT):
            total_flops = total_flops + total_tokens  # ToT base accumulates logits
    return SimulationResult((winner == 0).astype(float), total_tokens, total_flops)


def fatigue_decay(n_steps: int, kind: str = "complete", rate: float = 0.9):
    """Step-index multipliers for the fatigue example of Sec. II-F.

    ``"complete"``: 1 at the first step, 0 afterwards (a chain that fails its first step
    can never recover): with m = 1 CoT succeeds with probability r_1 = iota_hat p while b
    parallel single-step traces give 1 - (1 - r_1)^b.  ``"geometric"``: rate^t, a gradual
    decay for which Table I has no closed form.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive Python int, got {n_steps!r}")
    if kind == "geometric" and not 0.0 <= rate <= 1.0:  # NaN fails too
        raise ValueError(f"rate must be in [0, 1] (a decay of p), got {rate!r}")
    t = np.arange(n_steps)
    if kind == "complete":
        return (t == 0).astype(float)
    if kind == "geometric":
        return rate**t
    raise ValueError(f"kind must be 'complete' or 'geometric', got {kind!r}")
