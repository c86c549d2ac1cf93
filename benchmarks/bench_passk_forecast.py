"""pass@k forecasts from few samples per problem, against the full-data estimate (issue 12).

    python -m benchmarks.bench_passk_forecast [--m 100] [--seeds 10] [--n-boot 1000]
        [--routes ensemble,auto,...,shared] [--pool checkpoint] [--min-problems 32]
        [--out FILE.json]
    python -m benchmarks.bench_passk_forecast --timing [--routes ensemble]
    python -m benchmarks.bench_passk_forecast --adaptive 0.1 [--seeds 3] [--routes ...]

Data: ``../shared/data/pythia_math/per_problem_counts.csv`` (or ``DS3_PYTHIA_COUNTS``, or
``--data FILE``: any counts CSV, one data set per model and checkpoint where it has those
columns).  For
every checkpoint, the problems with >= 10,000 samples (checkpoints with fewer than
``--min-problems`` such problems, or none solved, are left out); each problem is subsampled to
``m`` samples (hypergeometric, ``seeds`` seeds); every route predicts pass@1e3 and pass@1e4,
compared with the unbiased estimate from all samples.  A seed whose subsample has no correct
sample at all is skipped (no route can fit it) and counted.  Prints mean |error|, mean signed
error, 90%-interval coverage and mean interval width per route, and the time per fit; then the
same by how much each data set solves (its measured pass@1e4 >= 0.6, 0.3-0.6, below 0.3).

``--adaptive F``: the data as sampled, adaptively (128 to 3.7 million samples per problem):
every checkpoint with a correct sample, all its problems, each thinned to a fraction F of its
own samples (hypergeometric), pass@k predicted at k = the smallest full sample size (where
the unbiased estimate from all samples exists): a 1/F-fold extrapolation for the least
sampled problems, none for the most sampled.

Several data sets on the same problems (this file: 6 models x 8 checkpoints) can also be
pooled: the route ``shared`` (on by default where the file has several data sets) fits
``fit_passk_shared`` to each ``--pool`` (the data sets sharing a checkpoint, a model, or all)
with the targets' subsamples and every other (data set, problem) thinned to m samples too
(``Pools``); ``bench_passk_shared`` prints it per data set and on a synthetic ladder.

``--timing``: on one checkpoint with 128 problems (pythia-160m at 20B tokens, or the file's
largest data set), with 100 samples
per problem and with m + i samples for problem i (no two problems alike), the median of 5
warm runs of the fit alone (``n_boot=0``), of the fit with 1,000 replicates, and of pass@k with
its interval at two k.
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import time
from pathlib import Path

import numpy as np

from ds3jax._text import counted

_DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/pythia_math/per_problem_counts.csv"
DATA = Path(os.environ.get("DS3_PYTHIA_COUNTS", _DEFAULT))
ROUTES = ("ensemble", "auto", "beta", "beta+zero", "beta+one", "logit-normal", "grid", "power_law")
POOLS = ("checkpoint", "model", "all")


def _columns(path):
    """The data-set columns (``model``, ``checkpoint``) that the file at ``path`` has."""
    with open(path, newline="") as fh:
        header = [h.strip().lower() for h in next(csv.reader(fh), [])]
    return tuple(c for c in ("model", "checkpoint") if c in header)


def load_groups(path=DATA):
    """(by, {key: Counts}): the file's data sets, told apart by whichever of the columns
    ``model`` and ``checkpoint`` it has (a file with neither is one data set)."""
    from ds3jax.population import load_count_groups

    by = _columns(path)
    return by, load_count_groups(path, by)


def select(groups, min_samples=10_000, min_problems=32):
    """{key: (correct, samples)} of each data set's problems with >= ``min_samples`` samples,
    for the data sets with >= ``min_problems`` of them and a correct sample among them."""
    out = {}
    for key, counts in groups.items():
        keep = counts.samples >= min_samples
        c, n = counts.correct[keep], counts.samples[keep]
        if c.size >= min_problems and (c > 0).any():
            out[key] = (c, n)
    return out


def checkpoints(path=DATA, min_samples=10_000, min_problems=32):
    """:func:`select` on the data sets of the file at ``path``."""
    return select(load_groups(path)[1], min_samples, min_problems)


def subsample(c, n, m, seed):
    """The benchmark's m-sample subsample (hypergeometric; m may differ by problem) of counts,
    c correct of n, with ``seed``: every route, and the pooled fits, see the same one."""
    from ds3jax.population import thin_counts

    return thin_counts(c, n, m, seed)


class Pools:
    """``fit_passk_shared`` on the data sets of a file that share problems, with the
    benchmark's subsamples: a target data set's problems with >= ``min_samples`` samples keep
    the same ``m``-sample subsample as every other route sees (seed ``seed``), and every other
    (data set, problem) of the file is thinned to min(n, ``m``) samples too (seed 1000 +
    ``seed``), which is what a user has who ran ``m`` samples of several models on the same
    problems.  ``pool`` says which data sets are fitted together: those sharing a
    ``checkpoint`` (several models, one benchmark), a ``model`` (its checkpoints) or ``all``;
    a file without that column is one pool.  ``by`` and ``groups`` as :func:`load_groups`
    returns them."""

    def __init__(self, P, by, groups, m, pool="checkpoint", min_samples=10_000, **fit_kw):
        self.P, self.m, self.fit_kw = P, m, fit_kw
        self.keys, problems, self.cf, self.nf = P.align_count_groups(groups)
        row = {p: i for i, p in enumerate(problems)}
        # each data set's problems that a target keeps, in select()'s order: their rows
        self.rows = {
            key: np.array([row[p] for p in np.asarray(g.problem)[g.samples >= min_samples]])
            for key, g in groups.items()
        }
        part = (lambda k: k[by.index(pool)]) if pool in by else (lambda k: 0)
        self.pools = collections.defaultdict(list)
        for j, key in enumerate(self.keys):
            self.pools[part(key)].append(j)

    def fits(self, seed, targets):
        """{key: (fit, rows)} for every key of ``targets`` ({key: its subsample}, those with
        no correct sample too: they are data the pool has, though not scored) whose pool
        holds another data set with a correct sample (rows: the target's problems' rows in
        the pooled table), and the seconds each pool's fit took; pools whose targets have
        no correct sample are not fitted."""
        have = self.nf > 0
        n = np.minimum(self.nf, self.m)
        c = np.zeros_like(self.cf)
        rng = np.random.default_rng(1000 + seed)
        c[have] = self.P.thin_counts(self.cf[have], self.nf[have], n[have], rng)
        for j, key in enumerate(self.keys):
            if key in targets:
                c[self.rows[key], j], n[self.rows[key], j] = targets[key], self.m
        out, seconds = {}, []
        for cols in self.pools.values():
            if not any(np.any(targets.get(self.keys[j], 0)) for j in cols):
                continue
            if np.count_nonzero(c[:, cols].sum(0)) < 2:  # nothing to pool with
                continue
            t0 = time.perf_counter()
            fit = self.P.fit_passk_shared(
                c[:, cols],
                n[:, cols],
                names=[self.keys[j] for j in cols],
                seed=seed,
                **self.fit_kw,
            )
            seconds.append(time.perf_counter() - t0)
            for key in (self.keys[j] for j in cols):
                if key in targets:
                    out[key] = (fit, self.rows[key])
        return out, seconds


def require(data, path, min_problems) -> dict:
    """``data`` if it holds a data set, else exit saying why and what to use instead."""
    if not data:
        raise SystemExit(
            f"{path}: no data set has >= {min_problems} problems with >= 10,000 samples and a "
            "correct sample, which scoring pass@1e4 against the full data needs; for other "
            "files, `ds3jax backtest FILE.csv` (or --adaptive F here) scores the routes on a "
            "fraction of each problem's own samples"
        )
    return data


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, default=100, help="samples kept per problem")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument(
        "--routes",
        default=None,
        help=f"comma-separated, of {', '.join(ROUTES + ('shared',))} (default: all of them; "
        "shared where the file has several data sets)",
    )
    ap.add_argument(
        "--pool",
        choices=POOLS,
        default="checkpoint",
        help="shared route: the data sets fitted together (those sharing a checkpoint, a "
        "model, or all; a file without the column is one pool)",
    )
    ap.add_argument("--min-problems", type=int, default=32)
    ap.add_argument(
        "--data",
        default=str(DATA),
        help="counts CSV (problem, correct, samples; data sets told apart by model and/or "
        "checkpoint columns when it has them)",
    )
    ap.add_argument("--out", default=None, help="write every prediction to this JSON file")
    ap.add_argument("--timing", action="store_true", help="time one 128-problem fit and exit")
    ap.add_argument(
        "--adaptive",
        type=float,
        default=None,
        metavar="F",
        help="thin every problem to a fraction F of its own samples (see doc)",
    )
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as P

    by, groups = load_groups(args.data)
    several = len(groups) > 1
    routes = args.routes.split(",") if args.routes else list(ROUTES) + ["shared"] * several
    unknown = sorted(set(routes) - set(ROUTES) - {"shared"})
    if unknown:
        raise SystemExit(f"unknown route(s) {unknown}; routes are {ROUTES + ('shared',)}")
    if "shared" in routes and not several:
        raise SystemExit(f"{args.data}: the shared route pools several data sets; it has one")
    if args.adaptive is not None or args.timing:
        routes = [r for r in routes if r != "shared"]  # these score one data set at a time
    if args.adaptive is not None:
        return adaptive(P, select(groups, min_samples=0, min_problems=1), routes, args)
    data = require(select(groups, min_problems=args.min_problems), args.data, args.min_problems)
    if args.timing:
        return timing(
            P, data.get(("pythia-160m", "20B")) or max(data.values(), key=_size), routes, args.m
        )
    rows = []
    times = {r: [] for r in routes}
    chosen = collections.Counter()
    skipped = 0
    pool_times, alone = [], 0
    ks = np.array([1e3, 1e4])
    pools = None
    if "shared" in routes:
        pools = Pools(P, by, groups, args.m, args.pool, n_boot=args.n_boot)
    for seed in range(args.seeds):
        subs = {key: subsample(c, n, args.m, seed) for key, (c, n) in data.items()}
        pooled = {}
        if pools is not None:
            pooled, seconds = pools.fits(seed, subs)
            pool_times.extend(seconds)
        for key, cs in subs.items():
            if not cs.any():
                skipped += 1
                continue
            c, n = data[key]
            truth = np.asarray(P.passk_from_counts(c, n, ks))
            print(key, seed, flush=True) if args.verbose else None
            for r in routes:
                t0 = time.perf_counter()
                if r == "shared":
                    if key not in pooled:
                        alone += 1
                        continue
                    fit, rows_ = pooled[key]
                    pred = np.asarray(fit.passk(key, ks, problems=rows_))
                    lo, hi = fit.passk_interval(key, ks, problems=rows_)
                    family = f"shared ({len(fit.names)} data sets)"
                else:
                    fit = P.fit_passk_counts(cs, args.m, method=r, n_boot=args.n_boot, seed=seed)
                    pred = np.asarray(fit.passk(ks))
                    lo, hi = fit.passk_interval(ks)
                    family = fit.family
                times[r].append(time.perf_counter() - t0)
                rows.append(
                    dict(
                        checkpoint=list(key),
                        seed=seed,
                        route=r,
                        truth=truth.tolist(),
                        pred=pred.tolist(),
                        low=lo.tolist(),
                        high=hi.tolist(),
                        family=family,
                    )
                )
                if r == "auto":
                    chosen[fit.family.split("(")[0]] += 1
    print(
        f"{counted(len(data), 'data set')}, m = {args.m} samples per problem, "
        f"{counted(args.seeds, 'seed')}; "
        f"{counted(skipped, 'subsample')} with no correct sample skipped; n_boot = {args.n_boot}"
    )
    print(
        "| route | mean abs err k=1e3 | k=1e4 | mean signed err k=1e4 "
        "| 90% coverage 1e3 / 1e4 | mean width 1e3 / 1e4 | s per fit (median) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in routes:
        mine = [row for row in rows if row["route"] == r]
        if not mine:
            print(f"| `{r}` | no fit | | | | | |")
            continue
        e, cv, wd = _scores(mine)
        print(
            f"| `{r}` | {np.abs(e[:, 0]).mean():.3f} | {np.abs(e[:, 1]).mean():.3f} | "
            f"{e[:, 1].mean():+.3f} | {cv[:, 0].mean():.0%} / {cv[:, 1].mean():.0%} | "
            f"{wd[:, 0].mean():.2f} / {wd[:, 1].mean():.2f} | {np.median(times[r]):.2f} |"
        )
    if "shared" in routes:
        pooled_by = f"data sets sharing a {args.pool}" if args.pool in by else "all data sets"
        said = f"  shared: {len(pool_times)} pooled fits ({pooled_by})"
        if pool_times:
            said += f", median {np.median(pool_times):.1f} s each (its s per fit: the interval)"
        if alone:
            said += (
                f"; {counted(alone, 'fit')} without a second solved data set in their pool left out"
            )
        print(said)
    _by_strength(rows, routes)
    if "power_law" in routes:
        _versus_power_law(rows, routes)
    if args.out:
        import json

        Path(args.out).write_text(json.dumps(rows))
    if chosen:
        print("auto chose:", dict(chosen))


def adaptive(P, data, routes, args):
    """``P.backtest_passk`` on every checkpoint, pooled: forecasts from ``args.adaptive`` of
    each problem's samples at k = its smallest full size."""
    if not 0.0 < args.adaptive < 1.0:
        raise SystemExit(f"--adaptive must lie in (0, 1), got {args.adaptive}")
    err, cover, weight = collections.defaultdict(list), collections.defaultdict(list), []
    for c, n in data.values():
        try:
            bt = P.backtest_passk(
                c,
                n,
                fraction=args.adaptive,
                methods=routes,
                seeds=args.seeds,
                n_boot=args.n_boot,
            )
        except ValueError:  # no thinning kept a correct sample
            continue
        error, inside = bt.error, bt.inside
        for i, r in enumerate(routes):
            ok = np.isfinite(bt.passk[i, :, 0])
            err[r].extend(error[i, ok, 0])
            if inside is not None:
                cover[r].extend(inside[i, ok, 0])
            if r == "ensemble":
                weight.extend(bt.power_law_weight[i, ok, 0])
    print(
        f"{len(data)} data sets, every problem thinned to {args.adaptive:g} of its samples, "
        f"{args.seeds} seeds; pass@k at k = each data set's smallest full sample size"
    )
    print("| route | fits | mean abs err | mean signed err | 90% coverage |")
    print("|---|---|---|---|---|")
    for r in routes:
        e = np.array(err[r])
        cov = f"{np.mean(cover[r]):.0%}" if cover[r] else "-"
        print(f"| `{r}` | {e.size} | {np.abs(e).mean():.3f} | {e.mean():+.3f} | {cov} |")
    if weight:
        print(f"  ensemble: mean power-law weight at that k {np.mean(weight):.2f}")


