"""``ds3jax forecast``: fit DS3 to per-problem counts on a grid of checkpoints and forecast.

    ds3jax forecast FILE.csv [--train-max-params N] [--out DIR] [--budget TOKENS]
                    [--omega TOKENS] [--boot B] [--seed S] [--fit-law]

FILE.csv has the columns of ``data/pythia_math/per_problem_counts.csv`` (``nominal_params``,
``training_tokens``, ``problem``, ``level``, ``samples``, ``correct``). With
``--train-max-params N`` the DS3 model (:func:`ds3jax.forecast.fit_checkpoints`) and the
logistic baseline are fitted on the checkpoints with at most N parameters and scored on the
others (:func:`ds3jax.forecast.forecast_holdout`); without it, on everything. Writes to
``--out`` (atomically): ``forecast.json`` (settings, shared parameters with standard errors
and whether the data pin them, per-problem L0 and m, held-out scores), ``holdout.csv``,
``passk_vs_k.png`` (pass@k vs k per checkpoint: data as points, forecasts as lines with 90%
bootstrap bands, trained and held-out checkpoints told apart) and ``passk_vs_N.png``
(pass@1 and pass@100 vs N at each D, forecasts extended beyond the data).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path

import numpy as np

from ._common import (
    Progress,
    atomic_write,
    check_out_dir,
    int_at_least,
    positive_float,
    seed,
    status,
    to_jsonable,
)

__all__ = ["register", "cmd_forecast"]


def register(subparsers) -> None:
    """Add the ``forecast`` subcommand to the ``ds3jax`` argument parser."""
    f = subparsers.add_parser(
        "forecast",
        help="fit DS3 to per-problem counts across checkpoints (N, D) and forecast larger models",
        description=(
            "Fit the DS3 chain (loss law -> sigmoid transfer -> CoT success -> pass@k) to "
            "per-problem counts at several checkpoints, score held-out checkpoints against a "
            "logistic baseline and against reusing the nearest trained checkpoint, and plot."
        ),
    )
    f.add_argument("csv", help="per-problem counts CSV (columns as in per_problem_counts.csv)")
    f.add_argument(
        "--train-max-params",
        type=positive_float,
        default=None,
        help="fit on checkpoints with N <= this and score the rest (default: fit everything)",
    )
    f.add_argument("--out", default="out/forecast", help="output folder (default out/forecast)")
    f.add_argument("--budget", type=positive_float, default=2048.0, help="token budget per sample")
    f.add_argument("--omega", type=positive_float, default=25.0, help="tokens per skill step")
    f.add_argument("--boot", type=int_at_least(20), default=200, help="bootstrap replicates")
    f.add_argument("--seed", type=seed, default=0, help="bootstrap seed")
    f.add_argument(
        "--fit-law",
        action="store_true",
        help="fit the loss law's A, B, alpha, beta to the counts too (default: epoch_refit, fixed)",
    )
    f.add_argument(
        "--errors-along",
        choices=("N", "D"),
        default=None,
        help="widen the plotted 90%% bands by forward-chained forecast errors of the trained "
        "checkpoints along N or D (ds3jax.forecast.extrapolation_errors; several more fits)",
    )
    f.set_defaults(func=cmd_forecast)


def _bar(label):
    bar = Progress(1, label)

    def cb(done, total):
        bar.total = total
        if done > bar.done:
            bar.update(done - bar.done)

    return cb


def _colors(n):
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.9, max(n, 1))]


def _empirical_curve(table, j, ks):
    from ds3jax.forecast import empirical_problem_passk

    ys, kept = [], []
    for k in ks:
        ok = table.samples[:, j] >= k
        if ok.sum() < max(4, table.n_problems // 4):
            continue
        ys.append(float(np.nanmean(empirical_problem_passk(table, k)[ok, j])))
        kept.append(k)
    return np.array(kept), np.array(ys)


def _band_label(errors, where=""):
    if errors is None:
        return "90% bootstrap over problems"
    return f"90%, widened{where} by {len(errors)} forward-chained errors along {errors.along}"


def _fig_passk_vs_k(table, fit, train_mask, errors=None):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    Ds = np.unique(table.D)
    Ns = np.unique(table.N)
    colors = dict(zip(Ns, _colors(len(Ns))))
    ncol = min(4, len(Ds))
    nrow = math.ceil(len(Ds) / ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.4 * nrow), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrow, ncol, sharey=True)).ravel()
    ks_data = np.unique(np.round(np.logspace(0, np.log10(max(table.samples.max(), 2)), 30)))
    ks = np.logspace(0, 4, 40)
    lo, hi = fit.passk_interval(table.N[:, None], table.D[:, None], ks[None, :])
    if errors is not None and not train_mask.all():
        # the forward-chained errors widen the bands of the held-out checkpoints only
        held = ~np.asarray(train_mask)
        wlo, whi = fit.passk_interval(
            table.N[held, None], table.D[held, None], ks[None, :], errors=errors
        )
        lo[held], hi[held] = wlo, whi
    mid = fit.passk(table.N[:, None], table.D[:, None], ks[None, :])
    for ax, D in zip(axes, Ds):
        for j in np.flatnonzero(table.D == D):
            c = colors[table.N[j]]
            trained = bool(train_mask[j])
            ls = "-" if trained else "--"
            ax.plot(
                ks,
                mid[j],
                ls,
                color=c,
                lw=1.4,
                label=f"N={table.N[j]:.3g}" + ("" if trained else " (held out)"),
            )
            ax.fill_between(ks, lo[j], hi[j], color=c, alpha=0.15, lw=0)
            kd, yd = _empirical_curve(table, j, ks_data)
            ax.plot(kd, yd, "o" if trained else "s", ms=3.5, color=c, mfc=c if trained else "none")
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.set_title(f"D = {D:.3g} tokens", fontsize=10)
        ax.set_xlabel("k (samples per problem)")
        ax.grid(alpha=0.3, which="both", lw=0.5)
        ax.legend(fontsize=6, loc="upper left")
    for ax in axes[len(Ds) :]:
        ax.set_visible(False)
    axes[0].set_ylabel("pass@k (mean over problems)")
    fig.suptitle(
        "DS3 forecast of pass@k per checkpoint: lines = fit (solid: trained, dashed: held out, "
        f"band: {_band_label(errors, ' for held-out lines')}); points = unbiased estimate "
        "from counts "
        "(filled: trained, open: held out)",
        fontsize=9,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _fig_passk_vs_N(table, fit, train_mask, errors=None):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from ds3jax.forecast import empirical_problem_passk

    Ds = np.unique(table.D)
    colors = dict(zip(Ds, _colors(len(Ds))))
    grid_n = np.logspace(np.log10(table.N.min()) - 0.3, np.log10(table.N.max()) + 1.3, 60)
    fig = Figure(figsize=(13, 5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, k in zip(axes, (1, 100)):
        mid = fit.passk(grid_n[None, :], Ds[:, None], k)
        lo, hi = fit.passk_interval(grid_n[None, :], Ds[:, None], k, errors=errors)
        est = empirical_problem_passk(table, k)
        for i, D in enumerate(Ds):
            c = colors[D]
            ax.plot(grid_n, mid[i], "-", color=c, lw=1.3, label=f"D={D:.3g}")
            ax.fill_between(grid_n, lo[i], hi[i], color=c, alpha=0.12, lw=0)
            for j in np.flatnonzero(table.D == D):
                ok = table.samples[:, j] >= k
                y = float(np.mean(est[ok, j]))
                tr = bool(train_mask[j])
                ax.plot(table.N[j], y, "o" if tr else "s", ms=5, color=c, mfc=c if tr else "none")
        ax.set_xscale("log")
        if k == 1:
            ax.set_yscale("log")
            ax.set_ylim(1e-6, 1)
        else:
            ax.set_ylim(0, 1)
        ax.axvline(table.N[train_mask].max(), color="grey", lw=0.8, ls=":")
        ax.set_xlabel("N (parameters)")
        ax.set_ylabel(f"pass@{k}")
        ax.set_title(
            f"pass@{k} vs N at each D (line: DS3 fit, band 90%; dotted: largest trained N)"
        )
        ax.grid(alpha=0.3, which="both", lw=0.5)
        ax.legend(fontsize=7, ncol=2)
    fig.suptitle(
        f"points: data (filled: trained, open: held out); bands: {_band_label(errors)}",
        fontsize=9,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _print_parameters(fit, w):
    w("shared DS3 parameters (se: profile standard error; pinned: se < 0.25)\n")
    for name, p in fit.parameters().items():
        state = "fitted" if p["free"] else "fixed "
        pin = "pinned" if p["pinned"] else "NOT pinned by the data"
        w(f"  {name:<12} {p['value']:>10.4g}  {state}  se {p['se']:>8.3g}  {pin}\n")
    law, b, iota, _, _ = fit.model.unpack(fit.theta)
    w(
        f"  loss law: L = {float(law.E):.4g} + {float(law.A):.4g}/N^{float(law.alpha):.4g} "
        f"+ {float(law.B):.4g}/D^{float(law.beta):.4g};  b = {float(b):.4g}, "
        f"iota_hat = {float(iota):.4g}, T = {fit.model.steps:.4g} steps\n"
    )
    m = fit.problem_parameters()["m"]
    L0 = fit.phi[:, 0]
    w(
        f"  per problem: L0 median {np.median(L0):.3f} (5-95%: {np.percentile(L0, 5):.3f} .. "
        f"{np.percentile(L0, 95):.3f}), m median {np.median(m):.2f} (5-95%: "
        f"{np.percentile(m, 5):.2f} .. {np.percentile(m, 95):.2f})\n"
    )


# the same names as ds3jax.forecast.REQUIRED_COLUMNS, repeated so the header is checked
# before JAX is imported (tests/test_forecast.py checks that the two agree)
_COLUMNS = ("nominal_params", "training_tokens", "problem", "level", "samples", "correct")


def _check_header(path) -> None:
    """The file exists and names every column the fit needs (rows are checked by the fit)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror})") from None
    missing = [c for c in _COLUMNS if c not in [h.strip() for h in header]]
    if missing:
        raise ValueError(
            f"{Path(path).stem}: missing column {missing[0]!r}; need {', '.join(_COLUMNS)}"
        )


