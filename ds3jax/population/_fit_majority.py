"""Majority-vote calibration of a pass@k population to an MV curve (App. E-C, Eq. 61-63)."""

from __future__ import annotations

import dataclasses
import warnings

import jax.numpy as jnp
import numpy as np

from .._checks import check_int
from ._data import Curve
from ._fit import PopulationFit
from ._passk import BetaPopulation

__all__ = ["MajorityFit", "fit_majority_curve", "plateau"]


@dataclasses.dataclass(frozen=True)
class MajorityFit:
    """Majority-vote calibration (App. E-C) of a pass@k population to an MV curve.

    Attributes:
      population: the Beta + point-mass population (from the pass@k fit, not re-tuned).
      p_inf: MV saturation level of the calibrated model (the one asked for, unless no
        error spectrum reaches it: then the nearest one's, with a warning).
      max_error_weight: c* from Eq. 62 (within [1/(|Y| - 1), 1]).
      lam: decay of the truncated geometric error spectrum (Eq. 63).
      error_weights: c_1..c_{|Y|-1}.
      k: vote counts at which the model was evaluated (data k rounded to integers).
      predicted: model MV accuracy at ``k``.
      rmse, max_abs_error: against the data.
    """

    population: BetaPopulation
    p_inf: float
    max_error_weight: float
    lam: float
    error_weights: np.ndarray
    k: np.ndarray
    predicted: np.ndarray
    rmse: float
    max_abs_error: float

    def accuracy(self, k):
        """Model MV accuracy at integer k (int or sequence of ints)."""
        from ._majority_population import mv_accuracy

        return mv_accuracy(self.population, k, self.error_weights)


def plateau(curve: Curve, decades: float = 2.0) -> float:
    """Mean accuracy over the last ``decades`` decades of k: an estimate of P_inf for MV."""
    if not 0.0 < decades < np.inf:
        raise ValueError(f"decades must be positive and finite, got {decades!r}")
    sel = curve.k >= curve.k.max() / 10.0**decades
    return float(np.mean(curve.y[sel]))


def fit_majority_curve(curve, population, *, n_answers: int = 10, p_inf=None) -> MajorityFit:
    """Calibrate the MV model (Eq. 61-63) to a majority-vote curve, as in App. E-C.

    The pass@k population (alpha, beta, A) is carried over unchanged; the largest error
    weight c* is set by Eq. 62 so the model saturates at ``p_inf`` (default: :func:`plateau`
    of the curve, the mean over its last two decades of k), and the truncated geometric
    spectrum over ``n_answers - 1`` wrong answers (Eq. 63) is pinned by c_1 = c*.  The model
    is then evaluated exactly (no Monte Carlo) at the curve's k rounded to integers.
    """
    from ._majority_population import (
        geometric_error_weights,
        geometric_lambda,
        max_error_weight_from_saturation,
        mv_accuracy,
        mv_saturation,
    )

    if isinstance(population, PopulationFit):
        population = population.population
    if not isinstance(curve, Curve):
        raise TypeError("curve must be a Curve (see load_curve / make_curve)")
    n_wrong = check_int("n_answers", n_answers, 2) - 1
    A = float(population.solvable)
    p = plateau(curve) if p_inf is None else float(p_inf)
    if not 0.0 < p < A:
        raise ValueError(f"p_inf = {p} must lie in (0, A = {A}) for the Eq. 62 calibration")
    pop = BetaPopulation(*(jnp.asarray(float(v)) for v in (population.alpha, population.beta, A)))
    c_star = float(max_error_weight_from_saturation(pop, p))
    if not 1.0 / n_wrong <= c_star <= 1.0:
        # no spectrum over n_wrong answers has this c*: take the nearest one, and report
        # the saturation it gives rather than the one asked for
        reached = min(max(c_star, 1.0 / n_wrong), 1.0)
        level = float(mv_saturation(pop, reached))
        warnings.warn(
            f"p_inf = {p:.4g} needs c* = {c_star:.4g}, outside [1/{n_wrong}, 1] for "
            f"{n_wrong} wrong answers; using c* = {reached:.4g}, which saturates at "
            f"{level:.4g}",
            stacklevel=2,
        )
        c_star, p = reached, level
    lam = float(geometric_lambda(c_star, n_wrong))
    c = np.asarray(geometric_error_weights(lam, n_wrong), dtype=float)
    c = c / c.sum()
    ks = np.unique(np.maximum(1, np.round(curve.k)).astype(int))
    pred_u = np.asarray(mv_accuracy(pop, ks, c), dtype=float)
    pred = np.interp(np.maximum(1, np.round(curve.k)), ks, pred_u)
    r = pred - curve.y
    return MajorityFit(
        population=pop,
        p_inf=p,
        max_error_weight=c_star,
        lam=lam,
        error_weights=c,
        k=ks,
        predicted=pred_u,
        rmse=float(np.sqrt(np.mean(r**2))),
        max_abs_error=float(np.max(np.abs(r))),
    )
