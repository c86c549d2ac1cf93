"""Regularized incomplete beta I_x(a, b) in log space, differentiable in a, b and x.

Algorithm
---------
For each point one side is computed directly and the other as ``log1p(-exp(.))`` of it, so
neither small tail is ever formed as ``1 - (something close to 1)``. Below the switch point
``x = (a + 1)/(a + b + 2)`` the direct side is I, above it 1 - I; each is
``exp(P) * (simple factor) / G`` with ``G`` one of four continued fractions
(:mod:`._fractions`):

* below, a <= b: the classical fraction for I_x(a, b) (Numerical Recipes' ``betacf``);
* above, b <= a: the same fraction for 1 - I = I_{1-x}(b, a);
* above, b > a: Gauss's fraction of ``2F1(1 - a, 1; b + 1; -(1-x)/x)``;
* below, a > b: its mirror image.

The classical fraction's partial denominators cancel when one parameter dwarfs the other
(about eps * b/a relative error at b = 1e7), the Gauss fractions do not: their coefficients
are positive beyond the first ``a`` (or ``b``) steps. For integer ``a`` (``b``) the fractions
terminate, which evaluates the finite binomial sum
``1 - I_x(m, b) = sum_{j<m} C(m+b-1, j) x^j (1-x)^(m+b-1-j)`` exactly, for real ``b``.

``P = a log x + b log(1-x) - log B(a, b)`` comes from :func:`._logbeta.log_prefactor`
(Stirling series with the large terms cancelled analytically, never lgamma differences), and
``log(1-x)`` from a float64-accurate ``log1p``.

Derivatives are supplied by ``jax.custom_jvp`` rules. With respect to ``x`` they are closed
forms (the beta density). With respect to ``a`` and ``b`` they are carried through the same
fraction in forward mode, and the loop stops only when the value *and* every carried
derivative have converged (a value-only stop test gives wrong ``a``-gradients at integer
``a``, where the value fraction terminates early). Second derivatives use a second-order
forward sweep, so ``jax.grad``, ``jax.hessian``, ``jax.jacfwd`` and ``jax.grad(jax.grad(.))``
all work.

Execution: the value, gradient and Hessian kernels run on the backend's layout
(:mod:`ds3jax._execution`: blocks of 2048 with two straggler phases on a CPU, the whole batch
at once on a GPU, overridable with ``ds3jax.execution``), and carry ``custom_vmap`` rules, so
``vmap`` of scalar calls (and of their ``grad``, ``jacfwd``, ``hessian``) runs the same
kernel on the whole batch as an array call does.

Accuracy (float64, checked against mpmath in the tests): values and logs ~1e-14 relative
(up to ~1e-12 where the condition number in a, b or x reaches 1e3-1e4), first and second
derivatives ~1e-11. Where both parameters are huge the fractions need ~0.2 sqrt(ab/(a+b))
steps near the mean, and get them (``_fractions.iteration_cap``): a, b up to ~1e10 agree
with SciPy to ~1e-10, the limit set by the condition number in x. Float32 gives ~1e-6
relative where the condition number is modest (4 * eps32 * condition number in general).
Out-of-domain inputs (a <= 0, b <= 0, x outside [0, 1], NaN) give NaN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._execution import execution_settings
from ._elementary import log1p
from ._fractions import GAUSS as _GAUSS
from ._fractions import GAUSS_LOWER as _GAUSS_LOWER
from ._fractions import LOWER as _LOWER
from ._fractions import SWAPPED as _SWAPPED
from ._fractions import (
    choose_mode,
    log_fraction,
    log_fraction_grad,
    log_fraction_hessian,
)
from ._logbeta import log_prefactor, log_prefactor_grad

__all__ = ["betainc", "log_betainc", "log_betaincc"]

# ----------------------------------------------------------------------------- assembling


def _blockwise(fn, *arrays):
    """Apply an elementwise ``fn`` (flat arrays -> pytree of arrays) on the execution layout.

    With ``block`` set (the CPU default, 2048) the points are padded and processed in blocks
    one after another under ``jax.lax.map``: each block's loop stops as soon as its own
    slowest point has converged (see ``_fractions._iterate``), and the loop state stays in
    cache. With ``block=None`` (GPU default) the whole batch is one call. See
    :mod:`ds3jax._execution`.
    """
    shape = arrays[0].shape
    size = arrays[0].size
    block = execution_settings().block
    flat = [v.reshape(-1) for v in arrays]
    if block is None or size <= block:
        out = fn(*flat)
        return jax.tree.map(lambda o: o.reshape(shape + o.shape[1:]), out)
    nblk = -(-size // block)
    pad = nblk * block - size
    # padding lanes get a harmless interior point
    fills = (1.0, 1.0, 0.5)
    flat = [
        jnp.concatenate([v, jnp.full((pad,), f, v.dtype)]).reshape(nblk, block)
        for v, f in zip(flat, fills)
    ]
    out = jax.lax.map(lambda args: fn(*args), tuple(flat))
    return jax.tree.map(
        lambda o: o.reshape((nblk * block,) + o.shape[2:])[:size].reshape(shape + o.shape[2:]), out
    )


def _hardness_class(a, b, x):
    """0 / 1 / 2: a cheap guess of how many continued-fraction steps a point needs.

    The fractions converge slowly only near the switch point, within a few standard
    deviations ``sd`` of the beta distribution's mean ``a/(a+b)``, and more slowly the larger
    ``min(a, b)``; ``sqrt(min(a, b) + 1) / (1 + |x - mean|/sd)`` tracks the step count with a
    correlation of ~0.9 on DS3-like inputs.
    """
    s = a + b
    mean = a / s
    sd = jnp.sqrt(mean * (b / s) / s)
    guess = jnp.sqrt(jnp.minimum(a, b) + 1.0) * sd / (sd + jnp.abs(x - mean))
    return (guess >= 0.5).astype(jnp.int32) + (guess >= 2.0).astype(jnp.int32)


def _sorted_blockwise(fn, a, b, x):
    """:func:`_blockwise` on the points grouped by :func:`_hardness_class` (derivatives only).

    Even with the two-phase loop of :func:`._fractions._iterate`, a block's first phase runs
    until most of its points have converged; grouping similar points into the same blocks
    saves ~15% of the derivative loop's time, more than the grouping costs there (for values
    it does not pay). The grouping is a stable three-way partition (two prefix sums, one
    scatter per input, one gather per output), far cheaper than a sort.
    """
    shape = x.shape
    size = x.size
    cfg = execution_settings()
    if not cfg.partition or cfg.block is None or size <= 2 * cfg.block:
        return _blockwise(fn, a, b, x)
    a, b, x = a.ravel(), b.ravel(), x.ravel()
    cls = _hardness_class(a, b, x)
    c1 = jnp.cumsum(cls == 1, dtype=jnp.int32)
    c2 = jnp.cumsum(cls == 2, dtype=jnp.int32)
    c0 = jnp.arange(1, size + 1, dtype=jnp.int32) - c1 - c2
    n0, n1 = c0[-1], c1[-1]
    dest = jnp.where(cls == 0, c0 - 1, jnp.where(cls == 1, n0 + c1 - 1, n0 + n1 + c2 - 1))
    moved = [jnp.zeros_like(v).at[dest].set(v, unique_indices=True) for v in (a, b, x)]
    out = _blockwise(fn, *moved)
    return jax.tree.map(lambda o: o[dest].reshape(shape), out)


def _elementwise_hessian(fn, ab, basis):
    """(aa, ab, bb) second derivatives of an elementwise scalar fn(ab), by nested jvp."""
    out = []
    for i, k in ((0, 0), (0, 1), (1, 1)):
        first = lambda ab_, i=i: jax.jvp(fn, (ab_,), (basis[i],))[1]
        out.append(jax.jvp(first, (ab,), (basis[k],))[1])
    return jnp.stack(out)


def _safe_inputs(a, b, x):
    dt = x.dtype
    valid = (a > 0) & (b > 0) & (x >= 0) & (x <= 1)
    interior = valid & (x > 0) & (x < 1)
    half = jnp.asarray(0.5, dt)
    a_s = jnp.where(valid, a, 1.0)
    b_s = jnp.where(valid, b, 1.0)
    x_s = jnp.where(interior, x, half)
    return a_s, b_s, x_s, valid, interior


def _value(kind, a, b, x):
    """I, log I or log(1 - I) on the interior, for already-sanitised inputs."""
    logx = jnp.log(x)
    logy = log1p(-x)
    mode = choose_mode(a, b, x)
    P = log_prefactor(a, b, logx, logy)
    logg = log_fraction(a, b, x, mode)
    K = _assemble_k(P, logg, a, b, logx, logy, mode)
    lower = (mode == _LOWER) | (mode == _GAUSS_LOWER)
    if kind == "I":
        return jnp.where(lower, jnp.exp(K), -jnp.expm1(K))
    other = _log1mexp(jnp.minimum(K, 0.0))
    own = lower if kind == "logI" else ~lower
    return jnp.where(own, K, other)


def _assemble_k(P, logg, a, b, logx, logy, mode):
    """log of the directly computed side: I (lower) or 1 - I (upper)."""
    lower = P - jnp.log(a) - logg
    swapped = P - jnp.log(b) - logg
    gauss = P - logx - jnp.log(b) - logg
    gauss_lower = P - logy - jnp.log(a) - logg
    return jnp.where(
        mode == _LOWER,
        lower,
        jnp.where(mode == _SWAPPED, swapped, jnp.where(mode == _GAUSS, gauss, gauss_lower)),
    )


def _log1mexp(u):
    """log(1 - exp(u)) for u <= 0, accurate everywhere."""
    return jnp.where(u > -0.6931471805599453, jnp.log(-jnp.expm1(u)), log1p(-jnp.exp(u)))


def _both_logs(K, mode):
    other = _log1mexp(jnp.minimum(K, 0.0))
    lower = (mode == _LOWER) | (mode == _GAUSS_LOWER)
    return jnp.where(lower, K, other), jnp.where(lower, other, K)


def _k_derivs(a, b, x, order):
    """K (log of the direct side), its (a, b) gradient and Hessian, plus helpers."""
    logx = jnp.log(x)
    logy = log1p(-x)
    mode = choose_mode(a, b, x)

    def kfix(ab):
        # the parts of K other than -log G, as a smooth function of (a, b)
        a_, b_ = ab
        P = log_prefactor(a_, b_, logx, logy)
        return _assemble_k(P, 0.0, a_, b_, logx, logy, mode), P

    ones, zeros = jnp.ones_like(a), jnp.zeros_like(a)
    basis = ((ones, zeros), (zeros, ones))
    K0, P = kfix((a, b))
    dPa, dPb = log_prefactor_grad(a, b, logx, logy)
    # K0 = P - log a or P - log b (plus terms free of a and b), see _assemble_k
    a_term = (mode == _LOWER) | (mode == _GAUSS_LOWER)
    dK0a = dPa - jnp.where(a_term, 1.0 / a, 0.0)
    dK0b = dPb - jnp.where(a_term, 0.0, 1.0 / b)
    grad0 = jnp.stack([dK0a, dK0b])
    gradP = jnp.stack([dPa, dPb])
    scale = jnp.abs(grad0) + jnp.abs(gradP)
    if order >= 2:
        logg, g1, g2 = log_fraction_hessian(a, b, x, mode, scale)
    else:
        logg, g1 = log_fraction_grad(a, b, x, mode, scale)
    K = K0 - logg
    gK = grad0 - g1
    hK = None
    if order >= 2:
        hK = _elementwise_hessian(lambda ab: kfix(ab)[0], (a, b), basis) - g2
    return mode, K, gK, hK, P, gradP, logx, logy


# Each public function f gets: value, first derivatives (a, b, x), second derivatives
# (aa, ab, bb, ax, bx, xx), assembled from K and its derivatives.


def _derived(kind, a, b, x, order):
    mode, K, gK, hK, P, gP, logx, logy = _k_derivs(a, b, x, order)
    lower = (mode == _LOWER) | (mode == _GAUSS_LOWER)
    logI, logC = _both_logs(K, mode)
    logpdf = P - logx - logy
    # chain rules from K to log I / log(1 - I) / I (see module docstring)
    r = jnp.exp(jnp.minimum(K - jnp.where(lower, logC, logI), 700.0))  # other-side ratio
    if kind == "I":
        sgn = jnp.where(lower, 1.0, -1.0)
        eK = jnp.exp(K)
        val = jnp.exp(logI)
        g_ab = sgn * eK * gK
        gx = jnp.exp(logpdf)
    else:
        own = (kind == "logI") == lower  # this function is the direct side
        val = logI if kind == "logI" else logC
        g_ab = jnp.where(own, 1.0, -r) * gK
        dx = jnp.exp(logpdf - val)
        gx = dx if kind == "logI" else -dx
    grads = (g_ab[0], g_ab[1], gx)
    if order < 2:
        return val, grads, None
    # second derivatives
    hab = hK  # (aa, ab, bb) of K
    outer = jnp.stack([gK[0] * gK[0], gK[0] * gK[1], gK[1] * gK[1]])
    x_curv = (a - 1.0) / x - (b - 1.0) / (1.0 - x)
    if kind == "I":
        h_ab = sgn * eK * (hab + outer)
        rho = gx
        h_xa = rho * gP[0]
        h_xb = rho * gP[1]
        h_xx = rho * x_curv
    else:
        h_own = hab
        h_other = -r * hab - r * (1.0 + r) * outer
        h_ab = jnp.where(own, h_own, h_other)
        h_xa = gx * (gP[0] - g_ab[0])
        h_xb = gx * (gP[1] - g_ab[1])
        h_xx = gx * x_curv - gx * gx
    hess = (h_ab[0], h_ab[1], h_xa, h_ab[2], h_xb, h_xx)  # aa, ab, ax, bb, bx, xx
    return val, grads, hess


# ----------------------------------------------------------------------------- edges


def _edge_values(kind, a, b, x, valid, dtype):
    nan = jnp.asarray(jnp.nan, dtype)
    at0 = x == 0
    if kind == "I":
        v0, v1 = 0.0, 1.0
    elif kind == "logI":
        v0, v1 = -jnp.inf, 0.0
    else:
        v0, v1 = 0.0, -jnp.inf
    return jnp.where(valid, jnp.where(at0, v0, v1), nan).astype(dtype)


def _edge_grads(kind, a, b, x, dtype):
    """Gradients at x in {0, 1}: zero in a and b, the one-sided density limit in x.

    Where the true limit is infinite the largest finite number is returned instead, so that
    an optimiser sees a direction rather than inf.
    """
    big = jnp.finfo(dtype).max
    at0 = x == 0
    # I'(x) at x = 0 behaves like x^(a-1)/B(a, b); at x = 1 like (1-x)^(b-1)/B(a, b)
    e = jnp.where(at0, a, b)
    lim = jnp.where(e < 1, big, jnp.where(e == 1, jnp.where(at0, b, a), 0.0))
    if kind == "I":
        gx = lim
    elif kind == "logI":
        gx = jnp.where(at0, big, lim)
    else:
        gx = jnp.where(at0, -lim, -big)
    z = jnp.zeros_like(x)
    return (z, z, gx.astype(dtype))


def _finite(v, dtype):
    big = jnp.finfo(dtype).max
    return jnp.clip(jnp.nan_to_num(v, nan=jnp.nan, posinf=big, neginf=-big), -big, big)


# ----------------------------------------------------------------------------- public API


def _batched(kernel):
    """``kernel`` (same-shape arrays a, b, x -> pytree) with a batching rule: one bigger call.

    The kernels are elementwise, so a batch of calls is the kernel on the stacked arrays.
    Without this rule ``vmap`` of a scalar call would batch the continued-fraction
    ``while_loop`` itself: every lane of the whole batch would wait for the slowest one, with
    no blocks and no straggler phases (0.5x scipy's speed for values, 11x the value time for
    ``vmap(grad)``). With it, ``vmap`` (nested, with ``in_axes=None`` mixes) and everything
    built on it (``jacfwd``, ``jacrev``, ``hessian``, and the batched ``custom_jvp`` rules
    below, which call only these kernels) reach the blocked, phased path of array calls.
    """

    @jax.custom_batching.custom_vmap
    def k(a, b, x):
        return kernel(a, b, x)

    @k.def_vmap
    def rule(axis_size, in_batched, a, b, x):
        if not execution_settings().batching:
            axes = [0 if bat else None for bat in in_batched]
            out = jax.vmap(kernel, in_axes=axes, axis_size=axis_size)(a, b, x)
            return out, jax.tree.map(lambda _: True, out)
        # batched arguments carry the batch axis first; unbatched ones are broadcast to it
        args = [
            v if bat else jnp.broadcast_to(v, (axis_size,) + v.shape)
            for v, bat in zip((a, b, x), in_batched)
        ]
        out = k(*args)
        return out, jax.tree.map(lambda _: True, out)

    # Differentiating ``k`` itself (third and higher orders: the custom_jvp rules below
    # cover the first two) would go through custom_vmap's own JVP, which re-enters ``rule``
    # without end; the kernel's plain forward-mode derivative is what those orders need.
    @jax.custom_jvp
    def kd(a, b, x):
        return k(a, b, x)

    @kd.defjvp
    def kd_jvp(primals, tangents):
        return jax.jvp(kernel, primals, tangents)

    return kd


def _make(kind):
    value_kernel = _batched(lambda *t: _blockwise(lambda *u: _value(kind, *u), *t))
    grad_kernel = _batched(
        lambda *t: _sorted_blockwise(lambda *u: _derived(kind, *u, order=1)[:2], *t)
    )
    hess_kernel = _batched(lambda *t: _blockwise(lambda *u: _derived(kind, *u, order=2)[2], *t))

    @jax.custom_jvp
    def f(a, b, x):
        a_s, b_s, x_s, valid, interior = _safe_inputs(a, b, x)
        v = value_kernel(a_s, b_s, x_s)
        return jnp.where(interior, v, _edge_values(kind, a, b, x, valid, x.dtype))

    @jax.custom_jvp
    def g(a, b, x):
        a_s, b_s, x_s, valid, interior = _safe_inputs(a, b, x)
        val, grads = grad_kernel(a_s, b_s, x_s)
        val = jnp.where(interior, val, _edge_values(kind, a, b, x, valid, x.dtype))
        edge = _edge_grads(kind, a, b, x, x.dtype)
        nan = jnp.asarray(jnp.nan, x.dtype)
        grads = tuple(
            jnp.where(interior, _finite(gi, x.dtype), jnp.where(valid, ei, nan))
            for gi, ei in zip(grads, edge)
        )
        return (val,) + grads

    @f.defjvp
    def f_jvp(primals, tangents):
        val, ga, gb, gx = g(*primals)
        ta, tb, tx = tangents
        return val, ga * ta + gb * tb + gx * tx

    @g.defjvp
    def g_jvp(primals, tangents):
        a, b, x = primals
        ta, tb, tx = tangents
        a_s, b_s, x_s, valid, interior = _safe_inputs(a, b, x)
        hess = hess_kernel(a_s, b_s, x_s)
        nan = jnp.asarray(jnp.nan, x.dtype)
        zero = jnp.zeros_like(x)
        haa, hab, hax, hbb, hbx, hxx = (
            jnp.where(interior, _finite(h, x.dtype), jnp.where(valid, zero, nan)) for h in hess
        )
        out = g(a, b, x)
        val_t = out[1] * ta + out[2] * tb + out[3] * tx
        ga_t = haa * ta + hab * tb + hax * tx
        gb_t = hab * ta + hbb * tb + hbx * tx
        gx_t = hax * ta + hbx * tb + hxx * tx
        return out, (val_t, ga_t, gb_t, gx_t)

    return f


_betainc = _make("I")
_log_betainc = _make("logI")
_log_betaincc = _make("logC")


def _prepare(a, b, x):
    a, b, x = jnp.broadcast_arrays(*(jnp.asarray(v) for v in (a, b, x)))
    dt = jnp.result_type(a, b, x, float)
    return a.astype(dt), b.astype(dt), x.astype(dt)


def betainc(a, b, x):
    """Regularized incomplete beta ``I_x(a, b) = B(x; a, b) / B(a, b)``.

    The DS3 chain-of-thought success probability is ``betainc(m, budget/omega - m + 1, q)``
    (paper Eq. 20).

    Args:
      a, b: shape parameters, > 0 (broadcast against each other and ``x``).
      x: argument in [0, 1].

    Returns:
      Array of the broadcast shape and the inputs' floating dtype. NaN for out-of-domain
      input. Differentiable (first and second order, any AD mode) in ``a``, ``b`` and ``x``;
      at ``x = 0`` or ``1`` gradients are the one-sided limits, with infinite limits replaced
      by the largest finite float.
    """
    return _betainc(*_prepare(a, b, x))


def log_betainc(a, b, x):
    """``log I_x(a, b)``, accurate far beyond the underflow of ``I`` (e.g. -1e5).

    Same arguments and differentiability as :func:`betainc`; ``-inf`` at ``x = 0``.
    """
    return _log_betainc(*_prepare(a, b, x))


def log_betaincc(a, b, x):
    """``log(1 - I_x(a, b))``, accurate where ``1 - I`` underflows; ``-inf`` at ``x = 1``."""
    return _log_betaincc(*_prepare(a, b, x))
