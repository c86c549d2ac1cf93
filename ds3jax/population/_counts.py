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
      w(k) = 1/2 mean_i max(0, 1 - n_i / k),

  the power law's weight being half the share of the k samples that lie beyond each
  problem's data: 0 where every problem has k samples or more (there the families follow the
  data and the power law only smooths it), 1/2 far beyond.  The two forecasts err in
  different ways (the families through the assumed shape of the success rates' left tail,
  the power law through the slope of the pass@k curve at the data's edge), and an average
  is never further from the truth than the average of their errors (|a + b| / 2 <=
  (|a| + |b|) / 2), closer than both where they err in opposite directions.  The weights are
  fixed, not fitted: estimated combination weights are noisy with one data set.  Where the
  power law cannot be fitted (fewer than two k with 0 < pass@k < 1) the route is ``"auto"``
  and ``fit.why`` says so.
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
pass@k from the problems' own spread as above.  ``"ensemble"``: replicate b is the power
law's replicate b where u_b < w(k) (u_b uniform, one per replicate, so a replicate that
takes the power law at some k takes it at every larger k), else ``"auto"``'s: the law of
the mixture of the two, as in Bayesian model averaging, so the intervals span their
disagreement.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._count_models import FAMILIES, newton_fit
from ._data import Counts, make_counts
from ._families import MixturePopulation, log_moment
from ._grid import grid_fit, grid_loglik, grid_newton, grid_population, grid_psi, loglik_matrix
from ._passk import DiscretePopulation, passk_from_counts
from ._posterior import (
    GRID_AXES,
    bounded_coordinates,
    distinct_counts,
    grid_moments,
    grid_posterior,
    grid_replicates,
    problem_moments,
)
from ._powerlaw import PowerLawCurve, powerlaw_fit, powerlaw_ks, powerlaw_passk
from ._result import RESULTS, kkt_result

__all__ = ["fit_passk_counts", "CountsFit", "AUTO_FAMILIES", "METHODS", "LAMBDAS"]

AUTO_FAMILIES = ("beta", "beta+zero", "beta+one", "logit-normal")
METHODS = ("ensemble", "auto", *GRID_AXES, "beta-mixture", "grid", "mle", "power_law")
LAMBDAS = (0.1, 1.0, 10.0, 100.0)
_RESAMPLE = ("both", "problems", "counts")


def _dtype():
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def _thin(c, n, splits, seed):
    rng = np.random.default_rng(seed)
    nf = n // 2
    cf = np.stack([rng.hypergeometric(c, n - c, nf) for _ in range(splits)])
    return cf, np.broadcast_to(nf, cf.shape)


# ----------------------------------------------------------------------------- result


