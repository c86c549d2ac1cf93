"""Uncertainty of the optimum that comes from the loss law (Eq. 1): bands over fitted laws.

Two routes, both per budget and for the global surface and a constrained plane:

* :func:`optimum_bands` solves the allocation for a batch of laws at once (e.g. the
  bootstrap replicates of :meth:`ds3jax.LossFit.bootstrap`): the solver is vmapped over the
  problem's law leaves, ``batch`` laws per compiled call. Percentile bands of N*, D*,
  Omega*, the accuracy Psi*, kappa* = D*/N*, the inference share 2 N I Omega / C, the
  accuracy gap Psi_global - Psi_plane and the compute the plane needs to reach the global
  accuracy (C' with V_plane(C') = Psi_global(C), interpolated in log C on the budget grid).
* :func:`delta_method_bands`: first-order propagation of a covariance of
  theta = (log E, log A, log B, alpha, beta) through the implicit-function Jacobian of
  :func:`optim.optimum`: Var q = J Sigma J^T, q +- z_{(1+level)/2} sd (in log for N, D,
  Omega, kappa). Cheap (one solve and 5 tangents), valid where the optimum moves smoothly
  with the law (it cannot see a jump between local maxima, which the bootstrap does).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ds3jax import law_from_theta
from ds3jax._checks import check_level
from ds3jax._loss import LossLaw

from ._implicit import optimum
from ._problem import Problem
from ._solve import (
    Solution,
    _ascend,
    _box,
    _eval_chunked,
    _fields,
    _grid_points,
    _local_maxima,
    _objective,
    _polish,
    _prepare,
    _solve_batch,
)

__all__ = [
    "OptimumBands",
    "solve_laws",
    "optimum_bands",
    "delta_method_bands",
    "law_from_theta",
]

_LOG_QUANTITIES = ("N", "D", "Omega", "kappa")
_PER_PLANE = ("N", "D", "Omega", "value", "kappa", "inference_share")


def _law_batch(laws: LossLaw):
    leaves = [jnp.asarray(getattr(laws, k)) for k in ("E", "A", "B", "alpha", "beta")]
    shape = jnp.broadcast_shapes(*(x.shape for x in leaves))
    if len(shape) != 1 or shape[0] == 0:
        raise ValueError(
            f"laws must have leaves with one leading replicate axis, got shape {shape}"
        )
    return LossLaw(*(jnp.broadcast_to(x, shape) for x in leaves)), shape[0]


@functools.partial(jax.jit, static_argnames=("plane", "mode", "cfg_items", "keep"))
def _central_seeds(problem, logC, aux, n_min, *, plane, mode, cfg_items, keep):
    """Per budget: the seed grid's best local maxima, each ascended to its local optimum
    (Adam + Newton, as the gradient method does); the ``keep`` best of those optima,
    shape (n_budgets, keep, dim)."""
    cfg = dict(cfg_items)

    def one(lc, a):
        f = lambda u: _objective(problem, plane, mode, "accuracy", u, lc, a)
        sizes = cfg["seed_grid"] if plane == "global" else (cfg["seed_grid_1d"],)
        pts, shape = _grid_points(_box(problem, plane, lc, n_min, sizes, lc.dtype))
        vals = _eval_chunked(jax.vmap(f), pts)
        vals = jnp.where(jnp.isfinite(vals), vals, -jnp.inf)
        score = jnp.where(_local_maxima(vals.reshape(shape)).reshape(-1), vals, -jnp.inf)
        _, idx = jax.lax.top_k(score, cfg["n_seeds"] if plane == "global" else cfg["n_seeds_1d"])
        idx = jnp.where(jnp.isfinite(score[idx]), idx, jnp.argmax(vals))
        run = lambda u0: _ascend(
            f, u0, cfg["adam_steps"], cfg["newton_steps"], cfg["adam_lr"], cfg["gtol"]
        )[0]
        us = jax.vmap(run)(pts[idx])
        fu = jax.vmap(f)(us)
        _, best = jax.lax.top_k(jnp.where(jnp.isfinite(fu), fu, -jnp.inf), keep)
        return us[best]

    return jax.vmap(one)(logC, aux)


@functools.partial(jax.jit, static_argnames=("plane", "mode", "cfg_items", "n_newton"))
def _warm_batch(problem, seeds, logC, aux, *, plane, mode, cfg_items, n_newton):
    """Per budget: safeguarded Newton from each of the central law's local optima; the best."""
    cfg = dict(cfg_items)

    def one(sd, lc, a):
        f = lambda u: _objective(problem, plane, mode, "accuracy", u, lc, a)
        f0 = jax.vmap(f)(sd)
        f0 = jnp.where(jnp.isfinite(f0), f0, -jnp.inf)
        k = jnp.argmax(f0)
        return _polish(f, sd, sd[k], f0[k], 0, n_newton, cfg)

    u, fu, it, conv, gn, seed_f = jax.vmap(one)(seeds, logC, aux)
    return _fields(problem, plane, mode, logC, aux, u, fu, it, conv, gn, seed_f)


