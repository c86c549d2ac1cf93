"""Majority voting over task populations (Eq. 60-63, App. E-C).

References: brute-force enumeration of every vote sequence (itertools) with the Beta
moments from scipy.special.betaln; Monte Carlo (numpy Generator, 4 standard errors);
scipy.special.betainc / betaincinv for the saturation calibration.
"""

import itertools
from pathlib import Path

import jax
import numpy as np
import pytest
import scipy.special

from ds3jax._majority import mv_log_table
from ds3jax.population import fit_majority_curve, fit_passk_curve, make_curve
from ds3jax.population._data import load_curve
from ds3jax.population._majority_population import (
    geometric_error_weights,
    geometric_lambda,
    max_error_weight_from_saturation,
    mv_accuracy,
    mv_saturation,
    mv_vote_table,
)
from ds3jax.population._passk import BetaPopulation, DiscretePopulation

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ds3_passk"


def _bruteforce_beta(k, c, alpha, beta, A):
    """Eq. 61 by enumerating all (|c| + 1)^k vote sequences."""
    n_ans = len(c) + 1
    total = 0.0
    for seq in itertools.product(range(n_ans), repeat=k):
        counts = np.bincount(seq, minlength=n_ans)
        top = counts.max()
        if counts[0] != top:
            continue
        win = 1.0 / np.sum(counts == top)
        y0 = counts[0]
        # E_Beta[psi^y0 (1 - psi)^(k - y0)] prod_j c_j^y_j
        moment = np.exp(
            scipy.special.betaln(alpha + y0, beta + k - y0) - scipy.special.betaln(alpha, beta)
        )
        total += win * moment * np.prod(np.asarray(c) ** counts[1:])
    return A * total


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
def test_mv_population_matches_enumeration(k):
    c = [0.5, 0.3, 0.2]
    alpha, beta, A = 0.7, 1.6, 0.85
    ref = _bruteforce_beta(k, c, alpha, beta, A)
    got = float(mv_accuracy(BetaPopulation(alpha, beta, A), k, c))
    assert got == pytest.approx(ref, rel=1e-12)


def test_mv_discrete_population_matches_enumeration():
    c = [0.6, 0.4]
    psi, w = np.array([0.2, 0.55]), np.array([0.5, 0.5])
    k = 5
    ref = 0.0
    for p, wi in zip(psi, w):
        probs = [p, (1 - p) * c[0], (1 - p) * c[1]]
        for seq in itertools.product(range(3), repeat=k):
            counts = np.bincount(seq, minlength=3)
            if counts[0] == counts.max():
                ref += wi * np.prod([probs[s] for s in seq]) / np.sum(counts == counts.max())
    got = float(mv_accuracy(DiscretePopulation(psi, w), k, c))
    assert got == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("k", [9, 40])
def test_mv_population_matches_simulation(k):
    rng = np.random.default_rng(2024)
    alpha, beta, A = 0.5, 0.9, 0.9
    c = np.asarray(geometric_error_weights(0.7, 9))
    tasks = 100_000
    psi = np.where(rng.random(tasks) < A, rng.beta(alpha, beta, tasks), 0.0)
    pvals = np.concatenate([psi[:, None], (1 - psi)[:, None] * c[None, :]], axis=1)
    votes = rng.multinomial(k, pvals)
    top = votes.max(axis=1)
    win = (votes[:, 0] == top) / np.sum(votes == top[:, None], axis=1)  # uniform tie-break
    se = win.std() / np.sqrt(tasks)
    got = float(mv_accuracy(BetaPopulation(alpha, beta, A), k, c))
    assert abs(win.mean() - got) < 4 * se, (win.mean(), got, se)


def test_windowed_table_equals_full_table():
    # k above the full-table limit: the tail-bounded window must reproduce every entry.
    k = 700
    c = np.asarray(geometric_error_weights(0.6, 9))
    full = np.exp(np.asarray(mv_log_table(k, c)))
    np.testing.assert_allclose(mv_vote_table(k, c), full, atol=1e-12)


