"""Continued fractions for the incomplete beta, with forward-mode (a, b) derivatives.

All three fractions used by :mod:`._betainc` share one shape,
``G = 1 + c_1/(1 + c_2/(1 + ...))`` with partial numerators

    c = sigma * w * (u1 + m)(u2 + m) / ((v + 2m)(v + 2m + 1)),

where odd steps use m = 0, 1, ... and even steps m = 1, 2, ..., and (sigma, u1, u2, v, w) are
per-point constants that depend linearly on (a, b). Evaluating G by the modified Lentz
method, one full iteration = one odd + one even half step.

* lower, for I_x(a, b):           odd (-1, a, a+b, a),  even (-1, 0, -b, a-1),  w = x
* swapped, for I_{1-x}(b, a):     odd (-1, b, a+b, b),  even (-1, 0, -a, b-1),  w = 1-x
* Gauss, 2F1(1-a, 1; b+1; -s):    odd (+1, 1-a, b, b),  even (+1, 0, a+b-1, b-1), w = (1-x)/x
* Gauss lower, its mirror image (a <-> b, x <-> 1-x), for I itself when a is large:
                                  odd (+1, 1-b, a, a),  even (+1, 0, a+b-1, a-1), w = x/(1-x)

The first two are the classical fraction (Numerical Recipes' ``betacf``); the third is Gauss's
fraction for the hypergeometric ratio, used for ``1 - I`` when b > a (and its mirror image for
``I`` when a > b): there the classical fraction's ``1 + c`` terms cancel and lose ~eps*b/a.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

LOWER, SWAPPED, GAUSS, GAUSS_LOWER = 0, 1, 2, 3
MAX_ITER = 2000
# full iterations per loop trip (XLA's per-trip overhead is large next to one step); the
# derivative loop does more work per step, so it amortises a longer trip
UNROLL_VALUE = 2
UNROLL = 4


def choose_mode(a, b, x):
    """Which fraction to use: the lower one below the switch point (a+1)/(a+b+2)."""
    upper = x > (a + 1.0) / (a + b + 2.0)
    return jnp.where(upper, jnp.where(b > a, GAUSS, SWAPPED), jnp.where(a > b, GAUSS_LOWER, LOWER))


def lane_constants(a, b, x, mode):
    """(sigma, u1_odd, u2_odd, v_odd, u2_even, v_even, w) for each point."""
    y = 1.0 - x
    sel = lambda lo, sw, ga, gl: _select4(mode, lo, sw, ga, gl)
    sigma = jnp.where(mode >= GAUSS, 1.0, -1.0)
    u1o = sel(a, b, 1.0 - a, 1.0 - b)
    u2o = sel(a + b, a + b, b, a)
    vo = sel(a, b, b, a)
    u2e = sel(-b, -a, a + b - 1.0, a + b - 1.0)
    ve = sel(a - 1.0, b - 1.0, b - 1.0, a - 1.0)
    w = sel(x, y, y / x, x / y)
    return sigma, u1o, u2o, vo, u2e, ve, w


def _select4(mode, lo, sw, ga, gl):
    return jnp.where(
        mode == LOWER, lo, jnp.where(mode == SWAPPED, sw, jnp.where(mode == GAUSS, ga, gl))
    )


def first_denominator(a, b, x, mode):
    """1 + c_1, formed without the cancellation of ``1 - (a+b)x/(a+1)`` near the switch point.

    Uses whichever of x and 1 - x is exact (x is an input; 1 - x is exact for x >= 1/2).
    """
    y = 1.0 - x
    lower = jnp.where(
        x >= 0.5, ((a + 1.0) * y + (1.0 - b) * x) / (a + 1.0), 1.0 - (a + b) * x / (a + 1.0)
    )
    swapped = jnp.where(
        x < 0.5, ((b + 1.0) * x + (1.0 - a) * y) / (b + 1.0), 1.0 - (a + b) * y / (b + 1.0)
    )
    gauss = 1.0 + (1.0 - a) * (y / x) / (b + 1.0)
    gauss_lower = 1.0 + (1.0 - b) * (x / y) / (a + 1.0)
    return _select4(mode, lower, swapped, gauss, gauss_lower)


def _lane_constant_derivs(mode, dtype):
    """d/da and d/db of (u1_odd, u2_odd, v_odd, u2_even, v_even): entries in {-1, 0, 1}."""

    def sel(lo, sw, ga, gl):
        return _select4(mode, lo, sw, ga, gl).astype(dtype)

    # order: (u1_odd, u2_odd, v_odd, u2_even, v_even)
    da = (sel(1, 0, -1, 0), sel(1, 1, 0, 1), sel(1, 0, 0, 1), sel(0, -1, 1, 1), sel(1, 0, 0, 1))
    db = (sel(0, 1, 0, -1), sel(1, 1, 1, 0), sel(0, 1, 1, 0), sel(-1, 0, 1, 1), sel(0, 1, 1, 0))
    return da, db


def _guard(t, tiny):
    return jnp.where(jnp.abs(t) < tiny, tiny, t)


def log_fraction(a, b, x, mode):
    """log G (values only)."""
    dt = x.dtype
    tol = 4 * jnp.finfo(dt).eps
    tiny = jnp.finfo(dt).tiny ** 0.5
    sigma, u1o, u2o, vo, u2e, ve, w = lane_constants(a, b, x, mode)
    sw = sigma * w
    first = first_denominator(a, b, x, mode)

    def half(m, u1, u2, v, C, D, G, dead):
        # c = sw*N/Dn; D' = 1/(1 + c D) = Dn/(Dn + sw N D); C' = 1 + sw N/(Dn C): two divisions
        swn = sw * (u1 + m) * (u2 + m)
        dn = (v + 2 * m) * (v + 2 * m + 1.0)
        D = dn / _guard(dn + swn * D, tiny)
        C = jnp.where(m == 0, first, _guard(1.0 + swn / (dn * C), tiny))
        # a zero numerator ends the fraction (integer a or b); later steps would only add
        # rounding noise from 1 + c ~ 0
        dead = dead | (swn == 0)
        cd = jnp.where(dead, 1.0, C * D)
        return C, D, G * cd, dead, jnp.abs(cd - 1.0)

    def body(carry):
        m, C, D, G, dead, _ = carry
        err = jnp.zeros_like(x)
        for i in range(UNROLL_VALUE):
            C, D, G, dead, e1 = half(m + i, u1o, u2o, vo, C, D, G, dead)
            C, D, G, dead, e2 = half(m + i + 1.0, 0.0, u2e, ve, C, D, G, dead)
            err = jnp.maximum(err, jnp.maximum(e1, e2))
        return m + UNROLL_VALUE, C, D, G, dead, jnp.all(err <= tol)

    def cond(carry):
        return (carry[0] < MAX_ITER) & ~carry[5]

    one = jnp.ones_like(x)
    no = jnp.zeros(x.shape, bool)
    init = (jnp.asarray(0.0, dt), one, jnp.zeros_like(x), one, no, jnp.asarray(False))
    G = jax.lax.while_loop(cond, body, init)[3]
    return jnp.log(G)


def log_fraction_grad(a, b, x, mode, scale):
    """log G and its (a, b) gradient, shape (2,) + x.shape.

    The derivative recurrences of the Lentz iteration are carried explicitly and the loop
    stops only when the value and both derivative increments are below ``eps`` relative to
    ``scale`` (the size of the other terms the derivative is added to).
    """
    dt = x.dtype
    tol = 4 * jnp.finfo(dt).eps
    tiny = jnp.finfo(dt).tiny ** 0.5
    sigma, u1o, u2o, vo, u2e, ve, w = lane_constants(a, b, x, mode)
    da, db = _lane_constant_derivs(mode, dt)
    sw = sigma * w
    first = first_denominator(a, b, x, mode)
    odd = (u1o, u2o, vo)
    even = (jnp.zeros_like(x), u2e, ve)
    zero = jnp.zeros_like(x)
    d_odd = (da[:3], db[:3])
    d_even = ((zero, da[3], da[4]), (zero, db[3], db[4]))

    def half(m, consts, dconsts, state):
        # c = sw N / Dn and its derivative in each direction k (a, b); Lentz updates of C, D
        # and of their derivatives; dL accumulates d log(C D). Carrying 1/C keeps this to
        # three divisions per step.
        u1, u2, v = consts
        inv_C, D, G, dead, dC, dD, dL = state
        N = (u1 + m) * (u2 + m)
        inv_dn = 1.0 / ((v + 2 * m) * (v + 2 * m + 1.0))
        c = sw * N * inv_dn
        Dt = _guard(1.0 + c * D, tiny)
        Dnew = 1.0 / Dt
        r = c * inv_C
        Cnew = jnp.where(m == 0, first, _guard(1.0 + r, tiny))
        inv_Cnew = 1.0 / Cnew
        dead = dead | (N == 0)
        cd = jnp.where(dead, 1.0, Cnew * Dnew)
        new_dC, new_dD, new_dL, inc = [], [], [], []
        for k in range(2):
            du1, du2, dv = dconsts[k]
            dN = du1 * (u2 + m) + (u1 + m) * du2
            dc = (sw * dN - c * dv * (2 * v + 4 * m + 1.0)) * inv_dn
            dDk = -Dnew * Dnew * (dc * D + c * dD[k])
            dCk = (dc - r * dC[k]) * inv_C
            i_k = dCk * inv_Cnew + dDk * Dt
            new_dC.append(dCk)
            new_dD.append(dDk)
            new_dL.append(dL[k] + i_k)
            inc.append(jnp.abs(i_k))
        state = (inv_Cnew, Dnew, G * cd, dead, tuple(new_dC), tuple(new_dD), tuple(new_dL))
        return state, jnp.abs(cd - 1.0), inc

    def body(carry):
        m, state, _ = carry
        err = jnp.zeros_like(x)
        inc = [jnp.zeros_like(x), jnp.zeros_like(x)]
        for i in range(UNROLL):
            state, e1, i1 = half(m + i, odd, d_odd, state)
            state, e2, i2 = half(m + i + 1.0, even, d_even, state)
            err = jnp.maximum(err, jnp.maximum(e1, e2))
            inc = [inc[k] + i1[k] + i2[k] for k in range(2)]
        ok = err <= tol
        for k in range(2):
            ok &= inc[k] <= tol * (scale[k] + jnp.abs(state[6][k]))
        return m + UNROLL, state, jnp.all(ok) & (m > 0)

    def cond(carry):
        return (carry[0] < MAX_ITER) & ~carry[2]

    one = jnp.ones_like(x)
    state0 = (one, zero, one, zero.astype(bool), (zero, zero), (zero, zero), (zero, zero))
    init = (jnp.asarray(0.0, dt), state0, jnp.asarray(False))
    _, (_, _, G, _, _, _, dL), _ = jax.lax.while_loop(cond, body, init)
    return jnp.log(G), jnp.stack(dL)


def log_fraction_hessian(a, b, x, mode, scale):
    """log G with gradient and (aa, ab, bb) second derivatives, by a second-order forward sweep.

    Slower than :func:`log_fraction_grad`; used only for Hessians. The step is differentiated
    with nested ``jax.jvp`` and the derivative states are carried in the loop so that the
    stop test can look at them.
    """
    dt = x.dtype
    tol = 4 * jnp.finfo(dt).eps
    tiny = jnp.finfo(dt).tiny ** 0.5
    zeros = jnp.zeros_like(x)
    ones = jnp.ones_like(x)
    basis = ((ones, zeros), (zeros, ones))
    zero_ab = (zeros, zeros)
    pairs = ((0, 0), (0, 1), (1, 1))

    def full_step(ab, st, m):
        sigma, u1o, u2o, vo, u2e, ve, w = lane_constants(ab[0], ab[1], x, mode)
        C, D, G = st
        for mm, u1, u2, v in ((m, u1o, u2o, vo), (m + 1.0, 0.0, u2e, ve)):
            c = sigma * w * (u1 + mm) * (u2 + mm) / ((v + 2 * mm) * (v + 2 * mm + 1.0))
            D = 1.0 / _guard(1.0 + c * D, tiny)
            C = _guard(1.0 + c / C, tiny)
            G = G * (C * D)
        return C, D, G

    def body(carry):
        m, st, d1, d2, _ = carry
        ab = (a, b)
        f = lambda ab_, st_: full_step(ab_, st_, m)
        new_st = f(ab, st)
        new_d1 = tuple(jax.jvp(f, (ab, st), (basis[i], d1[i]))[1] for i in range(2))
        new_d2 = []
        for (i, k), dik in zip(pairs, d2):

            def first(ab_, st_, i=i):
                return jax.jvp(f, (ab_, st_), (basis[i], d1[i]))[1]

            # D^2 f[(e_i, ds_i), (e_k, ds_k)] + J_s f . ds_ik
            t2 = jax.jvp(first, (ab, st), (basis[k], d1[k]))[1]
            t3 = jax.jvp(f, (ab, st), (zero_ab, dik))[1]
            new_d2.append(jax.tree.map(jnp.add, t2, t3))
        new_d2 = tuple(new_d2)
        G_old, G = st[2], new_st[2]
        ok = jnp.abs(G / G_old - 1.0) <= tol
        for i in range(2):
            g_old, g_new = d1[i][2] / G_old, new_d1[i][2] / G
            ok &= jnp.abs(g_new - g_old) <= tol * (scale[i] + jnp.abs(g_new))
        for (i, k), o, n in zip(pairs, d2, new_d2):
            h_old = o[2] / G_old - d1[i][2] * d1[k][2] / (G_old * G_old)
            h_new = n[2] / G - new_d1[i][2] * new_d1[k][2] / (G * G)
            ok &= jnp.abs(h_new - h_old) <= 16 * tol * (jnp.abs(h_new) + scale[0] + scale[1] + 1)
        return m + 1.0, new_st, new_d1, new_d2, jnp.all(ok) & (m > 1)

    def cond(carry):
        return (carry[0] < MAX_ITER) & ~carry[4]

    zst = (zeros, zeros, zeros)
    init = (jnp.asarray(0.0, dt), (ones, zeros, ones), (zst, zst), (zst, zst, zst), False)
    init = init[:4] + (jnp.asarray(False),)
    _, st, d1, d2, _ = jax.lax.while_loop(cond, body, init)
    G = st[2]
    g = jnp.stack([d1[i][2] / G for i in range(2)])
    h = jnp.stack([d2[n][2] / G - g[i] * g[k] for n, (i, k) in enumerate(pairs)])
    return jnp.log(G), g, h
