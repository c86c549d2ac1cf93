"""Every figure module runs in its quick mode and writes a readable PNG and strict JSON.

Figure-specific checks of the plotted numbers (the paper's qualitative claims, compared with
independent references) live in tests/test_experiments_*.py.
"""

import json

import pytest

from experiments import available, run_experiment
from experiments.cli import main


@pytest.mark.parametrize("name", available())
def test_quick_run_writes_png_and_json(name, tmp_path):
    res = run_experiment(name, tmp_path, quick=True)
    png = res["png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    payload = json.loads(res["json"].read_text())
    assert payload["figure"] == name and payload["quick"] is True
    assert payload["title"] and payload["data"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_unknown_figure_exits_2(capsys):
    assert main(["figure", "fig999"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown figure" in err[0]
