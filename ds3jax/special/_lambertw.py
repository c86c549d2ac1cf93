"""Principal branch W_0 of the Lambert W function, in JAX.

W_0(x) is the solution w >= -1 of w * exp(w) = x for x >= -1/e. The skill-text framework uses
it for the size of the giant connected component of an Erdos-Renyi skill graph (Eq. 50).
"""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["lambertw0"]


def _branch_series_coefficients(n_terms):
    """Coefficients mu_k of W_0 = sum_k mu_k p^k, p = sqrt(2 (1 + e x)), exactly.

    Recurrence of Corless, Gonnet, Hare, Jeffrey and Knuth (1996), Eq. 4.23-4.24.
    """
    mu = [Fraction(-1), Fraction(1)]
    alpha = [Fraction(2), Fraction(-1)]
    for k in range(2, n_terms):
        alpha.append(sum((mu[j] * mu[k + 1 - j] for j in range(2, k)), Fraction(0)))
        mu.append(
            Fraction(k - 1, k + 1) * (mu[k - 2] / 2 + alpha[k - 2] / 4)
            - alpha[k] / 2
            - mu[k - 1] / (k + 1)
        )
    return [float(c) for c in mu]


# p <= 0.3 is within radius sqrt(2) of the series; 26 terms leave a tail below 1e-17.
_BRANCH_COEFFS = np.array(_branch_series_coefficients(26))
_BRANCH_P_MAX = 0.3
_HALLEY_STEPS = 5
# e = fl(e) + lo, for float64 and float32.
_E_LO64 = 1.4456468917292502e-16
_E_LO32 = float(np.float64(np.e) - np.float64(np.float32(np.e))) + _E_LO64


def _split(a, dtype):
    # Veltkamp splitting: a = hi + lo with hi holding half the mantissa bits.
    factor = 134217729.0 if dtype == jnp.float64 else 4097.0
    c = factor * a
    hi = c - (c - a)
    return hi, a - hi


def _one_plus_e_times(x):
    """1 + e*x evaluated with ~2x working precision (Dekker's exact product).

    Near the branch point x ~ -1/e this difference cancels to zero; computing it naively
    loses all relative accuracy and W_0 ~ -1 + sqrt(2(1 + e x)) inherits a sqrt-amplified error.
    """
    dtype = x.dtype
    e_hi = jnp.asarray(np.e, dtype)
    e_lo = jnp.asarray(_E_LO64 if dtype == jnp.float64 else _E_LO32, dtype)
    prod = e_hi * x
    eh, el = _split(e_hi, dtype)
    xh, xl = _split(x, dtype)
    prod_err = ((eh * xh - prod) + eh * xl + el * xh) + el * xl
    return (1.0 + prod) + prod_err + e_lo * x


