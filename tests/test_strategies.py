"""Table I strategies against scipy / mpmath references, identities, limits and autodiff."""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special as sps
from scipy import stats

import ds3jax
from ds3jax._majority import mv_success
from ds3jax._strategies import (
    BestOfN,
    CoT,
    MajorityVote,
    ToT,
    expected_tokens,
    log_success,
    success,
)

OMEGA = 25.0


def nb_cdf(q, m, steps):
    """P(T <= steps), T ~ trials to the m-th success: scipy's nbinom counts failures."""
    return stats.nbinom.cdf(np.floor(steps) - m, m, q)


# --------------------------------------------------------------------------- success


def test_cot_is_negative_binomial_cdf():
    rows = []
    for q in [1e-3, 0.05, 0.3, 0.9]:
        for m in [1, 2, 5, 20, 100]:
            for steps in np.unique(np.round([m, 1.5 * m, m / q, 2 * m / q, 5 * m / q + 10])):
                rows.append((q, m, steps))
    q, m, steps = (np.array(c) for c in zip(*rows))
    got = np.asarray(success(CoT(), q, m, steps * OMEGA, OMEGA))
    np.testing.assert_allclose(got, nb_cdf(q, m, steps), rtol=1e-10, atol=1e-300)
    lg = np.asarray(log_success(CoT(), q, m, steps * OMEGA, OMEGA))
    np.testing.assert_allclose(lg, stats.nbinom.logcdf(steps - m, m, q), rtol=1e-10)


def test_cot_infeasible_budget_is_zero_and_special_cases():
    assert float(success(CoT(), 0.5, 5, 4 * OMEGA, OMEGA)) == 0.0
    assert float(log_success(CoT(), 0.5, 5, 4 * OMEGA, OMEGA)) == -np.inf
    # Eq. 22: T_max = m gives q^m; Eq. 21: m = 1 gives 1 - (1 - q)^T.
    assert abs(float(success(CoT(), 0.7, 6, 6 * OMEGA, OMEGA)) - 0.7**6) < 1e-14
    assert abs(float(success(CoT(), 0.1, 1, 13 * OMEGA, OMEGA)) - (1 - 0.9**13)) < 1e-14


@pytest.mark.parametrize("b", [1, 2, 4, 16])
def test_tot_is_negative_binomial_in_rounds(b):
    q, m = 0.07, 6
    rounds = np.array([6, 10, 30, 100])
    x = 1 - (1 - q) ** b
    got = np.asarray(success(ToT(b), q, m, rounds * b * OMEGA, OMEGA))
    np.testing.assert_allclose(got, nb_cdf(x, m, rounds), rtol=1e-10)


def test_tot1_equals_cot_and_bon1_equals_base():
    q = np.array([0.01, 0.2, 0.6])[:, None]
    budget = np.array([3, 10, 50, 400.0]) * OMEGA
    cot = success(CoT(), q, 3, budget, OMEGA)
    np.testing.assert_allclose(success(ToT(1), q, 3, budget, OMEGA), cot, rtol=1e-13)
    np.testing.assert_allclose(success(BestOfN(1), q, 3, budget, OMEGA), cot, rtol=1e-13)
    tot = success(ToT(4), q, 3, budget, OMEGA)
    np.testing.assert_allclose(success(BestOfN(1, ToT(4)), q, 3, budget, OMEGA), tot, rtol=1e-13)
    np.testing.assert_allclose(
        success(MajorityVote(1, CoT(), [0.5, 0.5]), q, 3, budget, OMEGA), cot, rtol=1e-13
    )


