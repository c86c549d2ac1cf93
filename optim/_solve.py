"""Total-compute-optimal allocation (Eq. 53) on the iso-compute surface and its planes.

Every iterate lies exactly on the iso-compute surface 6 N D + 2 N I Omega = C because the
search runs in unconstrained coordinates that parametrise it:

* ``plane="global"`` (2-D surface): u = (log N, s), training share f = sigmoid(s) of C,
  D = f C / (6 N), Omega = (1 - f) C / (2 N I).
* ``plane="chinchilla"`` (1-D curve D = kappa N): u = (s,), 6 kappa N^2 = f C,
  Omega = (1 - f) C / (2 N I); with ``kappa="training_optimal"`` the training part follows
  the loss law's exact minimiser :func:`ds3jax._loss.training_optimal` of f C instead.

The objective is log Psi (log task-averaged accuracy), which keeps a direction on the flat
near-zero plateaus and, through the failure form log(1 - Fail), in the saturated region.

Methods (both vectorised over budgets with ``vmap``; no Python loop over budgets):

* ``"gradient"``: coarse surface grid -> the best few grid local maxima as seeds -> optax
  Adam -> safeguarded Newton polish (|eigenvalue| Newton with backtracking over a fixed set
  of step lengths, forward-mode derivatives). The answer is the best of all seeds and the
  grid's best point, so it is never worse than the grid.
* ``"grid"``: the paper's App. C approach done right: dense grid on the surface (not a 3-D
  cube + projection), its best point, then zoomed local grids (each 9 x 9 around the current
  best, spacing divided by 4 per round) as a derivative-free polish.
* ``"continuation"``: for dense sweeps over budgets (a ``lax.scan`` over the sorted
  budgets): each budget starts from the optimum extrapolated from the previous two, checks a
  small local grid and polishes with a few Newton steps; the gradient method takes over
  where that is in doubt (first budget, large steps, no convergence). ~10x faster than
  ``"gradient"`` on Fig. 8's 225 budgets, same optima.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ds3jax._checks import check_values, is_concrete, positive
from ds3jax._execution import execution_settings
from ds3jax._loss import LossLaw, loss

from ._problem import (
    Problem,
    accuracy,
    log_accuracy,
    log_budget_for_tokens,
    log_tokens_for_flops,
    task_flops,
    total_compute,
    training_compute,
)

__all__ = ["SATURATED", "is_saturated", "Solution", "solve", "min_budget"]

_PLANES = ("global", "chinchilla", "fixed_tokens", "inference_only")
_OBJECTIVES = ("accuracy", "loss")
_METHODS = ("gradient", "grid", "continuation")
_LOG6 = math.log(6.0)
_LOG2 = math.log(2.0)

# 1 - accuracy at or below which an optimum is saturated: the accuracy is 1 to float64
# precision nearby (1 - Psi rounds to ~1e-16 well before), the objective is flat and
# (N*, D*, Omega*) are not determined by it
SATURATED = 1e-9


def is_saturated(value):
    """Where the accuracy ``value`` is within ``SATURATED`` of 1 (numpy or jax arrays)."""
    return 1.0 - value <= SATURATED


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=[
        "N",
        "D",
        "Omega",
        "value",
        "loss",
        "compute",
        "budget",
        "objective",
        "train_share",
        "converged",
        "iterations",
        "grad_norm",
        "seed_objective",
    ],
    meta_fields=["plane", "method"],
)
@dataclasses.dataclass(frozen=True)
class Solution:
    """Optimal allocations, one entry per budget (all arrays have the budgets' shape).

    Attributes:
      N: parameters; D: training tokens; Omega: inference token budget per task [tokens].
      value: accuracy Psi at the optimum (Eq. 40).
      loss: pretraining loss L(N, D) at the optimum (Eq. 1) [nats/token].
      compute: 6 N D + I C_task recomputed from (N, D, Omega) [FLOPs] (equals ``budget``
        to rounding; inference only on the "inference_only" plane).
      budget: the requested total compute C [FLOPs].
      objective: what was maximised at the optimum: log Psi, or -log L with
        ``objective="loss"``.
      train_share: 6 N D / C, the share of compute spent on training (0 when D = inf).
      converged: gradient method: |grad| < gtol and negative-definite Hessian at the end;
        grid method: the final zoom spacing is below 1e-6 (always true with the defaults).
        Where the accuracy is 1 to float precision (1 - Psi below ~1e-15; the default
        problem from ~1e26 FLOPs on the global plane) the objective is flat, the Hessian is
        not negative definite and the gradient method reports False: the optimum is not
        determined there (``saturated``).
      iterations: Newton steps taken before the gradient tolerance was met (gradient), or
        the number of zoom rounds (grid).
      grad_norm: max-norm of d log Psi / du at the optimum (u = solver coordinates).
      seed_objective: log Psi at the best grid point (the result is never below it).
      plane, method: static labels.
    """

    N: jax.Array
    D: jax.Array
    Omega: jax.Array
    value: jax.Array
    loss: jax.Array
    compute: jax.Array
    budget: jax.Array
    objective: jax.Array
    train_share: jax.Array
    converged: jax.Array
    iterations: jax.Array
    grad_norm: jax.Array
    seed_objective: jax.Array
    plane: str = "global"
    method: str = "gradient"

    @property
    def saturated(self) -> jax.Array:
        """Where 1 - Psi <= ``SATURATED`` (1e-9): the accuracy is 1 to float precision, the
        optimum is flat, and N*, D*, Omega* are not determined by the objective."""
        return is_saturated(self.value)


# ----------------------------------------------------------------------------- geometry


def _alloc(problem: Problem, plane: str, mode: str, u, logC, aux):
    """(log N, log D, log Omega) on the plane's iso-compute set for solver coordinates u.

    ``aux`` is log kappa (chinchilla, mode "kappa"), log Omega (fixed_tokens) or unused.
    The training part and the inference FLOP budget B_inf come from the coordinates; the
    charged tokens T solve I C_task(N, T) = B_inf (closed form or the Table I quadratic) and
    Omega is the budget that charges T tokens (itself when charge="budget").
    """
    log_i = jnp.log(problem.n_queries)
    if plane == "fixed_tokens":
        # C = 6 N D + I (2 N Omega + r(Omega)), linear in N: with K = I r the fixed part,
        # N = (C - K) sigmoid(-s) / (2 I Omega) and 6 N D = (C - K) sigmoid(s).
        log_o = aux
        omega_tok = jnp.exp(aux)
        k = problem.n_queries * task_flops(problem, 0.0, omega_tok)
        log_free = logC + jnp.log1p(-jnp.minimum(k * jnp.exp(-logC), 1.0))
        s = u[0]
        log_n = log_free + jax.nn.log_sigmoid(-s) - _LOG2 - log_i - log_o
        log_d = log_free + jax.nn.log_sigmoid(s) - _LOG6 - log_n
        return log_n, log_d, log_o
    if plane == "inference_only":
        log_n = u[0]
        log_d = jnp.full_like(log_n, jnp.inf)
        log_binf = logC
    elif plane == "global":
        x, s = u[0], u[1]
        log_n = x
        log_d = jax.nn.log_sigmoid(s) + logC - _LOG6 - x
        log_binf = jax.nn.log_sigmoid(-s) + logC
    else:
        s = u[0]
        log_ctr = jax.nn.log_sigmoid(s) + logC
        if mode == "training_optimal":
            law: LossLaw = problem.law
            a, b = law.alpha, law.beta
            log_gg = (jnp.log(a * law.A) - jnp.log(b * law.B)) / (a + b)
            log_n = log_gg + b / (a + b) * (log_ctr - _LOG6)
            log_d = log_ctr - _LOG6 - log_n
        else:
            log_n = 0.5 * (log_ctr - _LOG6 - aux)
            log_d = log_n + aux
        log_binf = jax.nn.log_sigmoid(-s) + logC
    log_t = log_tokens_for_flops(problem, log_n, log_binf - log_i)
    log_o = log_budget_for_tokens(problem, jnp.exp(log_n), jnp.exp(log_d), log_t)
    return log_n, log_d, log_o


def _objective(problem, plane, mode, objective, u, logC, aux):
    log_n, log_d, log_o = _alloc(problem, plane, mode, u, logC, aux)
    N, D = jnp.exp(log_n), jnp.exp(log_d)
    if objective == "loss":
        return -jnp.log(loss(problem.law, N, D))
    return log_accuracy(problem, N, D, jnp.exp(log_o))


def _box(problem, plane, logC, n_min, dim_sizes, dtype):
    """Axes of the seed grid: log N in [log n_min, log n_max(C)] and/or s in a logit box."""
    step = jnp.log(2.0 * problem.n_queries * problem.omega)
    if plane in ("global", "inference_only"):
        if plane == "global":
            log_n_hi = logC - jnp.log(6.0 + 2.0 * problem.n_queries * problem.omega)
        else:
            log_n_hi = logC - step  # at least one skill step per task
        log_n_lo = jnp.minimum(jnp.log(n_min), log_n_hi - 1.0)
        xs = jnp.linspace(0.0, 1.0, dim_sizes[0], dtype=dtype) * (log_n_hi - log_n_lo) + log_n_lo
        if plane == "inference_only":
            return (xs,)
        ss = jnp.linspace(-16.0, 16.0, dim_sizes[1], dtype=dtype)
        return (xs, ss)
    return (jnp.linspace(-24.0, 24.0, dim_sizes[0], dtype=dtype),)


def _grid_points(axes):
    mesh = jnp.meshgrid(*axes, indexing="ij")
    return jnp.stack([m.reshape(-1) for m in mesh], axis=-1), mesh[0].shape


def _eval_chunked(fv, pts):
    """fv over the rows of pts in chunks (lax.map): bounds the memory of a dense grid that is
    also vmapped over many budgets (one chunk per budget is live at a time). The chunk is
    the backend's ``grid_chunk`` (:func:`ds3jax.execution`: 128 rows on a CPU, 4096 on a GPU;
    None evaluates the whole grid at once)."""
    n = pts.shape[0]
    chunk = execution_settings().grid_chunk
    if chunk is None or n <= chunk:
        return fv(pts)
    n_chunks = -(-n // chunk)
    pad = n_chunks * chunk - n
    padded = jnp.concatenate([pts, jnp.broadcast_to(pts[:1], (pad, pts.shape[1]))], 0)
    vals = jax.lax.map(fv, padded.reshape(n_chunks, chunk, pts.shape[1]))
    return vals.reshape(-1)[:n]


def _local_maxima(vals):
    """Mask of grid points not below any of their (up to 8) neighbours."""
    padded = jnp.pad(vals, 1, constant_values=-jnp.inf)
    ok = jnp.ones(vals.shape, bool)
    shifts = [-1, 0, 1]
    if vals.ndim == 1:
        for d in (-1, 1):
            ok &= vals >= padded[1 + d : 1 + d + vals.shape[0]]
        return ok
    for dx in shifts:
        for dy in shifts:
            if dx == 0 and dy == 0:
                continue
            nb = padded[1 + dx : 1 + dx + vals.shape[0], 1 + dy : 1 + dy + vals.shape[1]]
            ok &= vals >= nb
    return ok


# ----------------------------------------------------------------------------- methods


def _ascend(f, u0, n_adam, n_newton, lr, gtol):
    """Monotone ascent on f from u0: ``n_adam`` optax Adam steps, then ``n_newton``
    safeguarded Newton steps.

    Each iteration computes the gradient and Hessian once (forward mode, one trace) and
    moves along a direction d: the Adam update in the first phase, the |eigenvalue| Newton
    direction V |Lambda|^-1 V^T g afterwards (an ascent direction even where the Hessian is
    indefinite). The step length is the best of a fixed set that includes 0, so f never
    decreases and no while-loop is needed under vmap.
    """
    alphas = jnp.asarray([1.0, 0.5, 0.25, 0.1, 0.03, 0.01, 0.001, 0.0], u0.dtype)
    grad = jax.jacfwd(f)

    def grad2(u):
        g = grad(u)
        return g, g

    grad_hess = jax.jacfwd(grad2, has_aux=True)
    opt = optax.adam(lr)

    def body(carry, i):
        u, fu, state, it, done, gn = carry
        H, g = grad_hess(u)
        g = jnp.where(jnp.isfinite(g), g, 0.0)
        H = jnp.where(jnp.isfinite(H), H, 0.0)
        upd, state = opt.update(-g, state, u)
        lam, V = jnp.linalg.eigh(0.5 * (H + H.T))
        scale = jnp.maximum(jnp.abs(lam), 1e-10 * (1.0 + jnp.max(jnp.abs(lam))))
        d_newton = V @ ((V.T @ g) / scale)
        d = jnp.where(i < n_adam, upd, d_newton)
        d = d * jnp.minimum(1.0, 3.0 / (jnp.max(jnp.abs(d)) + 1e-300))
        cand = u[None, :] + alphas[:, None] * d[None, :]
        fc = jax.vmap(f)(cand)
        fc = jnp.where(jnp.isfinite(fc), fc, -jnp.inf)
        k = jnp.argmax(fc)
        better = fc[k] > fu
        gn = jnp.max(jnp.abs(g))
        small = (i >= n_adam) & (gn < gtol) & jnp.all(lam < 0)
        done = done | small
        it = it + jnp.where(done | (i < n_adam), 0, 1)
        u = jnp.where(better, cand[k], u)
        fu = jnp.where(better, fc[k], fu)
        return (u, fu, state, it, done, gn), None

    zero = jnp.zeros((), jnp.int32)
    init = (u0, f(u0), opt.init(u0), zero, jnp.zeros((), bool), jnp.zeros((), u0.dtype))
    steps = jnp.arange(n_adam + n_newton)
    (u, fu, _, it, done, gn), _ = jax.lax.scan(body, init, steps)
    return u, fu, it, done, gn


def _polish(f, seeds, seed_u, seed_f, n_adam, n_newton, cfg):
    """:func:`_ascend` from every seed; the best result, or the seed point if none beats it.

    Returns (u, f(u), Newton iterations, converged, grad max-norm, seed_f).
    """
    run = lambda u0: _ascend(f, u0, n_adam, n_newton, cfg["adam_lr"], cfg["gtol"])
    us, fs, its, convs, gns = jax.vmap(run)(seeds)
    fs = jnp.where(jnp.isfinite(fs), fs, -jnp.inf)
    k = jnp.argmax(fs)
    take = fs[k] >= seed_f
    u = jnp.where(take, us[k], seed_u)
    fu = jnp.where(take, fs[k], seed_f)
    return u, fu, its[k], convs[k] & take, gns[k], seed_f


def _solve_one(problem, logC, aux, n_min, *, plane, mode, method, cfg, objective="accuracy"):
    dtype = logC.dtype
    f = lambda u: _objective(problem, plane, mode, objective, u, logC, aux)
    fv = jax.vmap(f)
    if method == "gradient":
        sizes = cfg["seed_grid"] if plane == "global" else (cfg["seed_grid_1d"],)
    else:
        sizes = cfg["dense_grid"] if plane == "global" else (cfg["dense_grid_1d"],)
    axes = _box(problem, plane, logC, n_min, sizes, dtype)
    pts, shape = _grid_points(axes)
    vals = _eval_chunked(fv, pts)
    vals = jnp.where(jnp.isfinite(vals), vals, -jnp.inf)
    i_best = jnp.argmax(vals)
    seed_u, seed_f = pts[i_best], vals[i_best]

    if method == "gradient":
        score = jnp.where(_local_maxima(vals.reshape(shape)).reshape(-1), vals, -jnp.inf)
        # the 1-D planes have many close local maxima (one per skill-count threshold)
        _, idx = jax.lax.top_k(score, cfg["n_seeds"] if plane == "global" else cfg["n_seeds_1d"])
        idx = jnp.where(jnp.isfinite(score[idx]), idx, i_best)
        seeds = pts[idx]

        steps = (cfg["adam_steps"], cfg["newton_steps"])
        return _polish(f, seeds, seed_u, seed_f, *steps, cfg)

    # grid method: zoom around the best point
    spacing = jnp.stack([a[1] - a[0] for a in axes])
    n_zoom = cfg["zoom_points"]
    offs = jnp.linspace(-1.0, 1.0, n_zoom, dtype=dtype)

    def zoom(carry, _):
        u, fu, h = carry
        local_axes = tuple(u[i] + h[i] * offs for i in range(u.shape[0]))
        lp, _ = _grid_points(local_axes)
        lv = fv(lp)
        lv = jnp.where(jnp.isfinite(lv), lv, -jnp.inf)
        k = jnp.argmax(lv)
        better = lv[k] > fu
        return (jnp.where(better, lp[k], u), jnp.where(better, lv[k], fu), h / 4.0), None

    (u, fu, h), _ = jax.lax.scan(zoom, (seed_u, seed_f, spacing), None, length=cfg["zoom_rounds"])
    gn = jnp.max(jnp.abs(jax.jacfwd(f)(u)))
    conv = jnp.max(h) < 1e-6
    return u, fu, jnp.asarray(cfg["zoom_rounds"], jnp.int32), conv, gn, seed_f


def _local_offsets(dim, cfg, dtype):
    """The continuation method's local grid around the predicted optimum (offsets in u)."""
    n1, w1 = cfg["cont_grid_1d"], cfg["cont_width_1d"]
    if dim == 1:
        return jnp.linspace(-w1, w1, n1, dtype=dtype)[:, None]
    n, w = cfg["cont_grid"], cfg["cont_width"]
    ax = jnp.linspace(-w, w, n, dtype=dtype)
    return _grid_points((ax, ax))[0]


