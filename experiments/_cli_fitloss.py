"""``ds3jax fit-loss``: fit the loss law (Eq. 1) to training runs; bands for ``frontier``.

    ds3jax fit-loss FILE.csv [--out DIR] [--exclude-highest K] [--bootstrap N] [--delta D]
    ds3jax frontier --loss-fit DIR [--bootstrap N] ...

``fit-loss`` reads a CSV with columns ``n_params``, ``loss`` and either ``n_tokens`` or
``training_flops`` (then D = C / (6 N)); names are case-insensitive. It fits
L = E + A / N^alpha + B / D^beta by the multi-start Huber fit :func:`ds3jax.fit_loss_law`,
bootstraps it (:meth:`ds3jax.LossFit.bootstrap`), prints the constants with percentile
intervals, and writes ``loss_fit.json`` (constants, intervals, covariance, the bootstrap
replicates and the data) and ``loss_fit.png`` (data vs fit, iso-loss contours, the
training-compute-efficient frontier N*(C), D*(C) with its band) to ``--out``, atomically.

``frontier --loss-fit DIR`` runs the main Chinchilla-vs-global job with the law fitted in
DIR, and with ``--bootstrap N`` (> 0) draws percentile bands over N bootstrap laws
(:func:`optim.optimum_bands`) on every panel.

Bad input raises ``ValueError`` naming the file line; the CLI turns it into exit status 2
before anything is written.
"""

from __future__ import annotations

import argparse
import io
import json
import warnings
from pathlib import Path

import numpy as np

from ._common import Progress, atomic_write, check_out_dir, int_at_least, seed, status, to_jsonable

__all__ = ["register", "cmd_fit_loss", "read_runs_csv", "add_frontier_options"]

_FILE = "loss_fit.json"
_NAMES = ("E", "A", "B", "alpha", "beta")


def register(subparsers) -> None:
    """Add the ``fit-loss`` subcommand."""
    f = subparsers.add_parser(
        "fit-loss",
        help="fit L = E + A/N^alpha + B/D^beta to training runs (multi-start Huber + bootstrap)",
        description=(
            "Fit the Chinchilla loss law to a CSV of training runs (columns n_params, loss, "
            "and n_tokens or training_flops) by the multi-start Huber fit of Hoffmann et al. "
            "and Epoch; bootstrap intervals; writes loss_fit.json and loss_fit.png."
        ),
    )
    f.add_argument("csv", help="input CSV file")
    f.add_argument("--out", default="out/fit-loss", help="output folder (default out/fit-loss)")
    f.add_argument(
        "--exclude-highest",
        type=int_at_least(0),
        default=0,
        help="leave out the K runs with the highest loss (Epoch: 5 on the Chinchilla runs)",
    )
    f.add_argument(
        "--bootstrap",
        type=_replicates,
        default=1000,
        help="bootstrap replicates: 0 (none) or at least 2 (1000)",
    )
    f.add_argument("--delta", type=float, default=1e-3, help="Huber threshold (1e-3)")
    f.add_argument("--level", type=float, default=0.9, help="interval level (0.9)")
    f.add_argument("--seed", type=seed, default=0, help="bootstrap random seed")
    f.set_defaults(func=cmd_fit_loss)


def _replicates(text: str) -> int:
    """``--bootstrap``: 0 (none) or at least 2 replicates, refused before any fit runs."""
    v = int_at_least(0)(text)
    if v == 1:
        raise argparse.ArgumentTypeError("expected 0 (no bootstrap) or at least 2, got '1'")
    return v


def add_frontier_options(parser) -> None:
    """``--loss-fit DIR`` and ``--bootstrap N`` for the ``frontier`` subcommand."""
    parser.add_argument(
        "--loss-fit", default=None, help="use the loss law fitted by `ds3jax fit-loss` in DIR"
    )
    parser.add_argument(
        "--bootstrap",
        type=_replicates,
        default=0,
        help="with --loss-fit: bands over N bootstrap laws on every panel (e.g. 1000)",
    )


# ----------------------------------------------------------------------------- input