@dataclasses.dataclass(frozen=True)
class CountsFit:
    """A pass@k model fitted to per-problem counts (:func:`fit_passk_counts`).

    Attributes:
      method: the route asked for; ``family``: the family used (the heaviest for ``"auto"``
        and ``"ensemble"``).
      weights: family -> weight in the prediction (one entry except for ``"auto"``; for
        ``"ensemble"`` the weights far beyond the data, ``"power_law"`` 1/2; at k see
        :meth:`power_law_weight`).
      scores: family -> held-out log-likelihood (``"auto"``, ``"grid"``), else None.
      why: the choice in words.
      population: the family's fitted population (the posterior mode for grid routes, the
        maximum-likelihood estimate otherwise; a :class:`PowerLawCurve` for the baseline).
      params: parameter name -> (estimate, low, high): the posterior median and 90% credible
        interval (grid routes) or the estimate +- 1.645 standard errors (``"mle"``).
      identified: False when the data do not determine the fit (a parameter's posterior as
        wide as half its prior box or piled on an artificial edge of it, or a parameter on an
        optimiser bound): its numbers then follow the box, not the data.
      result, message: a :class:`RESULTS` code and its explanation.
      n_obs: number of problems; ``rmse``, ``max_abs_error``: fitted pass@k against the
        unbiased estimate at 6 log-spaced k <= min n_i; ``loglik``: maximised or posterior-mode
        log-likelihood (None for the power law).
      interval_note: why intervals are unavailable, when they are.
      extrapolation_note: where the predictions stop resting on data.
      stderr, at_bound: ``"mle"`` only: standard errors and the parameters on a bound.
    """

    method: str
    family: str
    weights: dict
    scores: dict | None
    why: str
    population: object
    params: dict
    identified: bool
    result: RESULTS
    message: str
    n_obs: int
    rmse: float
    max_abs_error: float
    loglik: float | None
    interval_note: str
    extrapolation_note: str
    stderr: dict = dataclasses.field(default_factory=dict)
    at_bound: tuple = ()
    _route: object = dataclasses.field(repr=False, compare=False, default=None)

    # -- compatibility with the curve fits' PopulationFit
    @property
    def success(self) -> bool:
        return self.result is RESULTS.successful

    @property
    def replicates(self):
        """Truthy when intervals are available."""
        return None if self.interval_note else True

    def passk(self, k):
        """Predicted pass@k of the fitted problems after k samples each (numpy, shape of k)."""
        k = np.asarray(k, float)
        return np.asarray(self._route.mean(k.ravel())).reshape(k.shape)

    def population_passk(self, k):
        """pass@k of a new problem drawn from the fitted population (shape of k); for
        ``"ensemble"`` combined with the power law by w(k), as ``passk`` is."""
        k = np.asarray(k, float)
        return np.asarray(self._route.population_mean(k.ravel())).reshape(k.shape)

    def power_law_weight(self, k):
        """The power law's weight in ``passk(k)``: w(k) for ``"ensemble"`` (module doc), 1 for
        ``"power_law"``, 0 for the other routes (numpy, shape of k)."""
        k = np.asarray(k, float)
        if isinstance(self._route, _EnsembleRoute):
            return self._route.share(k).reshape(k.shape)
        return np.full(k.shape, 1.0 if self.method == "power_law" else 0.0)

    def passk_replicates(self, k):
        """Replicate draws of pass@k: shape [n_boot, *shape(k)]."""
        if self.interval_note:
            raise ValueError(f"this fit has no bootstrap replicates: {self.interval_note}")
        k = np.asarray(k, float)
        d = np.asarray(self._route.draws(k.ravel()))
        return d.reshape((d.shape[0],) + k.shape)

    def passk_interval(self, k, level: float = 0.9):
        """Equal-tailed interval ``(low, high)`` for pass@k at ``k`` (numpy, shape of k)."""
        if not 0.0 < float(level) < 1.0:
            raise ValueError(f"level must lie in (0, 1), got {level!r}")
        reps = self.passk_replicates(k)
        flat = reps.reshape(reps.shape[0], -1)
        reps = reps[np.all(np.isfinite(flat), axis=1)]
        if reps.shape[0] < 20:
            raise ValueError("fewer than 20 replicates are finite: no interval")
        q = (1.0 - float(level)) / 2.0
        return np.quantile(reps, q, axis=0), np.quantile(reps, 1.0 - q, axis=0)


# ----------------------------------------------------------------------------- routes


class _GridRoute:
    """Posterior-weighted families on their grids (see the module doc)."""

    def __init__(self, posts, weights, key, n_boot, resample):
        self.posts, self.weights = posts, weights
        names = list(posts)
        w = np.array([weights[nm] for nm in names])
        self.n_boot = n_boot
        if n_boot:
            kf, kz, kb = jax.random.split(key, 3)
            self.fam = np.asarray(
                jax.random.choice(kf, len(names), (n_boot,), p=jnp.asarray(w / w.sum()))
            )
            self.z = np.asarray(jax.random.normal(kz, (n_boot,)))
            self.idx = {}
            for j, nm in enumerate(names):
                p = posts[nm]
                idx = grid_replicates(
                    jax.random.fold_in(kb, j),
                    p.loglik,
                    p.logw,
                    p.logq,
                    n_boot=n_boot,
                    resample=resample,
                )
                self.idx[nm] = np.asarray(idx)
        self.names = names

    def _support_moments(self, nm, k, extra=None, variance=True):
        p = self.posts[nm]
        w = np.exp(np.asarray(p.logw))
        used = w > 1e-7 * w.max()
        if extra is not None:
            used[extra] = True
        sel = np.nonzero(used)[0]
        # pad to a power of two so that few shapes (and compilations) occur
        size = max(64, 1 << int(np.ceil(np.log2(sel.size))))
        pad = np.concatenate([sel, np.full(size - sel.size, sel[0])])
        dt = p.correct.dtype
        kk = jnp.asarray(k, dt)
        cu, nu, mult, _ = distinct_counts(p.correct, p.samples)
        m, v = grid_moments(
            nm,
            p.thetas[pad],
            *(jnp.asarray(a, dt) for a in (cu, nu)),
            kk,
            jnp.asarray(mult, dt),
            variance=variance,
        )
        M = np.zeros((w.size, k.size))
        V = np.zeros((w.size, k.size))
        M[sel], V[sel] = np.asarray(m)[: sel.size], np.asarray(v)[: sel.size]
        return w, M, V

    def mean(self, k):
        out = np.zeros(k.size)
        for nm in self.names:
            w, M, _ = self._support_moments(nm, k, variance=False)
            out += self.weights[nm] * (w @ M)
        return out

    def population_mean(self, k):
        out = np.zeros(k.size)
        for nm in self.names:
            p = self.posts[nm]
            w = np.exp(np.asarray(p.logw))
            lf = _pop_log_failure(nm, p.thetas, jnp.asarray(k, p.correct.dtype))
            out += self.weights[nm] * (w @ -np.expm1(np.minimum(np.asarray(lf), 0.0)))
        return out

    def draws(self, k):
        out = np.zeros((self.n_boot, k.size))
        for j, nm in enumerate(self.names):
            rows = np.nonzero(self.fam == j)[0]
            if rows.size == 0:
                continue
            idx = self.idx[nm][rows]
            _, M, V = self._support_moments(nm, k, extra=np.unique(idx))
            out[rows] = M[idx] + np.sqrt(V[idx]) * self.z[rows, None]
        return np.clip(out, 0.0, 1.0)


