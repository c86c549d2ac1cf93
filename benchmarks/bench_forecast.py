"""Forecast across scale: time the whole-table DS3 fit and score several held-out splits.

    python -m benchmarks.bench_forecast [--repeats 2] [--boot 200] [--fit-law] [--external]
        [--coverage]

Prints the wall time of ``ds3jax.forecast.fit_checkpoints`` on the whole shipped Pythia table
(6 sizes x 8 checkpoints x 128 problems; first call includes JIT compilation) and, for each
split, the mean |error| of pass@k (k = 1, 10, 100, 1000) of the DS3 fit, the logistic baseline
and "reuse the nearest trained checkpoint". Timings on a shared machine are inflated.

``--external``: the fit to the whole table against a measurement it never saw, the paper's
pass@k curve of Pythia-2.8B at its final checkpoint (N = 2.8e9, D = 3e11; k = 1 ... 1e4,
``../shared/data/ds3_passk/pythia28B.csv``, from Brown et al.'s repeated sampling on MATH):
the forecast and its 90% bootstrap band at the curve's k, and the measured curve of the
largest trained model (1.4B at 300B tokens) as "reuse".  That measurement used its own
prompts and problem set, so it tests the forecast together with the setups' difference.

``--coverage``: for each split, how often the 90% band holds the held-out measurement
(pass@k at k = 1, 10, 100, 1000 over the problems with n >= k, rows where it is 0 left out),
from the bootstrap alone and widened by the forward-chained errors of the training
checkpoints (``extrapolation_errors`` along the split's axis).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DATA = SHARED / "pythia_math" / "per_problem_counts.csv"
CURVE = SHARED / "ds3_passk" / "pythia28B.csv"

SPLITS = {
    "N <= 410M -> 1B, 1.4B": (lambda N, D: N <= 4.1e8, None),
    "N <= 160M -> 410M": (lambda N, D: N <= 1.6e8, lambda N, D: N == 4.1e8),
    "N <= 160M -> 410M, 1B, 1.4B": (lambda N, D: N <= 1.6e8, None),
    "D <= 60B -> 200B, 300B (all N)": (lambda N, D: D <= 6e10, None),
    "D <= 20B -> 60B..300B (all N)": (lambda N, D: D <= 2e10, None),
}
AXIS = {name: name[0] for name in SPLITS}  # the axis each split extrapolates along


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--boot", type=int, default=200)
    p.add_argument("--no-splits", action="store_true")
    p.add_argument("--fit-law", action="store_true", help="free loss-law constants (not default)")
    p.add_argument("--external", action="store_true", help="score against Pythia-2.8B's curve")
    p.add_argument("--coverage", action="store_true", help="90% band coverage per split")
    args = p.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    from ds3jax import forecast

    table = forecast.load_table(DATA)
    for r in range(args.repeats):
        t0 = time.perf_counter()
        fit = forecast.fit_checkpoints(table, n_boot=args.boot, fit_law=args.fit_law)
        dt = time.perf_counter() - t0
        print(f"whole table fit #{r + 1}: {dt:.1f} s, {fit.n_iter} Newton steps, {fit.message}")
    if args.external:
        external(fit, table, args.fit_law)
    if args.coverage:
        coverage(table, args.boot, args.fit_law)
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


def coverage(table, n_boot, fit_law):
    """Print, per split, the 90% band's coverage of the held-out measurements."""
    import numpy as np

    from ds3jax import forecast
    from ds3jax.population import passk_from_counts

    print(f"\n{'split':<34}{'rows':>6}{'bootstrap':>18}{'with errors':>20}")
    for name, (train, test) in SPLITS.items():
        tr = table.select(train)
        te = table.select(test if test is not None else (lambda N, D: not train(N, D)))
        fit = forecast.fit_checkpoints(tr, n_boot=n_boot, fit_law=fit_law)
        errors = forecast.extrapolation_errors(
            tr, along=AXIS[name], fit_kwargs=dict(fit_law=fit_law)
        )
        held = {False: [], True: []}
        width = {False: [], True: []}
        for k in (1, 10, 100, 1000):
            for j, (N, D) in enumerate(te.checkpoints()):
                c, n = te.correct[:, j], te.samples[:, j]
                ok = n >= k
                if ok.sum() == 0:
                    continue
                y = float(passk_from_counts(c[ok], n[ok], k))
                if y == 0:
                    continue
                for use in (False, True):
                    lo, hi = fit.passk_interval(N, D, k, errors=errors if use else None)
                    held[use].append(lo <= y <= hi)
                    width[use].append(hi - lo)
        cells = [f"{np.mean(held[u]):.0%} (w {np.mean(width[u]):.2f})" for u in (False, True)]
        print(f"{name:<34}{len(held[True]):>6}{cells[0]:>18}{cells[1]:>20}", flush=True)


def external(fit, table, fit_law=False):
    """Print the forecast for Pythia-2.8B at 300B tokens against the paper's measured curve."""
    import numpy as np

    from ds3jax.forecast import extrapolation_errors
    from ds3jax.population import load_curve, passk_from_counts

    curve = load_curve(CURVE)
    k, y = np.asarray(curve.k), np.asarray(curve.y)
    pred = np.asarray(fit.passk(2.8e9, 3e11, k))
    lo, hi = (np.asarray(a) for a in fit.passk_interval(2.8e9, 3e11, k))
    errors = extrapolation_errors(table, along="N", fit_kwargs=dict(fit_law=fit_law))
    wlo, whi = (np.asarray(a) for a in fit.passk_interval(2.8e9, 3e11, k, errors=errors))
    N, D = np.asarray(table.N), np.asarray(table.D)
    j = int(np.flatnonzero((N == N.max()) & (D == D.max()))[0])
    c, n = np.asarray(table.correct)[:, j], np.asarray(table.samples)[:, j]
    reuse = np.array([float(passk_from_counts(c[n >= kk], n[n >= kk], kk)) for kk in k])
    print("\nPythia-2.8B at 3e11 tokens (never seen) against its measured pass@k curve")
    print(
        f"{'k':>8}{'measured':>10}{'ds3':>8}{'90% band':>16}{'with errors':>18}{'reuse 1.4B':>12}"
    )
    for row in zip(k, y, pred, lo, hi, wlo, whi, reuse):
        print("{:8.4g}{:10.3f}{:8.3f}   [{:.3f}, {:.3f}]   [{:.3f}, {:.3f}]{:12.3f}".format(*row))
    inside = np.mean((lo <= y) & (y <= hi))
    wide = np.mean((wlo <= y) & (y <= whi))
    print(
        f"mean |error|: ds3 {np.abs(pred - y).mean():.4f}, reuse {np.abs(reuse - y).mean():.4f}; "
        f"mean signed: ds3 {(pred - y).mean():+.4f}, reuse {(reuse - y).mean():+.4f}\n"
        f"the band holds {inside:.0%} of the points; with the {len(errors)} forward-chained "
        f"errors along N (extrapolation_errors) {wide:.0%}, mean width {np.mean(whi - wlo):.3f}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
