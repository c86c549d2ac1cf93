"""``ds3jax fit FILE.csv --by COLUMNS``: one pass@k forecast per data set of a labelled file.

A counts file often holds many data sets (one per model and checkpoint).  ``--by model,
checkpoint`` fits each with ``fit_passk_counts`` (the route, replicates and seed of the
command) and prints one line per data set: its problems and sample sizes, the family chosen,
pass@k at k = 1e3 .. 1e6 with 90% intervals.  Data sets with no correct sample are listed and
skipped (nothing identifies a population there).  Writes ``<name>_fits.json`` (every data
set's forecast, weights and notes) and ``<name>_fits.png`` (the forecasts with their
intervals, one column per data set, beside the largest-k pass@k the data measure).

``--shared`` pools the data sets instead (``fit_passk_shared``: one difficulty per problem,
one level per data set), and each line is that data set's forecast given every data set's
counts; the route column reads ``shared``.  Without it, where two or more data sets measured
some of the same problems, a closing line says that ``--shared`` applies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ._cli_fit import _kfmt, check_count_options, file_safe, fit_counts
from ._common import Progress, UsageError, atomic_write, check_out_dir, to_jsonable

__all__ = ["cmd_fit_groups"]


def cmd_fit_groups(args, where: dict, by: tuple, stem: str, k_far) -> int:
    if args.loss != "l2" or "loss" in getattr(args, "given", ()):
        raise UsageError("--by fits per-problem counts: --loss is for curves")
    if args.shared and args.method is not None:
        raise UsageError("--shared is its own route: leave out --method")
    check_count_options(args)
    # column names go into the file name: "size/B" wrote into a subfolder
    name = file_safe(f"{stem}_by-{'-'.join(by)}")
    check_out_dir(args.out, files=(f"{name}_fits.json", f"{name}_fits.png"))
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as pop

    groups = pop.load_count_groups(args.csv, by, where=where)
    method = "shared" if args.shared else args.method or "ensemble"
    print(
        f"ds3jax fit: {args.csv}: {len(groups)} data sets by {', '.join(by)}; route {method}, "
        f"{args.n_boot} replicates"
    )
    heads = " ".join(f"{'pass@' + _kfmt(k):>22}" for k in k_far)
    print(f"  {'data set':<32} {'problems':>8} {'samples':>13} {'family':<14} {heads}")
    shared = None
    if args.shared:
        print("  fitting the shared difficulty of every data set ...", flush=True)
        try:
            shared = pop.fit_passk_shared(groups, None, n_boot=max(args.n_boot, 1), seed=args.seed)
        except ValueError as e:
            raise UsageError(f"--shared: {e}") from None
    bar = Progress(len(groups), "fits")
    rows, unidentified = [], []
    for key, counts in groups.items():
        label = " ".join(f"{b}={v}" for b, v in zip(by, key))
        n_lo, n_hi = int(counts.samples.min()), int(counts.samples.max())
        row = {
            "labels": dict(zip(by, key)),
            "problems": int(counts.correct.size),
            "samples": [n_lo, n_hi],
            "correct": int(counts.correct.sum()),
            "measured": {"k": n_lo, "passk": _measured(pop, counts, n_lo)},
        }
        n_txt = f"{n_lo}" if n_lo == n_hi else f"{n_lo}..{n_hi}"
        if not np.any(counts.correct > 0):
            row["skipped"] = "every count is zero: no population is identified"
            print(f"  {label:<32} {counts.correct.size:>8} {n_txt:>13} skipped: no correct sample")
        elif shared is not None:
            fit = shared
            y = np.asarray(fit.passk(key, k_far), float)
            lo, hi = fit.passk_interval(key, k_far) if args.n_boot else (None, None)
            row.update(
                family="shared",
                level=fit.levels[key],
                tau=fit.tau,
                identified=fit.converged,
                message=fit.message,
                why=(
                    f"shared difficulty over {len(fit.names)} data sets: level "
                    f"{fit.levels[key]:+.2f} (the strongest 0), interaction tau {fit.tau:.2f}"
                ),
                passk={"k": k_far, "passk": y, "low90": lo, "high90": hi},
                beyond_data=k_far > n_hi,
            )
        else:
            fit = fit_counts(pop, counts, args)
            y = np.asarray(fit.passk(k_far), float)
            lo, hi = fit.passk_interval(k_far) if args.n_boot else (None, None)
            row.update(
                family=fit.family,
                weights=fit.weights,
                identified=fit.identified,
                result=fit.result.name,
                message=fit.message,
                why=fit.why,
                passk={"k": k_far, "passk": y, "low90": lo, "high90": hi},
                beyond_data=k_far > n_hi,
            )
        if "passk" in row:
            cells = " ".join(
                f"{y[i]:.3f}" + ("" if lo is None else f" [{lo[i]:.2f}, {hi[i]:.2f}]")
                for i in range(k_far.size)
            )
            flag = "" if row["identified"] else "  (not determined by the data)"
            print(
                f"  {label:<32} {counts.correct.size:>8} {n_txt:>13} {row['family']:<14} "
                f"{cells}{flag}"
            )
            if not row["identified"]:
                unidentified.append(label)
        rows.append(row)
        bar.update(1)
    if shared is None and (hint := _pooling_hint(pop, groups)):
        print(hint)
    out = Path(args.out)
    text = json.dumps(
        to_jsonable({"by": by, "where": where, "route": method, "fits": rows}), indent=1
    )
    atomic_write(out / f"{name}_fits.json", text.encode())
    atomic_write(out / f"{name}_fits.png", _figure(args.csv, rows, k_far, by))
    print(f"wrote {out / (name + '_fits.json')} and {out / (name + '_fits.png')}")
    if unidentified:
        print(
            f"  warning: the data do not determine the fit of {len(unidentified)} data set(s): "
            + ", ".join(unidentified)
        )
        if args.strict:
            print("ds3jax fit: --strict: some fits are not determined by the data", file=sys.stderr)
            return 3
    return 0


def _pooling_hint(pop, groups) -> str:
    """A line saying that ``--shared`` applies, where two or more data sets with a correct
    sample measured some of the same problems ('' otherwise)."""
    solved = {key: g for key, g in groups.items() if np.any(g.correct > 0)}
    if len(solved) < 2:
        return ""
    _, _, _, n = pop.align_count_groups(solved)
    common = int(np.sum((n > 0).sum(axis=1) >= 2))
    if not common:
        return ""
    return (
        f"  note: {len(solved)} data sets measured {common} of the same problems; --shared "
        "pools them (one difficulty per problem), which on average forecast pass@1e3 / 1e4 "
        "from 100 samples better than fitting each alone on the README's Pythia benchmarks"
    )


def _measured(pop, counts, k):
    """The unbiased pass@k at the largest k every problem has (what the data measure)."""
    return float(
        np.asarray(pop.passk_from_counts(counts.correct, counts.samples, np.array([k])))[0]
    )


def _figure(csv, rows, k_far, by) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    n = len(rows)
    fig = Figure(figsize=(max(7.0, 0.32 * n + 3.0), 4.8), layout="constrained")
    ax = fig.subplots()
    x = np.arange(n)
    colors = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, k_far.size))
    off = 0.5 * np.linspace(-0.3, 0.3, k_far.size)
    for i, k in enumerate(k_far):
        xs, ys, err = [], [], [[], []]
        for j, r in enumerate(rows):
            if "passk" not in r:
                continue
            p = r["passk"]
            xs.append(x[j] + off[i])
            ys.append(p["passk"][i])
            if p["low90"] is not None:
                err[0].append(p["passk"][i] - p["low90"][i])
                err[1].append(p["high90"][i] - p["passk"][i])
        ax.errorbar(
            xs,
            ys,
            yerr=np.maximum(np.array(err), 0.0) if err[0] else None,
            fmt="o",
            ms=3,
            lw=0.8,
            color=colors[i],
            label=f"pass@{_kfmt(k)}" + (" (90% interval)" if err[0] else ""),
        )
    ax.plot(
        x,
        [r["measured"]["passk"] for r in rows],
        "_",
        ms=10,
        color="k",
        label="measured: pass@k at k = the fewest samples",
    )
    ax.set_xticks(
        x,
        [
            "\n".join(map(str, r["labels"].values()))
            if n <= 12
            else " ".join(map(str, r["labels"].values()))
            for r in rows
        ],
        rotation=0 if n <= 12 else 90,
        fontsize=7,
    )
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("pass@k (fraction of problems solved)")
    ax.set_xlabel(", ".join(by))
    ax.set_title(f"{Path(csv).name}: pass@k forecasts per data set", fontsize=10)
    ax.grid(alpha=0.3, lw=0.5)
    fig.legend(
        *ax.get_legend_handles_labels(),
        fontsize=8,
        loc="outside lower center",
        ncol=min(3, k_far.size + 1),
        frameon=False,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()
