"""The allocation problem of Eq. 53: what is optimised, and how compute is charged.

A :class:`Problem` bundles the two-step forecast (loss law Eq. 1 -> sigmoid transfer Eq. 2),
the task distribution phi(L0, m), the inference strategy, the tokens per skill step omega,
the number of tasks I served over the model's life, and the FLOP model

    C = 6 N D + 2 N I Omega                                   (Eq. 11, Eq. 53)

(parameter FLOPs only), or, with a :class:`FlopModel` that names an architecture, the full
Table I cost per task C_task(Omega) = a2 Omega^2 + a1 Omega + a0 (attention over the prompt
and the growing context, optional evaluation terms; Eq. 28-37), so that
C = 6 N D + I C_task(Omega). With ``charge="expected"`` the inference term is charged on the
expected tokens actually spent, E_phi[E[Omega' | Omega]] (Eq. 23-27, Eq. 41), instead of the
token budget Omega.

The objective is the task-averaged accuracy Psi(N, D, Omega) = E_phi[psi] (Eq. 40, 53).
For CoT with integer skill counts, when every difficulty level includes m = 1 tasks (as in
App. C), the solver uses an exact closed form (see :func:`log_accuracy`): with
T = Omega / omega steps and m + (T - m + 1) - 1 = T,

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

from ds3jax._checks import check_values, positive
from ds3jax._checks import is_concrete as _concrete
from ds3jax._flops import flops_coefficients
from ds3jax._loss import LossLaw, loss
from ds3jax._pytree import parameter_pytree
from ds3jax._strategies import CoT, _check_strategy
from ds3jax._tasks import (
    TaskGrid,
    expected_accuracy,
    expected_inference_tokens,
    log_expected_accuracy,
)
from ds3jax._transfer import SigmoidTransfer, log_skill_probability

__all__ = [
    "FlopModel",
    "Problem",
    "make_problem",
    "accuracy",
    "log_accuracy",
    "total_compute",
    "inference_tokens",
    "task_flops",
]

_CHARGES = ("budget", "expected")


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["n_layer", "d_attn", "prompt_tokens"],
    meta_fields=["include_eval"],
)
@dataclasses.dataclass(frozen=True)
class FlopModel:
    """Inference FLOPs per task of Table I (see :func:`ds3jax.flops_coefficients`).

    The default (all zeros, no evaluation) is the parameter-only count 2 N Omega of Eq. 11
    and Eq. 53. Naming an architecture adds the attention terms
    2 n_layer d_attn (P Omega_p^2 + Omega_p Omega + Omega^2 / (2 L)) of Eq. 28-37, and
    ``include_eval`` the logit-accumulation and comparison terms of App. A-B.

    Attributes:
      n_layer: transformer layers; d_attn: attention width; prompt_tokens: prompt length
        Omega_p [tokens]; include_eval: add evaluation terms (static).
    """

    n_layer: jax.Array | float = 0.0
    d_attn: jax.Array | float = 0.0
    prompt_tokens: jax.Array | float = 0.0
    include_eval: bool = False

    @classmethod
    def paper_appendix_ab(cls, include_eval: bool = True) -> FlopModel:
        """App. A-B's architecture: 96 layers, d_attn = 12288, 200 prompt tokens."""
        return cls(n_layer=96.0, d_attn=12288.0, prompt_tokens=200.0, include_eval=include_eval)


