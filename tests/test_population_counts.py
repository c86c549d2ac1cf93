"""Per-problem count fits (issue 12, issue 16 items 3, 4, 6): the grid posteriors, the default
route's family choice, interval coverage, result codes, undetermined fits, bad data.

References: grid posteriors against scipy.stats.betabinom evaluated on the same grid;
optimality against an independent SciPy Nelder-Mead multi-start (scipy.stats.betabinom);
pass@k of the nonparametric family against mpmath sums; interval coverage against synthetic
data drawn from known populations (numpy Generator), the truth being the drawn problems' own
pass@k."""

import json

import mpmath
import numpy as np
import pytest
import scipy.optimize
import scipy.special
import scipy.stats

import ds3jax.population as P
from experiments.cli import main


def _counts(seed, problems=128, n=100, a=0.4, b=3.0, A=0.8):
    rng = np.random.default_rng(seed)
    psi = np.where(rng.random(problems) < A, rng.beta(a, b, problems), 0.0)
    return rng.binomial(n, psi), psi


def test_beta_fit_result_from_optimality_not_line_search():
    # issue 16.3: fits at the optimum (checked independently) report successful
    c, _ = _counts(1)
    fit = P.fit_passk_counts(c, 100, method="mle", n_boot=0)

    def nll(t):
        a, b, A = np.exp(t[0]), np.exp(t[1]), 1 / (1 + np.exp(-t[2]))
        pmf = A * scipy.stats.betabinom.pmf(c, 100, a, b) + (1 - A) * (c == 0)
        return -np.sum(np.log(pmf))

    starts = [(-1, 1, 1), (0, 2, 2), (-2, 0, 0.5)]
    best = min(
        scipy.optimize.minimize(
            nll, s, method="Nelder-Mead", options=dict(xatol=1e-9, fatol=1e-12, maxiter=5000)
        ).fun
        for s in starts
    )
    assert -fit.loglik <= best + 1e-6
    assert fit.result is P.RESULTS.successful and fit.success and fit.identified
    assert "successful" not in fit.message or "optimality" in fit.message


def test_one_problem_flags_every_bound_and_is_not_identified():
    # issue 16.4: one problem, 3 of 100: alpha runs to the optimiser's bound
    fit = P.fit_passk_counts(np.array([3]), 100, method="mle", n_boot=0)
    assert "alpha" in fit.at_bound or "beta" in fit.at_bound
    assert not fit.identified
    assert fit.result is P.RESULTS.not_identified
    assert "do not determine" in fit.message
    # the grid posterior says so too: its mass piles on the box's edges, and for two unsolved
    # problems beside it the interval of pass@1e4 is wide rather than confident
    for method in ("auto", "beta"):
        fit = P.fit_passk_counts(np.array([3, 0, 0]), 100, method=method, n_boot=200)
        assert not fit.identified and fit.result is P.RESULTS.not_identified
        assert "do not determine" in fit.message and "prior box" in fit.message
        lo, hi = fit.passk_interval(1e4)
        assert hi - lo > 0.3


