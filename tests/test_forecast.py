"""ds3jax.forecast: DS3 fits across checkpoints (N, D), the baseline, held-out scoring, CLI.

References are independent of the code under test: synthetic counts drawn with NumPy from
known parameters through SciPy's incomplete beta, the unbiased pass@k estimator from SciPy's
log-gamma, and hand-made bad tables.
"""

import csv
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from scipy.special import betainc, expit, gammaln

from ds3jax import LossLaw, forecast

DATA = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "pythia_math"
    / "per_problem_counts.csv"
)

T = 2048.0 / 25.0
LAW = LossLaw.hoffmann_rounded()
NS = (1e8, 3e8, 1e9)
DS = (1e10, 3e10, 1e11)


def _true_psi(L0, m, N, D):
    L = LAW.E + LAW.A / N**LAW.alpha + LAW.B / D**LAW.beta
    q = expit(5.0 * (L0 - L))
    return betainc(m, T - m + 1.0, q)


@pytest.fixture(scope="module")
def synthetic():
    """40 problems on 3 levels, 3 x 3 checkpoints, counts drawn from the DS3 chain itself."""
    rng = np.random.default_rng(7)
    P = 40
    levels = np.arange(P) % 3 + 1
    mu = np.array([1.9, 1.75, 1.6])
    L0 = mu[levels - 1] + 0.3 * rng.standard_normal(P)
    m = 1.0 + np.exp(0.7 + 0.3 * rng.standard_normal(P))
    cols = {c: [] for c in forecast.REQUIRED_COLUMNS}
    for N in NS:
        for D in DS:
            psi = _true_psi(L0, m, N, D)
            n = np.full(P, 4000)
            c = rng.binomial(n, psi)
            for i in range(P):
                for col, v in zip(forecast.REQUIRED_COLUMNS, (N, D, i, levels[i], n[i], c[i])):
                    cols[col].append(v)
    return dict(table=cols, L0=L0, m=m, levels=levels)


def _train(N, D):
    return N <= 3e8


@pytest.fixture(scope="module")
def synthetic_fits(synthetic):
    tab = forecast.load_table(synthetic["table"])
    tr = tab.select(_train)
    fixed = forecast.fit_checkpoints(tr, law=LAW, fit_law=False, n_boot=100)
    free = forecast.fit_checkpoints(tr, law=LAW, fit_law=True, n_boot=100)
    return tab, fixed, free


def test_recovers_problem_parameters_with_known_law(synthetic, synthetic_fits):
    _, fit, _ = synthetic_fits
    assert fit.converged
    assert list(fit.problems) == list(range(40))
    err_L0 = fit.phi[:, 0] - synthetic["L0"]
    m_hat = fit.problem_parameters()["m"]
    # counts of 4000 samples at 6 checkpoints pin L0 to a few hundredths of a nat
    assert np.median(np.abs(err_L0)) < 0.06
    assert np.median(np.abs(np.log(m_hat / synthetic["m"]))) < 0.2
    # the level means: true values 1.9, 1.75, 1.6 (level sample means of L0 differ by ~0.1)
    mu_hat = np.array([fit.parameters()[f"mu_L0[{j}]"]["value"] for j in range(3)])
    mu_sample = np.array([synthetic["L0"][synthetic["levels"] == lv].mean() for lv in (1, 2, 3)])
    np.testing.assert_allclose(mu_hat, mu_sample, atol=0.08)


def test_forecast_of_unseen_size_matches_the_true_model(synthetic, synthetic_fits):
    _, fixed, free = synthetic_fits
    for k in (1.0, 10.0, 100.0):
        truth = 1.0 - (1.0 - _true_psi(synthetic["L0"], synthetic["m"], 1e9, 1e11)) ** k
        for fit in (fixed, free):
            got = fit.problem_passk(1e9, 1e11, k)
            assert got.shape == (40,)
            assert abs(got.mean() - truth.mean()) < 0.02 + 0.05 * truth.mean()
            lo, hi = fit.passk_interval(1e9, 1e11, k)
            assert lo <= fit.passk(1e9, 1e11, k) <= hi


def test_problem_intervals_cover_each_problems_truth(synthetic, synthetic_fits):
    """The per-problem 90% bands hold the true pass@k (SciPy's chain) for most problems, at
    a trained and an unseen checkpoint. They held the bootstrap over problems only, which
    does not move a problem's own parameters: 5% coverage, 20 times too narrow."""
    _, fit, _ = synthetic_fits
    hits = []
    for N, D in ((3e8, 3e10), (1e9, 1e11)):
        for k in (1.0, 10.0):
            truth = 1.0 - (1.0 - _true_psi(synthetic["L0"], synthetic["m"], N, D)) ** k
            lo, hi = fit.problem_passk_interval(N, D, k)
            live = (truth > 1e-3) & (truth < 0.999)  # not decided either way
            hits += list(((lo <= truth) & (truth <= hi))[live])
    assert len(hits) > 80
    assert 0.7 < np.mean(hits) < 0.99, np.mean(hits)


