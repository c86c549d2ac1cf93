"""The ``ds3jax`` command: bad input exits 2 with one line; a small frontier run writes files."""

import json

import jax
import numpy as np
import pytest

from experiments._config import ConfigError, load_config
from experiments.cli import main
from optim.presets import paper_fig8

EXAMPLE = "experiments/configs/paper_fig8.toml"


@pytest.mark.parametrize(
    "argv",
    [
        ["frontier", "--budgets", "1"],
        ["frontier", "--cmin", "-5"],
        ["frontier", "--cmin", "1e22", "--cmax", "1e21"],
        ["frontier", "--kappa", "0"],
        ["frontier", "--cmin", "1"],  # below the smallest feasible budget
        ["frontier", "--plane", "fixed_tokens"],  # no --tokens
        # the other plane's option was recorded in results.json and ignored
        ["frontier", "--tokens", "5"],
        ["frontier", "--plane", "fixed_tokens", "--tokens", "5", "--kappa", "10"],
        ["frontier", "--strategy", "tot:zero"],
        ["frontier", "--config", "no/such/file.toml"],
        ["nonsense"],
    ],
)
def test_bad_input_exits_2_with_one_line(argv, capsys, tmp_path):
    assert main(argv + (["--out", str(tmp_path)] if argv[0] == "frontier" else [])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "error" in err[-1]
    assert not any(tmp_path.iterdir())  # nothing written


def test_small_frontier_run_writes_results(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["frontier", "--budgets", "3", "--cmin", "1e20", "--cmax", "1e22", "--out", str(out)]
    assert main(argv) == 0
    assert {p.name for p in out.iterdir()} == {"results.json", "frontier.csv", "frontier.png"}
    res = json.loads((out / "results.json").read_text())
    for plane in ("global", "chinchilla"):
        r = res["planes"][plane]
        assert len(r["N"]) == 3
        # the compute constraint holds for what was written
        for n, d, om, b in zip(r["N"], r["D"], r["Omega"], res["budgets"]):
            assert abs(6 * n * d + 2 * n * 1e9 * om - b) <= 1e-9 * b
    assert (out / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    text = capsys.readouterr().out
    assert "power-law exponent" in text
    # budgets whose global accuracy the Chinchilla path never reaches by C_max have no
    # penalty (it exceeds C_max / C): counted and said, not dropped from the median silently
    g, c = (np.asarray(res["planes"][p]["value"]) for p in ("global", "chinchilla"))
    unmatched = int(np.sum(g > np.max(c)))
    assert unmatched >= 1 and res["summary"]["compute_penalty"]["unmatched"] == unmatched
    assert f"note: at {unmatched} of 3 budgets the chinchilla path does not reach" in text


def test_frontier_over_saturated_budgets_says_so(tmp_path, capsys):
    # from ~1e28 FLOPs the default problem's accuracy is 1 to float precision on both planes:
    # the optimum is flat, and exponents fitted through those budgets (R^2 0.26) and a
    # compute ratio below 1 (0.51x) were printed as results
    out = tmp_path / "run"
    argv = ["frontier", "--budgets", "6", "--cmin", "1e24", "--cmax", "1e34", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    g, c = (np.asarray(res["planes"][p]["value"]) for p in ("global", "chinchilla"))
    flat = (1 - g <= 1e-9) & (1 - c <= 1e-9)
    assert 3 < flat.sum() < 6  # the test's premise: most, not all, budgets saturated
    s = res["summary"]
    assert s["saturated"]["budgets"] == flat.sum()
    assert s["saturated"]["from"] == pytest.approx(np.asarray(res["budgets"])[flat].min())
    assert f"note: at {flat.sum()} of 6 budgets (C >= 1e+28) the accuracy is 1" in text
    # one budget left below the global plane's saturation: no exponent, said so; the
    # Chinchilla plane's two are fitted as optim.compare_frontiers fits them
    assert (1 - g > 1e-9).sum() == 1 and (1 - c > 1e-9).sum() == 2
    assert s["fits"]["global"]["N"] is None and "n/a: fewer than 2 budgets" in text
    live = 1 - c > 1e-9
    for key in ("N", "D", "Omega"):
        y = np.log10(np.asarray(res["planes"]["chinchilla"][key])[live])
        x = np.log10(np.asarray(res["budgets"])[live])
        slope = (y[1] - y[0]) / (x[1] - x[0])
        assert s["fits"]["chinchilla"][key]["exponent"] == pytest.approx(slope, rel=1e-9)
    # the compute ratio is not computed where both planes are saturated, and is >= 1 elsewhere
    pen = s["compute_penalty_per_budget"]
    assert all(v is None for v, f in zip(pen, flat) if f)
    assert all(v >= 1 - 1e-6 for v in pen if v is not None)
    # kappa* and the inference shares are quoted at each plane's last budget below saturation
    b = np.asarray(res["budgets"])
    for plane, acc in (("global", g), ("chinchilla", c)):
        assert s["last_budget"][plane] == pytest.approx(b[1 - acc > 1e-9].max())
    assert "(the last before saturation)" in text


def test_config_with_a_byte_order_mark_is_read(tmp_path):
    # "Invalid statement (at line 1, column 1)" before; the CSV readers accept the mark
    import pathlib

    src = pathlib.Path(__file__).resolve().parents[1] / EXAMPLE
    cfg = tmp_path / "bom.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    problem, opts = load_config(cfg)
    assert opts == load_config(src)[1]


def test_example_config_is_the_default_problem():
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / EXAMPLE
    problem, opts = load_config(path)
    ref = paper_fig8()
    a, b = jax.tree_util.tree_flatten(problem), jax.tree_util.tree_flatten(ref)
    assert a[1] == b[1]  # same structure and static fields (strategy, charge, kernel, ...)
    for x, y in zip(a[0], b[0]):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-15)
    assert opts["plane"] == "chinchilla" and opts["kappa"] == 20.0 and opts["budgets"] == 60


@pytest.mark.parametrize(
    "text, msg",
    [
        ("[loss]\npreset = 'hoffmann_rounded'\nfoo = 1\n", "unknown key loss.foo"),
        ("[weird]\n", "unknown section"),
        ("[transfer]\nb = -5\n", "transfer.b"),
        ("[tasks]\nm = [0, 1]\n", "tasks.m"),
        ("[inference]\nomega = 'many'\n", "inference.omega"),
        ("[frontier]\nplane = 'fixed_tokens'\n", "needs frontier.tokens"),
        ("[loss\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, capsys, text, msg):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=msg):
        load_config(cfg)
    out = tmp_path / "out"
    assert main(["frontier", "--config", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg.split()[0] in err[0]
    assert not out.exists()