STRENGTH = ((0.6, np.inf, ">= 0.6"), (0.3, 0.6, "0.3-0.6"), (-np.inf, 0.3, "below 0.3"))


def _scores(rows):
    """[fits, 2] arrays (k = 1e3, 1e4) of ``rows``: signed errors, whether the 90% interval
    holds the truth, and its width."""
    t, p = np.array([r["truth"] for r in rows]), np.array([r["pred"] for r in rows])
    lo, hi = np.array([r["low"] for r in rows]), np.array([r["high"] for r in rows])
    return p - t, (lo <= t) & (t <= hi), hi - lo


def _by_strength(rows, routes):
    """The table again, by how much the data set solves (its measured pass@1e4): mean
    |error| at 1e3 / 1e4 and 90% coverage per route."""
    print("by measured pass@1e4: mean abs err k=1e3 / 1e4 (90% coverage 1e3 / 1e4)")
    print("| measured pass@1e4 | data sets (fits) | " + " | ".join(f"`{r}`" for r in routes) + " |")
    print("|---" * (len(routes) + 2) + "|")
    for lo, hi, label in STRENGTH:
        mine = [r for r in rows if lo <= r["truth"][1] < hi]
        if not mine:
            continue
        cells = []
        for route in routes:
            got = [r for r in mine if r["route"] == route]
            if not got:
                cells.append("no fit")
                continue
            signed, inside, _ = _scores(got)
            e, cov = np.abs(signed).mean(0), inside.mean(0)
            cells.append(f"{e[0]:.3f} / {e[1]:.3f} ({cov[0]:.0%} / {cov[1]:.0%})")
        sets = {tuple(r["checkpoint"]) for r in mine}
        fits = {(tuple(r["checkpoint"]), r["seed"]) for r in mine}
        print(f"| {label} | {len(sets)} ({len(fits)}) | " + " | ".join(cells) + " |")