@pytest.mark.parametrize("k", [1, 8, 64])
@pytest.mark.parametrize("base,width", [(CoT(), 1), (ToT(4), 4)])
def test_best_of_n_eq32_eq35(k, base, width):
    q, m = 0.05, 4
    rounds = np.array([4, 20, 80, 200])
    budget = rounds * width * k * OMEGA
    x = 1 - (1 - q) ** width
    psi = nb_cdf(x, m, rounds)
    want = 1 - (1 - psi) ** k
    got = np.asarray(success(BestOfN(k, base), q, m, budget, OMEGA))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_best_of_n_tiny_base_probability_keeps_relative_accuracy():
    # 1 - (1 - psi)^k with psi ~ 1e-30: naive evaluation returns 0.
    mpmath.mp.dps = 60
    q, m, k = 1e-7, 4, 16
    rounds = 50
    psi = mpmath.betainc(m, rounds - m + 1, 0, q, regularized=True)
    want = 1 - (1 - psi) ** k
    got = float(success(BestOfN(k), q, m, rounds * k * OMEGA, OMEGA))
    assert abs(got / float(want) - 1) < 1e-9
    lg = float(log_success(BestOfN(k), q, m, rounds * k * OMEGA, OMEGA))
    assert abs(lg - float(mpmath.log(want))) < 1e-9 * abs(lg)


def test_best_of_n_mixture_footnote10():
    q, m = 0.1, 3
    mix = BestOfN(3, (CoT(), ToT(2), ToT(4)), shares=[0.2, 0.3, 0.5])
    budget = 2000.0
    parts = [
        nb_cdf(q, m, 0.2 * budget / OMEGA),
        nb_cdf(1 - (1 - q) ** 2, m, 0.3 * budget / OMEGA / 2),
        nb_cdf(1 - (1 - q) ** 4, m, 0.5 * budget / OMEGA / 4),
    ]
    # shares chosen so that every member's step budget is an integer: 16, 12, 10
    want = 1 - np.prod([1 - x for x in parts])
    assert abs(float(success(mix, q, m, budget, OMEGA)) - want) < 1e-12
    equal = BestOfN(2, (CoT(), CoT()))
    np.testing.assert_allclose(
        success(equal, q, m, 1000.0, OMEGA), success(BestOfN(2), q, m, 1000.0, OMEGA), rtol=1e-13
    )


