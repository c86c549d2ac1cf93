"""Pretraining loss laws (Eq. 1) and training-compute-optimal model/data sizes.

The Chinchilla-form law  L(N, D) = E + A / N^alpha + B / D^beta  (Eq. 1) with named presets,
its exact minimiser on the training-compute line C_tr = 6 N D, and the fixed-ratio rule
D = kappa N (kappa = 20, "Chinchilla rule"). The two are different things: for the rounded
Hoffmann constants used in App. C the exact minimiser has D/N ~ 26-153 over 1e18..1e26 FLOPs,
far from 20 (table in :class:`LossLaw`).
"""

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._checks import check_fields, check_values, positive
from ._pytree import parameter_pytree

__all__ = [
    "LossLaw",
    "ComputeAllocation",
    "loss",
    "training_optimal",
    "training_optimal_ratio",
    "chinchilla_rule",
]


@parameter_pytree
@dataclasses.dataclass(frozen=True)
class LossLaw:
    """Parameters of the pretraining loss law (Eq. 1): L(N, D) = E + A N^-alpha + B D^-beta.

    N is the number of non-embedding parameters, D the number of training tokens; L is in
    nats per token. Every field is a differentiable pytree leaf (scalar or array; arrays
    broadcast, e.g. to evaluate several laws at once). Values given as Python or NumPy
    numbers must all be positive and finite; jax arrays are not checked (fits and bootstrap
    replicates build laws from them), nor are the pytrees JAX rebuilds for gradients and
    tangents, whose entries may be of any sign.

    Presets (``LossLaw.<name>()``) and the D/N ratio of the exact training-compute optimum
    (:func:`training_optimal`) at a few training budgets C_tr = 6 N D [FLOPs]:

    ====================  ======  =====  =======  =======  =======  =====  =====  =====  =====
    preset                E       A      B        alpha    beta     1e18   1e21   1e24   1e26
    ====================  ======  =====  =======  =======  =======  =====  =====  =====  =====
    hoffmann_rounded      1.69    406.4  410.7    0.34     0.28     25.7   50.1   97.7   152.6
    hoffmann_unrounded    1.6934  406.4  410.7    0.33917  0.28491  18.6   33.9   61.8   92.2
    epoch_refit           1.8172  482.01 2085.43  0.3478   0.3658   25.7   21.6   18.1   16.1
    ====================  ======  =====  =======  =======  =======  =====  =====  =====  =====

    ``hoffmann_rounded`` is the law of App. C (and
    Table II); ``hoffmann_unrounded`` has the digits read from the Chinchilla paper's source by
    the Epoch replication; ``epoch_refit`` is that replication's refit (Besiroglu et al. 2024).
    Because alpha != beta the optimal ratio D/N = G^-2 (C/6)^((alpha-beta)/(alpha+beta))
    drifts with compute; only the fixed-ratio rule :func:`chinchilla_rule` has D/N = kappa.
    """

    E: jax.Array | float
    A: jax.Array | float
    B: jax.Array | float
    alpha: jax.Array | float
    beta: jax.Array | float

    def __post_init__(self):
        greater = (lambda a: (a > 0) & (a < float("inf")), "positive and finite")
        check_fields(self, dict.fromkeys(("E", "A", "B", "alpha", "beta"), greater))

    @classmethod
    def hoffmann_rounded(cls):
        """Hoffmann et al. (2022) constants as rounded in the paper's App. C."""
        return cls(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)

    @classmethod
    def hoffmann_unrounded(cls):
        """Hoffmann et al. (2022) constants with the digits recovered by the Epoch replication."""
        return cls(E=1.6934, A=406.4, B=410.7, alpha=0.33917, beta=0.28491)

    @classmethod
    def epoch_refit(cls):
        """Refit of the Chinchilla data by Besiroglu et al. (2024, Epoch AI)."""
        return cls(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)


class ComputeAllocation(NamedTuple):
    """Model size ``N`` [parameters] and training tokens ``D`` for a training budget."""

    N: jax.Array
    D: jax.Array