def test_saturation_limit_and_calibration():
    pop = BetaPopulation(0.4, 0.5, 0.97)
    c_star = 0.35
    rc = c_star / (1 + c_star)
    ref = 0.97 * (1 - scipy.special.betainc(0.4, 0.5, rc))
    assert float(mv_saturation(pop, c_star)) == pytest.approx(ref, rel=1e-13)
    # Eq. 62 inverts it (reference inverse from scipy)
    r_ref = scipy.special.betaincinv(0.4, 0.5, 1 - ref / 0.97)
    got = float(max_error_weight_from_saturation(pop, ref))
    assert got == pytest.approx(r_ref / (1 - r_ref), rel=1e-10)
    assert got == pytest.approx(c_star, rel=1e-10)
    # the exact finite-k accuracy approaches P_inf (App. E-C limit)
    c = np.asarray(geometric_error_weights(float(geometric_lambda(c_star, 9)), 9))
    assert c[0] == pytest.approx(c_star, rel=1e-10)
    big = float(mv_accuracy(pop, 3000, c))
    assert abs(big - ref) < 0.01
    with pytest.raises(ValueError, match="p_inf"):
        max_error_weight_from_saturation(BetaPopulation(0.4, 0.5, 0.5), 0.6)


def test_geometric_spectrum_and_lambda_solve():
    lam, n = 0.592, 9
    c = np.asarray(geometric_error_weights(lam, n))
    ref = (1 - lam) * lam ** np.arange(n) / (1 - lam**n)
    np.testing.assert_allclose(c, ref, rtol=1e-14)
    assert float(geometric_lambda(float(ref[0]), n)) == pytest.approx(lam, abs=1e-12)
    # implicit gradient vs central difference of the closed form c_1(lambda) inverted
    g = float(jax.grad(lambda x: geometric_lambda(x, n))(float(ref[0])))
    h = 1e-7
    c1 = lambda x: (1 - x) / (1 - x**n)
    dc1 = (c1(lam + h) - c1(lam - h)) / (2 * h)
    assert g == pytest.approx(1 / dc1, rel=1e-6)
    np.testing.assert_allclose(np.asarray(geometric_error_weights(1.0, 4)), 0.25)


def test_mv_gradient_in_population_parameters():
    c = [0.5, 0.3, 0.2]
    f = lambda a: mv_accuracy(BetaPopulation(a, 1.6, 0.85), 4, c)
    g = float(jax.grad(f)(0.7))
    h = 1e-6
    ref = (
        _bruteforce_beta(4, c, 0.7 + h, 1.6, 0.85) - _bruteforce_beta(4, c, 0.7 - h, 1.6, 0.85)
    ) / (2 * h)
    assert g == pytest.approx(ref, rel=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(not DATA.exists(), reason=f"shared data directory {DATA} absent")
@pytest.mark.parametrize(
    "model,lam_paper", [("llama38Binstruct", 0.752), ("llama370Binstruct", 0.592)]
)
def test_mv_fit_on_paper_curves(model, lam_paper):
    oracle = fit_passk_curve(load_curve(DATA / f"{model}_oracle.csv"), loss="max")
    maj = load_curve(DATA / f"{model}_maj.csv")
    fit = fit_majority_curve(maj, oracle)
    pred = np.interp(np.maximum(1, np.round(maj.k)), fit.k, fit.predicted)
    err = np.abs(pred - maj.y)
    print(
        f"{model}: lambda {fit.lam:.3f} (paper {lam_paper}), "
        f"RMSE {fit.rmse:.4f}, max {err.max():.4f}"
    )
    assert err.max() < 0.02
    assert abs(fit.lam - lam_paper) < 0.03


def test_discrete_population_gradient_at_the_ends():
    # k = 2 with one wrong answer: a 1-1 tie is broken at random, so psi_MV(p) = p exactly
    # and its derivative is 1 everywhere, also at p = 0 and 1 (it was 0 and 2 there)
    f = lambda p: mv_accuracy(DiscretePopulation(p[None], np.ones(1)), 2, [1.0])  # noqa: E731
    for p in (0.0, 0.4, 1.0):
        assert float(jax.grad(f)(jax.numpy.asarray(p))) == pytest.approx(1.0, rel=1e-12)
    # k = 7: psi_MV is flat at p = 1 (every vote correct), one-sided difference 0
    g = lambda p: mv_accuracy(DiscretePopulation(p[None], np.ones(1)), 7, [0.5, 0.3, 0.2])  # noqa: E731
    assert abs(float(jax.grad(g)(jax.numpy.asarray(1.0)))) < 1e-12


def test_geometric_spectrum_near_uniform_and_at_zero():
    import mpmath

    def ref(lam, n, j):
        lam = mpmath.mpf(lam)
        return (1 - lam) * lam**j / (1 - lam**n)

    n = 9
    for lam in (0.3, 0.99, 1 - 1e-5, 1 - 1e-9, 1 - 1e-13):
        got = np.asarray(jax.jacfwd(geometric_error_weights)(lam, n))
        with mpmath.workdps(50):
            want = [float(mpmath.diff(lambda x: ref(x, n, j), lam)) for j in range(n)]
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)
    # the limit at lambda = 1: c_j -> 1/n, dc_1/dlambda -> -(n - 1) / (2n) (it was 0 just below 1)
    d1 = np.asarray(jax.jacfwd(geometric_error_weights)(1.0, n))[0]
    assert d1 == pytest.approx(-(n - 1) / (2 * n), rel=1e-12)
    assert np.all(np.isfinite(np.asarray(jax.jacfwd(geometric_error_weights)(0.0, 4))))
    # the inverse at c* = 1/n: d lambda / d c* = 1 / (dc_1/dlambda) = -2n / (n - 1)
    g = float(jax.grad(lambda x: geometric_lambda(x, n))(1.0 / n))
    assert g == pytest.approx(-2 * n / (n - 1), rel=1e-6)