def test_one_problem_cli_says_so_and_strict_exits_nonzero(tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("problem,correct,samples\np1,3,100\n")
    rc = main(["fit", str(path), "--out", str(tmp_path / "o"), "--method", "mle", "--n-boot", "0"])
    out = capsys.readouterr()
    assert rc == 0 and "do not determine" in out.out
    rc = main(
        [
            "fit",
            str(path),
            "--out",
            str(tmp_path / "o2"),
            "--method",
            "mle",
            "--strict",
            "--n-boot",
            "0",
        ]
    )
    out = capsys.readouterr()
    assert rc == 3 and "--strict" in out.err


def test_grid_passk_matches_mpmath_to_1e15_and_is_differentiable():
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    theta = jnp.asarray(rng.normal(size=54))
    pop = P.grid_population(theta)
    psi, w = np.asarray(pop.psi), np.asarray(pop.weights)
    for k in (1.0, 1e3, 1e8, 1e15):
        ref = sum(
            mpmath.mpf(float(wj)) * -mpmath.expm1(k * mpmath.log1p(-mpmath.mpf(float(pj))))
            for pj, wj in zip(psi, w)
        )
        assert float(P.passk(pop, k)) == pytest.approx(float(ref), rel=1e-12)
    g = jax.grad(lambda t: P.passk(P.grid_population(t), 1e15))(theta)
    assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.parametrize("method", ["ensemble", "auto", "power_law"])
def test_bad_data_errors_name_the_row(method):
    with pytest.raises(ValueError, match="index 1: correct = 30 exceeds samples = 25"):
        P.fit_passk_counts([1, 30], 25, method=method)
    with pytest.raises(ValueError, match="index 0: correct = -1"):
        P.fit_passk_counts([-1, 3], 25, method=method)
    with pytest.raises(ValueError, match="index 1: correct = nan"):
        P.fit_passk_counts([1, np.nan], 25, method=method)
    with pytest.raises(ValueError, match="no problems"):
        P.fit_passk_counts([], [], method=method)
    with pytest.raises(ValueError, match=r"one per problem \(3\), got shape \(2,\)"):
        P.fit_passk_counts([1, 2, 3], [25, 25], method=method)  # was numpy's broadcast error
    with pytest.raises(ValueError, match=r"one entry per problem \(1-D\), got shape \(1, 2\)"):
        P.fit_passk_counts([[1, 3]], [[25, 25]], method=method)  # was flattened silently
    with pytest.raises(ValueError, match="every count is zero"):
        P.fit_passk_counts([0, 0, 0], 5, method=method)
    with pytest.raises(ValueError, match="n_boot must be 0"):
        P.fit_passk_counts([1, 3], 25, method=method, n_boot=5)
    with pytest.raises(ValueError, match="method must be one of"):
        P.fit_passk_counts([1, 3], 25, method="kde")
    with pytest.raises(ValueError, match="families must be"):
        P.fit_passk_counts([1, 3], 25, families=("beta", "gamma"))


def _truth(psi, k):
    return np.mean(-np.expm1(np.asarray(k, float)[:, None] * np.log1p(-psi)[None, :]), axis=1)


_POPS = {
    "beta": lambda r, m: r.beta(0.3, 30.0, m),
    "beta+zero": lambda r, m: np.where(r.random(m) < 0.6, r.beta(0.4, 20.0, m), 0.0),
    "logit-normal": lambda r, m: 1 / (1 + np.exp(4.0 - 2.0 * r.standard_normal(m))),
}


def _coverage(method, pop, sets, seed0, **kw):
    ks = np.array([1e3, 1e4])
    hits, errs = [], []
    for s in range(sets):
        r = np.random.default_rng(seed0 + s)
        psi = _POPS[pop](r, 128)
        c = r.binomial(100, psi)
        fit = P.fit_passk_counts(c, 100, method=method, n_boot=300, seed=s, **kw)
        lo, hi = fit.passk_interval(ks)
        t = _truth(psi, ks)
        hits.append((lo <= t) & (t <= hi))
        errs.append(fit.passk(ks) - t)
        assert np.all(lo <= fit.passk(ks) + 1e-9) and np.all(fit.passk(ks) <= hi + 1e-9)
    return np.mean(hits, axis=0), np.mean(np.abs(errs))


def test_beta_route_intervals_cover_at_the_nominal_rate():
    # 40 synthetic benchmarks (128 problems, 100 samples each) from a known Beta population;
    # the truth is the drawn problems' own pass@1e3 and pass@1e4.  Nominal 0.9: with 80
    # (correlated) checks, the 0.75..0.99 band fails for a rate outside ~0.8..0.97.
    cover, mae = _coverage("beta", "beta", 40, 500)
    cover = cover.mean()
    print(f"beta route on Beta data: coverage {cover:.2f}, mean |error| {mae:.3f}")
    assert 0.75 <= cover <= 0.99
    assert mae < 0.07


@pytest.mark.slow
@pytest.mark.parametrize("pop", list(_POPS))
def test_default_route_intervals_cover_on_each_population(pop):
    # the default route: its candidates include the family each data set was drawn from.  It
    # must not under-cover; it may over-cover, since its replicates are drawn from every
    # family by weight: on the Beta population (128 problems, 100 samples) the Beta families
    # and the logit-normal score alike held out but disagree by ~0.2 at k = 1e4, and the
    # average's intervals span both (measured: 80 of 80 checks covered, the beta route alone
    # within the nominal band above).  The other populations stay below 0.99.
    cover, mae = _coverage("auto", pop, 40, 900)
    cover = cover.mean()
    print(f"auto on {pop} data: coverage {cover:.2f}, mean |error| {mae:.3f}")
    assert 0.75 <= cover
    if pop != "beta":
        assert cover <= 0.99


@pytest.mark.slow
@pytest.mark.parametrize("pop", list(_POPS))
def test_ensemble_intervals_cover_on_each_population(pop):
    # the default: its replicates are a mixture of the families' and the power law's.  Where
    # either can follow the population it must not under-cover; like "auto" it may
    # over-cover on Beta data.  Known weakness, claimed nowhere: on Beta + zero mass data at
    # k = 1e4 it under-covers (measured ~60%, 128 problems x 100 samples), because the zero
    # mass caps pass@k while half the forecast is a power law climbing to 1, so both err
    # upwards.  Only k = 1e3 is asserted there; the README gives the 1e4 figure.
    cover, mae = _coverage("ensemble", pop, 40, 900)
    print(f"ensemble on {pop} data: coverage {cover}, mean |error| {mae:.3f}")
    if pop == "beta+zero":
        assert cover[0] >= 0.75
    else:
        assert np.all(cover >= 0.75)
    if pop == "logit-normal":
        assert cover.mean() <= 0.99


def test_auto_route_reports_family_weights_and_fits_the_data():
    r = np.random.default_rng(11)
    psi = np.where(r.random(200) < 0.5, r.beta(0.5, 3.0, 200), 0.0)
    c = r.binomial(100, psi)
    fit = P.fit_passk_counts(c, 100, method="auto", n_boot=100)
    assert fit.method == "auto" and fit.family in P.AUTO_FAMILIES
    assert sum(fit.weights.values()) == pytest.approx(1.0)
    assert fit.family == max(fit.weights, key=fit.weights.get)
    assert "held-out" in fit.why and all(f in fit.why for f in P.AUTO_FAMILIES)
    # half the problems have psi = 0 exactly, which 100 samples barely tell from a thin left
    # tail: the right family's interval holds the truth, and the average lies between the
    # families' own predictions
    t = _truth(psi, [1e3, 1e4])
    right = P.fit_passk_counts(c, 100, method="beta+zero", n_boot=100)
    lo, hi = right.passk_interval([1e3, 1e4])
    assert np.all((lo <= t) & (t <= hi)), (lo, t, hi)
    each = [P.fit_passk_counts(c, 100, method=f, n_boot=0).passk(1e4) for f in P.AUTO_FAMILIES]
    assert min(each) - 1e-9 <= fit.passk(1e4) <= max(each) + 1e-9
    # within the data (k <= 100) the prediction follows the unbiased estimate (at k = n fresh
    # samples a few problems unsolved in the first n are expected to be solved: not equal)
    ks = np.array([1.0, 10.0, 100.0])
    emp = np.asarray(P.passk_from_counts(c, 100, ks))
    np.testing.assert_allclose(fit.passk(ks), emp, atol=0.02)
    assert fit.rmse < 0.02
    # averaged over data sets, the problems' posterior pass@k is the population's (the law of
    # total expectation); for one data set they agree to the sampling noise of 200 problems
    assert abs(fit.population_passk(1e4) - fit.passk(1e4)) < 0.05


def test_grid_posterior_matches_scipy_on_its_grid():
    from ds3jax.population._posterior import grid_posterior

    r = np.random.default_rng(2)
    c = r.binomial(60, r.beta(0.7, 9.0, 50))
    post = grid_posterior("beta", np.asarray(c, float), np.full(50, 60.0))
    th = np.asarray(post.thetas)  # (logit of the mean, log concentration)
    a, b = np.exp(th[:, 1]) / (1 + np.exp(-th[:, 0])), np.exp(th[:, 1]) / (1 + np.exp(th[:, 0]))
    ll = scipy.stats.betabinom.logpmf(c[None, :], 60, a[:, None], b[:, None]).sum(1)
    live = np.isfinite(np.asarray(post.logw))
    # the support's log weights are the log-likelihood up to one constant
    d = np.asarray(post.logw)[live] - ll[live]
    np.testing.assert_allclose(d, d[0], atol=1e-9)
    # and the posterior mean of alpha agrees with a fine brute-force quadrature in scipy
    la = np.linspace(np.log(0.05), np.log(20.0), 400)
    lb = np.linspace(np.log(0.5), np.log(1e3), 400)
    A, B = np.meshgrid(np.exp(la), np.exp(lb), indexing="ij")
    LL = scipy.stats.betabinom.logpmf(c[None, None, :], 60, A[..., None], B[..., None]).sum(-1)
    W = np.exp(LL - LL.max())
    ref = float((W * A).sum() / W.sum())
    w = np.exp(np.asarray(post.logw))
    assert float(w @ a) == pytest.approx(ref, rel=0.02)


def _grid_objective(w, c, n, lam):
    # the nonparametric route's penalised negative log-likelihood, written in numpy/scipy from
    # the module docstring: binomial mixture on the grid (atom at psi = 0 first) plus
    # (lam / 2) h sum (second difference of log w / h^2)^2 over the non-atom nodes
    from ds3jax.population._grid import GRID_H, GRID_Z

    psi = np.concatenate([[0.0], scipy.special.expit(GRID_Z)])
    L = scipy.stats.binom.pmf(c[:, None], n, psi[None, :])
    d2 = np.diff(np.log(w[1:]), 2) / GRID_H**2
    return -np.sum(np.log(L @ w)) + 0.5 * lam * GRID_H * np.sum(d2**2)


@pytest.mark.parametrize("unsolved", [True, False])
def test_grid_route_reaches_the_penalised_optimum(unsolved):
    # without an unsolved problem the atom's weight goes to 0, where the fit used to stop
    # short and report not_converged; the optimum is checked against SciPy's L-BFGS on the
    # objective written independently above
    r = np.random.default_rng(7)
    psi = r.beta(0.5, 2.0, 60) if unsolved else r.beta(2.0, 1.0, 60)
    c = r.binomial(100, psi)
    assert (c == 0).any() == unsolved
    fit = P.fit_passk_counts(c, 100, method="grid", n_boot=0)
    assert fit.result is P.RESULTS.successful and fit.identified, fit.message
    lam = float(fit.family.split("=")[1].rstrip(")"))
    w = np.asarray(fit.population.weights, float)
    ours = _grid_objective(np.maximum(w, 1e-300), c, 100, lam)

    def f(u):
        return _grid_objective(scipy.special.softmax(u), c, 100, lam)

    ref = min(
        scipy.optimize.minimize(f, u0, method="L-BFGS-B", options=dict(maxiter=20000)).fun
        for u0 in (np.zeros(w.size), np.log(np.maximum(w, 1e-12)))
    )
    assert ours <= ref + 1e-6 * abs(ref)
    if not unsolved:
        assert w[0] < 1e-6


def test_grid_route_on_all_or_nothing_counts_is_not_identified():
    c = np.array([100] * 20 + [0] * 5)
    fit = P.fit_passk_counts(c, 100, method="grid", n_boot=0)
    assert not fit.identified and fit.result is P.RESULTS.not_identified
    assert "no problem has both correct and wrong samples" in fit.message


def test_repeated_and_mixed_sample_sizes_match_scipy_problem_by_problem():
    # the likelihood and the predictions are computed once per distinct (c, n) pair; with
    # repeated pairs and mixed sample sizes they must equal the problem-by-problem sums
    from ds3jax.population._posterior import grid_posterior

    r = np.random.default_rng(5)
    n = r.choice([40.0, 100.0, 1000.0], 70)
    c = r.binomial(n.astype(int), r.beta(0.5, 6.0, 70)).astype(float)
    post = grid_posterior("beta", c, n)
    th = np.asarray(post.thetas)
    a, b = np.exp(th[:, 1]) / (1 + np.exp(-th[:, 0])), np.exp(th[:, 1]) / (1 + np.exp(th[:, 0]))
    ll = scipy.stats.betabinom.logpmf(c[None, :], n[None, :], a[:, None], b[:, None])
    live = np.isfinite(np.asarray(post.logw))
    d = np.asarray(post.logw)[live] - ll[live].sum(1)
    np.testing.assert_allclose(d, d[0], atol=1e-9)
    # per-problem log-likelihoods (used to resample problems) up to each problem's constant
    lc = (
        scipy.special.gammaln(n + 1)
        - scipy.special.gammaln(c + 1)
        - scipy.special.gammaln(n - c + 1)
    )
    np.testing.assert_allclose(np.asarray(post.loglik)[live] + lc, ll[live], atol=1e-8)
    fit = P.fit_passk_counts(c, n, method="beta", n_boot=0)
    w = np.exp(np.asarray(post.logw))
    for k in (10.0, 1e4):
        f = n - c
        bl = scipy.special.betaln
        r_k = np.exp(bl(a[:, None] + c, b[:, None] + f + k) - bl(a[:, None] + c, b[:, None] + f))
        ref = float(w @ np.mean(1.0 - r_k, axis=1))
        # (support points below 1e-7 of the heaviest weight are left out of the prediction)
        assert float(fit.passk(k)) == pytest.approx(ref, rel=1e-6)


def test_problems_sampled_beyond_a_billion_times_fit_and_follow_their_counts():
    # the held-out splits thin each problem's samples; numpy's hypergeometric sampler stops
    # below 1e9, which used to end the fit with numpy's own error
    r = np.random.default_rng(2)
    n = np.full(24, 3e9)
    c = r.binomial(n.astype(np.int64), r.uniform(2e-7, 2e-6, 24)).astype(float)
    fit = P.fit_passk_counts(c, n, method="auto", n_boot=0)
    assert all(np.isfinite(v) for v in fit.scores.values())
    # hundreds of correct samples per problem: each posterior sits on its own rate, so
    # pass@k within the data is the unbiased estimate's
    for k in (1e5, 1e6):
        ref = float(np.mean(P.passk_from_counts(c, n, k)))
        assert float(fit.passk(k)) == pytest.approx(ref, rel=0.02)


def test_every_grid_family_made_of_a_base_and_a_mass_declares_its_split():
    # the split likelihood is used only for families that declare one; a mass family without
    # it would silently take the slow path, one with a wrong one fails the test below
    from ds3jax.population._count_models import FAMILIES
    from ds3jax.population._posterior import GRID_AXES

    with_mass = {nm for nm in GRID_AXES if FAMILIES[nm].mass_axes}
    assert with_mass == {nm for nm in GRID_AXES if FAMILIES[nm].split}
    assert with_mass == {"beta+zero", "beta+one", "logit-normal+zero"}


@pytest.mark.parametrize("name", ["beta+zero", "beta+one", "logit-normal+zero"])
def test_mass_families_split_likelihood_equals_the_populations_own(name):
    # the mass families' grid likelihood is computed from the base family's on the base grid
    # alone; it must equal log_moment of the family's population at every grid point,
    # including unsolved (c = 0) and always-solved (c = n) problems and n up to 1e6
    import jax.numpy as jnp

    from ds3jax.population._posterior import GRID_AXES, _grid_loglik, _loglik_matrix, _mesh

    r = np.random.default_rng(0)
    n = r.choice([50.0, 100.0, 1e6], 40)
    c = r.binomial(n.astype(int), r.beta(0.5, 5.0, 40)).astype(float)
    c[:3], c[3] = 0.0, n[3]
    box = np.array(GRID_AXES[name])
    lo, hi, npts = box[:, 0], box[:, 1], box[:, 2].astype(int)
    c, f = jnp.asarray(c), jnp.asarray(n - c)
    split = np.asarray(_grid_loglik(name, lo, hi, npts, c, f, jnp.float64))
    direct = np.asarray(_loglik_matrix(name, jnp.asarray(_mesh(lo, hi, npts)), c, f))
    live = np.isfinite(direct)
    assert np.array_equal(np.isfinite(split), live)
    np.testing.assert_allclose(split[live], direct[live], rtol=1e-12, atol=1e-12)


def test_three_parameter_posterior_matches_brute_force_quadrature():
    # Beta + zero mass on data with half the problems unsolvable: the zero mass and a thin
    # tail trade off, so the posterior is broad along A.  Reference: the same prior (flat in
    # log alpha, log beta on their box, uniform in A) on a 150 x 150 x 80 grid of the mean
    # logit, log concentration and logit A in numpy with scipy's betaln: posterior means of A
    # and of the problems' pass@1e4.
    from ds3jax.population._posterior import GRID_AXES

    r = np.random.default_rng(11)
    psi = np.where(r.random(200) < 0.5, r.beta(0.5, 3.0, 200), 0.0)
    c = r.binomial(100, psi).astype(float)
    box = np.array(GRID_AXES["beta+zero"])
    m, s, t = np.meshgrid(
        *(np.linspace(b[0], b[1], k) for b, k in zip(box, (150, 150, 80))), indexing="ij"
    )
    a, b, A = np.exp(s) / (1 + np.exp(-m)), np.exp(s) / (1 + np.exp(m)), 1 / (1 + np.exp(-t))
    vals, cnt = np.unique(c, return_counts=True)
    lbab = scipy.special.betaln(a, b)
    # the prior: uniform in A, flat in (m, s) where alpha in [5e-3, 50], beta in [0.05, 1e8]
    inside = (a >= 5e-3) & (a <= 50.0) & (b >= 0.05) & (b <= 1e8)
    ll = np.where(inside, np.log(A) + np.log1p(-A), -np.inf)
    pred = np.zeros_like(a)
    for v, k in zip(vals, cnt):
        l0 = scipy.special.betaln(a + v, b + 100 - v) - lbab
        l1 = scipy.special.betaln(a + v, b + 100 - v + 1e4) - lbab
        if v > 0:
            ll = ll + k * (np.log(A) + l0)
            pred += k * -np.expm1(l1 - l0)
        else:
            d0 = np.logaddexp(np.log1p(-A), np.log(A) + l0)
            ll = ll + k * d0
            pred += k * -np.expm1(np.logaddexp(np.log1p(-A), np.log(A) + l1) - d0)
    w = np.exp(ll - ll.max())
    w /= w.sum()
    fit = P.fit_passk_counts(c, 100, method="beta+zero", n_boot=0)
    post = fit._route.posts["beta+zero"]
    wg = np.exp(np.asarray(post.logw))
    A_ours = wg @ (1 / (1 + np.exp(-np.asarray(post.thetas)[:, 2])))
    assert A_ours == pytest.approx(float((w * A).sum()), abs=0.01)
    assert float(fit.passk(1e4)) == pytest.approx(float((w * pred).sum()) / c.size, abs=0.005)


@pytest.mark.parametrize(
    "methods",
    [
        ("beta+one", "logit-normal", "grid", "mle", "power_law"),
        # the mixture's multi-start Newton takes ~50 s to compile on a 2-core CPU
        pytest.param(("beta-mixture", "logit-normal+zero"), marks=pytest.mark.slow),
    ],
)
def test_every_route_predicts_with_intervals(methods):
    r = np.random.default_rng(4)
    c = r.binomial(100, r.beta(0.4, 12.0, 96))
    for method in methods:
        fit = P.fit_passk_counts(c, 100, method=method, n_boot=60)
        y = fit.passk([1e3, 1e4, 1e6])
        lo, hi = fit.passk_interval([1e3, 1e4, 1e6])
        assert np.all(np.isfinite(y)) and np.all((0 <= y) & (y <= 1)), method
        assert np.all(lo <= hi) and np.all(np.diff(y) >= -1e-12), method
        assert fit.passk_replicates(1e4).shape == (60,), method


def test_float32_fits_stay_finite():
    import jax

    r = np.random.default_rng(5)
    c = r.binomial(100, r.beta(0.4, 12.0, 64))
    with jax.enable_x64(False):
        fit = P.fit_passk_counts(c, 100, method="beta+zero", n_boot=50)
        y = fit.passk([1e3, 1e4])
        lo, hi = fit.passk_interval([1e3, 1e4])
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))