def test_majority_vote_uses_base_probability():
    q, m, k = 0.2, 3, 9
    c = np.array([0.6, 0.4])
    budget = k * 20 * OMEGA
    psi = nb_cdf(q, m, 20)
    want = float(mv_success(psi, k, c))
    assert abs(float(success(MajorityVote(k, CoT(), c), q, m, budget, OMEGA)) - want) < 1e-14
    # binary alphabet: Eq. 55 with scipy
    ks = np.arange(k // 2 + 1, k + 1)
    eq55 = stats.binom.pmf(ks, k, psi).sum()
    got = float(success(MajorityVote(k, CoT(), [1.0]), q, m, budget, OMEGA))
    assert abs(got - eq55) < 1e-12


@jax.jit
def _property_values(q, m, steps):
    """psi at (q, steps), (q, 1.5 steps) and (1.1 q, steps) for three strategies."""
    budget = jnp.stack([steps, 1.5 * steps, steps]) * OMEGA
    qs = jnp.stack([q, q, jnp.minimum(1.1 * q, 1.0)])
    return jnp.stack(
        [success(s, qs, m, budget, OMEGA) for s in (CoT(), ToT(4), BestOfN(4, ToT(16)))]
    )


@settings(max_examples=20, deadline=None)
@given(q=st.floats(1e-4, 0.99), m=st.integers(1, 60), steps=st.floats(1.0, 3000.0))
def test_properties_bounds_and_monotonicity(q, m, steps):
    psi = np.asarray(_property_values(q, float(m), steps))
    assert np.all((psi >= 0) & (psi <= 1))
    assert np.all(psi[:, 1] >= psi[:, 0] - 1e-12)  # more budget never hurts
    assert np.all(psi[:, 2] >= psi[:, 0] - 1e-12)  # nor a higher per-step probability


# --------------------------------------------------------------------------- tokens


def eq23_direct(q, m, steps):
    """Eq. 23 summed term by term with scipy's betainc (integer steps)."""
    steps = int(steps)
    t = np.arange(m, steps + 1)
    cdf = lambda tt: np.where(tt - m + 1 > 0, sps.betainc(m, np.maximum(tt - m + 1, 1e-300), q), 0)
    body = np.sum(t * (cdf(t) - cdf(t - 1)))
    return body + steps * (1 - cdf(np.array(steps)))


@pytest.mark.parametrize("q,m", [(0.2, 5), (0.05, 100), (0.7, 1), (0.01, 3)])
def test_expected_tokens_exact_equals_eq23_sum(q, m):
    for steps in [m - 1, m, int(0.5 * m / q) + 1, int(m / q), int(3 * m / q)]:
        got = float(expected_tokens(CoT(), q, m, steps * OMEGA, OMEGA))
        want = OMEGA * eq23_direct(q, m, steps)
        assert abs(got - want) <= 1e-9 * want


def test_expected_tokens_limits_eq24_eq25():
    q, m = 0.05, 10
    big = float(expected_tokens(CoT(), q, m, 1e6 * OMEGA, OMEGA))
    assert abs(big - OMEGA * m / q) < 1e-9 * OMEGA * m / q
    # 40 << m / q = 200: the deficit K - E[min(T, K)] <= K P(T <= K) ~ 1e-5 K.
    small = float(expected_tokens(CoT(), q, m, 40 * OMEGA, OMEGA))
    assert 0 <= 1 - small / (40 * OMEGA) <= float(nb_cdf(q, m, 40))


def test_expected_tokens_tot_and_bon_structure():
    q, m, b, k = 0.1, 4, 4, 8
    x = 1 - (1 - q) ** b
    rounds = 15
    tot = float(expected_tokens(ToT(b), q, m, rounds * b * OMEGA, OMEGA))
    assert abs(tot - b * OMEGA * eq23_direct(x, m, rounds)) < 1e-9 * tot
    bon = float(expected_tokens(BestOfN(k), q, m, k * 30 * OMEGA, OMEGA))
    assert abs(bon - k * OMEGA * eq23_direct(q, m, 30)) < 1e-9 * bon
    mv = float(expected_tokens(MajorityVote(k, ToT(b), [1.0]), q, m, k * b * 15 * OMEGA, OMEGA))
    assert abs(mv - k * tot) < 1e-9 * mv


def test_expected_tokens_gaussian_and_linear_eq26_eq27():
    q, m = 0.2, 5
    mu, sd = OMEGA * m / q, OMEGA * np.sqrt(m * (1 - q)) / q
    budgets = np.array([10, 80, 125, 150, 200, 600.0]) * OMEGA / 5
    z = (budgets - mu) / sd
    mid = mu * stats.norm.cdf(z) + budgets * stats.norm.sf(z) - sd * stats.norm.pdf(z)
    want = np.where(z < -2, budgets, np.where(z > 2, mu, mid))
    got = expected_tokens(CoT(), q, m, budgets, OMEGA, method="gaussian")
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(
        expected_tokens(CoT(), q, m, budgets, OMEGA, method="linear"), np.minimum(mu, budgets)
    )
    lin_tot = expected_tokens(ToT(4), q, m, budgets, OMEGA, method="linear")
    np.testing.assert_allclose(lin_tot, np.minimum(OMEGA * 4 * m / (1 - (1 - q) ** 4), budgets))
    lin_bon = expected_tokens(BestOfN(8), q, m, budgets, OMEGA, method="linear")
    np.testing.assert_allclose(lin_bon, np.minimum(OMEGA * 8 * m / q, budgets))


# --------------------------------------------------------------------------- autodiff


STRATS = [
    pytest.param(CoT(), marks=pytest.mark.slow),
    pytest.param(ToT(4), marks=pytest.mark.slow),
    pytest.param(BestOfN(8), marks=pytest.mark.slow),
    BestOfN(4, ToT(2)),  # covers CoT/ToT chains and the BoN log-failure path
    MajorityVote(8, CoT(), [0.5, 0.3, 0.2]),
]


@pytest.mark.parametrize("strategy", STRATS, ids=lambda s: repr(s)[:12])
def test_jit_vmap_and_finite_gradients_everywhere(strategy):
    f = lambda s, q, budget: success(s, q, 5.0, budget, OMEGA)
    qs = jnp.array([0.0, 1e-6, 0.05, 0.5, 0.999, 1.0])
    budgets = jnp.array([0.0, 3 * OMEGA, 5 * OMEGA, 40 * OMEGA, 4000 * OMEGA])
    qq, bb = (a.ravel() for a in jnp.meshgrid(qs, budgets, indexing="ij"))
    vals = jax.jit(jax.vmap(f, (None, 0, 0)))(strategy, qq, bb)
    eager = success(strategy, qq, 5.0, bb, OMEGA)
    # (absolute tolerance: see the report on log1p folding under jit for psi ~ 1e-28)
    np.testing.assert_allclose(vals, eager, rtol=1e-10, atol=1e-15)
    grads = jax.jit(jax.vmap(jax.grad(f, argnums=(1, 2)), (None, 0, 0)))(strategy, qq, bb)
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.parametrize("strategy", STRATS, ids=lambda s: repr(s)[:12])
def test_gradients_match_finite_differences(strategy):
    q0, budget0 = 0.15, 333.0 * 8
    fq = lambda q: success(strategy, q, 5.0, budget0, OMEGA)
    fb = lambda b: success(strategy, q0, 5.0, b, OMEGA)
    for f, x0 in ((fq, q0), (fb, budget0)):
        h = 1e-6 * x0
        fd = (float(f(x0 + h)) - float(f(x0 - h))) / (2 * h)
        g = float(jax.grad(f)(x0))
        assert abs(g - fd) <= 1e-5 * abs(fd) + 1e-12


def test_log_success_gradient_finite_when_tiny():
    g = jax.grad(lambda q: log_success(BestOfN(8), q, 20.0, 8 * 25 * OMEGA, OMEGA))(1e-6)
    assert np.isfinite(float(g)) and abs(float(g) - 20 / 1e-6) < 1e-3 * 20 / 1e-6


def test_strategies_are_pytrees_with_static_settings():
    s = MajorityVote(8, ToT(4), [0.5, 0.5])
    leaves, tree = jax.tree_util.tree_flatten(s)
    assert len(leaves) == 1  # only the error weights are data
    assert jax.tree_util.tree_unflatten(tree, leaves).base.branching == 4


def test_float32_stays_finite():
    q = jnp.array([0.01, 0.3], jnp.float32)
    out = success(BestOfN(4), q, 5, jnp.float32(2000.0), jnp.float32(OMEGA))
    assert out.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(out)))