def test_intervals_broadcast_over_k_like_the_forecasts(synthetic_fits):
    """An array of k with scalar N, D (a pass@k curve) gives, point by point, the intervals
    of each k alone (it raised a broadcasting error before)."""
    _, fit, _ = synthetic_fits
    ks = np.array([1.0, 10.0, 100.0, 1000.0])
    lo, hi = fit.passk_interval(2e9, 5e10, ks)
    plo, phi = fit.problem_passk_interval(2e9, 5e10, ks)
    assert lo.shape == hi.shape == (4,) and plo.shape == phi.shape == (4, 40)
    for j, k in enumerate(ks):
        np.testing.assert_allclose((lo[j], hi[j]), fit.passk_interval(2e9, 5e10, k), rtol=1e-12)
        np.testing.assert_allclose(plo[j], fit.problem_passk_interval(2e9, 5e10, k)[0])
    grid = fit.passk_interval(np.array([1e8, 1e9])[:, None], 5e10, ks)[1]
    assert grid.shape == (2, 4) and np.all(np.diff(grid, axis=1) >= 0)


def test_problem_passk_is_the_cot_chain(synthetic_fits):
    """problem_passk(k) = 1 - (1 - I_q(m, T - m + 1))^k from the fitted parameters (SciPy)."""
    _, _, fit = synthetic_fits
    law, b, iota, _, _ = fit.model.unpack(fit.theta)
    N, D = 2e9, 5e10
    L = float(law.E) + float(law.A) / N ** float(law.alpha) + float(law.B) / D ** float(law.beta)
    q = float(iota) * expit(float(b) * (fit.phi[:, 0] - L))
    m = fit.problem_parameters()["m"]
    psi = betainc(m, T - m + 1.0, q)
    np.testing.assert_allclose(fit.problem_passk(N, D, 1.0), psi, rtol=1e-9)
    np.testing.assert_allclose(fit.problem_passk(N, D, 37.0), 1 - (1 - psi) ** 37, rtol=1e-8)
    grid = fit.passk(np.array([1e8, 1e9])[:, None], D, np.array([1.0, 10.0, 100.0]))
    assert grid.shape == (2, 3)
    assert np.all(np.diff(grid, axis=1) > 0)


def test_unidentified_parameters_are_reported(synthetic_fits):
    _, fixed, free = synthetic_fits
    for fit in (fixed, free):
        p = fit.parameters()
        # E only enters through b (L0 - L): exactly confounded with shifting every L0
        assert not p["E"]["pinned"] and p["E"]["se"] > 1.0
        assert "E" in fit.not_pinned()
    # a level mean is learnt from its problems' L0 through the prior alone: with L0 pinned
    # by the counts, se(mu) ~ prior_L0 / sqrt(problems in the level) = 1 / sqrt(14)
    se = fixed.parameters()["mu_L0[0]"]["se"]
    assert 1 / np.sqrt(14) * 0.95 < se < 1 / np.sqrt(14) * 1.3


def _unbiased(n, c, k):
    """Per-problem unbiased pass@k, 1 - C(n - c, k) / C(n, k), from SciPy's log-gamma."""
    log_ratio = gammaln(n - c + 1) - gammaln(n - c - k + 1) + gammaln(n - k + 1) - gammaln(n + 1)
    return np.where(n - c >= k, 1 - np.exp(np.where(n - c >= k, log_ratio, 0.0)), 1.0)


