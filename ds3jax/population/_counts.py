"""``fit_passk_counts``: pass@k far beyond the data from per-problem counts, with intervals.

Data: problem i has c_i correct of n_i samples (n_i may differ by problem, from 1 to ~1e9).
The target is the benchmark's pass@k after k samples per problem,

    pass@k = (1/P) sum_i [1 - (1 - psi_i)^k],

for the problems at hand (what the unbiased estimate from many more samples measures).  Each
route models the problems' success rates psi_i as draws from a task population (Sec. III-D)
and predicts with the posterior of every psi_i given its own counts (:mod:`._posterior`), so a
problem seen solved counts as solvable and an unseen one borrows the population's left tail.

Routes (``method``):

* ``"ensemble"`` (default): the ``"auto"`` forecast and the power law's, combined:

      pass@k = (1 - w(k)) auto(k) + w(k) power_law(k),
      w(k) = lean * mean_i max(0, 1 - n_i / k),
      lean = 1/2 + 1/2 clip((s - 0.1) / 0.2, 0, 1) clip(log10(1000 / m), 0, 1),

  s the share of problems with a correct sample, m the median n_i: the power law's weight is
  ``lean`` times the share of the k samples that lie beyond each problem's data, 0 where
  every problem has k samples or more (there the families follow the data and the power law
  only smooths it).  The two forecasts err in different ways (the families through the
  assumed shape of the success rates' left tail, the power law through the slope of the
  pass@k curve at the data's edge).  With few problems solved (s <= 0.1) they err in
  opposite directions and the even average (lean 1/2) is better than either
  (|a + b| / 2 <= (|a| + |b|) / 2); from s ~ 0.3 on, with 100 samples per problem, the power
  law beat the families' average on the populations read off measured curves at every s
  and on the synthetic ones up to s = 0.5 (above, those favoured the families by < 0.01),
  and the point forecast follows it (lean 1); with 1,000 samples the families gained it
  back and the lean is 1/2 again.  The lean is a fixed rule, not a fitted weight (weights
  estimated from one data set are noisy); its thresholds were chosen on the benchmarks in
  the README at m = 100 and 1,000 (between, it interpolates in log m; checked afterwards at
  m = 50 and 300; ``benchmarks/PASSK.md``).  Where the power law cannot be fitted (fewer
  than two k with 0 < pass@k < 1) the route is ``"auto"`` and ``fit.why`` says so.
* ``"auto"``: the families in ``AUTO_FAMILIES`` (Beta, Beta + zero mass, Beta +
  mass at 1, logit-normal), each with its exact grid posterior, averaged with weights from
  their held-out likelihood (below).  ``fit.family`` names the heaviest, ``fit.why`` gives
  every family's score and weight.
* a family of :data:`GRID_AXES` (``"beta"``, ``"beta+zero"``, ``"beta+one"``,
  ``"logit-normal"``, ``"logit-normal+zero"``): that family's grid posterior alone.
* ``"beta-mixture"``: two Beta components, maximum likelihood (multi-start Newton).
* ``"grid"``: the smooth nonparametric mixing distribution on a grid of logit psi
  (:mod:`._grid`), penalised maximum likelihood, penalty chosen by held-out likelihood.
* ``"mle"``: the beta-binomial (+ zero mass unless ``zero_mass=False``) by maximum likelihood
  with standard errors from the observed information (Eq. 58).
* ``"power_law"``: the baseline -log pass@k = a k^-b fitted to the unbiased pass@k curve at
  k <= min n_i and extrapolated (:mod:`._powerlaw`); it has no population.

Held-out likelihood by thinning: each problem's n_i samples are split at random
(hypergeometric) into a fit part of floor(n_i / 2) samples and a validation part.  A family's
score is its predictive log-likelihood of the validation parts given the fit parts,

    log p(validation | fit part) = log Z(all samples) - log Z(fit parts)     (+ const),

Z the family's marginal likelihood on its grid (the constant is the same for every family),
averaged over ``splits`` random splits.  Weights are exp(score) / sum exp(score).

Intervals (``passk_interval(k, level)``): percentiles of ``n_boot`` replicates.  Grid routes:
replicate b picks a family by weight, resamples the problems and draws that family's
parameters from the posterior given the resampled problems (BayesBag), then draws pass@k from
the spread of the problems' own success rates.  Maximum-likelihood routes and the power law
refit each replicate, vmapped: the problems resampled (``resample="problems"``), each count
redrawn as Binom(n_i, c_i / n_i) (``"counts"``), or both; the population routes then draw
pass@k from the problems' own spread as above. ``"ensemble"``: replicate b is the power
law's replicate b where u_b < v(k) = 1/2 mean_i max(0, 1 - n_i / k) (u_b uniform, one per
replicate, so a replicate that takes the power law at some k takes it at every larger k; on
a resample the power law cannot fit, ``"auto"``'s, as the route does on such data), else
``"auto"``'s: the law of the even mixture of the two, as in Bayesian model averaging, so the
intervals span their disagreement whatever the lean (the data cannot say which extrapolates
right, and the power law's own intervals are too narrow); as that law can shift down with k,
its bounds are made monotone in k (``CountsFit.passk_interval``).

Layout: this module holds the entry point and the grid-posterior routes; the result type and
shared helpers live in :mod:`._counts_fit`, the routes' predictions (pass@k, replicate draws)
in :mod:`._counts_routes`, the maximum-likelihood routes and the power law in
:mod:`._counts_ml`.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_n_boot
from .._text import counted
from ._count_models import FAMILIES
from ._counts_fit import CountsFit, _dtype, _gof, _log_choose_sum, _thin
from ._counts_ml import LAMBDAS, _mixture_route, _mle_route, _nonparametric_route, _power_law_route
from ._counts_routes import (
    _LEAN_FROM,
    _LEAN_FULL_N,
    _LEAN_NONE_N,
    _LEAN_TO,
    _EnsembleRoute,
    _GridRoute,
    ensemble_lean,
    lean_inputs,
)
from ._data import as_counts
from ._families import log_moment
from ._posterior import GRID_AXES, bounded_coordinates, grid_posterior
from ._result import RESULTS

__all__ = ["fit_passk_counts", "CountsFit", "AUTO_FAMILIES", "METHODS", "LAMBDAS"]

AUTO_FAMILIES = ("beta", "beta+zero", "beta+one", "logit-normal")
METHODS = ("ensemble", "auto", *GRID_AXES, "beta-mixture", "grid", "mle", "power_law")
_RESAMPLE = ("both", "problems", "counts")


# ----------------------------------------------------------------------------- helpers


@functools.partial(jax.jit, static_argnames=("name",))
def _family_loglik(name, theta, c, n):
    return jnp.sum(log_moment(FAMILIES[name].build(theta), c, n - c))


def _grid_summary(post):
    """Posterior median and 90% interval per parameter (natural units), and the coordinates
    the data do not determine: their 90% credible interval spans more than half the prior
    box, or more than 10% of their mass lies within 5% of an edge of it (the box, not the data,
    decides them).  A mass's edges (0, 1) are real values, not artificial limits."""
    fam = FAMILIES[post.name]
    w = np.exp(np.asarray(post.logw))
    th = np.asarray(post.thetas)
    nat = np.stack([fam.natural(t) for t in th])
    params, edge = {}, []
    for j, nm in enumerate(fam.names):
        params[nm] = tuple(float(_wquantile(nat[:, j], w, p)) for p in (0.5, 0.05, 0.95))
    for ax, x, lo, hi in bounded_coordinates(post.name, th):
        span = _wquantile(x, w, 0.95) - _wquantile(x, w, 0.05)
        if span > 0.5 * (hi - lo):
            edge.append(f"{ax} (posterior as wide as half the prior box)")
            continue
        for side, near in (
            ("lower", x < lo + 0.05 * (hi - lo)),
            ("upper", x > hi - 0.05 * (hi - lo)),
        ):
            if w[near].sum() > 0.1:
                edge.append(f"{ax} (posterior piled on the prior box's {side} edge)")
    return params, edge