@functools.partial(jax.jit, static_argnames=("name",))
def _pop_log_failure(name, thetas, k):
    fam = FAMILIES[name]
    return jax.vmap(lambda th: log_moment(fam.build(th), 0.0, k))(thetas)


@functools.partial(jax.jit, static_argnames=("name",))
def _family_loglik(name, theta, c, n):
    return jnp.sum(log_moment(FAMILIES[name].build(theta), c, n - c))


@jax.jit
def _same_problem(pop, c, n, k):
    """m(k), s(k)^2 of one population for the problems at hand (fields made to broadcast
    against [K, P] by :func:`_expand`)."""
    return problem_moments(pop, c, n, k, jnp.ones_like(c))


def _expand(pop):
    """Give a population's scalar fields two trailing axes so they broadcast against the
    [K, P] grid of (k, problem); a mixture's weights and a discrete population's nodes keep
    their last axis, which the moment sums over."""
    if isinstance(pop, MixturePopulation):
        return MixturePopulation(tuple(_expand(p) for p in pop.components), pop.weights)
    if isinstance(pop, DiscretePopulation):
        return pop
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x)[..., None, None], pop)


class _PointRoute:
    """One fitted population (maximum likelihood) and bootstrap replicate populations."""

    def __init__(self, pop, reps, c, n, key):
        self.pop, self.reps, self.c, self.n = pop, reps, c, n
        self.n_boot = 0 if reps is None else jax.tree_util.tree_leaves(reps)[0].shape[0]
        if self.n_boot:
            self.z = np.asarray(jax.random.normal(key, (self.n_boot,)))

    def _mv(self, pop, k):
        kk = jnp.asarray(k, self.c.dtype)
        return _same_problem(_expand(pop), self.c, self.n, kk)

    def mean(self, k):
        return np.asarray(self._mv(self.pop, k)[0])

    def population_mean(self, k):
        from ._passk import passk

        return np.asarray(passk(self.pop, jnp.asarray(k, self.c.dtype)))

    def draws(self, k):
        m, v = jax.vmap(lambda p: self._mv(p, k))(self.reps)
        return np.clip(np.asarray(m) + np.sqrt(np.asarray(v)) * self.z[:, None], 0.0, 1.0)


class _PowerLawRoute:
    def __init__(self, curve, reps):
        self.curve, self.reps = curve, reps
        self.n_boot = 0 if reps is None else reps.b.shape[0]

    def mean(self, k):
        return np.asarray(powerlaw_passk(self.curve, jnp.asarray(k)))

    population_mean = mean

    def draws(self, k):
        return np.asarray(powerlaw_passk(self.reps, jnp.asarray(k)[None, :]))


