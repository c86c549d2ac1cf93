"""Task-population families (issue 12, item 1): exact mixed moments, likelihoods and pass@k.

References: scipy.special.betaln / scipy.stats.betabinom (Beta), mpmath quadrature at 25
digits (logit-normal), direct sums (discrete, point masses, mixtures), brute-force enumeration
(probabilities of every count sum to 1), float64 central differences (gradients)."""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import scipy.special
import scipy.stats

import ds3jax.population as P

mpmath.mp.dps = 25


def _ln_ref(mu, s, c, f):
    """log int sigmoid(z)^c sigmoid(-z)^f N(z; mu, s) dz by mpmath, split around the mode."""
    h = lambda z: (
        -c * mpmath.log1p(mpmath.exp(-z))
        - f * mpmath.log1p(mpmath.exp(z))
        - (z - mu) ** 2 / (2 * s**2)
    )
    dh = lambda z: c / (1 + mpmath.exp(z)) - f / (1 + mpmath.exp(-z)) - (z - mu) / s**2
    lo, hi = mpmath.mpf(-400), mpmath.mpf(200)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if dh(mid) > 0 else (lo, mid)
    zm = lo
    hm = h(zm)
    w = 1 / mpmath.sqrt((c + f) * mpmath.exp(zm) / (1 + mpmath.exp(zm)) ** 2 + 1 / s**2)
    pts = sorted({zm + w * t for t in (-40, -10, -3, -1, 0, 1, 3, 10, 40)} | {zm - 12 * s})
    val = mpmath.quad(lambda z: mpmath.exp(h(z) - hm), pts)
    return float(mpmath.log(val) + hm - mpmath.log(s * mpmath.sqrt(2 * mpmath.pi)))


@pytest.mark.parametrize(
    "mu,s,c,f",
    [
        (-5.0, 3.0, 0.0, 100.0),
        (-5.0, 3.0, 2.0, 1e4),
        (0.0, 1.0, 0.0, 1e15),
        (-10.0, 0.3, 0.0, 1e9),
        (2.0, 5.0, 3e5, 3.4e6),
        (-3.0, 8.0, 100.0, 0.0),
        (-20.0, 15.0, 0.0, 1e15),
    ],
)
def test_logit_normal_moment_matches_mpmath(mu, s, c, f):
    got = float(P.log_moment(P.LogitNormalPopulation(mu, s), c, f))
    ref = _ln_ref(mu, s, c, f)
    assert got == pytest.approx(ref, rel=1e-8, abs=1e-9)


@pytest.mark.parametrize(
    "a,b,c,f",
    [
        (0.3, 200.0, 0.0, 1e9),
        (0.3, 200.0, 3.0, 1e6),
        (2.0, 5.0, 3e5, 3.4e6),
        (0.01, 1e8, 0.0, 1e15),
        (5.0, 0.5, 100.0, 0.0),
        (40.0, 3e7, 7.0, 12.0),
    ],
)
def test_beta_moment_matches_mpmath_at_extreme_counts(a, b, c, f):
    ref = mpmath.log(mpmath.beta(a + c, b + f) / mpmath.beta(a, b))
    got = float(P.log_moment(P.BetaPopulation(a, b), c, f))
    assert got == pytest.approx(float(ref), rel=1e-13, abs=1e-13)


def _families():
    return {
        "beta": P.BetaPopulation(0.4, 3.0),
        "beta+zero": P.BetaPopulation(0.4, 3.0, 0.7),
        "logit-normal+zero": P.LogitNormalPopulation(-1.5, 2.0, 0.8),
        "beta+one": P.MixturePopulation(
            (P.BetaPopulation(0.6, 8.0), P.PointMass(1.0)), jnp.array([0.85, 0.15])
        ),
        "mixture": P.MixturePopulation(
            (P.BetaPopulation(0.2, 50.0), P.BetaPopulation(3.0, 1.0)), jnp.array([0.6, 0.4])
        ),
        "discrete": P.DiscretePopulation(
            jnp.array([0.0, 0.01, 0.5, 1.0]), jnp.array([0.1, 0.4, 0.3, 0.2])
        ),
    }


@pytest.mark.parametrize("name", list(_families()))
def test_count_probabilities_sum_to_one(name):
    # brute force: P(c | n) over c = 0..n sums to 1 for every family, n = 0, 1, 17, 60
    pop = _families()[name]
    for n in (0, 1, 17, 60):
        c = np.arange(n + 1.0)
        tot = float(jnp.sum(jnp.exp(P.count_loglik(pop, c, float(n)))))
        assert tot == pytest.approx(1.0, rel=1e-11)


