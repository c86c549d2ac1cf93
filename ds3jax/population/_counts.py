"""``fit_passk_counts``: task populations from per-problem counts, chosen by held-out likelihood,
with bootstrap intervals for pass@k at any k.

Data: problem i has c_i correct of n_i samples (n_i may differ by problem).  Routes
(``method``):

* ``"grid"``: the smooth nonparametric mixing distribution of :mod:`._grid` (weights on a grid
  of logit psi; curvature penalty lam chosen from ``LAMBDAS`` by held-out likelihood).
* ``"beta"``: the beta-binomial with a zero mass (Eq. 58), maximum likelihood.
* ``"power_law"``: the plain baseline -log pass@k = a k^-b fitted to the unbiased pass@k
  curve at k <= min n_i (:mod:`._powerlaw`), for comparison.
* ``"auto"`` (default): every population family above (grid at each lam, Beta with and
  without the zero mass) scored by the same held-out likelihood; the best is returned and
  ``fit.why`` says what each scored.

Held-out likelihood by thinning: each problem's n_i samples are split at random (hypergeometric)
into a fit part of floor(n_i / 2) samples, c_i^f correct, and a validation part.  A family
fitted on the fit parts scores

    sum_i log P(c_i^v | c_i^f) = sum_i [log P(c_i; n_i) - log P(c_i^f; n_i^f)] + const,

the predictive likelihood of each problem's unseen samples given its seen ones (the constant,
log C(n^f, c^f) C(n^v, c^v) / C(n, c), is the same for every family).  Averaged over
``splits`` random splits.

Intervals: ``fit.passk_interval(k, level)`` are percentile intervals over ``n_boot`` bootstrap
replicates, each a refit (vmapped) to data resampled as configured by ``resample``:
``"counts"`` redraws every problem's count from its posterior under the fit (psi_i from the
fitted population given c_i, then c_i* ~ Binom(n_i, psi_i)), ``"problems"`` resamples problems
with replacement, ``"both"`` does both.  For the grid family each replicate also redraws lam
with the probabilities exp(score) / sum exp(score) of the held-out comparison, so the interval
carries the uncertainty of the tail shape too.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._data import Counts, make_counts
from ._grid import grid_fit, grid_loglik, grid_newton, grid_population, grid_psi, loglik_matrix
from ._passk import BetaPopulation, DiscretePopulation, passk, passk_from_counts
from ._powerlaw import PowerLawCurve, powerlaw_fit, powerlaw_ks, powerlaw_passk
from ._result import RESULTS, kkt_result

__all__ = ["fit_passk_counts", "LAMBDAS", "METHODS"]

LAMBDAS = (0.1, 1.0, 10.0, 100.0)
METHODS = ("auto", "grid", "beta", "power_law")
_RESAMPLE = ("counts", "problems", "both")


def _dtype():
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def _thin(c, n, splits, seed):
    rng = np.random.default_rng(seed)
    nf = n // 2
    cf = np.stack([rng.hypergeometric(c, n - c, nf) for _ in range(splits)])
    return cf, np.broadcast_to(nf, cf.shape)


@functools.partial(jax.jit, static_argnames=())
def _grid_heldout(Mf, Mfull, lams):
    """Scores [splits, lams] and fitted thetas of the grid family on thinned data."""
    v = jnp.ones(Mf.shape[1], Mf.dtype)

    def one(M, lam):
        th = grid_newton(jnp.zeros(M.shape[1], M.dtype), M, v, lam)
        return jnp.sum(grid_loglik(th, Mfull) - grid_loglik(th, M))

    return jax.vmap(lambda M: jax.vmap(lambda lam: one(M, lam))(lams))(Mf)


def _weights_and_counts(key, c, n, sample_fn, resample, P):
    k1, k2 = jax.random.split(key)
    if resample in ("problems", "both"):
        idx = jax.random.randint(k1, (P,), 0, P)
        v = jnp.zeros(P, n.dtype).at[idx].add(1.0)
    else:
        v = jnp.ones(P, n.dtype)
    cs = sample_fn(k2) if resample in ("counts", "both") else c
    return v, cs


@functools.partial(jax.jit, static_argnames=("n_boot", "resample", "iters"))
def _grid_bootstrap(key, theta, c, n, lams, lam_logp, *, n_boot, resample, iters=8):
    P = c.shape[0]
    psi = grid_psi(c.dtype)
    logpost = jax.nn.log_softmax(theta)[None, :] + loglik_matrix(c, n)

    def one(key):
        k1, k2, k3 = jax.random.split(key, 3)

        def draw(k):
            ka, kb = jax.random.split(k)
            j = jax.random.categorical(ka, logpost, axis=1)
            return jax.random.binomial(kb, n, psi[j]).astype(c.dtype)

        v, cs = _weights_and_counts(k1, c, n, draw, resample, P)
        lam = lams[jax.random.categorical(k3, lam_logp)]
        th = grid_newton(theta, loglik_matrix(cs, n), v, lam, iters=iters, exact=False)
        return jax.nn.softmax(th)

    keys = jax.random.split(key, n_boot)
    return jax.lax.map(one, keys, batch_size=min(n_boot, 50))


def _beta_theta_nll(th, c, n, v, A_free):
    from ._fit import betabinom_zero_loglik

    A = jnp.where(A_free, jax.nn.sigmoid(th[2]), 1.0)
    pop = BetaPopulation(jnp.exp(th[0]), jnp.exp(th[1]), A)
    return -v @ betabinom_zero_loglik(pop, c, n)


@functools.partial(jax.jit, static_argnames=("n_boot", "resample", "A_free"))
def _beta_bootstrap(key, th_hat, c, n, *, n_boot, resample, A_free):
    P = c.shape[0]
    a, b = jnp.exp(th_hat[0]), jnp.exp(th_hat[1])
    A = jax.nn.sigmoid(th_hat[2]) if A_free else jnp.ones((), c.dtype)
    free = jnp.array([1.0, 1.0, 1.0 if A_free else 0.0], c.dtype)
    lo = jnp.array([np.log(1e-4), np.log(1e-4), -30.0], c.dtype)
    hi = jnp.array([np.log(1e4), np.log(1e7), 30.0], c.dtype)
    f = lambda th, cs, v: _beta_theta_nll(th, cs, n, v, A_free)
    vg = jax.value_and_grad(f)
    hess = jax.hessian(f)
    ts = 0.5 ** jnp.arange(12, dtype=c.dtype)

    def one(key):
        def draw(k):
            ka, kb, kc = jax.random.split(k, 3)
            # P(solvable | c = 0) = A B(a, b + n) / B(a, b) / P(c = 0)
            from ._passk import log_gamma_ratio

            lf = log_gamma_ratio(b + n, a) - log_gamma_ratio(b, a)
            p_solv = jnp.where(c > 0, 1.0, A * jnp.exp(lf) / ((1 - A) + A * jnp.exp(lf)))
            solv = jax.random.uniform(ka, (P,)) < p_solv
            psi = jax.random.beta(kb, a + c, b + n - c)
            return jax.random.binomial(kc, n, jnp.where(solv, psi, 0.0)).astype(c.dtype)

        v, cs = _weights_and_counts(key, c, n, draw, resample, P)

        def step(th, _):
            f0, g = vg(th, cs, v)
            H = hess(th, cs, v) * free[:, None] * free[None, :] + jnp.diag(1.0 - free)
            ev, U = jnp.linalg.eigh(H)
            d = -U @ ((U.T @ (g * free)) / jnp.maximum(ev, 1e-8))
            # a non-finite step (log1p(-A) at A -> 1) is not taken
            d = jnp.where(jnp.all(jnp.isfinite(d)), d, 0.0)
            fs = jax.vmap(lambda t: f(jnp.clip(th + t * d, lo, hi), cs, v))(ts)
            ok = fs <= f0
            t = jnp.where(jnp.any(ok), ts[jnp.argmax(ok)], 0.0)
            return jnp.clip(th + t * d, lo, hi), None

        th, _ = jax.lax.scan(step, th_hat, None, length=8)
        return jnp.stack(
            [jnp.exp(th[0]), jnp.exp(th[1]), jnp.where(A_free, jax.nn.sigmoid(th[2]), 1.0)]
        )

    keys = jax.random.split(key, n_boot)
    return jax.lax.map(one, keys, batch_size=min(n_boot, 100))


@functools.partial(jax.jit, static_argnames=("n_boot", "resample"))
def _powerlaw_bootstrap(key, c, n, ks, *, n_boot, resample):
    P = c.shape[0]

    def one(key):
        draw = lambda k: jax.random.binomial(k, n, c / n).astype(c.dtype)
        v, cs = _weights_and_counts(key, c, n, draw, resample, P)
        curve, _, _ = powerlaw_fit(cs, n, v, ks)
        return jnp.stack([curve.log_a, curve.b])

    return jax.lax.map(one, jax.random.split(key, n_boot), batch_size=min(n_boot, 100))


def _gof(pop_passk, c, n):
    kmax = int(np.min(n))
    ks = np.unique(np.round(np.geomspace(1, kmax, min(kmax, 40))))
    emp = np.asarray(passk_from_counts(c, n, jnp.asarray(ks, c.dtype)))
    r = np.asarray(pop_passk(jnp.asarray(ks, c.dtype))) - emp
    return float(np.sqrt(np.mean(r**2))), float(np.max(np.abs(r)))


def fit_passk_counts(
    counts,
    samples=None,
    *,
    method: str = "auto",
    zero_mass: bool = True,
    n_boot: int = 1000,
    resample: str = "both",
    splits: int = 2,
    seed: int = 0,
):
    """Fit a task population (or the power-law baseline) to per-problem counts.

    Args:
      counts: a :class:`Counts` (e.g. from :func:`load_counts`) or correct counts c_i (then
        pass ``samples``).
      samples: samples n_i per problem (scalar or array).
      method: ``"auto"`` (default), ``"grid"``, ``"beta"`` or ``"power_law"`` (module doc).
      zero_mass: ``method="beta"``: fit A (the solvable fraction); False fixes A = 1.
      n_boot: bootstrap replicates for ``passk_interval`` (0: no intervals).
      resample: ``"both"`` (default), ``"counts"`` or ``"problems"`` (module doc).
      splits: random fit / validation splits for the held-out likelihood.
      seed: seeds the splits and the bootstrap.

    Returns a :class:`PopulationFit`: ``passk(k)``, ``passk_interval(k, level=0.9)``,
    ``family`` (the route that produced it), ``why`` (the held-out scores), ``result`` (a
    :class:`RESULTS` code from the optimality conditions), ``at_bound`` / ``identified``.

    Raises ``ValueError`` naming the row for bad counts, and when no problem has a correct
    sample (nothing identifies a population then).
    """
    from ._fit import PopulationFit, _fit_beta_counts

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if resample not in _RESAMPLE:
        raise ValueError(f"resample must be one of {_RESAMPLE}, got {resample!r}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0, got {n_boot!r}")
    if not isinstance(counts, Counts):
        c_arr = np.asarray(counts)
        if samples is None:
            raise ValueError("pass samples (the number of samples per problem) with raw counts")
        n_arr = np.broadcast_to(np.asarray(samples), c_arr.shape)
        counts = make_counts(c_arr, n_arr)
    if not np.any(counts.correct > 0):
        raise ValueError(
            f"{counts.name or 'counts'}: every count is zero (no problem has a correct sample "
            f"in {int(counts.samples.max())} samples): no population is identified; pass@k "
            "beyond the data cannot be estimated"
        )
    dtype = _dtype()
    c_np = counts.correct.astype(float)
    n_np = counts.samples.astype(float)
    c, n = jnp.asarray(c_np, dtype), jnp.asarray(n_np, dtype)
    key = jax.random.key(seed)

    if method == "power_law":
        return _power_law_route(counts, c, n, key, n_boot, resample)
    if method == "beta":
        fit = _fit_beta_counts(counts, zero_mass=zero_mass)
        return _with_beta_bootstrap(fit, c, n, key, n_boot, resample, zero_mass)

    # held-out comparison
    cf, nf = _thin(counts.correct, counts.samples, splits, seed)
    Mfull = loglik_matrix(c, n)
    Mf = jax.vmap(loglik_matrix)(jnp.asarray(cf, dtype), jnp.asarray(nf, dtype))
    lams = jnp.asarray(LAMBDAS, dtype)
    grid_scores = np.asarray(_grid_heldout(Mf, Mfull, lams)).mean(0)
    scores = {f"grid(lam={lam:g})": float(s) for lam, s in zip(LAMBDAS, grid_scores)}
    if method == "auto":
        from ._fit import betabinom_zero_loglik

        for zm in (True, False):
            tot = []
            for r in range(splits):
                if not np.any(cf[r] > 0):
                    tot.append(-np.inf)
                    continue
                bf = _fit_beta_counts(make_counts(cf[r], nf[r]), zero_mass=zm)
                ll_full = betabinom_zero_loglik(bf.population, c, n)
                ll_fit = betabinom_zero_loglik(
                    bf.population, jnp.asarray(cf[r], dtype), jnp.asarray(nf[r], dtype)
                )
                tot.append(float(jnp.sum(ll_full - ll_fit)))
            scores["beta + zero mass" if zm else "beta"] = float(np.mean(tot))
    best = max(scores, key=scores.get)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    why = (
        f"highest held-out log-likelihood ({splits} random half splits of each problem's "
        "samples): " + ", ".join(f"{k} {v - ranked[0][1]:+.2f}" for k, v in ranked)
    )
    if best.startswith("beta"):
        zm = best == "beta + zero mass"
        fit = _fit_beta_counts(counts, zero_mass=zm)
        fit = _with_beta_bootstrap(fit, c, n, key, n_boot, resample, zm)
        return _replace(fit, family=best, why=why, scores=scores)

    lam_best = LAMBDAS[int(np.argmax(grid_scores))]
    th, val, g, H = grid_fit(Mfull, jnp.ones_like(c), lam_best)
    res, _, _, dec = kkt_result(val, g, H, th, -np.inf, np.inf, atol=1e-6)
    pop = grid_population(jnp.asarray(th, dtype))
    replicates, note = None, "n_boot = 0: no bootstrap replicates were drawn"
    if n_boot:
        gl = jnp.asarray(grid_scores - grid_scores.max(), dtype)
        w = _grid_bootstrap(
            key, jnp.asarray(th, dtype), c, n, lams, gl, n_boot=int(n_boot), resample=resample
        )
        psi = jnp.broadcast_to(pop.psi, w.shape)
        replicates = DiscretePopulation(psi, w)
        note = ""
    loglik = float(jnp.sum(grid_loglik(jnp.asarray(th, dtype), Mfull)))
    rmse, mae = _gof(lambda k: passk(pop, k), c, n)
    kmax = int(np.max(counts.samples))
    return PopulationFit(
        population=pop,
        stderr={},
        cov=np.zeros((0, 0)),
        names=(),
        rmse=rmse,
        max_abs_error=mae,
        n_obs=int(c.size),
        loglik=loglik,
        aic=None,
        success=res is RESULTS.successful,
        message=f"{res.value} (Newton decrement {dec:.2g})",
        result=res,
        family=f"grid(lam={lam_best:g})",
        why=why,
        identified=True,
        replicates=replicates,
        interval_note=note,
        scores=scores,
        extrapolation_note=(
            f"beyond k ~ {kmax} samples (the most any problem has) pass@k rests on the "
            "smoothness of the fitted density in logit psi, not on data"
        ),
    )


def _replace(fit, **kw):
    import dataclasses

    return dataclasses.replace(fit, **kw)


def _with_beta_bootstrap(fit, c, n, key, n_boot, resample, zero_mass):
    if not n_boot:
        return _replace(fit, interval_note="n_boot = 0: no bootstrap replicates were drawn")
    p = fit.population
    A = float(p.solvable)
    th = jnp.asarray(
        [np.log(float(p.alpha)), np.log(float(p.beta)), np.log(A / (1 - A)) if A < 1 else 30.0],
        c.dtype,
    )
    reps = _beta_bootstrap(
        key, th, c, n, n_boot=int(n_boot), resample=resample, A_free=bool(zero_mass and A < 1)
    )
    return _replace(fit, replicates=BetaPopulation(reps[:, 0], reps[:, 1], reps[:, 2]))


def _power_law_route(counts, c, n, key, n_boot, resample):
    from ._fit import PopulationFit

    ks = jnp.asarray(powerlaw_ks(counts.samples), c.dtype)
    curve, y, ok = powerlaw_fit(c, n, jnp.ones_like(c), ks)
    n_ok = int(np.sum(np.asarray(ok)))
    if n_ok < 2:
        raise ValueError(
            f"{counts.name or 'counts'}: the power law needs pass@k strictly between 0 and 1 at "
            f"two or more k <= {int(np.min(counts.samples))}; got {n_ok}"
        )
    r = np.asarray(powerlaw_passk(curve, ks) - y)[np.asarray(ok)]
    replicates, note = None, "n_boot = 0: no bootstrap replicates were drawn"
    if n_boot:
        reps = _powerlaw_bootstrap(key, c, n, ks, n_boot=int(n_boot), resample=resample)
        replicates = PowerLawCurve(reps[:, 0], reps[:, 1])
        note = ""
    return PopulationFit(
        population=curve,
        stderr={},
        cov=np.zeros((0, 0)),
        names=("log_a", "b"),
        rmse=float(np.sqrt(np.mean(r**2))),
        max_abs_error=float(np.max(np.abs(r))),
        n_obs=int(c.size),
        result=RESULTS.successful,
        family="power_law",
        why="requested: -log pass@k = a k^-b, least squares in log-log on the unbiased curve",
        replicates=replicates,
        interval_note=note,
        extrapolation_note="the power law has no population: it sends pass@k to 1 as k grows",
    )
