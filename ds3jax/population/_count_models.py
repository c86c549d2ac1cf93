"""Parametric task-population families for per-problem counts, and their maximum-likelihood fit.

A :class:`Family` maps an unconstrained-ish parameter vector theta (box-bounded) to a
population (:mod:`._families`); its log-likelihood for counts c_i of n_i samples, with problem
weights v_i (1 for the data, resampling multiplicities in the bootstrap), is

    l(theta) = sum_i v_i log M_theta(c_i, n_i - c_i)       (+ const: the binomial coefficients)

:func:`newton_fit` maximises it with projected, damped Newton steps on exact (autodiff)
gradients and Hessians; it is jittable and vmaps over starts, data splits and bootstrap
replicates.  The families (``FAMILIES``):

The Beta families are parametrised by the logit of the Beta's mean and the log of its
concentration alpha + beta (a flat prior there is flat in log alpha, log beta: the Jacobian
is 1), so that the ridge of sparse counts (mean known, spread not) runs along an axis.

===================  ===================================================  ===========
name                 population                                            parameters
===================  ===================================================  ===========
``beta``             Beta(alpha, beta)                                     2
``beta+zero``        Beta + a mass 1 - A at psi = 0 (Eq. 58)               3
``beta+one``         Beta + a mass at psi = 1 (always-solved tasks)        3
``beta-mixture``     w Beta(a1, b1) + (1 - w) Beta(a2, b2)                 5
``logit-normal``     logit psi ~ Normal(mu, sigma)                         2
``logit-normal+zero`` logit-normal + a mass at psi = 0                     3
===================  ===================================================  ===========
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ._families import LogitNormalPopulation, MixturePopulation, PointMass, log_moment
from ._passk import BetaPopulation

__all__ = ["Family", "FAMILIES", "newton_fit", "family_nll"]

_LA = (np.log(1e-3), np.log(1e3))  # log alpha
_LB = (np.log(1e-3), np.log(1e9))  # log beta
_LOGIT = (-16.0, 16.0)  # logit of a mass or a mixture weight
_MU = (-40.0, 20.0)
_LS = (np.log(0.05), np.log(20.0))  # log sigma


@dataclasses.dataclass(frozen=True)
class Family:
    """A parametric population family: ``build(theta)`` -> population, box bounds on theta,
    starting points, and ``natural(theta)`` -> the reported parameters ``names``."""

    name: str
    names: tuple
    lower: np.ndarray
    upper: np.ndarray
    starts: np.ndarray
    build: Callable
    natural: Callable
    # bounds that are real values of the model (a mass of 0), not artificial optimiser limits
    natural_bounds: tuple = ()
    # labels of the coordinates of theta (default: the parameter names), and which of them
    # are the logit of a mass (a prior uniform in the mass itself suits them)
    axes: tuple = ()
    mass_axes: tuple = ()
    # a base family plus a point mass whose weight's logit t is theta's last coordinate:
    # (base family's name, the mass's psi, whether the mass weighs sigmoid(t) rather than
    # sigmoid(-t)); the grid likelihood is then computed from the base family's
    split: tuple = ()

    @property
    def axis_names(self) -> tuple:
        return self.axes or self.names

    @property
    def dim(self) -> int:
        return len(self.names)


def _mean_conc(th):
    """Beta(alpha, beta) from theta = (logit of the mean, log of alpha + beta): the weakly
    determined direction of sparse counts (the concentration at a known mean) is an axis."""
    return jnp.exp(th[1] + jax.nn.log_sigmoid(th[0])), jnp.exp(th[1] + jax.nn.log_sigmoid(-th[0]))


def _beta(th):
    return BetaPopulation(*_mean_conc(th), jnp.ones((), th.dtype))


def _beta_zero(th):
    return BetaPopulation(*_mean_conc(th), jax.nn.sigmoid(th[2]))


def _beta_one(th):
    w1 = jax.nn.sigmoid(th[2])
    comps = (BetaPopulation(*_mean_conc(th)), PointMass(jnp.ones((), th.dtype)))
    return MixturePopulation(comps, jnp.stack([1.0 - w1, w1]))


def _ab(th):
    # (alpha, beta) of the mean-concentration coordinates, in numpy
    return np.exp(th[1]) / (1.0 + np.exp(-th[0])), np.exp(th[1]) / (1.0 + np.exp(th[0]))


def _beta_mix(th):
    w = jax.nn.sigmoid(th[4])
    comps = (
        BetaPopulation(jnp.exp(th[0]), jnp.exp(th[1])),
        BetaPopulation(jnp.exp(th[2]), jnp.exp(th[3])),
    )
    return MixturePopulation(comps, jnp.stack([w, 1.0 - w]))


def _ln(th):
    return LogitNormalPopulation(th[0], jnp.exp(th[1]), jnp.ones((), th.dtype))


def _ln_zero(th):
    return LogitNormalPopulation(th[0], jnp.exp(th[1]), jax.nn.sigmoid(th[2]))


def _grid(*axes):
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


_SIG = lambda x: 1.0 / (1.0 + np.exp(-x))
_M = (-25.0, 12.0)  # logit of a Beta's mean
_C = (np.log(1e-3), np.log(1e9))  # log of its concentration alpha + beta
_MC_STARTS = _grid([-9.0, -5.0, -2.0, 1.0], np.log([0.3, 10.0, 1e3]))


def _with(starts, extra):
    return np.concatenate(
        [np.concatenate([starts, np.full((len(starts), 1), e)], axis=1) for e in extra]
    )


_MC_AXES = ("mean logit", "log concentration")
_MC_LO, _MC_HI = [_M[0], _C[0]], [_M[1], _C[1]]

FAMILIES = {
    "beta": Family(
        "beta",
        ("alpha", "beta"),
        np.array(_MC_LO),
        np.array(_MC_HI),
        _MC_STARTS,
        _beta,
        lambda th: np.array(_ab(th)),
        axes=_MC_AXES,
    ),
    "beta+zero": Family(
        "beta+zero",
        ("alpha", "beta", "solvable"),
        np.array(_MC_LO + [_LOGIT[0]]),
        np.array(_MC_HI + [_LOGIT[1]]),
        _with(_MC_STARTS, (-1.0, 2.0)),
        _beta_zero,
        lambda th: np.array([*_ab(th), _SIG(th[2])]),
        natural_bounds=("solvable",),
        axes=(*_MC_AXES, "logit solvable"),
        mass_axes=(2,),
        split=("beta", 0.0, False),
    ),
    "beta+one": Family(
        "beta+one",
        ("alpha", "beta", "always"),
        np.array(_MC_LO + [_LOGIT[0]]),
        np.array(_MC_HI + [_LOGIT[1]]),
        _with(_MC_STARTS, (-4.0, -1.0)),
        _beta_one,
        lambda th: np.array([*_ab(th), _SIG(th[2])]),
        natural_bounds=("always",),
        axes=(*_MC_AXES, "logit always"),
        mass_axes=(2,),
        split=("beta", 1.0, True),
    ),
    "beta-mixture": Family(
        "beta-mixture",
        ("alpha1", "beta1", "alpha2", "beta2", "weight1"),
        np.array([_LA[0], _LB[0], _LA[0], _LB[0], _LOGIT[0]]),
        np.array([_LA[1], _LB[1], _LA[1], _LB[1], _LOGIT[1]]),
        _grid(
            np.log([0.1, 1.0]),
            np.log([10.0, 1e3]),
            np.log([0.5, 3.0]),
            np.log([0.3, 3.0]),
            [-1.0, 1.0],
        ),
        _beta_mix,
        lambda th: np.array(
            [np.exp(th[0]), np.exp(th[1]), np.exp(th[2]), np.exp(th[3]), _SIG(th[4])]
        ),
        natural_bounds=("weight1",),
        mass_axes=(4,),
    ),
    "logit-normal": Family(
        "logit-normal",
        ("mu", "sigma"),
        np.array([_MU[0], _LS[0]]),
        np.array([_MU[1], _LS[1]]),
        _grid([-12.0, -6.0, -2.0, 1.0], np.log([0.5, 1.5, 4.0])),
        _ln,
        lambda th: np.array([th[0], np.exp(th[1])]),
        axes=("mu", "log sigma"),
    ),
    "logit-normal+zero": Family(
        "logit-normal+zero",
        ("mu", "sigma", "solvable"),
        np.array([_MU[0], _LS[0], _LOGIT[0]]),
        np.array([_MU[1], _LS[1], _LOGIT[1]]),
        _with(_grid([-10.0, -4.0, 0.0], np.log([0.7, 2.5])), (-1.0, 2.0)),
        _ln_zero,
        lambda th: np.array([th[0], np.exp(th[1]), _SIG(th[2])]),
        natural_bounds=("solvable",),
        axes=("mu", "log sigma", "logit solvable"),
        mass_axes=(2,),
        split=("logit-normal", 0.0, False),
    ),
}


def family_nll(family: Family, theta, c, f, v):
    """-sum_i v_i log M_theta(c_i, f_i) (f = n - c failures); the data's constant omitted."""
    return -jnp.sum(v * log_moment(family.build(theta), c, f))