def test_count_loglik_matches_scipy_and_direct_sums():
    c = np.array([0, 1, 5, 20, 0, 3, 7])
    n = np.array([20, 20, 20, 20, 7, 1000, 7])
    ref = 0.3 * (c == 0) + 0.7 * scipy.stats.betabinom.pmf(c, n, 0.6, 2.2)
    got = P.count_loglik(P.BetaPopulation(0.6, 2.2, 0.7), c, n)
    np.testing.assert_allclose(np.exp(np.asarray(got)), ref, rtol=1e-12)
    pop = _families()["discrete"]
    psi, w = np.asarray(pop.psi), np.asarray(pop.weights)
    ref = (w[None] * scipy.stats.binom.pmf(c[:, None], n[:, None], psi[None])).sum(1)
    np.testing.assert_allclose(np.exp(np.asarray(P.count_loglik(pop, c, n))), ref, rtol=1e-12)
    pop = _families()["beta+one"]
    ref = 0.85 * scipy.stats.betabinom.pmf(c, n, 0.6, 8.0) + 0.15 * (c == n)
    np.testing.assert_allclose(np.exp(np.asarray(P.count_loglik(pop, c, n))), ref, rtol=1e-12)


@pytest.mark.parametrize("k", [1.0, 100.0, 1e6, 1e15])
def test_passk_of_every_family_to_1e15(k):
    fam = _families()
    # Beta mixture: linear in the components' closed forms (scipy)
    g = lambda a, b: -np.expm1(scipy.special.betaln(a, b + k) - scipy.special.betaln(a, b))
    assert float(P.passk(fam["mixture"], k)) == pytest.approx(
        0.6 * g(0.2, 50.0) + 0.4 * g(3.0, 1.0), rel=1e-11
    )
    assert float(P.passk(fam["beta+one"], k)) == pytest.approx(0.85 * g(0.6, 8.0) + 0.15, rel=1e-11)
    # logit-normal: 1 - A int sigmoid(-z)^k N(z) dz
    ref = 0.8 * (1.0 - np.exp(_ln_ref(-1.5, 2.0, 0.0, k)))
    assert float(P.passk(fam["logit-normal+zero"], k)) == pytest.approx(ref, rel=1e-8)


def test_posterior_passk_matches_closed_form_and_quadrature():
    # Beta: psi | c of n ~ Beta(a + c, b + n - c) (mpmath: scipy's betaln difference loses
    # ~1e-11 here)
    c, n, k = np.array([0.0, 1.0, 9.0]), 100.0, 1e4
    got = np.asarray(P.posterior_passk(P.BetaPopulation(0.3, 40.0), c, n, k))
    ref = [
        float(1 - mpmath.beta(0.3 + ci, 40 + n - ci + k) / mpmath.beta(0.3 + ci, 40 + n - ci))
        for ci in c
    ]
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    # logit-normal: ratio of two quadratures
    for ci in (0.0, 2.0):
        got = float(P.posterior_passk(P.LogitNormalPopulation(-6.0, 2.0), ci, n, k))
        ref = -np.expm1(_ln_ref(-6.0, 2.0, ci, n - ci + k) - _ln_ref(-6.0, 2.0, ci, n - ci))
        assert got == pytest.approx(ref, rel=1e-7)