def test_input_validation():
    with pytest.raises(ValueError, match="q"):
        success(CoT(), 1.5, 3, 100.0, OMEGA)
    with pytest.raises(ValueError, match="omega"):
        success(CoT(), 0.5, 3, 100.0, 0.0)
    # an infinite budget (or omega) has no value here: I_q(m, inf) and the token sums were NaN
    with pytest.raises(ValueError, match="budget must be finite and >= 0"):
        success(CoT(), 0.5, 3, np.inf, OMEGA)
    with pytest.raises(ValueError, match="budget must be finite"):
        expected_tokens(BestOfN(2), 0.5, 3, np.array([100.0, np.inf]), OMEGA)
    with pytest.raises(ValueError, match="omega must be finite and > 0"):
        log_success(ToT(2), 0.5, 3, 100.0, np.inf)
    with pytest.raises(ValueError, match="strategy"):
        success("cot", 0.5, 3, 100.0, OMEGA)
    with pytest.raises(ValueError, match="branching"):
        ToT(0)
    with pytest.raises(ValueError, match="mixture"):
        BestOfN(3, (CoT(), CoT()))
    with pytest.raises(ValueError, match="error_weights"):
        MajorityVote(3, CoT(), [0.4, 0.4])
    with pytest.raises(ValueError, match="method"):
        expected_tokens(CoT(), 0.5, 3, 100.0, OMEGA, method="poisson")


