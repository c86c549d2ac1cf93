"""``ds3jax backtest FILE.csv``: how well each pass@k route extrapolates *these* counts.

    ds3jax backtest FILE.csv [--where COLUMN=VALUE ...] [--fraction 0.1] [--k K,...]
                             [--methods ensemble,auto,power_law] [--seeds 10]
                             [--n-boot 200] [--seed 0] [--out DIR]

Thins every problem of a per-problem counts file (columns ``problem, correct, samples``)
to ``--fraction`` of its samples, forecasts pass@k with each route at k the full data
measure (default: the fewest samples any problem has), and compares with the unbiased
estimate from all samples, over ``--seeds`` thinnings
(:func:`ds3jax.population.backtest_passk`).  Prints a table (mean |error|, mean signed
error, 90% coverage per route) and the route that did best; writes
``<name>_backtest.json`` and ``<name>_backtest.png`` (each thinning's forecast and interval
beside the measured value).  It scores a 1/fraction-fold extrapolation: a route that wins
here may not win 100x beyond the data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._cli_fit import METHODS, add_where_option, check_n_boot, output_stem, parse_where
from ._common import Progress, UsageError, atomic_write, check_out_dir, seed, status, to_jsonable

__all__ = ["register", "cmd_backtest"]

DEFAULT_METHODS = "ensemble,auto,power_law"


def register(subparsers) -> None:
    """Add the ``backtest`` subcommand to the ``ds3jax`` argument parser."""
    b = subparsers.add_parser(
        "backtest",
        help="score pass@k routes on a counts CSV: forecast from a fraction of each problem's "
        "samples, compare with all of them",
        description=(
            "Thin each problem of a per-problem counts CSV (problem, correct, samples) to a "
            "fraction of its samples, forecast pass@k with each route, and compare with the "
            "estimate from all samples; print mean |error|, signed error and interval "
            "coverage per route, and write <name>_backtest.json and .png."
        ),
    )
    b.add_argument("csv", help="per-problem counts CSV")
    b.add_argument("--out", default="out/backtest", help="output folder (default out/backtest)")
    add_where_option(b, "backtest")
    b.add_argument(
        "--fraction",
        type=float,
        default=0.1,
        help="share of each problem's samples the forecast sees (default 0.1: a 10x "
        "extrapolation for the least sampled problem)",
    )
    b.add_argument(
        "--k",
        default=None,
        metavar="K[,K...]",
        help="where to score pass@k, each at most the fewest samples any problem has "
        "(default: that number)",
    )
    b.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        metavar="ROUTES",
        help=f"routes to score, comma-separated (default {DEFAULT_METHODS}; any of "
        f"{', '.join(METHODS)})",
    )
    b.add_argument("--seeds", type=int, default=10, help="thinnings (default 10)")
    b.add_argument(
        "--n-boot",
        type=int,
        default=200,
        help="replicates per fit for the 90%% intervals (default 200; 0: no intervals)",
    )
    b.add_argument("--seed", type=seed, default=0, help="seed of the thinnings and fits")
    b.set_defaults(func=cmd_backtest)


def _options(args):
    """Checks the fit would fail on late, made before any work (one line on stderr)."""
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise UsageError(f"--methods: unknown route {bad[0] if bad else ''!r}; one of {METHODS}")
    if not 0.0 < args.fraction < 1.0:
        raise UsageError(f"--fraction must lie in (0, 1), got {args.fraction:g}")
    if args.seeds < 1:
        raise UsageError(f"--seeds must be at least 1, got {args.seeds}")
    check_n_boot(args.n_boot)
    k = None
    if args.k is not None:
        try:
            k = np.array([float(x) for x in args.k.split(",") if x.strip()])
        except ValueError:
            raise UsageError(f"--k takes numbers separated by commas, got {args.k!r}") from None
        if k.size == 0:
            raise UsageError(f"--k takes numbers separated by commas, got {args.k!r}")
        if not np.all(np.isfinite(k) & (k >= 1)):
            raise UsageError(f"--k takes numbers >= 1 (sample counts), got {args.k!r}")
    return methods, k


def cmd_backtest(args) -> int:
    methods, k = _options(args)
    where = parse_where(args.where)
    stem = output_stem(args.csv, where)
    check_out_dir(args.out, files=(f"{stem}_backtest.json", f"{stem}_backtest.png"))
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as pop

    counts = pop.load_counts(args.csv, where=where)
    P = counts.correct.size
    n_lo, n_hi = int(counts.samples.min()), int(counts.samples.max())
    n_txt = f"{n_lo}" if n_lo == n_hi else f"{n_lo} .. {n_hi}"
    from ds3jax._text import counted

    print(
        f"ds3jax backtest: {args.csv}: {counted(P, 'problem')}, {n_txt} samples each; "
        f"forecasts from {args.fraction:g} of each problem's samples, {args.seeds} thinnings"
    )
    status(f"backtest: {args.seeds} x {len(methods)} fits; compiling first (~10-30 s) ...")
    bar = Progress(args.seeds * len(methods), "backtest fits")
    bt = pop.backtest_passk(
        counts,
        fraction=args.fraction,
        k=k,
        methods=methods,
        seeds=args.seeds,
        n_boot=args.n_boot,
        seed=args.seed,
        progress=lambda done, total: bar.update(done - bar.done),
    )
    ks = ", ".join(f"{x:g}" for x in bt.k)
    reach = ", ".join(f"{r:.3g}x" for r in bt.reach)
    print(
        f"  pass@k at k = {ks}: measured from all samples {_join(bt.measured, '.4f')}; the "
        f"forecasts see {int(bt.thinned.min())} .. {int(bt.thinned.max())} samples per "
        f"problem (extrapolation up to {reach})"
    )
    if bt.skipped:
        print(f"  {bt.skipped} of {args.seeds} thinnings kept no correct sample: not scored")
    print(bt.table())
    for m, why in bt.failures.items():
        print(f"  {m}: {len(why)} fit(s) failed, e.g. {why[0]}")
    if bt.best is not None:
        far = int(np.argmax(bt.k))  # Backtest.best ranks at the largest k, not the last typed
        print(
            f"  best here at k = {bt.k[far]:g}: {bt.best} (a {bt.reach[far]:.3g}x "
            "extrapolation; farther out the ranking may differ)"
        )
    cov = bt.coverage
    result = {
        "input": str(args.csv),
        "where": where,
        "fraction": bt.fraction,
        "seeds": args.seeds,
        "k": bt.k,
        "reach": bt.reach,
        "measured": bt.measured,
        "skipped": bt.skipped,
        "best": bt.best,
        "best_at_k": None if bt.best is None else float(np.max(bt.k)),
        "routes": {
            m: {
                "mean_abs_error": bt.mean_abs_error[i],
                "mean_error": bt.mean_error[i],
                "coverage90": None if cov is None else cov[i],
                "passk": bt.passk[i],
                "low90": None if bt.low is None else bt.low[i],
                "high90": None if bt.high is None else bt.high[i],
                "failures": bt.failures.get(m, []),
            }
            for i, m in enumerate(bt.methods)
        },
    }
    out = Path(args.out)
    atomic_write(
        out / f"{stem}_backtest.json",
        json.dumps(to_jsonable(result), indent=1, allow_nan=False).encode(),
    )
    atomic_write(out / f"{stem}_backtest.png", _figure(bt, Path(args.csv).name))
    print(f"wrote {out / (stem + '_backtest.json')} and {out / (stem + '_backtest.png')}")
    return 0


def _join(x, fmt) -> str:
    return ", ".join(format(v, fmt) for v in x)


def _figure(bt, title) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    K, M, S = bt.k.size, len(bt.methods), bt.passk.shape[1]
    fig = Figure(figsize=(max(6.5, 3.6 * K + 1.0), 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, K, squeeze=False)[0])
    colors = matplotlib.colormaps["tab10"](np.arange(M) % 10)
    for j, ax in enumerate(axes):
        for i, m in enumerate(bt.methods):
            x = i + np.linspace(-0.3, 0.3, S)
            y = bt.passk[i, :, j]
            err = None
            if bt.low is not None:
                err = np.maximum(np.stack([y - bt.low[i, :, j], bt.high[i, :, j] - y]), 0.0)
            ax.errorbar(x, y, yerr=err, fmt="o", ms=3, lw=0.8, color=colors[i])
        ax.axhline(bt.measured[j], color="k", lw=1.0, label="measured (all samples)")
        ax.set_xticks(np.arange(M), bt.methods, rotation=20, fontsize=8)
        ax.set_title(f"pass@{bt.k[j]:g} ({bt.reach[j]:.3g}x the thinned data)", fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3, lw=0.5)
    axes[0].set_ylabel(
        "forecast from the thinned counts" + (" (90% interval)" if bt.low is not None else "")
    )
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"{title}\nbacktest: forecasts from {bt.fraction:g} of each problem's samples, "
        f"{S} thinnings",
        fontsize=10,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()
