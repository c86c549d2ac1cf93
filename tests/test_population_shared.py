"""fit_passk_shared: shared problem difficulty across data sets (independent references:
scipy quadrature, the exact pass@k of known success rates, hand-built failures)."""

import re

import jax
import numpy as np
import pytest
from scipy import integrate, special, stats

import ds3jax.population as P
from ds3jax.population import _shared as S

jax.config.update("jax_enable_x64", True)

KS = np.array([1e3, 1e4])


def _quad_bin(c, f, lo, hi):
    # int psi^c (1 - psi)^f dx over [lo, hi], x = logit psi, by adaptive quadrature
    g = lambda x: np.exp(-c * np.logaddexp(0, -x) - f * np.logaddexp(0, x))  # noqa: E731
    return integrate.quad(g, lo, hi, epsabs=0, epsrel=1e-11, limit=200)[0]


@pytest.mark.parametrize("c,f", [(0, 100), (3, 97), (1, 10_000), (500, 500), (99, 1)])
def test_bin_mass_matches_quadrature(c, f):
    lm = S._bin_logmass(np.array(c), np.array(f))
    # the bins holding most of the mass, where the integrand can be sharply peaked
    for j in np.argsort(lm)[-3:]:
        ref = _quad_bin(c, f, S._X[j] - S._H / 2, S._X[j] + S._H / 2)
        tol = 1e-6 if c and f else 2e-3  # midpoint rule where c or f is 0
        assert np.exp(lm[j]) == pytest.approx(ref, rel=tol)


@pytest.mark.parametrize(
    "c,n,mu,tau", [(0, 100, -6.0, 0.5), (4, 100, -3.0, 1.0), (30_000, 1_000_000, -3.5, 0.3)]
)
def test_cell_likelihood_matches_quadrature(c, n, mu, tau):
    # int x^c (1-x)^(n-c) N(logit x; mu, tau^2) dlogit x, the grid's value against quad
    import jax.numpy as jnp

    lm = jnp.asarray(S._bin_logmass(np.array([[c]]), np.array([[n - c]])))
    d = S._D[20]
    par = S.SharedDifficulty(jnp.array([mu + d]), jnp.log(tau - 0.3 + 1e-300), jnp.zeros(S._D.size))
    lk = S._log_kernel(par, 0.3)
    cell = float(S._cell_loglik(lm, lk, jnp.array([[True]]))[0, 0, 20])
    peak = np.log(c / n) - np.log1p(-c / n) if 0 < c < n else mu
    lo, hi = min(peak, mu) - 12, max(peak, mu) + 12

    def g(x):
        ll = -c * np.logaddexp(0, -x) - (n - c) * np.logaddexp(0, x)
        return np.exp(ll - cell) * stats.norm.pdf(x, mu, tau)

    ref = integrate.quad(g, lo, hi, points=[peak, mu], epsabs=0, epsrel=1e-10, limit=400)[0]
    # the kernel is read at bin centres: exact to O((h / tau)^2) where the likelihood is
    # broad; where it is a spike (a million samples) off by up to h |x - mu| / tau^2
    assert ref == pytest.approx(1.0, rel=0.02 if n <= 1000 else 0.08)


def _rasch(seed, P_=96, levels=(-2.0, -1.0, 0.0), tau=0.6, m=100):
    rng = np.random.default_rng(seed)
    d = rng.normal(4.0, 2.5, P_)
    x = np.array(levels)[None] - d[:, None] + tau * rng.standard_normal((P_, len(levels)))
    psi = special.expit(x)
    return psi, rng.binomial(m, psi), np.full(psi.shape, m)


@pytest.fixture(scope="module")
def rasch_fit():
    psi, c, n = _rasch(3)
    return psi, c, n, P.fit_passk_shared(c, n, names=["small", "mid", "large"], n_boot=300)


def test_recovers_levels_and_forecasts(rasch_fit):
    psi, c, n, fit = rasch_fit
    assert fit.converged
    lv = np.array([fit.levels[k] for k in ("small", "mid", "large")])
    np.testing.assert_allclose(lv - lv[-1], [-2.0, -1.0, 0.0], atol=0.35)
    assert 0.3 <= fit.tau <= 1.2
    for j, name in enumerate(fit.names):
        exact = (1 - (1 - psi[:, j, None]) ** KS).mean(0)
        np.testing.assert_allclose(fit.passk(name, KS), exact, atol=0.06)


