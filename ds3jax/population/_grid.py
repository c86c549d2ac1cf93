"""Nonparametric task population: a smooth mixing distribution on a grid of logit psi.

The success rate of a task is psi = sigmoid(z); the population puts weight w_j on the grid
node z_j (z from -36 to 16 in steps of h = 0.5, so psi from 2e-16 to 1 - 1e-7):

    w = softmax(theta),   P(c_i | n_i) = sum_j w_j Binom(c_i; n_i, sigmoid(z_j)),
    pass@k = sum_j w_j (1 - (1 - psi_j)^k) = sum_j w_j (1 - exp(-k softplus(z_j)))   (Eq. 56)

theta maximises the penalised log-likelihood

    sum_i v_i log P(c_i | n_i) - (lam / 2) h sum_j (Delta^2 theta_j / h^2)^2

(v_i: problem weights, 1 for the data, resampling counts in the bootstrap).  The penalty on
the curvature of the log-density in z makes the density continue where the data say nothing
(success rates far below 1 / n_i) along a straight line in (z, log w), i.e. as a power law
psi^gamma, the same tail shape as a Beta density near 0 (App. E-A) but with a slope learnt
from the data.  lam is chosen by held-out likelihood (see ``_select``).

All arrays here are jittable; the solver is a damped Newton method with an analytic Hessian.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, logsumexp

from ._passk import DiscretePopulation
from ._result import kkt_result

__all__ = [
    "GRID_Z",
    "GRID_H",
    "grid_population",
    "loglik_matrix",
    "grid_fit",
    "grid_newton",
    "grid_result",
]

GRID_H = 1.0
GRID_Z = np.arange(-36.0, 16.0 + 1e-9, GRID_H)
# node 0 is an atom at psi = 0 (unsolvable tasks), outside the smoothness penalty


def grid_psi(dtype):
    """Support of the grid family: psi = 0 (the atom), then sigmoid(z_j)."""
    return jnp.concatenate([jnp.zeros(1, dtype), jax.nn.sigmoid(jnp.asarray(GRID_Z, dtype))])


def grid_population(theta) -> DiscretePopulation:
    """The :class:`DiscretePopulation` with weights softmax(theta) on :func:`grid_psi`
    (theta: [..., G + 1], the atom at psi = 0 first)."""
    theta = jnp.asarray(theta)
    if not jnp.issubdtype(theta.dtype, jnp.floating):
        theta = theta.astype(jnp.result_type(float))
    if theta.ndim < 1 or theta.shape[-1] != GRID_Z.size + 1:
        raise ValueError(
            f"theta needs {GRID_Z.size + 1} entries on its last axis (the atom at 0 and the "
            f"grid), got shape {theta.shape}"
        )
    return DiscretePopulation(grid_psi(theta.dtype), jax.nn.softmax(theta, axis=-1))


def loglik_matrix(correct, samples):
    """log Binom(c_i; n_i, psi_j) on :func:`grid_psi`, shape [P, G + 1]; log(1 - psi) =
    -softplus(z) is exact for psi near 1 and near 0, so n_i up to 1e9 loses nothing."""
    c = jnp.asarray(correct)
    n = jnp.asarray(samples, c.dtype)
    z = jnp.asarray(GRID_Z, c.dtype)
    log_choose = gammaln(n + 1) - gammaln(c + 1) - gammaln(n - c + 1)
    grid = (
        log_choose[:, None]
        - c[:, None] * jax.nn.softplus(-z)[None, :]
        - (n - c)[:, None] * jax.nn.softplus(z)[None, :]
    )
    atom = jnp.where(c == 0, 0.0, -jnp.inf)[:, None]
    return jnp.concatenate([atom, grid], axis=1)


def _penalty_matrix(G, dtype):
    # G counts the atom (node 0), which the curvature penalty leaves out
    D = np.diff(np.eye(G - 1), 2, axis=0) / GRID_H**2
    Q = np.zeros((G, G))
    Q[1:, 1:] = GRID_H * D.T @ D
    return jnp.asarray(Q, dtype)


def _objective(theta, M, v, lam, Q):
    lw = jax.nn.log_softmax(theta)
    ll = v @ logsumexp(lw[None, :] + M, axis=1)
    # the last term fixes the softmax's free shift (it does not change w)
    return -ll + 0.5 * lam * theta @ Q @ theta + 0.5 * jnp.mean(theta) ** 2


def _grad_hess(theta, M, v, lam, Q):
    """Gradient and Hessian of the penalised negative log-likelihood, analytically.

    With w = softmax(theta) and responsibilities r_ij = w_j exp(M_ij) / sum_l w_l exp(M_il):
    grad = V w - sum_i v_i r_i + penalty,  Hess = V (diag w - w w^T) - diag(sum_i v_i r_i)
    + R^T diag(v) R + penalty (V = sum_i v_i)."""
    G = theta.shape[-1]
    lw = jax.nn.log_softmax(theta)
    w = jnp.exp(lw)
    R = jax.nn.softmax(lw[None, :] + M, axis=1)
    V = jnp.sum(v)
    s = v @ R
    gauge = jnp.full((G, G), 1.0 / G**2, theta.dtype)
    g = V * w - s + lam * Q @ theta + jnp.mean(theta) / G
    H = V * (jnp.diag(w) - jnp.outer(w, w)) - jnp.diag(s) + (R * v[:, None]).T @ R
    return g, H + lam * Q + gauge


def grid_newton(theta0, M, v, lam, iters: int = 60, exact: bool = True):
    """Damped Newton iterations from theta0 (jittable, vmappable).

    ``exact``: eigen-decompose the Hessian and clip negative curvature (robust, for single
    fits); otherwise a Cholesky solve with a gradient-step fallback (cheap, for warm-started
    bootstrap replicates).  Each step takes the largest of 1, 1/2, ..., 1/2^11 that meets the
    Armijo condition, or stays put."""
    dtype = theta0.dtype
    Q = _penalty_matrix(theta0.shape[-1], dtype)
    ts = 0.5 ** jnp.arange(12, dtype=dtype)
    f = lambda th: _objective(th, M, v, lam, Q)

    def step(th, _):
        g, H = _grad_hess(th, M, v, lam, Q)
        if exact:
            ev, U = jnp.linalg.eigh(H)
            # |ev|: the softmax makes the objective non-convex in theta; a negative eigenvalue
            # floored at ~0 would send the step to infinity along its direction
            ev = jnp.maximum(jnp.abs(ev), 1e-12 * jnp.max(jnp.abs(ev)) + 1e-14)
            d = -U @ ((U.T @ g) / ev)
            # a step of at most 4 in any theta (a factor e^4 in a weight): near-flat directions,
            # such as a weight on its way to 0, move fast without jumping out of range
            d = d * jnp.minimum(1.0, 4.0 / (jnp.max(jnp.abs(d)) + 1e-30))
        else:
            L = jnp.linalg.cholesky(H + 1e-9 * jnp.trace(H) / H.shape[0] * jnp.eye(H.shape[0]))
            d = -jax.scipy.linalg.cho_solve((L, True), g)
            d = jnp.where(jnp.all(jnp.isfinite(d)), d, -g / (jnp.max(jnp.abs(jnp.diag(H))) + 1))
        f0 = f(th)
        fs = jax.vmap(lambda t: f(th + t * d))(ts)
        ok = fs <= f0 + 1e-4 * ts * (g @ d)
        t = jnp.where(jnp.any(ok), ts[jnp.argmax(ok)], 0.0)
        return th + t * d, None

    th, _ = jax.lax.scan(step, theta0, None, length=iters)
    return th


@jax.jit
def _fit_jit(M, v, lam):
    th0 = jnp.zeros(M.shape[1], M.dtype)
    # more steps than the held-out scores take (60): the fit whose result is reported should
    # meet the optimality check, and weights on their way to 0 take capped steps to get there
    return grid_newton(th0, M, v, lam, iters=200)


def grid_fit(M, v, lam):
    """Penalised maximum likelihood on a log-likelihood matrix M (see :func:`loglik_matrix`).

    Returns ``(theta, objective, gradient, hessian)`` (numpy) for :func:`grid_result`."""
    lam = jnp.asarray(lam, M.dtype)
    th = _fit_jit(M, v, lam)
    Q = _penalty_matrix(M.shape[1], M.dtype)
    g, H = _grad_hess(th, M, v, lam, Q)
    val = _objective(th, M, v, lam, Q)
    return np.asarray(th), float(val), np.asarray(g), np.asarray(H)


def grid_result(theta, value, grad, hess):
    """Optimality of a :func:`grid_fit`: ``(RESULTS, Newton decrement)``.

    The atom at psi = 0 is the one weight the penalty leaves free, so where the data want it
    at 0 its theta runs to -inf: with weight below 1e-6 it counts as on its bound (the
    boundary w = 0 of the simplex), where the gradient has to point outward."""
    theta = np.asarray(theta, float)
    lower = np.full(theta.shape, -np.inf)
    if np.exp(theta[0] - np.logaddexp.reduce(theta)) < 1e-6:  # the atom's softmax weight
        lower[0] = theta[0]
    res, _, _, dec = kkt_result(value, grad, hess, theta, lower, np.inf, atol=1e-6)
    return res, dec


def grid_loglik(theta, M):
    """Per-problem marginal log-likelihood log sum_j w_j exp(M_ij), shape [P]."""
    return logsumexp(jax.nn.log_softmax(theta)[None, :] + M, axis=1)
