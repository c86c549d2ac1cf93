"""Inverse of the regularized incomplete beta in x: x = I^{-1}(y; a, b)  (paper Eq. 62).

Solves ``betainc(a, b, x) = y`` with a fixed number of safeguarded Newton steps on log I
against log x where y < 1/2 (on log(1 - I) against log(1 - x) above), started from the
classical initial guesses (a normal approximation with a Cornish-Fisher style correction for
a, b >= 1, the small-x / small-(1-x) power-law tails otherwise).  A bracket [lo, hi] is
kept and any step leaving it is replaced by bisection, so every lane converges under ``vmap``
in the same fixed number of steps.

Derivatives come from the implicit function theorem on I_x(a, b) = y (``jax.custom_jvp``):

    dx/dy = 1 / f(x),   dx/da = -(dI/da) / f(x),   dx/db = -(dI/db) / f(x),

with f the Beta(a, b) density and dI/da, dI/db the derivatives of ``betainc`` itself.
Float64 accuracy: ~1e-14 relative in x away from x -> 0 with tiny y and a < 1 (there the
inverse is limited by the accuracy of I).  Float32: ~1e-6.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from ._betainc import betainc, log_betainc, log_betaincc

__all__ = ["betaincinv"]

_STEPS = 40


def _initial_guess(a, b, y):
    # Normal approximation (Abramowitz & Stegun 26.2.22 + 26.5.22) for a, b >= 1.
    pp = jnp.where(y < 0.5, y, 1.0 - y)
    pp = jnp.clip(pp, 1e-300, 0.5)
    t = jnp.sqrt(-2.0 * jnp.log(pp))
    z = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t
    z = jnp.where(y < 0.5, z, -z)
    al = (z * z - 3.0) / 6.0
    h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0))
    w = z * jnp.sqrt(jnp.maximum(al + h, 0.0)) / h - (
        1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)
    ) * (al + 5.0 / 6.0 - 2.0 / (3.0 * h))
    x_big = a / (a + b * jnp.exp(2.0 * jnp.clip(w, -300.0, 300.0)))
    # Tails of the density for small a or b: I ~ x^a / (a B) near 0, 1 - I ~ (1-x)^b / (b B).
    lna = jnp.log(a / (a + b))
    lnb = jnp.log(b / (a + b))
    ta = jnp.exp(a * lna) / a
    tb = jnp.exp(b * lnb) / b
    s = ta + tb
    x_lo = jnp.exp(jnp.log(a * s * y) / a)
    x_hi = 1.0 - jnp.exp(jnp.log(b * s * (1.0 - y)) / b)
    x_small = jnp.where(y < ta / s, x_lo, x_hi)
    x0 = jnp.where((a >= 1.0) & (b >= 1.0), x_big, x_small)
    # Deep tails: leading terms I ~ x^a / (a B(a, b)) and 1 - I ~ (1 - x)^b / (b B(a, b)).
    log_b = gammaln(a) + gammaln(b) - gammaln(a + b)
    t_lo = jnp.exp((jnp.log(a * y) + log_b) / a)
    t_hi = -jnp.expm1((jnp.log(b * (1.0 - y)) + log_b) / b)
    mean = a / (a + b)
    x0 = jnp.where((y < 0.5) & (t_lo < 0.1 * mean), t_lo, x0)
    x0 = jnp.where((y >= 0.5) & (1.0 - t_hi < 0.1 * (1.0 - mean)), t_hi, x0)
    return jnp.clip(x0, 1e-300, 1.0 - 1e-16)


def _log_pdf(a, b, x):
    return (
        (a - 1.0) * jnp.log(x)
        + (b - 1.0) * jnp.log1p(-x)
        - (gammaln(a) + gammaln(b) - gammaln(a + b))
    )


def _solve(a, b, y):
    tiny = jnp.finfo(y.dtype).tiny
    eps = jnp.finfo(y.dtype).eps
    inner = (y > 0) & (y < 1)
    ys = jnp.where(inner, y, 0.5)
    x0 = _initial_guess(a, b, ys)
    lo = jnp.zeros_like(ys)
    hi = jnp.ones_like(ys)

    lower = ys < 0.5
    log_target = jnp.where(lower, jnp.log(ys), jnp.log1p(-ys))

    def step(_, state):
        # Newton on log I against log x (lower half) or log(1 - I) against log(1 - x)
        # (upper half): in a tail I ~ C x^a is a straight line there, where Newton or Halley
        # in x creep down by a factor (1 - 1/a) a step from above and do not reach the root
        x, lo, hi = state
        log_x, log_1mx = jnp.log(x), jnp.log1p(-x)
        log_side = jnp.where(lower, log_betainc(a, b, x), log_betaincc(a, b, x))
        r = log_side - log_target  # > 0: I above y on the lower side, below it on the upper
        too_big = jnp.where(lower, r > 0, r < 0)
        lo = jnp.where((r != 0) & ~too_big, x, lo)
        hi = jnp.where((r != 0) & too_big, x, hi)
        # d log(side) / d log(x or 1 - x) = (x or 1 - x) f(x) / side
        slope = jnp.exp(_log_pdf(a, b, x) + jnp.where(lower, log_x, log_1mx) - log_side)
        t = jnp.where(lower, log_x, log_1mx) - r / jnp.maximum(slope, tiny)
        xn = jnp.where(lower, jnp.exp(t), -jnp.expm1(t))
        done = (r == 0) | (jnp.abs(xn - x) <= 4 * eps * jnp.minimum(x, 1.0 - x))
        bad = ~jnp.isfinite(xn) | (xn <= lo) | (xn >= hi)
        # bisection of the bracket, geometric when it spans decades above 0
        mid = jnp.where((lo > 0) & (hi > 1e3 * lo), jnp.sqrt(lo) * jnp.sqrt(hi), 0.5 * (lo + hi))
        xn = jnp.where(done, x, jnp.where(bad, mid, xn))
        return jnp.clip(xn, tiny, 1.0 - eps / 2), lo, hi

    x, _, _ = jax.lax.fori_loop(0, _STEPS, step, (x0, lo, hi))
    # a root below the smallest normal number: the iteration stops at ``tiny``, whose I can
    # be near 1 (I^{-1}(1e-300; 1e-5, 1) = 1e-300^(1e5) underflows, I(tiny) = 0.99). There
    # I_x = x^a / (a B(a, b)) (1 + O(x)), so x = (y a B(a, b))^(1/a), a subnormal or 0.
    below = (x <= tiny) & (betainc(a, b, x) > ys)
    lead = (jnp.log(ys) + jnp.log(a) + gammaln(a) + gammaln(b) - gammaln(a + b)) / a
    x = jnp.where(below, jnp.exp(jnp.minimum(lead, jnp.log(tiny))), x)
    x = jnp.where(y <= 0, 0.0, jnp.where(y >= 1, 1.0, x))
    return jnp.where(jnp.isnan(y) | (a <= 0) | (b <= 0) | (y < 0) | (y > 1), jnp.nan, x)


@jax.custom_jvp
def _betaincinv(a, b, y):
    return _solve(a, b, y)


@_betaincinv.defjvp
def _betaincinv_jvp(primals, tangents):
    a, b, y = primals
    da, db, dy = tangents
    x = _betaincinv(a, b, y)
    inner = (x > 0) & (x < 1)
    xs = jnp.where(inner, x, 0.5)
    _, dI_ab = jax.jvp(lambda a_, b_: betainc(a_, b_, xs), (a, b), (da, db))
    pdf = jnp.exp(_log_pdf(a, b, xs))
    dx = (dy - dI_ab) / pdf
    return x, jnp.where(inner, dx, 0.0)


# jitted once per shape/dtype: un-jitted calls would retrace the Newton loop every time
_betaincinv_jit = jax.jit(_betaincinv)


def betaincinv(a, b, y):
    """x such that I_x(a, b) = y (inverse regularized incomplete beta in x).

    Args:
      a, b: shape parameters, > 0; y: target probability in [0, 1]. Broadcast together.

    Returns x in [0, 1] with the broadcast shape and the inputs' floating dtype (0 at y = 0,
    1 at y = 1, NaN outside the domain).  Differentiable in a, b and y (implicit function
    theorem; derivatives set to 0 at the end points y = 0, 1).
    """
    a, b, y = jnp.broadcast_arrays(*(jnp.asarray(v) for v in (a, b, y)))
    dt = jnp.result_type(a, b, y, float)
    return _betaincinv_jit(a.astype(dt), b.astype(dt), y.astype(dt))