def solve_laws(
    problem: Problem,
    laws: LossLaw,
    budgets,
    plane: str = "global",
    *,
    method: str = "warm",
    kappa=20.0,
    tokens=None,
    n_min: float = 1.0,
    batch: int = 8,
    progress=None,
    center: LossLaw | None = None,
    warm_seeds: int | None = None,
    warm_newton_steps: int = 5,
    **options,
) -> Solution:
    """:func:`optim.solve` for many loss laws at once: ``problem`` with each law of ``laws``.

    Args:
      problem: :class:`optim.Problem`; its ``law`` is replaced by each of ``laws``.
      laws: :class:`ds3jax.LossLaw` with leaves of shape (n,) (e.g. bootstrap replicates).
      budgets, plane, kappa, tokens, n_min, options: as in :func:`optim.solve`.
      method: "warm" (default): the gradient method's seed grid and ascent run once, for
        ``center`` (default: the median of each law parameter), and every law is polished
        with ``warm_newton_steps`` safeguarded Newton steps from each of the central law's
        ``warm_seeds`` best local optima (default 2 on the global surface, 4 on the 1-D
        planes, which have many close local maxima), keeping the best: several times cheaper than a
        full solve per law, and as good wherever the laws' optima lie in the basins of the
        central law's best local optima (bootstrap replicates of one fit; on the 1-D
        Chinchilla plane a replicate can switch to a skill-count threshold the central law
        ranks lower, so ~1% of (law, budget) pairs land on a local optimum up to ~2e-3
        below the full solve in log Psi: see ``benchmarks/bench_loss_fit.py --bands``).
        "gradient" or "grid": the full :func:`optim.solve` method for every law ("continuation" is
        sequential over budgets and vmaps poorly).
      batch: laws per compiled call (memory grows with batch x budgets x seed grid).
      progress: optional ``progress(done, total)`` called after each batch.

    Returns:
      :class:`optim.Solution` whose arrays have shape (n, n_budgets).
    """
    if method not in ("warm", "gradient", "grid"):
        raise ValueError(f"solve_laws method must be 'warm', 'gradient' or 'grid', got {method!r}")
    laws, n = _law_batch(laws)
    base = "gradient" if method == "warm" else method
    prep = _prepare(problem, budgets, plane, base, kappa, tokens, "accuracy", n_min, options)
    if prep["scalar"]:
        raise ValueError("solve_laws needs a 1-D array of budgets")
    dtype = prep["logC"].dtype
    laws = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), laws)

    if method == "warm":
        if center is None:
            center = jax.tree_util.tree_map(lambda x: jnp.median(x), laws)
        center = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), center)
        nkey = "n_seeds" if plane == "global" else "n_seeds_1d"
        if warm_seeds is None:
            warm_seeds = 2 if plane == "global" else 4
        seeds = _central_seeds(
            dataclasses.replace(problem, law=center),
            prep["logC"],
            prep["aux"],
            prep["n_min"],
            plane=plane,
            mode=prep["mode"],
            cfg_items=prep["cfg_items"],
            keep=max(1, min(int(warm_seeds), dict(prep["cfg_items"])[nkey])),
        )

    def one(law):
        if method == "warm":
            return _warm_batch(
                dataclasses.replace(problem, law=law),
                seeds,
                prep["logC"],
                prep["aux"],
                plane=plane,
                mode=prep["mode"],
                cfg_items=prep["cfg_items"],
                n_newton=int(warm_newton_steps),
            )
        return _solve_batch(
            dataclasses.replace(problem, law=law),
            prep["logC"],
            prep["aux"],
            prep["n_min"],
            plane=plane,
            mode=prep["mode"],
            method=method,
            objective="accuracy",
            cfg_items=prep["cfg_items"],
        )

    run = jax.jit(jax.vmap(one))
    batch = max(1, min(int(batch), n))
    parts = []
    for lo in range(0, n, batch):
        chunk = jax.tree_util.tree_map(lambda x: x[lo : lo + batch], laws)
        k = chunk.E.shape[0]
        if k < batch:  # pad: one compilation
            chunk = jax.tree_util.tree_map(
                lambda x: jnp.concatenate([x, jnp.broadcast_to(x[:1], (batch - k,))]), chunk
            )
        out = run(chunk)
        parts.append({key: np.asarray(v)[:k] for key, v in out.items()})
        if progress is not None:
            progress(lo + k, n)
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return Solution(**out, plane=plane, method=method)


