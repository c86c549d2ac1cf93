"""The allocation problem of Eq. 53: what is optimised, and how compute is charged.

A :class:`Problem` bundles the two-step forecast (loss law Eq. 1 -> sigmoid transfer Eq. 2),
the task distribution phi(L0, m), the inference strategy, the tokens per skill step omega,
the number of tasks I served over the model's life, and the FLOP model

    C = 6 N D + 2 N I Omega                                   (Eq. 11, Eq. 53)

(parameter FLOPs only). With ``charge="expected"`` the inference term uses the expected
tokens actually spent, 2 N I E_phi[E[Omega' | Omega]] (Eq. 23-27, Eq. 41), instead of the
token budget Omega.

The objective is the task-averaged accuracy Psi(N, D, Omega) = E_phi[psi] (Eq. 40, 53).
For CoT with integer skill counts the solver uses an exact closed form (see
:func:`log_accuracy`): with T = Omega / omega steps and m + (T - m + 1) - 1 = T,

    1 - I_q(m, T - m + 1) = sum_{j < m} C(T, j) q^j (1 - q)^(T - j)      (real T)

so one running sum over j gives psi for every m = 1..m_max at once. Other strategies go
through :func:`ds3jax._tasks.log_expected_accuracy`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ds3jax._loss import LossLaw, loss
from ds3jax._strategies import CoT, _check_strategy
from ds3jax._tasks import TaskGrid, expected_accuracy, log_expected_accuracy
from ds3jax._transfer import SigmoidTransfer, log_skill_probability

__all__ = ["Problem", "make_problem", "accuracy", "log_accuracy", "total_compute"]

_CHARGES = ("budget", "expected")


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=[
        "law",
        "transfer",
        "tasks",
        "omega",
        "n_queries",
        "iota_hat",
        "levels",
        "level_weights",
    ],
    meta_fields=["strategy", "charge", "m_max", "kernel"],
)
@dataclasses.dataclass(frozen=True)
class Problem:
    """Frozen description of the total-compute allocation problem (Eq. 53).

    Build it with :func:`make_problem` (which validates and precomputes the fast CoT table)
    or :func:`optim.presets.paper_fig8`. All numeric fields are differentiable pytree leaves;
    ``strategy``, ``charge``, ``m_max`` and ``kernel`` are static.

    Attributes:
      law: :class:`ds3jax.LossLaw` (Eq. 1).
      transfer: :class:`ds3jax.SigmoidTransfer` (Eq. 2).
      tasks: :class:`ds3jax.TaskGrid`, difficulty = L0 [nats/token], m = required skills.
      omega: tokens per skill step.
      n_queries: I, number of tasks served (inference calls) over the model's life.
      iota_hat: directionality (Eq. 16); per-step success q = iota_hat * p.
      levels: shape (U,), the distinct difficulties (fast CoT kernel only).
      level_weights: shape (U, m_max), phi summed per (difficulty, m) (fast kernel only).
      strategy: the DS3 strategy (static), e.g. ``CoT()``.
      charge: "budget" (Eq. 53: inference FLOPs on the token budget Omega) or "expected"
        (on E[Omega' | Omega]).
      m_max: largest skill count (static; fast kernel loop length).
      kernel: "cot_binomial" (exact closed form, integer m, CoT) or "library".
    """

    law: LossLaw
    transfer: SigmoidTransfer
    tasks: TaskGrid
    omega: jax.Array | float
    n_queries: jax.Array | float
    iota_hat: jax.Array | float
    levels: jax.Array
    level_weights: jax.Array
    strategy: object = CoT()
    charge: str = "budget"
    m_max: int = 0
    kernel: str = "library"


def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def make_problem(
    law: LossLaw,
    transfer: SigmoidTransfer,
    tasks: TaskGrid,
    strategy=CoT(),
    omega=25.0,
    n_queries=1e9,
    iota_hat=1.0,
    charge: str = "budget",
) -> Problem:
    """Validate the pieces of Eq. 53 and build a :class:`Problem`.

    Args:
      law: loss law (Eq. 1), e.g. ``LossLaw.hoffmann_rounded()``.
      transfer: sigmoid transfer (Eq. 2), e.g. ``SigmoidTransfer(1.0, 5.0, 0.0)``.
      tasks: task distribution phi(L0, m); must hold at least one task.
      strategy: DS3 strategy value (``CoT()``, ``ToT(b)``, ``BestOfN``, ``MajorityVote``).
      omega: tokens per skill step (> 0).
      n_queries: I, number of tasks served (> 0).
      iota_hat: directionality in (0, 1], scalar.
      charge: "budget" (Eq. 53) or "expected" (E[Omega' | Omega] tokens).

    Raises:
      ValueError: empty task grid, non-positive omega / n_queries, iota_hat outside (0, 1],
        unknown charge or strategy.
    """
    _check_strategy(strategy)
    if charge not in _CHARGES:
        raise ValueError(f"charge must be one of {_CHARGES}, got {charge!r}")
    if not isinstance(tasks, TaskGrid):
        raise ValueError(f"tasks must be a ds3jax TaskGrid, got {type(tasks).__name__}")
    if tasks.weight.size == 0 or tasks.m.size == 0:
        raise ValueError("tasks is an empty task distribution: it needs at least one task")
    for name, v in (("omega", omega), ("n_queries", n_queries)):
        if _concrete(v) and not np.all(np.asarray(v, dtype=float) > 0):
            raise ValueError(f"{name} must be positive, got {v!r}")
    if _concrete(iota_hat):
        ih = np.asarray(iota_hat, dtype=float)
        if ih.ndim != 0 or not (0 < ih <= 1):
            raise ValueError(f"iota_hat must be a scalar in (0, 1], got {iota_hat!r}")

    levels = jnp.zeros((1,))
    level_weights = jnp.zeros((1, 1))
    m_max, kernel = 0, "library"
    concrete = all(_concrete(x) for x in (tasks.difficulty, tasks.m, tasks.weight))
    if concrete:
        w = np.asarray(tasks.weight, dtype=float)
        if not (np.all(w >= 0) and w.sum() > 0):
            raise ValueError("task weights must be non-negative with a positive sum")
        m = np.asarray(tasks.m, dtype=float)
        integral = np.all(m == np.round(m)) and np.all(m >= 1)
        if isinstance(strategy, CoT) and integral and m.max() <= 4096:
            diff = np.asarray(tasks.difficulty)
            uniq, inv = np.unique(diff, return_inverse=True)
            m_max = int(m.max())
            table = np.zeros((uniq.size, m_max))
            np.add.at(table, (inv, m.astype(int) - 1), w / w.sum())
            dtype = jnp.result_type(tasks.difficulty, float)
            levels = jnp.asarray(uniq, dtype)
            level_weights = jnp.asarray(table, dtype)
            kernel = "cot_binomial"
    return Problem(
        law=law,
        transfer=transfer,
        tasks=tasks,
        omega=omega,
        n_queries=n_queries,
        iota_hat=iota_hat,
        levels=levels,
        level_weights=level_weights,
        strategy=strategy,
        charge=charge,
        m_max=m_max,
        kernel=kernel,
    )


def _log_q(problem: Problem, L):
    """log q and log(1 - q) for q = iota_hat * (a sigmoid(b (L0 - L)) + d), per level.

    Shapes: L (...,) -> (..., U). 1 - q is formed as (1 - iota (a + d)) + iota a sigmoid(-z)
    so that it stays accurate when q is close to 1.
    """
    tr = problem.transfer
    L = jnp.asarray(L)[..., None]
    iota = jnp.asarray(problem.iota_hat)
    logq = jnp.log(iota) + log_skill_probability(tr, L, problem.levels)
    z = tr.b * (problem.levels - L)
    rest = 1.0 - iota * (tr.a + tr.d)
    log_core = jnp.log(iota * tr.a) + jax.nn.log_sigmoid(-z)
    pos = rest > 0
    log1mq = jnp.where(pos, jnp.logaddexp(log_core, jnp.log(jnp.where(pos, rest, 1.0))), log_core)
    return logq, log1mq


def _cot_terms(problem: Problem, N, D, Omega):
    """Psi and 1 - Psi for CoT with integer m, from the binomial-sum identity (module doc).

    t_0 = (1 - q)^T, t_{j+1} = t_j (T - j)/(j + 1) * q/(1 - q), F_m = sum_{j<m} t_j,
    psi_m = 1 - F_m for T > m - 1 and 0 otherwise (Eq. 20 with the App. C convention).
    All terms are positive (j <= m - 2 < T - 1), so F_m has no cancellation; the failure
    1 - Psi = sum phi F is therefore accurate when Psi saturates at 1, and Psi = 1 - F is
    used where Psi is not small. Returns (Psi, Fail, log_psi1_lower) with the last a log of
    the m = 1 contribution, used where Psi underflows.
    """
    logq, log1mq = _log_q(problem, loss(problem.law, N, D))  # (..., U)
    T = jnp.asarray(Omega) / problem.omega  # (...)
    logit = logq - log1mq
    x0 = T[..., None] * log1mq  # log t_0 = T log(1 - q), (..., U)
    W = problem.level_weights
    mm = problem.m_max
    j = jnp.arange(mm - 1, dtype=logq.dtype)  # increments i -> i + 1 for i = 0..mm-2
    Tj = T[..., None] - j
    log_ratio = jnp.log(jnp.where(Tj > 0, Tj, 1.0)) - jnp.log1p(j)  # (..., mm - 1)
    k = jnp.arange(mm, dtype=logq.dtype)
    # Running sums as products with triangular 0/1 matrices: XLA lowers cumsum on CPU to a
    # quadratic window sum, and a sequential scan makes the solver's nested forward-mode
    # derivatives slow to compile.
    # log t_k = T log(1-q) + k logit(q) + log C(T, k); log C(T, k) is shared by all levels.
    strict = jnp.triu(jnp.ones((mm - 1, mm), logq.dtype), k=1)
    log_binom = log_ratio @ strict
    logt = x0[..., None] + k * logit[..., None] + log_binom[..., None, :]
    # G[..., k - 1] = sum_{1 <= j <= k} t_j; F_m = t_0 + G and psi_m = psi_1 - G (m >= 2), so
    # psi_m inherits psi_1 = -expm1(T log(1-q))'s accuracy instead of 1 - F's cancellation.
    E = jnp.exp(logt)
    G = E[..., 1:] @ jnp.triu(jnp.ones((mm - 1, mm - 1), logq.dtype))
    t0 = E[..., :1]
    psi1 = -jnp.expm1(x0)
    F = jnp.concatenate([t0, t0 + G], axis=-1)  # F[..., k] = F_m with m = k + 1
    mvals = jnp.arange(1, mm + 1, dtype=logq.dtype)
    feasible = (T[..., None] > mvals - 1.0)[..., None, :]  # (..., 1, mm)
    F = jnp.where(feasible, jnp.minimum(F, 1.0), 1.0)
    psi = jnp.concatenate([psi1[..., None], jnp.maximum(psi1[..., None] - G, 0.0)], axis=-1)
    psi = jnp.where(feasible, psi, 0.0)
    fail = jnp.sum(W * F, axis=(-2, -1))
    Psi = jnp.sum(W * psi, axis=(-2, -1))
    # log psi_1 ~ log T + log q where T q is below rounding of expm1 (tiny accuracies).
    x = x0
    tiny = x > -1e-12
    log_psi1 = jnp.where(
        tiny,
        jnp.log(jnp.where(T > 0, T, 1.0))[..., None] + logq,
        jnp.log(jnp.where(tiny, 1.0, -jnp.expm1(jnp.where(tiny, -1.0, x)))),
    )
    w1 = W[:, 0]
    log_w1 = jnp.log(jnp.where(w1 > 0, w1, 1.0))
    lower = jax.nn.logsumexp(jnp.where(w1 > 0, log_w1 + log_psi1, -jnp.inf), axis=-1)
    return Psi, fail, lower


def log_accuracy(problem: Problem, N, D, Omega):
    """log Psi(N, D, Omega), Psi = E_phi[psi(q(L(N, D), L0), m, Omega, omega)] (Eq. 40, 53).

    Args:
      problem: :class:`Problem`.
      N: parameters; D: training tokens; Omega: token budget per task [tokens]. Broadcast.

    Returns:
      log Psi with the broadcast shape. With the fast CoT kernel it is log1p(-(1 - Psi)) where
      Psi > 1/2 (accurate as Psi -> 1: "log-failure" regime), log Psi below, and the log of
      the m = 1 tasks' contribution where Psi underflows, so the value and its gradient are
      finite on both flat plateaus. Float64 accuracy ~1e-14 relative in Psi where Psi > 1e-3;
      float32 ~1e-6.
    """
    N, D, Omega = jnp.broadcast_arrays(*(jnp.asarray(v) for v in (N, D, Omega)))
    if problem.kernel != "cot_binomial":
        return log_expected_accuracy(
            problem.tasks,
            problem.strategy,
            problem.law,
            problem.transfer,
            N,
            D,
            Omega,
            problem.omega,
            problem.iota_hat,
        )
    Psi, fail, lower = _cot_terms(problem, N, D, Omega)
    high = fail < 0.5
    mid = Psi > 1e-250
    v_high = jnp.log1p(-jnp.where(high, fail, 0.0))
    v_mid = jnp.log(jnp.where(mid, Psi, 1.0))
    return jnp.where(high, v_high, jnp.where(mid, v_mid, lower))


def accuracy(problem: Problem, N, D, Omega):
    """Task-averaged accuracy Psi(N, D, Omega) (Eq. 40; the objective of Eq. 53)."""
    N, D, Omega = jnp.broadcast_arrays(*(jnp.asarray(v) for v in (N, D, Omega)))
    if problem.kernel != "cot_binomial":
        return expected_accuracy(
            problem.tasks,
            problem.strategy,
            problem.law,
            problem.transfer,
            N,
            D,
            Omega,
            problem.omega,
            problem.iota_hat,
        )
    Psi, fail, _ = _cot_terms(problem, N, D, Omega)
    return jnp.where(fail < 0.5, 1.0 - fail, Psi)


def inference_tokens(problem: Problem, N, D, Omega):
    """Tokens charged per task: Omega ("budget", Eq. 53) or E_phi[E[Omega'|Omega]] ("expected")."""
    if problem.charge == "budget":
        return jnp.asarray(Omega)
    from ds3jax._tasks import expected_inference_tokens

    return expected_inference_tokens(
        problem.tasks,
        problem.strategy,
        problem.law,
        problem.transfer,
        N,
        D,
        Omega,
        problem.omega,
        problem.iota_hat,
    )


def total_compute(problem: Problem, N, D, Omega):
    """Total FLOPs C = 6 N D + 2 N I Omega_charged (Eq. 11, 53), parameter FLOPs only."""
    N = jnp.asarray(N)
    return 6.0 * N * D + 2.0 * N * problem.n_queries * inference_tokens(problem, N, D, Omega)