def read_runs_csv(path):
    """(n_params, n_tokens, loss, lines) from a runs CSV; ValueError naming the line."""
    from ds3jax._csv import check_fields, check_unique_columns, parse_number, read_rows

    path = Path(path)
    rows = read_rows(path)
    hline, header = rows[0]
    cols = [h.lower() for h in header]
    need = "columns n_params, loss and n_tokens or training_flops"
    for c in ("n_params", "loss"):
        if c not in cols:
            raise ValueError(f"{path}: line {hline}: missing column {c!r}; expected {need}")
    has_d, has_c = "n_tokens" in cols, "training_flops" in cols
    if has_d == has_c:
        raise ValueError(
            f"{path}: line {hline}: need exactly one of 'n_tokens' or 'training_flops', "
            f"got {header}"
        )
    check_unique_columns(path, hline, cols)
    i_n, i_l = cols.index("n_params"), cols.index("loss")
    i_d = cols.index("n_tokens" if has_d else "training_flops")
    check_fields(path, header, rows[1:])
    vals, lines = [], []
    for line, row in rows[1:]:
        v = []
        for name, i in (("n_params", i_n), (header[i_d], i_d), ("loss", i_l)):
            x = parse_number(path, line, name, row[i])
            if not (np.isfinite(x) and x > 0):
                raise ValueError(
                    f"{path}: line {line}: {name} must be positive and finite, got {row[i]!r}"
                )
            v.append(x)
        vals.append(v)
        lines.append(line)
    a = np.asarray(vals)
    n, d, loss = a[:, 0], a[:, 1], a[:, 2]
    if not has_d:
        d = d / (6.0 * n)
    if a.shape[0] < 6:
        raise ValueError(f"{path}: {a.shape[0]} runs for 5 parameters: need at least 6")
    return n, d, loss, np.asarray(lines)


# ----------------------------------------------------------------------------- figure