@jax.jit
def _lambertw0_value(x):
    dtype = x.dtype
    t = _one_plus_e_times(x)
    tiny = 8 * jnp.finfo(dtype).eps
    # The float nearest -1/e lies (just) below it: t within rounding of 0 is the branch point.
    on_branch = (t <= 0) & (t >= -tiny)
    p = jnp.sqrt(2.0 * jnp.maximum(t, 0.0))
    near_branch = p < _BRANCH_P_MAX

    # Near the branch point: the convergent series in p (no iteration; Halley would divide by
    # W' ~ 1/p and amplify the rounding of w*exp(w) - x).
    p_series = jnp.where(near_branch, p, 0.0)
    w_series = jnp.zeros_like(x)
    for c in _BRANCH_COEFFS[::-1]:
        w_series = w_series * p_series + float(c)

    # Moderate x: Winitzki-type start, Halley on w e^w - x.
    big = x > np.e
    xm = jnp.where(near_branch | big, 0.5, x)
    l1 = jnp.log1p(xm)
    w = l1 * (1.0 - jnp.log1p(l1) / (2.0 + l1))
    # Between the series region and 0, start from a short branch expansion instead.
    pm = jnp.where(near_branch | big, 1.0, p)
    w_branch = -1.0 + pm - pm * pm / 3.0 + (11.0 / 72.0) * pm**3
    w = jnp.where(xm < -0.25, w_branch, w)
    for _ in range(_HALLEY_STEPS):
        ew = jnp.exp(w)
        f = w * ew - xm
        wp1 = w + 1.0
        w = w - f / (ew * wp1 - (w + 2.0) * f / (2.0 * wp1))

    # Large x: Halley on h(w) = w + log(w) - log(x), which cannot overflow.
    xb = jnp.where(big, x, np.e)
    lx = jnp.log(xb)
    ll = jnp.log(lx)
    v = lx - ll + ll / lx
    for _ in range(_HALLEY_STEPS):
        h = v + jnp.log(v) - lx
        h1 = 1.0 + 1.0 / v
        h2 = -1.0 / (v * v)
        v = v - h / (h1 - h * h2 / (2.0 * h1))
    v = jnp.where(jnp.isinf(x), jnp.inf, v)

    out = jnp.where(big, v, jnp.where(near_branch, w_series, w))
    out = jnp.where(on_branch, -1.0, out)
    out = jnp.where((t < -tiny) | jnp.isnan(x), jnp.nan, out)
    return out


@jax.custom_jvp
def _lambertw0(x):
    return _lambertw0_value(x)


@_lambertw0.defjvp
def _lambertw0_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    w = _lambertw0(x)
    # W' = W / (x (1 + W)) = exp(-W) / (1 + W): finite at x = 0, +inf at the branch point.
    one_plus_w = 1.0 + w
    deriv = jnp.where(
        one_plus_w > 0, jnp.exp(-w) / jnp.where(one_plus_w > 0, one_plus_w, 1.0), jnp.inf
    )
    # for W > 1 the first form: exp(-W) amplifies W's rounding by W (1e-14 at x = 1e100)
    # and underflows from x ~ 1e306, where W / (x (1 + W)) is still representable
    big = w > 1.0
    xb = jnp.where(big, x, 1.0)
    ratio = jnp.where(big, w, 1.0) / jnp.where(big, one_plus_w, 2.0)
    deriv = jnp.where(big, ratio / xb, deriv)
    deriv = jnp.where(jnp.isnan(w), jnp.nan, deriv)
    return w, deriv * dx


def lambertw0(x):
    """Principal branch of the Lambert W function, W_0(x), for real x >= -1/e.

    W_0(x) is the solution w >= -1 of ``w * exp(w) = x``. Elementwise; the result has the
    floating dtype of ``x`` (integers are promoted to the default float dtype).

    Accuracy (float64): relative error below ~1e-15 away from the branch point and absolute
    error below ~1e-15 near it, for the *exact* floating value of ``x`` (the offset 1 + e*x is
    formed in double-double arithmetic). Note that ``scipy.special.lambertw`` evaluates
    1 + e*x naively and loses up to ~1e-8 within 1e-16 of -1/e; near the branch point the
    reference is mpmath. The float nearest -1/e (which lies 1.2e-17 below it) returns -1;
    arguments below -1/e by more than rounding return NaN; ``inf`` returns ``inf``.

    Method: the convergent series in p = sqrt(2(1 + e x)) (Corless et al. 1996) for p < 0.3;
    elsewhere a fixed number (5) of Halley steps on w e^w = x (x <= e) or on
    w + log w = log x (x > e), so the routine is branch-free, jit- and vmap-friendly.

    Derivative (``jax.custom_jvp``): W'(x) = W / (x (1 + W)) = exp(-W) / (1 + W), evaluated in
    the second form for W <= 1 so that x = 0 gives W'(0) = 1 (at the branch point W' = +inf,
    the true value), in the first beyond (exp(-W) would amplify W's rounding and underflow).
    Higher derivatives follow by differentiating that rule.

    Args:
      x: array_like, x >= -1/e.

    Returns:
      W_0(x), same shape as ``x``.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return _lambertw0(x)