def _solve_continuation(problem, logC, aux, n_min, *, plane, mode, cfg, objective):
    """Budgets in increasing order, each seeded from its predecessors (dense sorted sweeps).

    Every budget predicts its optimum by linear extrapolation in log C from the two previous
    optima, evaluates a small grid around the prediction (wide enough to catch a switch to
    a neighbouring local maximum, e.g. the next skill-count threshold on the 1-D planes) and
    polishes its best ``cont_seeds`` points with ``cont_newton_steps`` safeguarded Newton
    steps: ~20x fewer objective evaluations than the gradient method. The full gradient
    method (seed grid, Adam, Newton) runs instead, and its answer is kept if better, for the
    smallest budget, after a step in log C larger than ``cont_max_step`` (the local grid
    would be too narrow) and wherever the local polish has not converged.
    """
    order = jnp.argsort(logC)
    lc, ax = logC[order], aux[order]
    full = functools.partial(
        _solve_one, plane=plane, mode=mode, method="gradient", cfg=cfg, objective=objective
    )
    dim = 2 if plane == "global" else 1
    offs = _local_offsets(dim, cfg, lc.dtype)

    def local(u1, u2, l1, l2, logc, a):
        f = lambda u: _objective(problem, plane, mode, objective, u, logc, a)
        dl = l1 - l2
        slope = jnp.where(dl > 0, (u1 - u2) / jnp.where(dl > 0, dl, 1.0), 0.0)
        pred = u1 + slope * (logc - l1)
        pts = jnp.concatenate([pred[None, :] + offs, u1[None, :]], axis=0)
        vals = jax.vmap(f)(pts)
        vals = jnp.where(jnp.isfinite(vals), vals, -jnp.inf)
        _, idx = jax.lax.top_k(vals, cfg["cont_seeds"])
        seeds = pts[idx]
        return _polish(f, seeds, seeds[0], vals[idx[0]], 0, cfg["cont_newton_steps"], cfg)

    def step(carry, x):
        u1, u2, l1, l2, first = carry
        logc, a = x
        res = local(u1, u2, l1, l2, logc, a)
        doubt = first | (logc - l1 > cfg["cont_max_step"]) | ~res[3]

        def robust(res):
            other = full(problem, logc, a, n_min)
            # ties (to rounding) go to the robust answer, whose convergence flag is the one
            # the gradient method would report
            better = other[1] >= res[1] - 1e-12 * (1.0 + jnp.abs(res[1]))
            return jax.tree.map(lambda o, r: jnp.where(better, o, r), other, res)

        res = jax.lax.cond(doubt, robust, lambda r: r, res)
        return (res[0], u1, logc, l1, jnp.zeros((), bool)), res

    u0 = jnp.zeros((dim,), lc.dtype)
    init = (u0, u0, lc[0], lc[0], jnp.ones((), bool))
    _, res = jax.lax.scan(step, init, (lc, ax))
    inv = jnp.argsort(order)
    return jax.tree.map(lambda r: r[inv], res)


