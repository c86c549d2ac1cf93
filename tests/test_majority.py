"""Exact majority vote (Eq. 38) against brute-force enumeration, Eq. 55 and mpmath."""

import itertools

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy import stats

from ds3jax._majority import mv_log_success, mv_success


def brute_force_mv(p, k, c):
    """Sum over every composition of k votes (itertools), in exact rationals via mpmath."""
    probs = [mpmath.mpf(p)] + [(1 - mpmath.mpf(p)) * mpmath.mpf(x) for x in c]
    total = mpmath.mpf(0)
    for comp in itertools.product(range(k + 1), repeat=len(probs)):
        if sum(comp) != k or comp[0] < max(comp):
            continue
        ties = sum(1 for v in comp if v == comp[0])
        pr = mpmath.factorial(k)
        for v, pj in zip(comp, probs):
            pr *= pj**v / mpmath.factorial(v)
        total += pr / ties
    return total


def eq55(p, k):
    """Binary alphabet, Eq. 55: strict majority plus half the exact tie."""
    ks = np.arange(k // 2 + 1, k + 1)
    out = stats.binom.pmf(ks, k, p).sum()
    if k % 2 == 0:
        out += 0.5 * stats.binom.pmf(k // 2, k, p)
    return out


CASES = [
    (1, [1.0]),
    (2, [0.5, 0.5]),
    (3, [0.6, 0.3, 0.1]),
    (5, [0.6, 0.3, 0.1]),
    (6, [0.5, 0.0, 0.5]),
    (7, [0.25, 0.25, 0.25, 0.25]),
    (8, [0.7, 0.2, 0.1]),
    (10, [0.4, 0.3, 0.2, 0.1]),
]


@pytest.mark.parametrize("k,c", CASES)
def test_matches_brute_force(k, c):
    mpmath.mp.dps = 30
    ps = np.array([0.02, 0.2, 0.35, 0.5, 0.8, 0.99])
    got = np.asarray(mv_success(ps, k, c))
    want = np.array([float(brute_force_mv(p, k, c)) for p in ps])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("k", [1, 2, 3, 10, 11, 100, 501, 1000])
def test_binary_alphabet_equals_eq55(k):
    ps = np.array([0.01, 0.3, 0.49, 0.5, 0.51, 0.7, 0.999])
    got = np.asarray(mv_success(ps, k, [1.0]))
    np.testing.assert_allclose(got, [eq55(p, k) for p in ps], rtol=1e-11, atol=1e-300)


def test_k1_is_the_base_probability():
    ps = np.linspace(0, 1, 11)
    np.testing.assert_allclose(mv_success(ps, 1, np.ones(9) / 9), ps, atol=1e-15)


def test_uniform_wrong_answers_symmetry():
    # With A wrong answers all as likely as the correct one (p = 1/(A+1)), every answer
    # wins with the same probability: psi = 1 / (A + 1) exactly.
    for a_wrong, k in [(1, 7), (3, 40), (9, 250)]:
        p = 1.0 / (a_wrong + 1)
        got = float(mv_success(p, k, np.ones(a_wrong) / a_wrong))
        assert abs(got - p) < 1e-12


def _independent_large_k(p, k, c, y_values):
    """Q_y for large k by an O(n y A) direct multinomial DP in mpmath-free float64 logs,
    restricted to a few y (slow but independent of the transform)."""
    total = -np.inf
    from scipy.special import gammaln, logsumexp

    for y in y_values:
        n = k - y
        # log of n! [z^n] prod_j (sum_{t<y} c^t/t! + u c^y/y!), u integrated by its moments.
        lc = np.log(c)
        poly = np.full((n + 1, len(c) + 1), -np.inf)
        poly[0, 0] = 0.0
        t = np.arange(min(y, n) + 1)
        for j in range(len(c)):
            lw = t * lc[j] - gammaln(t + 1)
            new = np.full_like(poly, -np.inf)
            for s in range(len(c) + 1):
                for tt in t:
                    ss = s + (tt == y)
                    if ss > len(c):
                        continue
                    new[tt:, ss] = np.logaddexp(new[tt:, ss], poly[: n + 1 - tt, s] + lw[tt])
            poly = new
        lq = gammaln(n + 1) + logsumexp(poly[n] - np.log(np.arange(1, len(c) + 2)))
        lpmf = stats.binom.logpmf(y, k, p)
        total = np.logaddexp(total, lpmf + lq)
    return total


def test_large_k_against_direct_dp():
    # k = 60 over 5 answers: every y, direct O(k^2 A) DP in log space.
    k, c = 60, np.array([0.4, 0.3, 0.2, 0.1])
    for p in [0.05, 0.25, 0.4]:
        want = _independent_large_k(p, k, c, range(k + 1))
        got = float(mv_log_success(p, k, c))
        assert abs(got - want) < 1e-11 * max(1.0, abs(want))


def test_k1000_ten_answers_normalised_and_monotone():
    c = np.array([0.5**j for j in range(9)])
    c /= c.sum()
    ps = np.linspace(0.0, 1.0, 41)
    psi = np.asarray(jax.jit(lambda p: mv_success(p, 1000, c))(ps))
    assert np.all(np.isfinite(psi)) and np.all(np.diff(psi) >= -1e-12)
    assert psi[0] == 0.0 and abs(psi[-1] - 1.0) < 1e-12
    # Asymptotics (App. E-C): success iff p > (1 - p) c* with c* = max c.
    r_c = c.max() / (1 + c.max())
    assert psi[ps < r_c - 0.1].max() < 1e-6 and psi[ps > r_c + 0.1].min() > 1 - 1e-6


def test_rows_in_chunks_equal_one_pass_values_and_gradients(monkeypatch):
    # large k computes the transform's rows y in chunks to bound memory; here chunks of
    # 1, 7 (not dividing the 15 rows) and all rows must agree, values and d/dc, and the
    # chunked table must still match the direct DP
    from ds3jax import _majority

    k, c = 61, jnp.array([0.4, 0.3, 0.2, 0.1])
    y_lo, y_hi = -(-k // 5), -(-k // 2) - 1
    K = y_hi + 1

    def table(c):
        return _majority._middle_table(k, c, y_lo, y_hi)

    def grad(c):
        return jax.grad(lambda c: jnp.sum(jnp.exp(table(c))))(c)

    whole, g_whole = table(c), grad(c)
    assert whole.shape == (y_hi - y_lo + 1,)
    for rows in (1, 7):
        monkeypatch.setattr(_majority, "_CHUNK_ELEMENTS", 4 * K * rows)
        # log Q to rounding (~1e-14 absolute: relative accuracy of Q, as the module states)
        np.testing.assert_allclose(np.asarray(table(c)), np.asarray(whole), rtol=1e-13, atol=5e-14)
        np.testing.assert_allclose(np.asarray(grad(c)), np.asarray(g_whole), rtol=1e-11, atol=1e-13)
    monkeypatch.setattr(_majority, "_CHUNK_ELEMENTS", 4 * K * 7)
    p = 0.3
    lq = np.full(k + 1, -np.inf)
    lq[y_hi + 1 :] = 0.0
    n = k - np.arange(k + 1)
    lq[np.arange(k + 1) == n] = np.log1p(-0.5 * np.sum(np.asarray(c) ** (k // 2)))
    lq[y_lo : y_hi + 1] = np.asarray(table(c))
    got = np.logaddexp.reduce(stats.binom.logpmf(np.arange(k + 1), k, p) + lq)
    want = _independent_large_k(p, k, np.asarray(c), range(k + 1))
    assert abs(got - want) < 1e-11 * max(1.0, abs(want))


@pytest.mark.slow
def test_k1000_against_direct_dp_slow():
    k, c = 1000, np.array([0.4, 0.3, 0.2, 0.1])
    p = 0.3
    ys = range(230, 420)  # all y with non-negligible binomial weight (mass < 1e-40 outside)
    want = _independent_large_k(p, k, c, ys)
    assert abs(float(mv_log_success(p, k, c)) - want) < 1e-10


def test_log_success_tiny_probabilities():
    # p^k dominates when p is tiny and the alphabet is binary: psi ~ P(Y0 > k/2).
    k = 41
    for p in [1e-3, 1e-6]:
        want = stats.binom.logsf(k // 2, k, p)
        got = float(mv_log_success(p, k, [1.0]))
        assert abs(got - want) < 1e-10 * abs(want)


def test_gradient_in_p_matches_derivative_identity():
    # d psi / dp = k sum_y B(y; k - 1, p) (Q_{y+1} - Q_y); check against finite differences
    # of the brute force for a small case, including p = 0 and 1 (one-sided).
    k, c = 6, [0.6, 0.4]
    mpmath.mp.dps = 40
    g = jax.grad(lambda p: mv_success(p, k, c))
    for p in [0.0, 0.2, 0.5, 0.9, 1.0]:
        h = mpmath.mpf("1e-12")
        lo, hi = max(mpmath.mpf(p) - h, 0), min(mpmath.mpf(p) + h, 1)
        fd = (brute_force_mv(hi, k, c) - brute_force_mv(lo, k, c)) / (hi - lo)
        assert abs(float(g(p)) - float(fd)) < 1e-9
    lg = jax.grad(lambda p: mv_log_success(p, k, c))
    assert abs(float(lg(0.3)) - float(g(0.3)) / float(mv_success(0.3, k, c))) < 1e-10


def test_gradient_in_error_weights_is_finite():
    f = lambda c: mv_success(0.3, 20, c / c.sum())
    grad = jax.grad(f)(jnp.array([0.5, 0.3, 0.2, 0.0]))
    assert np.all(np.isfinite(np.asarray(grad)))


def test_vmap_over_p_and_error_weights():
    cs = jnp.array([[0.5, 0.5], [0.9, 0.1]])
    out = jax.vmap(lambda c: mv_success(jnp.array([0.3, 0.45]), 9, c))(cs)
    for i, c in enumerate(np.asarray(cs)):
        for j, p in enumerate([0.3, 0.45]):
            assert abs(float(out[i, j]) - float(brute_force_mv(p, 9, c))) < 1e-12


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="k"):
        mv_success(0.5, 0, [1.0])
    with pytest.raises(ValueError, match="error_weights"):
        mv_success(0.5, 3, [0.5, 0.6])
    with pytest.raises(ValueError, match="p"):
        mv_success(1.5, 3, [1.0])


@pytest.mark.parametrize("k", [2, 3, 5, 6])
def test_gradient_in_two_error_weights_is_finite_and_right(k):
    # with exactly two wrong answers the discarded tie row at y = k held log1p(-1): its
    # infinite derivative made every reverse-mode gradient in the weights NaN
    c = jnp.array([0.7, 0.3])
    g = np.asarray(jax.grad(lambda w: mv_success(0.3, k, w))(c))
    fwd = np.asarray(jax.jacfwd(lambda w: mv_success(0.3, k, w))(c))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, fwd, rtol=1e-12)
    # along the simplex (the weights must sum to 1) against mpmath enumeration
    d = np.array([1.0, -1.0])
    with mpmath.workdps(40):
        h = mpmath.mpf("1e-15")
        up = brute_force_mv(0.3, k, [mpmath.mpf("0.7") + h, mpmath.mpf("0.3") - h])
        down = brute_force_mv(0.3, k, [mpmath.mpf("0.7") - h, mpmath.mpf("0.3") + h])
        fd = (up - down) / (2 * h)
    assert float(g @ d) == pytest.approx(float(fd), rel=1e-10, abs=1e-13)


def test_log_success_slope_at_zero_success():
    # log psi = log p for k = 1: the slope 1/p is +inf at p = 0 (it returned d psi / dp = 1)
    c = [0.5, 0.3, 0.2]
    assert float(jax.grad(lambda p: mv_log_success(p, 1, c))(0.0)) == np.inf
    assert float(jax.grad(lambda p: mv_log_success(p, 3, c))(0.0)) == np.inf
    g = float(jax.grad(lambda p: mv_log_success(p, 1, c))(1e-3))
    assert g == pytest.approx(1e3, rel=1e-12)
    assert float(mv_log_success(1.0, 3, [1.0])) <= 0.0  # never a positive log-probability


def test_jax_array_weights_are_checked():
    for bad, msg in (
        (jnp.array([1.5, -0.5]), "non-negative"),
        (jnp.array([0.5, 0.4]), "sum to 1"),
        (jnp.array([jnp.nan, 1.0]), "non-negative and finite"),
        (jnp.array([]), "1-D"),
        (jnp.ones((2, 2)) / 2, "1-D"),
    ):
        with pytest.raises(ValueError, match=msg):
            mv_success(0.5, 3, bad)
    # traced weights are not checked (jit of a function of the weights still works)
    val = jax.jit(lambda w: mv_success(0.5, 3, w))(jnp.array([0.5, 0.5]))
    assert float(val) == pytest.approx(float(brute_force_mv(0.5, 3, [0.5, 0.5])), rel=1e-13)
