"""Majority voting over a task population (Eq. 60-63, App. E-C).

Each task has per-sample success probability psi; a wrong sample lands on wrong answer j with
probability c_j (independent of psi, so q_j(psi) = (1 - psi) c_j).  With y the number of
correct votes among k, the per-task MV success is sum_y Binom(y; k, psi) Q_y, where
Q_y = P(correct answer wins | y correct votes) depends on (k, c) only (see
``ds3jax._majority``).  Integrating psi over the Beta + point-mass population turns the
binomial into a beta-binomial, which is Eq. 61 regrouped by y:

    Psi_MV(k) = A sum_{y=0}^{k} C(k, y) B(alpha + y, beta + k - y) / B(alpha, beta) Q_y.

No quadrature and no Monte Carlo: the only work is the table Q_0..Q_k.  For large k the
table is exactly 0 or 1 (to below ``tol``) outside a window of width O(sqrt k) around the
threshold y / (k - y) = max_j c_j; the window is found from binomial tail bounds

    Q_y <= P(Bin(k - y, c_max) <= y),       1 - Q_y <= sum_j P(Bin(k - y, c_j) >= y),

and only the window is computed exactly, so k = 1e4 with 9 wrong answers costs seconds.

Saturation (App. E-C): as k -> inf, MV succeeds on a task iff psi > r_c = c*/(1 + c*),
c* = max_j c_j, so P_inf = A (1 - I_{r_c}(alpha, beta)); Eq. 62 inverts this for c*, and
Eq. 63's truncated geometric spectrum c_j = (1 - lambda) lambda^(j-1) / (1 - lambda^(|Y|-1))
is pinned by c_1 = c*.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from .. import _majority
from ..special import betainc
from ..special._betaincinv import betaincinv
from ._passk import BetaPopulation, DiscretePopulation, log_gamma_ratio

__all__ = [
    "mv_accuracy",
    "mv_vote_table",
    "mv_saturation",
    "max_error_weight_from_saturation",
    "geometric_error_weights",
    "geometric_lambda",
]

_FULL_TABLE_MAX_K = 600


def _check_weights(error_weights) -> np.ndarray:
    c = np.asarray(error_weights, dtype=float)
    if c.ndim != 1 or c.size < 1:
        raise ValueError(f"error_weights must be a 1-D array (one per wrong answer), got {c.shape}")
    if np.any(c < 0) or not np.isclose(c.sum(), 1.0, rtol=1e-6, atol=1e-9):
        raise ValueError(f"error_weights must be non-negative and sum to 1, got sum {c.sum()!r}")
    return c


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer number of votes, got {k!r}")
    return int(k)


def mv_vote_table(k: int, error_weights, *, tol: float = 1e-15) -> np.ndarray:
    """Q_y = P(correct answer wins the vote | y of k votes correct), y = 0..k (numpy float64).

    Exact (``ds3jax.mv_log_window``) inside the window where neither tail
    bound is below ``tol``; 0 or 1 outside it, with total error at most ``tol`` in any
    accuracy computed from the table.  ``k`` and ``error_weights`` must be concrete.
    """
    k = _check_k(k)
    c = _check_weights(error_weights)
    if k <= _FULL_TABLE_MAX_K:
        return np.exp(np.asarray(_majority.mv_log_table(k, c), dtype=float))
    cpos = c[c > 0]
    y = np.arange(k + 1)
    n = k - y
    up = scipy.stats.binom.cdf(y, n, cpos.max())
    lose = np.sum(scipy.stats.binom.sf(y[:, None] - 1, n[:, None], cpos[None, :]), axis=1)
    q = np.where(lose < tol, 1.0, 0.0)
    # exact closed forms at the edges (as in ds3jax._majority)
    q[y > n] = 1.0
    even = k % 2 == 0
    if even:
        q[k // 2] = 1.0 - 0.5 * np.sum(cpos ** (k // 2))
    y_first = -(-k // (cpos.size + 1))
    q[:y_first] = 0.0
    need = np.nonzero((up >= tol) & (lose >= tol))[0]
    lo = max(int(need.min()) if need.size else k, y_first)
    hi = min(int(need.max()) if need.size else -1, -(-k // 2) - 1)
    if lo <= hi:
        # round the window outwards so nearby weights share a compilation
        lo = max(y_first, lo - lo % 16)
        hi = min(-(-k // 2) - 1, hi + (-hi - 1) % 16)
        mid = _majority.mv_log_window(
            k, jnp.asarray(c, jnp.float64 if jax.config.jax_enable_x64 else None), lo, hi
        )
        q[lo : hi + 1] = np.exp(np.asarray(mid, dtype=float))
    return q


def _log_betabinom(k, alpha, beta):
    y = jnp.arange(k + 1, dtype=alpha.dtype)
    log_choose = (
        jax.scipy.special.gammaln(k + 1.0)
        - jax.scipy.special.gammaln(y + 1.0)
        - jax.scipy.special.gammaln(k - y + 1.0)
    )
    # B(alpha + y, beta + k - y) / B(alpha, beta) without large lgamma differences
    return (
        log_choose
        - log_gamma_ratio(alpha[..., None], y)
        - log_gamma_ratio(beta[..., None], k - y)
        + log_gamma_ratio((alpha + beta)[..., None], jnp.asarray(float(k), alpha.dtype))
    )


def _log_binom(k, psi):
    y = jnp.arange(k + 1, dtype=psi.dtype)
    p = psi[..., None]
    lp = jnp.where(y > 0, y * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)
    lp = jnp.where((y > 0) & (p <= 0), -jnp.inf, lp)
    lq = jnp.where(y < k, (k - y) * jnp.log1p(-jnp.where(p < 1, p, 0.0)), 0.0)
    lq = jnp.where((y < k) & (p >= 1), -jnp.inf, lq)
    lc = (
        jax.scipy.special.gammaln(k + 1.0)
        - jax.scipy.special.gammaln(y + 1.0)
        - jax.scipy.special.gammaln(k - y + 1.0)
    )
    return lc + lp + lq


def mv_accuracy(population, k, error_weights, *, tol: float = 1e-15):
    """Majority-vote accuracy of a task population, Psi_MV(k) (Eq. 60-61), exact.

    Args:
      population: :class:`BetaPopulation` (Eq. 61 via the beta-binomial) or
        :class:`DiscretePopulation` (sum_i w_i psi_i^MV(k), Eq. 60 with a discrete f).
      k: number of votes: a positive int, or a sequence of ints (result gets a last axis).
      error_weights: concrete probabilities c_j over the wrong answers (sum 1).
      tol: bound on the error from treating far-tail table entries as exactly 0 or 1.

    Random tie-breaking among all answers with the top count.  Differentiable in the
    population parameters (alpha, beta, A, psi, w); not in ``error_weights``.  Float64
    accuracy ~1e-13 relative (the table and the lgamma-based weights).
    """
    if isinstance(k, (list, tuple, np.ndarray)):
        return jnp.stack([mv_accuracy(population, int(kk), error_weights, tol=tol) for kk in k], -1)
    k = _check_k(k)
    q = mv_vote_table(k, error_weights, tol=tol)
    if isinstance(population, BetaPopulation):
        alpha = jnp.asarray(population.alpha)
        dt = jnp.result_type(alpha, float)
        alpha = alpha.astype(dt)
        beta = jnp.asarray(population.beta, dt)
        A = jnp.asarray(population.solvable, dt)
        alpha, beta = jnp.broadcast_arrays(alpha, beta)
        w = jnp.exp(_log_betabinom(k, alpha, beta))
        return A * jnp.sum(w * jnp.asarray(q, dt), axis=-1)
    if isinstance(population, DiscretePopulation):
        psi = jnp.asarray(population.psi)
        dt = jnp.result_type(psi, float)
        psi = psi.astype(dt)
        per_task = jnp.sum(jnp.exp(_log_binom(k, psi)) * jnp.asarray(q, dt), axis=-1)
        return jnp.sum(jnp.asarray(population.weights, dt) * per_task, axis=-1)
    raise TypeError(f"population must be BetaPopulation or DiscretePopulation, got {population!r}")


def mv_saturation(population: BetaPopulation, max_error_weight):
    """Large-k MV accuracy P_inf = A (1 - I_{r_c}(alpha, beta)), r_c = c*/(1 + c*) (App. E-C).

    ``max_error_weight`` is c* = max_j c_j (the most frequent wrong answer's share of errors).
    """
    cs = jnp.asarray(max_error_weight)
    rc = cs / (1.0 + cs)
    return population.solvable * (1.0 - betainc(population.alpha, population.beta, rc))


def max_error_weight_from_saturation(population: BetaPopulation, p_inf):
    """Eq. 62: c* = r_c / (1 - r_c) with r_c = I^{-1}(1 - P_inf / A; alpha, beta).

    ``p_inf`` is the observed MV plateau (must not exceed A).  Differentiable in all inputs
    through the implicit-function derivative of :func:`ds3jax.special.betaincinv`.
    """
    if isinstance(p_inf, (int, float)) and isinstance(population.solvable, (int, float)):
        if not 0 <= p_inf <= population.solvable:
            raise ValueError(f"p_inf must lie in [0, A = {population.solvable}], got {p_inf}")
    rc = betaincinv(
        population.alpha, population.beta, 1.0 - jnp.asarray(p_inf) / population.solvable
    )
    return rc / (1.0 - rc)


def geometric_error_weights(lam, n_wrong: int):
    """Eq. 63: c_j = (1 - lambda) lambda^(j-1) / (1 - lambda^n_wrong), j = 1..n_wrong.

    ``lam`` in [0, 1] (lambda = 1 gives the uniform spectrum); result has a last axis of
    length ``n_wrong`` (= |Y| - 1).
    """
    lam = jnp.asarray(lam, jnp.result_type(lam, float))[..., None]
    j = jnp.arange(n_wrong, dtype=lam.dtype)
    near_one = jnp.abs(1.0 - lam) < 1e-8
    safe = jnp.where(near_one, 0.5, lam)
    c = (1.0 - safe) * safe**j / (1.0 - safe**n_wrong)
    return jnp.where(near_one, 1.0 / n_wrong, c)


def _c1(lam, n):
    return (1.0 - lam) / (1.0 - lam**n)


def geometric_lambda(max_error_weight, n_wrong: int, *, steps: int = 80):
    """Solve (1 - lambda) / (1 - lambda^n_wrong) = c* for lambda in [0, 1) (App. E-C).

    c_1 decreases from 1 (lambda = 0) to 1/n_wrong (lambda -> 1), so a solution exists for
    c* in [1/n_wrong, 1]; outside, the result is clipped to 0 or 1.  Fixed-step bisection
    (jit/vmap-safe) plus one implicit-function Newton step, so gradients in c* are exact.
    """
    if isinstance(max_error_weight, (int, float)) and not 1.0 / n_wrong <= max_error_weight <= 1.0:
        raise ValueError(f"max_error_weight must lie in [1/{n_wrong}, 1], got {max_error_weight}")
    cs = jnp.asarray(max_error_weight, jnp.result_type(max_error_weight, float))
    target = jax.lax.stop_gradient(cs)

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        high = _c1(mid, n_wrong) > target  # c_1 too large -> lambda must grow
        return jnp.where(high, mid, lo), jnp.where(high, hi, mid)

    lo, hi = jax.lax.fori_loop(0, steps, body, (jnp.zeros_like(cs), jnp.full_like(cs, 1.0 - 1e-12)))
    lam0 = jax.lax.stop_gradient(0.5 * (lo + hi))
    # implicit derivative: d lambda / d c* = 1 / (d c_1 / d lambda)
    slope = jnp.vectorize(jax.grad(lambda x: _c1(x, n_wrong)))(lam0)
    return lam0 + (cs - jax.lax.stop_gradient(cs)) / slope