@parameter_pytree(meta_fields=("strategy", "charge", "m_max", "kernel", "flop_kind"))
@dataclasses.dataclass(frozen=True)
class Problem:
    """Frozen description of the total-compute allocation problem (Eq. 53).

    Build it with :func:`make_problem` (which validates and precomputes the fast CoT table)
    or :func:`optim.presets.paper_fig8`. All numeric fields are differentiable pytree leaves;
    ``strategy``, ``charge``, ``m_max`` and ``kernel`` are static.

    With the fast CoT kernel (``kernel == "cot_binomial"``) the accuracy reads the task grid
    only through ``levels`` and ``level_weights``, a table built from ``tasks`` on the host:
    derivatives with respect to the tasks land there, and a problem built with other tasks
    than its table's (``dataclasses.replace(problem, tasks=...)``) is refused; build it with
    :func:`make_problem` instead. Replacing the law, transfer, omega, ... is fine.

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
      flops: :class:`FlopModel` (inference FLOPs per task).
      charge: "budget" (Eq. 53: inference FLOPs on the token budget Omega) or "expected"
        (on E[Omega' | Omega]).
      m_max: largest skill count (static; fast kernel loop length).
      kernel: "cot_binomial" (exact closed form, integer m, CoT) or "library".
      flop_kind: "parameters" (2 N Omega per task, Eq. 11) or "table1" (static).
    """

    law: LossLaw
    transfer: SigmoidTransfer
    tasks: TaskGrid
    omega: jax.Array | float
    n_queries: jax.Array | float
    iota_hat: jax.Array | float
    levels: jax.Array
    level_weights: jax.Array
    flops: FlopModel = FlopModel()
    strategy: object = CoT()
    charge: str = "budget"
    m_max: int = 0
    kernel: str = "library"
    flop_kind: str = "parameters"

    def __post_init__(self):
        # runs when a user builds or replaces a problem, never when JAX rebuilds one
        if self.kernel != "cot_binomial":
            return
        if not _concrete((self.tasks.difficulty, self.tasks.m, self.tasks.weight)):
            return
        if not _concrete((self.levels, self.level_weights)):
            return
        table = _cot_table(self.tasks, self.strategy)
        levels, weights = np.asarray(self.levels), np.asarray(self.level_weights)
        # the table is stored in the tasks' precision (float32 without x64)
        rtol = 8 * float(np.finfo(np.result_type(levels.dtype, np.float32)).eps)
        same = table is not None and (
            table[0].shape == levels.shape
            and table[1].shape == weights.shape
            and np.allclose(table[0], levels, rtol=rtol, atol=0)
            and np.allclose(table[1], weights, rtol=rtol, atol=1e-30)
        )
        if not same:
            raise ValueError(
                "the problem's tasks do not match its fast-kernel table (levels, "
                "level_weights), which make_problem built from other tasks: build the problem "
                "with optim.make_problem(law, transfer, tasks, ...) instead of replacing tasks"
            )


def _cot_table(tasks, strategy):
    """(levels, level_weights) of the fast CoT kernel from concrete tasks, or None where it
    does not apply (another strategy, m not whole numbers in [1, 4096], or a difficulty level
    without m = 1 tasks)."""
    w = np.asarray(tasks.weight, dtype=float)
    m = np.asarray(tasks.m, dtype=float)
    integral = np.all(m == np.round(m)) and np.all(m >= 1)
    if not (isinstance(strategy, CoT) and integral and m.max() <= 4096):
        return None
    uniq, inv = np.unique(np.asarray(tasks.difficulty), return_inverse=True)
    table = np.zeros((uniq.size, int(m.max())))
    np.add.at(table, (inv, m.astype(int) - 1), w / w.sum())
    # psi_m = psi_1 - G cancels where psi_m << psi_1; its absolute error eps psi_1 is
    # harmless in the average only if every difficulty level carries m = 1 tasks
    # (then Psi >= w(level, 1) psi_1(level)). Otherwise use the library kernel.
    if not np.all(table[:, 0] > 0):
        return None
    return uniq, table


