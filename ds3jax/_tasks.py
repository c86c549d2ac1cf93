"""Task distributions phi(difficulty, m) and population aggregates (Eq. 40-41).

A task is a pair (difficulty, m): the difficulty is the skill difficulty L0 [nats/token] of
the two-step model (Eq. 2, 53) or the skill level l of the skill-text framework (Eq. 51-52),
and m is the number of required skills. A :class:`TaskGrid` holds K tasks as flat arrays with
probability weights, so every aggregate is one weighted sum over a trailing task axis:

    Psi = E_phi[psi] = sum_k phi_k psi_k                        (Eq. 40)
    C_inf = E_phi[C_inf] = sum_k phi_k C_inf^(k)               (Eq. 41)
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_values, non_negative, positive
from ._loss import LossLaw, loss
from ._transfer import SigmoidTransfer, skill_probability
from .special._elementary import weighted_logsumexp

__all__ = [
    "TaskGrid",
    "task_average",
    "resolve_success",
    "per_task_success",
    "expected_accuracy",
    "log_expected_accuracy",
    "expected_inference_tokens",
    "expected_inference_compute",
]

_WEIGHTS = "non-negative and finite with a positive sum"


def _check_nonempty(difficulty, m):
    for name, v in (("difficulty", difficulty), ("m", m)):
        if np.size(v) == 0:
            raise ValueError(f"{name} is empty: a task grid needs at least one task")


def _weights_ok(w):
    return np.all(non_negative(w)) & (np.sum(w) > 0)


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["difficulty", "m", "weight"],
    meta_fields=[],
)
@dataclasses.dataclass(frozen=True)
class TaskGrid:
    """A discrete task distribution phi over (difficulty, m): K tasks with weights summing to 1.

    Attributes:
      difficulty: shape (K,). Skill difficulty L0 [nats/token] for the two-step model, or the
        skill level l (integer-valued, 1..L) for the skill-text framework.
      m: shape (K,), number of required skills per task (>= 1; float dtype so that it
        broadcasts with continuous budgets).
      weight: shape (K,), phi(difficulty, m) >= 0, summing to 1.

    All three are pytree leaves: weights and difficulties can be differentiated (e.g. the
    means and widths of :meth:`gaussian_mixture`). Build with :meth:`product`,
    :meth:`from_tasks`, :meth:`gaussian_mixture` or :meth:`mixture`.

    Example (the App. C problem: 8 difficulties x 50 skill counts, uniform):

        tasks = TaskGrid.product(jnp.linspace(0.1, 4.0, 8), jnp.arange(1, 51))
    """

    difficulty: jax.Array
    m: jax.Array
    weight: jax.Array

    @property
    def n_tasks(self) -> int:
        return self.weight.shape[-1]

    @classmethod
    def from_tasks(cls, difficulty, m, weight=None):
        """Tasks listed one by one; ``weight`` defaults to uniform and is normalised to sum 1."""
        _check_nonempty(difficulty, m)
        check_values("difficulty", difficulty, np.isfinite, "finite for every task")
        check_values("m (required skills)", m, lambda a: (a >= 1) & (a < np.inf), "finite, >= 1")
        check_values("task weights", weight, _weights_ok, _WEIGHTS)
        difficulty = jnp.asarray(difficulty)
        m = jnp.asarray(m)
        dtype = jnp.result_type(difficulty, m, float)
        weight = jnp.ones((), dtype) if weight is None else jnp.asarray(weight, dtype)
        difficulty, m, weight = jnp.broadcast_arrays(
            difficulty.astype(dtype), m.astype(dtype), weight
        )
        difficulty, m, weight = difficulty.reshape(-1), m.reshape(-1), weight.reshape(-1)
        weight = weight / jnp.sum(weight)
        return cls(difficulty=difficulty, m=m, weight=weight)

    @classmethod
    def product(cls, difficulty, m, difficulty_weights=None, m_weights=None):
        """Product grid: every difficulty paired with every m, phi = w_diff (x) w_m.

        Args:
          difficulty: shape (I,), L0 values [nats/token] or levels.
          m: shape (J,), required-skill counts.
          difficulty_weights, m_weights: optional marginal weights (normalised); uniform if None.

        Returns:
          TaskGrid with K = I * J tasks, difficulty-major order (task k = i * J + j).
        """
        difficulty = jnp.atleast_1d(jnp.asarray(difficulty))
        m = jnp.atleast_1d(jnp.asarray(m))
        _check_nonempty(difficulty, m)
        wd = jnp.ones(difficulty.shape) if difficulty_weights is None else difficulty_weights
        wm = jnp.ones(m.shape) if m_weights is None else m_weights
        for name, w, axis in (("difficulty_weights", wd, difficulty), ("m_weights", wm, m)):
            check_values(name, w, _weights_ok, _WEIGHTS)
            if np.shape(w) != axis.shape:
                raise ValueError(
                    f"{name} needs one weight per entry ({axis.shape[0]}), got shape {np.shape(w)}"
                )
        wd = jnp.asarray(wd) / jnp.sum(jnp.asarray(wd))
        wm = jnp.asarray(wm) / jnp.sum(jnp.asarray(wm))
        dd, mm = jnp.meshgrid(difficulty, m, indexing="ij")
        ww = wd[:, None] * wm[None, :]
        return cls.from_tasks(dd, mm, ww)

    @classmethod
    def gaussian_mixture(cls, m, m_weights, means, stds, n_nodes=32):
        """Discrete m with a Gaussian skill difficulty per m (App. E-D).

        phi(m_j) = m_weights[j] and L0 | m_j ~ Normal(means[j], stds[j]^2). Each Gaussian is
        discretised with ``n_nodes``-point Gauss-Hermite quadrature (nodes
        means[j] + sqrt(2) stds[j] x_i, weights w_i / sqrt(pi)), which integrates polynomials
        of degree < 2 n_nodes exactly and keeps the grid differentiable in the means, widths and
        m weights (App. E-D fits them by maximum likelihood).

        Example (App. E-D): ``TaskGrid.gaussian_mixture([1, 100], [0.93, 0.07], [mu1, mu100],
        [s1, s100])``.

        Returns:
          TaskGrid with K = len(m) * n_nodes tasks (m-major order).
        """
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 1:
            raise ValueError(f"n_nodes must be a positive int, got {n_nodes!r}")
        check_values("stds", stds, positive, "positive and finite")
        check_values("means", means, np.isfinite, "finite")
        x, w = np.polynomial.hermite.hermgauss(n_nodes)
        m = jnp.atleast_1d(jnp.asarray(m))
        means = jnp.broadcast_to(jnp.asarray(means), m.shape)
        stds = jnp.broadcast_to(jnp.asarray(stds), m.shape)
        mw = jnp.broadcast_to(jnp.asarray(m_weights), m.shape)
        check_values("m_weights", m_weights, _weights_ok, _WEIGHTS)
        mw = mw / jnp.sum(mw)
        diff = means[:, None] + np.sqrt(2.0) * stds[:, None] * x[None, :]
        weight = mw[:, None] * (w / np.sqrt(np.pi))[None, :]
        mm = jnp.broadcast_to(m[:, None], diff.shape)
        return cls.from_tasks(diff, mm, weight)

    @classmethod
    def mixture(cls, grids, weights=None):
        """Mixture sum_i weights[i] * grids[i] of task distributions (concatenated tasks)."""
        grids = list(grids)
        if not grids:
            raise ValueError("mixture needs at least one TaskGrid")
        mix = jnp.ones(len(grids)) if weights is None else jnp.asarray(weights)
        if mix.shape != (len(grids),):
            raise ValueError(f"mixture needs one weight per grid ({len(grids)}), got {mix.shape}")
        check_values("mixture weights", weights, _weights_ok, _WEIGHTS)
        mix = mix / jnp.sum(mix)
        return cls.from_tasks(
            jnp.concatenate([g.difficulty for g in grids]),
            jnp.concatenate([g.m for g in grids]),
            jnp.concatenate([mix[i] * g.weight for i, g in enumerate(grids)]),
        )


def task_average(tasks: TaskGrid, values):
    """E_phi[values] = sum_k phi_k values[..., k] over the trailing task axis (Eq. 40-41)."""
    return jnp.sum(jnp.asarray(values) * tasks.weight, axis=-1)


def resolve_success(strategy):
    """Return ``f(q, m, budget, omega) -> psi`` for a strategy value or a callable.

    ``strategy`` is either a DS3 strategy (``CoT()``, ``ToT(...)``, ... from
    :mod:`ds3jax._strategies`), evaluated with ``ds3jax.success``, or any callable with that
    signature returning the per-task success probability (e.g. a custom policy).
    """
    if callable(strategy) and not dataclasses.is_dataclass(strategy):
        return strategy
    from ._strategies import success  # deferred: strategies depend on nothing here

    return lambda q, m, budget, omega: success(strategy, q, m, budget, omega)


def _resolve_log_success(strategy):
    if callable(strategy) and not dataclasses.is_dataclass(strategy):
        return lambda q, m, budget, omega: jnp.log(strategy(q, m, budget, omega))
    from ._strategies import log_success

    return lambda q, m, budget, omega: log_success(strategy, q, m, budget, omega)


def _task_q(tasks, law, transfer, N, D, iota_hat):
    check_values("iota_hat", iota_hat, lambda a: (a > 0) & (a <= 1), "in (0, 1] (directionality)")
    if np.ndim(iota_hat) and np.shape(iota_hat) != tasks.weight.shape:
        raise ValueError(
            f"iota_hat must be a scalar or one value per task {tasks.weight.shape}, got shape "
            f"{np.shape(iota_hat)}"
        )
    # Loss depends on (N, D) only: evaluate it once, then add the task axis.
    L = loss(law, N, D)[..., None]
    return jnp.asarray(iota_hat) * skill_probability(transfer, L, tasks.difficulty)


def per_task_success(
    tasks: TaskGrid,
    strategy,
    law: LossLaw,
    transfer: SigmoidTransfer,
    N,
    D,
    budget,
    omega,
    iota_hat=1.0,
):
    """psi_k for every task: success(strategy, iota_hat * p(L(N, D), L0_k), m_k, budget, omega).

    The two-step model of Sec. III-B (Eq. 1, 2, 53): N [parameters], D [training tokens] and
    ``budget`` (token budget Omega per task [tokens]) broadcast to a batch shape S; ``omega`` is
    tokens per skill step; ``iota_hat`` is a scalar or shape (K,) (one per task).

    Returns:
      Array of shape S + (K,).
    """
    q = _task_q(tasks, law, transfer, N, D, iota_hat)
    f = resolve_success(strategy)
    return f(q, tasks.m, jnp.asarray(budget)[..., None], omega)


def expected_accuracy(
    tasks: TaskGrid,
    strategy,
    law: LossLaw,
    transfer: SigmoidTransfer,
    N,
    D,
    budget,
    omega,
    iota_hat=1.0,
):
    """Task-averaged accuracy Psi(N, D, Omega) = E_phi[psi] (Eq. 40, the objective of Eq. 53).

    Vectorised: ``N``, ``D`` and ``budget`` broadcast to a batch shape S and the result has
    shape S; differentiable in N, D, budget, the law, the transfer and the task grid.

    Args:
      tasks: :class:`TaskGrid` with difficulty = L0 [nats/token].
      strategy: a DS3 strategy (e.g. ``CoT()``) or a callable ``f(q, m, budget, omega)``.
      law: :class:`ds3jax.LossLaw`; transfer: :class:`ds3jax.SigmoidTransfer`.
      N: parameters; D: training tokens; budget: token budget Omega per task [tokens].
      omega: tokens per skill step.
      iota_hat: directionality (Eq. 16), scalar or per task (K,).

    Example (App. C): ``expected_accuracy(TaskGrid.product(jnp.linspace(0.1, 4, 8),
    jnp.arange(1, 51)), CoT(), LossLaw.hoffmann_rounded(), SigmoidTransfer(1, 5, 0), N, D,
    Omega, 25.0)``.
    """
    return task_average(
        tasks, per_task_success(tasks, strategy, law, transfer, N, D, budget, omega, iota_hat)
    )


def log_expected_accuracy(
    tasks: TaskGrid,
    strategy,
    law: LossLaw,
    transfer: SigmoidTransfer,
    N,
    D,
    budget,
    omega,
    iota_hat=1.0,
):
    """log Psi computed as logsumexp_k(log phi_k + log psi_k).

    Uses the strategy's ``log_success`` so it stays finite (with finite gradients) where Psi
    underflows — the objective optimisers should use on the flat, near-zero accuracy plateaus.
    For a callable strategy it is log of the callable's value.
    """
    q = _task_q(tasks, law, transfer, N, D, iota_hat)
    f = _resolve_log_success(strategy)
    log_psi = f(q, tasks.m, jnp.asarray(budget)[..., None], omega)
    # weights of 0 (a product grid with a zero marginal) keep their derivative
    return weighted_logsumexp(log_psi, tasks.weight)


def expected_inference_tokens(
    tasks: TaskGrid,
    strategy,
    law: LossLaw,
    transfer: SigmoidTransfer,
    N,
    D,
    budget,
    omega,
    iota_hat=1.0,
    method="exact",
):
    """E_phi[E[Omega' | Omega]]: expected tokens used per task, averaged over tasks [tokens].

    ``method`` is passed to ``ds3jax.expected_tokens`` ("exact", "gaussian" or "linear").
    ``strategy`` must be a DS3 strategy value here (token use is strategy-specific).
    """
    from ._strategies import expected_tokens

    q = _task_q(tasks, law, transfer, N, D, iota_hat)
    tok = expected_tokens(
        strategy, q, tasks.m, jnp.asarray(budget)[..., None], omega, method=method
    )
    return task_average(tasks, tok)


def expected_inference_compute(
    tasks: TaskGrid,
    strategy,
    law: LossLaw,
    transfer: SigmoidTransfer,
    N,
    D,
    budget,
    omega,
    n_queries=1.0,
    iota_hat=1.0,
    method="exact",
):
    """C_inf = E_phi[C_inf] with C_inf^(task) = 2 N I E[Omega' | Omega] (Eq. 41, Eq. 11) [FLOPs].

    Parameter FLOPs only (no attention, Eq. 11); ``n_queries`` is I, the number of inference
    calls. For attention-aware costs combine :func:`expected_inference_tokens` with
    ``ds3jax.inference_flops``.
    """
    check_values("n_queries", n_queries, positive, "positive and finite (inference calls)")
    tokens = expected_inference_tokens(
        tasks, strategy, law, transfer, N, D, budget, omega, iota_hat, method
    )
    return 2.0 * jnp.asarray(N) * n_queries * tokens
