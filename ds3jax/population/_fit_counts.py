"""Maximum likelihood of the beta-binomial with a zero mass for per-problem counts
(c_i correct of n_i samples; ``fit_passk_counts(..., method="mle")``):

    P(c_i) = (1 - A) 1{c_i = 0} + A C(n_i, c_i) B(alpha + c_i, beta + n_i - c_i) / B(alpha, beta),

the exact marginal of Eq. 58 under binomial sampling.  Returns a :class:`PopulationFit` with
standard errors from the observed information.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize as so
from jax.scipy.special import gammaln

from .._text import counted
from ._data import as_counts
from ._fit import _NAMES, PopulationFit
from ._passk import BetaPopulation, log_gamma_ratio, passk, passk_from_counts
from ._result import RESULTS, kkt_result

__all__ = ["betabinom_zero_loglik"]


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
    (``fit_passk_counts(..., method="mle")``).

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
    counts = as_counts(counts, samples)
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
            + f"; {counted(counts.correct.size, 'problem')}, "
            f"{int((counts.correct > 0).sum())} with a correct sample"
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