def _wquantile(x, w, q):
    o = np.argsort(x)
    cw = np.cumsum(w[o])
    return x[o][min(np.searchsorted(cw, q * cw[-1]), len(cw) - 1)]


# ----------------------------------------------------------------------------- entry point


def fit_passk_counts(
    counts,
    samples=None,
    *,
    method: str = "ensemble",
    families=None,
    zero_mass: bool = True,
    n_boot: int = 1000,
    resample: str = "problems",
    splits: int = 2,
    seed: int = 0,
) -> CountsFit:
    """Fit pass@k to per-problem counts and predict it at any k, with intervals.

    Args:
      counts: a :class:`Counts` (e.g. from :func:`load_counts`) or correct counts c_i (then
        pass ``samples``).
      samples: samples n_i per problem (scalar or array).
      method: ``"ensemble"`` (default) or one route of ``METHODS`` (module doc).
      families: ``"ensemble"``, ``"auto"``: the candidate families (default
        ``AUTO_FAMILIES``).
      zero_mass: ``method="mle"``: fit the zero mass 1 - A (False fixes A = 1).
      n_boot: replicates for ``passk_interval`` (0: no intervals).
      resample: what the replicates resample: ``"problems"`` (default), ``"counts"``
        (maximum-likelihood routes and the power law: each problem's count redrawn) or
        ``"both"``.  Grid routes take ``"counts"`` as no problem resampling (the posterior
        already carries the counts' noise).
      splits: random half splits of each problem's samples for the held-out likelihood.
      seed: seeds the splits and the replicates.

    Returns a :class:`CountsFit`: ``passk(k)`` (the fitted problems' pass@k after k samples
    each), ``passk_interval(k, level=0.9)``, ``population_passk(k)``, ``family``, ``why``.

    Raises ``ValueError`` naming the row for bad counts, and when no problem has a correct
    sample (nothing identifies a population then).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if resample not in _RESAMPLE:
        raise ValueError(f"resample must be one of {_RESAMPLE}, got {resample!r}")
    n_boot = check_n_boot(n_boot)
    if not isinstance(splits, (int, np.integer)) or splits < 1:
        raise ValueError(f"splits must be an integer >= 1, got {splits!r}")
    fams = tuple(AUTO_FAMILIES if families is None else families)
    bad = [f for f in fams if f not in GRID_AXES]
    if bad or not fams:
        raise ValueError(f"families must be a non-empty subset of {tuple(GRID_AXES)}, got {fams}")
    counts = as_counts(counts, samples)
    if not np.any(counts.correct > 0):
        raise ValueError(
            f"{counts.name or 'counts'}: every count is zero (no problem has a correct sample "
            f"in {int(counts.samples.max())} samples): no population is identified; pass@k "
            "beyond the data cannot be estimated"
        )
    dtype = _dtype()
    c = jnp.asarray(counts.correct.astype(float), dtype)
    n = jnp.asarray(counts.samples.astype(float), dtype)
    key = jax.random.key(seed)
    common = dict(counts=counts, c=c, n=n, key=key, n_boot=int(n_boot), resample=resample)

    if method == "power_law":
        return _power_law_route(**common)
    if method == "mle":
        return _mle_route(zero_mass=zero_mass, **common)
    if method == "beta-mixture":
        return _mixture_route(**common)
    if method == "grid":
        return _nonparametric_route(splits=splits, seed=seed, **common)

    if method == "ensemble":
        return _ensemble_route(fams, splits=splits, seed=seed, **common)
    names = fams if method == "auto" else (method,)
    return _families_route(method, names, splits=splits, seed=seed, **common)


def _families_route(method, names, counts, c, n, key, n_boot, resample, splits, seed):
    """The grid-posterior routes: one family, or ``names`` averaged by held-out score."""
    dtype = c.dtype
    kmax = int(np.max(counts.samples))
    posts = {nm: grid_posterior(nm, c, n, key=jax.random.fold_in(key, 7)) for nm in names}
    if len(names) > 1:
        cf, nf = _thin(counts.correct, counts.samples, splits, seed)
        scores = {}
        for nm in names:
            thinned = [
                float(
                    grid_posterior(
                        nm, jnp.asarray(cf[s], dtype), jnp.asarray(nf[s], dtype)
                    ).log_evidence
                )
                for s in range(splits)
            ]
            scores[nm] = float(posts[nm].log_evidence) - float(np.mean(thinned))
        top = max(scores.values())
        raw = {nm: np.exp(s - top) for nm, s in scores.items()}
        tot = sum(raw.values())
        weights = {nm: float(v / tot) for nm, v in raw.items()}
        family = max(weights, key=weights.get)
        ranked = sorted(scores, key=lambda nm: -scores[nm])
        why = (
            f"families averaged with weights from their held-out log-likelihood ({splits} random "
            "half splits of each problem's samples): "
            + ", ".join(f"{nm} {scores[nm] - top:+.2f} (weight {weights[nm]:.2f})" for nm in ranked)
        )
    else:
        scores, weights, family = None, {method: 1.0}, method
        why = f"requested (method={method!r}): the family's exact posterior on its grid"
    route = _GridRoute(posts, weights, key, int(n_boot), resample in ("problems", "both"))
    post = posts[family]
    params, edge = _grid_summary(post)
    identified = not edge
    best = int(np.argmax(np.asarray(post.logw)))
    theta = post.thetas[best]
    pop = FAMILIES[family].build(theta)
    loglik = float(_family_loglik(family, theta, c, n) + _log_choose_sum(c, n))
    rmse, mae = _gof(route, c, n)
    res = RESULTS.successful if identified else RESULTS.not_identified
    message = (
        res.value
        if identified
        else (
            f"the data do not determine {', '.join(edge)} of the {family} family: "
            f"{counted(counts.correct.size, 'problem')}, "
            f"{int((counts.correct > 0).sum())} with a correct sample; predictions beyond "
            "the data follow the prior box and carry wide intervals"
        )
    )
    return CountsFit(
        method=method,
        family=family,
        weights=weights,
        scores=scores,
        why=why,
        population=pop,
        params=params,
        identified=identified,
        result=res,
        message=message,
        n_obs=int(c.size),
        rmse=rmse,
        max_abs_error=mae,
        loglik=loglik,
        interval_note="" if n_boot else "n_boot = 0: no replicates were drawn",
        extrapolation_note=(
            f"beyond k ~ {kmax} samples per problem, pass@k rests on the shape of the "
            "population's left tail (success rates below 1 / n), not on data"
        ),
        _route=route,
    )


def _ensemble_route(fams, counts, c, n, key, n_boot, resample, splits, seed):
    """The default: the population families' forecast (``"auto"``) combined with the power
    law's (:class:`_EnsembleRoute`)."""
    common = dict(counts=counts, c=c, n=n, key=key, n_boot=n_boot, resample=resample)
    pop = _families_route("auto", fams, splits=splits, seed=seed, **common)
    try:
        law = _power_law_route(**common)
    except ValueError as err:
        return dataclasses.replace(
            pop, method="ensemble", why=f"{pop.why}; the power law is left out: {err}"
        )
    solved, median_n = lean_inputs(counts.correct, counts.samples)
    lean = ensemble_lean(solved, median_n)
    route = _EnsembleRoute(
        pop._route, law._route, counts.samples, jax.random.fold_in(key, 11), n_boot, lean
    )
    weights = {nm: (1.0 - lean) * w for nm, w in pop.weights.items()}
    weights["power_law"] = lean
    why = (
        "the population families' forecast and the power law's, averaged: the power law's "
        f"weight is {lean:.2f} times the share of the k samples that lie beyond each "
        f"problem's data (0 within the data, {lean:.2f} far beyond), as {solved:.0%} of the "
        f"problems have a correct sample in a median {median_n:g} samples (1/2 where at most "
        f"{_LEAN_FROM:.0%} do or from {_LEAN_NONE_N:,.0f} samples on; 1 where {_LEAN_TO:.0%} "
        f"do in up to {_LEAN_FULL_N:.0f} samples: the power "
        "law's slope under-predicts when few problems are solved, and was the better on "
        "measured curves when many are solved in few samples); the intervals are "
        "the even mixture's. The two err in different ways (the families through the "
        "shape of their left tail, the power law through its slope at the data's edge). "
        f"Population part: {pop.why}"
    )
    note = (
        f"{pop.extrapolation_note}; up to {lean:.0%} of the forecast is the power law, which "
        "sends pass@k to 1 as k grows"
    )
    # rmse and max_abs_error stay the families' own: they are taken at k <= min n_i, where
    # w(k) = 0, so recomputing them on the combined route would give the same numbers
    return dataclasses.replace(
        pop,
        method="ensemble",
        weights=weights,
        why=why,
        extrapolation_note=note,
        _route=route,
    )