def test_curve_fit_has_result_code_and_refuses_dishonest_intervals():
    k = np.geomspace(1, 1e4, 30)
    y = np.asarray(P.passk(P.BetaPopulation(0.45, 3.0, 0.9), k))
    fit = P.fit_passk_curve(k, y)
    assert fit.result is P.RESULTS.successful
    with pytest.raises(ValueError, match="not independent"):
        fit.passk_interval(1e4)


def test_cli_png_axes_fit_data_and_curve_extends_to_1e4(tmp_path, capsys):
    # issue 16.6
    c, _ = _counts(5, problems=64, n=50, a=0.3, b=6.0, A=0.6)
    path = tmp_path / "c.csv"
    path.write_text(
        "problem,correct,samples\n" + "".join(f"p{i},{v},50\n" for i, v in enumerate(c))
    )
    out = tmp_path / "o"
    # (the families alone: on these data their band stays below 0.9, so an axis stretched
    # to [0, 1] would show; the default's power-law half climbs towards 1 by k = 1e6)
    rc = main(["fit", str(path), "--out", str(out), "--method", "auto"])
    capsys.readouterr()
    assert rc == 0
    res = json.loads((out / "c_fit.json").read_text())
    assert max(res["fitted"]["k"]) >= 1e4
    assert res["fitted"]["low90"] is not None
    from experiments._cli_fit import _figure

    kd, yd = np.asarray(res["data"]["k"]), np.asarray(res["data"]["passk"])
    km, ym = np.asarray(res["fitted"]["k"]), np.asarray(res["fitted"]["passk"])
    band = (np.asarray(res["fitted"]["low90"]), np.asarray(res["fitted"]["high90"]))
    _, fig = _figure("t", kd, yd, km, ym, np.zeros_like(kd), "d", band=band)
    ax = fig.axes[0]
    ylo, yhi = ax.get_ylim()
    top = max(yd.max(), ym.max(), band[1].max())
    assert yhi <= top + 0.1 * (top - yd.min()) + 1e-3 and yhi < 0.99
    assert ax.get_xlim()[1] >= 1e4
    # the legend lies below the axes, clear of every data point
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    leg = fig.legends[0].get_window_extent()
    pts = ax.transData.transform(np.column_stack([kd, yd]))
    inside = (
        (pts[:, 0] >= leg.x0)
        & (pts[:, 0] <= leg.x1)
        & (pts[:, 1] >= leg.y0)
        & (pts[:, 1] <= leg.y1)
    )
    assert not inside.any()