def test_two_answers_and_unreachable_plateaus():
    # one wrong answer: c = [1] whatever lambda is; n_answers = 2 failed with NaN weights
    assert float(geometric_lambda(1.0, 1)) == 0.0
    pop = BetaPopulation(0.5, 2.0, 0.9)
    curve = make_curve(np.array([1.0, 10.0, 100.0]), np.array([0.2, 0.3, 0.35]))
    with pytest.warns(UserWarning, match=r"using c\* = 1"):  # one wrong answer: c* is 1
        fit = fit_majority_curve(curve, pop, n_answers=2)
    np.testing.assert_allclose(fit.error_weights, [1.0])
    # a plateau no spectrum over 9 wrong answers reaches: the nearest one is used, and the
    # result reports the saturation it gives (it reported the one asked for, and c* > 1)
    with pytest.warns(UserWarning, match="outside"):
        fit = fit_majority_curve(curve, pop, p_inf=0.1)
    assert fit.max_error_weight == pytest.approx(1.0)
    assert fit.p_inf == pytest.approx(float(mv_saturation(pop, 1.0)), rel=1e-12)


def test_bad_majority_inputs_are_refused():
    pop = BetaPopulation(0.5, 2.0, 0.9)
    for call, msg in (
        (lambda: mv_accuracy(pop, [2.7, 3.2], [1.0]), "integer"),
        (lambda: mv_accuracy(pop, [], [1.0]), "non-empty"),
        (lambda: mv_accuracy(pop, 10, [1.0], tol=float("nan")), "tol"),
        (lambda: max_error_weight_from_saturation(pop, jax.numpy.asarray(1.0)), "p_inf"),
        (lambda: mv_saturation(pop, -0.5), "max_error_weight"),
        (lambda: mv_saturation(pop, 2.0), "max_error_weight"),
        (lambda: geometric_error_weights(-0.5, 4), "lam"),
        (lambda: geometric_error_weights(0.5, 2.5), "n_wrong"),
        (lambda: geometric_lambda(0.5, 0), "n_wrong"),
        (
            lambda: fit_majority_curve(make_curve([1.0, 10.0], [0.2, 0.3]), pop, n_answers=2.7),
            "n_answers",
        ),
    ):
        with pytest.raises(ValueError, match=msg):
            call()
