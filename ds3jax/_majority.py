"""Exact majority-vote success probability (Eq. 38 / App. E-C), by dynamic programming.

k i.i.d. samples, each the correct answer with probability ``p`` and wrong answer j with
probability ``(1 - p) c_j``; the vote is won when the correct answer's count is maximal,
ties broken uniformly at random.  Conditioning on the correct count ``y`` (so ``n = k - y``
samples are wrong, multinomial over ``c``):

    psi = sum_y Binom(y; k, p) Q_y,
    Q_y = E[1{max_j W_j <= y} / (1 + #{j : W_j = y}) | n]
        = int_0^1 n! [z^n] prod_j (e_{y-1}(c_j z) + u (c_j z)^y / y!) du,

with ``e_{y-1}`` the exponential series truncated after degree y - 1 (1/(1+s) = int u^s du).
The table Q_0..Q_k depends on (k, c) only, never on p.  The coefficient [z^n] of the
product is extracted by a discrete Fourier transform on a circle |z| = r whose radius is
the saddle point of the product (the tilted distribution of the total wrong count has
mean n), so the wanted coefficient sits at the peak of the tilted coefficients and is
computed to ~1e-14 *relative* accuracy in float64 (a few Newton steps place the radius
within about one standard deviation of the saddle); aliasing is negligible because the
tilted distribution has standard deviation at most sqrt(n) and the transform length is
>= 12 sqrt(n) + 32 (or the full degree of the product when that is smaller).  Ties are
integrated exactly with Gauss-Legendre nodes in u.  Cost O(k A (k + N log N)) for A wrong
answers and N ~ 12 sqrt(k); k = 1000 with 9 wrong answers takes a fraction of a second on
one CPU core.  The tilted weights would be [Y, A, K] arrays with Y, K ~ k / 2 (k^2 A / 4
entries); rows y are computed in chunks of at most 2^23 entries per array instead, so memory
stays near 0.5 GB whatever k is (time still grows as k^2 A: k = 1e5 with 3 wrong answers
takes minutes).

Only y in [ceil(k / (A + 1)), ceil(k / 2) - 1] needs the transform: below that range
some wrong answer must exceed y (Q_y = 0), above it no wrong answer can beat y
(Q_y = 1, or 1 - sum_j c_j^n / 2 at the single tie y = n).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, logsumexp

from ._checks import check_int, check_probability, is_concrete

__all__ = ["mv_success", "mv_log_success", "mv_log_table", "mv_log_window"]

_NEWTON_STEPS = 8
# entries of one [rows, A, K] tilted-weight array (8 bytes each in float64): bounds the
# transform's memory at large k
_CHUNK_ELEMENTS = 1 << 23


def _check_k(k) -> int:
    return check_int("k (the number of votes)", k, 1)


def check_error_weights(error_weights) -> None:
    """Refuse concrete error weights that are not a 1-D probability vector (entries >= 0,
    sum 1 to the dtype's rounding); traced values pass unchecked."""
    if not is_concrete(error_weights):
        return
    c = np.asarray(error_weights)
    if c.ndim != 1 or c.size < 1:
        raise ValueError(
            "error_weights must be a 1-D array with one probability per wrong answer, "
            f"got shape {c.shape}"
        )
    c = c.astype(float)
    if not np.all((c >= 0) & (c < np.inf)):
        raise ValueError(f"error_weights must be non-negative and finite, got {c}")
    # float32 weights sum to 1 only to ~A eps32
    rtol = 1e-6 if np.asarray(error_weights).dtype != np.float32 else 1e-4
    if not np.isclose(c.sum(), 1.0, rtol=rtol, atol=1e-9):
        raise ValueError(f"error_weights must sum to 1, got sum {c.sum()!r}")


def _check_weights(error_weights):
    check_error_weights(error_weights)
    return jnp.asarray(error_weights)


def _transform_length(n_max: int, max_degree: int) -> int:
    # Exact (no aliasing) when the product's degree fits; otherwise +-6 sqrt(n) on each
    # side of the wanted coefficient, > 12 standard deviations of the tilted total.
    need = min(12.0 * math.sqrt(max(n_max, 1)) + 32.0, float(max_degree + 1))
    return 16 * int(math.ceil(need / 16.0))


def _middle_table(k: int, c: jax.Array, y_lo: int, y_hi: int) -> jax.Array:
    """log Q_y for y in [y_lo, y_hi] (static, non-empty) by the tilted transform.

    Rows y are independent; they are computed ``rows`` at a time (``lax.map``, each chunk
    rematerialised under reverse mode) so that no [rows, A, K] array exceeds
    ``_CHUNK_ELEMENTS`` entries whatever k is.
    """
    n_wrong = c.shape[-1]
    K = y_hi + 1  # counts 0..y_hi per wrong answer
    N = _transform_length(int(k - y_lo), n_wrong * y_hi)
    ys = jnp.arange(y_lo, y_hi + 1, dtype=c.dtype)
    n_y = y_hi - y_lo + 1
    rows = max(1, _CHUNK_ELEMENTS // (n_wrong * K))
    one = functools.partial(_middle_rows, k, c, K=K, N=N)
    if rows >= n_y:
        return one(ys)
    n_chunks = -(-n_y // rows)
    ys = jnp.pad(ys, (0, n_chunks * rows - n_y), constant_values=y_hi)  # repeats: dropped
    out = jax.lax.map(jax.checkpoint(one), ys.reshape(n_chunks, rows))
    return out.reshape(-1)[:n_y]


def _middle_rows(k: int, c: jax.Array, ys: jax.Array, *, K: int, N: int) -> jax.Array:
    """log Q_y for the rows ``ys`` (each in the transform range), transform length N."""
    dtype = c.dtype
    n_wrong = c.shape[-1]
    ns = k - ys
    t = jnp.arange(K, dtype=dtype)
    lg = gammaln(t + 1)
    pos = c > 0
    logc = jnp.log(jnp.where(pos, c, 1.0))
    allowed = t[None, :] <= ys[:, None]  # [Y, K]

    def log_weights(s):
        # log of (c_j r)^t / t! for t <= y with r = exp(s): shape [Y, A, K].
        lw = t[None, None, :] * (logc[None, :, None] + s[:, None, None]) - lg
        lw = jnp.where(pos[None, :, None], lw, jnp.where(t == 0, 0.0, -jnp.inf))
        return jnp.where(allowed[:, None, :], lw, -jnp.inf)

    def moments(s):
        lw = log_weights(s)
        logz = logsumexp(lw, axis=-1, keepdims=True)
        pi = jnp.exp(lw - logz)
        mean = jnp.sum(pi * t, axis=-1)
        var = jnp.sum(pi * (t - mean[..., None]) ** 2, axis=-1)
        return lw, logz[..., 0], pi, mean.sum(-1), var.sum(-1)

    # Newton on log r for the saddle point: sum_j E[W_j | tilt] = n; d mean / d log r = var.
    def newton(_, s):
        _, _, _, mean, var = moments(s)
        step = (ns - mean) / jnp.maximum(var, 1e-3)
        return s + jnp.clip(step, -2.0, 2.0)

    s0 = jnp.log(ns)
    s = jax.lax.fori_loop(0, _NEWTON_STEPS, newton, s0)
    s = jax.lax.stop_gradient(s)  # the result does not depend on the radius
    _, logz, pi, _, _ = moments(s)

    below = jnp.where(t[None, None, :] < ys[:, None, None], pi, 0.0)  # counts < y
    at = jnp.where(t[None, None, :] == ys[:, None, None], pi, 0.0)  # count == y (tie)
    pad = (-K) % N

    def spectrum(a):
        a = jnp.pad(a, ((0, 0), (0, 0), (0, pad)))
        a = a.reshape(a.shape[:-1] + (-1, N)).sum(-2)  # fold: z^N = 1 on the grid
        return jnp.fft.rfft(a, axis=-1)

    E = spectrum(below)[..., None]  # [Y, A, N // 2 + 1, 1]
    T = spectrum(at)[..., None]
    # prod_j (E_j + u T_j) is a polynomial of degree A in u: Gauss-Legendre with
    # ceil((A + 1) / 2) nodes integrates it over [0, 1] exactly.
    nodes, weights = np.polynomial.legendre.leggauss((n_wrong + 2) // 2)
    u = jnp.asarray((nodes + 1) / 2, dtype)
    w = jnp.asarray(weights / 2, dtype)
    H = jnp.sum(jnp.prod(E + u * T, axis=1) * w, axis=-1)  # [Y, N // 2 + 1]
    coef = jnp.fft.irfft(H, n=N, axis=-1)
    idx = jnp.round(ns).astype(jnp.int32) % N
    d_n = jnp.take_along_axis(coef, idx[:, None], axis=-1)[:, 0]

    log_q = (
        gammaln(ns + 1)
        - ns * s
        + jnp.sum(logz, axis=-1)
        + jnp.log(jnp.maximum(d_n, jnp.finfo(dtype).tiny))
    )
    feasible = ns <= jnp.sum(pos) * ys
    return jnp.where(feasible, jnp.minimum(log_q, 0.0), -jnp.inf)


def mv_log_table(k: int, error_weights) -> jax.Array:
    """log Q_y, y = 0..k: log P(correct wins the vote | correct count y), shape [k + 1].

    Args:
      k: number of votes (static Python int).
      error_weights: probabilities over the wrong answers, shape [A], summing to 1.
    """
    k = _check_k(k)
    c = _check_weights(error_weights)
    if not jnp.issubdtype(c.dtype, jnp.floating):
        c = c.astype(jnp.result_type(float))
    if c.ndim != 1:
        raise ValueError(f"error_weights must be 1-D, got shape {c.shape}; vmap for batches")
    return _log_table(k, c)


def mv_log_window(k: int, error_weights, y_lo: int, y_hi: int) -> jax.Array:
    """log Q_y for y in [y_lo, y_hi] only: a window of :func:`mv_log_table` (shape [y_hi-y_lo+1]).

    For large k most Q_y are 0 or 1 to working precision; callers that bound the tails
    themselves compute just the window. Requires ceil(k/(A+1)) <= y_lo <= y_hi <= ceil(k/2) - 1
    (static Python ints; A = number of wrong answers), where the transform is needed.
    """
    k = _check_k(k)
    c = _check_weights(error_weights)
    if not jnp.issubdtype(c.dtype, jnp.floating):
        c = c.astype(jnp.result_type(float))
    first, last = -(-k // (c.shape[-1] + 1)), -(-k // 2) - 1
    y_lo, y_hi = check_int("y_lo", y_lo, 0), check_int("y_hi", y_hi, 0)
    if not (first <= y_lo <= y_hi <= last):
        raise ValueError(f"window [{y_lo}, {y_hi}] must lie inside [{first}, {last}] for k={k}")
    return _middle_jit(k, c, y_lo, y_hi)


_middle_jit = jax.jit(_middle_table, static_argnums=(0, 2, 3))


@functools.partial(jax.jit, static_argnums=0)
def _log_table(k: int, c: jax.Array) -> jax.Array:
    n_wrong = c.shape[0]
    y = jnp.arange(k + 1, dtype=c.dtype)
    n = k - y
    # Closed forms outside the transform range.
    pos = c > 0
    logc = jnp.log(jnp.where(pos, c, 1.0))
    c_pow_n = jnp.where(pos, jnp.exp(n[:, None] * logc), jnp.where(n[:, None] == 0, 1.0, 0.0))
    # one wrong answer took all n votes; only the row y = n is kept, and the others are
    # zeroed first (at y = k the sum is A: log1p(-1) for two wrong answers, and its infinite
    # derivative would reach the gradient through the discarded branch)
    tied = jnp.where((y == n)[:, None], c_pow_n, 0.0)
    tie = jnp.log1p(-0.5 * jnp.sum(tied, axis=-1))
    log_q = jnp.where(y > n, 0.0, jnp.where(y == n, tie, -jnp.inf))
    y_lo = -(-k // (n_wrong + 1))
    y_hi = -(-k // 2) - 1
    if y_lo <= y_hi:
        log_q = log_q.at[y_lo : y_hi + 1].set(_middle_table(k, c, y_lo, y_hi))
    return log_q


def _log_binom_pmf(k: int, p, dtype):
    """log Binom(y; k, p) for y = 0..k along a new last axis; p = 0 and 1 allowed."""
    y = jnp.arange(k + 1, dtype=dtype)
    p = p[..., None]
    lp = jnp.where(y > 0, y * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0)
    lp = jnp.where((y > 0) & (p <= 0), -jnp.inf, lp)
    lq = jnp.where(y < k, (k - y) * jnp.log1p(-jnp.where(p < 1, p, 0.0)), 0.0)
    lq = jnp.where((y < k) & (p >= 1), -jnp.inf, lq)
    return gammaln(k + 1.0) - gammaln(y + 1) - gammaln(k - y + 1) + lp + lq


@jax.custom_jvp
def _mix(p, log_q):
    k = log_q.shape[-1] - 1
    # Clip: the binomial weights (lgamma differences) sum to 1 within ~1e-13 at k = 1000.
    return jnp.minimum(jnp.sum(jnp.exp(_log_binom_pmf(k, p, p.dtype) + log_q), axis=-1), 1.0)


@_mix.defjvp
def _mix_jvp(primals, tangents):
    # d/dp sum_y B(y; k, p) Q_y = k sum_y B(y; k - 1, p) (Q_{y+1} - Q_y): no 0 * inf at p = 0, 1.
    p, log_q = primals
    dp, dlog_q = tangents
    k = log_q.shape[-1] - 1
    lw = _log_binom_pmf(k, p, p.dtype)
    out = jnp.sum(jnp.exp(lw + log_q), axis=-1)
    q = jnp.exp(log_q)
    dq = q[1:] - q[:-1]
    dout = k * jnp.sum(jnp.exp(_log_binom_pmf(k - 1, p, p.dtype)) * dq, axis=-1) * dp
    dout = dout + jnp.sum(jnp.exp(lw + log_q) * dlog_q, axis=-1)
    return out, dout


@jax.custom_jvp
def _log_mix(p, log_q):
    k = log_q.shape[-1] - 1
    # clipped like _mix: the binomial weights sum to 1 only to rounding
    return jnp.minimum(logsumexp(_log_binom_pmf(k, p, p.dtype) + log_q, axis=-1), 0.0)


@_log_mix.defjvp
def _log_mix_jvp(primals, tangents):
    p, log_q = primals
    dp, dlog_q = tangents
    k = log_q.shape[-1] - 1
    lw = _log_binom_pmf(k, p, p.dtype)
    out = jnp.minimum(logsumexp(lw + log_q, axis=-1), 0.0)
    zero = jnp.isneginf(out)
    safe = jnp.where(zero, 0.0, out)[..., None]
    lw1 = _log_binom_pmf(k - 1, p, p.dtype)
    up = jnp.sum(jnp.exp(lw1 + log_q[1:] - safe), axis=-1)
    down = jnp.sum(jnp.exp(lw1 + log_q[:-1] - safe), axis=-1)
    slope = k * (up - down)
    # where the success probability is 0 its log has an infinite slope in p (d psi / psi),
    # of the sign of d psi / dp (computed unscaled above, as safe = 0 there)
    inf_slope = jnp.where(slope > 0, jnp.inf, jnp.where(slope < 0, -jnp.inf, 0.0))
    slope = jnp.where(zero, inf_slope, slope)
    dout = slope * dp + jnp.sum(jnp.exp(lw + log_q - safe) * dlog_q, axis=-1)
    return out, dout


_mix_jit = jax.jit(_mix)
_log_mix_jit = jax.jit(_log_mix)


def _prepare(p, k, error_weights):
    k = _check_k(k)
    check_probability("p", p, "the probability of the correct answer")
    p = jnp.asarray(p)
    if not jnp.issubdtype(p.dtype, jnp.floating):
        p = p.astype(jnp.result_type(float))
    c = _check_weights(error_weights).astype(p.dtype)
    return p, k, c


def mv_success(p, k: int, error_weights) -> jax.Array:
    """P(majority vote of k i.i.d. samples is correct), Eq. 38, exact, random tie-breaking.

    Args:
      p: per-sample probability of the correct answer, any shape.
      k: number of samples (static Python int).
      error_weights: probabilities c_j over the wrong answers (sum 1), shape [A]; the
        alphabet has A + 1 answers and wrong answer j has probability (1 - p) c_j.

    Returns psi with the shape and dtype of ``p``.  Relative accuracy in float64 ~1e-14
    for small k, ~1e-13 at k = 1000 and ~1e-10 at k = 1e5 (limited by the lgamma-based
    binomial weights); in float32 the same cancellation leaves absolute errors of ~1e-6 at
    k = 20, ~1e-4 at k = 200 and ~1e-3 at k = 2000: use float64 for large k.
    Differentiable in p (exact derivative identity, finite at p = 0 and 1) and in c; the
    derivative with respect to a weight c_j that is exactly 0 is taken as 0 (the answer is
    out of the alphabet: give it a small positive weight to differentiate through it).
    For many p at once the (k + 1)-table is built once and reused.
    """
    p, k, c = _prepare(p, k, error_weights)
    return _mix_jit(p, mv_log_table(k, c))


def mv_log_success(p, k: int, error_weights) -> jax.Array:
    """log of :func:`mv_success`, accurate where the success probability underflows."""
    p, k, c = _prepare(p, k, error_weights)
    return _log_mix_jit(p, mv_log_table(k, c))