@dataclasses.dataclass(frozen=True)
class OptimumBands:
    """Per-budget bands of the optimum (global and one constrained plane).

    Keys of ``center``, ``low``, ``high`` (each an array over budgets): for p in ("global",
    plane): ``N_p``, ``D_p``, ``Omega_p``, ``value_p``, ``kappa_p``, ``inference_share_p``;
    and ``accuracy_gap``, ``compute_to_match`` (C' [FLOPs], bootstrap only).

    Attributes:
      budgets: C [FLOPs], shape (n_budgets,).
      plane: the constrained plane ("chinchilla" or "fixed_tokens").
      level: the central probability of the bands (e.g. 0.9).
      method: "bootstrap" (percentiles over laws) or "delta" (normal approximation).
      center: the point estimate (the law given as ``center``, else the median).
      samples: bootstrap only: name -> (n_laws, n_budgets) arrays.
      matched: bootstrap only: fraction of laws whose plane reaches the global accuracy
        within the budget grid, per budget (compute_to_match is NaN for the others and its
        band is over the matched laws).
    """

    budgets: np.ndarray
    plane: str
    level: float
    method: str
    center: dict
    low: dict
    high: dict
    samples: dict | None = None
    matched: np.ndarray | None = None

    def width(self, name: str, log: bool | None = None) -> np.ndarray:
        """Band width per budget (of log10 for N, D, Omega, kappa unless ``log=False``)."""
        lg = name.split("_")[0] in _LOG_QUANTITIES if log is None else log
        if lg:
            return np.log10(self.high[name]) - np.log10(self.low[name])
        return self.high[name] - self.low[name]


def _derived(sol_like, logC, names_suffix):
    N, D = np.asarray(sol_like["N"]), np.asarray(sol_like["D"])
    out = {
        "N": N,
        "D": D,
        "Omega": np.asarray(sol_like["Omega"]),
        "value": np.asarray(sol_like["value"]),
        "kappa": D / N,
        "inference_share": 1.0 - 6.0 * N * D / np.exp(logC),
    }
    return {f"{k}_{names_suffix}": v for k, v in out.items()}


def _interp_match(budgets, target, value_c):
    """C' with V_c(C') = target per law by interpolation in log C (V_c made monotone)."""
    lc = np.log(budgets)
    out = np.full(target.shape, np.nan)
    for i in range(target.shape[0]):
        v = np.maximum.accumulate(value_c[i])
        t = target[i]
        ok = (t <= v[-1]) & (t >= v[0])
        # flat stretches of V_c: np.interp needs increasing x; keep the first of equal values
        keep = np.concatenate([[True], np.diff(v) > 0])
        out[i, ok] = np.exp(np.interp(t[ok], v[keep], lc[keep]))
    return out