def loss(law: LossLaw, N, D):
    """Pretraining loss L(N, D) = E + A / N^alpha + B / D^beta (Eq. 1) [nats/token].

    Args:
      law: :class:`LossLaw`.
      N: non-embedding parameters (> 0), array_like.
      D: training tokens (> 0), array_like; broadcasts with ``N``.

    Returns:
      L with the broadcast shape of ``N``, ``D`` and the law's fields. Evaluated as
      E + A exp(-alpha log N) + B exp(-beta log D), safe for N, D up to the float range.
    """
    N = jnp.asarray(N)
    D = jnp.asarray(D)
    return law.E + _power_term(law.A, law.alpha, N) + _power_term(law.B, law.beta, D)


def _power_term(coef, exponent, x):
    """coef / x^exponent, 0 at x = inf with zero derivatives (the inference-only plane's
    D = inf): there log x = inf made the exponent's derivative -inf * 0 = NaN, and forward
    mode carried the NaN into every tangent. NaN stays NaN (a missing value is not infinite)."""
    infinite = x == jnp.inf
    xs = jnp.where(infinite, 1.0, x)
    return jnp.where(infinite, 0.0, coef * jnp.exp(-exponent * jnp.log(xs)))


def _check_compute(C_tr):
    # NaN and negative budgets gave NaN allocations without a word
    check_values("C_tr", C_tr, positive, "positive and finite (training FLOPs)")


def training_optimal(law: LossLaw, C_tr) -> ComputeAllocation:
    """Exact minimiser of the loss law on the training-compute line 6 N D = C_tr.

    Setting dL/dN = 0 along D = C_tr / (6N) gives alpha A N^-alpha = beta B D^-beta, hence
    (Hoffmann et al. 2022, Eq. 4)

        N* = G (C_tr/6)^(beta/(alpha+beta)),  D* = G^-1 (C_tr/6)^(alpha/(alpha+beta)),
        G = (alpha A / (beta B))^(1/(alpha+beta)).

    This is the *law's* optimum; it is not D = 20 N (see :func:`chinchilla_rule` for the
    fixed-ratio rule and the table in :class:`LossLaw` for how far apart they are).
    Closed form, so exact to rounding and differentiable in C_tr and every law parameter.

    Args:
      law: :class:`LossLaw`.
      C_tr: training compute [FLOPs], array_like, > 0 (checked when concrete).

    Returns:
      :class:`ComputeAllocation` ``(N, D)`` with the broadcast shape.
    """
    _check_compute(C_tr)
    log_c6 = jnp.log(jnp.asarray(C_tr) / 6.0)
    s = law.alpha + law.beta
    log_g = (jnp.log(law.alpha * law.A) - jnp.log(law.beta * law.B)) / s
    log_n = log_g + (law.beta / s) * log_c6
    log_d = -log_g + (law.alpha / s) * log_c6
    return ComputeAllocation(N=jnp.exp(log_n), D=jnp.exp(log_d))


def training_optimal_ratio(law: LossLaw, C_tr):
    """Tokens per parameter D*/N* of :func:`training_optimal` at budget ``C_tr`` [FLOPs]."""
    opt = training_optimal(law, C_tr)
    return opt.D / opt.N


def chinchilla_rule(C_tr, kappa=20.0) -> ComputeAllocation:
    """Fixed-ratio allocation D = kappa N on 6 N D = C_tr (the "Chinchilla rule", kappa = 20).

    N = sqrt(C_tr / (6 kappa)), D = kappa N. This is the rule the paper's Chinchilla plane
    (Fig. 8, App. C) uses; it is *not* the exact minimiser of any particular loss law
    (:func:`training_optimal`).

    Args:
      C_tr: training compute [FLOPs], > 0.
      kappa: training tokens per parameter, > 0.

    Returns:
      :class:`ComputeAllocation` ``(N, D)``.
    """
    check_values("kappa", kappa, positive, "positive and finite")
    _check_compute(C_tr)
    C_tr = jnp.asarray(C_tr)
    N = jnp.sqrt(C_tr / (6.0 * jnp.asarray(kappa)))
    return ComputeAllocation(N=N, D=kappa * N)