@pytest.mark.parametrize("method", ["exact", "gaussian", "linear"])
def test_expected_tokens_jit_and_finite_budget_gradients(method):
    f = jax.jit(
        jax.vmap(
            jax.grad(lambda q, b: expected_tokens(ToT(4), q, 5.0, b, OMEGA, method=method), (0, 1))
        )
    )
    q = jnp.array([0.0, 0.05, 0.5, 1.0, 0.2, 0.2])
    b = jnp.array([100.0, 0.0, 5e3, 5e3, 1e6, 40 * OMEGA])
    for g in f(q, b):
        assert np.all(np.isfinite(np.asarray(g)))
    # d E[min(T, K)] / dK = P(T > K) for the exact form at large K: tends to 0 (Eq. 24)
    if method == "exact":
        dk = jax.grad(lambda b: expected_tokens(CoT(), 0.2, 5.0, b, OMEGA))(1e5)
        assert 0 <= float(dk) < 1e-12


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mv_success(np.nan, 5, [1.0]), "p must be in"),
        (lambda: ds3jax.SigmoidTransfer(a=np.nan), "SigmoidTransfer needs"),
        (lambda: ds3jax.iota_hat(np.nan, 5), "delta must be in"),
        (lambda: ds3jax.inference_flops(CoT(), np.nan, 1e9), "tokens must be finite and >= 0"),
        (lambda: success(CoT(), 0.5, 3, np.nan, OMEGA), "budget must be finite"),
    ],
)
def test_nan_inputs_are_refused(call, message):
    # range checks written as "any(x < 0) or any(x > 1)" let NaN through (every comparison
    # with NaN is false): mv_success(nan) returned 1.0
    with pytest.raises(ValueError, match=message):
        call()


def _nb_cdf_mp(q, m, steps):
    q = mpmath.mpf(q)
    return mpmath.fsum(
        mpmath.binomial(steps, j) * q**j * (1 - q) ** (steps - j) for j in range(m, steps + 1)
    )


def test_best_of_n_shares_with_one_base_split_the_budget():
    # shares with a single base were checked, then dropped: every member got budget / k
    got = float(success(BestOfN(2, CoT(), shares=[0.9, 0.1]), 0.1, 2.0, 500.0, OMEGA))
    want = 1 - (1 - nb_cdf(0.1, 2, 18)) * (1 - nb_cdf(0.1, 2, 2))
    assert got == pytest.approx(want, rel=1e-12)
    # shares as a jax array are checked too (they gave 136 tokens on a budget of 100)
    with pytest.raises(ValueError, match="shares must be k = 2"):
        BestOfN(2, CoT(), shares=jnp.array([1.0, 1.0]))


def test_best_of_n_log_success_where_the_base_underflows():
    # k log1p(-psi) rounded to 0 and log psi_BoN came out -inf; mpmath at 60 digits
    mpmath.mp.dps = 60
    try:
        for q in (1e-60, 1e-110):
            psi = _nb_cdf_mp(q, 3, 20)
            want = float(mpmath.log(-mpmath.expm1(3 * mpmath.log1p(-psi))))
            got = float(log_success(BestOfN(3, CoT()), q, 3.0, 60.0, 1.0))
            assert got == pytest.approx(want, rel=1e-12)
            mix = BestOfN(2, (CoT(), CoT()), shares=[0.5, 0.5])
            want2 = float(mpmath.log(-mpmath.expm1(2 * mpmath.log1p(-_nb_cdf_mp(q, 3, 30)))))
            assert float(log_success(mix, q, 3.0, 60.0, 1.0)) == pytest.approx(want2, rel=1e-12)
    finally:
        mpmath.mp.dps = 15
    # d log psi / dq = 3 m / q ... to first order: psi ~ C(20, 3) q^3, so 3 / q
    g = float(jax.grad(lambda q: log_success(BestOfN(3, CoT()), q, 3.0, 60.0, 1.0))(1e-120))
    assert g == pytest.approx(3e120, rel=1e-9)
    # and where psi is not tiny it is still log(1 - (1 - psi)^k)
    psi = nb_cdf(0.2, 3, 20)
    want = np.log(1 - (1 - psi) ** 3)
    assert float(log_success(BestOfN(3, CoT()), 0.2, 3.0, 60.0, 1.0)) == pytest.approx(want)