_FORECAST_FILES = ("forecast.json", "holdout.csv", "passk_vs_k.png", "passk_vs_N.png")


def cmd_forecast(args) -> int:
    _check_header(args.csv)
    out = check_out_dir(args.out, files=_FORECAST_FILES)
    status(f"forecast: reading {args.csv}; importing JAX and compiling the fit ...")
    import jax

    jax.config.update("jax_enable_x64", True)
    import sys

    from ds3jax import forecast

    table = forecast.load_table(args.csv)
    fit_kw = dict(
        budget=args.budget,
        omega=args.omega,
        n_boot=args.boot,
        seed=args.seed,
        fit_law=args.fit_law,
    )
    base_kw = dict(n_boot=args.boot, seed=args.seed)
    w = sys.stdout.write
    holdout = None
    if args.train_max_params is not None:
        train_mask = table.N <= args.train_max_params
        if not train_mask.any():
            raise ValueError(f"--train-max-params {args.train_max_params:g} keeps no checkpoint")
        if train_mask.all():
            raise ValueError(
                f"--train-max-params {args.train_max_params:g} keeps every checkpoint: "
                "nothing held out"
            )
        bars = {}

        def progress(label, done, total):
            if label not in bars:
                bars[label] = _bar(label)
            bars[label](done, total)

        holdout = forecast.forecast_holdout(
            table, train=train_mask, fit_kwargs=fit_kw, baseline_kwargs=base_kw, progress=progress
        )
        fit, base = holdout.ds3, holdout.baseline
    else:
        train_mask = np.ones(table.n_checkpoints, bool)
        fit = forecast.fit_checkpoints(table, progress=_bar("DS3 fit"), **fit_kw)
        base = forecast.fit_baseline(table, progress=_bar("baseline fit"), **base_kw)
    from ds3jax._text import counted

    w(
        f"\nDS3 fit on {int(train_mask.sum())} of {table.n_checkpoints} checkpoints, "
        f"{counted(table.n_problems, 'problem')}: {fit.n_iter} Newton steps ({fit.message})\n"
    )
    _print_parameters(fit, w)
    if fit.not_pinned():
        w(f"  not pinned by the data: {', '.join(fit.not_pinned())}\n")
    result = {
        "input": str(args.csv),
        "settings": {
            "train_max_params": args.train_max_params,
            "budget": args.budget,
            "omega": args.omega,
            "boot": args.boot,
            "seed": args.seed,
            "fit_law": args.fit_law,
        },
        "train_checkpoints": [list(c) for c in fit.train_checkpoints],
        "ds3": {
            "parameters": fit.parameters(),
            "not_pinned": fit.not_pinned(),
            "nll": fit.nll,
            "converged": fit.converged,
            "problems": [str(p) for p in fit.problems],
            "problem_parameters": fit.problem_parameters(),
        },
        "baseline": {"parameters": base.parameters(), "nll": base.nll, "converged": base.converged},
    }
    rows = io.StringIO()
    wr = csv.writer(rows)
    wr.writerow(["N", "D", "k", "n_problems", "data", "ds3", "baseline", "reuse"])
    if holdout is not None:
        w("\nheld-out checkpoints: mean pass@k over problems with samples >= k\n")
        w(holdout.table_text() + "\n")
        w(
            "mean |error| by k: "
            + json.dumps(
                {m: {str(k): round(v, 4) for k, v in d.items()} for m, d in holdout.by_k.items()}
            )
            + "\n"
        )
        result["holdout"] = {
            "rows": holdout.rows,
            "mean_abs_error": holdout.mean_abs_error,
            "by_k": holdout.by_k,
        }
        for r in holdout.rows:
            wr.writerow(
                [
                    r["N"],
                    r["D"],
                    r["k"],
                    r["n_problems"],
                    r["data"],
                    r["ds3"],
                    r["baseline"],
                    "" if r["reuse"] is None else r["reuse"],
                ]
            )
    errors = None
    if args.errors_along is not None:
        err_kw = {k: v for k, v in fit_kw.items() if k not in ("n_boot", "seed")}
        errors = forecast.extrapolation_errors(
            table.select(train_mask),
            along=args.errors_along,
            fit_kwargs=err_kw,
            progress=_bar(f"forward steps along {args.errors_along}"),
        )
        q = np.quantile(errors.residual, [0.05, 0.5, 0.95])
        w(
            f"\nforward-chained errors along {errors.along}: {len(errors)} logit residuals "
            f"(measured - forecast), 5/50/95%: {q[0]:+.2f} / {q[1]:+.2f} / {q[2]:+.2f}; "
            "the plotted bands include them\n"
        )
        result["extrapolation_errors"] = dataclasses.asdict(errors)
    result["settings"]["errors_along"] = args.errors_along
    png_k = _fig_passk_vs_k(table, fit, train_mask, errors)
    png_n = _fig_passk_vs_N(table, fit, train_mask, errors)
    atomic_write(
        out / "forecast.json", json.dumps(to_jsonable(result), indent=1, allow_nan=False).encode()
    )
    atomic_write(out / "holdout.csv", rows.getvalue().encode())
    atomic_write(out / "passk_vs_k.png", png_k)
    atomic_write(out / "passk_vs_N.png", png_n)
    w(
        "wrote "
        + ", ".join(str(out / n) for n in ("forecast.json", "holdout.csv", "passk_vs_k.png"))
        + f", {out / 'passk_vs_N.png'}\n"
    )
    return 0
