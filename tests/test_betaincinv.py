"""Inverse regularized incomplete beta (Eq. 62): values vs scipy, gradients vs finite
differences of scipy.special.betaincinv and the implicit-function formulas."""

import jax
import numpy as np
import pytest
import scipy.special
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ds3jax.special._betaincinv import betaincinv


def test_values_match_scipy_random_grid():
    rng = np.random.default_rng(11)
    size = 1500
    a = np.exp(rng.uniform(np.log(0.1), np.log(1e3), size))
    b = np.exp(rng.uniform(np.log(0.1), np.log(1e4), size))
    y = np.concatenate([rng.uniform(0, 1, size // 2), 10 ** rng.uniform(-10, 0, size - size // 2)])
    y = np.clip(np.where(rng.random(size) < 0.3, 1 - y, y), 1e-10, 1 - 1e-8)
    ref = scipy.special.betaincinv(a, b, y)
    keep = (ref > 1e-300) & (ref < 1 - 1e-10)
    got = np.asarray(jax.jit(betaincinv)(a[keep], b[keep], y[keep]))
    r, aa, bb, yy = ref[keep], a[keep], b[keep], y[keep]
    # Conditioning: an error dy in y (rounding of y itself, ~1e-14 relative accuracy of I
    # in its smaller tail) moves x by dy / pdf(x); x near 1 is representable to ~1e-16 only.
    log_pdf = (aa - 1) * np.log(r) + (bb - 1) * np.log1p(-r) - scipy.special.betaln(aa, bb)
    dy = 1e-14 * np.minimum(yy, 1 - yy) + 2.3e-16 * yy
    tol = 1e-10 * np.minimum(r, 1 - r) + 4e-16 + 10 * dy * np.exp(-log_pdf)
    assert np.all(np.abs(got - r) <= tol), np.max(np.abs(got - r) / tol)


@settings(max_examples=30, deadline=None)
@example(a=0.75, b=0.25, y=0.998046875)  # found by CI: x a few ulps below 1
@given(
    a=st.floats(0.2, 50.0),
    b=st.floats(0.2, 50.0),
    y=st.floats(1e-6, 1 - 1e-6),
)
def test_roundtrip_property(a, b, y):
    x = float(betaincinv(a, b, y))
    assert 0.0 < x < 1.0
    # I_x moves by |I(x + ulp) - I(x - ulp)| between neighbouring floats: near x = 1 with a
    # small b (a = 0.75, b = 0.25, y = 0.998: 1 - x = 2.2e-11, one ulp 5e-6 of it) no float
    # x round-trips y to 1e-10; the inverse must then be within an ulp or two of the best
    step = float(scipy.special.betainc(a, b, np.nextafter(x, 1.0)))
    step -= float(scipy.special.betainc(a, b, np.nextafter(x, 0.0)))
    tol = 1e-10 * y + 1e-14 + 2 * abs(step)
    assert abs(scipy.special.betainc(a, b, x) - y) <= tol


def test_edges_and_domain():
    np.testing.assert_array_equal(
        np.asarray(betaincinv(2.0, 3.0, np.array([0.0, 1.0]))), [0.0, 1.0]
    )
    assert np.isnan(float(betaincinv(-1.0, 3.0, 0.5)))
    assert np.isnan(float(betaincinv(1.0, 3.0, 1.5)))
    # closed form: I_x(1, b) = 1 - (1 - x)^b  =>  x = 1 - (1 - y)^(1/b)
    assert float(betaincinv(1.0, 4.0, 0.3)) == pytest.approx(1 - 0.7**0.25, rel=1e-14)


@pytest.mark.parametrize(
    "a,b,y", [(0.4, 1.1, 0.3), (3.0, 7.5, 0.8), (0.7, 0.5, 0.05), (12.0, 2.0, 0.5)]
)
def test_gradients_match_finite_differences(a, b, y):
    g = jax.grad(lambda a_, b_, y_: betaincinv(a_, b_, y_), argnums=(0, 1, 2))(a, b, y)
    h = 1e-6
    inv = scipy.special.betaincinv
    fd = (
        (inv(a + h, b, y) - inv(a - h, b, y)) / (2 * h),
        (inv(a, b + h, y) - inv(a, b - h, y)) / (2 * h),
        (inv(a, b, y + h) - inv(a, b, y - h)) / (2 * h),
    )
    for gi, fi in zip(g, fd):
        assert float(gi) == pytest.approx(fi, rel=1e-6, abs=1e-10)
    # dx/dy = 1 / Beta pdf at x (implicit function theorem)
    x = inv(a, b, y)
    pdf = np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - scipy.special.betaln(a, b))
    assert float(g[2]) == pytest.approx(1 / pdf, rel=1e-10)


def test_vmap_and_float32():
    a = np.array([0.5, 2.0, 10.0])
    y = np.array([0.1, 0.5, 0.9])
    v = jax.vmap(lambda a_, y_: betaincinv(a_, 3.0, y_))(a, y)
    np.testing.assert_allclose(np.asarray(v), scipy.special.betaincinv(a, 3.0, y), rtol=1e-12)
    x32 = betaincinv(np.float32(2.0), np.float32(3.0), np.float32(0.4))
    assert x32.dtype == np.float32
    assert float(x32) == pytest.approx(scipy.special.betaincinv(2.0, 3.0, 0.4), rel=1e-5)


def test_roots_below_the_smallest_normal_number():
    # I_x(a, b) ~ x^a / (a B(a, b)) for small x, so the root is (y a B(a, b))^(1/a): for
    # (1e-5, 1, 1e-300) that is 1e-300^(1e5), far below any float. The iteration stopped at
    # the smallest normal number, whose I is 0.99 (not 1e-300); 0 is the representable answer
    for a, b, y in (
        (1e-5, 1.0, 1e-300),
        (1e-5, 1.0, 1e-3),
        (0.01, 2.0, 1e-200),
        (0.5, 3.0, 1e-300),
    ):
        log_root = (np.log(y) + np.log(a) + scipy.special.betaln(a, b)) / a
        assert log_root < np.log(np.finfo(float).tiny)  # the premise: the root underflows
        assert float(betaincinv(a, b, y)) == 0.0
    # a root that is a normal number is still found (SciPy: 4.08e-151)
    x = float(betaincinv(2.0, 3.0, 1e-300))
    assert x == pytest.approx(scipy.special.betaincinv(2.0, 3.0, 1e-300), rel=1e-12)


@pytest.mark.parametrize(
    "a,b,y",
    [
        (100.0, 228.68, 1e-20),
        (100.0, 228.68, 1e-65),
        (50.0, 50.0, 1e-30),
        (2535.104, 31.2835, 2.0448e-298),
        (3.0, 400.0, 1e-250),
        (228.68, 100.0, 1 - 1e-12),
    ],
)
def test_deep_tail_roots_satisfy_the_equation(a, b, y):
    # deep in a tail I ~ C x^a: Halley steps in x crept down by (1 - 2/a) a step and stopped
    # 17x off (betaincinv(100, 228.68, 1e-20) was 0.1355, the root 0.11365); the root is
    # checked by mpmath's I at 40 digits, I(x) = y to the condition number's rounding
    import mpmath

    mpmath.mp.dps = 40
    x = float(betaincinv(a, b, y))
    got = mpmath.betainc(a, b, 0, x, regularized=True)
    if y < 0.5:
        assert float(got / y) == pytest.approx(1.0, rel=1e-10)
    else:
        assert float((1 - got) / (1 - y)) == pytest.approx(1.0, rel=1e-8)
