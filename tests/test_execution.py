"""Execution layouts (``ds3jax.execution``) and the batching rules of the incomplete beta.

The layout (block size, straggler phases, hardness partition) must change only the schedule:
every point gets the same value and derivatives (to rounding) whether it runs in blocks of
2048 (CPU default), as one whole batch (GPU default), in small blocks with three phases, in
one lock-step loop, or as a scalar call under ``vmap``. References are independent: the
mpmath data of ``tests/data/betainc_reference.npz`` and scipy.
"""

from __future__ import annotations

import dataclasses
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sps

import ds3jax
from ds3jax.special import betainc, log_betaincc

DATA_PATH = pathlib.Path(__file__).resolve().parent / "data" / "betainc_reference.npz"
EPS = np.finfo(np.float64).eps

LAYOUTS = {
    "cpu": dataclasses.asdict(ds3jax.execution_settings("cpu")),
    "gpu": dataclasses.asdict(ds3jax.execution_settings("gpu")),
    "small blocks, 3 phases": dict(block=512, split=4, phases=3, partition=True),
    "one lock-step loop": dict(block=None, phases=1),
}


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(DATA_PATH))


@pytest.fixture(scope="module")
def points(ref):
    """~5000 points (> 2 blocks of 2048): the mpmath reference points, then DS3 and wide ones
    with integer a mixed in and the slowest points (x at the mean) included."""
    rng = np.random.default_rng(11)
    n_rand = 4300
    m = rng.integers(1, 101, n_rand // 2).astype(float)
    T = m * np.exp(rng.uniform(0.0, np.log(200.0), m.size))
    a = np.concatenate([m, np.exp(rng.uniform(np.log(0.3), np.log(1e4), n_rand // 2))])
    b = np.concatenate([T - m + 1.0, np.exp(rng.uniform(np.log(0.5), np.log(1e7), n_rand // 2))])
    x = np.concatenate([rng.uniform(0.01, 0.99, m.size), rng.uniform(0.0, 1.0, n_rand // 2)])
    x[:40] = a[:40] / (a[:40] + b[:40])
    a = np.concatenate([ref["g_a"], ref["v_a"], a])
    b = np.concatenate([ref["g_b"], ref["v_b"], b])
    x = np.concatenate([ref["g_x"], ref["v_x"], x])
    return a, b, x


def _value_and_grads(a, b, x):
    """Array-path values and (a, b, x) gradients, traced afresh under the current layout."""
    vg = jax.jit(jax.value_and_grad(lambda *t: jnp.sum(betainc(*t)), argnums=(0, 1, 2)))
    val = jax.jit(lambda *t: betainc(*t))(a, b, x)
    _, g = vg(a, b, x)
    return np.asarray(val), np.stack([np.asarray(t) for t in g], 1)


@pytest.fixture(scope="module")
def by_layout(points):
    out = {}
    for name, kw in LAYOUTS.items():
        with ds3jax.execution(**kw):
            out[name] = _value_and_grads(*points)
    return out


def _assert_same(got, want, rtol, what):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300, err_msg=what)


def test_layouts_agree_with_each_other(by_layout):
    v0, g0 = by_layout["cpu"]
    for name, (v, g) in by_layout.items():
        _assert_same(v, v0, 1e-13, f"values, {name} vs cpu layout")
        _assert_same(g, g0, 1e-11, f"gradients, {name} vs cpu layout")


def test_every_layout_matches_mpmath_and_scipy(ref, points, by_layout):
    n_g, n_v = ref["g_a"].size, ref["v_a"].size
    keep = ref["g_keep_I"]
    vals_ref = ref["v_I"]
    tol_v = np.maximum(1e-12, 4.0 * EPS * ref["v_kappa_I"])
    use_v = vals_ref > 1e-300
    a, b, x = points
    sp = sps.betainc(a, b, x)
    use_s = (sp > 1e-250) & (np.arange(a.size) >= n_g + n_v)
    for name, (v, g) in by_layout.items():
        got_v = v[n_g : n_g + n_v]
        err = np.abs(got_v - vals_ref) / np.abs(np.where(use_v, vals_ref, 1.0))
        assert np.all(err[use_v] <= tol_v[use_v]), (name, np.max(err[use_v] / tol_v[use_v]))
        want = ref["g_dI"][keep]
        normal = np.abs(want) >= 1e-290
        _assert_same(g[:n_g][keep][normal], want[normal], 1e-8, f"gradients vs mpmath, {name}")
        _assert_same(v[use_s], sp[use_s], 1e-10, f"values vs scipy, {name}")


def test_vmapped_scalar_calls_match_array_calls(points, by_layout):
    a, b, x = points
    v0, g0 = by_layout["cpu"]
    val = np.asarray(jax.jit(jax.vmap(betainc))(a, b, x))
    grad = jax.jit(jax.vmap(jax.grad(betainc, argnums=(0, 1, 2))))(a, b, x)
    _assert_same(val, v0, 1e-13, "jit(vmap(betainc)) vs array call")
    _assert_same(np.stack([np.asarray(t) for t in grad], 1), g0, 1e-11, "jit(vmap(grad))")
    with ds3jax.execution(**LAYOUTS["gpu"]):
        val_gpu = np.asarray(jax.jit(jax.vmap(lambda *t: betainc(*t)))(a, b, x))
    _assert_same(val_gpu, v0, 1e-13, "vmap under the GPU layout")
    with ds3jax.execution(batching=False):
        val_old = np.asarray(jax.jit(jax.vmap(lambda *t: betainc(*t)))(a, b, x))
    _assert_same(val_old, v0, 1e-13, "vmap without the batching rule")


def test_vmap_variants(points, by_layout):
    """vmap(vmap), in_axes=None mixes, jacfwd and jacrev of batched calls."""
    a, b, x = (v[:600] for v in points)
    v0, g0 = (t[:600] for t in by_layout["cpu"])
    # nested vmap over a (20 x 30) grid of the same points
    A, B, X = (v.reshape(20, 30) for v in (a, b, x))
    vv = jax.jit(jax.vmap(jax.vmap(betainc)))(A, B, X)
    _assert_same(np.asarray(vv).ravel(), v0, 1e-13, "vmap(vmap)")
    # unbatched b and x against the broadcast array call
    b0, x0 = 37.5, 0.21
    mixed = jax.jit(jax.vmap(betainc, in_axes=(0, None, None)))(a, b0, x0)
    _assert_same(np.asarray(mixed), np.asarray(betainc(a, b0, x0)), 1e-13, "in_axes None")
    ga = jax.jit(jax.vmap(jax.grad(betainc, argnums=1), in_axes=(None, 0, 0)))(3.0, b, x)
    want = np.asarray(jax.grad(lambda t: jnp.sum(betainc(3.0, t, x)))(b))
    _assert_same(np.asarray(ga), want, 1e-11, "vmap(grad) with in_axes None")
    # outer vmap over a, inner over (b, x) with a shared
    outer = jax.vmap(jax.vmap(betainc, in_axes=(None, 0, 0)), in_axes=(0, None, None))
    got = np.asarray(jax.jit(outer)(a[:7], b[:50], x[:50]))
    brute = np.asarray(betainc(a[:7, None], b[None, :50], x[None, :50]))
    _assert_same(got, brute, 1e-13, "vmap(vmap) with in_axes None mixes")
    # jacfwd of an elementwise batched call is diagonal: the diagonal is the gradient
    J = jax.jit(jax.jacfwd(betainc, argnums=(0, 1, 2)))(a[:40], b[:40], x[:40])
    diag = np.stack([np.diag(np.asarray(t)) for t in J], 1)
    _assert_same(diag, g0[:40], 1e-11, "jacfwd")


def test_vmapped_hessian_matches_mpmath(ref):
    """vmap(hessian) and jit(vmap(jacfwd(grad))) of scalar calls at the mpmath points."""
    a, b, x = ref["h_a"], ref["h_b"], ref["h_x"]
    H = jax.jit(jax.vmap(jax.hessian(betainc, argnums=(0, 1, 2))))(a, b, x)
    got = np.stack([np.stack([np.asarray(H[i][j]) for j in range(3)], -1) for i in range(3)], -2)
    want = ref["h_H"]
    normal = np.abs(want) >= 1e-290
    _assert_same(got[normal], want[normal], 1e-6, "vmap(hessian(betainc))")
    # the same through the whole-batch (GPU) layout
    with ds3jax.execution(**LAYOUTS["gpu"]):
        H2 = jax.jit(jax.vmap(jax.hessian(lambda *t: betainc(*t), argnums=(0, 1, 2))))(a, b, x)
    got2 = np.stack([np.stack([np.asarray(H2[i][j]) for j in range(3)], -1) for i in range(3)], -2)
    _assert_same(got2, got, 1e-11, "hessian, GPU layout vs CPU layout")


def _primitives(jaxpr, acc=None):
    """Every primitive name in a closed jaxpr, sub-jaxprs included."""
    acc = set() if acc is None else acc
    for eqn in jaxpr.eqns:
        acc.add(eqn.primitive.name)
        for p in eqn.params.values():
            for sub in p if isinstance(p, (tuple, list)) else (p,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    _primitives(inner, acc)
    return acc


_NESTED = lambda f: jax.vmap(jax.vmap(f, in_axes=(0, None, 0)), in_axes=(0, 0, None))


@pytest.mark.parametrize(
    "transform",
    [
        lambda f: jax.vmap(f),
        lambda f: jax.vmap(jax.grad(f, argnums=(0, 1, 2))),
        lambda f: jax.vmap(jax.hessian(f, argnums=(0, 1, 2))),
        _NESTED,
    ],
    ids=["vmap", "vmap(grad)", "vmap(hessian)", "vmap(vmap) with None"],
)
def test_vmap_reaches_the_blocked_path(transform):
    """Under vmap the kernels see the whole batch: with the CPU layout a 5000-lane vmap is
    split into blocks (a ``scan``, from ``lax.map``); with ``block=None`` it is not. Without
    the batching rule the scalar kernel's while_loop would be batched as it is, no scan."""
    n = 5000
    a = jnp.full((n,), 3.0)
    b = jnp.full((n,), 40.0)
    x = jnp.full((n,), 0.1)
    args = (a.reshape(50, 100), b[:50], x[:100]) if transform is _NESTED else (a, b, x)
    for fn in (betainc, log_betaincc):
        with ds3jax.execution(block=2048):
            prims = _primitives(jax.make_jaxpr(transform(lambda *t: fn(*t)))(*args).jaxpr)
        assert "scan" in prims and "while" in prims
        with ds3jax.execution(block=None):
            prims = _primitives(jax.make_jaxpr(transform(lambda *t: fn(*t)))(*args).jaxpr)
        assert "scan" not in prims and "while" in prims
        with ds3jax.execution(block=2048, batching=False):  # the scalar kernel, loops batched
            prims = _primitives(jax.make_jaxpr(transform(lambda *t: fn(*t)))(*args).jaxpr)
        assert "scan" not in prims and "while" in prims


def test_log_betaincc_vmapped_matches_array_calls(points):
    a, b, x = (v[:3000] for v in points)
    for fn in (log_betaincc,):
        arr = np.asarray(jax.jit(fn)(a, b, x))
        vm = np.asarray(jax.jit(jax.vmap(fn))(a, b, x))
        fin = np.isfinite(arr)
        assert np.array_equal(fin, np.isfinite(vm))
        np.testing.assert_allclose(vm[fin], arr[fin], rtol=1e-13, atol=1e-300)


def test_execution_settings_per_backend_and_overrides():
    cpu = ds3jax.execution_settings("cpu")
    gpu = ds3jax.execution_settings("gpu")
    assert cpu.block == 2048 and gpu.block is None
    assert ds3jax.execution_settings("cuda") == gpu
    with ds3jax.execution(block=4096) as s:
        assert s.block == 4096 and ds3jax.execution_settings("cpu").phases == cpu.phases
        with ds3jax.execution(phases=1):
            inner = ds3jax.execution_settings("cpu")
            assert inner.block == 4096 and inner.phases == 1
        assert ds3jax.execution_settings("cpu").phases == cpu.phases
    assert ds3jax.execution_settings("cpu") == cpu


@pytest.mark.parametrize(
    "kw",
    [
        dict(block=0),
        dict(block=2.5),
        dict(split=1),
        dict(phases=0),
        dict(partition=1),
        dict(batching="no"),
    ],
)
def test_execution_rejects_bad_settings(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        with ds3jax.execution(**kw):
            pass


def test_solver_grid_chunk_is_schedule_only():
    """optim's seed-grid evaluation gives the same values in chunks and all at once."""
    from optim._solve import _eval_chunked

    pts = jnp.asarray(np.random.default_rng(3).uniform(-2, 2, (1000, 2)))
    fv = jax.vmap(lambda u: jnp.sin(u[0]) * jnp.exp(u[1]) + jnp.log(betainc(2.0, 5.0, 0.3)))
    with ds3jax.execution(grid_chunk=128):
        chunked = np.asarray(_eval_chunked(fv, pts))
    with ds3jax.execution(grid_chunk=None):
        whole = np.asarray(_eval_chunked(fv, pts))
    direct = np.sin(pts[:, 0]) * np.exp(pts[:, 1]) + np.log(sps.betainc(2.0, 5.0, 0.3))
    np.testing.assert_allclose(chunked, direct, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(whole, direct, rtol=1e-13, atol=1e-14)


def test_third_order_derivatives_match_the_analytic_density():
    """Orders past the two that the custom JVP rules cover differentiate the kernel itself
    (the expected-token constraint of the solver needs a third). d^3 I / dx^3 is the
    second derivative of the Beta density f: f ((log f)'^2 + (log f)''), by hand."""
    from scipy.special import betaln

    def want(a, b, x):
        f = np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - betaln(a, b))
        l1 = (a - 1) / x - (b - 1) / (1 - x)
        l2 = -(a - 1) / x**2 - (b - 1) / (1 - x) ** 2
        return f * (l1**2 + l2)

    d3 = jax.jacfwd(jax.jacfwd(jax.jacfwd(betainc, 2), 2), 2)
    a, b = 2.5, 7.0
    xs = np.array([0.05, 0.3, 0.6, 0.9])
    got = jax.jit(jax.vmap(d3, (None, None, 0)))(a, b, jnp.asarray(xs))
    np.testing.assert_allclose(np.asarray(got), want(a, b, xs), rtol=1e-9)


@pytest.mark.slow  # ~15 s of compilation
def test_mixed_third_order_derivative_matches_differences_of_the_hessian():
    # d/da of d^2 I / dx^2, against central differences of the Hessian rule
    a, b = 2.5, 7.0
    hxx = jax.hessian(betainc, 2)
    mixed = float(jax.grad(hxx, 0)(a, b, 0.3))
    h = 1e-5
    fd = (float(hxx(a + h, b, 0.3)) - float(hxx(a - h, b, 0.3))) / (2 * h)
    np.testing.assert_allclose(mixed, fd, rtol=1e-6)


def test_execution_arguments_are_checked():
    with pytest.raises(ValueError, match="backend must be"):
        ds3jax.execution_settings("bogus")
    with ds3jax.execution(block=np.int64(5)):  # a NumPy integer is an integer
        assert ds3jax.execution_settings("cpu").block == 5
    with pytest.raises(ValueError, match="block must be"):
        with ds3jax.execution(block=2.0):
            pass
