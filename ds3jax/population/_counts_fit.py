"""The result of :func:`fit_passk_counts` and the helpers its routes share."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_level
from ._data import thin_counts
from ._families import log_choose
from ._passk import passk_from_counts
from ._posterior import padded_size
from ._result import RESULTS

__all__ = ["CountsFit"]


def _dtype():
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def _as_k(k):
    k = np.asarray(k, float)
    bad = np.isnan(k) | (k < 0)
    if bad.any():
        raise ValueError(f"k must be >= 0 (inf allowed), got {k[bad].ravel()[0]!r}")
    return k


def _on_route(f, k):
    """``f`` (a route's method of a flat k array, k on the last axis of its result) at
    ``k.ravel()``, the k padded with its last value to a power of two (at least 8): the
    routes compile per length of k, so asking for a new set of k reuses a compilation
    instead of paying seconds for one."""
    flat = k.ravel()
    size = padded_size(flat.size, 8)
    padded = np.concatenate([flat, np.full(size - flat.size, flat[-1] if flat.size else 1.0)])
    out = f(padded)
    if isinstance(out, dict):
        return {name: np.asarray(v)[..., : flat.size] for name, v in out.items()}
    return np.asarray(out)[..., : flat.size]


def _thin(c, n, splits, seed):
    rng = np.random.default_rng(seed)
    nf = n // 2
    cf = np.stack([thin_counts(c, n, nf, rng) for _ in range(splits)])
    return cf, np.broadcast_to(nf, cf.shape)


@dataclasses.dataclass(frozen=True)
class CountsFit:
    """A pass@k model fitted to per-problem counts (:func:`fit_passk_counts`).

    Attributes:
      method: the route asked for; ``family``: the family used (the heaviest for ``"auto"``
        and ``"ensemble"``).
      weights: family -> weight in the prediction (one entry except for ``"auto"``; for
        ``"ensemble"`` the weights far beyond the data, ``"power_law"`` its lean, 1/2 to 1;
        at k see :meth:`power_law_weight`).
      scores: family -> held-out log-likelihood (``"auto"``, ``"grid"``), else None.
      why: the choice in words.
      population: the family's fitted population (the posterior mode for grid routes, the
        maximum-likelihood estimate otherwise; a :class:`PowerLawCurve` for the baseline).
      params: parameter name -> (estimate, low, high): the posterior median and 90% credible
        interval (grid routes), or for ``"mle"`` the estimate +- 1.645 standard errors on
        the log scale (alpha, beta) and the logit scale (solvable), mapped back.
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
        k = _as_k(k)
        return _on_route(self._route.mean, k).reshape(k.shape)

    def population_passk(self, k):
        """pass@k of a new problem drawn from the fitted population (shape of k); for
        ``"ensemble"`` combined with the power law by w(k), as ``passk`` is."""
        k = _as_k(k)
        return _on_route(self._route.population_mean, k).reshape(k.shape)

    def passk_components(self, k) -> dict:
        """What each averaged part forecasts for the fitted problems: {name: pass@k} (numpy,
        shape of k).

        ``"auto"``: every family's own posterior forecast; ``passk(k)`` is their average
        with ``weights``.  ``"ensemble"``: the same and ``"power_law"``; ``passk(k)`` is
        (1 - w) sum_f a_f family_f + w power_law, with w = ``power_law_weight(k)`` and a_f
        = ``family_weights[f]``.  Other routes: one entry,
        the route's own forecast.  Far beyond the data the parts can disagree by more than
        any one interval is wide: the forecast then rests on the weights."""
        k = _as_k(k)
        parts = getattr(self._route, "components", None)
        if parts is None:
            return {self.family: self.passk(k)}
        return {name: v.reshape(k.shape) for name, v in _on_route(parts, k).items()}

    @property
    def family_weights(self) -> dict:
        """The families' own weights in their average, from the held-out likelihood (softmax
        of ``scores``): for ``"auto"`` the same as ``weights``; for ``"ensemble"`` before the
        power law's share is taken out (``weights`` scales them by 1 - lean); one family:
        {family: 1}."""
        return dict(getattr(self._route, "family_weights", None) or {self.family: 1.0})

    def power_law_weight(self, k):
        """The power law's weight in ``passk(k)``: w(k) for ``"ensemble"`` (module doc), 1 for
        ``"power_law"``, 0 for the other routes (numpy, shape of k)."""
        k = _as_k(k)
        share = getattr(self._route, "share", None)  # the ensemble's w(k)
        if share is not None:
            return share(k).reshape(k.shape)
        return np.full(k.shape, 1.0 if self.method == "power_law" else 0.0)

    def passk_replicates(self, k):
        """Replicate draws of pass@k: shape [n_boot, *shape(k)]."""
        if self.interval_note:
            raise ValueError(f"this fit has no bootstrap replicates: {self.interval_note}")
        k = _as_k(k)
        d = _on_route(self._route.draws, k)
        return d.reshape((d.shape[0],) + k.shape)

    def passk_interval(self, k, level: float = 0.9):
        """Equal-tailed interval ``(low, high)`` for pass@k at ``k`` (numpy, shape of k).

        Each k's quantiles are taken over the replicates finite at that k. For
        ``"ensemble"``, whose replicates switch from the families to the power law as w(k)
        grows (so the law of its replicates can shift down with k), the bounds are made
        monotone in k, as pass@k is: low(k) is the largest lower quantile at any k' <= k,
        high(k) the smallest upper quantile at any k' >= k, k' running over the k asked for
        and a fixed grid where w moves (4 per decade). A bound at k' <= k is a bound at k for
        a quantity that cannot fall with k, so this only tightens them; asking for more k
        at once can tighten them further, never loosen them."""
        level = check_level(level)
        k = _as_k(k)
        envelope = getattr(self._route, "envelope_k", None)
        grid = np.union1d(k.ravel(), envelope() if envelope else [])
        reps = self.passk_replicates(grid)
        finite = np.isfinite(reps)
        if finite.sum(axis=0).min() < 20:
            raise ValueError("fewer than 20 replicates are finite: no interval")
        q = (1.0 - float(level)) / 2.0
        reps = np.where(finite, reps, np.nan)
        low, high = np.nanquantile(reps, q, axis=0), np.nanquantile(reps, 1.0 - q, axis=0)
        if envelope:
            low, high = np.fmax.accumulate(low), np.fmin.accumulate(high[::-1])[::-1]
        at = np.searchsorted(grid, k.ravel())
        return low[at].reshape(k.shape), high[at].reshape(k.shape)


def _gof(route, c, n):
    kmax = int(np.min(n))
    ks = np.unique(np.round(np.geomspace(1, kmax, min(kmax, 6))))
    emp = np.asarray(passk_from_counts(c, n, jnp.asarray(ks, c.dtype)))
    r = _on_route(route.mean, ks) - emp
    return float(np.sqrt(np.mean(r**2))), float(np.max(np.abs(r)))


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


def _log_choose_sum(c, n):
    return float(jnp.sum(log_choose(n, c)))