def test_holdout_scores_match_independent_estimator(synthetic):
    res = forecast.forecast_holdout(
        synthetic["table"],
        train=_train,
        k=(1, 10),
        fit_kwargs=dict(law=LAW, fit_law=True, n_boot=20),
        baseline_kwargs=dict(n_boot=20),
    )
    assert set(res.test) == {(1e9, d) for d in DS}
    tab = forecast.load_table(synthetic["table"])
    for r in res.rows:
        j = [i for i, c in enumerate(tab.checkpoints()) if c == (r["N"], r["D"])][0]
        n, c = tab.samples[:, j], tab.correct[:, j]
        k = r["k"]
        est = _unbiased(n, c, k)
        assert r["data"] == pytest.approx(est.mean(), rel=1e-9, abs=1e-12)
        src = [i for i, cc in enumerate(tab.checkpoints()) if cc == (3e8, r["D"])][0]
        n2, c2 = tab.samples[:, src], tab.correct[:, src]
        est2 = _unbiased(n2, c2, k)
        assert r["reuse"] == pytest.approx(est2.mean(), rel=1e-9, abs=1e-12)
        assert r["err_ds3"] == pytest.approx(abs(r["ds3"] - r["data"]))
        # every problem has k samples at the source: reuse is scored on all of them
        assert r["reuse_data"] == r["data"]
        assert r["err_reuse"] == pytest.approx(abs(r["reuse"] - r["data"]))
    # a fractional k was truncated (1.5 scored as k = 1)
    with pytest.raises(ValueError, match="whole numbers"):
        forecast.forecast_holdout(synthetic["table"], train=_train, k=(1.5, 10))
    # data drawn from the DS3 chain: its forecast beats reusing the smaller model's curve
    assert res.mean_abs_error["ds3"] < res.mean_abs_error["reuse"]


def test_extrapolation_errors_are_forward_chained_logit_residuals(synthetic):
    """Each residual is logit(measured) - logit(forecast) at the next size, from a fit on the
    sizes up to the one before (recomputed here with SciPy's log-gamma estimator)."""
    from scipy.special import logit

    tab = forecast.load_table(synthetic["table"])
    errs = forecast.extrapolation_errors(tab, along="N", k=(1, 10), fit_kwargs=dict(law=LAW))
    assert set(errs.trained_to) == {1e8, 3e8} and set(errs.k) == {1.0, 10.0}
    assert len(errs) == 2 * len(DS) * 2  # two steps x three D x two k, all inside (0, 1)
    fit = forecast.fit_checkpoints(tab.select(lambda N, D: N <= 1e8), law=LAW, n_boot=0)
    for D in DS:
        j = tab.checkpoints().index((3e8, D))
        for k in (1, 10):
            data = _unbiased(tab.samples[:, j], tab.correct[:, j], k).mean()
            want = logit(data) - logit(fit.passk(3e8, D, k))
            got = errs.residual[(errs.N == 3e8) & (errs.D == D) & (errs.k == k)]
            np.testing.assert_allclose(got, [want], rtol=0, atol=1e-6)  # two fits, tol 1e-6
    # at a scored k its residuals; beyond the scored k the nearest's; between two, each
    # checkpoint's pair interpolated in log k (sqrt(10) is half way)
    np.testing.assert_array_equal(errs.at(1.0), errs.residual[errs.k == 1.0])
    np.testing.assert_array_equal(errs.at(10.0), errs.residual[errs.k == 10.0])
    np.testing.assert_array_equal(errs.at(5e3), errs.residual[errs.k == 10.0])
    np.testing.assert_array_equal(errs.at(0.5), errs.residual[errs.k == 1.0])
    half = sorted(errs.at(np.sqrt(10.0)))
    at10 = errs.k == 10.0
    pairs = [
        0.5 * (errs.residual[(errs.k == 1.0) & (errs.N == n) & (errs.D == d)][0] + r)
        for n, d, r in zip(errs.N[at10], errs.D[at10], errs.residual[at10])
    ]
    np.testing.assert_allclose(half, sorted(pairs), rtol=1e-12)
    # an interior scored k whose residuals are not all paired with the k below: all of them
    # (a checkpoint missing at k = 1 was dropped at k = 10, so the band jumped in k)
    k = np.array([1, 1, 10, 10, 10, 100, 100, 100], float)
    r = np.array([0.1, 0.2, 0.3, 0.4, 5.0, 0.5, 0.6, 6.0])
    n = np.array([1, 2, 1, 2, 3, 1, 2, 3], float) * 1e9
    hand = forecast.ExtrapolationErrors("N", k, r, n, np.full(8, 1e10), np.full(8, 4e8))
    np.testing.assert_array_equal(hand.at(10.0), [0.3, 0.4, 5.0])
    with pytest.raises(ValueError, match="along"):
        forecast.extrapolation_errors(tab, along="k")
    with pytest.raises(ValueError, match="no forward step"):
        forecast.extrapolation_errors(tab.select(lambda N, D: N == 1e8), along="N")


