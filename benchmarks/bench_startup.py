"""Benchmark: start-up latency of the ``ds3jax`` command (issue 16 targets).

Times, in fresh interpreters (``python -m experiments.cli``), the exit of

* a bad argument (``frontier --budgets twelve``),
* a bad TOML value (``frontier --config bad.toml`` with ``budgets = 12.5``),
* an unusable output folder (``frontier --out FILE``),

and, for a valid ``frontier`` run, the time until the first line on stderr (the status line)
is written; the run is then stopped. Targets: each bad-input exit < 1 s, first line < 2 s.
Prints the median and the worst of ``--repeats`` runs.

Usage: python benchmarks/bench_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "experiments.cli"]


def time_exit(argv) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(CLI + argv, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 2:
        raise SystemExit(f"expected exit 2 from {argv}, got {r.returncode}: {r.stderr}")
    return dt


def time_first_line(argv) -> float:
    t0 = time.perf_counter()
    p = subprocess.Popen(
        CLI + argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        line = p.stderr.readline()
        dt = time.perf_counter() - t0
    finally:
        p.kill()
        p.wait()
    if not line.strip():
        raise SystemExit(f"no stderr line from {argv}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        bad = d / "bad.toml"
        bad.write_text("[frontier]\nbudgets = 12.5\n")
        a_file = d / "a_file"
        a_file.write_text("")
        cases = {
            "bad argument exit": lambda: time_exit(["frontier", "--budgets", "twelve"]),
            "bad config exit": lambda: time_exit(["frontier", "--config", str(bad)]),
            "bad --out exit": lambda: time_exit(["frontier", "--out", str(a_file)]),
            "frontier first line": lambda: time_first_line(
                ["frontier", "--budgets", "3", "--out", str(d / "out")]
            ),
        }
        print(f"{'case':<22}{'median [s]':>12}{'worst [s]':>12}   ({args.repeats} runs)")
        for name, fn in cases.items():
            ts = [fn() for _ in range(args.repeats)]
            print(f"{name:<22}{statistics.median(ts):>12.3f}{max(ts):>12.3f}")


if __name__ == "__main__":
    main()