# ----------------------------------------------------------------------------- the default


def _lean(c, n=100):
    # hand-derived: with up to 100 samples per problem (median), 1/2 up to 10% of the
    # problems solved, 1 from 30%, linear between; from 1,000 samples 1/2; between, the
    # solved part scaled by log10(1000 / m)
    s, m = np.mean(np.asarray(c) > 0), np.median(n)
    part = 0.0 if s <= 0.1 else 1.0 if s >= 0.3 else (s - 0.1) / 0.2
    scale = 1.0 if m <= 100 else 0.0 if m >= 1000 else np.log10(1000 / m)
    return 0.5 + 0.5 * part * scale


def _law_weight(n, k, lean=0.5):
    # hand-derived: the lean times the mean over problems of the share of k samples beyond n_i
    n = np.asarray(n, float)
    return np.array([lean * np.mean(np.maximum(0.0, 1.0 - n / kk)) for kk in np.atleast_1d(k)])


def test_default_is_the_ensemble_of_the_families_and_the_power_law():
    c, _ = _counts(21, problems=96)
    ks = np.array([10.0, 100.0, 1e3, 1e4, 1e6])
    fit = P.fit_passk_counts(c, 100, n_boot=200, seed=3)
    pop = P.fit_passk_counts(c, 100, method="auto", n_boot=200, seed=3)
    law = P.fit_passk_counts(c, 100, method="power_law", n_boot=200, seed=3)
    assert fit.method == "ensemble" and fit.family == pop.family
    lean = _lean(c)
    w = _law_weight(np.full(c.size, 100), ks, lean)
    np.testing.assert_allclose(fit.power_law_weight(ks), w, rtol=1e-12)
    assert np.all(w[:2] == 0) and w[-1] == pytest.approx(lean, abs=1e-4)
    ref = (1 - w) * pop.passk(ks) + w * law.passk(ks)
    np.testing.assert_allclose(fit.passk(ks), ref, rtol=1e-12)
    ref = (1 - w) * pop.population_passk(ks) + w * law.population_passk(ks)
    np.testing.assert_allclose(fit.population_passk(ks), ref, rtol=1e-12)
    assert fit.weights["power_law"] == pytest.approx(lean)
    assert sum(fit.weights.values()) == pytest.approx(1.0)
    for f in pop.weights:
        assert fit.weights[f] == pytest.approx((1 - lean) * pop.weights[f])
    assert "power law" in fit.why and pop.why in fit.why
    assert fit.params == pop.params and fit.identified == pop.identified
    # replicate b is the population's or the power law's replicate b (a mixture of the two
    # laws, even whatever the lean): inside the data always the population's, far out
    # about half of each, and a replicate that takes the power law at 1e3 takes it at 1e4
    # too (w grows with k)
    R, Ra, Rl = (f.passk_replicates(ks) for f in (fit, pop, law))
    from_pop, from_law = np.isclose(R, Ra, rtol=0, atol=0), np.isclose(R, Rl, rtol=0, atol=0)
    assert np.all(from_pop | from_law)
    assert np.all(from_pop[:, :2])
    only_law = from_law & ~from_pop
    assert np.all(only_law[:, 2] <= from_law[:, 3])
    assert abs(only_law[:, 4].mean() - 0.5) < 0.15
    lo, hi = fit.passk_interval(ks)
    assert np.all(lo <= fit.passk(ks) + 1e-9) and np.all(fit.passk(ks) <= hi + 1e-9)


