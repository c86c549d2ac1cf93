"""Reference tests for ``ds3jax.special.betainc``, ``log_betainc`` and ``log_betaincc``.

The references are independent of ds3jax:

* ``tests/data/betainc_reference.npz``: mpmath at 50 digits, built by
  ``python tests/make_betainc_reference.py`` (continued fraction cross-checked against the
  positive hypergeometric series, the integer-a binomial sum, quadrature and mpmath.betainc;
  derivatives by mpmath.diff cross-checked against differentiation under the integral sign);
* closed forms (a = 1, b = 1, a = b = 1/2), the large-b gamma limit (scipy.special.gammainc),
  and structural properties (monotonicity, bounds, the reflection symmetry) via hypothesis.

Accuracy targets (float64): values and logs 1e-12 relative (logs: where log < -1e-3, else
1e-15 absolute), first derivatives 1e-8 relative, second derivatives 1e-6 relative, float32
1e-4 relative where I > 1e-30. One widening: for I itself the tolerance is
max(1e-12, KAPPA_FACTOR * eps * kappa), kappa being the condition number of I with respect to
relative perturbations of a, b and min(x, 1 - x) (stored in the data file). A single rounding
of a quantity such as a log x or a / (a + b) already costs eps * kappa, so 1e-12 is out of
reach where kappa > ~1e3: 17 of the 529 value points (a >= 1e3 in the far lower tail), with
tolerances up to 9e-12. The logs are never widened at the stored points.

Failures print the worst points and the worst error per region (bulk / lower tail / upper
tail / beyond underflow), so a failing run says where the implementation is off.
"""

from __future__ import annotations

import functools
import importlib.util
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ds3jax.special import betainc, log_betainc, log_betaincc

DATA_PATH = pathlib.Path(__file__).resolve().parent / "data" / "betainc_reference.npz"
REGIONS = ("bulk", "lower", "upper", "deep_lower", "deep_upper", "special")
EPS = np.finfo(np.float64).eps
KAPPA_FACTOR = 4.0
RTOL_VALUE = 1e-12
RTOL_GRAD = 1e-8
RTOL_HESS = 1e-6
RTOL_F32 = 1e-4
# Below |log| = 1e-3 the logs are compared absolutely: log I = log1p(-Q) ~ -Q there.
LOG_ATOL_NEAR_ZERO = 1e-15
TINY = 1e-290  # references below this are underflow territory for float64 derivatives

ARGS = (0, 1, 2)
NAMES = ("a", "b", "x")

# Every batched evaluation goes through _apply, which pads to a few fixed sizes so that each
# (transformation, function, dtype) is compiled once per session: compilation, not
# evaluation, dominates the wall time of this file.
_BUCKETS = {"value": (1024,), "grad": (1024,)}  # second order: 64 (cheap to run, dear to build)
_PAD = (2.0, 3.0, 0.4)


def _d2_a(fn):
    """(d2/da2, d2/da db, d2/da dx) by jax.grad(jax.grad(.))."""
    return jax.grad(jax.grad(fn, argnums=0), argnums=ARGS)


_TRANSFORMS = {
    "value": lambda fn: fn,
    "grad": lambda fn: jax.grad(fn, argnums=ARGS),
    "hessian": lambda fn: jax.hessian(fn, argnums=ARGS),
    "jacfwd": lambda fn: jax.jacfwd(fn, argnums=ARGS),
    "grad_grad_a": _d2_a,
}


@functools.cache
def _compiled(kind, fn):
    return jax.jit(jax.vmap(_TRANSFORMS[kind](fn)))


def _apply(kind, fn, a, b, x, dtype=np.float64):
    """Evaluate a transformation of fn at the broadcast points, as numpy arrays of shape (N,)
    (values), (N, 3) (gradients) or (N, 3, 3) (Hessians)."""
    a, b, x = (np.ravel(v).astype(dtype) for v in np.broadcast_arrays(a, b, x))
    n = a.size
    size = next(s for s in _BUCKETS.get(kind, (64, 1024)) if s >= n)
    a, b, x = (np.concatenate([v, np.full(size - n, p, dtype)]) for v, p in zip((a, b, x), _PAD))
    out = _compiled(kind, fn)(a, b, x)
    if kind in ("value",):
        return np.asarray(out)[:n]
    if kind in ("grad", "jacfwd", "grad_grad_a"):
        return np.stack([np.asarray(v)[:n] for v in out], axis=-1)
    return np.stack(
        [np.stack([np.asarray(out[i][j])[:n] for j in range(3)], -1) for i in range(3)], -2
    )


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(DATA_PATH))


def _rel_err(got, want):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(got - want) / np.abs(want)
    return np.where(np.isfinite(got), err, np.inf)


def _report(mask_bad, err, tol, cols, header):
    """A failure message listing the worst offending points."""
    idx = np.flatnonzero(mask_bad)
    idx = idx[np.argsort(-(err[idx] / tol[idx]))][:12]
    lines = [f"{header}: {mask_bad.sum()} of {mask_bad.size} points fail"]
    for i in idx:
        desc = ", ".join(f"{k}={v[i]:.6g}" for k, v in cols.items())
        lines.append(f"  {desc}: err {err[i]:.3e} > tol {tol[i]:.1e}")
    return "\n".join(lines)


