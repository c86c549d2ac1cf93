"""The maximum-likelihood routes of :func:`fit_passk_counts` (``"beta-mixture"``, ``"mle"``,
``"grid"``) and the power-law baseline: fits, vmapped bootstrap refits, goodness of fit."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import expit

from .._text import counted
from ._count_models import FAMILIES, newton_fit
from ._counts_fit import CountsFit, _gof, _log_choose_sum, _resampled, _thin
from ._counts_routes import _PointRoute, _PowerLawRoute
from ._families import log_moment
from ._grid import (
    grid_fit,
    grid_loglik,
    grid_newton,
    grid_population,
    grid_psi,
    grid_result,
    loglik_matrix,
)
from ._passk import DiscretePopulation
from ._powerlaw import PowerLawCurve, powerlaw_fit, powerlaw_ks
from ._result import RESULTS, kkt_result

LAMBDAS = (0.1, 1.0, 10.0, 100.0)


@functools.partial(jax.jit, static_argnames=("name", "n_boot", "resample", "iters"))
def _family_bootstrap(name, key, th_hat, c, n, *, n_boot, resample, iters=15):
    """Replicate parameter vectors [n_boot, d]: problems resampled and/or counts redrawn
    (Binom(n_i, c_i / n_i)), each refitted by warm-started Newton steps (vmapped)."""
    fam = FAMILIES[name]

    def one(k):
        v, cs = _resampled(k, c, n, resample)
        th, _ = newton_fit(fam, th_hat, cs, n - cs, v, iters)
        return th

    return jax.lax.map(one, jax.random.split(key, n_boot), batch_size=min(n_boot, 64))


@functools.partial(jax.jit, static_argnames=("name",))
def _multistart(name, c, n):
    fam = FAMILIES[name]
    starts = jnp.asarray(fam.starts, c.dtype)
    v = jnp.ones_like(c)
    th, val = jax.vmap(lambda s: newton_fit(fam, s, c, n - c, v, 60))(starts)
    j = jnp.argmin(jnp.where(jnp.isfinite(val), val, jnp.inf))
    return th[j], val[j]


def _point_fit(method, family, counts, c, n, key, n_boot, resample, theta, **kw):
    fam = FAMILIES[family]
    pop = fam.build(jnp.asarray(theta, c.dtype))
    reps = None
    if n_boot:
        ths = _family_bootstrap(
            family,
            jax.random.fold_in(key, 1),
            jnp.asarray(theta, c.dtype),
            c,
            n,
            n_boot=n_boot,
            resample=resample,
        )
        reps = jax.vmap(fam.build)(ths)
    route = _PointRoute(pop, reps, c, n, jax.random.fold_in(key, 2))
    rmse, mae = _gof(route, c, n)
    kmax = int(np.max(counts.samples))
    base = dict(
        method=method,
        family=family,
        weights={family: 1.0},
        scores=None,
        population=pop,
        n_obs=int(c.size),
        rmse=rmse,
        max_abs_error=mae,
        interval_note="" if n_boot else "n_boot = 0: no replicates were drawn",
        extrapolation_note=(
            f"beyond k ~ {kmax} samples per problem, pass@k rests on the fitted family's left "
            "tail, not on data"
        ),
        _route=route,
    )
    base.update(kw)
    return CountsFit(**base)


def _bounds_hit(family, theta):
    fam = FAMILIES[family]
    th = np.asarray(theta)
    hit = []
    for j, nm in enumerate(fam.names):
        if nm in fam.natural_bounds:
            continue
        if th[j] <= fam.lower[j] + 1e-6 or th[j] >= fam.upper[j] - 1e-6:
            hit.append(nm)
    return hit


def _mixture_route(counts, c, n, key, n_boot, resample):
    name = "beta-mixture"
    th, val = _multistart(name, c, n)
    fam = FAMILIES[name]
    nat = fam.natural(np.asarray(th))
    hit = _bounds_hit(name, th)
    obj = lambda t: -jnp.sum(log_moment(fam.build(t), c, n - c))
    g, H = np.asarray(jax.grad(obj)(th)), np.asarray(jax.hessian(obj)(th))
    res, *_ = kkt_result(float(val), g, H, np.asarray(th), fam.lower, fam.upper, atol=1e-6)
    identified = not hit
    if not identified and res is RESULTS.successful:
        res = RESULTS.not_identified
    message = (
        res.value
        if identified
        else (f"the data do not determine {', '.join(hit)} (at the optimiser's bound)")
    )
    return _point_fit(
        "beta-mixture",
        name,
        counts,
        c,
        n,
        key,
        n_boot,
        resample,
        th,
        why="requested (method='beta-mixture'): two Beta components, maximum likelihood",
        params={nm: (float(v), float("nan"), float("nan")) for nm, v in zip(fam.names, nat)},
        identified=identified,
        result=res,
        message=message,
        loglik=-float(val) + _log_choose_sum(c, n),
    )


def _mle_route(counts, c, n, key, n_boot, resample, zero_mass):
    from ._fit_counts import _fit_beta_counts

    fit = _fit_beta_counts(counts, zero_mass=zero_mass)
    p = fit.population
    A = float(p.solvable)
    family = "beta+zero" if zero_mass else "beta"
    a, b = float(p.alpha), float(p.beta)
    th = [np.log(a) - np.log(b), np.log(a + b)]  # mean logit, log concentration
    if zero_mass:
        th.append(np.log(A / (1 - A)) if A < 1 else FAMILIES[family].upper[2])
    params = {}
    for nm in fit.names:
        v, se = float(getattr(p, nm)), fit.stderr[nm]
        # on the scale where the parameter is unbounded (delta method), so that the interval
        # stays inside its range: v +- 1.645 se gave alpha in [-0.37, 1.92]
        if nm == "solvable" and 0.0 < v < 1.0:
            half = 1.645 * se / (v * (1.0 - v))
            lg = np.log(v / (1.0 - v))
            params[nm] = (v, float(expit(lg - half)), float(expit(lg + half)))
        elif nm != "solvable" and v > 0.0:
            half = 1.645 * se / v
            params[nm] = (v, v * float(np.exp(-half)), v * float(np.exp(half)))
        else:
            params[nm] = (v, v - 1.645 * se, v + 1.645 * se)
    out = _point_fit(
        "mle",
        family,
        counts,
        c,
        n,
        key,
        n_boot,
        resample,
        np.asarray(th),
        why="requested (method='mle'): beta-binomial"
        + (" + zero mass" if zero_mass else "")
        + ", maximum likelihood",
        params=params,
        identified=fit.identified,
        result=fit.result,
        message=fit.message,
        loglik=fit.loglik,
        population=p,
        stderr=fit.stderr,
        at_bound=fit.at_bound,
    )
    return out


@functools.partial(jax.jit, static_argnames=("n_boot", "resample", "iters"))
def _grid_bootstrap(key, theta, c, n, lams, lam_logp, *, n_boot, resample, iters=8):
    def one(key):
        k1, k3 = jax.random.split(key)
        v, cs = _resampled(k1, c, n, resample)
        lam = lams[jax.random.categorical(k3, lam_logp)]
        th = grid_newton(theta, loglik_matrix(cs, n), v, lam, iters=iters, exact=False)
        return jax.nn.softmax(th)

    keys = jax.random.split(key, n_boot)
    return jax.lax.map(one, keys, batch_size=min(n_boot, 50))


@jax.jit
def _grid_heldout(Mf, Mfull, lams):
    """Scores [splits, lams] of the nonparametric family on thinned data."""
    v = jnp.ones(Mf.shape[1], Mf.dtype)

    def one(M, lam):
        th = grid_newton(jnp.zeros(M.shape[1], M.dtype), M, v, lam)
        return jnp.sum(grid_loglik(th, Mfull) - grid_loglik(th, M))

    return jax.vmap(lambda M: jax.vmap(lambda lam: one(M, lam))(lams))(Mf)


def _nonparametric_route(counts, c, n, key, n_boot, resample, splits, seed):
    dtype = c.dtype
    cf, nf = _thin(counts.correct, counts.samples, splits, seed)
    Mfull = loglik_matrix(c, n)
    Mf = jax.vmap(loglik_matrix)(jnp.asarray(cf, dtype), jnp.asarray(nf, dtype))
    lams = jnp.asarray(LAMBDAS, dtype)
    sc = np.asarray(_grid_heldout(Mf, Mfull, lams)).mean(0)
    scores = {f"grid(lam={lam:g})": float(s) for lam, s in zip(LAMBDAS, sc)}
    lam_best = LAMBDAS[int(np.argmax(sc))]
    th, val, g, H = grid_fit(Mfull, jnp.ones_like(c), lam_best)
    res, dec = grid_result(th, val, g, H)
    message = f"{res.value} (Newton decrement {dec:.2g})"
    # with every problem all-correct or all-wrong the counts say nothing about where between
    # 0 and 1 the rates lie: the density's shape is the penalty's, not the data's
    identified = bool(np.any((counts.correct > 0) & (counts.correct < counts.samples)))
    if not identified:
        res = RESULTS.not_identified
        message = (
            "no problem has both correct and wrong samples "
            f"({counted(counts.correct.size, 'problem')}): "
            "the density between the all-wrong and all-correct problems follows the smoothness "
            "penalty, not the data"
        )
    pop = grid_population(jnp.asarray(th, dtype))
    reps = None
    if n_boot:
        gl = jnp.asarray(sc - sc.max(), dtype)
        w = _grid_bootstrap(
            jax.random.fold_in(key, 1),
            jnp.asarray(th, dtype),
            c,
            n,
            lams,
            gl,
            n_boot=n_boot,
            resample=resample,
        )
        reps = DiscretePopulation(jnp.broadcast_to(grid_psi(dtype), w.shape), w)
    route = _PointRoute(pop, reps, c, n, jax.random.fold_in(key, 2))
    rmse, mae = _gof(route, c, n)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    kmax = int(np.max(counts.samples))
    return CountsFit(
        method="grid",
        family=f"grid(lam={lam_best:g})",
        weights={f"grid(lam={lam_best:g})": 1.0},
        scores=scores,
        why="smoothness penalty with the highest held-out log-likelihood: "
        + ", ".join(f"{k} {v - ranked[0][1]:+.2f}" for k, v in ranked),
        population=pop,
        params={},
        identified=identified,
        result=res,
        message=message,
        n_obs=int(c.size),
        rmse=rmse,
        max_abs_error=mae,
        loglik=float(jnp.sum(grid_loglik(jnp.asarray(th, dtype), Mfull))),
        interval_note="" if n_boot else "n_boot = 0: no replicates were drawn",
        extrapolation_note=(
            f"beyond k ~ {kmax} samples per problem, pass@k rests on the smoothness of the "
            "fitted density in logit psi, not on data"
        ),
        _route=route,
    )


# ----------------------------------------------------------------------------- power law


@functools.partial(jax.jit, static_argnames=("n_boot", "resample"))
def _powerlaw_bootstrap(key, c, n, ks, *, n_boot, resample):
    def one(key):
        v, cs = _resampled(key, c, n, resample)
        curve, _, _ = powerlaw_fit(cs, n, v, ks)
        return jnp.stack([curve.log_a, curve.b])

    return jax.lax.map(one, jax.random.split(key, n_boot), batch_size=min(n_boot, 100))


def _power_law_route(counts, c, n, key, n_boot, resample):
    ks = jnp.asarray(powerlaw_ks(counts.samples), c.dtype)
    curve, y, ok = powerlaw_fit(c, n, jnp.ones_like(c), ks)
    n_ok = int(np.sum(np.asarray(ok)))
    if n_ok < 2:
        raise ValueError(
            f"{counts.name or 'counts'}: the power law needs pass@k strictly between 0 and 1 at "
            f"two or more k <= {int(np.min(counts.samples))}; got {n_ok}"
        )
    reps = None
    if n_boot:
        r = _powerlaw_bootstrap(key, c, n, ks, n_boot=n_boot, resample=resample)
        reps = PowerLawCurve(r[:, 0:1], r[:, 1:2])
    route = _PowerLawRoute(curve, reps)
    rmse, mae = _gof(route, c, n)
    return CountsFit(
        method="power_law",
        family="power_law",
        weights={"power_law": 1.0},
        scores=None,
        why="requested: -log pass@k = a k^-b, least squares in log-log on the unbiased curve",
        population=curve,
        params={"a": (float(np.exp(curve.log_a)),) * 3, "b": (float(curve.b),) * 3},
        identified=True,
        result=RESULTS.successful,
        message=RESULTS.successful.value,
        n_obs=int(c.size),
        rmse=rmse,
        max_abs_error=mae,
        loglik=None,
        interval_note="" if n_boot else "n_boot = 0: no replicates were drawn",
        extrapolation_note="the power law has no population: it sends pass@k to 1 as k grows",
        _route=route,
    )