def test_moments_are_differentiable_jittable_and_vmappable():
    def f(th):
        pop = P.MixturePopulation(
            (P.LogitNormalPopulation(th[0], jnp.exp(th[1])), P.BetaPopulation(jnp.exp(th[2]), 3.0)),
            jnp.array([0.5, 0.5]),
        )
        return jnp.sum(P.count_loglik(pop, jnp.array([0.0, 3.0, 40.0]), 100.0)) + P.passk(pop, 1e12)

    th = jnp.array([-3.0, 0.5, np.log(0.4)])
    g = np.asarray(jax.jit(jax.grad(f))(th))
    # central differences in mpmath-free float64 with a step that balances rounding
    h = 1e-5
    fd = np.array([(f(th + h * e) - f(th - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)
    batch = jax.vmap(lambda m: P.log_moment(P.LogitNormalPopulation(m, 1.0), 2.0, 50.0))(
        jnp.linspace(-8.0, 2.0, 5)
    )
    single = [
        float(P.log_moment(P.LogitNormalPopulation(m, 1.0), 2.0, 50.0))
        for m in np.linspace(-8.0, 2.0, 5)
    ]
    np.testing.assert_allclose(np.asarray(batch), single, rtol=1e-13)
    assert np.all(np.isfinite(np.asarray(jax.hessian(f)(th))))


def test_weight_gradient_at_zero_weight():
    # d/dw log(sum_i w_i M_i) = M_j / sum at w_j = 0 too; logsumexp(b=w) dropped the entry
    # and its derivative (a mixture weight's gradient at 0 came out -1 instead of +0.51)
    beta = P.BetaPopulation(0.3, 2.0, 1.0)

    def mix(w):
        return P.MixturePopulation((beta, P.PointMass(0.0)), jnp.stack([1 - w, w]))

    f = lambda w: P.log_moment(mix(w), 0.0, 5.0)  # noqa: E731
    m5 = np.exp(scipy.special.betaln(0.3, 7.0) - scipy.special.betaln(0.3, 2.0))
    assert float(jax.grad(f)(0.0)) == pytest.approx((1 - m5) / m5, rel=1e-10)
    # the posterior of a problem seen with 0 of 5: d/dw of 1 - M(0, 15) / M(0, 5) at w = 0
    g = lambda w: P.posterior_passk(mix(w), 0, 5, 10.0)  # noqa: E731
    m15 = np.exp(scipy.special.betaln(0.3, 17.0) - scipy.special.betaln(0.3, 2.0))
    want = -((1 - m15) * m5 - m15 * (1 - m5)) / m5**2
    assert float(jax.grad(g)(0.0)) == pytest.approx(want, rel=1e-8)
    # a discrete population's log failure, weight 0 on psi = 0: d/dw log((1-w) 0.6^k + w)
    h = lambda w: P.log_failure(
        P.DiscretePopulation(jnp.array([0.0, 0.4]), jnp.stack([w, 1 - w])), 10.0
    )  # noqa: E731
    assert float(jax.grad(h)(0.0)) == pytest.approx((1 - 0.6**10) / 0.6**10, rel=1e-10)


def test_passk_asymptote_at_large_beta():
    # C = Gamma(alpha + beta) / Gamma(beta) from lgamma differences cancelled at beta ~ 1e16
    for alpha, beta, k in ((0.5, 1e16, 1e15), (0.3, 1e12, 1e15), (0.7, 3.0, 1e4)):
        with mpmath.workdps(40):
            c = mpmath.exp(mpmath.loggamma(mpmath.mpf(alpha) + beta) - mpmath.loggamma(beta))
            want = float(1 - c * mpmath.mpf(k) ** -alpha)
        got = float(P.passk_asymptote(P.BetaPopulation(alpha, beta, 1.0), k))
        assert got == pytest.approx(want, rel=1e-12, abs=1e-14)


def test_population_inputs_are_checked():
    beta = P.BetaPopulation(0.3, 2.0, 1.0)
    for call, msg in (
        (lambda: P.DiscretePopulation(np.array([0.2, 0.4]), np.array([0.25, 0.25])), "sum to 1"),
        (lambda: P.DiscretePopulation(np.array([]), np.array([])), "at least one task"),
        (
            lambda: P.DiscretePopulation(np.array([0.2, 0.4, 0.5]), np.array([0.5, 0.5])),
            "one shape",
        ),
        (lambda: P.posterior_passk(beta, 5, 3, 2.0), "correct <= samples"),
        (lambda: P.posterior_passk(beta, 1, 3, -2.0), "k must be"),
        (lambda: P.posterior_passk(beta, 1, 3, np.inf), "k must be"),
        (lambda: P.count_loglik(beta, -1, 3), "correct <= samples"),
        (lambda: P.log_moment(beta, -1.0, 2.0), "c must be"),
    ):
        with pytest.raises(ValueError, match=msg):
            call()


def test_grid_population_shape_is_checked():
    with pytest.raises(ValueError, match="entries on its last axis"):
        P.grid_population(np.zeros(5))
    pop = P.grid_population([0] * (P._grid.GRID_Z.size + 1))  # ints and lists are taken
    assert float(P.passk(pop, 1e30)) == pytest.approx(1 - 1 / (P._grid.GRID_Z.size + 1), rel=1e-12)