def test_errors_widen_the_band_by_the_residuals(synthetic_fits):
    """With one residual e the band is the bootstrap band moved by e in logit (a monotone
    map of every replicate); with residuals -1 and +1 it is wider on both sides, but no
    wider than the bands moved by -1 and +1."""
    from scipy.special import logit

    _, fit, _ = synthetic_fits

    class Fixed:
        def __init__(self, r):
            self.r = np.asarray(r, float)

        def at(self, k):
            return self.r

    k = np.array([1.0, 100.0])
    lo, hi = fit.passk_interval(1e9, 1e11, k)
    for e in (0.0, 0.7, -2.0):
        elo, ehi = fit.passk_interval(1e9, 1e11, k, errors=Fixed([e]))
        np.testing.assert_allclose(elo, expit(logit(lo) + e), rtol=2e-3)
        np.testing.assert_allclose(ehi, expit(logit(hi) + e), rtol=2e-3)
    wlo, whi = fit.passk_interval(1e9, 1e11, k, errors=Fixed([-1.0, 1.0]))
    # F_mix = (F_down + F_up) / 2 <= F_down, so the mixture's 5% point is at or above the
    # moved-down band's; and it is below the plain band (the replicates spread far less
    # than 1 in logit)
    assert np.all(wlo < lo) and np.all(whi > hi)
    assert np.all(wlo >= expit(logit(lo) - 1.0) * (1 - 2e-3))
    assert np.all(whi <= expit(logit(hi) + 1.0) * (1 + 2e-3))


# ----------------------------------------------------------------------------- bad tables


def _good():
    return {
        "nominal_params": [1e8, 1e8, 2e8, 2e8],
        "training_tokens": [1e10, 1e10, 1e10, 1e10],
        "problem": [1, 2, 1, 2],
        "level": [1, 2, 1, 2],
        "samples": [100, 100, 100, 100],
        "correct": [1, 0, 3, 2],
    }


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.pop("correct"), "missing column 'correct'"),
        (lambda t: t["correct"].__setitem__(2, 101), "row 2: correct (101) exceeds samples (100)"),
        (
            lambda t: t["nominal_params"].__setitem__(1, 0.0),
            "row 1: column 'nominal_params' must be > 0",
        ),
        (
            lambda t: t["training_tokens"].__setitem__(3, -5.0),
            "row 3: column 'training_tokens' must be > 0",
        ),
        (
            lambda t: t["samples"].__setitem__(0, 2.5),
            "row 0: column 'samples' must be a non-negative integer",
        ),
        (
            lambda t: t["level"].__setitem__(2, 3),
            "row 2: problem 1 has level 3 here but 1 at row 0",
        ),
        (lambda t: t["problem"].__setitem__(1, 1), "row 1: problem 1 appears twice"),
        # two spellings of one number were merged into one problem
        (
            lambda t: t["problem"].__setitem__(slice(0, 4), ["01", "2", "1", "2"]),
            "problem ids '01' and '1' are the same number",
        ),
        (lambda t: t["correct"].__setitem__(0, "x"), "row 0: column 'correct': expected a number"),
    ],
)
def test_bad_tables_name_the_row(edit, message):
    t = _good()
    edit(t)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        forecast.load_table(t)


def test_bad_priors_and_seed_are_refused_before_fitting():
    # prior_u = -3 made the objective NaN (read as inf), and the fit reported "converged" at
    # its start; a negative seed failed in NumPy after the whole fit
    for kw in (dict(prior_u=-3.0), dict(prior_slope=0.0), dict(prior_u=float("nan"))):
        with pytest.raises(ValueError, match="must be a positive number"):
            forecast.fit_baseline(_good(), **kw)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        forecast.fit_checkpoints(_good(), law=LAW, seed=-1)


def test_csv_header_and_odd_ids(tmp_path):
    t = _good()
    path = tmp_path / "t.csv"
    cols = list(t)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols[:-1] + [cols[0]])  # a column named twice (an IndexError before)
        w.writerows(zip(*t.values()))
    with pytest.raises(ValueError, match=f"column {cols[0]!r} appears twice"):
        forecast.load_table(path)
    # an id "inf" raised OverflowError; text ids are kept as text
    t["problem"] = ["inf", "x", "inf", "x"]
    assert list(forecast.load_table(t).problems) == ["inf", "x"]


def test_checkpoint_without_problems_is_rejected(tmp_path):
    t = _good()
    t["samples"][2] = t["samples"][3] = 0
    t["correct"][2] = t["correct"][3] = 0
    with pytest.raises(ValueError, match=r"row 2: checkpoint N=2e\+08, D=1e\+10 has no problem"):
        forecast.load_table(t)
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(t))
        w.writerows(zip(*t.values()))
    with pytest.raises(ValueError, match=r"t.csv: row 2 \(line 4\): checkpoint"):
        forecast.load_table(path)


