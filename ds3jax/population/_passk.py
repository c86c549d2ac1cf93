"""pass@k (best-of-k with an oracle verifier) over a population of tasks (Sec. III-D, App. E-A).

A task with per-sample success probability psi is solved by at least one of k independent
samples with probability 1 - (1 - psi)^k.  Averaging over the task population f(psi):

    Psi_BoN(k) = 1 - int_0^1 (1 - psi)^k f(psi) dpsi                       (Eq. 56-57)

For the Beta + point-mass population f = (1 - A) delta(psi) + A Beta(psi; alpha, beta):

    Psi_BoN(k) = A (1 - B(alpha, beta + k) / B(alpha, beta))                 (Eq. 58-59)
               ~ A (1 - Gamma(alpha + beta) / Gamma(beta) k^-alpha),  k -> inf  (App. E-A)

The beta ratio is evaluated as a log-gamma ratio that never subtracts two large lgamma
values, so it stays accurate for k up to 1e15 and beyond.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

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
from ..special import betainc
from ..special._elementary import weighted_logsumexp

__all__ = [
    "BetaPopulation",
    "DiscretePopulation",
    "passk",
    "log_failure",
    "passk_asymptote",
    "passk_unbiased",
    "passk_from_counts",
    "log_gamma_ratio",
    "population_pdf",
    "population_cdf",
]


@parameter_pytree
@dataclasses.dataclass(frozen=True)
class BetaPopulation:
    """Task population f(psi) = (1 - A) delta(psi) + A Beta(psi; alpha, beta)  (Eq. 58).

    Fields (arrays or floats, broadcasting against each other):
      alpha, beta: Beta shape parameters (> 0).  alpha is the large-k power-law exponent.
      solvable: A in [0, 1], the fraction of tasks with non-zero success probability.
    """

    alpha: jax.Array
    beta: jax.Array
    solvable: jax.Array = 1.0

    def __post_init__(self):
        check_fields(
            self,
            {
                "alpha": (positive, "positive and finite"),
                "beta": (positive, "positive and finite"),
                "solvable": (in_unit_interval, "in [0, 1]"),
            },
        )


@parameter_pytree
@dataclasses.dataclass(frozen=True)
class DiscretePopulation:
    """A finite task population: task i has success probability psi[..., i], weight weights[..., i].

    The weights are the task frequencies phi (Eq. 56) and sum to 1 over the last axis
    (checked with the shapes for Python and NumPy values, like the entries' ranges).
    """

    psi: jax.Array
    weights: jax.Array

    def __post_init__(self):
        check_fields(
            self,
            {
                "psi": (in_unit_interval, "in [0, 1]"),
                "weights": (non_negative, "non-negative and finite"),
            },
        )
        if is_placeholder(self) or not (is_host_value(self.psi) and is_host_value(self.weights)):
            return
        psi, w = np.asarray(self.psi, float), np.asarray(self.weights, float)
        if psi.ndim < 1 or psi.shape[-1] < 1 or psi.shape != w.shape:
            raise ValueError(
                "DiscretePopulation needs psi and weights of one shape with at least one task "
                f"on the last axis, got {psi.shape} and {w.shape}"
            )
        if not np.allclose(w.sum(-1), 1.0, rtol=1e-6, atol=1e-9):
            raise ValueError(
                f"DiscretePopulation.weights must sum to 1 over the tasks, got {w.sum(-1)}"
            )


def _float(x):
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return x


# Stirling remainder lgamma(z) - [(z - 1/2) log z - z + log(2 pi)/2]
#   = sum_j B_2j / (2j (2j - 1) z^(2j - 1)); six terms: error < 1e-15 for z >= 10.
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)
_SHIFT = 10


def _stirling_remainder(z):
    w = 1.0 / z
    w2 = w * w
    acc = jnp.full_like(z, _STIRLING[-1])
    for c in _STIRLING[-2::-1]:
        acc = acc * w2 + c
    return w * acc


def log_gamma_ratio(z, a):
    """log Gamma(z) - log Gamma(z + a) for z > 0, a >= 0, without cancellation.

    Shifts z up by 10 (Gamma(z) = Gamma(z + 10) / prod_i (z + i)) and uses Stirling's series
    with the O(z log z) terms cancelled analytically:

        lgamma(z) - lgamma(z + a) = -a log z - (z + a - 1/2) log1p(a / z) + a
                                    + Delta(z) - Delta(z + a),      z >= 10.

    The absolute error is ~1e-15 (float64) for any z, a, so exp of it is accurate to ~1e-15
    relative even when both lgamma values are ~1e16.  Differentiable in z and a.
    """
    z, a = jnp.broadcast_arrays(_float(z), _float(a))
    zs = z + _SHIFT
    shift = sum(jnp.log1p(a / (z + i)) for i in range(_SHIFT))
    core = (
        -a * jnp.log(zs)
        - (zs + a - 0.5) * jnp.log1p(a / zs)
        + a
        + _stirling_remainder(zs)
        - _stirling_remainder(zs + a)
    )
    return core + shift


def _beta_log_failure(pop: BetaPopulation, k):
    """log B(alpha, beta + k) / B(alpha, beta): log P(all k samples fail | solvable task)."""
    alpha, beta, k = _float(pop.alpha), _float(pop.beta), _float(k)
    return log_gamma_ratio(beta + k, alpha) - log_gamma_ratio(beta, alpha)


def _check_k(k):
    # k < 0 gave pass@k < 0, k = inf NaN; the k -> inf limit is the solvable share
    check_values("k", k, non_negative, "finite and >= 0 (samples)")


def passk(population, k):
    """pass@k of a task population: Psi_BoN(k) (Eq. 57 / Eq. 59).

    Args:
      population: :class:`BetaPopulation` (closed form, Eq. 59), :class:`DiscretePopulation`
        (Eq. 56: sum_i w_i (1 - (1 - psi_i)^k)), or any population of :mod:`._families`
        (logit-normal, point mass, mixtures): 1 - E[(1 - psi)^k] from its mixed moment.
      k: number of samples (> 0, real values allowed), broadcasting against the population.

    Returns the probability that at least one of k samples is correct, averaged over tasks.
    Float64 accuracy ~1e-15 relative for every k (the k -> inf tail 1 - Psi is also accurate:
    see :func:`log_failure`).  Float32 ~1e-6.  A concrete k must be finite and >= 0.
    """
    _check_k(k)
    if isinstance(population, BetaPopulation):
        a = _float(population.solvable)
        return -a * jnp.expm1(_beta_log_failure(population, k))
    if isinstance(population, DiscretePopulation):
        psi, w = _float(population.psi), _float(population.weights)
        k = _float(k)[..., None]
        return jnp.sum(w * -jnp.expm1(k * jnp.log1p(-psi)), axis=-1)
    return -jnp.expm1(_log_failure(population, k))


def log_failure(population, k):
    """log(1 - pass@k): log of the expected fraction of tasks with no correct sample in k.

    For the Beta + point mass, log[(1 - A) + A B(alpha, beta + k) / B(alpha, beta)], accurate
    when the failure probability is tiny (A = 1, k large).
    """
    _check_k(k)
    return _log_failure(population, k)


def _log_failure(population, k):
    if isinstance(population, BetaPopulation):
        a = _float(population.solvable)
        lf = _beta_log_failure(population, k)
        return jnp.logaddexp(jnp.log1p(-a), jnp.log(a) + lf)
    if isinstance(population, DiscretePopulation):
        psi, w = _float(population.psi), _float(population.weights)
        k = _float(k)[..., None]
        return weighted_logsumexp(k * jnp.log1p(-psi), w)
    from ._families import log_moment

    return log_moment(population, 0.0, k)


def passk_asymptote(population: BetaPopulation, k):
    """Large-k power law of Eq. 59 (App. E-A): A (1 - C k^-alpha), C = G(alpha+beta) / G(beta).

    The relative error of the failure term is O(1/k); use :func:`passk` for exact values.
    """
    alpha, beta, a = _float(population.alpha), _float(population.beta), _float(population.solvable)
    log_c = -log_gamma_ratio(beta, alpha)  # lgamma differences cancel at large beta
    return a * (1.0 - jnp.exp(log_c - alpha * jnp.log(_float(k))))


def passk_unbiased(correct, samples, k):
    """Unbiased pass@k estimate of one problem from c correct out of n samples.

        pass@k = 1 - C(n - c, k) / C(n, k)           (k <= n; 1 when n - c < k)

    computed as exp of log-gamma ratios, so n up to 1e9 and k near n lose nothing.
    Arguments broadcast; ``k`` must not exceed ``samples``, and ``correct`` and ``samples``
    must be whole numbers (checked when the arguments are concrete: outside ``jit``, here
    and in :func:`passk_from_counts`; ``k`` may be fractional).
    """
    if is_concrete((correct, samples, k)):
        c_, n_, k_ = (np.asarray(v) for v in (correct, samples, k))
        if not np.all((k_ >= 1) & (k_ <= n_)):  # NaN fails too
            raise ValueError(
                "k must satisfy 1 <= k <= samples for the unbiased pass@k estimator (it "
                f"does not exist beyond the data); got k from {k_.min():g} to {k_.max():g} "
                f"and samples from {n_.min():g}"
            )
        if not np.all((c_ >= 0) & (c_ <= n_)):
            raise ValueError("correct must satisfy 0 <= correct <= samples")
        for name, v in (("correct", c_), ("samples", n_)):
            frac = v[v != np.round(v)]
            if frac.size:
                raise ValueError(
                    f"{name} must be whole counts (the unbiased estimator 1 - C(n - c, k) / "
                    f"C(n, k) counts successes), got {frac[0]:g}"
                )
    c, n, k = jnp.broadcast_arrays(_float(correct), _float(samples), _float(k))
    fail = n - c
    ok = fail >= k
    safe_fail = jnp.where(ok, fail, k)
    # C(n-c, k)/C(n, k) = [Gamma(n-c+1)/Gamma(n-c-k+1)] [Gamma(n-k+1)/Gamma(n+1)]
    log_ratio = -log_gamma_ratio(safe_fail - k + 1, k) + log_gamma_ratio(n - k + 1, k)
    return jnp.where(ok, -jnp.expm1(log_ratio), 1.0)


def passk_from_counts(correct, samples, k):
    """Mean unbiased pass@k over problems: correct, samples of shape [P]; k of any shape."""
    if 0 in np.shape(correct):
        raise ValueError("passk_from_counts: no problems (correct is empty)")
    c = _float(correct)
    n = _float(samples)
    kk = _float(k)
    return jnp.mean(passk_unbiased(c, n, kk[..., None]), axis=-1)


def population_pdf(population: BetaPopulation, psi):
    """Density of the continuous part, A Beta(psi; alpha, beta); the atom 1 - A sits at psi = 0."""
    alpha, beta, a = _float(population.alpha), _float(population.beta), _float(population.solvable)
    psi = _float(psi)
    logpdf = jax.scipy.stats.beta.logpdf(psi, alpha, beta)
    return a * jnp.exp(logpdf)


def population_cdf(population: BetaPopulation, psi):
    """P(task success rate <= psi) = (1 - A) + A I_psi(alpha, beta); 0 below psi = 0 and 1
    from psi = 1 on."""
    alpha, beta, a = _float(population.alpha), _float(population.beta), _float(population.solvable)
    psi = _float(psi)
    inside = (1.0 - a) + a * betainc(alpha, beta, jnp.clip(psi, 0.0, 1.0))
    return jnp.where(psi < 0, 0.0, jnp.where(psi >= 1, 1.0, inside))
