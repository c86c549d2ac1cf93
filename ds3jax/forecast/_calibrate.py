"""How far off a forecast one step beyond the data is: errors to widen the bootstrap bands.

The bootstrap bands of :class:`ForecastFit` resample problems under a fixed loss law and
transfer; they say nothing about how wrong the model is off the training grid, and on the
Pythia table they hold 0-60% of held-out checkpoints at level 0.9.  Forward chaining measures
that error on the data at hand: sort the sizes N (or the checkpoints D), fit on the values up
to v_j and forecast v_{j+1}, for every j with a solved problem to learn from.  Each held-out
checkpoint and k gives one residual

    r = logit(pass@k measured) - logit(pass@k forecast)

(measured: the unbiased estimate over the problems with n_i >= k; rows where it is 0 or 1
have no logit and are left out).  ``ForecastFit.passk_interval(..., errors=E)`` adds them to
every bootstrap replicate, expit(logit(mean_b) + r_j) over all replicates b and residuals
j at that k (:meth:`ExtrapolationErrors.at`), and reports the quantiles: a band for the
measurement at a new checkpoint, not only for the fitted curve (a jackknife+-style
predictive interval whose error distribution comes from extrapolations of the same kind and
length).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from scipy.special import logit

from ._api import fit_checkpoints
from ._holdout import DEFAULT_K, checkpoint_means
from ._table import load_table

__all__ = ["ExtrapolationErrors", "extrapolation_errors"]


@dataclasses.dataclass(frozen=True)
class ExtrapolationErrors:
    """Residuals of forward-chained forecasts (module doc).

    Attributes:
      along: ``"N"`` or ``"D"``, the axis the chain steps along.
      k, residual, N, D, trained_to: one entry per scored (held-out checkpoint, k): the k, the
        logit residual, the checkpoint, and the largest N (or D) of the fit that forecast it.
    """

    along: str
    k: np.ndarray
    residual: np.ndarray
    N: np.ndarray
    D: np.ndarray
    trained_to: np.ndarray

    def at(self, k: float) -> np.ndarray:
        """The residuals at ``k``: between two scored k, each held-out checkpoint's two
        residuals interpolated linearly in log k (the checkpoints scored at both), so bands
        move smoothly with k; outside the scored k, those of the nearest one."""
        scored = np.unique(self.k)
        lk = np.log(float(k))
        if lk <= np.log(scored[0]):
            return self.residual[self.k == scored[0]]
        if lk >= np.log(scored[-1]):
            return self.residual[self.k == scored[-1]]
        if np.any(scored == float(k)):
            # all of them: interpolating to t = 1 kept only the checkpoints also scored below
            return self.residual[self.k == float(k)]
        i = int(np.searchsorted(np.log(scored), lk))
        k1, k2 = scored[i - 1], scored[i]
        t = (lk - np.log(k1)) / (np.log(k2) - np.log(k1))
        key = lambda j: (self.N[j], self.D[j], self.trained_to[j])  # noqa: E731
        at1 = {key(j): self.residual[j] for j in np.flatnonzero(self.k == k1)}
        at2 = {key(j): self.residual[j] for j in np.flatnonzero(self.k == k2)}
        both = [c for c in at1 if c in at2]
        if not both:
            return self.residual[self.k == (k1 if t < 0.5 else k2)]
        return np.array([(1 - t) * at1[c] + t * at2[c] for c in both])

    def __len__(self) -> int:
        return int(self.residual.size)


def extrapolation_errors(
    table,
    *,
    along: str = "N",
    k=DEFAULT_K,
    fit_kwargs: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExtrapolationErrors:
    """Forward-chained forecast errors of :func:`fit_checkpoints` on ``table`` (module doc).

    Args:
      table: as for :func:`fit_checkpoints`.
      along: ``"N"`` (fit the sizes up to one, forecast the next size at every D) or ``"D"``
        (fit the checkpoints up to one D, forecast the next D at every N).
      k: the numbers of samples scored.
      fit_kwargs: passed to :func:`fit_checkpoints` (use the settings of the fit whose bands
        are to be widened); ``n_boot`` defaults to 0 here.
      progress: ``progress(done, total)`` after each fit.

    Raises ``ValueError`` for an unknown ``along`` and when no step can be scored (fewer than
    two values along the axis with a correct sample to fit).
    """
    if along not in ("N", "D"):
        raise ValueError(f"along must be 'N' or 'D', got {along!r}")
    tab = load_table(table)
    axis = np.asarray(tab.N if along == "N" else tab.D, float)
    values = np.unique(axis)
    solved = np.array([tab.correct[:, axis == v].sum() > 0 for v in values])
    # the first fit needs a correct sample to learn from
    first = int(np.argmax(solved)) if solved.any() else len(values)
    steps = list(range(first, len(values) - 1))
    if not steps:
        raise ValueError(
            f"no forward step along {along} can be scored: it needs two or more values of "
            f"{along}, the first of them with a correct sample"
        )
    kw = {"n_boot": 0, **(fit_kwargs or {})}
    ks = [float(x) for x in np.atleast_1d(k)]
    rows = []
    for done, j in enumerate(steps):
        fit = fit_checkpoints(tab.select(axis <= values[j]), **kw)
        test = tab.select(axis == values[j + 1])
        for kk in ks:
            for c, _, data, (fc,) in checkpoint_means(test, kk, (fit,)):
                if 0.0 < data < 1.0 and 0.0 < fc < 1.0:
                    rows.append((kk, logit(data) - logit(fc), test.N[c], test.D[c], values[j]))
        if progress is not None:
            progress(done + 1, len(steps))
    if not rows:
        raise ValueError(f"no forward step along {along} has a pass@k strictly between 0 and 1")
    k_, r_, n_, d_, t_ = (np.array(x, float) for x in zip(*rows))
    return ExtrapolationErrors(along, k_, r_, n_, d_, t_)
