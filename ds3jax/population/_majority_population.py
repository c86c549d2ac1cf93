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
from .._checks import check_int, check_probability, is_concrete
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
    if not is_concrete(error_weights):
        raise ValueError(
            "error_weights must be concrete here (the vote table is built on the host)"
        )
    _majority.check_error_weights(error_weights)
    return np.asarray(error_weights, dtype=float)


def _check_tol(tol) -> float:
    if not isinstance(tol, (int, float, np.floating)) or not 0.0 <= tol < 1.0:
        raise ValueError(f"tol must be a number in [0, 1), got {tol!r}")
    return float(tol)


def mv_vote_table(k: int, error_weights, *, tol: float = 1e-15) -> np.ndarray:
    """Q_y = P(correct answer wins the vote | y of k votes correct), y = 0..k (numpy float64).

    Exact (``ds3jax.mv_log_window``) inside the window where neither tail
    bound is below ``tol``; 0 or 1 outside it, with total error at most ``tol`` in any
    accuracy computed from the table.  ``k`` and ``error_weights`` must be concrete.
    """
    k = _majority._check_k(k)
    c = _check_weights(error_weights)
    tol = _check_tol(tol)
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
        ks = np.asarray(k)
        if ks.ndim != 1 or not ks.size:
            raise ValueError(f"k must be an int or a non-empty 1-D sequence of ints, got {k!r}")
        return jnp.stack([mv_accuracy(population, kk, error_weights, tol=tol) for kk in k], -1)
    k = _majority._check_k(k)
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
        with np.errstate(divide="ignore"):
            log_q = jnp.asarray(np.log(q), dt)
        # the top-level kernel: its derivative identity is exact at psi = 0 and 1
        per_task = _majority._mix(psi, log_q)
        return jnp.sum(jnp.asarray(population.weights, dt) * per_task, axis=-1)
    raise TypeError(f"population must be BetaPopulation or DiscretePopulation, got {population!r}")


def mv_saturation(population: BetaPopulation, max_error_weight):
    """Large-k MV accuracy P_inf = A (1 - I_{r_c}(alpha, beta)), r_c = c*/(1 + c*) (App. E-C).

    ``max_error_weight`` is c* = max_j c_j (the most frequent wrong answer's share of errors).
    """
    check_probability("max_error_weight", max_error_weight, "c*, a share of the errors")
    cs = jnp.asarray(max_error_weight)
    rc = cs / (1.0 + cs)
    return population.solvable * (1.0 - betainc(population.alpha, population.beta, rc))


def max_error_weight_from_saturation(population: BetaPopulation, p_inf):
    """Eq. 62: c* = r_c / (1 - r_c) with r_c = I^{-1}(1 - P_inf / A; alpha, beta).

    ``p_inf`` is the observed MV plateau (must not exceed A).  Differentiable in all inputs
    through the implicit-function derivative of :func:`ds3jax.special.betaincinv`.
    """
    if is_concrete((p_inf, population.solvable)):
        A = np.asarray(population.solvable, float)
        if not np.all((np.asarray(p_inf, float) >= 0) & (np.asarray(p_inf, float) <= A)):
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
    n_wrong = check_int("n_wrong", n_wrong, 1)
    check_probability("lam", lam, "lambda, the spectrum's decay")
    lam = jnp.asarray(lam, jnp.result_type(lam, float))[..., None]
    j = jnp.arange(n_wrong)
    # lambda^0 = 1 written out: the power's derivative j lambda^(j - 1) is 0 * inf at 0
    powers = jnp.where(j == 0, 1.0, lam ** jnp.maximum(j, 1).astype(lam.dtype))
    return _c1(lam, n_wrong) * powers


def _c1(lam, n):
    """c_1 = (1 - lambda) / (1 - lambda^n), with its limit 1/n at lambda = 1.

    With u = 1 - lambda, 1 - lambda^n = n u - C(n, 2) u^2 + C(n, 3) u^3 - ..., and both
    differences cancel near 1, in the value and worse in the derivative. So: four terms of
    that series where n u < 1e-4 (truncation ~(n u)^4 / 120), u / -expm1(n log1p(-u))
    up to lambda = 1/2, the plain ratio below (log1p(-u) has an infinite slope at 0). Each
    branch sees only arguments it is right for, so no branch's gradient is NaN.
    """
    lam = jnp.asarray(lam)
    u = 1.0 - lam
    tiny = n * u < 1e-4
    near = ~tiny & (lam > 0.5)
    ut = jnp.where(tiny, u, 0.0)
    series = 1.0 / (n - n * (n - 1) / 2 * ut * (1 - (n - 2) / 3 * ut * (1 - (n - 3) / 4 * ut)))
    un = jnp.where(near, u, 0.5)
    stable = un / -jnp.expm1(n * jnp.log1p(-un))
    lf = jnp.where(tiny | near, 0.25, lam)
    plain = (1.0 - lf) / (1.0 - lf**n)
    return jnp.where(tiny, series, jnp.where(near, stable, plain))


def geometric_lambda(max_error_weight, n_wrong: int, *, steps: int = 80):
    """Solve (1 - lambda) / (1 - lambda^n_wrong) = c* for lambda in [0, 1) (App. E-C).

    c_1 decreases from 1 (lambda = 0) to 1/n_wrong (lambda -> 1), so a solution exists for
    c* in [1/n_wrong, 1]; concrete values outside are refused, traced ones give the nearer
    end (0, or 1 - 1e-12).  Fixed-step bisection
    (jit/vmap-safe) plus one implicit-function Newton step, so gradients in c* are exact.
    """
    n_wrong = check_int("n_wrong", n_wrong, 1)
    steps = check_int("steps", steps, 1)
    if is_concrete(max_error_weight):
        v = np.asarray(max_error_weight, float)
        if not np.all((v >= 1.0 / n_wrong) & (v <= 1.0)):
            raise ValueError(
                f"max_error_weight must lie in [1/{n_wrong}, 1], got {max_error_weight}"
            )
    cs = jnp.asarray(max_error_weight, jnp.result_type(max_error_weight, float))
    if n_wrong == 1:  # c_1 = 1 whatever lambda is: any lambda fits, 0 is returned
        return jnp.zeros_like(cs)
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