def optimum_bands(
    problem: Problem,
    laws: LossLaw,
    budgets,
    plane: str = "chinchilla",
    *,
    level: float = 0.9,
    kappa=20.0,
    tokens=None,
    center: LossLaw | None = None,
    method: str = "warm",
    batch: int = 8,
    progress=None,
    **options,
) -> OptimumBands:
    """Percentile bands of the optimum over a batch of loss laws (bootstrap replicates).

    Solves the global surface and ``plane`` for every law (:func:`solve_laws`) and takes
    the (1 - level)/2 and (1 + level)/2 percentiles per budget of each quantity (see
    :class:`OptimumBands`). The compute-to-match C' is interpolated in log C on the budget
    grid (so it is found only where the plane's accuracy reaches the target within the
    grid; ``matched`` says for how many laws).

    Args:
      problem: :class:`optim.Problem` (its law is replaced by each of ``laws``).
      laws: :class:`ds3jax.LossLaw` with leaves of shape (n,), e.g. ``LossFit.bootstrap(n,
        key).laws``.
      budgets: increasing 1-D array of total compute [FLOPs].
      plane: "chinchilla" (with ``kappa``) or "fixed_tokens" (with ``tokens``).
      center: the point estimate's law: solved once (``center`` of the bands; default the
        median over laws) and the warm method's seed law (default: the parameters' median).
      method: see :func:`solve_laws` ("warm", "gradient" or "grid").
      progress: optional ``progress(done, total)`` over both planes' batches.
    """
    if plane not in ("chinchilla", "fixed_tokens"):
        raise ValueError(f"plane must be 'chinchilla' or 'fixed_tokens', got {plane!r}")
    level = check_level(level)
    b = np.asarray(budgets, float)
    if b.ndim != 1 or b.size < 2 or np.any(np.diff(b) <= 0):
        raise ValueError("budgets must be an increasing 1-D array of at least 2 budgets")
    laws, n = _law_batch(laws)
    total = 2 * n
    prog = None
    if progress is not None:
        prog = [lambda d, t: progress(d, total), lambda d, t: progress(n + d, total)]
    kw = dict(method=method, batch=batch, center=center, **options)
    g = solve_laws(problem, laws, b, "global", progress=prog and prog[0], **kw)
    c = solve_laws(
        problem, laws, b, plane, kappa=kappa, tokens=tokens, progress=prog and prog[1], **kw
    )
    logC = np.log(b)[None, :]
    samples = {**_derived(vars(g), logC, "global"), **_derived(vars(c), logC, plane)}
    samples["accuracy_gap"] = samples["value_global"] - samples[f"value_{plane}"]
    samples["compute_to_match"] = _interp_match(
        b, samples["value_global"], samples[f"value_{plane}"]
    )
    q = 100.0 * np.array([(1 - level) / 2, (1 + level) / 2])
    low, high, mid = {}, {}, {}
    for k, v in samples.items():
        lo, hi, md = (np.full(v.shape[1], np.nan) for _ in range(3))
        cols = np.isfinite(v).any(axis=0)  # budgets where some law has a value
        if cols.any():
            lo[cols], hi[cols] = np.nanpercentile(v[:, cols], q, axis=0)
            md[cols] = np.nanmedian(v[:, cols], axis=0)
        low[k], high[k], mid[k] = lo, hi, md
    if center is not None:
        cl = jax.tree_util.tree_map(lambda x: jnp.atleast_1d(jnp.asarray(x, float)), center)
        kw0 = dict(kw, method="gradient", center=None)
        g0 = solve_laws(problem, cl, b, "global", **kw0)
        c0 = solve_laws(problem, cl, b, plane, kappa=kappa, tokens=tokens, **kw0)
        s0 = {**_derived(vars(g0), logC, "global"), **_derived(vars(c0), logC, plane)}
        s0["accuracy_gap"] = s0["value_global"] - s0[f"value_{plane}"]
        s0["compute_to_match"] = _interp_match(b, s0["value_global"], s0[f"value_{plane}"])
        mid = {k: v[0] for k, v in s0.items()}
    matched = np.mean(np.isfinite(samples["compute_to_match"]), axis=0)
    return OptimumBands(
        budgets=b,
        plane=plane,
        level=float(level),
        method="bootstrap",
        center=mid,
        low=low,
        high=high,
        samples=samples,
        matched=matched,
    )


