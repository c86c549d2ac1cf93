"""``ds3jax fit``: recovers known parameters from synthetic CSVs, writes JSON + PNG, and bad
input exits 2 with one line naming the line or column (and writes nothing)."""

import json

import numpy as np
import pytest
import scipy.special

from experiments.cli import main


def _passk_scipy(k, alpha, beta, A):
    """Eq. 59 with scipy's betaln (independent of the library)."""
    k = np.asarray(k, float)
    return A * (
        1.0 - np.exp(scipy.special.betaln(alpha, beta + k) - scipy.special.betaln(alpha, beta))
    )


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
        ["fit", str(path), "--out", str(out), "--method", "beta", "--n-boot", "0"], capsys
    )
    assert rc == 0, err
    assert "alpha" in stdout and "std. error" in stdout and "RMSE" in stdout
    res = json.loads((out / "counts_fit.json").read_text())
    assert res["kind"] == "counts" and res["n_obs"] == problems
    for name, value in truth.items():
        p = res["parameters"][name]
        assert 0 < p["stderr"] < 0.2 * value
        assert abs(p["value"] - value) < 4 * p["stderr"], (name, p, value)
    assert res["rmse"] < 0.01 and res["loglik"] < 0
    assert (out / "counts_fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))


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


def test_missing_file_and_bad_option_exit_2(tmp_path, capsys):
    rc, _, err = _run(["fit", str(tmp_path / "nope.csv")], capsys)
    assert rc == 2 and "no such file" in err and len(err.strip().splitlines()) == 1
    good = tmp_path / "c.csv"
    good.write_text("k,accuracy\n1,0.2\n2,0.3\n4,0.4\n")
    rc, _, err = _run(["fit", str(good), "--loss", "l1"], capsys)
    assert rc == 2 and "invalid choice" in err