def _assert_log_close(got, want, rtol=RTOL_VALUE, context=()):
    """The log accuracy rule: relative below -1e-3, absolute LOG_ATOL_NEAR_ZERO above."""
    tol = rtol * abs(want) if want < -1e-3 else LOG_ATOL_NEAR_ZERO
    assert abs(got - want) <= tol, (*context, got, want)


def _per_region(err, region, mask):
    out = []
    for r, name in enumerate(REGIONS):
        m = mask & (region == r)
        if m.any():
            out.append(f"{name}: max {np.max(err[m]):.2e}")
    return "; ".join(out)


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------
def test_reference_file_is_small_and_complete(ref):
    assert DATA_PATH.stat().st_size < 1_000_000
    assert ref["v_a"].size >= 300 and ref["g_a"].size >= 100 and ref["h_a"].size >= 15
    # the sets cover the advertised domain
    assert ref["v_a"].min() <= 0.3 and ref["v_a"].max() >= 1e4
    assert ref["v_b"].min() <= 0.5 and ref["v_b"].max() >= 1e7
    assert np.any((ref["v_I"] > 0) & (ref["v_I"] < 1e-299))
    assert np.any((ref["v_logQ"] > -700) & (ref["v_logQ"] < -690))
    assert ref["v_logI"].min() <= -1e5 and ref["v_logQ"].min() <= -1e5


def test_reference_data_agrees_with_scipy(ref):
    """Sanity check of the data file itself against a third, float64 implementation
    (scipy / Boost): agreement to ~1e-13 except where scipy itself is ill-conditioned."""
    i, q = ref["v_I"], np.exp(ref["v_logQ"])
    for want, got in (
        (i, sps.betainc(ref["v_a"], ref["v_b"], ref["v_x"])),
        (q, sps.betaincc(ref["v_a"], ref["v_b"], ref["v_x"])),
    ):
        m = want > 1e-290
        err = np.abs(got[m] - want[m]) / want[m]
        assert np.median(err) < 1e-15 and np.quantile(err, 0.98) < 1e-12, np.quantile(err, 0.98)


def test_betainc_values_match_mpmath(ref):
    a, b, x, want = ref["v_a"], ref["v_b"], ref["v_x"], ref["v_I"]
    got = _apply("value", betainc, a, b, x)
    assert got.dtype == np.float64
    normal = want >= 1e-300
    tol = np.maximum(RTOL_VALUE, KAPPA_FACTOR * EPS * ref["v_kappa_I"])
    err = _rel_err(got, want)
    bad = normal & ~(err <= tol)
    msg = _report(bad, err, tol, {"a": a, "b": b, "x": x, "I": want}, "betainc vs mpmath")
    msg += f"\n  ({np.sum(normal & (tol > RTOL_VALUE))} points use the kappa-widened tolerance)"
    msg += "\n  per region: " + _per_region(err, ref["v_region"], normal)
    assert not bad.any(), msg
    # where I underflows in float64, the answer must be a (sub)normal tiny number or 0
    under = ~normal
    assert np.all(np.isfinite(got[under])) and np.all(got[under] >= 0)
    assert np.all(got[under] < 1e-299)


@pytest.mark.parametrize(
    "fn, key, kappa_key",
    [(log_betainc, "v_logI", "v_kappa_I"), (log_betaincc, "v_logQ", "v_kappa_Q")],
)
def test_log_values_match_mpmath(ref, fn, key, kappa_key):
    """log I and log(1 - I): 1e-12 relative wherever the log is below -1e-3, including far
    below the float64 range of I itself (log I = -1e5), absolute 1e-15 above -1e-3."""
    a, b, x, want = ref["v_a"], ref["v_b"], ref["v_x"], ref[key]
    got = _apply("value", fn, a, b, x)
    assert got.dtype == np.float64
    assert np.all(np.isfinite(got)), "log values must be finite for 0 < x < 1"
    far = want < -1e-3
    # kappa of log F = kappa of F / |log F|: matters only for the few points near the cut
    with np.errstate(divide="ignore", invalid="ignore"):
        kap_log = np.where(far, ref[kappa_key] / np.abs(want), 0.0)
    rtol = np.maximum(RTOL_VALUE, KAPPA_FACTOR * EPS * kap_log)
    err = _rel_err(got, want)
    bad = far & ~(err <= rtol)
    abs_err = np.abs(got - want)
    bad_near = ~far & ~(abs_err <= LOG_ATOL_NEAR_ZERO)
    msg = _report(bad, err, rtol, {"a": a, "b": b, "x": x, "ref": want}, f"{fn.__name__} vs mpmath")
    msg += "\n  per region: " + _per_region(err, ref["v_region"], far)
    assert not bad.any(), msg
    near_tol = np.full_like(abs_err, LOG_ATOL_NEAR_ZERO)
    msg = _report(
        bad_near, abs_err, near_tol, {"a": a, "b": b, "x": x, "ref": want}, "|log| < 1e-3 (abs)"
    )
    assert not bad_near.any(), msg