@pytest.mark.parametrize(
    "solved, n, lean",
    [
        (6, 100, 0.5),
        (12, 100, 0.5),
        (24, 100, 0.75),
        (30, 100, 0.875),
        (60, 100, 1.0),
        (60, 40, 1.0),
        (60, 1000, 0.5),
        (60, 5000, 0.5),
        (60, 316, 0.5 + 0.5 * np.log10(1000 / 316)),
    ],
)
def test_ensemble_leans_on_the_power_law_as_more_problems_are_solved(solved, n, lean):
    # 120 problems, ``solved`` of them with a correct sample in n samples each: the power
    # law's far-out weight in the point forecast (hand values, see _lean), while the
    # replicates stay the even mixture of the two routes'
    r = np.random.default_rng(solved)
    c = np.zeros(120, int)
    c[:solved] = 1 + r.binomial(n - 1, r.beta(0.5, 6.0, solved))
    assert _lean(c, n) == pytest.approx(lean, abs=1e-12)
    ks = np.array([n / 2, 10.0 * n, 1e3 * n])
    fit, pop, law = (
        P.fit_passk_counts(c, n, method=m, n_boot=200, seed=5)
        for m in ("ensemble", "auto", "power_law")
    )
    assert fit.weights["power_law"] == pytest.approx(lean, abs=1e-12)
    w = _law_weight(np.full(c.size, n), ks, lean)
    np.testing.assert_allclose(fit.power_law_weight(ks), w, rtol=1e-12)
    np.testing.assert_allclose(
        fit.passk(ks), (1 - w) * pop.passk(ks) + w * law.passk(ks), rtol=1e-12
    )
    R, Ra, Rl = (f.passk_replicates(ks) for f in (fit, pop, law))
    took_law = np.isclose(R, Rl, rtol=0, atol=0) & ~np.isclose(R, Ra, rtol=0, atol=0)
    assert not took_law[:, 0].any() and abs(took_law[:, 2].mean() - 0.5) < 0.12
    assert f"{lean:.2f} far beyond" in fit.why
    lo, hi = fit.passk_interval(ks)
    assert np.all(lo <= fit.passk(ks) + 1e-9) and np.all(fit.passk(ks) <= hi + 1e-9)