def test_problem_posterior_matches_brute_force(rasch_fit):
    # one problem's pass@k recomputed from the fitted parameters by quadrature over x and a
    # sum over the difficulty grid, independent of the grid likelihood
    psi, c, n, fit = rasch_fit
    i, m = int(np.argmin(c[:, 2] + 100 * (c.sum(1) == 0))), 2  # a rarely solved problem
    th = np.asarray(fit.params.theta)
    g = np.exp(np.asarray(fit.params.log_g))
    tau = [fit.tau] * 3

    def cell(j, d, extra=0.0):
        cc, nn = c[i, j], n[i, j]

        def h(x):
            ll = -cc * np.logaddexp(0, -x) - (nn - cc + extra) * np.logaddexp(0, x)
            return np.exp(ll) * stats.norm.pdf(x, th[j] - d, tau[j])

        mu = th[j] - d
        return integrate.quad(
            h, mu - 10 * tau[j], mu + 10 * tau[j], epsabs=0, epsrel=1e-9, limit=200
        )[0]

    like = np.array([np.prod([cell(j, d) for j in range(3)]) for d in S._D]) * g
    for k in KS:
        num = np.array(
            [cell(m, d, k) * np.prod([cell(j, d) for j in range(3) if j != m]) for d in S._D]
        )
        ref = 1 - np.sum(num * g) / np.sum(like)
        got = fit.passk_problems("large", [k])[0, i]
        assert got == pytest.approx(ref, abs=2e-3)


def test_intervals_hold_the_forecast_and_the_truth_here(rasch_fit):
    psi, c, n, fit = rasch_fit
    for j, name in enumerate(fit.names):
        lo, hi = fit.passk_interval(name, KS)
        mid = fit.passk(name, KS)
        assert np.all(lo <= mid + 1e-9) and np.all(mid <= hi + 1e-9)
        assert np.all(hi - lo > 0.005) and np.all(hi - lo < 0.4)
    r = fit.passk_replicates("mid", KS)
    assert r.shape == (300, 2) and np.all((r >= 0) & (r <= 1))


def test_replicates_do_not_depend_on_the_chunk_size(rasch_fit, monkeypatch):
    # the replicates run in chunks sized by memory; 300 draws in chunks of 100 and of 7
    # (the last one filled up and cut) give the same numbers
    fit = rasch_fit[3]
    whole = fit.passk_replicates("mid", KS)
    monkeypatch.setattr(S, "_CHUNK_CELLS", 7 * len(fit.names) * S._X.size * S._D.size)
    np.testing.assert_allclose(fit.passk_replicates("mid", KS), whole, rtol=1e-12, atol=1e-15)


def test_subsets_missing_cells_and_dropped_sets():
    psi, c, n = _rasch(5, P_=64, levels=(-1.5, 0.0))
    n = n.copy()
    n[:10, 0] = 0  # the weaker data set did not run the first ten problems
    c = np.where(n > 0, c, 0)
    zero = np.zeros((64, 1), int)
    fit = P.fit_passk_shared(
        np.hstack([c, zero]),
        np.hstack([n, np.full((64, 1), 100)]),
        names=["a", "b", "none"],
        n_boot=50,
    )
    assert fit.dropped == ("none",)
    with pytest.raises(ValueError, match="no correct sample"):
        fit.passk("none", KS)
    with pytest.raises(ValueError, match="unknown data set"):
        fit.passk("zzz", KS)
    per = fit.passk_problems("a", KS)
    assert np.isnan(per[:, :10]).all() and np.isfinite(per[:, 10:]).all()
    np.testing.assert_allclose(fit.passk("a", KS), per[:, 10:].mean(1))
    np.testing.assert_allclose(
        fit.passk("b", KS, problems=[3, 7]), fit.passk_problems("b", KS)[:, [3, 7]].mean(1)
    )
    with pytest.raises(ValueError, match="did not measure"):
        fit.passk("a", KS, problems=[0, 20])


def test_bad_input_is_refused():
    c = np.array([[1, 2], [0, 3]])
    n = np.array([[10, 10], [10, 10]])
    with pytest.raises(ValueError, match="problem 1, data set 1"):
        P.fit_passk_shared(c, np.array([[10, 10], [10, 2]]))
    with pytest.raises(ValueError, match="integers"):
        P.fit_passk_shared(c + 0.5, n)
    with pytest.raises(ValueError, match="one shape"):
        P.fit_passk_shared(c, n[:1])
    with pytest.raises(ValueError, match="at least two data sets"):
        P.fit_passk_shared(np.array([[1, 0], [0, 0]]), n)
    with pytest.raises(ValueError, match="names"):
        P.fit_passk_shared(c, n, names=["a"])


