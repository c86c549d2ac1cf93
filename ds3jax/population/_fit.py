"""Fitting task populations to pass@k curves and to per-problem counts (App. E-B).

* :func:`fit_passk_curve`: bounded nonlinear least squares of Eq. 59 to (k, pass@k) points,
  as in App. E-B (alpha, beta > 0, 0 < A <= 1), or the minimax (smallest worst-case error)
  variant; optionally of a richer family (two Beta components plus the zero mass).
  Residuals and Jacobians are jitted JAX functions handed to scipy.
* :func:`fit_passk_counts`: maximum likelihood of the beta-binomial with a zero mass for
  per-problem data (c_i correct of n_i samples):

      P(c_i) = (1 - A) 1{c_i = 0} + A C(n_i, c_i) B(alpha + c_i, beta + n_i - c_i) / B(alpha, beta),

  the exact marginal of Eq. 58 under binomial sampling.

Both return a :class:`PopulationFit` with the fitted :class:`BetaPopulation` (or the curve
fit's :class:`MixturePopulation` for the richer family), standard errors
from the inverse Hessian (Gauss-Newton J^T J / s^2 for least squares, observed information
for maximum likelihood), and goodness-of-fit numbers.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize as so
from jax.scipy.special import gammaln

from ._data import Counts, Curve, make_counts, make_curve
from ._families import MixturePopulation, PointMass
from ._passk import BetaPopulation, log_gamma_ratio, passk, passk_from_counts
from ._result import RESULTS, kkt_result

__all__ = [
    "PopulationFit",
    "fit_passk_curve",
    "betabinom_zero_loglik",
    "MajorityFit",
    "fit_majority_curve",
    "plateau",
]

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
        if not 0.0 < float(level) < 1.0:
            raise ValueError(f"level must lie in (0, 1), got {level!r}")
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
    dof = max(r.size - int(free.sum()), 1)
    s2 = float(r @ r) / dof
    cov = np.full((len(names), len(names)), np.nan)
    Jf = J[:, free]
    cov_f = s2 * np.linalg.pinv(Jf.T @ Jf)
    cov[np.ix_(free, free)] = cov_f
    dead = free & ~np.any(J != 0.0, axis=0)
    cov[dead, :] = cov[:, dead] = np.nan
    return cov


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
    at_bound = tuple(
        n for n, v, lo, hi in zip(names, th, lower, upper) if v <= lo + 1e-7 or v >= hi - 1e-7
    )
    cov = _lsq_cov(jnp.asarray(p, k.dtype), kp, yp, npts, at_bound, family)
    r = fun(th)
    J = jac(th)
    if loss == "l2":
        res, *_ = kkt_result(0.5 * r @ r, J.T @ r, J.T @ J, th, lower, upper, atol=1e-14, rtol=1e-7)
    else:
        res = _minimax_kkt(r, J, th, lower, upper)
    msg = f"{res.value} (optimiser: {msg})"
    return PopulationFit(
        population=fam.from_natural([jnp.asarray(v, k.dtype) for v in p]),
        stderr={
            n: (0.0 if n in at_bound else float(np.sqrt(cov[i, i]))) for i, n in enumerate(names)
        },
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


# ----------------------------------------------------------------------------- counts fits


def betabinom_zero_loglik(population: BetaPopulation, correct, samples):
    """Per-problem log-likelihood log P(c_i | n_i) of the beta-binomial with zero mass 1 - A.

    log[(1 - A) 1{c = 0} + A C(n, c) B(alpha + c, beta + n - c) / B(alpha, beta)];
    differentiable in alpha, beta, A.  Shapes broadcast.
    """
    a = jnp.asarray(population.alpha)
    b = jnp.asarray(population.beta)
    A = jnp.asarray(population.solvable)
    c = jnp.asarray(correct, dtype=jnp.result_type(a, float))
    n = jnp.asarray(samples, dtype=c.dtype)
    log_choose = gammaln(n + 1) - gammaln(c + 1) - gammaln(n - c + 1)
    # B(a + c, b + n - c) / B(a, b) as log-gamma ratios (no large lgamma differences)
    lbb = log_choose - log_gamma_ratio(a, c) - log_gamma_ratio(b, n - c) + log_gamma_ratio(a + b, n)
    with_zero = jnp.logaddexp(jnp.log1p(-jnp.minimum(A, 1.0)), jnp.log(A) + lbb)
    return jnp.where(c == 0, with_zero, jnp.log(A) + lbb)


def _nll_theta(th, c, n, zero_mass):
    A = jax.nn.sigmoid(th[2]) if zero_mass else jnp.ones_like(th[2])
    pop = BetaPopulation(jnp.exp(th[0]), jnp.exp(th[1]), A)
    return -jnp.sum(betabinom_zero_loglik(pop, c, n))


_nll_vg = jax.jit(jax.value_and_grad(_nll_theta), static_argnums=3)


def _fd_hessian(th, c, n, zero_mass, dtype, h=1e-5):
    """Hessian of the negative log-likelihood in theta by central differences of the exact
    jitted gradient (compiling a second-derivative graph costs more than the fit itself)."""
    g = lambda t: np.asarray(_nll_vg(jnp.asarray(t, dtype), c, n, zero_mass)[1], float)
    H = np.zeros((3, 3))
    for i in range(3):
        e = np.zeros(3)
        e[i] = h
        H[:, i] = (g(th + e) - g(th - e)) / (2 * h)
    return 0.5 * (H + H.T)


_CLO = np.array([np.log(1e-4), np.log(1e-4), -30.0])
_CHI = np.array([np.log(1e4), np.log(1e7), 30.0])


def _moment_start(c, n):
    pos = c > 0
    A0 = float(np.clip(pos.mean() * 1.05, 0.05, 0.99)) if pos.any() else 0.5
    phat = (c / n)[pos] if pos.any() else np.array([0.1])
    m = float(np.clip(phat.mean(), 1e-3, 1 - 1e-3))
    v = float(max(phat.var(), 1e-4))
    s = max(m * (1 - m) / v - 1.0, 0.1)
    return np.log(max(m * s, 1e-2)), np.log(max((1 - m) * s, 1e-2)), A0


def _fit_beta_counts(counts, samples=None, *, zero_mass: bool = True) -> PopulationFit:
    """Maximum-likelihood Beta + point-mass population from per-problem counts
    (``fit_passk_counts(..., method="beta")``).

    Args:
      counts: a :class:`Counts` (e.g. from :func:`load_counts`) or an array of correct counts
        c_i (then pass ``samples``).
      samples: numbers of samples n_i per problem (scalar or array).
      zero_mass: fit A (the fraction of solvable problems); False fixes A = 1.

    Optimises (log alpha, log beta, logit A) with L-BFGS-B on the jitted exact likelihood and
    gradient; standard errors come from the inverse observed information (the Hessian of the
    negative log-likelihood in alpha, beta, A).  If A ends at 1 it is reported at the bound
    with standard error 0 and the other two errors are computed with A fixed.

    Goodness of fit: ``loglik``, ``aic``, and ``rmse`` / ``max_abs_error`` between the fitted
    pass@k and the mean unbiased estimate at k = 1..min(n_i).
    """
    if not isinstance(counts, Counts):
        c_arr = np.asarray(counts)
        n_arr = np.broadcast_to(np.asarray(samples), c_arr.shape)
        counts = make_counts(c_arr, n_arr)
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    c = jnp.asarray(counts.correct, dtype)
    n = jnp.asarray(counts.samples, dtype)
    if not np.any(counts.correct > 0):
        raise ValueError("no problem has a correct sample: alpha and beta are not identifiable")

    la, lb, A0 = _moment_start(counts.correct.astype(float), counts.samples.astype(float))
    starts = [(la, lb, np.log(A0 / (1 - A0))), (np.log(0.5), np.log(2.0), 2.0)]
    best = None
    for x0 in starts:
        sol = so.minimize(
            lambda th: tuple(
                np.asarray(v, float) for v in _nll_vg(jnp.asarray(th, dtype), c, n, zero_mass)
            ),
            np.asarray(x0, float),
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(_CLO, _CHI)),
            options={"maxiter": 1000, "ftol": 1e-14, "gtol": 1e-9},
        )
        if best is None or sol.fun < best.fun:
            best = sol
    th = best.x
    A = float(1.0 / (1.0 + np.exp(-th[2]))) if zero_mass else 1.0
    p = np.array([np.exp(th[0]), np.exp(th[1]), A])
    # Covariance in theta = (log alpha, log beta, logit A), mapped to (alpha, beta, A) by the
    # delta method (exact for the Hessian at a stationary point).
    H = _fd_hessian(th, c, n, zero_mass, dtype)
    g = np.asarray(_nll_vg(jnp.asarray(th, dtype), c, n, zero_mass)[1], float)
    lo, hi = _CLO.copy(), _CHI.copy()
    if not zero_mass:
        lo[2] = hi[2] = th[2]  # A = 1 is held fixed
    res, at_lo, at_hi, _ = kkt_result(float(best.fun), g, H, th, lo, hi, atol=1e-7, rtol=1e-10)
    on_bound = at_lo | at_hi
    if zero_mass and A >= 1 - 1e-6:
        on_bound[2] = True
    at_bound = tuple(nm for nm, b in zip(_NAMES, on_bound) if b)
    free = ~on_bound
    jac = np.array([p[0], p[1], A * (1.0 - A)])
    cov = np.full((3, 3), np.nan)
    cov_t = np.linalg.pinv(H[np.ix_(free, free)])
    cov[np.ix_(free, free)] = jac[free][:, None] * cov_t * jac[free][None, :]
    loglik = -float(best.fun)
    n_par = int(free.sum())

    pop = BetaPopulation(*(jnp.asarray(v, dtype) for v in p))
    stderr = {
        nm: (0.0 if nm in at_bound else float(np.sqrt(cov[i, i]))) for i, nm in enumerate(_NAMES)
    }
    # alpha and beta have no natural bound: ending on the optimiser's limit, or with an error
    # larger than the value, means the data do not determine them (A = 1 is a real value)
    undetermined = [nm for nm in ("alpha", "beta") if nm in at_bound]
    undetermined += [
        nm
        for i, nm in enumerate(_NAMES[:2])
        if nm not in at_bound and not (np.isfinite(stderr[nm]) and stderr[nm] <= p[i])
    ]
    identified = not undetermined
    message = f"{res.value} (optimiser: {best.message})"
    if not identified:
        message = (
            f"the data do not determine {' and '.join(undetermined)}: "
            + ", ".join(
                f"{nm} = {p[i]:.4g}"
                + (" (at the optimiser's bound)" if nm in at_bound else f" +- {stderr[nm]:.3g}")
                for i, nm in enumerate(_NAMES[:2])
                if nm in undetermined
            )
            + f"; {counts.correct.size} problems, {int((counts.correct > 0).sum())} with a "
            "correct sample"
        )
        if res is RESULTS.successful:
            res = RESULTS.not_identified
    kmax = int(np.min(counts.samples))
    ks = np.unique(np.round(np.geomspace(1, kmax, min(kmax, 40))))
    emp = np.asarray(passk_from_counts(c, n, jnp.asarray(ks, dtype)))
    r = np.asarray(passk(pop, jnp.asarray(ks, dtype))) - emp
    return PopulationFit(
        population=pop,
        stderr=stderr,
        cov=cov,
        names=_NAMES,
        rmse=float(np.sqrt(np.mean(r**2))),
        max_abs_error=float(np.max(np.abs(r))),
        n_obs=int(c.size),
        at_bound=at_bound,
        loglik=loglik,
        aic=2 * n_par - 2 * loglik,
        success=res is RESULTS.successful,
        message=message,
        result=res,
        family="beta + zero mass" if zero_mass else "beta",
        why="requested (method='beta')",
        identified=identified,
        extrapolation_note=(
            f"beyond k ~ {int(np.max(counts.samples))} samples pass@k follows the Beta density's "
            "tail near psi = 0 (exponent alpha), not data"
        ),
    )


# ----------------------------------------------------------------------------- majority vote


@dataclasses.dataclass(frozen=True)
class MajorityFit:
    """Majority-vote calibration (App. E-C) of a pass@k population to an MV curve.

    Attributes:
      population: the Beta + point-mass population (from the pass@k fit, not re-tuned).
      p_inf: MV saturation level used for the calibration.
      max_error_weight: c* from Eq. 62.
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
    )

    if isinstance(population, PopulationFit):
        population = population.population
    if not isinstance(curve, Curve):
        raise TypeError("curve must be a Curve (see load_curve / make_curve)")
    n_wrong = int(n_answers) - 1
    if n_wrong < 1:
        raise ValueError(f"n_answers must be >= 2, got {n_answers}")
    A = float(population.solvable)
    p = plateau(curve) if p_inf is None else float(p_inf)
    if not 0.0 < p < A:
        raise ValueError(f"p_inf = {p} must lie in (0, A = {A}) for the Eq. 62 calibration")
    pop = BetaPopulation(*(jnp.asarray(float(v)) for v in (population.alpha, population.beta, A)))
    c_star = float(max_error_weight_from_saturation(pop, p))
    c_star_clipped = min(max(c_star, 1.0 / n_wrong), 1.0)
    lam = float(geometric_lambda(c_star_clipped, n_wrong))
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