def test_ensemble_replicate_falls_back_to_the_families_where_the_power_law_cannot_fit():
    # 4 of 60 problems solved: some resamples hold fewer than two solved problems' worth of
    # curve and the power law cannot be refitted; the ensemble's replicate there is the
    # families' (as the route itself is on such data), not a NaN that drops it
    c = np.zeros(60, int)
    c[:4] = [1, 1, 2, 5]
    ks = np.array([1e3, 1e4, 1e6])
    R, Ra, Rl = (
        P.fit_passk_counts(c, 100, method=m, n_boot=400, seed=4).passk_replicates(ks)
        for m in ("ensemble", "auto", "power_law")
    )
    failed = ~np.isfinite(Rl)
    assert failed[:, 0].any()
    assert np.all(np.isfinite(R))
    np.testing.assert_array_equal(R[failed], Ra[failed])


def test_ensemble_interval_is_monotone_in_k_and_only_tightens():
    # 40% unsolvable problems: the power law's replicates, which the ensemble's take over as
    # w(k) grows, run apart from the families', so the plain quantiles of its replicates
    # dip as k grows, which pass@k cannot
    r = np.random.default_rng(1)
    c = r.binomial(100, np.where(r.random(128) < 0.6, r.beta(0.4, 20, 128), 0))
    fit = P.fit_passk_counts(c, 100, n_boot=200, seed=1)
    ks = np.geomspace(30, 1e5, 128)  # where w(k) moves, densely enough to catch the dip
    reps = fit.passk_replicates(ks)
    raw_lo, raw_hi = np.quantile(reps, 0.05, axis=0), np.quantile(reps, 0.95, axis=0)
    assert np.diff(raw_lo).min() < -1e-3 and np.diff(raw_hi).min() < -1e-3  # the dip
    lo, hi = fit.passk_interval(ks)
    assert np.all(np.diff(lo) >= 0) and np.all(np.diff(hi) >= 0)
    # a bound at k' <= k (low) or k' >= k (high) is a bound at k: only tighter than the raw
    assert np.all(lo >= raw_lo - 1e-12) and np.all(hi <= raw_hi + 1e-12)
    assert np.all(lo <= fit.passk(ks) + 1e-9) and np.all(fit.passk(ks) <= hi + 1e-9)
    # asked alone, k's interval is the raw one tightened by the fixed grid; asked with other
    # k it can only tighten further
    for k in (150.0, 2e3, 3e5):
        one = fit.passk_interval(k)
        more = fit.passk_interval(np.array([k / 2, k, 2 * k]))
        assert more[0][1] >= one[0] and more[1][1] <= one[1]
        assert one[0] <= fit.passk(k) <= one[1]
    # a single-model route's replicates are monotone curves: its interval is the plain one
    law = P.fit_passk_counts(c, 100, method="auto", n_boot=200, seed=1)
    reps = law.passk_replicates(ks)
    lo, hi = law.passk_interval(ks)
    np.testing.assert_allclose(lo, np.quantile(reps, 0.05, axis=0), rtol=1e-12)
    np.testing.assert_allclose(hi, np.quantile(reps, 0.95, axis=0), rtol=1e-12)


@pytest.mark.parametrize("k", [np.nan, -1.0, [10.0, -5.0]])
def test_counts_fit_refuses_a_k_that_is_not_a_number_of_samples(k):
    fit = P.fit_passk_counts(np.array([1, 0, 3, 0, 5, 2, 0, 1] * 4), 100, n_boot=50)
    for f in (fit.passk, fit.population_passk, fit.passk_replicates, fit.passk_interval):
        with pytest.raises(ValueError, match="k must be >= 0"):
            f(k)


def test_ensemble_weight_with_mixed_sample_sizes_and_without_a_power_law():
    r = np.random.default_rng(8)
    n = np.where(np.arange(80) < 40, 50, 500)
    c = r.binomial(n, r.beta(0.5, 8.0, 80))
    fit = P.fit_passk_counts(c, n, n_boot=0)
    ks = np.array([50.0, 100.0, 500.0, 5e3])
    # at k = 100 only the 40 problems with 50 samples extrapolate, by half: w = 1/8
    lean = _lean(c, n)
    np.testing.assert_allclose(fit.power_law_weight(ks), _law_weight(n, ks, lean), rtol=1e-12)
    assert fit.power_law_weight(100.0) == pytest.approx(0.25 * lean)
    # one sample per problem: the unbiased curve has a single point, no power law: the
    # families alone, and the result says why
    c1 = r.binomial(1, 0.3, 60)
    fit = P.fit_passk_counts(c1, 1, n_boot=50, seed=2)
    pop = P.fit_passk_counts(c1, 1, method="auto", n_boot=50, seed=2)
    assert fit.method == "ensemble" and "power law is left out" in fit.why
    np.testing.assert_allclose(fit.passk([10.0, 1e4]), pop.passk([10.0, 1e4]), rtol=1e-12)
    assert np.all(fit.power_law_weight([10.0, 1e4]) == 0)