@functools.partial(
    jax.jit, static_argnames=("plane", "mode", "method", "objective", "cfg_items", "return_u")
)
def _solve_batch(
    problem, logC, aux, n_min, *, plane, mode, method, objective, cfg_items, return_u=False
):
    cfg = dict(cfg_items)
    if method == "continuation":
        u, fu, it, conv, gn, seed_f = _solve_continuation(
            problem, logC, aux, n_min, plane=plane, mode=mode, cfg=cfg, objective=objective
        )
    else:
        one = functools.partial(
            _solve_one, plane=plane, mode=mode, method=method, cfg=cfg, objective=objective
        )
        u, fu, it, conv, gn, seed_f = jax.vmap(one, in_axes=(None, 0, 0, None))(
            problem, logC, aux, n_min
        )
    if return_u:
        return u
    return _fields(problem, plane, mode, logC, aux, u, fu, it, conv, gn, seed_f)


def _fields(problem, plane, mode, logC, aux, u, fu, it, conv, gn, seed_f):
    """The result fields of a batch of optima u (surface coordinates) at budgets exp(logC)."""
    log_n, log_d, log_o = jax.vmap(lambda uu, lc, a: _alloc(problem, plane, mode, uu, lc, a))(
        u, logC, aux
    )
    N, D, Omega = jnp.exp(log_n), jnp.exp(log_d), jnp.exp(log_o)
    C = jnp.exp(logC)
    return dict(
        N=N,
        D=D,
        Omega=Omega,
        value=accuracy(problem, N, D, Omega),
        loss=loss(problem.law, N, D),
        compute=total_compute(problem, N, D, Omega),
        budget=C,
        objective=fu,
        train_share=training_compute(N, D) / C,
        converged=conv,
        iterations=it,
        grad_norm=gn,
        seed_objective=seed_f,
    )


