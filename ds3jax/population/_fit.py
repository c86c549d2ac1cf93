"""Fitting task populations to pass@k curves (App. E-B); the fit result shared with the
counts' maximum-likelihood route (:mod:`._fit_counts`).

* :func:`fit_passk_curve`: bounded nonlinear least squares of Eq. 59 to (k, pass@k) points,
  as in App. E-B (alpha, beta > 0, 0 < A <= 1), or the minimax (smallest worst-case error)
  variant; optionally of a richer family (two Beta components plus the zero mass).
  Residuals and Jacobians are jitted JAX functions handed to scipy.

Both it and the counts' maximum-likelihood route return a :class:`PopulationFit` with the
fitted :class:`BetaPopulation` (or the curve fit's :class:`MixturePopulation` for the richer
family), standard errors from the inverse Hessian (Gauss-Newton J^T J / s^2 for least
squares, observed information for maximum likelihood), and goodness-of-fit numbers.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize as so

from .._checks import check_level
from ._data import Curve, make_curve
from ._families import MixturePopulation, PointMass
from ._passk import BetaPopulation, passk
from ._result import RESULTS, kkt_result

__all__ = ["PopulationFit", "fit_passk_curve"]

_NAMES = ("alpha", "beta", "solvable")


@dataclasses.dataclass(frozen=True)
class PopulationFit:
    """Result of a population fit.

    Attributes:
      population: the fitted population: :class:`BetaPopulation` (float64 scalars),
        :class:`MixturePopulation` (curve fit with ``family="beta-mixture+zero"``),
        :class:`DiscretePopulation` (the grid family) or :class:`PowerLawCurve` (baseline).
      stderr: standard error of each parameter (dict keyed by ``names``: alpha, beta,
        solvable for the Beta family); 0 for a parameter held at a bound (empty for the grid
        family and the power law).
      cov: covariance matrix in the order of ``names`` (NaN rows/cols for parameters at a bound).
      names: parameter names.
      rmse, max_abs_error: curve fits: root-mean-square and largest |model - data|
        (counts fits: the same between the fitted pass@k and the unbiased estimate at
        k = 1..min n).
      loglik, aic: counts fits only (None for curve fits).
      n_obs: number of data points / problems.
      at_bound: names of every parameter that ended on a bound (e.g. solvable = 1, or alpha at
        the optimiser's limit).
      success, message: whether the optimality conditions hold (``result``), and in words.
      result: a :class:`RESULTS` code from the optimality (KKT) conditions.
      family: the route that produced the fit ("beta + zero mass", "grid(lam=0.3)", ...).
      why: why this family (held-out scores of the candidates for the default route).
      identified: False when the data do not determine the fit (a parameter at an artificial
        bound, or a standard error larger than the value): its numbers are not estimates.
      replicates: bootstrap replicates (the population type with a leading replicate axis).
      interval_note: why ``passk_interval`` is unavailable, when it is.
      scores: held-out log-likelihood of each candidate family (default route).
      extrapolation_note: where the predictions stop resting on data.
    """

    population: object
    stderr: dict
    cov: np.ndarray
    names: tuple
    rmse: float
    max_abs_error: float
    n_obs: int
    at_bound: tuple = ()
    loglik: float | None = None
    aic: float | None = None
    success: bool = True
    message: str = ""
    result: RESULTS = RESULTS.successful
    family: str = "beta + zero mass"
    why: str = ""
    identified: bool = True
    replicates: object = None
    interval_note: str = ""
    scores: dict | None = None
    extrapolation_note: str = ""

    def passk(self, k):
        """Fitted pass@k at any k (including far beyond the fitted range)."""
        return _passk_any(self.population, k)

    def passk_replicates(self, k):
        """pass@k of every bootstrap replicate: shape [n_boot, *shape(k)]."""
        if self.replicates is None:
            raise ValueError(f"this fit has no bootstrap replicates: {self.interval_note}")
        k = jnp.asarray(k)
        return jax.vmap(lambda pop: _passk_any(pop, k))(self.replicates)

    def passk_interval(self, k, level: float = 0.9):
        """Percentile bootstrap interval ``(low, high)`` for pass@k at ``k`` (numpy arrays).

        Raises ``ValueError`` for fits without replicates (curve fits: the points of one
        pass@k curve share their samples, so no honest interval follows from them)."""
        level = check_level(level)
        reps = np.asarray(self.passk_replicates(k))
        # a replicate whose refit failed (non-finite) is dropped rather than poisoning the band
        reps = reps[np.all(np.isfinite(reps.reshape(reps.shape[0], -1)), axis=1)]
        if reps.shape[0] < 20:
            raise ValueError("fewer than 20 bootstrap replicates are finite: no interval")
        q = (1.0 - float(level)) / 2.0
        return np.quantile(reps, q, axis=0), np.quantile(reps, 1.0 - q, axis=0)


def _passk_any(population, k):
    from ._powerlaw import PowerLawCurve, powerlaw_passk

    if isinstance(population, PowerLawCurve):
        return powerlaw_passk(population, k)
    if isinstance(population, MixturePopulation):
        # pass@k mixes linearly over components, each in its own closed form (for Beta
        # components more accurate at large k than 1 - exp(log E[(1 - psi)^k]) of the mixture)
        w = jnp.asarray(population.weights)
        return sum(w[..., j] * _passk_any(c, k) for j, c in enumerate(population.components))
    return passk(population, k)


_CURVE_NOTE = (
    "a curve fit has no per-problem data: the points of one pass@k curve are computed from the "
    "same samples, so they are not independent and no honest interval follows from them; fit "
    "per-problem counts with fit_passk_counts for intervals"
)


# ----------------------------------------------------------------------------- curve fits

# theta = (log alpha, log beta, A)
_LOWER = np.array([np.log(1e-3), np.log(1e-3), 1e-6])
_UPPER = np.array([np.log(1e3), np.log(1e6), 1.0])


def _pop_from_theta(th):
    return BetaPopulation(jnp.exp(th[0]), jnp.exp(th[1]), th[2])


def _pop_from_natural(p):
    return BetaPopulation(p[0], p[1], p[2])


def _default_starts(y):
    top = float(np.clip(np.max(y), 1e-3, 1.0))
    return [
        (np.log(0.3), np.log(3.0), top),
        (np.log(0.1), np.log(1.0), min(1.0, top + 0.02)),
        (np.log(1.0), np.log(10.0), top),
        (np.log(0.5), np.log(0.5), top),
    ]


# theta = (log alpha1, log beta1, log alpha2, log beta2, w1, A)
_MIX_LOWER = np.concatenate([_LOWER[:2], _LOWER[:2], [0.0, _LOWER[2]]])
_MIX_UPPER = np.concatenate([_UPPER[:2], _UPPER[:2], [1.0, _UPPER[2]]])


def _mixture_from_natural(p):
    # the zero mass is a third component rather than each Beta's ``solvable``: a Beta's own
    # zero mass enters through log(1 - A), whose derivative is infinite at A = 1
    a1, b1, a2, b2, w1, A = (p[i] for i in range(6))
    one = jnp.ones_like(A)
    comps = (BetaPopulation(a1, b1, one), BetaPopulation(a2, b2, one), PointMass(0.0 * one))
    return MixturePopulation(comps, jnp.stack([A * w1, A * (1.0 - w1), 1.0 - A]))


def _mixture_from_theta(th):
    return _mixture_from_natural(
        [jnp.exp(th[0]), jnp.exp(th[1]), jnp.exp(th[2]), jnp.exp(th[3]), th[4], th[5]]
    )


def _mixture_starts(y):
    # a component over moderate psi beside one massed near psi = 0 (hard tasks: beta large),
    # in both weightings, and two starts close to a single Beta
    top = float(np.clip(np.max(y), 1e-3, 1.0))
    starts = [
        (np.log(a1), np.log(b1), np.log(a2), np.log(b2), w1, top)
        for a1, b1 in ((0.3, 3.0), (1.0, 1.0))
        for a2, b2 in ((0.2, 30.0), (0.5, 1e3))
        for w1 in (0.3, 0.7)
    ]
    starts += [(np.log(0.3), np.log(3.0), np.log(0.3), np.log(30.0), w1, top) for w1 in (0.9, 0.1)]
    return starts


def _log_natural(th):
    return np.array([np.exp(th[0]), np.exp(th[1]), th[2]])


def _mixture_natural(th):
    return np.array([*np.exp(th[:4]), th[4], th[5]])


@dataclasses.dataclass(frozen=True)
class _CurveFamily:
    """A pass@k-curve family: box bounds on theta (log scale for shapes, linear for masses),
    the population from theta (the optimiser's scale) and from the natural parameters
    ``names`` (the covariance's scale), and default starts from the data."""

    label: str
    names: tuple
    lower: np.ndarray
    upper: np.ndarray
    from_theta: Callable
    from_natural: Callable
    natural: Callable
    starts: Callable
    # the minimax fit is started from this many of the best least-squares solutions
    minimax_starts: int = 1


_CURVE_FAMILIES = {
    "beta+zero": _CurveFamily(
        "beta + zero mass",
        _NAMES,
        _LOWER,
        _UPPER,
        _pop_from_theta,
        _pop_from_natural,
        _log_natural,
        _default_starts,
    ),
    "beta-mixture+zero": _CurveFamily(
        "beta mixture + zero mass",
        ("alpha1", "beta1", "alpha2", "beta2", "weight1", "solvable"),
        _MIX_LOWER,
        _MIX_UPPER,
        _mixture_from_theta,
        _mixture_from_natural,
        _mixture_natural,
        _mixture_starts,
        minimax_starts=4,
    ),
}


@functools.partial(jax.jit, static_argnums=3)
def _curve_residual(th, k, y, family="beta+zero"):
    return _passk_any(_CURVE_FAMILIES[family].from_theta(th), k) - y


def _pad(v, fill):
    # pad to a multiple of 32 points so curves of similar length share one compilation
    size = -(-v.size // 32) * 32
    return np.concatenate([v, np.full(size - v.size, fill)])


_curve_jac = jax.jit(jax.jacfwd(_curve_residual), static_argnums=3)


@functools.partial(jax.jit, static_argnums=3)
def _curve_residual_natural(p, k, y, family="beta+zero"):
    return _passk_any(_CURVE_FAMILIES[family].from_natural(p), k) - y


_curve_jac_natural = jax.jit(jax.jacfwd(_curve_residual_natural), static_argnums=3)


def _lsq_cov(p, k, y, npts, at_bound, family="beta+zero"):
    """Gauss-Newton covariance s^2 (J^T J)^-1 over the free parameters, natural scale.

    A free parameter the curve does not depend on (a component of weight 0) gets NaN."""
    names = _CURVE_FAMILIES[family].names
    r = np.asarray(_curve_residual_natural(p, k, y, family))[:npts]
    J = np.asarray(_curve_jac_natural(p, k, y, family))[:npts]
    free = np.array([n not in at_bound for n in names])
    dof = r.size - int(free.sum())
    # as many points as free parameters: the curve is interpolated, its noise unknown
    s2 = float(r @ r) / dof if dof > 0 else np.nan
    cov = np.full((len(names), len(names)), np.nan)
    Jf = J[:, free]
    # columns scaled to unit norm first: the parameters' scales differ by up to 1e6 (beta
    # next to alpha), and pinv's cutoff on the unscaled J^T J dropped a direction the curve
    # barely determines, reporting it as known to 1e-8 instead of not at all
    norm = np.linalg.norm(Jf, axis=0)
    norm = np.where(norm > 0, norm, 1.0)
    Js = Jf / norm
    cov_f = s2 * np.linalg.pinv(Js.T @ Js) / np.outer(norm, norm)
    cov[np.ix_(free, free)] = cov_f
    dead = free & ~np.any(J != 0.0, axis=0)
    cov[dead, :] = cov[:, dead] = np.nan
    return cov


# how far a pass@k curve may fall as k grows before it is refused: digitising noise (the
# shipped curves fall by 0 at most; majority-vote curves, which may fall, by up to 0.008)
_MAX_FALL = 0.05


def fit_passk_curve(
    curve, y=None, *, loss: str = "l2", starts=None, family: str = "beta+zero"
) -> PopulationFit:
    """Fit a population's pass@k law to a curve (App. E-B): Eq. 59 or a richer family.

    Families (``family=``):

    * ``"beta+zero"`` (default; the paper's Eq. 59): a Beta(alpha, beta) population of
      solvable tasks plus a mass 1 - A of never-solved ones,

          pass@k = A (1 - B(alpha, beta + k) / B(alpha, beta)),

      parameters (alpha, beta, A) with alpha in [1e-3, 1e3], beta in [1e-3, 1e6], A in (0, 1].
      Returns a :class:`BetaPopulation`.
    * ``"beta-mixture+zero"``: the solvable tasks drawn from a two-Beta mixture,

          pass@k = A [w1 g(a1, b1; k) + (1 - w1) g(a2, b2; k)],
          g(a, b; k) = 1 - B(a, b + k) / B(a, b),

      six parameters (alpha1, beta1, alpha2, beta2, weight1, solvable) with the same bounds per
      component and w1 in [0, 1].  It follows curves whose rise bends more than one Beta's tail
      allows (Gemma-2B: a 3-parameter minimax error of 0.0255 against ~0.005).  Returns a
      :class:`MixturePopulation` of ``BetaPopulation(a1, b1)``, ``BetaPopulation(a2, b2)``
      and ``PointMass(0)`` with weights (A w1, A (1 - w1), 1 - A).

    Args:
      curve: a :class:`Curve` (e.g. from :func:`load_curve`) or an array of k (then pass y).
      y: pass@k values when ``curve`` is an array of k.
      loss: ``"l2"`` (the paper's least squares; scipy ``least_squares``, trust-region
        reflective within the bounds) or ``"max"`` (minimise the largest absolute error,
        SLSQP on the epigraph form, started from the best least-squares solution, or, for the
        mixture, from each of the four best).
      starts: optional initial parameter vectors on the optimiser's scale, (log alpha,
        log beta, A) for the default family and (log a1, log b1, log a2, log b2, w1, A) for the
        mixture; the best result is kept.  By default 4 (Beta) or 10 (mixture) fixed starts.
      family: ``"beta+zero"`` or ``"beta-mixture+zero"``.

    Raises ``ValueError`` where the curve falls by more than 0.05 as k grows (no pass@k
    curve does; digitising noise is far smaller), and with fewer points than parameters.

    Returns a :class:`PopulationFit` (``family`` names the family and the loss); standard
    errors from the Gauss-Newton Hessian at the optimum (residual variance RSS / (n - p)), NaN
    for a parameter the curve does not determine (a component of weight 0).  No intervals:
    the points of one curve share their samples (``interval_note``).
    """
    if not isinstance(curve, Curve):
        curve = make_curve(curve, y)
    if loss not in ("l2", "max"):
        raise ValueError(f"loss must be 'l2' or 'max', got {loss!r}")
    if family not in _CURVE_FAMILIES:
        allowed = ", ".join(repr(f) for f in _CURVE_FAMILIES)
        raise ValueError(f"family must be one of {allowed}, got {family!r}")
    fam = _CURVE_FAMILIES[family]
    lower, upper, names = fam.lower, fam.upper, fam.names
    n_par = len(names)
    k = jnp.asarray(curve.k, dtype=jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    if curve.k.size < n_par:
        raise ValueError(
            f"{curve.name or 'curve'}: need at least {n_par} points to fit {n_par} parameters"
        )

    fall = np.maximum.accumulate(curve.y) - curve.y
    if fall.max() > _MAX_FALL:
        j = int(np.argmax(fall))
        top = int(np.argmax(curve.y[: j + 1]))
        raise ValueError(
            f"{curve.name or 'curve'}: pass@k falls from {curve.y[top]:.3g} at k = "
            f"{curve.k[top]:g} to {curve.y[j]:.3g} at k = {curve.k[j]:g}; pass@k cannot fall "
            "as k grows (a majority-vote curve? fit it with fit_majority_curve)"
        )

    if not np.any(curve.y > 0):
        raise ValueError(
            f"{curve.name or 'curve'}: pass@k is 0 at every k (up to {curve.k.max():g}): no "
            "population is identified; pass@k beyond the curve cannot be estimated"
        )

    npts = curve.k.size
    kp = jnp.asarray(_pad(curve.k, 1.0), k.dtype)
    yp = jnp.asarray(_pad(curve.y, 0.0), k.dtype)

    def fun(th):
        return np.asarray(_curve_residual(jnp.asarray(th, k.dtype), kp, yp, family), float)[:npts]

    def jac(th):
        return np.asarray(_curve_jac(jnp.asarray(th, k.dtype), kp, yp, family), float)[:npts]

    sols = []
    for x0 in starts if starts is not None else fam.starts(curve.y):
        x0 = np.asarray(x0, float)
        if x0.shape != (n_par,):
            raise ValueError(f"a start for family {family!r} has {n_par} entries, got {x0.shape}")
        x0 = np.clip(x0, lower + 1e-9, upper - 1e-9)
        sol = so.least_squares(fun, x0, jac=jac, bounds=(lower, upper), x_scale="jac")
        sols.append(sol)
    if not sols:
        raise ValueError("starts is empty: give at least one start")
    # the best first (ties: the earlier start, as a strict "<" scan keeps it)
    sols.sort(key=lambda s: s.cost)
    best = sols[0]
    th, msg = best.x, str(best.message)

    if loss == "max":
        n = curve.k.size
        ones = np.ones((n, 1))
        grad_t = np.zeros(n_par + 1)
        grad_t[-1] = 1.0

        def cons(z):
            r = fun(z[:n_par])
            return np.concatenate([z[n_par] - r, z[n_par] + r])

        def cons_jac(z):
            J = jac(z[:n_par])
            return np.vstack([np.hstack([-J, ones]), np.hstack([J, ones])])

        top = np.max(np.abs(best.fun))
        for start in sols[: fam.minimax_starts]:
            z0 = np.append(start.x, np.max(np.abs(start.fun)))
            sol = so.minimize(
                lambda z: z[n_par],
                z0,
                jac=lambda z: grad_t,
                constraints=[{"type": "ineq", "fun": cons, "jac": cons_jac}],
                bounds=list(zip(lower, upper)) + [(0.0, 1.0)],
                method="SLSQP",
                options={"maxiter": 500, "ftol": 1e-12},
            )
            err = np.max(np.abs(fun(sol.x[:n_par])))
            if err < top:
                th, msg, top = sol.x[:n_par], str(sol.message), err

    p = fam.natural(th)
    # the trust region stops just inside the box (alpha = 999.995 of 1000): 1e-5 in the
    # fit's coordinates (relative, on the log-scaled shape parameters) is on the bound
    at_bound = tuple(
        n for n, v, lo, hi in zip(names, th, lower, upper) if v <= lo + 1e-5 or v >= hi - 1e-5
    )
    cov = _lsq_cov(jnp.asarray(p, k.dtype), kp, yp, npts, at_bound, family)
    r = fun(th)
    J = jac(th)
    if loss == "l2":
        res, *_ = kkt_result(0.5 * r @ r, J.T @ r, J.T @ J, th, lower, upper, atol=1e-14, rtol=1e-7)
    else:
        res = _minimax_kkt(r, J, th, lower, upper)
    msg = f"{res.value} (optimiser: {msg})"
    stderr = {n: (0.0 if n in at_bound else float(np.sqrt(cov[i, i]))) for i, n in enumerate(names)}
    # a shape parameter on the optimiser's box, or a standard error beyond its value: the
    # curve does not determine the population (the bounds on A and the weight are natural)
    artificial = [n for n in at_bound if n.startswith(("alpha", "beta"))]
    loose = [n for n, v in zip(names, p) if stderr[n] > abs(float(v))]  # NaN: no estimate
    identified = not artificial and not loose
    if not identified:
        why = artificial or loose
        msg += f"; not identified: {', '.join(why)} " + (
            "at the optimiser's bound" if artificial else "with a standard error beyond its value"
        )
    if npts <= len(names) - len(at_bound):
        msg += "; as many points as free parameters: no standard errors"
    return PopulationFit(
        population=fam.from_natural([jnp.asarray(v, k.dtype) for v in p]),
        stderr=stderr,
        cov=cov,
        names=names,
        rmse=float(np.sqrt(np.mean(r**2))),
        max_abs_error=float(np.max(np.abs(r))),
        n_obs=int(curve.k.size),
        at_bound=at_bound,
        success=res is RESULTS.successful,
        message=msg,
        result=res,
        family=fam.label + " (curve, " + ("least squares)" if loss == "l2" else "minimax)"),
        interval_note=_CURVE_NOTE,
        identified=identified,
    )


def _minimax_kkt(r, J, th, lower=_LOWER, upper=_UPPER, tol=1e-6):
    """KKT conditions of min_th max_i |r_i(th)|: some convex combination of the active
    residuals' signed gradients vanishes on the free parameters (found by NNLS)."""
    e = np.max(np.abs(r))
    act = np.abs(r) >= e - tol * max(e, 1e-12)
    G = (np.sign(r)[act, None] * J[act]).T  # [p, n_active]
    free = ~((th <= lower + 1e-7) | (th >= upper - 1e-7))
    A = np.vstack([G[free], 1e3 * np.ones((1, G.shape[1]))])
    b = np.concatenate([np.zeros(int(free.sum())), [1e3]])
    mu, _ = so.nnls(A, b)
    resid = np.linalg.norm(G[free] @ mu) / max(np.abs(G[free]).max(), 1e-300)
    ok = np.isfinite(resid) and resid < 1e-3 and abs(mu.sum() - 1) < 1e-3
    return RESULTS.successful if ok else RESULTS.not_converged