def test_deep_tails_do_not_underflow(ref):
    """log I = -1e5 must come out right, not -inf (the failure of log(betainc))."""
    deep = ref["v_logI"] < -800
    got = _apply("value", log_betainc, ref["v_a"][deep], ref["v_b"][deep], ref["v_x"][deep])
    np.testing.assert_allclose(got, ref["v_logI"][deep], rtol=1e-12)
    deep = ref["v_logQ"] < -800
    got = _apply("value", log_betaincc, ref["v_a"][deep], ref["v_b"][deep], ref["v_x"][deep])
    np.testing.assert_allclose(got, ref["v_logQ"][deep], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# First derivatives
# ---------------------------------------------------------------------------------------------
def _grads(fn, a, b, x):
    return _apply("grad", fn, a, b, x)


@pytest.fixture(scope="module")
def ref_grads(ref):
    """Gradients of the three functions at every gradient-set point, computed once."""
    a, b, x = ref["g_a"], ref["g_b"], ref["g_x"]
    return {fn: _grads(fn, a, b, x) for fn in (betainc, log_betainc, log_betaincc)}


def _check_grads(got, want, cols, header, rtol=RTOL_GRAD):
    """Relative error per component; references below TINY only need a tiny answer."""
    assert got.shape == want.shape
    normal = np.abs(want) >= TINY
    err = _rel_err(got, want)
    tol = np.full_like(err, rtol)
    bad = normal & ~(err <= tol)
    bad |= ~normal & ~(np.abs(got) < 1e-280)
    bad |= ~np.isfinite(got)
    lines = []
    for k in range(3):
        if bad[:, k].any():
            lines.append(_report(bad[:, k], err[:, k], tol[:, k], cols, f"{header} d/d{NAMES[k]}"))
    assert not lines, "\n".join(lines)


def test_grad_betainc_matches_mpmath(ref, ref_grads):
    keep = ref["g_keep_I"]
    a, b, x = ref["g_a"][keep], ref["g_b"][keep], ref["g_x"][keep]
    got = ref_grads[betainc][keep]
    _check_grads(got, ref["g_dI"][keep], {"a": a, "b": b, "x": x}, "grad betainc")


def test_grad_log_betainc_matches_mpmath(ref, ref_grads):
    a, b, x = ref["g_a"], ref["g_b"], ref["g_x"]
    got = ref_grads[log_betainc]
    _check_grads(got, ref["g_dlogI"], {"a": a, "b": b, "x": x}, "grad log_betainc")


def test_grad_log_betaincc_matches_mpmath(ref, ref_grads):
    a, b, x = ref["g_a"], ref["g_b"], ref["g_x"]
    got = ref_grads[log_betaincc]
    _check_grads(got, ref["g_dlogQ"], {"a": a, "b": b, "x": x}, "grad log_betaincc")


@pytest.mark.parametrize("a_int", [1.0, 2.0, 3.0, 7.0, 50.0])
def test_grad_a_at_integer_a(ref, ref_grads, a_int):
    """Integer a is where continued-fraction stop tests that ignore the derivative terms
    (TFP) give d/da wrong by up to 80%; checked per a for a clear diagnosis."""
    sel = ref["g_keep_I"] & (ref["g_a"] == a_int)
    assert sel.sum() >= 3
    b, x = ref["g_b"][sel], ref["g_x"][sel]
    da = ref_grads[betainc][sel, 0]
    want = ref["g_dI"][sel, 0]
    err = _rel_err(da, want)
    assert np.all(err <= RTOL_GRAD), f"d/da at a={a_int}: b={b}, x={x}, rel err={err}"
    dla = ref_grads[log_betainc][sel, 0]
    err = _rel_err(dla, ref["g_dlogI"][sel, 0])
    assert np.all(err <= RTOL_GRAD), f"d log I/da at a={a_int}: b={b}, x={x}, rel err={err}"


@pytest.mark.parametrize(
    "a, b, x",
    [
        (8.0, 3.5, 0.6),  # a exactly at the prefactor's small/large switch, mixed regime
        (8.0, 200.0, 0.03),  # both large, a on the switch
        (3.5, 8.0, 0.35),  # b on the switch
        (8.0, 8.0, 0.5),
        (7.999, 8.0, 0.45),
        (14.0, 6.6e8, 2e-8),  # x s / a ~ 1: the large regime's digamma difference
        (2.0, 2.5, 0.3),  # both small
    ],
)
def test_grad_at_prefactor_regime_boundaries(a, b, x):
    """d log I / d(a, b) where the prefactor switches formulas, against mpmath.diff (40 digits).

    ``maximum(z, 8)`` in the Stirling remainder once gave d/da half the remainder's slope at
    exactly z = 8 (an error of ~1e-4).
    """
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40

    def log_i(aa, bb):
        return mp.log(mp.betainc(aa, bb, 0, mp.mpf(x), regularized=True))

    want = [float(mp.diff(lambda t: log_i(t, mp.mpf(b)), mp.mpf(a)))]
    want.append(float(mp.diff(lambda t: log_i(mp.mpf(a), t), mp.mpf(b))))
    got = jax.grad(lambda aa, bb: log_betainc(aa, bb, x), argnums=(0, 1))(a, b)
    err = _rel_err(np.asarray(got, float), np.asarray(want))
    assert np.all(err <= RTOL_GRAD), f"a={a}, b={b}, x={x}: got {got}, want {want}, err {err}"


# ---------------------------------------------------------------------------------------------
# Second derivatives
# ---------------------------------------------------------------------------------------------
def _hess_tol(want):
    """Entry-wise 1e-6 relative, floored by 1e-3 sqrt(|H_ii H_jj|) for entries near a zero."""
    d = np.abs(np.diagonal(want, axis1=-2, axis2=-1))
    floor = 1e-3 * np.sqrt(d[..., :, None] * d[..., None, :])
    return RTOL_HESS * np.maximum(np.abs(want), floor)


def _hessians(fn, a, b, x):
    return _apply("hessian", fn, a, b, x)


@pytest.mark.parametrize(
    "fn, key",
    [(betainc, "h_H"), pytest.param(log_betainc, "h_Hlog", marks=pytest.mark.slow)],
)
def test_hessian_matches_mpmath(ref, fn, key):
    a, b, x, want = ref["h_a"], ref["h_b"], ref["h_x"], ref[key]
    got = _hessians(fn, a, b, x)
    assert got.shape == want.shape
    assert np.all(np.isfinite(got)), "Hessian entries must be finite"
    tol = _hess_tol(want)
    err = np.abs(got - want)
    bad = ~(err <= tol)
    lines = []
    for n in np.flatnonzero(bad.any(axis=(1, 2))):
        for i, j in zip(*np.nonzero(bad[n])):
            if i <= j:
                lines.append(
                    f"  a={a[n]:.6g} b={b[n]:.6g} x={x[n]:.6g}: d2/d{NAMES[i]}d{NAMES[j]} "
                    f"got {got[n, i, j]:.10e} want {want[n, i, j]:.10e}"
                )
    assert not lines, f"{fn.__name__} Hessian vs mpmath:\n" + "\n".join(lines[:30])


def test_grad_of_grad_matches_hessian_reference(ref):
    """jax.grad(jax.grad(...)) composes (d2/da2, d2/db da, d2/dx da of I)."""
    a, b, x = ref["h_a"], ref["h_b"], ref["h_x"]
    got = _apply("grad_grad_a", betainc, a, b, x)
    want = ref["h_H"][:, 0, :]
    tol = _hess_tol(ref["h_H"])[:, 0, :]
    assert np.all(np.isfinite(got))
    assert np.all(np.abs(got - want) <= tol), np.abs(got - want) / tol


def test_reverse_and_forward_mode_agree(ref):
    """Forward mode (jacfwd) matches the reference and reverse mode (grad)."""
    a, b, x = ref["h_a"], ref["h_b"], ref["h_x"]
    fwd = _apply("jacfwd", log_betainc, a, b, x)
    rev = _apply("grad", log_betainc, a, b, x)  # jax.grad is reverse mode
    np.testing.assert_allclose(fwd, ref["h_dI"] / ref["h_I"][:, None], rtol=RTOL_GRAD)
    np.testing.assert_allclose(rev, fwd, rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------------------------
# Domain, edges, extreme parameters
# ---------------------------------------------------------------------------------------------
EXTREME_A = np.array([0.05, 0.3, 1.0, 7.0, 1e3, 1e5])
EXTREME_B = np.array([0.05, 0.5, 1.0, 50.0, 1e7, 1e9])
EXTREME_X = np.array([1e-300, 1e-30, 1e-8, 1e-3, 0.3, 0.5, 0.9, 1 - 1e-8, 1 - 1e-12, 1 - 2**-53])


def _grid(*axes):
    mesh = np.meshgrid(*axes, indexing="ij")
    return [m.ravel() for m in mesh]


def test_no_nan_or_inf_for_extreme_parameters():
    """a up to 1e5, b up to 1e9, x from 1e-300 to 1 - 2^-53: values, logs and all gradients
    finite; 0 <= I <= 1; logs <= 0."""
    a, b, x = _grid(EXTREME_A, EXTREME_B, EXTREME_X)
    i = _apply("value", betainc, a, b, x)
    li = _apply("value", log_betainc, a, b, x)
    lq = _apply("value", log_betaincc, a, b, x)
    for name, v in (("betainc", i), ("log_betainc", li), ("log_betaincc", lq)):
        bad = ~np.isfinite(v)
        assert not bad.any(), f"{name} not finite at {list(zip(a[bad], b[bad], x[bad]))[:10]}"
    assert np.all((i >= 0) & (i <= 1))
    assert np.all(li <= 0) and np.all(lq <= 0)
    for fn in (betainc, log_betainc, log_betaincc):
        g = _grads(fn, a, b, x)
        bad = ~np.isfinite(g).all(axis=1)
        pts = list(zip(a[bad], b[bad], x[bad]))[:10]
        assert not bad.any(), f"grad {fn.__name__} not finite at {pts}"


def test_both_parameters_huge_near_the_mean():
    """a, b up to 2e10 within a few standard deviations of the mean, where the fractions
    need ~0.2 sqrt(ab / (a + b)) steps: stopping at 2,000 gave I_0.5(1e10, 1e10) = 0.43.
    References: the symmetry I_0.5(a, a) = 1/2 and SciPy (Boost), to 1e-9 relative (the
    condition number in x reaches ~1e5 here)."""
    half = np.asarray(
        betainc(np.array([1e8, 1e9, 1e10, 4e10]), np.array([1e8, 1e9, 1e10, 4e10]), 0.5)
    )
    np.testing.assert_allclose(half, 0.5, rtol=1e-9)
    a = np.array([1e9, 3e9, 1e10, 1e9, 2e10, 1e8])
    b = np.array([3e9, 1e9, 1e9, 1e10, 2e10, 1e10])
    m, sd = a / (a + b), np.sqrt(a * b / (a + b) ** 2 / (a + b + 1))
    z = np.array([-3.0, -1.0, -0.01, 0.01, 1.0, 3.0])
    A, X = np.broadcast_arrays(a[:, None], m[:, None] + z * sd[:, None])
    B = np.broadcast_to(b[:, None], A.shape)
    got = np.asarray(betainc(A, B, X))
    np.testing.assert_allclose(got, sps.betainc(A, B, X), rtol=1e-9)
    # the gradient in a through the same fraction, against a central difference of SciPy
    g = float(jax.grad(betainc)(1e9, 1e9, 0.5))
    h = 1e2
    fd = (sps.betainc(1e9 + h, 1e9, 0.5) - sps.betainc(1e9 - h, 1e9, 0.5)) / (2 * h)
    assert g == pytest.approx(fd, rel=1e-5)


def test_edges_x_zero_and_one():
    a, b = _grid(EXTREME_A, EXTREME_B)
    zero, one = np.zeros_like(a), np.ones_like(a)
    np.testing.assert_array_equal(_apply("value", betainc, a, b, zero), 0.0)
    np.testing.assert_array_equal(_apply("value", betainc, a, b, one), 1.0)
    np.testing.assert_array_equal(_apply("value", log_betainc, a, b, one), 0.0)
    np.testing.assert_array_equal(_apply("value", log_betaincc, a, b, zero), 0.0)
    np.testing.assert_array_equal(_apply("value", log_betainc, a, b, zero), -np.inf)
    np.testing.assert_array_equal(_apply("value", log_betaincc, a, b, one), -np.inf)
    for xe in (zero, one):
        g = _grads(betainc, a, b, xe)
        # I is identically 0 (1) at x = 0 (1) for every a, b: d/da = d/db = 0
        np.testing.assert_array_equal(g[:, :2], 0.0)
        # d/dx is the beta density's limit: 0, b (or a), or +inf when a < 1 (b < 1)
        p, q = (a, b) if xe is zero else (b, a)
        dx = g[:, 2]
        assert not np.isnan(dx).any()
        np.testing.assert_array_equal(dx[p > 1], 0.0)
        np.testing.assert_allclose(dx[p == 1], q[p == 1], rtol=1e-12)
        assert np.all((dx[p < 1] > 1e10) | np.isposinf(dx[p < 1]))
    # the logs' gradients where the log is 0 are 0
    np.testing.assert_array_equal(_grads(log_betainc, a, b, one)[:, :2], 0.0)
    np.testing.assert_array_equal(_grads(log_betaincc, a, b, zero)[:, :2], 0.0)


@pytest.mark.parametrize("fn", [betainc, log_betainc, log_betaincc])
def test_out_of_domain_gives_nan_inside_jit(fn):
    a = np.array([0.0, -1.0, 2.0, 2.0, 2.0, 2.0, np.nan, 2.0, 2.0])
    b = np.array([3.0, 3.0, 0.0, -2.0, 3.0, 3.0, 3.0, np.nan, 3.0])
    x = np.array([0.5, 0.5, 0.5, 0.5, -0.1, 1.1, 0.5, 0.5, np.nan])
    out = _apply("value", fn, a, b, x)  # jit(vmap(fn))
    assert np.all(np.isnan(out)), out
    # ... and the valid lanes of the same batch are unaffected
    a2 = np.concatenate([a, [2.0]])
    b2 = np.concatenate([b, [3.0]])
    x2 = np.concatenate([x, [0.5]])
    out2 = _apply("value", fn, a2, b2, x2)
    assert np.all(np.isnan(out2[:-1])) and np.isfinite(out2[-1])


# ---------------------------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------------------------
def test_float32_values(ref):
    a = ref["f32_a"].astype(np.float32)
    b = ref["f32_b"].astype(np.float32)
    x = ref["f32_x"].astype(np.float32)
    # the stored inputs are exactly float32 numbers: the reference is at exactly these inputs
    for k, v in (("a", a), ("b", b), ("x", x)):
        assert np.all(v.astype(np.float64) == ref["f32_" + k])
    got = _apply("value", betainc, a, b, x, dtype=np.float32)
    assert got.dtype == np.float32
    got = got.astype(np.float64)
    assert np.all(np.isfinite(got))
    want = ref["f32_I"]
    sel = want > 1e-30
    err = _rel_err(got, want)
    # As for float64, a single float32 rounding of a quantity such as a/(a+b) already costs
    # eps32 * kappa (kappa: condition number of I in a, b, min(x, 1-x)); where that exceeds
    # 1e-4 (a >= 1e3 in the far lower tail) the tolerance follows it. kappa is only a
    # tolerance scale here; it comes from float64 log-gradients, themselves checked against
    # mpmath to 1e-8 in test_grad_log_betainc_matches_mpmath.
    a64, b64, x64 = (v.astype(np.float64) for v in (a, b, x))
    g = _apply("grad", log_betainc, a64, b64, x64)
    kappa = (
        np.abs(a64 * g[:, 0]) + np.abs(b64 * g[:, 1]) + np.abs(np.minimum(x64, 1 - x64) * g[:, 2])
    )
    tol = np.maximum(RTOL_F32, KAPPA_FACTOR * np.finfo(np.float32).eps * kappa)
    bad = sel & ~(err <= tol)
    assert not bad.any(), _report(bad, err, tol, {"a": a, "b": b, "x": x, "I": want}, "float32")
    lg = _apply("value", log_betainc, a, b, x, dtype=np.float32)
    assert lg.dtype == np.float32
    lg = lg.astype(np.float64)
    assert np.all(np.isfinite(lg))
    np.testing.assert_allclose(lg, ref["f32_logI"], rtol=RTOL_F32, atol=RTOL_F32)
    lq = _apply("value", log_betaincc, a, b, x, dtype=np.float32)
    assert lq.dtype == np.float32 and np.all(np.isfinite(lq))


def test_float32_gradients_finite(ref):
    a = ref["f32_a"].astype(np.float32)
    b = ref["f32_b"].astype(np.float32)
    x = ref["f32_x"].astype(np.float32)
    g = _apply("grad", log_betainc, a, b, x, dtype=np.float32)
    assert g.dtype == np.float32
    for k in range(3):
        assert np.all(np.isfinite(g[:, k])), f"float32 grad log_betainc d/d{NAMES[k]}"


# ---------------------------------------------------------------------------------------------
# Transformations and shapes
# ---------------------------------------------------------------------------------------------
def test_broadcasting_jit_vmap_consistency():
    a = np.array([[0.5], [2.0], [7.0]])
    b = np.array([[1.0, 10.0, 1e3, 1e7]])
    x = 0.001
    a_full, b_full = np.broadcast_arrays(a, b)
    fns = (betainc, log_betainc, log_betaincc)
    outs = jax.jit(lambda a, b, x: [fn(a, b, x) for fn in fns])(a, b, x)
    for fn, out in zip(fns, outs):
        assert out.shape == (3, 4) and out.dtype == jnp.float64
        flat = _apply("value", fn, a_full, b_full, x)
        np.testing.assert_allclose(np.asarray(out).ravel(), flat, rtol=1e-12)
    # nested vmap (over a, then over b) matches broadcasting
    vm = jax.vmap(jax.vmap(betainc, in_axes=(None, 0, None)), in_axes=(0, None, None))
    out_v = jax.jit(vm)(a[:, 0], b[0], x)
    np.testing.assert_allclose(
        np.asarray(out_v).ravel(), _apply("value", betainc, a_full, b_full, x), rtol=1e-12
    )
    # scalar Python inputs, eager
    v = betainc(2.0, 3.0, 0.4)
    assert jnp.shape(v) == () and v.dtype == jnp.float64
    # sum_{j>=2} C(4, j) 0.4^j 0.6^(4-j) = 0.3456 + 0.1536 + 0.0256
    np.testing.assert_allclose(float(v), 0.5248, rtol=1e-13)


def test_large_batches_match_small_ones():
    """Batches above 2 x 2048 points take the blocked, two-phase path (stragglers regathered
    into a smaller batch); each point must get the same value and gradient as alone."""
    rng = np.random.default_rng(7)
    n = 6000
    a = np.exp(rng.uniform(np.log(0.3), np.log(3e3), n))
    b = np.exp(rng.uniform(np.log(0.5), np.log(1e7), n))
    a[: n // 3] = rng.integers(1, 60, n // 3)  # terminating fractions mixed in
    x = rng.uniform(0.0, 1.0, n)
    x[:50] = a[:50] / (a[:50] + b[:50])  # the slowest points, at the mean
    grad = jax.jit(jax.vmap(jax.grad(log_betainc, argnums=(0, 1, 2))))
    big_val = np.asarray(jax.jit(log_betainc)(a, b, x))
    big_grad = np.stack([np.asarray(g) for g in grad(a, b, x)], 1)
    pick = rng.choice(n, 300, replace=False)
    pick[:20] = np.arange(20)
    # batches of 100 run single-phase, unblocked
    val = jax.jit(log_betainc)
    chunks = np.split(pick, 3)
    small_val = np.concatenate([np.asarray(val(a[c], b[c], x[c])) for c in chunks])
    small_grad = np.concatenate(
        [np.stack([np.asarray(g) for g in grad(a[c], b[c], x[c])], 1) for c in chunks]
    )
    np.testing.assert_allclose(big_val[pick], small_val, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(big_grad[pick], small_grad, rtol=1e-11, atol=1e-300)
    ok = sps.betainc(a, b, x) > 1e-250
    np.testing.assert_allclose(np.exp(big_val[ok]), sps.betainc(a, b, x)[ok], rtol=1e-10)


def test_grad_through_broadcast_sum():
    """Gradient of a reduction over a broadcast batch (the optimizer use case)."""
    b = jnp.array([1.0, 10.0, 1e3, 1e7])
    x = jnp.array([0.5, 0.05, 1e-3, 1e-7])

    def loss(a):
        return jnp.sum(log_betainc(a, b, x))

    g = jax.jit(jax.grad(loss))(2.0)
    per = _apply("grad", log_betainc, 2.0, np.asarray(b), np.asarray(x))[:, 0]
    assert np.isfinite(float(g))
    np.testing.assert_allclose(float(g), per.sum(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Closed forms and limits (hypothesis)
# ---------------------------------------------------------------------------------------------
HYP = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
MONO_SLACK_I = 2e-11  # 2x the widest kappa-widened value tolerance at the stored points
MONO_SLACK_LOG = 2.5e-12
log10_a = st.floats(min_value=np.log10(0.3), max_value=4.0)
log10_b = st.floats(min_value=np.log10(0.5), max_value=7.0)
log10_x = st.floats(min_value=-300.0, max_value=-1e-6)


def _f(fn, a, b, x):
    out = _apply("value", fn, a, b, x)
    return out if out.size > 1 else out[0]


@HYP
@given(la=log10_a, lb=log10_b, lx=log10_x, t=st.floats(0.0, 1.0))
def test_monotone_in_x(la, lb, lx, t):
    a, b = 10.0**la, 10.0**lb
    x1 = 10.0**lx
    x2 = x1 + t * (1 - x1)
    li = _f(log_betainc, a, b, [x1, x2])
    lq = _f(log_betaincc, a, b, [x1, x2])
    i = _f(betainc, a, b, [x1, x2])
    assert np.all(np.isfinite(li)) and np.isfinite(lq[0]), (li, lq)
    # slack: twice the accuracy target, so that two correct answers never look non-monotone
    assert i[0] <= i[1] * (1 + MONO_SLACK_I)
    assert li[0] <= li[1] + MONO_SLACK_LOG * abs(li[1])
    assert lq[0] >= lq[1] - MONO_SLACK_LOG * abs(lq[1])


@HYP
@given(la=log10_a, lb=log10_b, lx=log10_x, r=st.floats(1.0, 10.0))
def test_monotone_in_a_and_b(la, lb, lx, r):
    a, b, x = 10.0**la, 10.0**lb, 10.0**lx
    la_ = _f(log_betainc, [a, a * r], b, x)  # decreasing in a
    assert np.all(np.isfinite(la_)), la_
    assert la_[1] <= la_[0] + MONO_SLACK_LOG * abs(la_[0])
    lb_ = _f(log_betainc, a, [b, b * r], x)  # increasing in b
    assert lb_[0] <= lb_[1] + MONO_SLACK_LOG * abs(lb_[1])
    qb = _f(log_betaincc, a, [b, b * r], x)
    assert qb[1] <= qb[0] + MONO_SLACK_LOG * abs(qb[0])


@HYP
@given(la=log10_a, lb=log10_b, lx=st.floats(-300.0, -1e-15))  # 10**lx < 1 in float64
def test_bounds(la, lb, lx):
    a, b, x = 10.0**la, 10.0**lb, 10.0**lx
    i = _f(betainc, a, b, x)
    li = _f(log_betainc, a, b, x)
    lq = _f(log_betaincc, a, b, x)
    assert 0.0 <= i <= 1.0
    assert li <= 0.0 and lq <= 0.0
    assert np.isfinite(li) and np.isfinite(lq)


@HYP
@given(la=log10_a, lb=log10_b, u=st.floats(0.5, 1.0, exclude_max=True))
def test_reflection_symmetry(la, lb, u):
    """I_x(a, b) = 1 - I_{1-x}(b, a), compared through the logs so that nothing cancels;
    u in [1/2, 1) makes v = 1 - u exact, so both sides see the same point."""
    a, b = 10.0**la, 10.0**lb
    v = 1.0 - u
    assert 1.0 - v == u
    for p, q, s, t in ((a, b, u, v), (a, b, v, u)):
        lhs = _f(log_betainc, p, q, s)
        rhs = _f(log_betaincc, q, p, t)
        _assert_log_close(lhs, rhs, rtol=1e-11, context=(p, q, s))


@HYP
@given(lb=st.floats(np.log10(0.05), 9.0), lx=log10_x)
def test_closed_form_a_equals_one(lb, lx):
    """I_x(1, b) = 1 - (1-x)^b;  log(1 - I) = b log1p(-x) far below underflow."""
    b, x = 10.0**lb, 10.0**lx
    want_lq = b * np.log1p(-x)
    lq = _f(log_betaincc, 1.0, b, x)
    _assert_log_close(lq, want_lq)
    want_i = -np.expm1(want_lq)
    i = _f(betainc, 1.0, b, x)
    assert abs(i - want_i) <= 1e-12 * want_i + 1e-300
    li = _f(log_betainc, 1.0, b, x)
    want_li = np.log1p(-np.exp(want_lq)) if want_lq < -np.log(2) else np.log(want_i)
    _assert_log_close(li, want_li)


@HYP
@given(la=st.floats(np.log10(0.05), 5.0), lx=log10_x)
def test_closed_form_b_equals_one(la, lx):
    """I_x(a, 1) = x^a;  log I = a log x far below underflow."""
    a, x = 10.0**la, 10.0**lx
    want_li = a * np.log(x)
    li = _f(log_betainc, a, 1.0, x)
    _assert_log_close(li, want_li)
    i = _f(betainc, a, 1.0, x)
    want_i = np.exp(want_li)
    # kappa of x^a w.r.t. a relative change of a or x is a |log x| + a
    tol = max(RTOL_VALUE, KAPPA_FACTOR * EPS * (a * abs(np.log(x)) + a))
    if want_i > 1e-300:
        assert abs(i - want_i) <= tol * want_i
    lq = _f(log_betaincc, a, 1.0, x)
    want_lq = np.log1p(-want_i) if want_i < 0.5 else np.log(-np.expm1(want_li))
    _assert_log_close(lq, want_lq, rtol=max(RTOL_VALUE, KAPPA_FACTOR * EPS * a))


@HYP
@given(x=st.floats(1e-300, 1.0, exclude_max=True))
def test_closed_form_arcsine(x):
    """I_x(1/2, 1/2) = (2/pi) arcsin(sqrt(x)) (arcsine law)."""
    got = _f(betainc, 0.5, 0.5, x)
    if x < 0.5:
        want = 2.0 / np.pi * np.arcsin(np.sqrt(x))
        assert abs(got - want) <= 1e-12 * want
    else:
        # 1 - I = (2/pi) arcsin(sqrt(1 - x)), with 1 - x exact
        want_q = 2.0 / np.pi * np.arcsin(np.sqrt(1.0 - x))
        assert abs(got - (1.0 - want_q)) <= 1e-12
        got_q = np.exp(_f(log_betaincc, 0.5, 0.5, x))
        assert abs(got_q - want_q) <= 1e-12 * want_q


@HYP
@given(
    a=st.floats(0.3, 20.0),
    lb=st.floats(8.0, 9.0),
    s=st.floats(-3.0, 3.0),
)
def test_large_b_limit_is_regularized_gamma(a, lb, s):
    """I_{y/b}(a, b) -> P(a, y) as b -> oo, with error below (1 + a + y)^2 / b (measured
    with mpmath; the actual error is 2-10x smaller)."""
    b = 10.0**lb
    y = max(a + s * np.sqrt(a) * 2, 1e-3 * a)
    x = y / b
    tol = (1 + a + y) ** 2 / b + 1e-11
    p, q = sps.gammainc(a, y), sps.gammaincc(a, y)
    if p > 1e-280:
        assert abs(np.exp(_f(log_betainc, a, b, x)) / p - 1) <= tol
    if q > 1e-280:
        assert abs(np.exp(_f(log_betaincc, a, b, x)) / q - 1) <= tol


# ---------------------------------------------------------------------------------------------
# Exhaustive: random points against mpmath computed on the fly (slow)
# ---------------------------------------------------------------------------------------------
@functools.cache
def _generator():
    """The reference generator module (mpmath routines), loaded from its file."""
    path = pathlib.Path(__file__).with_name("make_betainc_reference.py")
    spec = importlib.util.spec_from_file_location("make_betainc_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    la=log10_a,
    lb=log10_b,
    upper=st.booleans(),
    t=st.one_of(st.floats(-1.0, 1.0), st.floats(-300.0, 1.0)),
)
def test_random_points_vs_mpmath(la, lb, upper, t):
    """Random a, b; x placed relative to the mean a/(a+b) (t decades below it, or 1 - x
    t decades below 1 - mean), so that bulk, both tails and beyond-underflow all occur."""
    import mpmath as mp

    gen = _generator()
    a, b = 10.0**la, 10.0**lb
    mean = a / (a + b)
    x = 1.0 - min((1.0 - mean) * 10.0**t, 1.0) if upper else min(mean * 10.0**t, 1.0)
    if not 0.0 < x < 1.0:
        return
    with mp.workdps(30):
        li, lq = gen.log_iq(a, b, x)
        ga, gb, gx = gen.grad_i(a, b, x)
        i = mp.exp(li)
        dlog = [float(ga / i), float(gb / i), float(gx / i)]
        li, lq = float(li), float(lq)
    got_li = float(_f(log_betainc, a, b, x))
    got_lq = float(_f(log_betaincc, a, b, x))
    _assert_log_close(got_li, li, context=(a, b, x, "log I"))
    _assert_log_close(got_lq, lq, context=(a, b, x, "log Q"))
    g = _apply("grad", log_betainc, a, b, x)[0]
    for k in range(3):
        if abs(dlog[k]) > TINY:
            assert abs(float(g[k]) - dlog[k]) <= RTOL_GRAD * abs(dlog[k]), (a, b, x, NAMES[k])


@pytest.mark.parametrize("a,x", [(2.0, 0.3), (1.0, 0.3), (5.0, 0.4), (0.5, 0.2), (3.0, 0.1)])
def test_hessian_in_a_and_b_at_equal_parameters(a, x):
    # min/max in the prefactor split the derivative half to each argument at a == b: the
    # (a, b) Hessian of log I came out wrong for every a = b < 8 (at a = b = 1, aa = pi^2/12
    # where log I = a log x makes it 0); reference mpmath's numerical derivatives, 40 digits
    import mpmath as mp

    from ds3jax.special import log_betainc

    got = np.array(jax.hessian(log_betainc, argnums=(0, 1))(a, a, x))
    with mp.workdps(40):
        f = lambda A, B: mp.log(mp.betainc(A, B, 0, x, regularized=True))  # noqa: E731
        ab = float(mp.diff(f, (a, a), (1, 1)))
        want = np.array(
            [[float(mp.diff(f, (a, a), (2, 0))), ab], [ab, float(mp.diff(f, (a, a), (0, 2)))]]
        )
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
