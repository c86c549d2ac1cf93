"""Result codes and optimality checks for population fits (optimistix-style).

A fit's ``result`` is a :class:`RESULTS` member decided from the first-order optimality
(Karush-Kuhn-Tucker) conditions at the returned point, not from an optimiser's line-search
flag: every free parameter has a vanishing gradient (measured by the Newton decrement
g^T H^-1 g / 2, the objective decrease a Newton step would still give), and every parameter on
a bound has its gradient pointing out of the feasible box.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["RESULTS", "kkt_result"]


class RESULTS(enum.Enum):
    """Outcome of a population fit (compare with ``fit.result == RESULTS.successful``)."""

    successful = "optimality conditions hold (gradient and bound conditions)"
    not_converged = "optimality conditions fail at the returned point"
    nonfinite = "the objective or its gradient is not finite at the returned point"
    not_identified = "the data do not determine the fit (a parameter sits at an artificial bound)"


def kkt_result(value, grad, hess, x, lower, upper, *, atol=1e-7, rtol=1e-9, xtol=1e-7):
    """Check the KKT conditions of min f(x) on the box [lower, upper].

    Args:
      value, grad, hess: f, its gradient and Hessian at ``x`` (numpy arrays).
      lower, upper: bounds (use +-inf for none).
      atol, rtol: the free parameters pass when the Newton decrement g_f^T H_ff^+ g_f / 2 is
        at most ``atol + rtol |f|`` (an objective decrease still available to a Newton step).
      xtol: distance to a bound under which a parameter counts as on it.

    Returns ``(RESULTS, at_lower, at_upper, decrement)`` with boolean masks.
    """
    x, g = np.asarray(x, float), np.asarray(grad, float)
    H = np.asarray(hess, float)
    lower, upper = np.broadcast_to(lower, x.shape), np.broadcast_to(upper, x.shape)
    if not (np.isfinite(value) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
        return RESULTS.nonfinite, np.zeros(x.shape, bool), np.zeros(x.shape, bool), np.inf
    at_lo, at_hi = x <= lower + xtol, x >= upper - xtol
    gtol = np.sqrt(2 * (atol + rtol * abs(value)))
    # on a bound, the gradient must point outward (or vanish)
    bound_ok = np.all(g[at_lo] >= -gtol) and np.all(g[at_hi] <= gtol)
    free = ~(at_lo | at_hi)
    dec = 0.0
    if free.any():
        gf = g[free]
        Hf = H[np.ix_(free, free)]
        w, V = np.linalg.eigh(0.5 * (Hf + Hf.T))
        # a non-positive curvature direction with a gradient component is not an optimum
        w = np.where(w > 1e-12 * max(np.abs(w).max(), 1.0), w, np.nan)
        proj = V.T @ gf
        with np.errstate(invalid="ignore"):
            terms = np.where(np.isnan(w), np.where(np.abs(proj) <= gtol, 0.0, np.inf), proj**2 / w)
        dec = 0.5 * float(np.sum(terms))
    ok = bound_ok and dec <= atol + rtol * abs(value)
    return (RESULTS.successful if ok else RESULTS.not_converged), at_lo, at_hi, dec