_DEFAULTS = dict(
    seed_grid=(33, 33),
    seed_grid_1d=1025,
    n_seeds=6,
    n_seeds_1d=8,
    adam_steps=10,
    adam_lr=0.1,
    newton_steps=14,
    gtol=None,  # by dtype: _default_gtol
    dense_grid=(129, 129),
    dense_grid_1d=513,
    zoom_points=9,
    zoom_rounds=12,
    cont_grid=7,
    cont_width=0.3,
    cont_grid_1d=17,
    cont_width_1d=0.4,
    cont_seeds=2,
    cont_newton_steps=4,
    cont_max_step=0.25,
)


def min_budget(problem: Problem, n_min=1.0, d_min=1.0, plane="global", tokens=None) -> float:
    """Smallest total compute with a feasible point on ``plane`` [FLOPs].

    A point is feasible when N >= n_min, D >= d_min and the token budget allows the easiest
    task's whole chain, Omega >= omega * min(m); on the fixed-tokens plane Omega is
    ``tokens`` (required there, and only there; below omega * min(m) every allocation on
    that plane has zero accuracy, which :func:`solve` refuses):
    C_min = 6 n_min d_min + I C_task(n_min, Omega) (no training term on "inference_only").
    """
    if plane not in _PLANES:
        raise ValueError(f"plane must be one of {_PLANES}, got {plane!r}")
    if (tokens is None) == (plane == "fixed_tokens"):
        raise ValueError(
            "tokens= is the fixed-tokens plane's argument: pass it for plane='fixed_tokens' "
            f"and only there (plane {plane!r}, tokens {tokens!r})"
        )
    for name, v in (("n_min", n_min), ("d_min", d_min), ("tokens", tokens)):
        check_values(name, v, positive, "positive and finite")
    m_min = float(np.min(np.asarray(problem.tasks.m)))
    omega_tok = float(problem.omega) * m_min if tokens is None else float(np.min(tokens))
    infer = float(problem.n_queries) * float(task_flops(problem, n_min, omega_tok))
    if plane == "inference_only":
        return infer
    return float(6.0 * n_min * d_min + infer)