def newton_fit(family: Family, theta0, c, f, v, iters: int = 40):
    """Projected damped Newton from ``theta0`` (jittable; vmap over starts / data).

    Each step solves with the eigen-clipped Hessian on the free coordinates (a coordinate on
    a bound whose gradient pushes outward is held), tries the steps 1, 1/2, ..., 1/2^11
    (clipped to the box) and keeps the best that lowers the objective.  Returns
    ``(theta, value)``."""
    lo = jnp.asarray(family.lower, theta0.dtype)
    hi = jnp.asarray(family.upper, theta0.dtype)
    obj = lambda th: family_nll(family, th, c, f, v)
    vg = jax.value_and_grad(obj)
    hess = jax.hessian(obj)
    ts = 0.5 ** jnp.arange(12, dtype=theta0.dtype)
    tiny = 1e-9

    def step(carry, _):
        th, f0 = carry
        _, g = vg(th)
        H = hess(th)
        held = ((th <= lo + tiny) & (g > 0)) | ((th >= hi - tiny) & (g < 0))
        free = (~held).astype(th.dtype)
        H = H * free[:, None] * free[None, :] + jnp.diag(1.0 - free)
        ev, U = jnp.linalg.eigh(H)
        ev = jnp.maximum(jnp.abs(ev), 1e-8 * jnp.max(jnp.abs(ev)) + 1e-12)
        d = -U @ ((U.T @ (g * free)) / ev)
        d = jnp.where(jnp.all(jnp.isfinite(d)), d, -g * free)
        cand = jnp.clip(th[None, :] + ts[:, None] * d[None, :], lo, hi)
        fs = jax.vmap(obj)(cand)
        fs = jnp.where(jnp.isfinite(fs), fs, jnp.inf)
        j = jnp.argmin(fs)
        better = fs[j] < f0
        return (jnp.where(better, cand[j], th), jnp.where(better, fs[j], f0)), None

    th0 = jnp.clip(theta0, lo, hi)
    f0 = obj(th0)
    f0 = jnp.where(jnp.isfinite(f0), f0, jnp.inf)
    (th, val), _ = jax.lax.scan(step, (th0, f0), None, length=iters)
    return th, val
