"""``ds3jax fit-loss`` and ``ds3jax frontier --loss-fit``: outputs, and bad input exits 2
with one line naming the line of the file, nothing written."""

import json

import numpy as np
import pytest

import ds3jax
from experiments.cli import main


def write_runs(path, n=60, flops=True, seed=0):
    rng = np.random.default_rng(seed)
    N = 10 ** rng.uniform(7.5, 10.0, n)
    D = 10 ** rng.uniform(9.0, 11.5, n)
    L = np.asarray(ds3jax.loss(ds3jax.LossLaw.epoch_refit(), N, D))
    L = L * np.exp(0.005 * rng.standard_normal(n))
    col = "training_flops" if flops else "n_tokens"
    rows = [f"n_params,{col},loss"]
    rows += [f"{a:.17g},{(6 * a * b if flops else b):.17g},{c:.17g}" for a, b, c in zip(N, D, L)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("fitloss")
    csv = write_runs(root / "runs.csv")
    out = root / "out"
    assert main(["fit-loss", str(csv), "--out", str(out), "--bootstrap", "40"]) == 0
    return csv, out


def test_fit_loss_writes_json_and_figure(fitted, capsys):
    csv, out = fitted
    assert {p.name for p in out.iterdir()} == {"loss_fit.json", "loss_fit.png"}
    res = json.loads((out / "loss_fit.json").read_text())
    true = ds3jax.LossLaw.epoch_refit()
    assert abs(res["law"]["E"] / true.E - 1) < 0.02
    assert len(res["bootstrap"]["theta"]) == 40
    for k, (lo, hi) in res["bootstrap"]["intervals"].items():
        assert lo <= res["law"][k] <= hi
    assert (out / "loss_fit.png").read_bytes()[:4] == b"\x89PNG"
    # the same fit from n_tokens instead of FLOPs
    csv2 = write_runs(csv.parent / "tokens.csv", flops=False)
    out2 = csv.parent / "out2"
    assert main(["fit-loss", str(csv2), "--out", str(out2), "--bootstrap", "0"]) == 0
    res2 = json.loads((out2 / "loss_fit.json").read_text())
    np.testing.assert_allclose(res2["theta"], res["theta"], rtol=1e-6, atol=1e-8)
    text = capsys.readouterr().out
    assert "alpha" in text and "do not determine" not in text and res["unidentified"] == []


def test_fit_loss_says_which_constants_the_runs_do_not_determine(tmp_path, capsys):
    # every run within 15% of D = 1e10: B / D^beta cannot be told from E (the library's
    # test checks that beta is then really free)
    rng = np.random.default_rng(1)
    N = np.repeat([1e8, 3e8, 1e9, 3e9], 4)
    D = np.tile([1.0e10, 1.05e10, 1.1e10, 1.15e10], 4)
    L = np.asarray(ds3jax.loss(ds3jax.LossLaw.epoch_refit(), N, D))
    L = L * np.exp(rng.normal(0.0, 0.001, N.size))
    rows = ["n_params,n_tokens,loss"] + [f"{a:.17g},{b:.17g},{c:.17g}" for a, b, c in zip(N, D, L)]
    csv = tmp_path / "narrow.csv"
    csv.write_text("\n".join(rows) + "\n")
    assert main(["fit-loss", str(csv), "--out", str(tmp_path / "o")]) == 0
    out, err = capsys.readouterr()
    assert "warning: these runs do not determine B, beta" in out and "UserWarning" not in err
    res = json.loads((tmp_path / "o" / "loss_fit.json").read_text())
    assert res["unidentified"] == ["B", "beta"]


def test_fit_loss_with_rounded_losses_writes_its_figure(tmp_path):
    # coarsely rounded losses: the contour levels (quantiles of the losses) tied and
    # matplotlib refused them after the fit, so nothing was written
    csv = write_runs(tmp_path / "runs.csv")
    lines = csv.read_text().splitlines()
    rounded = [lines[0]] + [
        ",".join(r.split(",")[:2] + [f"{round(2 * float(r.split(',')[2])) / 2:.1f}"])
        for r in lines[1:]
    ]
    csv.write_text("\n".join(rounded) + "\n")
    assert main(["fit-loss", str(csv), "--out", str(tmp_path / "o"), "--bootstrap", "0"]) == 0
    assert (tmp_path / "o" / "loss_fit.png").read_bytes()[:4] == b"\x89PNG"


def test_fit_loss_refuses_one_bootstrap_replicate_before_fitting(tmp_path, capsys):
    csv = write_runs(tmp_path / "runs.csv")
    assert main(["fit-loss", str(csv), "--out", str(tmp_path / "o"), "--bootstrap", "1"]) == 2
    assert "--bootstrap" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "text, msg",
    [
        ("n_params,flops,loss\n1e8,1e18,3.0\n", "n_tokens' or 'training_flops"),
        ("params,n_tokens,loss\n1e8,1e9,3.0\n", "missing column 'n_params'"),
        ("n_params,n_tokens,loss\n1e8,1e9,3.0\n-1e8,1e9,3.0\n", "line 3: n_params"),
        ("n_params,n_tokens,loss\n1e8,1e9,nan\n", "line 2: loss"),
        ("n_params,n_tokens,loss\n1e8,0,3.0\n", "line 2: n_tokens"),
        ("n_params,n_tokens,loss\n1e8,1e9,abc\n", "line 2: column 'loss': expected a number"),
        ("n_params,n_tokens,loss\n1e8,1e9,3.0\n2e8,1e9,2.9\n", "need at least 6"),
        ("", "empty"),
    ],
)
def test_fit_loss_bad_input_exits_2(tmp_path, capsys, text, msg):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    out = tmp_path / "out"
    assert main(["fit-loss", str(f), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]
    assert not out.exists()


def test_frontier_loss_fit_bad_input_exits_2(fitted, tmp_path, capsys):
    _, fit_dir = fitted
    out = tmp_path / "out"
    cases = [
        ["--loss-fit", str(tmp_path / "nowhere")],
        ["--loss-fit", str(fit_dir), "--bootstrap", "100"],  # only 40 stored
        ["--bootstrap", "10"],  # no --loss-fit
    ]
    for extra in cases:
        assert main(["frontier", "--out", str(out), *extra]) == 2
        assert "error" in capsys.readouterr().err
        assert not out.exists()


@pytest.mark.slow  # compiles the paper_fig8 solver for both planes and the warm bands
def test_frontier_with_loss_fit_and_bands(fitted, tmp_path):
    _, fit_dir = fitted
    out = tmp_path / "run"
    argv = ["frontier", "--budgets", "3", "--cmin", "1e20", "--cmax", "1e22", "--out", str(out)]
    assert main(argv + ["--loss-fit", str(fit_dir), "--bootstrap", "4"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert "bands" in res and len(res["bands"]["low"]["N_global"]) == 3
    lo, hi = np.array(res["bands"]["low"]["N_global"]), np.array(res["bands"]["high"]["N_global"])
    assert np.all(lo <= hi)
    assert (out / "frontier.png").read_bytes()[:4] == b"\x89PNG"