def _plane_mode(plane, kappa, tokens, budgets_shape):
    """Validate the plane's own argument: (mode, aux values per budget or scalar)."""
    if isinstance(kappa, str):  # kappa is checked on every plane: a bad value is a typo
        if kappa != "training_optimal":
            raise ValueError(
                f"kappa must be a positive number or 'training_optimal', got {kappa!r}"
            )
    else:
        try:
            k = np.asarray(kappa, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"kappa must be a positive finite scalar, got {kappa!r}") from None
        if k.ndim != 0 or not np.isfinite(k) or not k > 0:
            raise ValueError(f"kappa must be a positive finite scalar, got {kappa!r}")
    if plane == "chinchilla":
        if isinstance(kappa, str):
            return "training_optimal", np.zeros(budgets_shape)
        return "kappa", np.full(budgets_shape, np.log(float(kappa)))
    if plane == "fixed_tokens":
        if tokens is None:
            raise ValueError("plane='fixed_tokens' needs tokens= (the fixed per-task budget)")
        t = np.asarray(tokens, dtype=float)
        if t.ndim > 1 or (t.ndim == 1 and t.shape != budgets_shape):
            raise ValueError(
                f"tokens must be a scalar or have the budgets' shape {budgets_shape}, "
                f"got shape {t.shape}"
            )
        if not np.all(np.isfinite(t)) or np.any(t <= 0):
            raise ValueError(f"tokens must be positive and finite, got {tokens!r}")
        return "tokens", np.broadcast_to(np.log(t), budgets_shape)
    return "none", np.zeros(budgets_shape)