def test_expected_tokens_stay_within_the_budget_and_above_zero():
    # E[min(T, K)] lies in (0, K] (brute-force sums below); Eq. 26's Gaussian went to
    # -1870 tokens at m = 1, and the exact form's interpolation between integer K exceeded
    # K for K in (m - 1, m)
    for m, q, budget in ((1, 1e-3, 250.0), (3, 1e-4, 500.0), (3, 1e-9, 500.0), (2, 1e-3, 1e3)):
        g = float(expected_tokens(CoT(), q, m, budget, OMEGA, method="gaussian"))
        K = int(budget / OMEGA)
        t = np.arange(m, K + 1)
        exact = OMEGA * (np.sum(t * stats.nbinom.pmf(t - m, m, q)) + K * (1 - nb_cdf(q, m, K)))
        assert 0 < g <= budget
        assert g >= 0.8 * exact  # the floor K P(T > K) of the Gaussian's middle branch
    assert float(expected_tokens(CoT(), 1.0, 3.0, 62.5, OMEGA)) <= 62.5
    assert float(expected_tokens(BestOfN(4), 1.0, 3.0, 250.0, OMEGA)) <= 250.0
    # finite derivatives where m / q overflows (NaN before; the value is the budget there)
    for method in ("exact", "gaussian", "linear"):
        d = jax.grad(lambda q: expected_tokens(CoT(), q, 3.0, 500.0, OMEGA, method=method))
        assert np.isfinite(float(d(1e-200)))
    with pytest.raises(ValueError, match="z_star"):
        expected_tokens(CoT(), 0.1, 3.0, 500.0, OMEGA, method="gaussian", z_star=-1.0)


def test_majority_vote_log_success_where_the_base_underflows():
    # mv_log_success took psi itself, which is 0 here: -inf. Binary vote of 3: the correct
    # answer needs 2 votes, Psi = 3 psi^2 (1 - psi) + psi^3 (mpmath at 60 digits)
    mpmath.mp.dps = 60
    try:
        for q in (1e-60, 1e-110):
            psi = _nb_cdf_mp(q, 3, 20)
            want = float(mpmath.log(3 * psi**2 * (1 - psi) + psi**3))
            got = float(log_success(MajorityVote(3, CoT(), [1.0]), q, 3.0, 60.0, 1.0))
            assert got == pytest.approx(want, rel=1e-12)
    finally:
        mpmath.mp.dps = 15
    # where psi is not small, the log of success(); an infeasible base gives -inf, gradient 0
    s = MajorityVote(5, CoT(), [0.6, 0.4])
    for q in (0.3, 1e-3):
        want = np.log(float(success(s, q, 3.0, 100.0, 1.0)))
        assert float(log_success(s, q, 3.0, 100.0, 1.0)) == pytest.approx(want, rel=1e-12)
    mv = MajorityVote(3, CoT(), [1.0])
    assert float(log_success(mv, 0.5, 3.0, 2.0, 1.0)) == -np.inf
    assert float(jax.grad(lambda q: log_success(mv, q, 3.0, 2.0, 1.0))(0.5)) == 0.0
    # float32: psi ~ 1e-60 underflows there
    lp = log_success(mv, jnp.float32(1e-6), jnp.float32(10.0), jnp.float32(60.0), jnp.float32(1.0))
    assert lp.dtype == jnp.float32 and np.isfinite(float(lp)) and float(lp) < -200