def test_align_count_groups():
    a = P.make_counts([1, 0, 2], [10, 10, 10], problem=["p1", "p2", "p3"])
    b = P.make_counts([5, 1], [20, 20], problem=["p3", "p4"])
    names, problems, c, n = P.align_count_groups({"A": a, "B": b})
    assert names == ("A", "B") and problems == ("p1", "p2", "p3", "p4")
    np.testing.assert_array_equal(c, [[1, 0], [0, 0], [2, 5], [0, 1]])
    np.testing.assert_array_equal(n, [[10, 0], [10, 0], [10, 20], [0, 20]])


def test_shared_benchmark_runs_end_to_end(tmp_path, capsys):
    # the hand-run benchmark behind the README's tables, at a toy size, on a file with only a
    # model column (one pool) and on the synthetic ladder: every row holds finite errors
    from benchmarks import bench_passk_shared

    psi, _, _ = _rasch(9, P_=40, levels=(-1.0, 0.0, 0.5))
    rng = np.random.default_rng(1)
    rows = ["model,problem,correct,samples"]
    for j in range(3):
        c = rng.binomial(10_000, psi[:, j])
        rows += [f"m{j},q{i},{v},10000" for i, v in enumerate(c)]
    path = tmp_path / "models.csv"
    path.write_text("\n".join(rows) + "\n")
    bench_passk_shared.main(["--data", str(path), "--seeds", "1", "--n-boot", "20"])
    out = capsys.readouterr().out
    mean = [ln for ln in out.splitlines() if ln.startswith("| mean |")]
    assert len(mean) == 1
    cells = mean[0].split("|")[3:6]
    errs = [float(x) for cell in cells for x in cell.split("/")]
    assert all(np.isfinite(errs)) and all(0 <= e < 0.5 for e in errs), mean
    assert "%" in mean[0].split("|")[6]
    # the same pools as a route of bench_passk_forecast, beside the one-data-set routes
    from benchmarks import bench_passk_forecast

    argv = ["--data", str(path), "--seeds", "1", "--n-boot", "20"]
    bench_passk_forecast.main(argv + ["--routes", "power_law,shared"])
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("| `shared`"))
    e13, e14 = (float(x) for x in row.split("|")[2:4])
    assert 0 <= e13 < 0.5 and 0 <= e14 < 0.5 and re.search(r"\d+% / \d+%", row)
    assert "shared: 1 pooled fits (all data sets)" in out  # the file has no checkpoint column
    # pooled by model, each data set is alone in its pool: nothing to pool, said, not fatal
    bench_passk_forecast.main(argv + ["--routes", "power_law,shared", "--pool", "model"])
    out = capsys.readouterr().out
    assert "| `shared` | no fit |" in out
    assert "3 fits without a second solved data set in their pool left out" in out
    one = tmp_path / "one.csv"
    one.write_text("\n".join(ln for ln in rows if not ln.startswith(("m1", "m2"))) + "\n")
    with pytest.raises(SystemExit, match="pools several data sets"):
        bench_passk_forecast.main(["--data", str(one), "--routes", "shared"])
    with pytest.raises(SystemExit, match="unknown route"):
        bench_passk_forecast.main(argv + ["--routes", "power-law"])
    bench_passk_shared.main(["--ladder", "1.0", "--sets", "1", "--no-intervals"])
    out = capsys.readouterr().out
    rungs = [ln for ln in out.splitlines() if ln.startswith("| -0.5 |") or ln.startswith("| 3.0 |")]
    assert len(rungs) == 2
    for ln in rungs:
        errs = [float(x) for cell in ln.split("|")[3:6] for x in cell.split("/")]
        assert all(0 <= e < 0.5 for e in errs), ln


def test_problem_selection_is_checked(rasch_fit):
    psi, c, n, fit = rasch_fit
    per = fit.passk_problems("mid", KS)
    mask = np.zeros(c.shape[0], bool)
    mask[[2, 9]] = True
    # a boolean mask selects its True rows (it was read as the indices 0 and 1)
    np.testing.assert_allclose(fit.passk("mid", KS, problems=mask), per[:, [2, 9]].mean(1))
    for bad, msg in (
        ([1.5], "integer row indices"),
        ([-1], r"must lie in \[0, 96\)"),
        ([96], r"must lie in \[0, 96\)"),
        ([], "at least one problem"),
        (np.ones(5, bool), "needs 96 entries"),
    ):
        with pytest.raises(ValueError, match=msg):
            fit.passk("mid", KS, problems=bad)
    with pytest.raises(ValueError, match="1-D"):
        fit.passk("mid", [[1e3, 1e4]])


