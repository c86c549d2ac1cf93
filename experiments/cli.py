"""The ``ds3jax`` command line: a thin layer over :mod:`optim`, :mod:`ds3jax` and the
figure modules of :mod:`experiments`.

    ds3jax frontier [--out DIR] [--config FILE.toml] [--budgets N] [--cmin C] [--cmax C]
                    [--plane chinchilla|fixed_tokens] [--kappa K] [--tokens T]
                    [--strategy cot|tot:B|bon:K] [--attention] [--method gradient|grid|continuation]
    ds3jax figure NAME|all [--quick] [--out DIR]
    ds3jax fit FILE.csv [--out DIR]            (experiments/_cli_fit.py)
    ds3jax backtest FILE.csv [--fraction F]    (experiments/_cli_backtest.py: score the
                                                pass@k routes on a thinned copy of the data)
    ds3jax fit-loss FILE.csv [--out DIR]       (experiments/_cli_fitloss.py; frontier
                                                --loss-fit DIR [--bootstrap N] uses it)
    ds3jax sweep [--out DIR] [--quick] [--max-chunks K]   (resumable Fig. 9 sweep)
    ds3jax --compile-cache DIR COMMAND ...   (persistent compilation cache, any command)
    ds3jax forecast FILE.csv [--train-max-params N] [--out DIR]   (experiments/_cli_forecast.py)

``frontier`` is the main job: the Chinchilla-vs-global comparison (paper Fig. 8) on the
built-in default problem ``optim.presets.paper_fig8()``. It prints a summary table and writes
``results.json``, ``frontier.csv`` (one row per budget and plane) and ``frontier.png`` to the
output folder. Files are written under a temporary name and renamed, so an interrupted run
leaves nothing half-written. Invalid input exits with status 2 and a one-line message.

Start-up order: every command parses its arguments, reads and checks its files (TOML) and
checks its output folder (:func:`experiments._common.check_out_dir`) in plain Python, then
writes a status line to stderr and only then imports JAX and compiles; a bad argument, file or
output folder is reported before any work (``import experiments.cli`` does not import JAX).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys

import numpy as np

from . import _compile_cache
from ._common import (
    OneLineArgumentParser,
    UsageError,
    atomic_write,
    available,
    check_out_dir,
    int_at_least,
    positive_float,
    run_experiment,
    status,
)
from ._common import Progress as _Progress
from ._config import DEFAULT_FRONTIER, MAX_BUDGETS, build_problem, read_config

__all__ = ["main", "build_parser", "UsageError"]


# ----------------------------------------------------------------------------- helpers


_positive_int = int_at_least(2)
_budget_count = int_at_least(2, MAX_BUDGETS)


# ----------------------------------------------------------------------------- frontier


def _solve_with_progress(problem, budgets, plane, method, kappa, chunks, tokens=None):
    import optim

    parts = []
    bar = _Progress(len(budgets), f"{plane} plane")
    for piece in np.array_split(budgets, min(chunks, len(budgets))):
        sol = optim.solve(problem, piece, plane=plane, method=method, kappa=kappa, tokens=tokens)
        parts.append({k: np.asarray(getattr(sol, k)) for k in _FIELDS})
        bar.update(len(piece))
    return {k: np.concatenate([p[k] for p in parts]) for k in _FIELDS}


_FIELDS = ("N", "D", "Omega", "value", "compute", "budget", "train_share", "converged")


def _frontier_figure(budgets, planes, summary):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cname = summary["constrained"]
    colors = {"global": "tab:blue", cname: "tab:orange"}
    labels = {"global": "global optimum", cname: summary["constrained_label"]}
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), constrained_layout=True)
    panels = [
        ("N", "optimal parameters N*", "parameters"),
        ("D", "optimal training tokens D*", "tokens"),
        ("Omega", "optimal inference budget Omega*", "tokens per task"),
    ]
    for ax, (key, title, unit) in zip(axes[0], panels):
        for plane, res in planes.items():
            ax.loglog(budgets, res[key], color=colors[plane], label=labels[plane])
            fit = summary["fits"][plane][key]
            if fit is None:  # too few budgets below saturation: no exponent
                continue
            ax.loglog(
                budgets,
                fit["prefactor"] * budgets ** fit["exponent"],
                ls="--",
                color=colors[plane],
                alpha=0.6,
                label=f"fit ~ C^{fit['exponent']:.3f} (R^2 {fit['r2']:.3f})",
            )
        ax.set(title=title, xlabel="total compute C [FLOPs]", ylabel=unit)
        ax.legend(fontsize=8)
    ax = axes[1][0]
    for plane, res in planes.items():
        ax.loglog(budgets, res["D"] / res["N"], color=colors[plane], label=labels[plane])
    ax.set(
        title="tokens per parameter kappa* = D*/N*", xlabel="total compute C [FLOPs]", ylabel="D/N"
    )
    ax.legend(fontsize=8)
    ax = axes[1][1]
    for plane, res in planes.items():
        ax.semilogx(budgets, 1.0 - res["train_share"], color=colors[plane], label=labels[plane])
    ax.set(
        title="share of compute spent on inference",
        xlabel="total compute C [FLOPs]",
        ylabel="2 N I Omega / C",
        ylim=(0, 1),
    )
    ax.legend(fontsize=8)
    ax = axes[1][2]
    for plane, res in planes.items():
        ax.semilogx(budgets, res["value"], color=colors[plane], label=labels[plane])
    ax.set(
        title="task-averaged accuracy at the optimum",
        xlabel="total compute C [FLOPs]",
        ylabel="accuracy Psi",
        ylim=(0, 1),
    )
    ax.legend(fontsize=8)
    fig.suptitle(
        f"Total-compute-optimal allocation: global vs {summary['constrained_label']} "
        f"(paper Fig. 8 / 15; problem: {summary.get('problem', 'paper_fig8')})"
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _summarise(budgets, planes, kappa, cname="chinchilla", label=None):
    from optim._solve import is_saturated
    from optim.frontier import SATURATED, allocation_fits

    g, c = planes["global"], planes[cname]
    flat = {p: is_saturated(r["value"]) for p, r in planes.items()}
    saturated = flat["global"] & flat[cname]

    def plain(f):  # None where too few unsaturated optima are left for an exponent (NaN)
        f = {"exponent": float(f.exponent), "prefactor": float(f.prefactor), "r2": float(f.r2)}
        return f if np.isfinite(f["exponent"]) else None

    # each plane's exponents from its own unsaturated optima (as optim.compare_frontiers)
    fits = {
        p: {k: plain(f) for k, f in allocation_fits(budgets, r["value"], r).items()}
        for p, r in planes.items()
    }
    # compute the Chinchilla path needs to reach the global accuracy: interpolate the
    # Chinchilla frontier's accuracy in log C (monotone), solve for the matching budget
    lc = np.log(budgets)
    acc_c = np.maximum.accumulate(c["value"])
    penalty = []
    # beyond 1 - SATURATED accuracies are equal to float precision (as compare_frontiers)
    targets = np.minimum(g["value"], 1.0 - SATURATED)
    # budgets whose global accuracy the constrained path never reaches below C_max: their
    # penalty exceeds C_max / C, so the median and max over the others are lower bounds
    unmatched = int(np.sum((targets > acc_c[-1]) & ~saturated))
    for target in targets:
        if target > acc_c[-1] or target <= acc_c[0]:
            penalty.append(float("nan"))
            continue
        j = int(np.searchsorted(acc_c, target))
        t = (target - acc_c[j - 1]) / max(acc_c[j] - acc_c[j - 1], 1e-300)
        penalty.append(float(np.exp(lc[j - 1] + t * (lc[j] - lc[j - 1]))))
    penalty = np.where(saturated, np.nan, np.asarray(penalty) / budgets)
    # each plane's largest budget below its saturation (the last budget where none saturates)
    last = {
        p: int(np.flatnonzero(~f)[-1]) if (~f).any() else len(budgets) - 1 for p, f in flat.items()
    }
    return {
        "saturated": {
            "threshold": SATURATED,
            "budgets": int(saturated.sum()),
            "from": float(budgets[saturated].min()) if saturated.any() else None,
        },
        "not_converged": {
            p: int(np.sum(~np.asarray(r["converged"], bool))) for p, r in planes.items()
        },
        "kappa": kappa,
        "constrained": cname,
        "constrained_label": label or f"Chinchilla plane (kappa = {kappa:g})",
        "fits": fits,
        # "last": at the plane's largest budget below saturation (C_max where none saturates)
        "last_budget": {p: float(budgets[i]) for p, i in last.items()},
        "kappa_star": {
            "first": float(g["D"][0] / g["N"][0]),
            "last": float(g["D"][last["global"]] / g["N"][last["global"]]),
        },
        "inference_share": {
            p: {
                "first": float(1 - r["train_share"][0]),
                "last": float(1 - r["train_share"][last[p]]),
            }
            for p, r in planes.items()
        },
        "accuracy_gap_max": float(np.max(g["value"] - c["value"])),
        "compute_penalty": {
            "median": float(np.nanmedian(penalty)) if np.isfinite(penalty).any() else None,
            "max": float(np.nanmax(penalty)) if np.isfinite(penalty).any() else None,
            "unmatched": unmatched,
        },
        "compute_penalty_per_budget": [None if not np.isfinite(v) else float(v) for v in penalty],
    }


def _print_summary(summary, planes, budgets, file=None, problem_name="paper_fig8 problem"):
    from optim.frontier import MIN_FIT_POINTS

    w = (file or sys.stdout).write
    cname, label = summary["constrained"], summary["constrained_label"]
    w(f"\n{label} vs global, total-compute-optimal allocation ({problem_name})\n")
    w(f"  {len(budgets)} budgets, C in [{budgets[0]:.3g}, {budgets[-1]:.3g}] FLOPs\n\n")
    w(f"  {'power-law exponent of':<24}{'global':>12}{cname:>14}\n")
    for key in ("N", "D", "Omega"):
        fg, fc = summary["fits"]["global"][key], summary["fits"][cname][key]
        e = [f"{f['exponent']:.3f}" if f else "n/a" for f in (fg, fc)]
        r2 = " / ".join(f"{f['r2']:.3f}" if f else "n/a" for f in (fg, fc))
        w(f"  {key + '* ~ C^e':<24}{e[0]:>12}{e[1]:>14}   (R^2 {r2})\n")
    if not all(summary["fits"][p]["N"] for p in ("global", cname)):
        w(f"  (n/a: fewer than {MIN_FIT_POINTS} budgets below saturation on that plane)\n")
    ks, tops = summary["kappa_star"], summary["last_budget"]

    def at(p):
        c = tops[p]
        return "C_max" if c == budgets[-1] else f"C = {c:.3g} (the last before saturation)"

    w(
        f"\n  global kappa* = D*/N*: {ks['first']:.3g} at C_min -> {ks['last']:.3g} at "
        f"{at('global')} ({label})\n"
    )
    for p, s in summary["inference_share"].items():
        w(
            f"  inference share of FLOPs ({p}): {s['first']:.1%} -> {s['last']:.1%}"
            + ("" if tops[p] == budgets[-1] else f" at {at(p)}")
            + "\n"
        )
    w(f"  largest accuracy gap (global - {cname}): {summary['accuracy_gap_max']:.4f}\n")
    cp = summary["compute_penalty"]
    if cp["median"] is not None:
        w(
            f"  compute the {cname} path needs to match global accuracy: "
            f"median {cp['median']:.2f}x, max {cp['max']:.2f}x\n"
        )
    if cp["unmatched"]:
        w(
            f"  note: at {cp['unmatched']} of {len(budgets)} budgets the {cname} path does not "
            f"reach the global accuracy by C_max = {budgets[-1]:.3g}: there it needs more than "
            "C_max / C, so the median and max above are lower bounds (null in "
            "compute_penalty_per_budget)\n"
        )
    sat = summary["saturated"]
    if sat["budgets"]:
        w(
            f"  note: at {sat['budgets']} of {len(budgets)} budgets (C >= {sat['from']:.3g}) the "
            f"accuracy is 1 to within {sat['threshold']:g} on both planes: the optimum is flat "
            "there and N*, D*, Omega* are not determined; those budgets are left out of the "
            "exponents and the compute ratio\n"
        )
    for p, n in summary["not_converged"].items():
        if n:
            w(
                f"  note: the {p} solve did not converge at {n} of {len(budgets)} budgets "
                "(frontier.csv, column converged)\n"
            )
    w("\n")


_FRONTIER_FILES = ("frontier.csv", "results.json", "frontier.png")


def cmd_frontier(args) -> int:
    # everything that can be checked without the model is checked before JAX is imported
    opts = dict(DEFAULT_FRONTIER)
    problem_name = "optim.presets.paper_fig8()"
    spec = None
    if args.config:
        spec = read_config(args.config)
        opts = dict(spec["frontier"])
        problem_name = str(args.config)
    for key in ("budgets", "cmin", "cmax", "kappa", "tokens", "method", "plane"):
        v = getattr(args, key)
        if v is not None:
            opts[key] = v
    if opts["cmin"] >= opts["cmax"]:
        raise UsageError(f"cmin ({opts['cmin']:g}) must be below cmax ({opts['cmax']:g})")
    cname = opts["plane"]
    if cname == "fixed_tokens" and opts["tokens"] is None:
        raise UsageError("--plane fixed_tokens needs --tokens (per-task token budget)")
    # each plane reads one of the two: the other was accepted, recorded and ignored
    if cname != "fixed_tokens" and opts["tokens"] is not None:
        raise UsageError("--tokens (frontier.tokens) applies to --plane fixed_tokens only")
    if cname == "fixed_tokens" and args.kappa is not None:
        raise UsageError("--kappa applies to --plane chinchilla only")
    if args.bootstrap and not args.loss_fit:
        raise UsageError("--bootstrap needs --loss-fit DIR")
    out = check_out_dir(args.out, files=_FRONTIER_FILES)

    status(
        f"frontier: {opts['budgets']} budgets on the global and {cname} planes; importing JAX "
        "and compiling the solver (the first chunk includes compilation) ..."
    )
    import jax

    jax.config.update("jax_enable_x64", True)
    import optim

    try:
        problem = build_problem(spec) if spec is not None else optim.presets.paper_fig8()
    except ValueError as e:  # a combination read_config cannot judge without the model
        raise UsageError(f"{args.config}: {e}") from None
    fitted = None
    if args.loss_fit:  # experiments/_cli_fitloss.py: the law fitted by `ds3jax fit-loss`
        from . import _cli_fitloss as fl

        law, _, fitted = fl.load_loss_fit(args.loss_fit, args.bootstrap)
        problem = dataclasses.replace(problem, law=law)
        problem_name += f" with the loss law of {args.loss_fit}"
    if args.strategy or args.attention:
        problem = optim.make_problem(
            problem.law,
            problem.transfer,
            problem.tasks,
            strategy=_strategy(args.strategy) if args.strategy else problem.strategy,
            omega=problem.omega,
            n_queries=problem.n_queries,
            iota_hat=problem.iota_hat,
            charge=problem.charge,
            flops=optim.FlopModel.paper_appendix_ab() if args.attention else problem.flops,
        )
    # the feasibility floor needs the problem's FLOP model, so it is the one check after the
    # import (still before any solve)
    floor = optim.min_budget(problem)
    if cname == "fixed_tokens":
        floor = max(floor, optim.min_budget(problem, plane=cname, tokens=opts["tokens"]))
    if opts["cmin"] <= floor:
        raise UsageError(
            f"cmin {opts['cmin']:g} is below the smallest feasible budget {floor:.3g} FLOPs"
        )
    budgets = np.logspace(np.log10(opts["cmin"]), np.log10(opts["cmax"]), opts["budgets"])
    planes = {
        "global": _solve_with_progress(
            problem, budgets, "global", opts["method"], 20.0, args.chunks
        )
    }
    planes[cname] = _solve_with_progress(
        problem, budgets, cname, opts["method"], opts["kappa"], args.chunks, tokens=opts["tokens"]
    )
    label = (
        f"Chinchilla plane (kappa = {opts['kappa']:g})"
        if cname == "chinchilla"
        else f"fixed tokens (Omega = {opts['tokens']:g})"
    )
    summary = _summarise(budgets, planes, opts["kappa"], cname, label)
    summary["problem"] = problem_name
    _print_summary(summary, planes, budgets, problem_name=problem_name)
    bands = None
    if fitted is not None:
        bands = fl.frontier_bands(problem, fitted, budgets, cname, opts["kappa"], opts["tokens"])
    rows = io.StringIO()
    wr = csv.writer(rows)
    wr.writerow(
        [
            "plane",
            "budget_flops",
            "N",
            "D",
            "Omega",
            "accuracy",
            "compute_flops",
            "train_share",
            "converged",
        ]
    )
    for plane, r in planes.items():
        for i in range(len(budgets)):
            wr.writerow(
                [
                    plane,
                    f"{budgets[i]:.10g}",
                    f"{r['N'][i]:.10g}",
                    f"{r['D'][i]:.10g}",
                    f"{r['Omega'][i]:.10g}",
                    f"{r['value'][i]:.12g}",
                    f"{r['compute'][i]:.10g}",
                    f"{r['train_share'][i]:.10g}",
                    int(bool(r["converged"][i])),
                ]
            )
    results = {
        "problem": problem_name,
        "options": opts,
        "method": opts["method"],
        "budgets": budgets.tolist(),
        "planes": {
            p: {k: np.asarray(v, float).tolist() for k, v in r.items()} for p, r in planes.items()
        },
        "summary": summary,
    }
    png = _frontier_figure(budgets, planes, summary)
    if bands is not None:
        results["bands"] = fl.bands_json(bands)
        png = fl.frontier_figure_with_bands(budgets, planes, summary, bands)
    atomic_write(out / "frontier.csv", rows.getvalue().encode())
    atomic_write(out / "results.json", json.dumps(results, indent=1).encode())
    atomic_write(out / "frontier.png", png)
    print(f"wrote {out / 'results.json'}, {out / 'frontier.csv'}, {out / 'frontier.png'}")
    return 0


def _strategy_spec(text: str):
    """argparse type of ``--strategy``: ``cot``, ``tot:B`` or ``bon:K`` -> (kind, int)."""
    kind, _, arg = text.partition(":")
    if kind == "cot" and not arg:
        return ("cot", 0)
    if kind in ("tot", "bon") and arg.isascii() and arg.isdigit() and int(arg) >= 1:
        return (kind, int(arg))
    raise argparse.ArgumentTypeError(f"{text[:40]!r} not understood: use cot, tot:B or bon:K")


def _strategy(spec):
    import ds3jax

    kind, n = spec
    if kind == "tot":
        return ds3jax.ToT(branching=n)
    if kind == "bon":
        return ds3jax.BestOfN(k=n, base=ds3jax.CoT())
    return ds3jax.CoT()


# ----------------------------------------------------------------------------- figure


def cmd_figure(args) -> int:
    names = available()
    if args.name == "all":
        chosen = names
    elif args.name in names:
        chosen = [args.name]
    else:
        raise UsageError(f"unknown figure {args.name!r}; available: {', '.join(names)}, all")
    files = [f"{n}.{ext}" for n in chosen for ext in ("png", "json")]
    check_out_dir(args.out, files=files)
    status(f"figure: {len(chosen)} figure(s); importing JAX and compiling ...")
    bar = _Progress(len(chosen), "figures")
    for name in chosen:
        res = run_experiment(name, args.out, quick=args.quick)
        bar.update(1)
        print(f"wrote {res['png']} and {res['json']}")
    return 0


# ----------------------------------------------------------------------------- entry


def build_parser() -> argparse.ArgumentParser:
    p = OneLineArgumentParser(prog="ds3jax", description="DS3 inference-compute scaling tools")
    sub = p.add_subparsers(dest="command", required=True)
    from . import _cli_fitloss

    f = sub.add_parser("frontier", help="Chinchilla-vs-global comparison on the default problem")
    f.add_argument("--out", default="out", help="output folder (default: out)")
    f.add_argument("--config", default=None, help="TOML problem file (see experiments/configs)")
    f.add_argument("--budgets", type=_budget_count, default=None, help="number of budgets (60)")
    f.add_argument("--cmin", type=positive_float, default=None, help="smallest budget [FLOPs]")
    f.add_argument("--cmax", type=positive_float, default=None, help="largest budget [FLOPs]")
    f.add_argument(
        "--plane",
        choices=("chinchilla", "fixed_tokens"),
        default=None,
        help="the constrained path compared with the global one (default chinchilla)",
    )
    f.add_argument(
        "--kappa", type=positive_float, default=None, help="Chinchilla tokens per parameter (20)"
    )
    f.add_argument(
        "--tokens", type=positive_float, default=None, help="fixed tokens per task (fixed_tokens)"
    )
    f.add_argument(
        "--strategy",
        type=_strategy_spec,
        default=None,
        help="cot (default), tot:B (branching B) or bon:K (best of K)",
    )
    f.add_argument(
        "--attention",
        action="store_true",
        help="charge Table I attention + evaluation FLOPs (App. A-B architecture)",
    )
    f.add_argument("--method", choices=("gradient", "grid", "continuation"), default=None)
    f.add_argument("--chunks", type=_positive_int, default=6, help=argparse.SUPPRESS)
    _cli_fitloss.add_frontier_options(f)
    f.set_defaults(func=cmd_frontier)
    g = sub.add_parser("figure", help="reproduce a paper figure (PNG + JSON of the numbers)")
    g.add_argument("name", help="figure module name (e.g. fig3), or 'all'; a wrong name lists them")
    g.add_argument("--quick", action="store_true", help="small, fast settings")
    g.add_argument("--out", default="out/figures", help="output folder (default out/figures)")
    g.set_defaults(func=cmd_figure)
    from . import _cli_backtest, _cli_fit, _cli_forecast, _cli_sweep

    _compile_cache.register(p)
    _cli_fit.register(sub)
    _cli_backtest.register(sub)
    _cli_fitloss.register(sub)
    _cli_forecast.register(sub)
    _cli_sweep.register(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed its one-line message (status 2)
        return int(e.code or 0)
    try:
        _compile_cache.apply(args)
        return args.func(args)
    except (UsageError, ValueError) as e:
        message = " ".join(str(e).split())  # one line, whatever the message quotes
        print(f"ds3jax {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