def _figure(fit, boot, level):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    import ds3jax

    fig = Figure(figsize=(16, 4.8), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    u = fit.used
    pred = np.asarray(fit.predict(fit.n_params, fit.n_tokens))
    ax1.loglog(fit.loss[u], pred[u], "o", ms=3, label="runs used")
    if (~u).any():
        ax1.loglog(fit.loss[~u], pred[~u], "x", ms=5, color="tab:red", label="left out")
    lo, hi = fit.loss.min() * 0.95, fit.loss.max() * 1.05
    ax1.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax1.set(xlabel="observed loss", ylabel="fitted loss", title="data vs fit")
    ax1.legend(fontsize=8)

    ln = np.log10(fit.n_params)
    ld = np.log10(fit.n_tokens)
    gx = np.linspace(ln.min() - 0.3, ln.max() + 0.5, 120)
    gy = np.linspace(ld.min() - 0.3, ld.max() + 0.5, 120)
    X, Y = np.meshgrid(gx, gy)
    Z = np.asarray(ds3jax.loss(fit.law, 10.0**X, 10.0**Y))
    # losses reported to two decimals tie; contour wants increasing levels
    levels = np.unique(np.quantile(fit.loss, np.linspace(0.05, 0.95, 9)))
    if levels.size < 2:
        levels = np.linspace(Z.min(), Z.max(), 9)[1:-1]
    cs = ax2.contour(X, Y, Z, levels=levels, cmap="viridis")
    ax2.clabel(cs, fontsize=7, fmt="%.2f")
    sc = ax2.scatter(ln, ld, c=fit.loss, s=8, cmap="viridis")
    fig.colorbar(sc, ax=ax2, label="observed loss")
    C = np.logspace(np.log10(6 * fit.n_params.min() * fit.n_tokens.min()), 25, 60)
    opt = ds3jax.training_optimal(fit.law, C)
    ax2.plot(
        np.log10(np.asarray(opt.N)), np.log10(np.asarray(opt.D)), "r-", label="efficient frontier"
    )
    ax2.set(xlabel="log10 N (parameters)", ylabel="log10 D (tokens)", title="iso-loss contours")
    ax2.set_xlim(gx[0], gx[-1])
    ax2.set_ylim(gy[0], gy[-1])
    ax2.legend(fontsize=8)

    for key, color in (("N", "tab:blue"), ("D", "tab:orange")):
        ax3.loglog(C, np.asarray(getattr(opt, key)), color=color, label=f"{key}*(C)")
        if boot is not None:
            ob = ds3jax.training_optimal(boot.laws, C[:, None])
            v = np.asarray(getattr(ob, key))
            q = 100 * np.array([(1 - level) / 2, (1 + level) / 2])
            b_lo, b_hi = np.percentile(v, q, axis=1)
            ax3.fill_between(
                C, b_lo, b_hi, color=color, alpha=0.25, lw=0, label=f"{level:.0%} band"
            )
    ax3.set(
        xlabel="training compute C = 6 N D [FLOPs]",
        ylabel="parameters / tokens",
        title="training-compute-optimal frontier",
    )
    ax3.legend(fontsize=8)
    law = fit.law
    fig.suptitle(
        f"L = {law.E:.4g} + {law.A:.4g}/N^{law.alpha:.4f} + {law.B:.4g}/D^{law.beta:.4f} "
        f"(Huber delta {fit.delta:g}, {fit.n_used} runs)"
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


# ----------------------------------------------------------------------------- fit-loss


def cmd_fit_loss(args) -> int:
    if not 0 < args.level < 1:
        raise ValueError(f"--level must lie in (0, 1), got {args.level}")
    if not (np.isfinite(args.delta) and args.delta > 0):
        raise ValueError(f"--delta must be positive, got {args.delta}")
    n, d, loss, lines = read_runs_csv(args.csv)
    if n.size - args.exclude_highest < 6:
        raise ValueError(
            f"{n.size} runs minus {args.exclude_highest} left out is fewer than the 6 needed"
        )
    out = check_out_dir(args.out, files=(_FILE, "loss_fit.png"))
    status(f"fit-loss: {n.size} runs; importing JAX and compiling the multi-start fit ...")
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax

    with warnings.catch_warnings():  # said below, in the table's words
        warnings.simplefilter("ignore", UserWarning)
        fit = ds3jax.fit_loss_law(
            n, d, loss, delta=args.delta, exclude=f"highest_loss:{args.exclude_highest}"
        )
    boot = None
    if args.bootstrap:
        bar = Progress(args.bootstrap, "bootstrap refits")
        last = [0]

        def tick(done, total):
            bar.update(done - last[0])
            last[0] = done

        boot = fit.bootstrap(args.bootstrap, jax.random.key(args.seed), progress=tick)
    se = fit.standard_errors()
    iv = boot.interval(args.level) if boot is not None else {}
    law = fit.law
    print(
        f"ds3jax fit-loss: {args.csv} ({n.size} runs, {fit.n_used} used; Huber delta {fit.delta:g})"
    )
    print(f"  L = E + A / N^alpha + B / D^beta; objective {fit.objective:.10g} (start {fit.start})")
    head = f"  {'':<7}{'value':>12}{'delta-method s.e.':>20}"
    if boot is not None:
        head += f"{f'{args.level:.0%} bootstrap interval':>32}"
    print(head)
    for k in _NAMES:
        row = f"  {k:<7}{getattr(law, k):>12.5g}{se[k]:>20.4g}"
        if boot is not None:
            row += f"      [{iv[k][0]:>10.5g}, {iv[k][1]:>10.5g}]"
        print(row)
    if not fit.converged:
        print("  warning: the best start did not meet the convergence test")
    if fit.unidentified:
        print(
            f"  warning: these runs do not determine {', '.join(fit.unidentified)}: other values "
            "fit them as well (LossFit.unidentified); runs over a wider range of N and D "
            "would pin them"
        )
    result = {
        "input": str(args.csv),
        "model": "L = E + A / N^alpha + B / D^beta (Eq. 1), Huber on log-loss residuals",
        "delta": fit.delta,
        "law": {k: getattr(law, k) for k in _NAMES},
        "theta": fit.theta,
        "objective": fit.objective,
        "start": fit.start,
        "n_starts": int(fit.starts.shape[0]),
        "converged": fit.converged,
        "unidentified": list(fit.unidentified),
        "standard_errors": se,
        "covariance_theta": fit.covariance,
        "excluded_lines": lines[~fit.used],
        "bootstrap": None
        if boot is None
        else {
            "n": boot.n,
            "seed": args.seed,
            "level": args.level,
            "intervals": iv,
            "theta": boot.theta,
            "converged_fraction": float(np.mean(boot.converged)),
        },
        "data": {"n_params": n, "n_tokens": d, "loss": loss, "used": fit.used},
    }
    png = _figure(fit, boot, args.level)
    atomic_write(out / _FILE, json.dumps(to_jsonable(result), allow_nan=False).encode())
    atomic_write(out / "loss_fit.png", png)
    print(f"wrote {out / _FILE} and {out / 'loss_fit.png'}")
    return 0


# ----------------------------------------------------------------------------- frontier


def load_loss_fit(folder, n_boot: int = 0):
    """(point LossLaw, theta (5,), bootstrap theta (n_boot, 5) or None) from ``fit-loss`` output.

    Raises ValueError when the folder has no (valid) ``loss_fit.json`` or fewer stored
    bootstrap replicates than ``n_boot`` (run ``fit-loss --bootstrap`` with more).
    """
    path = Path(folder) / _FILE
    if not path.is_file():
        raise ValueError(f"--loss-fit {folder}: no {_FILE} there (run `ds3jax fit-loss` first)")
    try:
        res = json.loads(path.read_text())
        theta = np.asarray(res["theta"], float)
        boot = res.get("bootstrap")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"--loss-fit {folder}: {_FILE} is not a fit-loss result ({e})") from None
    if theta.shape != (5,) or not np.all(np.isfinite(theta)):
        raise ValueError(f"--loss-fit {folder}: {_FILE} holds no valid theta")
    reps = None
    if n_boot:
        have = 0 if boot is None else int(boot.get("n", 0))
        if have < n_boot:
            raise ValueError(
                f"--bootstrap {n_boot}: {path} holds {have} bootstrap replicates; rerun "
                f"`ds3jax fit-loss --bootstrap {n_boot}`"
            )
        reps = np.asarray(boot["theta"], float)[:n_boot]
    import ds3jax

    law = ds3jax.LossLaw(
        E=float(np.exp(theta[0])),
        A=float(np.exp(theta[1])),
        B=float(np.exp(theta[2])),
        alpha=float(theta[3]),
        beta=float(theta[4]),
    )
    return law, theta, reps


def frontier_bands(problem, reps, budgets, plane, kappa, tokens, level=0.9):
    """Bootstrap bands of the frontier job's quantities (progress bar on stderr)."""
    import optim

    bar = Progress(2 * reps.shape[0], "bootstrap optima")
    last = [0]

    def tick(done, total):
        bar.update(done - last[0])
        last[0] = done

    return optim.optimum_bands(
        problem,
        optim.law_from_theta(reps),
        budgets,
        plane=plane,
        kappa=kappa,
        tokens=tokens,
        level=level,
        center=problem.law,
        progress=tick,
    )


def bands_json(bands):
    """The bands as JSON-ready lists (median null where no replicate matched)."""
    with warnings.catch_warnings():  # a budget no replicate matched: its median is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        median = {k: np.nanmedian(v, axis=0) for k, v in bands.samples.items()}
    return to_jsonable(
        {
            "level": bands.level,
            "method": bands.method,
            "low": bands.low,
            "high": bands.high,
            "median": median,
            "matched_fraction": bands.matched,
        }
    )


def frontier_figure_with_bands(budgets, planes, summary, bands):
    """The six frontier panels (as ``ds3jax frontier`` draws them) with bootstrap bands."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    cname = summary["constrained"]
    colors = {"global": "tab:blue", cname: "tab:orange"}
    labels = {"global": "global optimum", cname: summary["constrained_label"]}
    fig = Figure(figsize=(15, 8.5), layout="constrained")
    axes = fig.subplots(2, 3)
    panels = [
        ("N", "optimal parameters N*", "parameters", True),
        ("D", "optimal training tokens D*", "tokens", True),
        ("Omega", "optimal inference budget Omega*", "tokens per task", True),
        ("kappa", "tokens per parameter kappa* = D*/N*", "D/N", True),
        ("inference_share", "share of compute spent on inference", "2 N I Omega / C", False),
        ("value", "task-averaged accuracy at the optimum", "accuracy Psi", False),
    ]
    for ax, (key, title, unit, logy) in zip(axes.ravel(), panels):
        for plane, res in planes.items():
            if key == "kappa":
                y = res["D"] / res["N"]
            elif key == "inference_share":
                y = 1.0 - res["train_share"]
            else:
                y = res[key]
            ax.plot(budgets, y, color=colors[plane], label=labels[plane])
            name = f"{key}_{plane}"
            ax.fill_between(
                budgets,
                bands.low[name],
                bands.high[name],
                color=colors[plane],
                alpha=0.25,
                lw=0,
                label=f"{bands.level:.0%} bootstrap band",
            )
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, 1)
        ax.set(title=title, xlabel="total compute C [FLOPs]", ylabel=unit)
        ax.legend(fontsize=7)
    n = bands.samples["N_global"].shape[0]
    fig.suptitle(
        f"Global vs {summary['constrained_label']} on the fitted loss law, with {bands.level:.0%} "
        f"bands over {n} bootstrap laws (problem: {summary.get('problem', '')})"
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()