def _versus_power_law(rows, routes):
    """Per data set, which route's mean |error| (over seeds) is below the power law's."""
    by = collections.defaultdict(list)
    for r in rows:
        by[(tuple(r["checkpoint"]), r["route"])].append(np.abs(np.subtract(r["pred"], r["truth"])))
    cps = sorted({cp for cp, _ in by})
    law = {cp: np.mean(by[(cp, "power_law")], axis=0) for cp in cps}
    for r in routes:
        if r == "power_law":
            continue
        mine = [cp for cp in cps if (cp, r) in by]
        wins = np.array([np.mean(by[(cp, r)], axis=0) < law[cp] for cp in mine]).reshape(-1, 2)
        print(
            f"  {r}: closer than the power law on {wins[:, 0].sum()} / {wins[:, 1].sum()} of "
            f"{len(mine)} data sets at k = 1e3 / 1e4"
        )


def _size(cn):
    return cn[0].size


def timing(P, data, routes, m):
    c, n = data
    cs = subsample(c, n, m, 0)
    # worst case for the once-per-distinct-(c, n) likelihood: every problem its own size
    mi = m + np.arange(c.size)
    cd = subsample(c, n, mi, 0)
    cases = (
        (f"{m} samples each, {int(cs.sum())} correct", cs, np.full(c.size, m)),
        (f"{m}..{mi[-1]} samples (all sizes distinct), {int(cd.sum())} correct", cd, mi),
    )
    ks = np.array([1e3, 1e4])
    for label, cc, nn in cases:
        print(f"{c.size} problems, {label}; median of 5 warm runs")
        for r in routes:
            rows = []
            for rep in range(6):
                t0 = time.perf_counter()
                P.fit_passk_counts(cc, nn, method=r, n_boot=0)
                t1 = time.perf_counter()
                fit = P.fit_passk_counts(cc, nn, method=r, n_boot=1000)
                t2 = time.perf_counter()
                fit.passk(ks)
                fit.passk_interval(ks)
                t3 = time.perf_counter()
                if rep:  # the first run compiles
                    rows.append((t1 - t0, t2 - t1, t3 - t2))
            a = np.median(np.array(rows), axis=0)
            print(
                f"  {r}: fit {a[0]:.2f} s; fit + 1000 replicates {a[1]:.2f} s; "
                f"pass@k and interval at 2 k {a[2]:.2f} s"
            )


if __name__ == "__main__":
    main()
