"""Backtest a pass@k forecast on the user's own counts: forecast from a fraction, score on all.

No forecast beyond the data can be checked against the data, but a smaller extrapolation
can: thin every problem to a ``fraction`` of its samples (hypergeometric: the count in
floor(fraction n_i) of its samples drawn at random), forecast pass@k at a k the full data
measure, and compare with the unbiased estimate from all samples,

    measured(k) = (1/P) sum_i (1 - C(n_i - c_i, k) / C(n_i, k)),   k <= min_i n_i.

Repeated over ``seeds`` thinnings, this scores each route's mean |error|, signed error and
interval coverage on a 1/fraction-fold extrapolation of *these* data (k / min thinned n for
the least sampled problem).  It answers "which route extrapolates these counts best, and
are its intervals honest here", not "how good is the forecast 100x beyond the data": a
route that wins at 10x may lose at 100x.  The thinned samples are part of the full ones, so
the score is of extrapolating a subset to the whole; the measured value carries its own
sampling noise (binomial in each problem's samples), which inflates every route's error
alike.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._checks import check_level, check_n_boot
from ._data import as_counts, thin_counts
from ._passk import passk_from_counts

__all__ = ["Backtest", "backtest_passk"]

DEFAULT_METHODS = ("ensemble", "auto", "power_law")


@dataclasses.dataclass(frozen=True)
class Backtest:
    """Forecasts from thinned counts against the full data (:func:`backtest_passk`).

    Attributes:
      methods: the routes scored; ``k``: the numbers of samples, [K].
      fraction: the share of each problem's samples kept; ``thinned``: the thinned sample
        sizes, [P]; ``reach``: k / the smallest thinned size (the farthest extrapolation).
      measured: the unbiased pass@k from all samples, [K].
      passk, low, high: forecasts and interval ends [M, S, K] (NaN where the route failed
        or the thinning left no correct sample; ``low``/``high`` None with ``n_boot=0``).
      power_law_weight: each fit's weight on the power law at k, [M, S, K]
        (:meth:`CountsFit.power_law_weight`).
      failures: route -> the reasons its fits failed (one entry per failed seed).
      skipped: seeds whose thinned counts hold no correct sample (no route can fit them).
      level: the intervals' level.
    """

    methods: tuple
    k: np.ndarray
    fraction: float
    thinned: np.ndarray
    measured: np.ndarray
    passk: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None
    power_law_weight: np.ndarray
    failures: dict
    skipped: int
    level: float

    @property
    def reach(self) -> np.ndarray:
        return self.k / float(self.thinned.min())

    @property
    def fits(self) -> np.ndarray:
        """Successful fits per route, [M]."""
        return np.sum(np.isfinite(self.passk[:, :, 0]), axis=1)

    def _mean(self, x) -> np.ndarray:
        ok = np.isfinite(x)
        with np.errstate(invalid="ignore"):
            return np.where(ok.any(1), np.nansum(x, 1) / np.maximum(ok.sum(1), 1), np.nan)

    @property
    def error(self) -> np.ndarray:
        """Forecast - measured, [M, S, K] (NaN where no fit): > 0 is over-prediction."""
        return self.passk - self.measured

    @property
    def inside(self) -> np.ndarray | None:
        """1.0 where the interval holds the measured value, 0.0 where not, NaN where no fit,
        [M, S, K]; None without intervals."""
        if self.low is None:
            return None
        hit = (self.low <= self.measured) & (self.measured <= self.high)
        return np.where(np.isfinite(self.low), hit.astype(float), np.nan)

    @property
    def mean_abs_error(self) -> np.ndarray:
        """Mean |forecast - measured| over seeds, [M, K] (NaN for a route with no fit)."""
        return self._mean(np.abs(self.error))

    @property
    def mean_error(self) -> np.ndarray:
        """Mean signed error over seeds, [M, K]: > 0 is over-prediction."""
        return self._mean(self.error)

    @property
    def coverage(self) -> np.ndarray | None:
        """Share of seeds whose interval holds the measured value, [M, K]."""
        inside = self.inside
        return None if inside is None else self._mean(inside)

    @property
    def best(self) -> str | None:
        """The route with the smallest mean |error| at the largest k (None if none fitted)."""
        e = self.mean_abs_error[:, int(np.argmax(self.k))]
        return None if np.all(np.isnan(e)) else self.methods[int(np.nanargmin(e))]

    def table(self) -> str:
        """The scores as a Markdown table, one row per route."""
        ks = ", ".join(f"{k:g}" for k in self.k)
        head = f"| route | fits | mean abs err (k = {ks}) | mean signed err |"
        head += f" {self.level:.0%} coverage |" if self.low is not None else ""
        lines = [head, "|---" * (head.count("|") - 1) + "|"]
        cov = self.coverage
        for i, m in enumerate(self.methods):
            row = (
                f"| `{m}` | {self.fits[i]} | {_cells(self.mean_abs_error[i], '.3f')} | "
                f"{_cells(self.mean_error[i], '+.3f')} |"
            )
            if cov is not None:
                row += f" {_cells(cov[i], '.0%')} |"
            lines.append(row)
        return "\n".join(lines)


def _cells(x, fmt) -> str:
    return " / ".join("-" if np.isnan(v) else format(v, fmt) for v in x)


def backtest_passk(
    counts,
    samples=None,
    *,
    fraction: float = 0.1,
    k=None,
    methods=DEFAULT_METHODS,
    seeds: int = 10,
    n_boot: int = 200,
    level: float = 0.9,
    seed: int = 0,
    progress=None,
    **fit_options,
) -> Backtest:
    """Score pass@k routes on these counts: fit a thinned copy, compare with all samples.

    Args:
      counts: a :class:`Counts` or correct counts c_i (then pass ``samples``).
      samples: samples n_i per problem, with raw counts.
      fraction: the share of each problem's samples kept, in (0, 1); each problem keeps
        max(1, floor(fraction n_i)) samples.
      k: where to score pass@k (scalar or array), each in [1, min n_i]; default min n_i, the
        largest k every problem's full data measure.
      methods: routes of :func:`fit_passk_counts` to score.
      seeds: thinnings; ``seed`` seeds them and the fits.
      n_boot, level: replicates and level of the intervals (``n_boot=0``: no intervals).
      progress: called as ``progress(done, total)`` after each fit.
      fit_options: passed to :func:`fit_passk_counts` (``families``, ``splits``, ...).

    Returns a :class:`Backtest` (``.table()``, ``.mean_abs_error``, ``.coverage``, ``.best``).
    Raises ``ValueError`` for bad counts or options, and when no thinning keeps a correct
    sample (the data then hold too few correct samples to backtest at this fraction).
    """
    from ._counts import METHODS, fit_passk_counts

    counts = as_counts(counts, samples)
    c, n = counts.correct, counts.samples
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {methods!r}")
    if not isinstance(seeds, (int, np.integer)) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    level = check_level(level)
    n_boot = check_n_boot(n_boot)
    n_min = int(n.min())
    kk = np.atleast_1d(np.asarray(float(n_min) if k is None else k, float)).ravel()
    if not kk.size or not np.all(np.isfinite(kk) & (kk >= 1) & (kk <= n_min)):
        raise ValueError(
            f"k must lie in [1, {n_min}] (the fewest samples any problem has: the full data "
            f"measure pass@k only there), got {', '.join(f'{v:g}' for v in kk)}"
        )
    if not np.any(c > 0):
        raise ValueError(
            f"{counts.name or 'counts'}: every count is zero: there is nothing to backtest"
        )
    thin = np.maximum(1, np.floor(float(fraction) * n).astype(np.int64))
    measured = np.asarray(passk_from_counts(c, n, kk), float)
    shape = (len(methods), seeds, kk.size)
    pred, law = np.full(shape, np.nan), np.full(shape, np.nan)
    low, high = (np.full(shape, np.nan), np.full(shape, np.nan)) if n_boot else (None, None)
    failures = {m: [] for m in methods}
    skipped, done = 0, 0
    for s in range(seeds):
        cs = thin_counts(c, n, thin, np.random.default_rng([seed, s]))
        if not cs.any():
            skipped += 1
            done += len(methods)
            if progress is not None:
                progress(done, seeds * len(methods))
            continue
        for i, m in enumerate(methods):
            try:
                fit = fit_passk_counts(
                    cs, thin, method=m, n_boot=n_boot, seed=seed + s, **fit_options
                )
                # every number of a fit, or none: a fit whose interval fails is a failure
                y = np.asarray(fit.passk(kk), float)
                iv = fit.passk_interval(kk, level=level) if n_boot else None
                pred[i, s], law[i, s] = y, fit.power_law_weight(kk)
                if iv is not None:
                    low[i, s], high[i, s] = iv
            except ValueError as e:  # e.g. no power law from < 2 usable k
                failures[m].append(f"seed {s}: {e}")
            done += 1
            if progress is not None:
                progress(done, seeds * len(methods))
    if skipped == seeds:
        raise ValueError(
            f"no thinning to {fraction:g} of the samples kept a correct sample in {seeds} "
            "seeds: too few correct samples to backtest; raise fraction"
        )
    return Backtest(
        methods=methods,
        k=kk,
        fraction=float(fraction),
        thinned=thin,
        measured=measured,
        passk=pred,
        low=low,
        high=high,
        power_law_weight=law,
        failures={m: v for m, v in failures.items() if v},
        skipped=skipped,
        level=float(level),
    )
