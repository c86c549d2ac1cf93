"""Pooling data sets on the same problems: ``fit_passk_shared`` against the one-data-set routes.

    python -m benchmarks.bench_passk_shared [--m 100] [--seeds 5] [--group checkpoint]
        [--smoothness 10] [--n-boot 1000] [--no-intervals] [--data FILE.csv]
    python -m benchmarks.bench_passk_shared --ladder TAU [--sets 10]
    python -m benchmarks.bench_passk_shared --timing [--n-boot 1000]

The benchmark of ``bench_passk_forecast`` (every checkpoint with >= 32 problems of >= 10,000
samples; each such problem subsampled to m samples with the same seeds, so the default's and
the power law's numbers are those of that benchmark), with every other (data set, problem)
of the file thinned to min(n, m) as well: what a user has who ran m samples of several models on
the same problems.  ``--group`` says which data sets are pooled: ``checkpoint`` (the models
at one checkpoint: several models, one benchmark), ``model`` (one model's checkpoints) or
``all``; a file with only one of the two columns (say, several models on one benchmark)
is one pool under the other grouping.  Prints, per target data set and on average, mean
|error| at k = 1e3 and 1e4 of the shared fit, of the default route and of the power law on
the same subsamples, and the shared fit's 90% coverage.

``--ladder TAU`` replaces the file by a synthetic stand-in for "7 models on the same 128
problems": success rates drawn from the population read off the paper's Pythia-2.8B curve
(``bench_passk_synthetic --curves``), made into seven models by lowering their log-odds by
DELTA = -0.5, 0, 0.5, 1, 1.5, 2, 3 plus an interaction N(0, TAU^2) per problem and model (at
TAU = 0 a model is a pure shift of another, the shared model's own assumption; real models
disagree about which problems are hard), m samples seen, scored against the unbiased
estimate from 10,000 (``--sets`` sets).

``--timing``: on the ladder's first set (TAU 1 unless given), the median of 5 warm runs of
the fit alone (``n_boot=0``) and of one data set's pass@k and 90% interval at two k with
``--n-boot`` replicates (each run a new fit object, so its parameter draws are made anew).
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from benchmarks.bench_passk_forecast import DATA, Pools, load_groups, select, subsample

KS = np.array([1e3, 1e4])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--m", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--smoothness", type=float, default=10.0)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--no-intervals", action="store_true")
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--group", choices=("all", "model", "checkpoint"), default="checkpoint")
    ap.add_argument("--ladder", type=float, default=None, metavar="TAU")
    ap.add_argument("--sets", type=int, default=10)
    ap.add_argument("--timing", action="store_true", help="time the fit and an interval")
    args = ap.parse_args(argv)
    if args.timing:
        return timing(args)
    if args.ladder is not None:
        return ladder(args)

    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as P

    by, groups = load_groups(args.data)
    if not by:
        raise SystemExit(f"{args.data}: pooling needs a model or checkpoint column")
    pools = Pools(P, by, groups, args.m, args.group, smoothness=args.smoothness, n_boot=args.n_boot)
    data = select(groups)
    res = collections.defaultdict(list)
    times = []
    for seed in range(args.seed0, args.seed0 + args.seeds):
        subs = {key: subsample(c, n, args.m, seed) for key, (c, n) in data.items()}
        fits, seconds = pools.fits(seed, subs)
        times.extend(seconds)
        for key, sub in subs.items():
            if not sub.any() or key not in fits:  # nothing to score, or nothing to pool with
                continue
            fit, idx = fits[key]
            c, n = data[key]
            truth = np.asarray(P.passk_from_counts(c, n, KS))
            res[key].append(_score(P, fit, key, sub, truth, args, seed, problems=idx))
        print(f"seed {seed} done", flush=True)
    _table(
        f"--group {args.group} --smoothness {args.smoothness} --m {args.m}: mean |error| at "
        f"1e3 / 1e4 (shared fit: median {np.median(times):.1f} s per fit, without intervals)",
        "data set",
        [(" ".join(map(str, key)), res[key]) for key in sorted(res)],
    )


def _score(P, fit, name, sub, truth, args, seed, problems=None):
    """[shared, default, power law] errors at KS and the shared interval's coverage (NaN
    without intervals, or where the power law cannot fit ``sub``)."""
    shared = fit.passk(name, KS, problems=problems)
    ens = np.asarray(P.fit_passk_counts(sub, args.m, n_boot=0, seed=seed).passk(KS))
    try:
        pl = np.asarray(P.fit_passk_counts(sub, args.m, method="power_law", n_boot=0).passk(KS))
    except ValueError:
        pl = np.full(2, np.nan)
    cover = np.full(2, np.nan)
    if not args.no_intervals:
        lo, hi = fit.passk_interval(name, KS, problems=problems)
        cover = ((lo <= truth) & (truth <= hi)).astype(float)
    return np.concatenate([shared - truth, ens - truth, pl - truth, cover])


def _table(title, label, rows):
    """The Markdown table of ``rows`` [(label, [fits x 8 errors and coverage])], and their
    mean over every fit."""
    print(f"\n{title}")
    print(f"| {label} | fits | shared | default | power law | shared 90% coverage |")
    print("|---|---|---|---|---|---|")
    for name, e in rows:
        print(f"| {name} | {len(e)} | " + _cells(np.array(e)) + " |")
    every = np.concatenate([np.array(e) for _, e in rows])
    print(f"| mean | {len(every)} | " + _cells(every) + " |")


LADDER = (-0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


def _ladder_set(draw, tau, seed, m):
    """One set of the ladder: (counts of m samples, counts of 10,000), [128, 7] each."""
    from scipy.special import expit, logit

    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore"):
        base = logit(draw(rng, 128))
    psi = expit(base[:, None] - np.array(LADDER)[None] + tau * rng.standard_normal((128, 7)))
    c = rng.binomial(m, psi)
    return c, c + rng.binomial(10_000 - m, psi)


def timing(args):
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as P
    from benchmarks.bench_passk_synthetic import curve_population

    _, _, draw = curve_population("pythia28B")
    tau = 1.0 if args.ladder is None else args.ladder
    c, _ = _ladder_set(draw, tau, 30_000 + args.seed0, args.m)
    n = np.full_like(c, args.m)
    rows = []
    for rep in range(6):
        t0 = time.perf_counter()
        P.fit_passk_shared(c, n, n_boot=0)
        t1 = time.perf_counter()
        fit = P.fit_passk_shared(c, n, n_boot=args.n_boot)
        t2 = time.perf_counter()
        fit.passk(1, KS)
        fit.passk_interval(1, KS)
        t3 = time.perf_counter()
        if rep:  # the first run compiles
            rows.append((t1 - t0, t3 - t2))
    a = np.median(np.array(rows), axis=0)
    print(
        f"7 data sets x 128 problems, {args.m} samples each (ladder TAU {tau}); median of 5 "
        f"warm runs: fit {a[0]:.2f} s; one data set's pass@k and interval at 2 k with "
        f"{args.n_boot} replicates {a[1]:.2f} s"
    )


def ladder(args):
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as P
    from benchmarks.bench_passk_synthetic import curve_population

    _, _, draw = curve_population("pythia28B")
    res = collections.defaultdict(list)
    for s in range(args.sets):
        c, full = _ladder_set(draw, args.ladder, 30_000 + args.seed0 + s, args.m)
        fit = P.fit_passk_shared(
            c,
            np.full_like(c, args.m),
            smoothness=args.smoothness,
            n_boot=args.n_boot,
            seed=s,
        )
        for j, delta in enumerate(LADDER):
            if c[:, j].any():
                truth = np.asarray(P.passk_from_counts(full[:, j], 10_000, KS))
                res[delta].append(_score(P, fit, j, c[:, j], truth, args, s))
        print(f"set {s} done", flush=True)
    _table(
        f"--ladder {args.ladder} --m {args.m}: mean |error| at 1e3 / 1e4",
        "DELTA",
        [(delta, res[delta]) for delta in LADDER],
    )


def _cells(e):
    a = np.abs(e[:, :6])
    out = [f"{np.nanmean(a[:, i]):.3f} / {np.nanmean(a[:, i + 1]):.3f}" for i in (0, 2, 4)]
    cov = e[:, 6:]
    if np.isfinite(cov).any():
        out.append(f"{100 * np.nanmean(cov[:, 0]):.0f}% / {100 * np.nanmean(cov[:, 1]):.0f}%")
    else:
        out.append("-")
    return " | ".join(out)


if __name__ == "__main__":
    main()