def _default_gtol(dtype) -> float:
    """1e-6 in float64; 3 sqrt(eps) (1.0e-3) in float32, whose rounding leaves gradients of
    ~1e-5 to 1e-4 at optima that agree with float64's to 1e-6 in value."""
    return max(1e-6, 3.0 * math.sqrt(float(jnp.finfo(dtype).eps)))


def _prepare(problem, budgets, plane, method, kappa, tokens, objective, n_min, options):
    """All checks of :func:`solve` (before any compilation) and the batched inputs."""
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be an optim.Problem, got {type(problem).__name__}")
    if plane not in _PLANES:
        raise ValueError(f"plane must be one of {_PLANES}, got {plane!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if objective not in _OBJECTIVES:
        raise ValueError(f"objective must be one of {_OBJECTIVES}, got {objective!r}")
    if objective == "loss" and plane != "fixed_tokens":
        raise ValueError(
            "objective='loss' is the fixed-token problem (Sardana et al.): use "
            "plane='fixed_tokens' (on other planes the loss ignores Omega)"
        )
    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown solver options {sorted(unknown)}; allowed: {sorted(_DEFAULTS)}")
    if problem.tasks.weight.size == 0 or np.asarray(problem.tasks.m).size == 0:
        raise ValueError("problem has an empty task distribution: it needs at least one task")
    if problem.charge == "expected" and plane == "fixed_tokens":
        raise ValueError(
            "plane='fixed_tokens' fixes the token budget, so charge='expected' would couple "
            "the constraint to D; use charge='budget' there"
        )
    if not (np.isfinite(n_min) and n_min > 0):
        raise ValueError(f"n_min must be positive, got {n_min!r}")
    b = np.asarray(budgets)
    if b.ndim > 1 or b.size == 0:
        raise ValueError(f"budgets must be a non-empty scalar or 1-D array, got shape {b.shape}")
    if not np.issubdtype(b.dtype, np.number) or not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError("budgets must be positive, finite FLOP counts")
    b1 = np.atleast_1d(b).astype(float)
    mode, aux = _plane_mode(plane, kappa, tokens, b1.shape)
    concrete = is_concrete(problem)
    if not concrete:  # traced problem (optim.optimum under jit/grad): checks need values
        floors = np.zeros(b1.shape)
    elif plane == "fixed_tokens":
        m_min = float(np.min(np.asarray(problem.tasks.m)))
        need = float(problem.omega) * m_min
        if float(np.max(np.exp(aux))) < need and objective == "accuracy":
            raise ValueError(
                f"tokens {float(np.max(np.exp(aux))):.3g} are below the easiest task's chain "
                f"omega * min(m) = {need:.3g}: every allocation has zero accuracy"
            )
        floors = np.array(
            [min_budget(problem, n_min, plane=plane, tokens=np.exp(a)) for a in np.atleast_1d(aux)]
        )
    else:
        floors = np.full(b1.shape, min_budget(problem, n_min=n_min, plane=plane))
    bad = np.nonzero(b1 < floors)[0]
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"budget {b1[i]:.3g} FLOPs is too small for any feasible point on plane "
            f"{plane!r}: need at least {floors[i]:.3g} (n_min={n_min}, d_min=1, Omega >= "
            "omega min(m) or the fixed tokens)"
        )
    cfg = dict(_DEFAULTS, **options)
    for key in ("seed_grid", "dense_grid"):
        cfg[key] = tuple(int(v) for v in cfg[key])
        if len(cfg[key]) != 2 or min(cfg[key]) < 3:
            raise ValueError(f"{key} must be two sizes >= 3, got {cfg[key]!r}")
    dtype = jnp.result_type(jnp.asarray(budgets).dtype, float)
    if cfg["gtol"] is None:
        cfg["gtol"] = _default_gtol(dtype)
    return dict(
        logC=jnp.log(jnp.asarray(b1, dtype)),
        aux=jnp.asarray(aux, dtype),
        n_min=jnp.asarray(n_min, dtype),
        mode=mode,
        cfg_items=tuple(sorted(cfg.items())),
        scalar=b.ndim == 0,
    )


