"""How far the counts alone reach: assumption-free pass@k bounds on the forecast benchmark.

    python -m benchmarks.bench_passk_bounds [--m 100] [--seeds 10] [--sets 10] [--data FILE]

The data sets of ``bench_passk_forecast`` (every checkpoint's problems with >= 10,000
samples, subsampled to m per problem, ``seeds`` seeds): ``passk_bounds`` at k = 2m, 1e3 and
1e4 (90%), their mean width, how often they hold the full-data estimate, and how often the
default forecast's 90% interval lies inside them.  Also the synthetic populations of
``bench_passk_synthetic`` (``--sets`` sets each).  The width says what share of pass@k beyond the
data no count can settle: the rest of any forecast's precision comes from its assumptions.
"""

from __future__ import annotations

import argparse

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument(
        "--n-boot", type=int, default=400, help="the default's replicates (0: bounds only)"
    )
    ap.add_argument("--sets", type=int, default=10, help="synthetic sets per population")
    ap.add_argument("--data", default=None)
    args = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as P

    from .bench_passk_forecast import DATA, checkpoints, require, subsample
    from .bench_passk_synthetic import POPULATIONS, exact_passk

    ks = np.array([2.0 * args.m, 1e3, 1e4])
    rows = []
    data = args.data or DATA
    for c, n in require(checkpoints(data), data, 32).values():
        truth = np.asarray(P.passk_from_counts(c, n, ks))
        for seed in range(args.seeds):
            cs = subsample(c, n, args.m, seed)
            if cs.any():
                rows.append(_one(P, cs, args.m, truth, ks, args.n_boot, seed))
    _report(f"Pythia checkpoints, m = {args.m} ({len(rows)} data sets)", rows, ks)
    for name, draw in POPULATIONS.items():
        rows = []
        for s in range(args.sets):
            rng = np.random.default_rng(7000 + s)
            psi = draw(rng, 128)
            cs = rng.binomial(args.m, psi)
            if cs.any():
                rows.append(_one(P, cs, args.m, exact_passk(psi, ks), ks, args.n_boot, s))
        _report(f"{name}, m = {args.m}", rows, ks)


def _one(P, c, m, truth, ks, n_boot, seed):
    lo, hi = P.passk_bounds(c, m, ks)
    if not n_boot:  # the bounds alone
        return hi - lo, (lo <= truth) & (truth <= hi), np.full(ks.shape, np.nan)
    fit = P.fit_passk_counts(c, m, n_boot=n_boot, seed=seed)
    flo, fhi = fit.passk_interval(ks)
    return hi - lo, (lo <= truth) & (truth <= hi), (lo <= flo) & (fhi <= hi)


def _report(label, rows, ks):
    if not rows:
        print(f"{label}: no data set to bound", flush=True)
        return
    w, hold, inside = (np.array([r[i] for r in rows]) for i in range(3))
    cells = " | ".join(
        f"k={k:g}: width {w[:, i].mean():.2f}, holds {hold[:, i].mean():.0%}"
        + (
            ""
            if np.isnan(inside).any()
            else f", forecast interval inside {inside[:, i].mean():.0%}"
        )
        for i, k in enumerate(ks)
    )
    print(f"{label}: {cells}", flush=True)


if __name__ == "__main__":
    main()