def make_problem(
    law: LossLaw,
    transfer: SigmoidTransfer,
    tasks: TaskGrid,
    strategy=CoT(),
    omega=25.0,
    n_queries=1e9,
    iota_hat=1.0,
    charge: str = "budget",
    flops: FlopModel | None = None,
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
      flops: :class:`FlopModel`; None (default) counts parameter FLOPs only (Eq. 11).

    Raises:
      ValueError: empty task grid, non-positive omega / n_queries, iota_hat outside (0, 1],
        negative architecture sizes, unknown charge or strategy.
    """
    _check_strategy(strategy)
    if charge not in _CHARGES:
        raise ValueError(f"charge must be one of {_CHARGES}, got {charge!r}")
    if not isinstance(tasks, TaskGrid):
        raise ValueError(f"tasks must be a ds3jax TaskGrid, got {type(tasks).__name__}")
    if tasks.weight.size == 0 or tasks.m.size == 0:
        raise ValueError("tasks is an empty task distribution: it needs at least one task")
    for name, v in (("omega", omega), ("n_queries", n_queries)):
        check_values(name, v, positive, "positive and finite")
    if _concrete(iota_hat):
        ih = np.asarray(iota_hat, dtype=float)
        if ih.ndim != 0 or not (0 < ih <= 1):
            raise ValueError(f"iota_hat must be a scalar in (0, 1], got {iota_hat!r}")

    flops = FlopModel() if flops is None else flops
    if not isinstance(flops, FlopModel):
        raise ValueError(f"flops must be an optim.FlopModel, got {type(flops).__name__}")
    sizes = (flops.n_layer, flops.d_attn, flops.prompt_tokens)
    flop_kind = "table1"
    if all(_concrete(v) for v in sizes):
        vals = [np.asarray(v, dtype=float) for v in sizes]
        if any(v.ndim != 0 or not np.isfinite(v) or v < 0 for v in vals):
            raise ValueError(
                "FlopModel n_layer, d_attn and prompt_tokens must be finite scalars >= 0, "
                f"got {tuple(float(np.asarray(v).ravel()[0]) for v in vals)}"
            )
        no_attn = float(vals[0] * vals[1]) == 0.0
        if no_attn and not flops.include_eval:
            flop_kind = "parameters"

    levels = jnp.zeros((1,))
    level_weights = jnp.zeros((1, 1))
    m_max, kernel = 0, "library"
    concrete = all(_concrete(x) for x in (tasks.difficulty, tasks.m, tasks.weight))
    if concrete:
        w = np.asarray(tasks.weight, dtype=float)
        if not (np.all(w >= 0) and w.sum() > 0):
            raise ValueError("task weights must be non-negative with a positive sum")
        table = _cot_table(tasks, strategy)
        if table is not None:
            dtype = jnp.result_type(tasks.difficulty, float)
            levels = jnp.asarray(table[0], dtype)
            level_weights = jnp.asarray(table[1], dtype)
            m_max, kernel = table[1].shape[1], "cot_binomial"
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
        flops=flops,
        flop_kind=flop_kind,
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
    # The running sum log C(T, k) as a product with a triangular 0/1 matrix: XLA lowers
    # cumsum on CPU to a quadratic window sum, and a sequential scan makes the solver's nested
    # forward-mode derivatives slow to compile.
    # log t_k = T log(1-q) + k logit(q) + log C(T, k); log C(T, k) is shared by all levels.
    strict = jnp.triu(jnp.ones((mm - 1, mm), logq.dtype), k=1)
    log_binom = log_ratio @ strict
    logt = x0[..., None] + k * logit[..., None] + log_binom[..., None, :]
    E = jnp.exp(logt)  # t_k, (..., U, mm)
    psi1 = -jnp.expm1(x0)
    # Sums over m folded into sums over j: with f_m = [T > m - 1] (feasible chains) and
    # c_j = sum_{m > j} W_m f_m = max(W(M_T) - W(j), 0), W(.) the cumulative weights and M_T
    # the number of feasible m,
    #   sum_m W_m f_m F_m   = sum_j t_j c_j,
    #   sum_m W_m f_m psi_m = psi_1 c_0 - sum_{j >= 1} t_j c_j   (psi_m = psi_1 - sum_{1<=j<m} t_j).
    # The subtraction loses at most eps c_0 / W_1 relative (Psi >= W_1 psi_1), as the per-m
    # form did.
    mvals = jnp.arange(1, mm + 1, dtype=logq.dtype)
    feasible = T[..., None] > mvals - 1.0  # (..., mm)
    w_cum = jnp.cumsum(W, axis=-1)  # (U, mm), constants
    w_feasible = jnp.sum(jnp.where(feasible[..., None, :], W, 0.0), axis=-1)  # W(M_T), (..., U)
    w_before = jnp.concatenate([jnp.zeros_like(w_cum[:, :1]), w_cum[:, :-1]], axis=-1)  # W(j)
    c = jnp.maximum(w_feasible[..., None] - w_before, 0.0)  # (..., U, mm)
    tc = E * c
    fail = jnp.sum(tc, axis=(-2, -1)) + (jnp.sum(W) - jnp.sum(w_feasible, axis=-1))
    fail = jnp.minimum(fail, 1.0)
    Psi = jnp.sum(psi1 * w_feasible, axis=-1) - jnp.sum(tc[..., 1:], axis=(-2, -1))
    Psi = jnp.maximum(Psi, 0.0)
    # log psi_1 ~ log T + log q where T q is below rounding of expm1 (tiny accuracies).
    x = x0
    tiny = x > -1e-12
    log_psi1 = jnp.where(
        tiny,
        jnp.log(jnp.where(T > 0, T, 1.0))[..., None] + logq,
        jnp.log(jnp.where(tiny, 1.0, -jnp.expm1(jnp.where(tiny, -1.0, x)))),
    )
    log_psi1 = jnp.where((T > 0)[..., None], log_psi1, -jnp.inf)
    w1 = W[:, 0]
    log_w1 = jnp.log(jnp.where(w1 > 0, w1, 1.0))
    lower = jax.nn.logsumexp(jnp.where(w1 > 0, log_w1 + log_psi1, -jnp.inf), axis=-1)
    return Psi, fail, lower


def _per_task(problem: Problem, fn, N, D, Omega):
    """``fn`` of :mod:`ds3jax._tasks` (task averages over phi) with the problem's pieces."""
    return fn(
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
        return _per_task(problem, log_expected_accuracy, N, D, Omega)
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
        return _per_task(problem, expected_accuracy, N, D, Omega)
    Psi, fail, _ = _cot_terms(problem, N, D, Omega)
    return jnp.where(fail < 0.5, 1.0 - fail, Psi)


def inference_tokens(problem: Problem, N, D, Omega):
    """Tokens charged per task: Omega ("budget", Eq. 53) or E_phi[E[Omega'|Omega]] ("expected")."""
    if problem.charge == "budget":
        return jnp.asarray(Omega)
    return _per_task(problem, expected_inference_tokens, N, D, Omega)


def _flop_coefficients(problem: Problem, N):
    """(a2, a1, a0) of the per-task cost a2 T^2 + a1 T + a0 (Table I) at model size N."""
    if problem.flop_kind == "parameters":
        N = jnp.asarray(N)
        return jnp.zeros_like(N), 2.0 * N, jnp.zeros_like(N)
    f = problem.flops
    return flops_coefficients(
        problem.strategy,
        N,
        n_layer=f.n_layer,
        d_attn=f.d_attn,
        prompt_tokens=f.prompt_tokens,
        include_eval=f.include_eval,
        omega=problem.omega,
    )


def task_flops(problem: Problem, N, tokens):
    """Inference FLOPs of one task that spends ``tokens`` tokens (Eq. 11 or Table I)."""
    a2, a1, a0 = _flop_coefficients(problem, N)
    tokens = jnp.asarray(tokens)
    return (a2 * tokens + a1) * tokens + a0


def log_tokens_for_flops(problem: Problem, log_n, log_flops):
    """log T with task_flops(N, T) = exp(log_flops) (the per-task inference FLOP budget).

    Parameter FLOPs only: T = F / (2 N), in logs. Table I: the positive root of the quadratic,
    T = 2 c / (a1 + sqrt(a1^2 + 4 a2 c)) with c = F - a0 (cancellation-free); -inf where the
    budget cannot even pay the fixed cost a0.
    """
    if problem.flop_kind == "parameters":
        return log_flops - jnp.log(2.0) - log_n
    a2, a1, a0 = _flop_coefficients(problem, jnp.exp(log_n))
    c = jnp.exp(log_flops) - a0
    ok = c > 0
    c = jnp.where(ok, c, 1.0)
    log_t = jnp.log(2.0 * c) - jnp.log(a1 + jnp.sqrt(a1 * a1 + 4.0 * a2 * c))
    return jnp.where(ok, log_t, -jnp.inf)


def log_budget_for_tokens(problem: Problem, N, D, log_t, n_iter: int = 16, span: float = 35.0):
    """log Omega whose charged tokens equal exp(log_t).

    "budget": Omega = T. "expected": the root of g(y) = log E_phi[E[Omega'|e^y]] - log T = 0.
    Expected usage is increasing in Omega and never above it, so the root lies in
    [log T, log T + span]; it is found by safeguarded Newton iteration in y (a Newton step
    that leaves the current bracket is replaced by bisection), without gradient, and one
    final Newton step carries the gradient, which is therefore the implicit-function
    derivative -(dg/dtheta) / (dg/dy). Where even y = log T + span cannot use T tokens
    (T above the unlimited-budget usage), the upper end is returned and the compute
    constraint is slack there.
    """
    if problem.charge == "budget":
        return log_t

    def g_of(p, n, d, y, target):
        return jnp.log(inference_tokens(p, n, d, jnp.exp(y))) - target

    frozen = jax.tree_util.tree_map(jax.lax.stop_gradient, (problem, N, D, log_t))

    def g_frozen(y):
        return g_of(*frozen[:3], y, frozen[3])

    lo0 = frozen[3]
    hi0 = lo0 + span

    def body(_, s):
        lo, hi, y = s
        gy, dg = jax.jvp(g_frozen, (y,), (jnp.ones_like(y),))
        lo = jnp.where(gy < 0, y, lo)
        hi = jnp.where(gy >= 0, y, hi)
        step = y - gy / jnp.where(dg > 0, dg, 1.0)
        inside = (dg > 0) & (step > lo) & (step < hi)
        return lo, hi, jnp.where(inside, step, 0.5 * (lo + hi))

    _, _, root = jax.lax.fori_loop(0, n_iter, body, (lo0, hi0, lo0))
    root = jax.lax.stop_gradient(root)
    slack = g_frozen(hi0) < 0
    val, slope = jax.jvp(lambda y: g_of(problem, N, D, y, log_t), (root,), (jnp.ones_like(root),))
    newton = root - val / jnp.where(slope > 0, slope, 1.0)
    return jnp.where(slack, hi0, jnp.where(slope > 0, newton, root))


def total_compute(problem: Problem, N, D, Omega):
    """Total FLOPs C = 6 N D + I C_task(charged tokens) (Eq. 11, 53; Table I with a FlopModel).

    An infinite D (the unbounded-data plane) counts no training compute.
    """
    N = jnp.asarray(N)
    tokens = inference_tokens(problem, N, D, Omega)
    return training_compute(N, D) + problem.n_queries * task_flops(problem, N, tokens)


def training_compute(N, D):
    """6 N D [FLOPs] (Eq. 11); 0 for unbounded data (D = inf, the inference-only plane)."""
    D = jnp.asarray(D)
    finite = jnp.isfinite(D)
    return jnp.where(finite, 6.0 * jnp.asarray(N) * jnp.where(finite, D, 0.0), 0.0)
