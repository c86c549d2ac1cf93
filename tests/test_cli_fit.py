"""``ds3jax fit``: recovers known parameters from synthetic CSVs, writes JSON + PNG, prints
the family chosen and pass@k far beyond the data with 90% intervals (the same numbers as the
library), and bad input exits 2 with one line naming the line, column or option (and writes
nothing)."""

import contextlib
import io
import json
import math

import numpy as np
import pytest
import scipy.special

from ds3jax.population import AUTO_FAMILIES
from experiments.cli import main


def _passk_scipy(k, alpha, beta, A):
    """Eq. 59 with scipy's betaln (independent of the library)."""
    k = np.asarray(k, float)
    return A * (
        1.0 - np.exp(scipy.special.betaln(alpha, beta + k) - scipy.special.betaln(alpha, beta))
    )


def _write_counts(path, correct, samples):
    """A counts CSV (problem, correct, samples), one row per problem; returns the path."""
    rows = "".join(f"p{i},{v},{samples}\n" for i, v in enumerate(correct))
    path.write_text("problem,correct,samples\n" + rows)
    return path


def _write_labelled(path, column, counts, samples):
    """A counts CSV with one label column: {label: correct counts}, problems q0, q1, ..."""
    rows = [f"{column},problem,correct,samples"]
    rows += [f"{r},q{i},{v},{samples}" for r, cc in counts.items() for i, v in enumerate(cc)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_counts_fit_recovers_beta_binomial_parameters(tmp_path, capsys):
    truth = {"alpha": 0.6, "beta": 2.5, "solvable": 0.8}
    rng = np.random.default_rng(20240607)
    problems, n = 3000, 48
    solvable = rng.random(problems) < truth["solvable"]
    psi = np.where(solvable, rng.beta(truth["alpha"], truth["beta"], problems), 0.0)
    correct = rng.binomial(n, psi)
    path = tmp_path / "counts.csv"
    lines = ["problem,correct,samples"] + [f"p{i},{c},{n}" for i, c in enumerate(correct)]
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    rc, stdout, err = _run(
        ["fit", str(path), "--out", str(out), "--method", "mle", "--n-boot", "0"], capsys
    )
    assert rc == 0, err
    assert "alpha" in stdout and "std. error" in stdout and "RMSE" in stdout
    res = json.loads((out / "counts_fit.json").read_text())
    assert res["kind"] == "counts" and res["n_obs"] == problems
    for name, value in truth.items():
        p = res["parameters"][name]
        assert 0 < p["stderr"] < 0.2 * value
        assert abs(p["value"] - value) < 4 * p["stderr"], (name, p, value)
        # the 90% interval: the delta method on the log (logit for solvable) scale, inside
        # the parameter's range (estimate +- 1.645 se went below 0 on small data)
        v, se = p["value"], p["stderr"]
        if name == "solvable":
            lg, half = np.log(v / (1 - v)), 1.645 * se / (v * (1 - v))
            want = [1 / (1 + np.exp(-(lg - half))), 1 / (1 + np.exp(-(lg + half)))]
        else:
            want = [v * np.exp(-1.645 * se / v), v * np.exp(1.645 * se / v)]
        np.testing.assert_allclose([p["low90"], p["high90"]], want, rtol=1e-9)
    assert res["rmse"] < 0.01 and res["loglik"] < 0
    assert (out / "counts_fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))


# 64 problems, psi ~ Beta(0.3, 30), 10 samples each: few solved, so pass@k far out is loose
_SPARSE_SEED, _SPARSE_N = 1, 10
N_BOOT = 100


def _sparse_counts():
    rng = np.random.default_rng(_SPARSE_SEED)
    psi = rng.beta(0.3, 30.0, 64)
    rng.binomial(100, psi)  # (advances the stream as the sizes above were chosen with)
    return rng.binomial(_SPARSE_N, psi), _SPARSE_N


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """One ``ds3jax fit`` on a counts CSV with the default route: (rc, stdout, stderr, json)."""
    tmp = tmp_path_factory.mktemp("default")
    c, n = _sparse_counts()
    path = tmp / "sparse.csv"
    path.write_text(
        "problem,correct,samples\n" + "".join(f"p{i},{v},{n}\n" for i, v in enumerate(c))
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["fit", str(path), "--out", str(tmp / "o"), "--n-boot", str(N_BOOT)])
    res = json.loads((tmp / "o" / "sparse_fit.json").read_text()) if rc == 0 else None
    return rc, out.getvalue(), err.getvalue(), res, tmp / "o"


def test_counts_default_route_prints_family_and_passk_with_intervals(default_run):
    rc, stdout, stderr, res, out = default_run
    assert rc == 0, stderr
    # the status line goes to stderr before the fit
    assert stderr.startswith(
        "ds3jax: fit: 64 problems: 4 families x 3 posteriors + power law, 100 replicates"
    )
    assert res["method"] == "ensemble" and res["kind"] == "counts"
    fam = res["family"]
    # the power law's far-out weight: 1/2 up to 10% of the problems solved, 1 from 30%
    # (with at most 100 samples per problem, as here)
    c, n = _sparse_counts()
    assert n <= 100
    solved = np.mean(c > 0)
    lean = 0.5 + 0.5 * min(max((solved - 0.1) / 0.2, 0.0), 1.0)
    assert f"family: {fam} (weight" in stdout
    # the family's weight among the families, from their held-out scores (the route's
    # weights are scaled by 1 - lean and are all 0 at lean 1)
    sc = np.array([res["scores"][f] for f in AUTO_FAMILIES])
    share = np.exp(res["scores"][fam] - sc.max()) / np.exp(sc - sc.max()).sum()
    assert f"family: {fam} (weight {share:.2f}, the heaviest of 4 averaged families" in stdout
    assert (
        f"the families carry {1 - lean:.2f} of the forecast and the power law {lean:.2f}" in stdout
    )
    assert "why: the population families' forecast and the power law's" in stdout
    assert "families averaged with weights from their held-out" in stdout
    assert set(res["weights"]) == {*AUTO_FAMILIES, "power_law"}
    assert set(AUTO_FAMILIES) == set(res["scores"])
    assert sum(res["weights"].values()) == pytest.approx(1.0, abs=1e-12)
    assert res["weights"]["power_law"] == pytest.approx(lean, abs=1e-12)
    assert res["weights"][fam] == max(res["weights"][f] for f in AUTO_FAMILIES)
    line = next(ln for ln in stdout.splitlines() if "pass@1e4 = " in ln)
    assert "90% interval [" in line and "extrapolated" in line
    ex = res["extrapolation"]
    assert ex["k"] == [1e3, 1e4, 1e5, 1e6] and all(ex["beyond_data"])
    lo, mid, hi = (np.asarray(ex[key]) for key in ("low90", "passk", "high90"))
    assert np.all(lo <= mid) and np.all(mid <= hi) and np.all((lo >= 0) & (hi <= 1))
    assert f"[{lo[1]:.4f}, {hi[1]:.4f}]" in line and f"= {mid[1]:.4f}" in line
    # an interval wider than 0.5 is said to leave pass@k unpinned (these data: some are)
    wide = [k for k, a, b in zip(("1e3", "1e4", "1e5", "1e6"), lo, hi) if b - a > 0.5]
    assert wide
    assert f"pass@k at k = {', '.join(wide)} is not pinned by the data" in stdout
    # the chosen family's parameters: posterior median inside its 90% interval
    assert set(res["parameters"]) >= {"alpha", "beta"}
    for p in res["parameters"].values():
        assert p["low90"] <= p["value"] <= p["high90"]
    assert "posterior median" in stdout and "RMSE" in stdout
    assert res["population_passk"]["k"] == ex["k"] and len(res["population_passk"]["passk"]) == 4
    f = res["fitted"]
    assert len(f["k"]) == 60 and max(f["k"]) >= 1e6
    assert None not in f["low90"] and None not in f["high90"]
    assert np.all(np.asarray(f["low90"]) <= np.asarray(f["passk"]) + 1e-12)
    assert res["covariance"] is None and res["aic"] is None
    assert (out / "sparse_fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _check_parts_apart(res, stdout):
    """The line on the parts' disagreement is printed exactly where the power law and the
    families the data leave in play (held-out weight, softmax of the scores, >= 0.05) differ
    by more than the 90% interval is wide, recomputed here from the JSON; returns those k."""
    ex, parts, sc = res["extrapolation"], res["components"], res["scores"]
    top = max(sc.values())
    tot = sum(math.exp(v - top) for v in sc.values())
    live = [nm for nm, v in sc.items() if math.exp(v - top) / tot >= 0.05]
    law = "power_law" in parts
    spread = np.ptp([parts[nm] for nm in live + ["power_law"] * law], axis=0)
    width = np.asarray(ex["high90"]) - np.asarray(ex["low90"])
    apart = [kk for kk, d, wd in zip(("1e3", "1e4", "1e5", "1e6"), spread, width) if d > wd]
    said = [ln for ln in stdout.splitlines() if "lie further apart than" in ln]
    want = (
        f"  at k = {', '.join(apart)} {'the power law and ' * law}the families of held-out "
        "weight >= 0.05 lie further apart than the 90% interval is wide: the forecast there "
        "rests on their weights"
    )
    assert said == ([want] if apart else [])
    return apart


def test_counts_fit_says_where_the_parts_disagree_beyond_the_interval(tmp_path, capsys):
    # 128 problems x 100 samples of a Beta(0.3, 25) population: the families' forecasts
    # spread far out (logit-normal high, beta+zero low) beyond the interval's width
    rng = np.random.default_rng(3)
    c = rng.binomial(100, rng.beta(0.3, 25.0, 128))
    path = _write_counts(tmp_path / "b.csv", c, 100)
    out = tmp_path / "o"
    rc, stdout, err = _run(["fit", str(path), "--out", str(out), "--n-boot", "200"], capsys)
    assert rc == 0, err
    res = json.loads((out / "b_fit.json").read_text())
    assert _check_parts_apart(res, stdout)  # non-empty on these data
    # auto: the same parts without the power law, the same rule
    out2 = tmp_path / "o2"
    argv = ["fit", str(path), "--out", str(out2), "--n-boot", "200", "--method", "auto"]
    rc, stdout, err = _run(argv, capsys)
    assert rc == 0, err
    res = json.loads((out2 / "b_fit.json").read_text())
    assert set(res["components"]) == {"k", *AUTO_FAMILIES}
    _check_parts_apart(res, stdout)


def test_cli_passk_equals_the_library_called_directly(default_run):
    import ds3jax.population as P

    rc, _, stderr, res, _ = default_run
    assert rc == 0, stderr
    c, n = _sparse_counts()
    fit = P.fit_passk_counts(c, n, n_boot=N_BOOT, seed=0)
    ex = res["extrapolation"]
    assert ex["passk"][1] == pytest.approx(float(fit.passk(1e4)), rel=1e-12)
    lo, hi = fit.passk_interval(np.array([1e4]))
    assert ex["low90"][1] == pytest.approx(float(lo[0]), rel=1e-9)
    assert ex["high90"][1] == pytest.approx(float(hi[0]), rel=1e-9)
    assert res["family"] == fit.family and res["weights"] == pytest.approx(fit.weights)
    # the range the counts alone allow, printed and written as the library computes it
    blo, bhi = P.passk_bounds(c, n, k=np.asarray(ex["k"]))
    np.testing.assert_allclose(ex["data_alone_low90"], blo, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ex["data_alone_high90"], bhi, rtol=1e-9, atol=1e-12)
    assert np.all(np.asarray(ex["data_alone_low90"]) <= np.asarray(ex["data_alone_high90"]))
    line = next(ln for ln in default_run[1].splitlines() if "pass@1e4 = " in ln)
    assert f"data alone: [{blo[1]:.2f}, {bhi[1]:.2f}]" in line
    # what each family and the power law forecast alone, as the library's single routes do
    parts = res["components"]
    assert parts["k"] == ex["k"] and set(parts) == {"k", *AUTO_FAMILIES, "power_law"}
    for name in (*AUTO_FAMILIES, "power_law"):
        one = P.fit_passk_counts(c, n, method=name, n_boot=0, seed=0)
        np.testing.assert_allclose(parts[name], one.passk(np.asarray(ex["k"])), rtol=1e-9)
        row = next(ln for ln in default_run[1].splitlines() if ln.startswith(f"    {name} "))
        assert " / ".join(f"{x:.4f}" for x in parts[name]) in row
    _check_parts_apart(res, default_run[1])


def test_counts_fit_prints_the_measured_value_inside_the_data(tmp_path, capsys):
    # every problem has 2,000 samples: pass@1e3 is measured (the unbiased estimate, written
    # out with exact binomial coefficients here), pass@1e4 is not
    rng = np.random.default_rng(8)
    c = rng.binomial(2000, rng.beta(0.4, 60.0, 40))
    path = _write_counts(tmp_path / "m.csv", c, 2000)
    out = tmp_path / "o"
    argv = ["fit", str(path), "--out", str(out), "--method", "beta", "--n-boot", "0"]
    rc, stdout, err = _run(argv, capsys)
    assert rc == 0, err
    want = np.mean([1 - math.comb(2000 - int(v), 1000) / math.comb(2000, 1000) for v in c])
    line3 = next(ln for ln in stdout.splitlines() if "pass@1e3 = " in ln)
    line4 = next(ln for ln in stdout.splitlines() if "pass@1e4 = " in ln)
    assert f"measured: {want:.4f}" in line3 and "data alone" not in line3
    assert "data alone: [" in line4 and "measured" not in line4
    ex = json.loads((out / "m_fit.json").read_text())["extrapolation"]
    assert ex["measured"][0] == pytest.approx(want, abs=1e-12) and ex["measured"][1] is None


def test_counts_power_law_route(tmp_path, capsys):
    c, n = _sparse_counts()
    rng = np.random.default_rng(5)
    c = rng.binomial(100, rng.beta(0.5, 5.0, 64))  # a curve strictly inside (0, 1) at k <= n
    path = tmp_path / "pl.csv"
    path.write_text(
        "problem,correct,samples\n" + "".join(f"p{i},{v},100\n" for i, v in enumerate(c))
    )
    out = tmp_path / "o"
    rc, stdout, err = _run(
        ["fit", str(path), "--out", str(out), "--method", "power_law", "--n-boot", "50"], capsys
    )
    assert rc == 0, err
    res = json.loads((out / "pl_fit.json").read_text())
    assert res["method"] == "power_law" and res["family"] == "power_law"
    assert set(res["parameters"]) == {"a", "b"}
    assert res["parameters"]["b"]["low90"] is None and res["loglik"] is None
    assert None not in res["extrapolation"]["low90"]
    assert "family: power_law" in stdout and "pass@1e4 = " in stdout


def test_one_problem_mle_warns_and_strict_exits_3(tmp_path, capsys):
    path = tmp_path / "one.csv"
    path.write_text("problem,correct,samples\np1,3,100\n")
    argv = ["fit", str(path), "--method", "mle", "--n-boot", "0"]
    rc, stdout, err = _run(argv + ["--out", str(tmp_path / "o")], capsys)
    assert rc == 0, err
    assert "warning: the data do not determine this fit" in stdout and "no intervals" in stdout
    res = json.loads((tmp_path / "o" / "one_fit.json").read_text())
    assert res["identified"] is False and res["extrapolation"]["low90"] is None
    assert "stderr" in res["parameters"]["alpha"]
    rc, _, err = _run(argv + ["--out", str(tmp_path / "o2"), "--strict"], capsys)
    assert rc == 3 and "--strict" in err
    assert (tmp_path / "o2" / "one_fit.json").exists()  # the files are written all the same


def test_cli_method_and_family_lists_match_the_library():
    from ds3jax.population import _counts, _fit
    from experiments import _cli_fit

    assert _cli_fit.METHODS == _counts.METHODS
    assert _cli_fit.CURVE_FAMILIES == tuple(_fit._CURVE_FAMILIES)


def test_curve_fit_with_the_mixture_family(tmp_path, capsys):
    k = np.unique(np.round(np.geomspace(1, 5000, 25)))
    y = 0.6 * _passk_scipy(k, 1.5, 2.0, 1.0) + 0.3 * _passk_scipy(k, 0.3, 40.0, 1.0)
    path = tmp_path / "mix.csv"
    path.write_text("k,accuracy\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(k, y)))
    out = tmp_path / "o"
    argv = ["fit", str(path), "--out", str(out), "--family", "beta-mixture+zero"]
    rc, stdout, err = _run(argv, capsys)
    assert rc == 0, err
    res = json.loads((out / "mix_fit.json").read_text())
    assert set(res["parameters"]) == {"alpha1", "beta1", "alpha2", "beta2", "weight1", "solvable"}
    assert res["parameters"]["solvable"]["value"] == pytest.approx(0.9, abs=0.02)
    assert res["max_abs_error"] < 1e-3 and "beta mixture" in res["family"]
    assert res["weights"] is None and res["extrapolation"]["low90"] is None


@pytest.mark.parametrize(
    "kind, extra, needle",
    [
        ("counts", ["--family", "beta+zero"], "--family applies to pass@k curve"),
        ("counts", ["--no-zero-mass"], "--no-zero-mass applies to --method mle"),
        ("counts", ["--n-boot", "5"], "--n-boot must be 0"),
        ("curve", ["--method", "auto"], "--method applies to per-problem counts"),
        # accepted and ignored before
        ("counts", ["--loss", "max"], "--loss applies to pass@k curve fits"),
        ("curve", ["--n-boot", "5"], "--n-boot applies to per-problem counts"),
        ("curve", ["--seed", "7"], "--seed applies to per-problem counts"),
        ("counts", ["--seed", str(2**70)], "--seed"),
    ],
)
def test_options_for_the_other_kind_of_csv_exit_2(kind, extra, needle, tmp_path, capsys):
    path = tmp_path / "x.csv"
    if kind == "counts":
        path.write_text("problem,correct,samples\np1,3,10\np2,0,10\n")
    else:
        path.write_text("k,accuracy\n1,0.2\n2,0.3\n4,0.4\n")
    rc, _, err = _run(["fit", str(path), "--out", str(tmp_path / "o")] + extra, capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and needle in lines[0], lines
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("header", ["k,accuracy", "x, y", "Accuracy,K"])
def test_curve_fit_runs_and_writes_files(tmp_path, capsys, header):
    alpha, beta, A = 0.4, 1.8, 0.9
    k = np.unique(np.round(np.geomspace(1, 5000, 25)))
    rng = np.random.default_rng(3)
    y = _passk_scipy(k, alpha, beta, A) + rng.normal(0, 0.002, k.size)
    cols = [c.strip().lower() for c in header.split(",")]
    rows = [(kk, yy) if cols[0] in ("k", "x") else (yy, kk) for kk, yy in zip(k, y)]
    path = tmp_path / "curve.csv"
    path.write_text(header + "\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in rows) + "\n")
    out = tmp_path / "o"
    rc, stdout, err = _run(["fit", str(path), "--out", str(out), "--loss", "max"], capsys)
    assert rc == 0, err
    res = json.loads((out / "curve_fit.json").read_text())
    assert res["kind"] == "curve" and res["n_obs"] == k.size
    assert res["max_abs_error"] < 0.01
    for name, value in (("alpha", alpha), ("beta", beta), ("solvable", A)):
        assert res["parameters"][name]["value"] == pytest.approx(value, rel=0.1)
    # the written fitted curve is Eq. 59 at the reported parameters
    p = {n: v["value"] for n, v in res["parameters"].items()}
    fk = np.asarray(res["fitted"]["k"])
    np.testing.assert_allclose(
        res["fitted"]["passk"], _passk_scipy(fk, p["alpha"], p["beta"], p["solvable"]), rtol=1e-9
    )
    assert (out / "curve_fit.png").stat().st_size > 10_000


BAD = {
    "text_accuracy": ("k,accuracy\n1,0.2\n2,abc\n4,0.5\n", ["line 3", "accuracy"]),
    "k_below_one": ("k,accuracy\n1,0.2\n2,0.3\n0.2,0.4\n", ["line 4", "k = 0.2"]),
    "accuracy_above_one": ("x,y\n1,0.2\n2,1.5\n4,0.5\n", ["line 3", "1.5"]),
    "unknown_column": ("k,accuracy,stderr\n1,0.2,0.01\n", ["line 1", "stderr"]),
    "unrecognised_header": ("a,b\n1,2\n", ["line 1", "header"]),
    "missing_counts_column": ("problem,correct\np1,3\n", ["line 1", "samples"]),
    "correct_exceeds_samples": (
        "problem,correct,samples\np1,3,10\np2,12,10\n",
        ["line 3", "exceeds"],
    ),
    "fractional_count": ("problem,correct,samples\np1,2.5,10\n", ["line 2", "integer"]),
    "short_row": ("k,accuracy\n1,0.2\n2\n", ["line 3", "2 fields"]),
    "header_only": ("k,accuracy\n", ["no data rows"]),
    "empty": ("", ["empty"]),
    "too_few_points": ("k,accuracy\n1,0.2\n2,0.3\n", ["3 points"]),
    "repeated_problem": (
        "problem,correct,samples\np1,3,10\np1,2,10\n",
        ["lines 2 and 3", "one row"],
    ),
    "several_data_sets": (
        "model,problem,correct,samples\na,p1,3,10\na,p2,0,10\nb,p1,5,10\n",
        ["lines 2 and 4", "--where model=b"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_csv_exits_2_with_one_line(case, tmp_path, capsys):
    text, needles = BAD[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    out = tmp_path / "out"
    rc, _, err = _run(["fit", str(path), "--out", str(out)], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ds3jax fit: error:"), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists()


def test_where_fits_one_data_set_of_a_labelled_file(tmp_path, capsys):
    """--where keeps the rows of one data set: the result is the fit of those rows alone,
    written under a name that says which; a label no row has, or a malformed --where, exits
    2 naming it."""
    rng = np.random.default_rng(3)
    psi = rng.beta(0.5, 4.0, (2, 40))
    c = rng.binomial(50, psi)
    rows = ["model,step,problem,correct,samples"]
    rows += [f"m{j},1k,q{i},{c[j, i]},50" for j in range(2) for i in range(40)]
    path = tmp_path / "runs.csv"
    path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    rc, text, _ = _run(
        ["fit", str(path), "--where", "model=m1", "--n-boot", "0", "--out", str(out)], capsys
    )
    assert rc == 0, text
    res = json.loads((out / "runs_model-m1_fit.json").read_text())
    import ds3jax.population as P

    alone = P.fit_passk_counts(c[1], 50, n_boot=0)
    far = res["extrapolation"]
    np.testing.assert_allclose(far["passk"], alone.passk(np.asarray(far["k"])), rtol=1e-9)
    rc, _, err = _run(["fit", str(path), "--where", "model=m7", "--out", str(out)], capsys)
    assert rc == 2 and "model = 'm7'" in err and "'m0', 'm1'" in err
    rc, _, err = _run(["fit", str(path), "--where", "model", "--out", str(out)], capsys)
    assert rc == 2 and "COLUMN=VALUE" in err
    # a repeated column kept only its last value
    argv = ["fit", str(path), "--where", "model=m0", "--where", "model=m1", "--out", str(out)]
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and "names column 'model' twice" in err
    curve = tmp_path / "c.csv"
    curve.write_text("k,accuracy\n1,0.2\n2,0.3\n4,0.4\n")
    rc, _, err = _run(["fit", str(curve), "--where", "model=m1", "--out", str(out)], capsys)
    assert rc == 2 and "counts file" in err


def test_by_fits_every_data_set_of_a_labelled_file(tmp_path, capsys):
    """--by fits each data set on its own (the same numbers as the library on its rows), lists
    a set with no correct sample as skipped, records what each set measures (pass@n with n
    samples each = the share of problems solved at least once), and names a bad column."""
    rng = np.random.default_rng(4)
    c = {"s1": rng.binomial(40, rng.beta(0.5, 4.0, 30)), "s2": rng.binomial(40, rng.beta(1, 3, 30))}
    c["s0"] = np.zeros(30, int)
    path = _write_labelled(tmp_path / "runs.csv", "run", c, 40)
    out = tmp_path / "out"
    rc, text, _ = _run(
        ["fit", str(path), "--by", "run", "--n-boot", "40", "--out", str(out)], capsys
    )
    assert rc == 0, text
    assert "run=s0" in text and "skipped: no correct sample" in text
    # the two sets with a correct sample measured the same 30 problems: --shared is named
    assert "note: 2 data sets measured 30 of the same problems; --shared pools them" in text
    res = json.loads((out / "runs_by-run_fits.json").read_text())
    fits = {f["labels"]["run"]: f for f in res["fits"]}
    assert list(fits) == ["s1", "s2", "s0"] and "passk" not in fits["s0"]
    import ds3jax.population as P

    for r in ("s1", "s2"):
        assert fits[r]["measured"]["passk"] == pytest.approx(np.mean(c[r] > 0), abs=1e-12)
        alone = P.fit_passk_counts(c[r], 40, n_boot=40)
        p = fits[r]["passk"]
        np.testing.assert_allclose(p["passk"], alone.passk(np.asarray(p["k"])), rtol=1e-9)
        lo, hi = alone.passk_interval(np.asarray(p["k"]))
        np.testing.assert_allclose(p["low90"], lo, rtol=1e-9)
        np.testing.assert_allclose(p["high90"], hi, rtol=1e-9)
    assert (out / "runs_by-run_fits.png").stat().st_size > 10_000
    rc, _, err = _run(["fit", str(path), "--by", "rn", "--out", str(tmp_path / "o2")], capsys)
    assert rc == 2 and "no column 'rn'" in err


def test_pooling_hint_needs_two_solved_sets_on_common_problems(tmp_path):
    import ds3jax.population as P
    from experiments._cli_fit_groups import _pooling_hint

    rows = ["run,problem,correct,samples", "a,q0,1,10", "a,q1,0,10", "b,q2,3,10", "c,q1,0,10"]
    path = tmp_path / "runs.csv"
    path.write_text("\n".join(rows) + "\n")
    groups = P.load_count_groups(path, ("run",))
    assert _pooling_hint(P, groups) == ""  # c shares q1 with a, but c solved nothing
    path.write_text("\n".join(rows + ["b,q1,2,10"]) + "\n")
    hint = _pooling_hint(P, P.load_count_groups(path, ("run",)))
    assert "2 data sets measured 1 of the same problems" in hint


def test_by_shared_pools_the_data_sets(tmp_path, capsys):
    """--by ... --shared: one shared-difficulty fit of every data set (the library's numbers
    for each), a set with no correct sample skipped; --shared without --by, or with
    --method, exits 2."""
    rng = np.random.default_rng(8)
    d = rng.normal(3.0, 2.0, 40)
    c = {
        f"m{j}": rng.binomial(50, scipy.special.expit(lv - d + 0.5 * rng.standard_normal(40)))
        for j, lv in enumerate((-1.0, 0.0))
    }
    c["none"] = np.zeros(40, int)
    path = _write_labelled(tmp_path / "models.csv", "model", c, 50)
    out = tmp_path / "out"
    argv = ["fit", str(path), "--by", "model", "--shared", "--n-boot", "40", "--out", str(out)]
    rc, text, _ = _run(argv, capsys)
    assert rc == 0, text
    assert "route shared" in text and "model=none" in text and "skipped" in text
    assert "note:" not in text
    res = json.loads((out / "models_by-model_fits.json").read_text())
    fits = {f["labels"]["model"]: f for f in res["fits"]}
    import ds3jax.population as P

    alone = P.fit_passk_shared(P.load_count_groups(path, ("model",)), None, n_boot=40, seed=0)
    for r in ("m0", "m1"):
        p = fits[r]["passk"]
        assert fits[r]["family"] == "shared"
        np.testing.assert_allclose(p["passk"], alone.passk((r,), np.asarray(p["k"])), rtol=1e-7)
        lo, hi = alone.passk_interval((r,), np.asarray(p["k"]))
        np.testing.assert_allclose(p["low90"], lo, rtol=1e-7)
        np.testing.assert_allclose(p["high90"], hi, rtol=1e-7)
    assert fits["m1"]["level"] > fits["m0"]["level"]
    rc, _, err = _run(["fit", str(path), "--shared", "--out", str(tmp_path / "o2")], capsys)
    assert rc == 2 and "--by" in err
    rc, _, err = _run(argv[:-2] + ["--method", "beta", "--out", str(tmp_path / "o3")], capsys)
    assert rc == 2 and "--method" in err


def test_missing_file_and_bad_option_exit_2(tmp_path, capsys):
    rc, _, err = _run(["fit", str(tmp_path / "nope.csv")], capsys)
    assert rc == 2 and "no such file" in err and len(err.strip().splitlines()) == 1
    good = tmp_path / "c.csv"
    good.write_text("k,accuracy\n1,0.2\n2,0.3\n4,0.4\n")
    rc, _, err = _run(["fit", str(good), "--loss", "l1"], capsys)
    assert rc == 2 and "invalid choice" in err