def delta_method_bands(
    problem: Problem,
    theta,
    covariance,
    budgets,
    plane: str = "chinchilla",
    *,
    level: float = 0.9,
    kappa=20.0,
    tokens=None,
    **options,
) -> OptimumBands:
    """Delta-method bands of the optimum from a covariance of the law's parameters.

    q(theta) = the optimum's log N*, log D*, log Omega*, Psi*, log kappa*, inference share
    (both planes) and the accuracy gap, differentiated by :func:`optim.optimum` (implicit
    function theorem; forward mode over the 5 parameters). With J = dq/dtheta,
    sd = sqrt(diag(J Sigma J^T)) and z the standard normal (1 + level)/2 quantile, the
    band is q +- z sd (exponentiated for the log quantities). No compute-to-match band.

    Args:
      problem: :class:`optim.Problem`.
      theta: (5,) (log E, log A, log B, alpha, beta), e.g. ``LossFit.theta``.
      covariance: (5, 5) covariance of theta (``LossFit.covariance`` or a bootstrap's).
      budgets, plane, kappa, tokens, options: as in :func:`optimum_bands`.
    """
    if plane not in ("chinchilla", "fixed_tokens"):
        raise ValueError(f"plane must be 'chinchilla' or 'fixed_tokens', got {plane!r}")
    level = check_level(level)
    cov = np.asarray(covariance, float)
    th = np.asarray(theta, float)
    if th.shape != (5,) or cov.shape != (5, 5) or not np.all(np.isfinite(cov)):
        raise ValueError("theta must have shape (5,) and covariance be a finite (5, 5) matrix")
    b = np.asarray(budgets, float)
    logC = jnp.log(jnp.asarray(b))

    def q(t):
        p = dataclasses.replace(problem, law=law_from_theta(t))
        out = []
        vals = []
        for pl in ("global", plane):
            kw = dict(kappa=kappa, tokens=tokens) if pl != "global" else {}
            r = optimum(p, b, plane=pl, **kw, **options)
            share = 1.0 - jnp.exp(r["log_N"] + r["log_D"] + math.log(6.0) - logC)
            out += [r["log_N"], r["log_D"], r["log_Omega"], r["value"]]
            out += [r["log_D"] - r["log_N"], share]
            vals.append(r["value"])
        out.append(vals[0] - vals[1])
        return jnp.stack(out)

    t0 = jnp.asarray(th)
    val = np.asarray(q(t0))
    J = np.asarray(jax.jacfwd(q)(t0))  # (n_q, n_budgets, 5)
    var = np.einsum("qbi,ij,qbj->qb", J, cov, J)
    sd = np.sqrt(np.maximum(var, 0.0))
    from scipy.special import ndtri

    z = float(ndtri(0.5 + level / 2))
    names = []
    for pl in ("global", plane):
        names += [f"{k}_{pl}" for k in _PER_PLANE]
    names.append("accuracy_gap")
    center, low, high = {}, {}, {}
    for i, name in enumerate(names):
        lo, hi = val[i] - z * sd[i], val[i] + z * sd[i]
        if name.split("_")[0] in _LOG_QUANTITIES:
            center[name], low[name], high[name] = np.exp(val[i]), np.exp(lo), np.exp(hi)
        else:
            center[name], low[name], high[name] = val[i], lo, hi
    return OptimumBands(
        budgets=b,
        plane=plane,
        level=float(level),
        method="delta",
        center=center,
        low=low,
        high=high,
    )
