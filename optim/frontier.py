"""Frontier analysis: a constrained allocation path against the global one (Fig. 8 panels 3-8).

Given solutions on the global surface and on a constrained plane at the same budgets:

* power-law fits y = prefactor * C^exponent of N*, D*, Omega* (least squares of log10 y on
  log10 C, with R^2 in log space; Fig. 8 panels 3a-c and 6);
* kappa*(C) = D*/N* (panel 4) and the share of FLOPs spent on inference 2 N I Omega / C
  (panel 5);
* the accuracy gap Psi_global - Psi_constrained (panel 7);
* the compute the constrained path needs to reach the global accuracy (panel 8): the root
  C' of V_c(C') = Psi_global(C), where V_c is the constrained plane's optimal accuracy,
  found by bisection in log C on freshly solved optima (not by table lookup).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ds3jax._checks import check_int, is_concrete

from ._problem import Problem
from ._solve import SATURATED, Solution, _prepare, _solve_one, is_saturated, solve

__all__ = [
    "SATURATED",
    "PowerLaw",
    "power_law_fit",
    "allocation_fits",
    "FrontierComparison",
    "compare_frontiers",
    "compute_to_match",
]

# fewest unsaturated optima a plane's power laws are fitted through (two fix an exponent;
# R^2 is then 1 by construction)
MIN_FIT_POINTS = 2


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["exponent", "prefactor", "r2"],
    meta_fields=[],
)
@dataclasses.dataclass(frozen=True)
class PowerLaw:
    """y ~ prefactor * C^exponent fitted in log10 space; ``r2`` is R^2 of that fit."""

    exponent: jax.Array
    prefactor: jax.Array
    r2: jax.Array


def power_law_fit(C, y, mask=None) -> PowerLaw:
    """Least-squares fit log10 y = exponent log10 C + log10 prefactor.

    Args:
      C: budgets [FLOPs], shape (n,), > 0.
      y: values (> 0), shape (..., n); fits are batched over leading axes.
      mask: optional boolean (..., n) of points to use (e.g. converged ones); >= 2 needed.

    Returns:
      :class:`PowerLaw` with arrays of shape (...). R^2 = 1 - SS_res / SS_tot in log10 y
      (1 for a constant series, which exponent 0 fits exactly).

    Raises:
      ValueError (concrete arguments) when a point used has C or y not positive and finite.
    """
    if is_concrete((C, y, mask)):
        Cb, yb = np.broadcast_arrays(np.asarray(C, float), np.asarray(y, float))
        if mask is not None and np.asarray(mask).dtype != bool:
            raise ValueError(
                f"power_law_fit: mask must be boolean, got dtype {np.asarray(mask).dtype}"
            )
        use = np.ones(yb.shape, bool) if mask is None else np.broadcast_to(mask, yb.shape)
        for name, v in (("C", Cb), ("y", yb)):
            bad = use & ~((v > 0) & (v < np.inf))
            if bad.any():
                i = np.argwhere(bad)[0]
                raise ValueError(
                    f"power_law_fit: {name} must be positive and finite at every point used, "
                    f"got {v[tuple(i)]!r} at index {tuple(int(j) for j in i)}"
                )
    x = jnp.log10(jnp.asarray(C))
    ly = jnp.log10(jnp.asarray(y))
    w = jnp.ones(ly.shape, ly.dtype) if mask is None else jnp.asarray(mask, ly.dtype)
    x = jnp.broadcast_to(x, ly.shape)
    # points left out may hold anything (inf, NaN): 0 * inf must not reach the sums
    x, ly = jnp.where(w > 0, x, 0.0), jnp.where(w > 0, ly, 0.0)
    sw = jnp.sum(w, -1, keepdims=True)
    xm = jnp.sum(w * x, -1, keepdims=True) / sw
    ym = jnp.sum(w * ly, -1, keepdims=True) / sw
    sxx = jnp.sum(w * (x - xm) ** 2, -1)
    sxy = jnp.sum(w * (x - xm) * (ly - ym), -1)
    slope = sxy / sxx
    icpt = ym[..., 0] - slope * xm[..., 0]
    resid = ly - (slope[..., None] * x + icpt[..., None])
    ss_res = jnp.sum(w * resid**2, -1)
    ss_tot = jnp.sum(w * (ly - ym) ** 2, -1)
    # a constant series (e.g. fixed tokens) is fitted exactly by exponent 0: R^2 = 1
    safe_tot = jnp.where(ss_tot > 0, ss_tot, 1.0)
    r2 = jnp.where(ss_tot > 0, 1.0 - ss_res / safe_tot, jnp.where(ss_res > 0, 0.0, 1.0))
    r2 = jnp.where(jnp.isnan(ss_res + ss_tot + slope), jnp.nan, r2)  # no fit, no R^2
    return PowerLaw(exponent=slope, prefactor=10.0**icpt, r2=r2)


def allocation_fits(budgets, value, allocation) -> dict:
    """Power laws of N*, D*, Omega* in C through one plane's unsaturated optima.

    Saturated optima (1 - Psi <= ``SATURATED``) are flat, so their (N*, D*, Omega*) are not
    determined and are left out. With fewer than ``MIN_FIT_POINTS`` (2) optima left, every
    field of the fits is NaN: there is no exponent to report.

    Args:
      budgets: C [FLOPs], shape (n,).
      value: accuracy Psi at each optimum, shape (n,).
      allocation: mapping (or object with attributes) "N", "D", "Omega", each shape (n,);
        an :class:`optim.Solution` serves for ``value`` and ``allocation`` alike.

    Returns:
      dict "N", "D", "Omega" -> :class:`PowerLaw`.
    """
    live = ~is_saturated(jnp.asarray(value))

    def fit(key):
        y = jnp.asarray(
            allocation[key] if isinstance(allocation, Mapping) else getattr(allocation, key)
        )
        # D = inf on the inference-only plane: no power law, NaN
        use = live & (y > 0) & (y < jnp.inf)
        f = power_law_fit(budgets, jnp.where(use, y, 1.0), mask=use)
        ok = jnp.sum(use) >= MIN_FIT_POINTS  # use is within live
        return jax.tree_util.tree_map(lambda v: jnp.where(ok, v, jnp.nan), f)

    return {k: fit(k) for k in ("N", "D", "Omega")}


@functools.partial(jax.jit, static_argnames=("plane", "mode", "n_bisect", "cfg_items"))
def _match(problem, target, logC0, aux, n_min, log_span, *, plane, mode, n_bisect, cfg_items):
    cfg = dict(cfg_items)
    one = functools.partial(_solve_one, plane=plane, mode=mode, method="gradient", cfg=cfg)

    def per_budget(t, lc0, a0):
        def best(logC):
            return one(problem, logC, a0, n_min)[1]  # optimal log Psi on the plane

        lt = jnp.log(t)
        lo, hi = lc0, lc0 + log_span
        ok_hi = best(hi) >= lt

        def body(_, bounds):
            a, b = bounds
            mid = 0.5 * (a + b)
            up = best(mid) >= lt
            return jnp.where(up, a, mid), jnp.where(up, mid, b)

        lo_done = best(lo) >= lt
        a, b = jax.lax.fori_loop(0, n_bisect, body, (lo, hi))
        root = jnp.where(lo_done, lo, b)
        return jnp.where(ok_hi, root, jnp.inf), ok_hi

    return jax.vmap(per_budget)(target, logC0, aux)


def compute_to_match(
    problem: Problem,
    target_accuracy,
    budgets,
    plane: str = "chinchilla",
    kappa=20.0,
    max_factor: float = 1e4,
    n_bisect: int = 40,
    n_min: float = 1.0,
    tokens=None,
    **options,
):
    """Smallest compute C' >= budgets at which ``plane``'s optimum reaches ``target_accuracy``.

    V(C) = max accuracy on the plane at compute C is non-decreasing in C (extra compute can
    always go to N or D), so C' = min{C : V(C) >= target} is found by bisection in log C on
    [budget, budget * max_factor], solving the plane's optimisation at every probe
    (vectorised over budgets, one compilation). Precision: log C' to
    log(max_factor) / 2^n_bisect.

    Args:
      problem: :class:`optim.Problem`.
      target_accuracy: accuracies to reach, shape (n,) (e.g. the global optimum's values).
      budgets: starting budgets [FLOPs], shape (n,) (lower end of each bracket).
      plane, kappa, tokens: the constrained plane (as in :func:`optim.solve`); any plane but
        "inference_only".
      max_factor: upper end of the bracket, budgets * max_factor.

    Returns:
      (C_match, matched): C_match [FLOPs] (inf where the target is not reached within the
      bracket) and a boolean mask.
    """
    if plane not in ("global", "chinchilla", "fixed_tokens"):
        raise ValueError(f"plane must be 'global', 'chinchilla' or 'fixed_tokens', got {plane!r}")
    if not 1 < max_factor < np.inf:
        raise ValueError(f"max_factor must be finite and > 1, got {max_factor!r}")
    n_bisect = check_int("n_bisect", n_bisect, 1)
    t = np.asarray(target_accuracy, float)
    if np.any(~(t > 0)) or np.any(t > 1):
        raise ValueError("target_accuracy must lie in (0, 1]")
    b = np.atleast_1d(np.asarray(budgets, float))
    if b.shape != np.atleast_1d(t).shape:
        raise ValueError("target_accuracy and budgets must have the same shape")
    prep = _prepare(problem, b, plane, "gradient", kappa, tokens, "accuracy", n_min, options)
    dtype = prep["logC"].dtype
    c_match, ok = _match(
        problem,
        jnp.asarray(np.atleast_1d(t), dtype),
        prep["logC"],
        prep["aux"],
        prep["n_min"],
        jnp.log(jnp.asarray(max_factor, dtype)),
        plane=plane,
        mode=prep["mode"],
        n_bisect=int(n_bisect),
        cfg_items=prep["cfg_items"],
    )
    return jnp.exp(c_match), ok


@dataclasses.dataclass(frozen=True)
class FrontierComparison:
    """Global vs constrained frontier at the same budgets (Fig. 8 panels 3-8).

    Attributes:
      budgets: C [FLOPs], shape (n,).
      fits_global, fits_constrained: dict name -> :class:`PowerLaw` for "N", "D", "Omega".
      kappa_global, kappa_constrained: D*/N*, shape (n,).
      inference_share_global, inference_share_constrained: 2 N I Omega / C, shape (n,).
      accuracy_gap: Psi_global - Psi_constrained, shape (n,).
      compute_to_match: C' at which the constrained optimum reaches Psi_global(C) [FLOPs]
        (Psi_global capped at 1 - SATURATED: beyond, accuracies are equal to float precision).
      compute_penalty: C' / C - 1 (extra compute as a fraction of C); inf where unmatched.
      saturated: (n,) bool, both planes' accuracy within ``SATURATED`` of 1. Where a plane's
        accuracy is, its optimum is flat and N*, D*, Omega* are not determined: each plane's
        power-law fits leave its own saturated budgets out (:func:`allocation_fits`; NaN
        fits where fewer than 2 are left).
    """

    budgets: jax.Array
    fits_global: dict
    fits_constrained: dict
    kappa_global: jax.Array
    kappa_constrained: jax.Array
    inference_share_global: jax.Array
    inference_share_constrained: jax.Array
    accuracy_gap: jax.Array
    compute_to_match: jax.Array
    compute_penalty: jax.Array
    saturated: jax.Array


def compare_frontiers(
    problem: Problem,
    budgets,
    plane: str = "chinchilla",
    kappa=20.0,
    global_solution: Solution | None = None,
    constrained_solution: Solution | None = None,
    max_factor: float = 1e4,
    n_bisect: int = 40,
    tokens=None,
    match: bool = True,
    **options,
) -> FrontierComparison:
    """Solve (or reuse) both frontiers at ``budgets`` and compute the Fig. 8 diagnostics.

    ``plane`` is "chinchilla" (Fig. 8, with ``kappa``) or "fixed_tokens" (Fig. 15, with
    ``tokens``). ``match=False`` skips the compute-to-match bisection (it re-solves the
    plane ~n_bisect times; ``compute_to_match`` and ``compute_penalty`` are then NaN).
    ``options`` are solver settings passed to every solve (see :func:`optim.solve`).
    """
    if plane not in ("chinchilla", "fixed_tokens"):
        raise ValueError(f"plane must be 'chinchilla' or 'fixed_tokens', got {plane!r}")
    for name, sol, want in (
        ("global_solution", global_solution, "global"),
        ("constrained_solution", constrained_solution, plane),
    ):
        if sol is None:
            continue
        if sol.plane != want:
            raise ValueError(f"{name} was solved on the {sol.plane!r} plane, not {want!r}")
        if np.shape(sol.budget) != np.shape(budgets) or not np.allclose(
            np.asarray(sol.budget), np.asarray(budgets), rtol=1e-9, atol=0.0
        ):
            raise ValueError(f"{name} was solved at other budgets than ``budgets``")
    g = global_solution or solve(problem, budgets, plane="global", **options)
    c = constrained_solution or solve(
        problem, budgets, plane=plane, kappa=kappa, tokens=tokens, **options
    )
    C = jnp.asarray(budgets)
    saturated = g.saturated & c.saturated
    share = lambda s: 1.0 - s.train_share
    if match:
        c_match, _ = compute_to_match(
            problem,
            jnp.minimum(g.value, 1.0 - SATURATED),
            budgets,
            plane=plane,
            kappa=kappa,
            max_factor=max_factor,
            n_bisect=n_bisect,
            tokens=tokens,
            **options,
        )
    else:
        c_match = jnp.full(C.shape, jnp.nan, dtype=jnp.result_type(C, float))
    return FrontierComparison(
        budgets=C,
        fits_global=allocation_fits(C, g.value, g),
        fits_constrained=allocation_fits(C, c.value, c),
        kappa_global=g.D / g.N,
        kappa_constrained=c.D / c.N,
        inference_share_global=share(g),
        inference_share_constrained=share(c),
        accuracy_gap=g.value - c.value,
        compute_to_match=c_match,
        compute_penalty=c_match / C - 1.0,
        saturated=saturated,
    )