def test_fits_refuse_all_zero_counts_and_too_few_replicates(synthetic):
    tab = dict(synthetic["table"])
    tab["correct"] = [0] * len(tab["correct"])
    # no problem ever solved: the fit used to converge onto its priors and say nothing
    for fit in (forecast.fit_checkpoints, forecast.fit_baseline):
        with pytest.raises(ValueError, match="every count is zero"):
            fit(tab, n_boot=0)
    # percentiles of fewer than 20 replicates are not a 90% interval
    with pytest.raises(ValueError, match="n_boot must be 0 .no intervals. or at least 20"):
        forecast.fit_checkpoints(synthetic["table"], law=LAW, n_boot=5)


def test_fit_without_replicates_forecasts_but_gives_no_interval(synthetic, synthetic_fits):
    tab, with_boot, _ = synthetic_fits
    fit = forecast.fit_checkpoints(tab.select(_train), law=LAW, n_boot=0)
    # the same point fit (the replicates do not touch it)
    np.testing.assert_allclose(fit.passk(1e9, 1e10, 10), with_boot.passk(1e9, 1e10, 10))
    # one replicate was kept before, and its "interval" had zero width
    with pytest.raises(ValueError, match="n_boot = 0: no bootstrap replicates"):
        fit.passk_interval(1e9, 1e10, 10)


def test_shipped_table_loads():
    tab = forecast.load_table(DATA)
    assert tab.samples.shape == (128, 48)
    assert tab.n_checkpoints == 48 and len(np.unique(tab.N)) == 6 and len(np.unique(tab.D)) == 8
    assert np.all(tab.samples >= 128)


# ----------------------------------------------------------------------------- CLI


def _cli(argv):
    from experiments.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def test_cli_forecast_writes_outputs(synthetic, tmp_path):
    path = tmp_path / "counts.csv"
    t = synthetic["table"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", *t])
        w.writerows(["m", *row] for row in zip(*t.values()))
    out = tmp_path / "out"
    rc, stdout, err = _cli(
        ["forecast", str(path), "--train-max-params", "3e8", "--out", str(out), "--boot", "20"]
    )
    assert rc == 0, err
    for name in ("forecast.json", "holdout.csv", "passk_vs_k.png", "passk_vs_N.png"):
        assert (out / name).stat().st_size > 0
    res = json.loads((out / "forecast.json").read_text())
    assert set(res["holdout"]["mean_abs_error"]) == {"ds3", "baseline", "reuse"}
    assert "E" in res["ds3"]["not_pinned"]
    assert "mean |error|" in stdout
    assert res["settings"]["errors_along"] is None and "extrapolation_errors" not in res
    # the bands widened by forward-chained errors: the one step 1e8 -> 3e8 at every D and k
    out2 = tmp_path / "out2"
    args = ["forecast", str(path), "--train-max-params", "3e8", "--out", str(out2)]
    rc, stdout, err = _cli([*args, "--boot", "20", "--errors-along", "N"])
    assert rc == 0, err
    res = json.loads((out2 / "forecast.json").read_text())
    errs = res["extrapolation_errors"]
    assert errs["along"] == "N" and set(errs["trained_to"]) == {1e8} and set(errs["N"]) == {3e8}
    assert len(errs["residual"]) == len(DS) * len(forecast.DEFAULT_K)
    assert "forward-chained errors along N" in stdout
    assert (out2 / "passk_vs_k.png").stat().st_size > 0


def test_cli_forecast_bad_input(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("nominal_params,training_tokens,problem,level,samples\n1e8,1e10,1,1,10\n")
    rc, _, err = _cli(["forecast", str(path), "--out", str(tmp_path / "o")])
    assert rc == 2
    assert err.count("\n") == 1 and "missing column 'correct'" in err
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- shipped data


@pytest.mark.slow
def test_pythia_forecast_of_1b_and_1p4b_beats_baseline_and_reuse():
    """The issue's criterion: fit on sizes <= 410M, forecast 1B and 1.4B."""
    res = forecast.forecast_holdout(
        DATA,
        train=lambda N, D: N <= 4.1e8,
        fit_kwargs=dict(n_boot=20),
        baseline_kwargs=dict(n_boot=20),
    )
    mae = res.mean_abs_error
    assert mae["ds3"] < mae["baseline"]
    assert mae["ds3"] < mae["reuse"]


def test_cli_header_check_matches_the_library():
    from experiments import _cli_forecast

    assert _cli_forecast._COLUMNS == forecast.REQUIRED_COLUMNS
