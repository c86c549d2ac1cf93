"""Elementary functions with float64 accuracy that XLA's CPU kernels do not always give.

XLA's float64 ``log1p`` on CPU is off by up to ~2.5e-14 relative; the incomplete beta
multiplies ``log1p(-x)`` by b ~ 1e7, so that error would surface directly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_jvp
def log1p(x):
    """``log(1 + x)`` to a few ulp, via ``log(u) * x / (u - 1)`` with ``u = 1 + x``.

    The rounding of ``u`` is compensated by dividing by the exactly representable ``u - 1``
    (Goldberg 1991, "What every computer scientist should know about floating point").
    """
    # the barrier stops XLA's simplifier from folding (1 + x) - 1 into x under jit
    u = jax.lax.optimization_barrier(1.0 + x)
    d = u - 1.0
    safe_d = jnp.where(d == 0, 1.0, d)
    out = jnp.where(d == 0, x, jnp.log(u) * (x / safe_d))
    return jnp.where(x == jnp.inf, x, out)  # inf * (inf / inf) would be NaN


@log1p.defjvp
def _log1p_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1p(x), t / (1.0 + x)


def weighted_logsumexp(terms, w, axis=-1):
    """log sum_i w_i exp(terms_i) along ``axis``, w_i >= 0, with the derivative in w_i right
    where w_i = 0 (exp(terms_i) / sum; ``logsumexp(..., b=w)`` drops those entries, and
    with them their derivative: a mixture weight's gradient at 0 came out wrong)."""
    terms, w = jnp.broadcast_arrays(terms, w)
    live = (w > 0) & (terms > -jnp.inf)
    mx = jnp.max(jnp.where(live, terms, -jnp.inf), axis=axis, keepdims=True)
    mx = jax.lax.stop_gradient(jnp.where(jnp.isfinite(mx), mx, 0.0))
    # entries with w = 0 may lie far above the live ones: clipped, they add 0 to the sum
    # and a finite (if then inexact) derivative
    s = jnp.sum(w * jnp.exp(jnp.minimum(terms - mx, 700.0)), axis=axis)
    return jnp.log(s) + jnp.squeeze(mx, axis)
