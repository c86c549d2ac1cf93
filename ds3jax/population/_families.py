"""Task-population families through one exact quantity: the mixed moment.

A population is a distribution of per-task success rates psi.  Everything the count fits need
follows from its mixed moment

    M(c, f) = E[psi^c (1 - psi)^f]                                         (c, f >= 0, real)

* likelihood of c correct in n samples:  P(c | n) = C(n, c) M(c, n - c)     (binomial mixture)
* pass@k of the population:              1 - M(0, k)                       (Eq. 56-57)
* pass@k of a task seen with c of n:     1 - M(c, n - c + k) / M(c, n - c)  (posterior mean)

so a family is defined by one function, :func:`log_moment`, computed in log space to k ~ 1e15
and n ~ 1e9 per task.  Families (all frozen pytrees, fields broadcast):

* :class:`BetaPopulation` (Eq. 58): Beta(alpha, beta) with a zero mass 1 - A.
    M = (1 - A) 1{c = 0} + A B(alpha + c, beta + f) / B(alpha, beta).
* :class:`LogitNormalPopulation`: logit psi ~ Normal(mu, sigma) (a Rasch / item-response model
  with normal difficulties), with a zero mass 1 - A.  M is an integral over z = logit psi
  evaluated by Gauss-Hermite quadrature centred on the mode of its (log-concave) integrand, so
  it stays accurate when n ~ 1e6 makes the integrand narrow.
* :class:`DiscretePopulation`: weights on fixed psi nodes (the nonparametric family).
* :class:`PointMass`: every task has psi (0 and 1 are the "never" and "always" atoms).
* :class:`MixturePopulation`: weights over component populations (two-component Beta
  mixtures, a point mass at 1 beside a Beta, ...).

All functions are jit/vmap/grad-able in the population's fields.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, logsumexp

from .._checks import (
    check_fields,
    check_values,
    in_unit_interval,
    is_concrete,
    is_host_value,
    is_placeholder,
    non_negative,
    positive,
)
from .._pytree import parameter_pytree
from ..special._elementary import weighted_logsumexp
from ._passk import BetaPopulation, DiscretePopulation, _float, log_gamma_ratio

__all__ = [
    "LogitNormalPopulation",
    "PointMass",
    "MixturePopulation",
    "log_moment",
    "log_choose",
    "count_loglik",
    "posterior_passk",
    "posterior_log_failure",
]


@parameter_pytree
@dataclasses.dataclass(frozen=True)
class LogitNormalPopulation:
    """logit(psi) ~ Normal(mu, sigma) on a fraction ``solvable`` of tasks; the rest have psi = 0.

    The left tail is log-normal in psi (thinner than any power law), so pass@k approaches its
    limit faster than under a Beta population with the same bulk.
    """

    mu: jax.Array
    sigma: jax.Array
    solvable: jax.Array = 1.0

    def __post_init__(self):
        check_fields(
            self,
            {
                "mu": (np.isfinite, "finite"),
                "sigma": (positive, "positive and finite"),
                "solvable": (in_unit_interval, "in [0, 1]"),
            },
        )


@parameter_pytree
@dataclasses.dataclass(frozen=True)
class PointMass:
    """Every task has success rate ``psi`` (psi = 1: always solved, psi = 0: never)."""

    psi: jax.Array

    def __post_init__(self):
        check_fields(self, {"psi": (in_unit_interval, "in [0, 1]")})


@parameter_pytree
@dataclasses.dataclass(frozen=True)
class MixturePopulation:
    """A mixture: component j (a population) has weight ``weights[..., j]`` (summing to 1)."""

    components: tuple
    weights: jax.Array

    def __post_init__(self):
        if not isinstance(self.components, tuple) or not self.components:
            raise ValueError("MixturePopulation.components must be a non-empty tuple")
        w = self.weights
        if is_host_value(w) and not is_placeholder(self):
            w = np.asarray(w, dtype=float)
            if w.ndim == 0 or w.shape[-1] != len(self.components):
                raise ValueError(
                    f"MixturePopulation.weights must have a last axis of {len(self.components)} "
                    f"(one weight per component), got shape {w.shape}"
                )
            if not (np.all(w >= 0) and np.allclose(w.sum(-1), 1.0, rtol=0, atol=1e-6)):
                raise ValueError(
                    "MixturePopulation.weights must be non-negative and sum to 1 over the "
                    f"last axis, got {self.weights!r}"
                )


def log_choose(n, c):
    """log C(n, c) for real 0 <= c <= n, without cancellation when n >> c."""
    n, c = jnp.broadcast_arrays(_float(n), _float(c))
    small = jnp.minimum(c, n - c)
    return -log_gamma_ratio(n - small + 1.0, small) - gammaln(small + 1.0)


def _xlogy(x, y):
    # x log y with 0 log 0 = 0 (a point mass at psi = 0 or 1)
    safe = jnp.where(x == 0, 1.0, y)
    return jnp.where(x == 0, 0.0, x * jnp.log(safe))


def _xlog1my(x, y):
    safe = jnp.where(x == 0, 0.0, y)
    return jnp.where(x == 0, 0.0, x * jnp.log1p(-safe))


def _with_zero_mass(A, lm, c):
    # (1 - A) 1{c = 0} + A exp(lm), in logs; A = 1 leaves lm unchanged exactly
    A = _float(A)
    log_a = jnp.log(A)
    zero = jnp.log1p(-jnp.minimum(A, 1.0))
    return jnp.where(c == 0, jnp.logaddexp(zero, log_a + lm), log_a + lm)


def _beta_log_moment(pop: BetaPopulation, c, f):
    a, b = _float(pop.alpha), _float(pop.beta)
    # B(a + c, b + f) / B(a, b) = [G(a + c) / G(a)] [G(b + f) / G(b + f + a + c)] [G(a + b) / G(b)]:
    # three log-gamma ratios, none of which subtracts two large numbers when f ~ 1e9
    lm = -log_gamma_ratio(a, c) + log_gamma_ratio(b + f, a + c) - log_gamma_ratio(b, a)
    return _with_zero_mass(pop.solvable, lm, c)


# Gauss-Legendre nodes on [0, 1] for each side of the logit-normal integrand's mode
_GL_N = 32
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_GL_N)
_GL_X, _GL_W = (_GL_X + 1.0) / 2.0, _GL_W / 2.0
_MODE_STEPS = 16  # Newton steps for the mode (it only places the nodes)
_EDGE_STEPS = 20  # Newton steps for each edge
_DROP = 46.0  # integrate where exp(h) > e^-46 of its peak: the rest is < 1e-19 relative


def _logitnormal_log_moment(pop: LogitNormalPopulation, c, f):
    """log int sigmoid(z)^c sigmoid(-z)^f N(z; mu, sigma) dz.

    The log integrand h(z) = -c softplus(-z) - f softplus(z) - (z - mu)^2 / (2 sigma^2) is
    concave.  Safeguarded Newton steps find its mode z* and the two points z_L < z* < z_R
    where h has dropped by 46 (Newton from outside converges monotonically on a concave
    function); 32-node Gauss-Legendre rules on [z_L, z*] and [z*, z_R] integrate exp(h).
    That holds narrow peaks (n ~ 1e9 samples) and skewed ones (no correct sample, wide sigma)
    alike.  The nodes only place the rule (any placement gives the same integral), so they
    carry no gradient; the integrand does."""
    mu, sigma = _float(pop.mu), _float(pop.sigma)
    c, f = _float(c), _float(f)
    mu, sigma, c, f = jnp.broadcast_arrays(mu, sigma, c, f)
    m0, s0 = jax.lax.stop_gradient(mu), jax.lax.stop_gradient(sigma)
    prec = 1.0 / s0**2

    def h_g_c(z):
        p = jax.nn.sigmoid(z)
        h = -c * jax.nn.softplus(-z) - f * jax.nn.softplus(z) - 0.5 * (z - m0) ** 2 * prec
        g = c * (1.0 - p) - f * p - (z - m0) * prec
        return h, g, (c + f) * p * (1.0 - p) + prec

    def mode_step(z, _):
        _, g, cu = h_g_c(z)
        return z + jnp.clip(g / cu, -4.0, 4.0), None

    z0 = jnp.clip(jnp.log((c + 0.5) / (f + 0.5)), -60.0, 60.0)
    w0 = (c + f) / (c + f + prec + 1.0)
    zs, _ = jax.lax.scan(mode_step, w0 * z0 + (1.0 - w0) * m0, None, length=_MODE_STEPS)
    hs, _, cu = h_g_c(zs)
    # h <= h* - (z - z*)^2 / (2 sigma^2), so z* -+ sigma sqrt(2 DROP) lies outside the level set
    reach = s0 * np.sqrt(2.0 * _DROP) * 1.01 + 1e-3
    # start 8 Laplace scales out: a Newton step from inside the level set lands outside it
    # (concavity), and from outside Newton converges monotonically; clamping to the reach
    # bounds the first jump
    start = jnp.minimum(reach, 8.0 / jnp.sqrt(cu))

    def edge(sign):
        def step(z, _):
            h, g, _ = h_g_c(z)
            z = z - (h - (hs - _DROP)) / g
            return zs + sign * jnp.clip(sign * (z - zs), 1e-3, reach), None

        z, _ = jax.lax.scan(step, zs + sign * start, None, length=_EDGE_STEPS)
        return z

    zl = jax.lax.stop_gradient(edge(-1.0))
    zr = jax.lax.stop_gradient(edge(1.0))
    zs = jax.lax.stop_gradient(zs)
    x, w = jnp.asarray(_GL_X, mu.dtype), jnp.asarray(_GL_W, mu.dtype)
    z = jnp.concatenate(
        [zl[..., None] + (zs - zl)[..., None] * x, zs[..., None] + (zr - zs)[..., None] * x],
        axis=-1,
    )
    logw = jnp.concatenate(
        [jnp.log((zs - zl)[..., None] * w), jnp.log((zr - zs)[..., None] * w)], axis=-1
    )
    logf = (
        -c[..., None] * jax.nn.softplus(-z)
        - f[..., None] * jax.nn.softplus(z)
        - 0.5 * ((z - mu[..., None]) / sigma[..., None]) ** 2
        - jnp.log(sigma[..., None])
        - 0.5 * np.log(2.0 * np.pi)
    )
    lm = logsumexp(logf + logw, axis=-1)
    return _with_zero_mass(pop.solvable, lm, c)


def _discrete_log_moment(pop: DiscretePopulation, c, f):
    psi, w = _float(pop.psi), _float(pop.weights)
    c, f = _float(c)[..., None], _float(f)[..., None]
    terms = _xlogy(c, psi) + _xlog1my(f, psi)
    return weighted_logsumexp(terms, w)


def log_moment(population, c, f):
    """log E[psi^c (1 - psi)^f] of a population (see the module doc); c, f >= 0, broadcasting.

    Exact for Beta (log-gamma ratios, ~1e-15 absolute in float64), discrete populations and
    point masses; the logit-normal's quadrature error is ~1e-9 relative or better (checked
    against mpmath for sigma up to 15, c and f up to 1e15).  Differentiable in the fields."""
    for name, v in (("c", c), ("f", f)):
        check_values(name, v, lambda x: x >= 0, ">= 0 (exponents of psi and 1 - psi)")
    if isinstance(population, BetaPopulation):
        return _beta_log_moment(population, c, f)
    if isinstance(population, LogitNormalPopulation):
        return _logitnormal_log_moment(population, c, f)
    if isinstance(population, DiscretePopulation):
        return _discrete_log_moment(population, c, f)
    if isinstance(population, PointMass):
        psi = _float(population.psi)
        return _xlogy(_float(c), psi) + _xlog1my(_float(f), psi)
    if isinstance(population, MixturePopulation):
        w = _float(population.weights)
        parts = [log_moment(comp, c, f) for comp in population.components]
        parts = jnp.stack(jnp.broadcast_arrays(*parts), axis=-1)
        return weighted_logsumexp(parts, w)
    raise TypeError(f"not a population: {population!r}")


def _check_seen(correct, samples):
    # concrete counts only (the fits call these under jit)
    if is_concrete((correct, samples)):
        c, n = np.asarray(correct, float), np.asarray(samples, float)
        if not np.all((c >= 0) & (c <= n) & (n < np.inf)):  # NaN fails too
            raise ValueError(
                "counts must satisfy 0 <= correct <= samples (finite), got correct "
                f"{correct!r} of samples {samples!r}"
            )


def count_loglik(population, correct, samples):
    """log P(c_i | n_i) = log C(n_i, c_i) + log M(c_i, n_i - c_i): per-problem log-likelihood."""
    _check_seen(correct, samples)
    c, n = _float(correct), _float(samples)
    return log_choose(n, c) + log_moment(population, c, n - c)


def posterior_log_failure(population, correct, samples, k):
    """log E[(1 - psi)^k | c of n correct]: log of the chance that k more samples all fail on a
    task seen with c correct of n, under the population as prior."""
    _check_seen(correct, samples)
    check_values("k", k, non_negative, "finite and >= 0 (samples)")
    c, n = _float(correct), _float(samples)
    return log_moment(population, c, n - c + _float(k)) - log_moment(population, c, n - c)


def posterior_passk(population, correct, samples, k):
    """Posterior-mean pass@k of each seen task: 1 - E[(1 - psi)^k | c of n] (shape broadcast)."""
    lf = posterior_log_failure(population, correct, samples, k)
    return -jnp.expm1(jnp.minimum(lf, 0.0))