def solve(
    problem: Problem,
    budgets,
    plane: str = "global",
    method: str = "gradient",
    kappa=20.0,
    n_min: float = 1.0,
    tokens=None,
    objective: str = "accuracy",
    **options,
) -> Solution:
    """Maximise task-averaged accuracy at fixed total compute (Eq. 53), one solve per budget.

        max_{N, D, Omega} Psi(N, D, Omega)  s.t.  6 N D + I C_task(N, Omega) = C   (Eq. 11, 53)

    with C_task = 2 N Omega (parameters only) or the Table I quadratic of the problem's
    :class:`FlopModel`; Omega is replaced by E[Omega'|Omega] in C_task when
    ``charge="expected"``. The constraint is active: Psi is non-decreasing in N, D, Omega.

    Planes:

    * ``"global"``: the whole 2-D iso-compute surface.
    * ``"chinchilla"``: D = kappa N (Fig. 8), or the loss law's training-optimal split.
    * ``"fixed_tokens"``: Omega = ``tokens`` fixed; the budget left after inference is split
      between N and D (Fig. 15). ``objective="loss"`` minimises the pretraining loss instead
      of maximising accuracy: the inference-aware Chinchilla problem of Sardana et al.
    * ``"inference_only"``: unbounded data (D = inf, L = E + A / N^alpha) and the whole budget
      spent at inference, C = I C_task (= 2 N I Omega, Fig. 9 and 16).

    Args:
      problem: :class:`optim.Problem` (e.g. :func:`optim.presets.paper_fig8`).
      budgets: total compute C [FLOPs], scalar or 1-D, all > 0 and finite. The result's
        float dtype follows ``budgets`` (float64 needs ``jax_enable_x64``).
      plane: "global", "chinchilla", "fixed_tokens" or "inference_only".
      method: "gradient" (grid seeds + optax Adam + Newton polish), "grid" (dense surface
        grid + zoomed local grids) or "continuation" (dense budget sweeps: each budget seeded
        from its predecessors, falling back to "gradient" where in doubt; sequential over
        budgets, so it does not shard).
      kappa: tokens per parameter on the Chinchilla plane (> 0, default 20), or the string
        "training_optimal" for the loss law's exact training-compute minimiser.
      n_min: smallest model size considered [parameters] (lower edge of the seed grid).
      tokens: the fixed per-task token budget of the "fixed_tokens" plane (scalar or one
        per budget).
      objective: "accuracy" (log Psi) or "loss" ("fixed_tokens" only; maximises -log L).
      **options: solver settings: ``seed_grid`` (33, 33) / ``seed_grid_1d`` 1025 (seed grid
        sizes, global / 1-D planes), ``n_seeds`` 6 / ``n_seeds_1d`` 8 (grid local maxima
        polished), ``adam_steps`` 10, ``adam_lr`` 0.1, ``newton_steps`` 14, ``gtol`` (max-norm
        of d objective / du for ``converged``; 1e-6 in float64, 1e-3 in float32),
        ``dense_grid`` (129, 129) / ``dense_grid_1d`` 513, ``zoom_points`` 9,
        ``zoom_rounds`` 12 (grid method);
        ``cont_grid`` 7 / ``cont_grid_1d`` 17 points per axis of the local grid, of half-width
        ``cont_width`` 0.3 / ``cont_width_1d`` 0.4 (solver coordinates), ``cont_seeds`` 2,
        ``cont_newton_steps`` 4, ``cont_max_step`` 0.25 (largest step in log C seeded from
        the previous budget) (continuation method).

    Returns:
      :class:`Solution` with arrays of the budgets' shape.

    Raises:
      ValueError (before any compilation): unknown plane/method/objective/option,
      non-positive or non-finite budgets, kappa <= 0, missing or non-positive tokens, an
      empty task distribution, a budget below :func:`min_budget`, fixed tokens below the
      easiest task's chain, charge="expected" on the fixed-tokens plane.
    """
    prep = _prepare(problem, budgets, plane, method, kappa, tokens, objective, n_min, options)
    out = _solve_batch(
        problem,
        prep["logC"],
        prep["aux"],
        prep["n_min"],
        plane=plane,
        mode=prep["mode"],
        method=method,
        objective=objective,
        cfg_items=prep["cfg_items"],
    )
    if prep["scalar"]:
        out = {k: v[0] for k, v in out.items()}
    return Solution(**out, plane=plane, method=method)
