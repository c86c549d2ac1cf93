"""Forecast across scale: time the whole-table DS3 fit and score several held-out splits.

    python -m benchmarks.bench_forecast [--repeats 2] [--boot 200] [--fit-law]

Prints the wall time of ``ds3jax.forecast.fit_checkpoints`` on the whole shipped Pythia table
(6 sizes x 8 checkpoints x 128 problems; first call includes JIT compilation) and, for each
split, the mean |error| of pass@k (k = 1, 10, 100, 1000) of the DS3 fit, the logistic baseline
and "reuse the nearest trained checkpoint". Timings on a shared machine are inflated.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax

DATA = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "pythia_math"
    / "per_problem_counts.csv"
)

SPLITS = {
    "N <= 410M -> 1B, 1.4B": (lambda N, D: N <= 4.1e8, None),
    "N <= 160M -> 410M": (lambda N, D: N <= 1.6e8, lambda N, D: N == 4.1e8),
    "N <= 160M -> 410M, 1B, 1.4B": (lambda N, D: N <= 1.6e8, None),
    "D <= 60B -> 200B, 300B (all N)": (lambda N, D: D <= 6e10, None),
    "D <= 20B -> 60B..300B (all N)": (lambda N, D: D <= 2e10, None),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--boot", type=int, default=200)
    p.add_argument("--no-splits", action="store_true")
    p.add_argument("--fit-law", action="store_true", help="free loss-law constants (not default)")
    args = p.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    from ds3jax import forecast

    table = forecast.load_table(DATA)
    for r in range(args.repeats):
        t0 = time.perf_counter()
        fit = forecast.fit_checkpoints(table, n_boot=args.boot)
        dt = time.perf_counter() - t0
        print(f"whole table fit #{r + 1}: {dt:.1f} s, {fit.n_iter} Newton steps, {fit.message}")
    if args.no_splits:
        return 0
    print(f"\n{'split':<34}{'ds3':>8}{'baseline':>10}{'reuse':>8}")
    for name, (train, test) in SPLITS.items():
        res = forecast.forecast_holdout(
            table,
            train=train,
            test=test,
            fit_kwargs=dict(n_boot=20, fit_law=args.fit_law),
            baseline_kwargs=dict(n_boot=20),
        )
        m = res.mean_abs_error
        print(f"{name:<34}{m['ds3']:8.4f}{m['baseline']:10.4f}{m.get('reuse', float('nan')):8.4f}")
        for meth in m:
            print("   ", meth, {k: round(v, 4) for k, v in res.by_k[meth].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