class _EnsembleRoute:
    """The population route and the power law combined (module doc): pass@k is
    (1 - w(k)) pop(k) + w(k) law(k) with w(k) = 1/2 mean_i max(0, 1 - n_i / k); replicate b
    is the law's replicate b where u_b < w(k), u_b ~ U(0, 1), else the population's (the law
    of the mixture, as in Bayesian model averaging), so its intervals span their
    disagreement."""

    def __init__(self, pop, law, n, key, n_boot):
        self.pop, self.law, self.n, self.n_boot = pop, law, np.asarray(n, float), n_boot
        if n_boot:
            self.u = np.asarray(jax.random.uniform(key, (n_boot,)))

    def share(self, k):
        """The power law's weight w(k) (numpy, shape of k)."""
        k = np.asarray(k, float)
        return 0.5 * np.mean(np.maximum(0.0, 1.0 - self.n[:, None] / k.ravel()[None, :]), 0)

    def mean(self, k):
        w = self.share(k)
        return (1.0 - w) * np.asarray(self.pop.mean(k)) + w * np.asarray(self.law.mean(k))

    def population_mean(self, k):
        w = self.share(k)
        return (1.0 - w) * np.asarray(self.pop.population_mean(k)) + w * np.asarray(
            self.law.population_mean(k)
        )

    def draws(self, k):
        use_law = self.u[:, None] < self.share(k)[None, :]
        pop = np.asarray(self.pop.draws(k))
        if not use_law.any():
            return pop
        return np.where(use_law, np.asarray(self.law.draws(k)), pop)


# ----------------------------------------------------------------------------- helpers


def _gof(route, c, n):
    kmax = int(np.min(n))
    ks = np.unique(np.round(np.geomspace(1, kmax, min(kmax, 6))))
    emp = np.asarray(passk_from_counts(c, n, jnp.asarray(ks, c.dtype)))
    r = route.mean(ks) - emp
    return float(np.sqrt(np.mean(r**2))), float(np.max(np.abs(r)))


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


def _resampled(key, c, n, resample):
    """One bootstrap data set: problem weights (multiplicities of P draws with replacement,
    or ones) and counts (redrawn as Binom(n_i, c_i / n_i), or the data's)."""
    P = c.shape[0]
    k1, k2 = jax.random.split(key)
    if resample in ("problems", "both"):
        idx = jax.random.randint(k1, (P,), 0, P)
        v = jnp.zeros(P, c.dtype).at[idx].add(1.0)
    else:
        v = jnp.ones(P, c.dtype)
    if resample in ("counts", "both"):
        return v, jax.random.binomial(k2, n, c / n).astype(c.dtype)
    return v, c


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
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0, got {n_boot!r}")
    if 0 < n_boot < 20:
        raise ValueError(f"n_boot must be 0 (no intervals) or at least 20, got {n_boot}")
    if not isinstance(splits, (int, np.integer)) or splits < 1:
        raise ValueError(f"splits must be an integer >= 1, got {splits!r}")
    fams = tuple(AUTO_FAMILIES if families is None else families)
    bad = [f for f in fams if f not in GRID_AXES]
    if bad or not fams:
        raise ValueError(f"families must be a non-empty subset of {tuple(GRID_AXES)}, got {fams}")
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
            f"{counts.correct.size} problems, {int((counts.correct > 0).sum())} with a correct "
            "sample; predictions beyond the data follow the prior box and carry wide intervals"
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
    route = _EnsembleRoute(
        pop._route, law._route, counts.samples, jax.random.fold_in(key, 11), n_boot
    )
    weights = {nm: 0.5 * w for nm, w in pop.weights.items()}
    weights["power_law"] = 0.5
    why = (
        "the population families' forecast and the power law's, averaged: the power law's "
        "weight is half the share of the k samples that lie beyond each problem's data (0 "
        "within the data, 1/2 far beyond); the two err in different ways (the families through "
        "the shape of their left tail, the power law through its slope at the data's edge). "
        f"Population part: {pop.why}"
    )
    note = (
        f"{pop.extrapolation_note}; up to half the forecast is the power law, which sends "
        "pass@k to 1 as k grows"
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


def _log_choose_sum(c, n):
    from ._families import log_choose

    return float(jnp.sum(log_choose(n, c)))


# ----------------------------------------------------------------------------- ML routes


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
    from ._fit import _fit_beta_counts

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
    res, _, _, dec = kkt_result(val, g, H, th, -np.inf, np.inf, atol=1e-6)
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
        identified=True,
        result=res,
        message=f"{res.value} (Newton decrement {dec:.2g})",
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
