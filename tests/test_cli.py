"""The ``ds3jax`` command: bad input exits 2 with one line; a small frontier run writes files."""

import json

import pytest

from experiments.cli import main


@pytest.mark.parametrize(
    "argv",
    [
        ["frontier", "--budgets", "1"],
        ["frontier", "--cmin", "-5"],
        ["frontier", "--cmin", "1e22", "--cmax", "1e21"],
        ["frontier", "--kappa", "0"],
        ["frontier", "--cmin", "1"],  # below the smallest feasible budget
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
    assert "power-law exponent" in capsys.readouterr().out