def test_forecast_benchmarks_run_end_to_end(capsys, tmp_path):
    # the hand-run benchmarks behind the README's tables, at a toy size: they run, and every
    # row they print holds a finite error and a coverage that is a fraction
    import re

    from benchmarks import bench_passk_forecast, bench_passk_synthetic

    bench_passk_synthetic.main(
        ["--sets", "2", "--n-boot", "50", "--routes", "power_law", "--problems", "48"]
    )
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "`power_law`" in ln]
    assert len(rows) == len(bench_passk_synthetic.POPULATIONS)
    # the populations read off the paper's curves, with the known-population floor
    bench_passk_synthetic.main(
        ["--curves", "--sets", "1", "--n-boot", "20", "--routes", "power_law", "--problems", "48"]
    )
    out = capsys.readouterr().out
    known = [ln for ln in out.splitlines() if "| population known |" in ln]
    assert len(known) == len(bench_passk_synthetic.CURVES)
    for ln in known:
        err = [float(x) for x in ln.split("|")[3].split("/")]
        assert all(0 <= x < 0.5 for x in err), ln
    # weaker-model versions of the curves: log-odds lowered by hand, 0 and 1 kept; no floor
    psi = np.array([0.0, 1e-7, 0.01, 0.5, 0.99, 1.0])
    e = np.exp(-2.0)
    np.testing.assert_allclose(
        bench_passk_synthetic.weaker(psi, 2.0), psi * e / (1 - psi + psi * e), rtol=1e-12
    )
    bench_passk_synthetic.main(
        ["--curves", "--weaker", "2", "--sets", "1", "--n-boot", "20", "--routes", "power_law"]
    )
    out = capsys.readouterr().out
    assert "log-odds lowered by 2" in out.splitlines()[0] and "population known" not in out
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "`power_law`" in ln]
    assert len(rows) == len(bench_passk_synthetic.CURVES)
    # scored against pass@k as a benchmark measures it (the unbiased estimate from 10,000
    # samples per problem, passk_from_counts, tested in test_population_passk)
    args = "--curves --only gemma --measured 10000 --sets 1 --n-boot 20 --routes power_law"
    bench_passk_synthetic.main(args.split())
    out = capsys.readouterr().out
    assert "the estimate from 10,000 samples per problem" in out.splitlines()[0]
    rows = [ln for ln in out.splitlines() if ln.startswith("| ") and "`power_law`" in ln]
    assert len(rows) == 1 and "gemma2B" in rows[0]
    assert re.search(r"`power_law` against the exact pass@k: coverage \d+% / \d+%", out)
    with pytest.raises(SystemExit):
        bench_passk_synthetic.main(["--curves", "--only", "no such curve"])
    assert capsys.readouterr().out == ""  # the error comes before any table
    # --seed0: the default's sets are seed 7000 + s; another seed0 draws other sets
    toy = "--curves --only gemma --sets 1 --n-boot 20 --routes power_law --problems 48".split()
    tables = []
    for extra in ([], ["--seed0", "7000"], ["--seed0", "9000"]):
        bench_passk_synthetic.main(toy + extra)
        tables.append([ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| ")])
    assert tables[0] == tables[1] and tables[0] != tables[2]
    bench_passk_forecast.main(
        ["--adaptive", "0.1", "--seeds", "1", "--n-boot", "50", "--routes", "power_law"]
    )
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("| `power_law`"))
    fits, mae, _, cov = (x.strip() for x in row.strip("|").split("|")[1:])
    assert int(fits) > 10 and 0 <= float(mae) < 0.5
    assert re.fullmatch(r"\d+%", cov) and 0 <= int(cov[:-1]) <= 100
    # a file of the user's own, without model or checkpoint columns, is one data set
    rng = np.random.default_rng(5)
    psi = rng.beta(0.4, 8.0, 40)
    own = tmp_path / "own.csv"
    own.write_text(
        "problem,correct,samples\n"
        + "".join(f"q{i},{c},20000\n" for i, c in enumerate(rng.binomial(20000, psi)))
    )
    bench_passk_forecast.main(
        ["--data", str(own), "--seeds", "3", "--n-boot", "50", "--routes", "power_law"]
    )
    out = capsys.readouterr().out
    assert out.startswith("1 data set, m = 100 samples per problem, 3 seeds; 0 subsamples")
    row = next(ln for ln in out.splitlines() if ln.startswith("| `power_law`"))
    assert 0 <= float(row.split("|")[2]) < 0.5
    # the table by measured pass@1e4: one data set is one group, holding the same numbers
    group = [ln for ln in out.splitlines() if re.match(r"\| (>= 0.6|0.3-0.6|below 0.3) \|", ln)]
    assert len(group) == 1 and group[0].split("|")[2].strip() == "1 (3)"
    cell = group[0].split("|")[3]
    errs = [c.strip() for c in row.split("|")[2:4]]
    assert cell.strip().startswith(f"{errs[0]} / {errs[1]} (")
    # a file too lightly sampled to score pass@1e4 is said, with what to use instead
    few = tmp_path / "few.csv"
    few.write_text("problem,correct,samples\n" + "".join(f"q{i},3,1000\n" for i in range(40)))
    with pytest.raises(SystemExit, match="ds3jax backtest"):
        bench_passk_forecast.main(["--data", str(few), "--seeds", "1", "--routes", "power_law"])
    # the assumption-free bounds' benchmark, on the same file and one synthetic set each
    from benchmarks import bench_passk_bounds

    bench_passk_bounds.main(["--data", str(own), "--seeds", "2", "--sets", "1", "--n-boot", "0"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + len(bench_passk_synthetic.POPULATIONS)
    for ln in lines:
        widths = [float(w) for w in re.findall(r"width (\d\.\d+)", ln)]
        assert len(widths) == 3 and all(0 <= w <= 1 for w in widths), ln


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bayesbag_draws_ignore_problems_a_replicate_left_out(dtype):
    # support point 0 cannot produce problem 1; point 1 can. A replicate draws 2P = 4 problems:
    # with probability 1/16 all are problem 0, and then both points are equally likely, so
    # point 0 is drawn in 1/32 of the replicates. (A log-likelihood of -inf times the weight 0
    # of an undrawn problem must not turn into NaN: in float32 it did, and doubled that share.)
    import jax
    import jax.numpy as jnp

    from ds3jax.population._posterior import grid_replicates

    L = jnp.asarray([[0.0, -np.inf], [0.0, -50.0]], dtype)
    zero = jnp.zeros(2, dtype)
    n = 40_000
    idx = np.asarray(grid_replicates(jax.random.key(0), L, zero, zero, n_boot=n, resample=True))
    share = (idx == 0).mean()
    assert abs(share - 1 / 32) < 4 * np.sqrt(1 / 32 * (31 / 32) / n)


def test_padding_k_to_a_power_of_two_changes_no_prediction():
    # the k asked for are padded (with the last k) before they reach the routes, so that few
    # lengths compile; every prediction at k must be the one asked for k alone
    r = np.random.default_rng(4)
    c = r.binomial(100, np.where(r.random(64) < 0.7, r.beta(0.5, 10, 64), 0))
    fit = P.fit_passk_counts(c, 100, n_boot=50, seed=0)
    ks = np.array([[3.0, 50.0, 400.0], [2e3, 1e4, np.inf]])
    one = np.array([[float(fit.passk(k)) for k in row] for row in ks])
    np.testing.assert_allclose(fit.passk(ks), one, rtol=1e-12)
    pop = np.array([[float(fit.population_passk(k)) for k in row] for row in ks])
    np.testing.assert_allclose(fit.population_passk(ks), pop, rtol=1e-12)
    reps = fit.passk_replicates(ks)
    assert reps.shape == (50, 2, 3)
    np.testing.assert_allclose(reps[:, 1, 1], fit.passk_replicates(1e4), rtol=1e-12)
    assert fit.passk([]).shape == (0,) and fit.passk_replicates([]).shape == (50, 0)


def test_curve_benchmark_populations_follow_the_measured_curves():
    # bench_passk_synthetic --curves draws problems from populations fitted to the paper's
    # measured pass@k curves; the drawn success rates' exact pass@k (Monte Carlo over
    # 200,000 problems) must follow each digitised curve, at every point to 1e4, within the
    # fit's error plus 4 Monte Carlo standard errors
    from benchmarks import bench_passk_synthetic as B

    for name in B.CURVES:
        curve, fit, draw = B.curve_population(name)
        assert curve.k.max() > 9e3  # digitised to ~1e4
        psi = draw(np.random.default_rng(3), 200_000)
        assert psi.min() >= 0 and psi.max() <= 1
        solved = -np.expm1(curve.k[:, None] * np.log1p(-psi)[None, :])
        mc, se = solved.mean(1), solved.std(1) / np.sqrt(psi.size)
        np.testing.assert_array_less(np.abs(mc - curve.y), fit.max_abs_error + 4 * se + 1e-9)
        # and the mass at psi = 0 is the fit's
        zero = float(fit.population.weights[-1])
        assert abs(np.mean(psi == 0) - zero) < 4 * np.sqrt(zero * (1 - zero) / psi.size) + 1e-9
    # the known-population predictor is each problem's Beta posterior for a Beta population
    # (SciPy's log-beta)
    pop = P.BetaPopulation(0.3, 20.0)
    c = np.array([0, 0, 1, 4, 30])
    k = np.array([1e3, 1e4])
    post = 1 - np.exp(
        scipy.special.betaln(0.3 + c[:, None], 20.0 + 100 - c[:, None] + k)
        - scipy.special.betaln(0.3 + c[:, None], 20.0 + 100 - c[:, None])
    )
    np.testing.assert_allclose(B.oracle_passk(pop, c, 100, k), post.mean(0), rtol=1e-10)


def test_passk_components_are_the_parts_the_forecast_averages():
    # each family's part is what that family's own route forecasts (a separate fit), and
    # passk is their held-out-weighted average, then mixed with the power law by w(k)
    rng = np.random.default_rng(31)
    c = rng.binomial(100, rng.beta(0.3, 25.0, 96))
    k = np.array([[3.0, 100.0], [1e3, 1e5]])
    single = {
        nm: P.fit_passk_counts(c, 100, method=nm, n_boot=0, seed=4).passk(k)
        for nm in (*P.AUTO_FAMILIES, "power_law")
    }
    auto = P.fit_passk_counts(c, 100, method="auto", n_boot=0, seed=4)
    parts = auto.passk_components(k)
    assert set(parts) == set(P.AUTO_FAMILIES)
    for nm, v in parts.items():
        assert v.shape == k.shape
        np.testing.assert_allclose(v, single[nm], rtol=1e-10)
    mix = sum(auto.weights[nm] * parts[nm] for nm in parts)
    np.testing.assert_allclose(mix, auto.passk(k), rtol=1e-10)

    ens = P.fit_passk_counts(c, 100, n_boot=0, seed=4)
    parts = ens.passk_components(k)
    assert set(parts) == {*P.AUTO_FAMILIES, "power_law"}
    for nm, v in parts.items():
        np.testing.assert_allclose(v, single[nm], rtol=1e-10)
    s = np.array([ens.scores[nm] for nm in P.AUTO_FAMILIES])
    a = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    np.testing.assert_allclose([ens.family_weights[nm] for nm in P.AUTO_FAMILIES], a, rtol=1e-12)
    assert auto.family_weights == auto.weights
    fams = sum(ai * parts[nm] for ai, nm in zip(a, P.AUTO_FAMILIES))
    w = ens.power_law_weight(k)
    assert np.all(w[k <= 100] == 0) and np.all(w[k > 100] > 0)  # within the data: families
    np.testing.assert_allclose((1 - w) * fams + w * parts["power_law"], ens.passk(k), rtol=1e-10)

    one = P.fit_passk_counts(c, 100, method="beta", n_boot=0, seed=4)
    parts = one.passk_components(k)
    assert list(parts) == ["beta"] and one.family_weights == {"beta": 1.0}
    np.testing.assert_array_equal(parts["beta"], one.passk(k))


def test_make_counts_and_thinning_checks():
    # 12345678901234567890123 samples wrapped to -2**63 in int64 (a NumPy warning only)
    with pytest.raises(ValueError, match="beyond 2\\*\\*53"):
        P.make_counts([1], [12345678901234567890123])
    with pytest.raises(ValueError, match="2 problem ids for 1 counts"):
        P.make_counts([1], [3], problem=["a", "b"])
    with pytest.raises(ValueError, match="appears more than once"):
        P.make_counts([1, 2], [3, 3], problem=["a", "a"])
    with pytest.raises(ValueError, match="1-D"):
        P.make_counts([[1, 2]], [[3, 3]])
    # align_count_groups made up a count for problem 'b' from a mismatched id list
    with pytest.raises(ValueError, match="problem ids"):
        P.align_count_groups(
            {"x": P.make_counts([1], [3], problem=["a", "b"]), "y": P.make_counts([1], [3])}
        )
    with pytest.raises(ValueError, match="below 2\\*\\*62"):
        P.thin_counts(1, 1e19, 5)