def test_pass_at_huge_k_tends_to_one(rasch_fit):
    # every grid rate is > 0, so (1 - psi)^k -> 0: pass@k -> 1 for each problem (it was
    # NaN once (1 - psi)^k underflowed in every bin, from k ~ 1e20)
    fit = rasch_fit[3]
    k = np.array([1e18, 1e20, 1e300])
    np.testing.assert_allclose(fit.passk("mid", k), 1.0, atol=1e-12)
    per = fit.passk_problems("mid", k)
    assert np.all(np.isfinite(per)) and np.allclose(per, 1.0, atol=1e-9)
    lo, hi = fit.passk_interval("mid", k)
    assert np.all(np.isfinite(lo)) and np.allclose(hi, 1.0)


def test_more_bad_input_is_refused():
    psi, c, n = _rasch(5, P_=32, levels=(-1.5, 0.0))
    for kw, msg in (
        ({"smoothness": np.nan}, "smoothness must be finite"),
        ({"smoothness": np.inf}, "smoothness must be finite"),
        ({"tau_min": np.inf}, "tau_min finite"),
        ({"names": ["a", "a"]}, "names must differ"),
        ({"n_boot": 5}, "at least 20"),
        ({"n_boot": 2.5}, "integer"),
    ):
        with pytest.raises(ValueError, match=msg):
            P.fit_passk_shared(c, n, **kw)
    fit = P.fit_passk_shared(c, n, n_boot=0)
    with pytest.raises(ValueError, match="n_boot=0"):
        fit.passk_interval(0, KS)


def test_mapping_without_samples():
    # the docstring's "pass a mapping (and nothing as samples)" works as written
    psi, c, n = _rasch(5, P_=32, levels=(-1.5, 0.0))
    groups = {
        name: P.make_counts(c[:, j], n[:, j], problem=[f"q{i:02d}" for i in range(32)])
        for j, name in enumerate(("weak", "strong"))
    }
    a = P.fit_passk_shared(groups, n_boot=0)
    b = P.fit_passk_shared(c, n, names=["weak", "strong"], n_boot=0)
    np.testing.assert_allclose(a.passk("weak", KS), b.passk("weak", KS), rtol=1e-12)


_FLOAT32_FIT = """
import json, sys
import numpy as np
import ds3jax.population as P
c, n = (np.array(v) for v in json.loads(sys.stdin.read()))
fit = P.fit_passk_shared(c, n, n_boot=0)
print(json.dumps([bool(fit.converged), fit.levels[0], fit.passk(0, [1e3, 1e4]).tolist()]))
"""


def test_float32_fit_agrees_with_float64():
    # without x64 the 1e-300 underflow guard was 0 in float32: log 0 gave NaN gradients and
    # the fit stopped at its start ("ABNORMAL"), every forecast NaN
    import json
    import subprocess
    import sys

    psi, c, n = _rasch(5, P_=40, levels=(-1.5, 0.0))
    out = subprocess.run(
        [sys.executable, "-c", _FLOAT32_FIT],
        input=json.dumps([c.tolist(), n.tolist()]),
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in __import__("os").environ.items() if k != "JAX_ENABLE_X64"},
    )
    converged, level, passk = json.loads(out.stdout.strip().splitlines()[-1])
    ref = P.fit_passk_shared(c, n, n_boot=0)
    assert converged
    assert level == pytest.approx(ref.levels[0], abs=1e-3)
    np.testing.assert_allclose(passk, ref.passk(0, [1e3, 1e4]), atol=1e-2)


def test_row_order_does_not_reshuffle_the_intervals():
    # the same problems in another order: the fit moves by the optimiser's tolerance, and the
    # replicates (drawn through the symmetric square root of their covariance) with it; with
    # eigenvectors of near-equal eigenvalues the draws were reshuffled (intervals moved 0.04)
    psi, c, n = _rasch(7, P_=80, levels=(-1.0, 0.0))
    perm = np.random.default_rng(0).permutation(80)
    a = P.fit_passk_shared(c, n, n_boot=200, seed=3)
    b = P.fit_passk_shared(c[perm], n[perm], n_boot=200, seed=3)
    np.testing.assert_allclose(a.passk(0, KS), b.passk(0, KS), atol=5e-3)
    for lo_hi_a, lo_hi_b in zip(a.passk_interval(0, KS), b.passk_interval(0, KS)):
        np.testing.assert_allclose(lo_hi_a, lo_hi_b, atol=1e-2)
