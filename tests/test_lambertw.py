"""Lambert W_0: values against scipy and mpmath, derivatives against the analytic rule."""

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, settings
from hypothesis import strategies as st

from ds3jax.special._lambertw import lambertw0

INV_E = float(np.float64(-1.0 / np.e))  # the float nearest -1/e (1.2e-17 below it)


def _mp_w(x, dps=40):
    with mp.workdps(dps):
        return float(mp.lambertw(mp.mpf(float(x))).real)


def _grid():
    return np.unique(
        np.concatenate(
            [
                INV_E + np.logspace(-6, np.log10(1 / np.e), 200),
                np.linspace(-0.36, 0.0, 150),
                -np.logspace(-300, -0.5, 100),
                np.logspace(-300, 6, 400),
                [0.0, 1.0, np.e, 1e6],
            ]
        )
    )


def test_matches_scipy_on_domain():
    # scipy evaluates 1 + e x naively and is itself off by up to 1e-8 within 1e-16 of -1/e,
    # so it is the reference from -1/e + 1e-6 on (mpmath covers the branch point below).
    x = _grid()
    w = np.asarray(lambertw0(jnp.asarray(x)))
    ref = sc.lambertw(x).real
    err = np.abs(w - ref) / np.maximum(np.abs(ref), 1e-300)
    assert err.max() < 1e-13, x[np.argmax(err)]


def test_matches_mpmath_near_branch_point():
    x = INV_E + np.logspace(-16, -5, 120)
    w = np.asarray(lambertw0(jnp.asarray(x)))
    ref = np.array([_mp_w(v) for v in x])
    assert np.max(np.abs(w - ref)) < 2e-15


def test_matches_mpmath_across_domain():
    x = _grid()[::7]
    w = np.asarray(lambertw0(jnp.asarray(x)))
    ref = np.array([_mp_w(v) for v in x])
    err = np.abs(w - ref) / np.maximum(np.abs(ref), 1e-300)
    assert err.max() < 2e-15


def test_special_points():
    assert float(lambertw0(INV_E)) == -1.0
    assert float(lambertw0(0.0)) == 0.0
    assert float(lambertw0(np.e)) == pytest.approx(1.0, rel=1e-15)
    assert np.isinf(float(lambertw0(np.inf)))
    assert np.isnan(float(lambertw0(-0.4)))
    assert np.isnan(float(lambertw0(np.nan)))
    # x near 0: W(x) = x - x^2 + ...
    assert float(lambertw0(1e-300)) == 1e-300


def test_integer_input_promotes_to_float():
    assert jnp.issubdtype(lambertw0(1).dtype, jnp.floating)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=INV_E, max_value=1e6, allow_nan=False))
def test_defining_identity(x):
    w = float(lambertw0(x))
    assert w >= -1.0
    # w e^w = x up to the conditioning of the inverse map.
    assert abs(w * np.exp(w) - x) <= 4e-16 * max(abs(x), 1.0) * max(1.0, abs(w))


def test_first_derivative_matches_analytic_rule():
    x = np.concatenate(
        [INV_E + np.logspace(-8, -1, 20), np.linspace(-0.3, 3.0, 25), np.logspace(1, 6, 10)]
    )
    g = np.asarray(jax.vmap(jax.grad(lambertw0))(jnp.asarray(x)))
    with mp.workdps(40):
        ref = []
        for v in x:
            w = mp.lambertw(mp.mpf(float(v))).real
            ref.append(float(mp.exp(-w) / (1 + w)))
    np.testing.assert_allclose(g, np.array(ref), rtol=1e-12)
    assert float(jax.grad(lambertw0)(0.0)) == 1.0


def test_second_derivative_matches_mpmath():
    x = np.array([-0.3, -0.1, 0.0, 0.5, 2.0, 50.0, 1e4])
    h = np.asarray(jax.vmap(jax.grad(jax.grad(lambertw0)))(jnp.asarray(x)))
    with mp.workdps(40):
        ref = [float(mp.diff(lambda t: mp.lambertw(t).real, mp.mpf(float(v)), 2)) for v in x]
    np.testing.assert_allclose(h, np.array(ref), rtol=1e-10)


def test_branch_point_derivative_is_inf_not_nan():
    g = float(jax.grad(lambertw0)(INV_E))
    assert np.isposinf(g)
    g_near = float(jax.grad(lambertw0)(INV_E + 1e-12))
    assert np.isfinite(g_near) and g_near > 1e5


def test_jit_vmap_consistent():
    x = jnp.asarray(_grid()[::11])
    a = lambertw0(x)
    b = jax.jit(lambertw0)(x)
    c = jax.vmap(lambertw0)(x)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=1e-15)


def test_float32_follows_dtype_and_is_accurate():
    x = np.concatenate(
        [INV_E + np.logspace(-5, -1, 20), np.linspace(-0.3, 10, 40), np.logspace(1, 6, 10)]
    )
    x32 = x.astype(np.float32)
    w = lambertw0(jnp.asarray(x32))
    assert w.dtype == jnp.float32
    ref = np.array([_mp_w(float(v)) for v in x32])
    err = np.abs(np.asarray(w, np.float64) - ref) / np.maximum(np.abs(ref), 1e-3)
    assert np.all(np.isfinite(np.asarray(w)))
    assert err.max() < 2e-6


def test_derivative_for_large_arguments():
    # exp(-W) / (1 + W) underflowed to 0 from x ~ 1e306 and lost ~1e-14 at x = 1e100;
    # reference W / (x (1 + W)) in mpmath at 40 digits
    import mpmath

    for x in (1e10, 1e100, 1e306):
        with mpmath.workdps(40):
            w = mpmath.lambertw(mpmath.mpf(x))
            want = float(w / (mpmath.mpf(x) * (1 + w)))
        assert float(jax.grad(lambertw0)(x)) == pytest.approx(want, rel=1e-15)


def test_log1p_of_infinity():
    from ds3jax.special import log1p

    assert float(log1p(np.inf)) == np.inf
