"""``ds3jax fit``: fit the Beta + point-mass task population (Eq. 58-59) to a CSV.

    ds3jax fit FILE.csv [--out DIR] [--loss l2|max] [--no-zero-mass]

Two CSV formats, told apart by the header (names are case-insensitive, blanks ignored):

* a pass@k curve: columns ``k, accuracy`` (or ``x, y``), one row per number of samples k;
  fitted by bounded least squares (``--loss l2``, the paper's App. E-B) or minimax
  (``--loss max``) with :func:`ds3jax.population.fit_passk_curve`;
* per-problem counts: columns ``problem, correct, samples``; fitted by maximum likelihood of
  the beta-binomial with a zero mass, :func:`ds3jax.population.fit_passk_counts`
  (``--no-zero-mass`` fixes A = 1).

Prints the parameters with standard errors and the goodness of fit, and writes
``<name>_fit.json`` and a goodness-of-fit plot ``<name>_fit.png`` to ``--out`` (atomically).
Bad input raises ``ValueError`` with a one-line message naming the line or column; the CLI
turns it into exit status 2.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from ._common import atomic_write, check_out_dir, to_jsonable

__all__ = ["register", "cmd_fit", "read_fit_csv"]

_CURVE_COLS = {"k": "k", "x": "k", "accuracy": "y", "y": "y"}
_COUNT_COLS = ("problem", "correct", "samples")
_FORMATS = "either k, accuracy (or x, y) for a pass@k curve, or problem, correct, samples"


def register(subparsers) -> None:
    """Add the ``fit`` subcommand to the ``ds3jax`` argument parser."""
    f = subparsers.add_parser(
        "fit",
        help="fit the Beta + point-mass population to a pass@k curve or per-problem counts CSV",
        description=(
            "Fit A (1 - B(alpha, beta + k) / B(alpha, beta)) to a pass@k curve CSV (columns "
            "k, accuracy or x, y) or, by maximum likelihood, to a per-problem counts CSV "
            "(columns problem, correct, samples). Prints parameters with standard errors and "
            "writes <name>_fit.json and <name>_fit.png."
        ),
    )
    f.add_argument("csv", help="input CSV file")
    f.add_argument("--out", default="out/fit", help="output folder (default: out/fit)")
    f.add_argument(
        "--loss",
        choices=("l2", "max"),
        default="l2",
        help="curve fits: least squares (l2, default) or smallest largest error (max)",
    )
    f.add_argument(
        "--method",
        choices=("auto", "grid", "beta", "power_law"),
        default="auto",
        help="counts fits: family chosen by held-out likelihood (auto, default), the smooth "
        "nonparametric grid, the beta-binomial + zero mass, or the power-law baseline",
    )
    f.add_argument(
        "--n-boot",
        type=int,
        default=1000,
        help="counts fits: bootstrap replicates for the 90%% intervals (default 1000; 0: none)",
    )
    f.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when the optimality conditions fail or the data do not determine the fit",
    )
    f.add_argument(
        "--no-zero-mass",
        action="store_true",
        help="counts fits: fix A = 1 (no point mass of unsolvable problems)",
    )
    f.set_defaults(func=cmd_fit)


# ----------------------------------------------------------------------------- input


def _rows(path: Path):
    if not path.exists():
        raise ValueError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read: {e}") from None
    rows = [
        (i + 1, [c.strip() for c in r])
        for i, r in enumerate(csv.reader(io.StringIO(text)))
        if any(c.strip() for c in r)
    ]
    if not rows:
        raise ValueError(f"{path}: file is empty")
    return rows


def read_fit_csv(path):
    """Read a curve or counts CSV: returns ``("curve", Curve)`` or ``("counts", Counts)``.

    Raises ``ValueError`` naming the file line (1-based; the header is line 1) or the column.
    """
    from ds3jax.population import make_counts, make_curve

    path = Path(path)
    rows = _rows(path)
    hline, header = rows[0]
    cols = [h.lower() for h in header]
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise ValueError(f"{path}: line {hline}: duplicate column {dup[0]!r}")
    if set(_COUNT_COLS) & set(cols):
        kind, known = "counts", set(_COUNT_COLS)
    elif set(_CURVE_COLS) & set(cols):
        kind, known = "curve", set(_CURVE_COLS)
    else:
        raise ValueError(f"{path}: line {hline}: unrecognised header {header}; expected {_FORMATS}")
    unknown = [h for h, c in zip(header, cols) if c not in known]
    if unknown:
        raise ValueError(
            f"{path}: line {hline}: unknown column {unknown[0]!r} in a {kind} file; "
            f"expected {_FORMATS}"
        )
    if kind == "curve":
        roles = [_CURVE_COLS[c] for c in cols]
        for role, names in (("k", "k (or x)"), ("y", "accuracy (or y)")):
            if roles.count(role) != 1:
                raise ValueError(
                    f"{path}: line {hline}: need exactly one column {names}, got {header}"
                )
        ik, iy = roles.index("k"), roles.index("y")
    else:
        missing = [c for c in _COUNT_COLS if c not in cols]
        if missing:
            raise ValueError(
                f"{path}: line {hline}: missing column {missing[0]!r}; expected {_FORMATS}"
            )
        ip, ic, i_n = (cols.index(c) for c in _COUNT_COLS)
    a, b, probs, where = [], [], [], []
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise ValueError(
                f"{path}: line {line}: expected {len(header)} fields ({', '.join(header)}), "
                f"got {len(row)}"
            )
        if kind == "curve":
            fields = (("k", ik), ("accuracy", iy))
        else:
            fields = (("correct", ic), ("samples", i_n))
        vals = []
        for name, i in fields:
            try:
                vals.append(float(row[i]))
            except ValueError:
                raise ValueError(
                    f"{path}: line {line}: column {header[i]!r}: expected a number for {name}, "
                    f"got {row[i]!r}"
                ) from None
        a.append(vals[0])
        b.append(vals[1])
        if kind == "counts":
            probs.append(row[ip])
        where.append(f"line {line}")
    if not a:
        raise ValueError(f"{path}: file has a header but no data rows")
    if kind == "curve":
        return kind, make_curve(a, b, name=path.stem, where=where)
    return kind, make_counts(a, b, probs, name=path.stem, where=where)


# ----------------------------------------------------------------------------- output


def _figure(title, k_data, y_data, k_model, y_model, resid, data_label, band=None, fit_label=""):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    if band is not None:
        ax1.fill_between(
            k_model,
            band[0],
            band[1],
            color="tab:orange",
            alpha=0.25,
            lw=0,
            label="90% bootstrap interval",
        )
    ax1.plot(k_model, y_model, "-", color="tab:orange", label=fit_label)
    ax1.plot(k_data, y_data, "o", ms=4, color="tab:blue", label=data_label)
    ax1.axvline(float(np.max(k_data)), color="0.5", lw=0.8, ls=":")
    ax1.set_xscale("log")
    # axes fitted to what is drawn (data, fit and band), not to [0, 1]
    shown = [np.asarray(y_data), np.asarray(y_model)] + ([] if band is None else list(band))
    lo = min(float(np.min(v)) for v in shown)
    hi = max(float(np.max(v)) for v in shown)
    pad = 0.05 * max(hi - lo, 1e-3)
    ax1.set_ylim(max(lo - pad, 0.0), min(hi + pad, 1.0))
    ax1.set_xlim(float(np.min(k_model)), float(np.max(k_model)))
    ax1.set_xlabel("k (samples per problem, log scale; dotted: largest k in the data)")
    ax1.set_ylabel("pass@k (fraction of problems solved)")
    ax1.set_title("data and fitted pass@k, extrapolated")
    # the legend goes outside the plotting area, so it never covers a point
    ax1.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=3, frameon=False)
    ax1.grid(alpha=0.3, which="both", lw=0.5)
    ax2.axhline(0.0, color="k", lw=0.8)
    ax2.plot(k_data, resid, "o-", ms=4, color="tab:red")
    ax2.set_xscale("log")
    ax2.set_xlabel("k (samples per problem, log scale)")
    ax2.set_ylabel("model - data (pass@k)")
    ax2.set_title("residuals")
    ax2.grid(alpha=0.3, which="both", lw=0.5)
    fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue(), fig


_LABELS = {"alpha": "alpha", "beta": "beta", "solvable": "A (solvable)"}


def cmd_fit(args) -> int:
    stem = Path(args.csv).stem
    check_out_dir(args.out, files=(f"{stem}_fit.json", f"{stem}_fit.png"))
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as pop

    path = Path(args.csv)
    kind, data = read_fit_csv(path)
    if kind == "curve":
        fit = pop.fit_passk_curve(data, loss=args.loss)
        method = "least squares" if args.loss == "l2" else "minimax (smallest largest error)"
        k_data, y_data = data.k, data.y
        data_label = "pass@k data"
        described = f"pass@k curve, {data.k.size} points"
    else:
        fit = pop.fit_passk_counts(
            data, method=args.method, zero_mass=not args.no_zero_mass, n_boot=max(args.n_boot, 0)
        )
        method = f"{args.method}: {fit.family}"
        kmax = int(np.min(data.samples))
        k_data = np.unique(np.round(np.geomspace(1, kmax, min(kmax, 40))))
        y_data = np.asarray(pop.passk_from_counts(data.correct, data.samples, k_data))
        data_label = "unbiased pass@k estimate from counts"
        described = f"per-problem counts, {data.correct.size} problems, n >= {kmax} samples"
    k_model = np.geomspace(1.0, max(1e4, 100.0 * float(np.max(k_data))), 200)
    y_model = np.asarray(fit.passk(k_model))
    band = fit.passk_interval(k_model) if fit.replicates is not None else None
    resid = np.asarray(fit.passk(np.asarray(k_data, float))) - y_data
    is_beta = isinstance(fit.population, pop.BetaPopulation)
    params = (
        {
            n: {
                "value": float(getattr(fit.population, n)),
                "stderr": float(fit.stderr[n]),
                "at_bound": n in fit.at_bound,
            }
            for n in ("alpha", "beta", "solvable")
        }
        if is_beta
        else {}
    )
    k_far = np.array([1e3, 1e4, 1e5, 1e6])
    far = np.asarray(fit.passk(k_far))
    far_iv = fit.passk_interval(k_far) if fit.replicates is not None else None
    result = {
        "input": str(path),
        "kind": kind,
        "method": method,
        "family": fit.family,
        "why": fit.why,
        "result": fit.result.name,
        "identified": fit.identified,
        "extrapolation": {
            "k": k_far,
            "passk": far,
            "low90": None if far_iv is None else far_iv[0],
            "high90": None if far_iv is None else far_iv[1],
            "note": fit.extrapolation_note or fit.interval_note,
        },
        "n_obs": fit.n_obs,
        "parameters": params,
        "covariance": {"names": list(fit.names), "matrix": fit.cov},
        "rmse": fit.rmse,
        "max_abs_error": fit.max_abs_error,
        "loglik": fit.loglik,
        "aic": fit.aic,
        "success": fit.success,
        "message": fit.message,
        "data": {"k": k_data, "passk": y_data},
        "fitted": {
            "k": k_model,
            "passk": y_model,
            "low90": None if band is None else band[0],
            "high90": None if band is None else band[1],
        },
    }

    w = print
    w(f"ds3jax fit: {path} ({described}; {method})")
    if kind == "counts":
        w(f"  family: {fit.family} ({fit.why})")
    if params:
        w(f"  {'parameter':<14}{'value':>12}{'std. error':>14}")
    for n, p in params.items():
        se = "(at bound)" if p["at_bound"] else f"{p['stderr']:.4g}"
        w(f"  {_LABELS[n]:<14}{p['value']:>12.5g}{se:>14}")
    for kk, v, i in zip(k_far, far, range(k_far.size)):
        iv = "" if far_iv is None else f"  90% interval [{far_iv[0][i]:.4f}, {far_iv[1][i]:.4f}]"
        w(f"  pass@{kk:.0e} = {v:.4f}{iv}")
    if far_iv is None:
        w(f"  no intervals: {fit.interval_note}")
    gof = f"  RMSE {fit.rmse:.5f}, max |error| {fit.max_abs_error:.5f} (pass@k"
    gof += " over the curve points)" if kind == "curve" else " vs the unbiased estimate)"
    w(gof)
    if fit.loglik is not None:
        w(f"  log-likelihood {fit.loglik:.4f}, AIC {fit.aic:.4f}")
    if not fit.identified:
        w(f"  warning: the data do not determine this fit: {fit.message}")
    elif fit.result is not pop.RESULTS.successful:
        w(f"  warning: {fit.result.name}: {fit.message}")

    head = (
        f"alpha = {params['alpha']['value']:.4g}, beta = {params['beta']['value']:.4g}, "
        f"A = {params['solvable']['value']:.4g}; "
        if params
        else ""
    )
    png, _ = _figure(
        f"{path.name}: {head}RMSE {fit.rmse:.4f} ({method})",
        k_data,
        y_data,
        k_model,
        y_model,
        resid,
        data_label,
        band=band,
        fit_label=f"fit: {fit.family}",
    )
    out = Path(args.out)
    stem = path.stem
    text = json.dumps(to_jsonable(result), indent=1, allow_nan=False)
    atomic_write(out / f"{stem}_fit.json", text.encode())
    atomic_write(out / f"{stem}_fit.png", png)
    w(f"wrote {out / (stem + '_fit.json')} and {out / (stem + '_fit.png')}")
    if args.strict and (not fit.identified or fit.result is not pop.RESULTS.successful):
        print(
            f"ds3jax fit: --strict: {fit.result.name}: {fit.message}", file=__import__("sys").stderr
        )
        return 3
    return 0
