"""``ds3jax fit``: pass@k far beyond the data, from a pass@k curve or per-problem counts.

    ds3jax fit FILE.csv [--out DIR] [--where COLUMN=VALUE ...] [--by COLUMNS [--shared]]
                        [--method ROUTE] [--n-boot N] [--seed S] [--strict]
                        [--no-zero-mass] [--loss l2|max] [--family beta+zero|beta-mixture+zero]

Two CSV formats, told apart by the header (names are case-insensitive, blanks ignored):

* per-problem counts: columns ``problem, correct, samples`` and any label columns (a file
  with several data sets takes ``--where`` to pick one, or ``--by`` to fit each:
  :mod:`._cli_fit_groups`); fitted by
  :func:`ds3jax.population.fit_passk_counts`.  ``--method`` picks the route (its ``METHODS``):
  ``ensemble`` (default) combines ``auto`` with the power law (far beyond the data, half
  each where few problems are solved, leaning on the power law where many are); ``auto``
  averages the families of ``AUTO_FAMILIES`` (Beta, Beta + zero mass,
  Beta + mass at 1, logit-normal) by held-out likelihood; ``beta``, ``beta+zero``, ``beta+one``,
  ``logit-normal``, ``logit-normal+zero`` take one family's exact grid posterior;
  ``beta-mixture`` fits two Betas by maximum likelihood; ``grid`` is the smooth
  nonparametric population; ``mle`` is the beta-binomial + zero mass by maximum likelihood
  with standard errors (``--no-zero-mass`` fixes A = 1); ``power_law`` is the baseline
  -log pass@k = a k^-b.  ``--n-boot`` replicates (default 1000; 0: none) give the 90%
  intervals, ``--seed`` seeds the held-out splits and the replicates.  Beside each forecast:
  the range the counts alone allow, whatever the population
  (:func:`ds3jax.population.passk_bounds`).
* a pass@k curve: columns ``k, accuracy`` (or ``x, y``), one row per number of samples k;
  fitted by bounded least squares (``--loss l2``, the paper's App. E-B) or minimax
  (``--loss max``) with :func:`ds3jax.population.fit_passk_curve`, family ``--family``
  (Eq. 59's Beta + zero mass, default, or a two-Beta mixture + zero mass).  Standard errors,
  no intervals (the points of one curve share their samples).

Prints the route, the family chosen and why, the parameters (estimate and 90% interval, or
standard errors), pass@k at k = 1e3, 1e4, 1e5, 1e6 with 90% intervals (marking the k beyond
the data as extrapolations and the intervals too wide to say anything), for ``ensemble`` and
``auto`` what each averaged family and the power law forecast alone, the goodness of fit,
and a warning when the data do not determine the fit (``--strict`` then exits 3).  Writes
``<name>_fit.json`` and ``<name>_fit.png`` (data, fitted curve and its 90% band on a log-k
axis, residuals) to ``--out`` (atomically).  Bad input raises ``ValueError`` with a one-line
message naming the line, column or option; the CLI turns it into exit status 2.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import numpy as np

from ._common import UsageError, atomic_write, check_out_dir, seed, status, to_jsonable

__all__ = ["register", "cmd_fit", "read_fit_csv"]

# kept in step with ds3jax.population._counts.METHODS and _fit's curve families (the parser
# is built without importing JAX; a test checks the lists agree)
METHODS = (
    "ensemble",
    "auto",
    "beta",
    "beta+zero",
    "beta+one",
    "logit-normal",
    "logit-normal+zero",
    "beta-mixture",
    "grid",
    "mle",
    "power_law",
)
CURVE_FAMILIES = ("beta+zero", "beta-mixture+zero")
K_FAR = np.array([1e3, 1e4, 1e5, 1e6])  # the printed pass@k
PLAUSIBLE = 0.05  # a family's least held-out weight to count in the parts' disagreement
N_MODEL = 60  # log-spaced k of the drawn curve (one array shape: one compilation)
N_DATA = 40  # at most this many k of the unbiased estimate from counts
WIDE = 0.5  # a 90% interval wider than this does not pin pass@k


def register(subparsers) -> None:
    """Add the ``fit`` subcommand to the ``ds3jax`` argument parser."""
    f = subparsers.add_parser(
        "fit",
        help="predict pass@k far beyond the data from per-problem counts or a pass@k curve CSV",
        description=(
            "Fit a task population to a per-problem counts CSV (columns problem, correct, "
            "samples; by default four families averaged by held-out likelihood) or a "
            "pass@k curve CSV (columns k, accuracy or x, y; Eq. 59 by least squares), print "
            "the family chosen and why, its parameters, pass@k at k = 1e3 .. 1e6 with 90% "
            "intervals, and write <name>_fit.json and <name>_fit.png."
        ),
    )
    f.add_argument("csv", help="input CSV file")
    f.add_argument("--out", default="out/fit", help="output folder (default: out/fit)")
    add_where_option(f, "fit")
    f.add_argument(
        "--by",
        default=None,
        metavar="COLUMNS",
        help="counts files holding several data sets: fit every one, told apart by these label "
        "columns (comma-separated, e.g. --by model,checkpoint); prints a table and writes "
        "<name>_by-<columns>_fits.json and .png",
    )
    f.add_argument(
        "--shared",
        action="store_true",
        help="with --by: pool the data sets (several models or checkpoints on the same "
        "problems) by shared problem difficulty (fit_passk_shared) instead of fitting each "
        "alone",
    )
    f.add_argument(
        "--method",
        choices=METHODS,
        default=None,
        metavar="ROUTE",
        help="counts fits: ensemble (default: auto combined with power_law beyond the data, "
        "half each where few problems are solved, leaning on power_law where many are); "
        "auto (beta, beta+zero, beta+one and logit-normal averaged "
        "by held-out likelihood); one family's grid posterior: beta, beta+zero, beta+one, "
        "logit-normal, logit-normal+zero; beta-mixture (two Betas, maximum likelihood); "
        "grid (smooth nonparametric); mle (beta-binomial + zero mass, maximum likelihood, "
        "standard errors); power_law (the baseline)",
    )
    f.add_argument(
        "--n-boot",
        type=int,
        default=None,
        help="counts fits: replicates for the 90%% intervals (default 1000; 0: no intervals; "
        "otherwise at least 20)",
    )
    f.add_argument(
        "--seed",
        type=seed,
        default=None,
        help="counts fits: seed of the held-out splits and the replicates (default 0)",
    )
    f.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when the data do not determine the fit or the optimality conditions fail",
    )
    f.add_argument(
        "--no-zero-mass",
        action="store_true",
        help="counts fits with --method mle: fix A = 1 (no point mass of unsolvable problems)",
    )
    f.add_argument(
        "--loss",
        choices=("l2", "max"),
        default=None,
        help="curve fits: least squares (l2, default) or smallest largest error (max)",
    )
    f.add_argument(
        "--family",
        choices=CURVE_FAMILIES,
        default=None,
        help="curve fits: Eq. 59's Beta + zero mass (beta+zero, default) or two Betas + zero "
        "mass (beta-mixture+zero)",
    )
    f.set_defaults(func=cmd_fit)


def add_where_option(parser, verb: str) -> None:
    """``--where COLUMN=VALUE`` (repeatable): pick one data set of a labelled counts file."""
    parser.add_argument(
        "--where",
        action="append",
        default=None,
        metavar="COLUMN=VALUE",
        help="counts files holding several data sets (label columns such as model, "
        f"checkpoint): {verb} the rows with this label (repeatable, e.g. --where "
        "model=pythia-1b --where checkpoint=300B)",
    )


# ----------------------------------------------------------------------------- input


def read_fit_csv(path, where=None):
    """Read a curve or counts CSV: returns ``("curve", Curve)`` or ``("counts", Counts)``.

    Told apart by the header: any of ``problem, correct, samples`` makes a counts file
    (:func:`ds3jax.population.load_counts`; ``where`` = {column: value} selects its rows),
    else a curve (:func:`ds3jax.population.load_curve`).  Raises ``ValueError`` naming the
    file line (1-based; the header is line 1) or the column.
    """
    from ds3jax._csv import read_rows
    from ds3jax.population import load_counts, load_curve
    from ds3jax.population._data import _COUNT_COLS, _CURVE_COLS, CURVE_FORMAT

    path = Path(path)
    hline, header = read_rows(path)[0]
    cols = [h.lower() for h in header]
    if set(_COUNT_COLS) & set(cols):
        return "counts", load_counts(path, where=where)
    if where:
        raise ValueError("--where selects rows of a per-problem counts file, not of a curve")
    if not set(_CURVE_COLS) & set(cols):
        raise ValueError(
            f"{path}: line {hline}: unrecognised header {header}; expected either "
            f"{CURVE_FORMAT} for a pass@k curve, or {', '.join(_COUNT_COLS)}"
        )
    return "curve", load_curve(path)


def parse_where(items) -> dict:
    """``["model=pythia-1b", "checkpoint=300B"]`` -> {"model": "pythia-1b", ...}."""
    out = {}
    for it in items or ():
        col, sep, val = it.partition("=")
        if not sep or not col.strip():
            raise ValueError(f"--where takes COLUMN=VALUE, got {it!r}")
        if col.strip() in out:  # the last one won without a word
            raise ValueError(
                f"--where names column {col.strip()!r} twice; it selects one value per column"
            )
        out[col.strip()] = val.strip()
    return out


def output_stem(path, where) -> str:
    """The output files' name: the CSV's stem, then each selection (file-name safe)."""
    parts = [Path(path).stem] + [f"{k}-{v}" for k, v in where.items()]
    return file_safe("_".join(parts))


def file_safe(text: str) -> str:
    """``text`` with every run of characters outside [A-Za-z0-9._-] made one "_"."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


# ----------------------------------------------------------------------------- output


def _figure(
    title,
    k_data,
    y_data,
    k_model,
    y_model,
    resid,
    data_label,
    band=None,
    fit_label="",
    band_label="90% bootstrap interval",
    k_top=None,
):
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
            label=band_label,
        )
    ax1.plot(k_model, y_model, "-", color="tab:orange", label=fit_label)
    ax1.plot(k_data, y_data, "o", ms=4, color="tab:blue", label=data_label)
    # where extrapolation starts: the most samples any problem has (with mixed sample sizes
    # the unbiased curve drawn ends earlier, at the fewest)
    ax1.axvline(float(np.max(k_data)) if k_top is None else k_top, color="0.5", lw=0.8, ls=":")
    ax1.set_xscale("log")
    # axes fitted to what is drawn (data, fit and band), not to [0, 1]
    shown = [np.asarray(y_data), np.asarray(y_model)] + ([] if band is None else list(band))
    lo = min(float(np.min(v)) for v in shown)
    hi = max(float(np.max(v)) for v in shown)
    pad = 0.05 * max(hi - lo, 1e-3)
    ax1.set_ylim(max(lo - pad, 0.0), min(hi + pad, 1.0))
    ax1.set_xlim(float(np.min(k_model)), float(np.max(k_model)))
    ax1.set_xlabel("k (samples per problem, log scale; dotted: the most samples in the data)")
    ax1.set_ylabel("pass@k (fraction of problems solved)")
    ax1.set_title("data and fitted pass@k, extrapolated")
    # the legend goes below both panels (outside every plotting area, so it never covers a
    # point, and without widening the left panel's layout box)
    handles, labels = ax1.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncol=3, frameon=False)
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


_LABELS = {
    "alpha": "alpha",
    "beta": "beta",
    "solvable": "A (solvable)",
    "always": "mass at psi=1",
    "mu": "mu (logit)",
    "sigma": "sigma (logit)",
    "a": "a",
    "b": "b",
}


def _kfmt(k) -> str:
    """1000 -> '1e3'."""
    e = int(round(np.log10(k)))
    return f"1e{e}" if np.isclose(k, 10.0**e) else f"{k:g}"


def _num(x):
    x = float(x)
    return x if np.isfinite(x) else None


def check_count_options(args) -> None:
    """The options of a counts fit that the fit would refuse (one line on stderr)."""
    if args.family is not None:
        raise UsageError("--family applies to pass@k curve fits; for counts use --method")
    if args.no_zero_mass and args.method != "mle":
        raise UsageError(
            "--no-zero-mass applies to --method mle (the other routes choose or fix the "
            "zero mass by their family)"
        )
    check_n_boot(args.n_boot)


def check_n_boot(n_boot: int) -> None:
    """``--n-boot``: 0 (no intervals) or enough replicates for an interval."""
    if n_boot < 0 or 0 < n_boot < 20:
        raise UsageError(f"--n-boot must be 0 (no intervals) or at least 20, got {n_boot}")


def fit_counts(pop, counts, args):
    """``fit_passk_counts`` with the command's route, replicates and seed."""
    return pop.fit_passk_counts(
        counts,
        method=args.method or "ensemble",
        zero_mass=not args.no_zero_mass,
        n_boot=args.n_boot,
        seed=args.seed,
    )


def _check_options(args, kind, data) -> None:
    """Option and data checks the fit would fail on, made before the status line (so a bad
    input is one line on stderr)."""
    if kind == "counts":
        if not np.any(data.correct > 0):
            raise UsageError(
                f"{data.name or 'counts'}: every count is zero (no problem has a correct sample "
                f"in {int(data.samples.max())} samples): no population is identified; pass@k "
                "beyond the data cannot be estimated"
            )
        if "loss" in getattr(args, "given", ()):
            raise UsageError("--loss applies to pass@k curve fits; for counts use --method")
        check_count_options(args)
        return
    unused = sorted(getattr(args, "given", set()) & {"n_boot", "seed"})
    if unused:
        raise UsageError(
            f"--{unused[0].replace('_', '-')} applies to per-problem counts (a curve fit has no "
            "replicates or held-out splits)"
        )
    if args.method is not None or args.no_zero_mass:
        opt = "--method" if args.method is not None else "--no-zero-mass"
        raise UsageError(
            f"{opt} applies to per-problem counts (columns problem, correct, samples); "
            "for a pass@k curve use --loss and --family"
        )
    n_par = 6 if args.family == "beta-mixture+zero" else 3
    if data.k.size < n_par:
        raise UsageError(
            f"{data.name or 'curve'}: need at least {n_par} points to fit {n_par} parameters"
        )


def _plan(method, counts, n_boot, zero_mass, splits=2) -> str:
    """What the counts fit will do, for the status line printed before it."""
    from ds3jax.population import AUTO_FAMILIES
    from ds3jax.population._counts import LAMBDAS

    if method in ("auto", "ensemble"):
        what = f"{len(AUTO_FAMILIES)} families x {1 + splits} posteriors"
        what += " + power law" if method == "ensemble" else ""
    elif method == "grid":
        what = f"nonparametric grid, {len(LAMBDAS)} penalties x {splits} held-out splits"
    elif method == "mle":
        what = "beta-binomial" + (" + zero mass" if zero_mass else "") + " by maximum likelihood"
    elif method == "beta-mixture":
        what = "two Betas by maximum likelihood (multi-start Newton)"
    elif method == "power_law":
        what = "power law on the unbiased pass@k curve"
    else:
        what = f"{method}: 1 family x 1 posterior"
    reps = f"{n_boot} replicates" if n_boot else "no replicates (--n-boot 0: no intervals)"
    P = counts.correct.size
    return f"fit: {P} problem{'s' * (P != 1)}: {what}, {reps}; compiling first (~10-30 s) ..."


def _counts_parameters(fit):
    """JSON parameters of a counts fit: estimate and 90% interval (None where the route has
    none), plus standard errors for ``mle``."""
    out = {}
    for n, (v, lo, hi) in fit.params.items():
        p = {"value": float(v), "low90": _num(lo), "high90": _num(hi)}
        if fit.method == "power_law":  # a point estimate (the params repeat it)
            p["low90"] = p["high90"] = None
        if fit.method == "mle":
            p["stderr"] = float(fit.stderr.get(n, np.nan))
            p["at_bound"] = n in fit.at_bound
            if p["at_bound"]:  # a standard error of 0 there: no interval
                p["low90"] = p["high90"] = None
        out[n] = p
    return out


def _curve_values(fit):
    """Natural parameters of a curve fit (``fit.names``) from its population."""
    pop = fit.population
    if "alpha1" not in fit.names:
        return {n: float(getattr(pop, n)) for n in fit.names}
    b1, b2, _ = pop.components
    w = np.asarray(pop.weights, float)
    A = float(w[0] + w[1])
    return {
        "alpha1": float(b1.alpha),
        "beta1": float(b1.beta),
        "alpha2": float(b2.alpha),
        "beta2": float(b2.beta),
        "weight1": float(w[0] / A) if A > 0 else float("nan"),
        "solvable": A,
    }


def _parameter_lines(kind, fit, params):
    if not params:
        return []
    with_se = kind == "curve" or fit.method == "mle"
    if with_se:
        head = f"  {'parameter':<16}{'value':>12}{'std. error':>14}"
        lines = [head + (f"{'90% interval':>26}" if kind == "counts" else "")]
    else:
        what = "posterior median" if fit.method in _GRID else "value"
        lines = [f"  {'parameter':<16}{what:>16}{'90% interval':>26}"]
    for n, p in params.items():
        iv = ""
        if p.get("low90") is not None and p.get("high90") is not None:
            iv = f"[{p['low90']:.4g}, {p['high90']:.4g}]"
        if with_se:
            se = "(at bound)" if p["at_bound"] else f"{p['stderr']:.4g}"
            line = f"  {_LABELS.get(n, n):<16}{p['value']:>12.5g}{se:>14}{iv:>26}"
            lines.append(line.rstrip())
        else:
            lines.append(f"  {_LABELS.get(n, n):<16}{p['value']:>16.5g}{iv or '-':>26}")
    return lines


_GRID = ("ensemble", "auto", "beta", "beta+zero", "beta+one", "logit-normal", "logit-normal+zero")


def _pad(k, size):
    k = np.asarray(k, float)
    return np.concatenate([k, np.full(size - k.size, k[-1])])


_KIND_DEFAULTS = {"loss": "l2", "n_boot": 1000, "seed": 0}


def cmd_fit(args) -> int:
    # the options one file kind reads were accepted and ignored for the other: remember which
    # were given, then fill the defaults
    args.given = {k for k in _KIND_DEFAULTS if getattr(args, k) is not None}
    for k, v in _KIND_DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    where = parse_where(args.where)
    stem = output_stem(args.csv, where)
    if args.by is not None:
        from ._cli_fit_groups import cmd_fit_groups

        by = tuple(b.strip() for b in args.by.split(",") if b.strip())
        if not by:
            raise UsageError(f"--by takes label columns separated by commas, got {args.by!r}")
        return cmd_fit_groups(args, where, by, stem, K_FAR)
    if args.shared:
        raise UsageError("--shared pools several data sets: name them with --by COLUMNS")
    check_out_dir(args.out, files=(f"{stem}_fit.json", f"{stem}_fit.png"))
    path = Path(args.csv)
    kind, data = read_fit_csv(path, where)
    _check_options(args, kind, data)
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as pop

    w = print
    if kind == "curve":
        family = args.family or "beta+zero"
        loss = "least squares" if args.loss == "l2" else "minimax (smallest largest error)"
        route = f"{family}, {loss}"
        described = f"pass@k curve, {data.k.size} points"
        w(f"ds3jax fit: {path} ({described}; {route})")
        status(f"fit: {data.k.size} points: {family} by {loss} ...")
        fit = pop.fit_passk_curve(data, loss=args.loss, family=family)
        k_data, y_data = np.asarray(data.k, float), np.asarray(data.y, float)
        data_label = "pass@k data"
        k_top = float(np.max(k_data))
        values = _curve_values(fit)
        params = {
            n: {"value": values[n], "stderr": float(fit.stderr[n]), "at_bound": n in fit.at_bound}
            for n in fit.names
        }
    else:
        method = args.method or "ensemble"
        route = method + (" (A = 1)" if args.no_zero_mass else "")
        n_lo, n_hi = int(np.min(data.samples)), int(np.max(data.samples))
        n_txt = f"n = {n_lo}" if n_lo == n_hi else f"n = {n_lo} .. {n_hi}"
        P = data.correct.size
        described = f"per-problem counts, {P} problem{'s' * (P != 1)}, {n_txt} samples"
        w(f"ds3jax fit: {path} ({described}; route {route})")
        status(_plan(method, data, args.n_boot, not args.no_zero_mass))
        fit = fit_counts(pop, data, args)
        k_data = np.unique(np.round(np.geomspace(1, n_lo, min(n_lo, N_DATA))))
        y_data = np.asarray(
            pop.passk_from_counts(data.correct, data.samples, _pad(k_data, N_DATA))
        )[: k_data.size]
        data_label = "unbiased pass@k estimate from counts"
        k_top = float(n_hi)
        params = _counts_parameters(fit)

    # every k in one array of a fixed size: one compilation for passk and the interval
    k_model = np.geomspace(1.0, max(K_FAR[-1], 100.0 * k_top), N_MODEL)
    n_pad = N_DATA * -(-k_data.size // N_DATA)
    k_all = np.concatenate([k_model, K_FAR, _pad(k_data, n_pad)])
    y_all = np.asarray(fit.passk(k_all), float)
    iv_all = fit.passk_interval(k_all) if fit.replicates is not None else None
    pop_all = (
        np.asarray(fit.population_passk(k_all[N_MODEL : N_MODEL + K_FAR.size]), float)
        if kind == "counts"
        else y_all[N_MODEL : N_MODEL + K_FAR.size]
    )
    cut = (slice(0, N_MODEL), slice(N_MODEL, N_MODEL + K_FAR.size))
    y_model, far = y_all[cut[0]], y_all[cut[1]]
    band = None if iv_all is None else (iv_all[0][cut[0]], iv_all[1][cut[0]])
    far_iv = None if iv_all is None else (iv_all[0][cut[1]], iv_all[1][cut[1]])
    resid = y_all[N_MODEL + K_FAR.size :][: k_data.size] - y_data
    beyond = K_FAR > k_top

    from ds3jax._text import counted

    counts_only = kind == "counts"
    # what each averaged family (and the power law) forecasts on its own
    parts = (
        fit.passk_components(K_FAR) if counts_only and fit.method in ("auto", "ensemble") else None
    )
    # what the counts allow with no assumption on the population (pop.passk_bounds)
    bounds, bounds_note, measured = None, "", None
    if counts_only:
        try:
            bounds = pop.passk_bounds(data, k=K_FAR)
        except ValueError as e:  # counts no binomial mixture reproduces: said, not fatal
            bounds_note = str(e)
        # where every problem has >= k samples, these problems' pass@k is measured; the
        # bounds there are the population's, as wide as the noise of drawing P problems
        inside = K_FAR <= np.min(data.samples)
        if inside.any():
            # the k beyond the data are replaced by one inside (the estimator has none there)
            k_in = np.where(inside, K_FAR, K_FAR[0])
            measured = np.where(
                inside,
                np.asarray(pop.passk_from_counts(data.correct, data.samples, k_in), float),
                np.nan,
            )
    result = {
        "input": str(path),
        "kind": kind,
        "method": fit.method if counts_only else args.loss,
        "family": fit.family,
        "why": fit.why,
        "weights": fit.weights if counts_only else None,
        "scores": fit.scores if counts_only else None,
        "result": fit.result.name,
        "identified": fit.identified,
        "extrapolation": {
            "k": K_FAR,
            "passk": far,
            "low90": None if far_iv is None else far_iv[0],
            "high90": None if far_iv is None else far_iv[1],
            "beyond_data": beyond,
            "data_alone_low90": None if bounds is None else bounds[0],
            "data_alone_high90": None if bounds is None else bounds[1],
            "measured": measured,
            "note": fit.extrapolation_note or fit.interval_note,
        },
        "population_passk": {"k": K_FAR, "passk": pop_all},
        "components": None if parts is None else {"k": K_FAR, **parts},
        "n_obs": fit.n_obs,
        "parameters": params,
        "covariance": None if counts_only else {"names": list(fit.names), "matrix": fit.cov},
        "rmse": fit.rmse,
        "max_abs_error": fit.max_abs_error,
        "loglik": fit.loglik,
        "aic": None if counts_only else fit.aic,
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

    if counts_only:
        if fit.method in ("auto", "ensemble"):
            fams = [f for f in fit.weights if f != "power_law"]
            law = fit.weights.get("power_law", 0.0)
            # the families' own weight (fit.weights holds them scaled by 1 - the lean)
            share = fit.family_weights[fit.family]
            w(
                f"  family: {fit.family} (weight {share:.2f}, the heaviest of {len(fams)} "
                "averaged families"
                + (
                    f"; far beyond the data the families carry {1 - law:.2f} of the forecast "
                    f"and the power law {law:.2f}"
                    if law
                    else ""
                )
                + "; the parameters below are its own)"
            )
        else:
            w(f"  family: {fit.family}")
    else:
        w(f"  family: {fit.family}")
    if fit.why:
        w(f"  why: {fit.why}")
    for line in _parameter_lines(kind, fit, params):
        w(line)
    unpinned = []
    for i, kk in enumerate(K_FAR):
        iv = ""
        if far_iv is not None:
            lo, hi = far_iv[0][i], far_iv[1][i]
            iv = f"  90% interval [{lo:.4f}, {hi:.4f}]"
            if hi - lo > WIDE:
                unpinned.append(_kfmt(kk))
        note = f"  (extrapolated: beyond {k_top:g} samples)" if beyond[i] else ""
        if measured is not None and np.isfinite(measured[i]):
            note += f"; measured: {measured[i]:.4f}"
        elif bounds is not None:
            note += f"; data alone: [{bounds[0][i]:.2f}, {bounds[1][i]:.2f}]"
        w(f"  pass@{_kfmt(kk)} = {far[i]:.4f}{iv}{note}")
    if parts is not None:
        w(f"  each part alone, pass@{' / '.join(_kfmt(kk) for kk in K_FAR)}:")
        for name, v in parts.items():
            w(f"    {name:<18}" + " / ".join(f"{x:.4f}" for x in v))
        if far_iv is not None:
            # the parts the data leave in play: the power law and every family whose
            # held-out weight is at least PLAUSIBLE
            held = fit.family_weights
            live = [v for nm, v in parts.items() if held.get(nm, 1.0) >= PLAUSIBLE]
            spread = np.ptp(np.stack(live), axis=0)
            apart = [_kfmt(kk) for kk, d, a, b in zip(K_FAR, spread, *far_iv) if d > b - a]
            if apart:
                who = f"the families of held-out weight >= {PLAUSIBLE}"
                if "power_law" in parts:
                    who = "the power law and " + who
                w(
                    f"  at k = {', '.join(apart)} {who} lie further apart than the 90% "
                    "interval is wide: the forecast there rests on their weights"
                )
    if measured is not None:
        w(
            "  measured: the unbiased estimate from the counts, where every problem has at "
            "least k samples"
        )
    if bounds is not None and (measured is None or not np.all(np.isfinite(measured))):
        w(
            "  data alone: the range of the population's pass@k over every distribution of "
            "success rates whose counts match these within their noise (90%, including the "
            f"noise of drawing {counted(data.correct.size, 'problem')}); where the forecast's "
            "interval is narrower, it rests on its families and the power law"
        )
    elif bounds_note:
        w(f"  data alone: no bounds: {bounds_note}")
    if far_iv is None:
        w(f"  no intervals: {fit.interval_note}")
    if unpinned:
        w(
            f"  pass@k at k = {', '.join(unpinned)} is not pinned by the data "
            f"(90% interval wider than {WIDE})"
        )
    if beyond.any() and fit.extrapolation_note:
        w(f"  note: {fit.extrapolation_note}")
    if kind == "curve":
        gof = f"  RMSE {fit.rmse:.5f}, max |error| {fit.max_abs_error:.5f} (pass@k over the "
        gof += "curve points)"
    else:
        # over the k the residual panel shows (the fit's own rmse uses 6 k)
        gof = f"  RMSE {float(np.sqrt(np.mean(resid**2))):.5f}, max |error| "
        gof += f"{float(np.max(np.abs(resid))):.5f} (pass@k vs the unbiased estimate at the "
        gof += f"{resid.size} k plotted)"
    w(gof)
    if fit.loglik is not None:
        w(f"  log-likelihood {fit.loglik:.4f}")
    if not fit.identified:
        w(f"  warning: the data do not determine this fit: {fit.message}")
    elif fit.result is not pop.RESULTS.successful:
        w(f"  warning: {fit.result.name}: {fit.message}")

    head = ", ".join(f"{n} = {p['value']:.4g}" for n, p in list(params.items())[:3] if n in _LABELS)
    if kind == "curve" or fit.family == fit.method:
        fit_label = f"fit: {fit.family}"
    elif fit.method == "auto":
        fit_label = f"fit: auto (families averaged; heaviest {fit.family})"
    elif fit.method == "ensemble":
        fit_label = f"fit: ensemble (families averaged, heaviest {fit.family}; + power law)"
    else:
        fit_label = f"fit: {route}, {fit.family}"
    label = path.name + "".join(f" [{c}={v}]" for c, v in where.items())
    png, _ = _figure(
        f"{label}: {fit.family}" + (f"; {head}" if head else "") + f"; RMSE {fit.rmse:.4f}",
        k_data,
        y_data,
        k_model,
        y_model,
        resid,
        data_label,
        band=band,
        fit_label=fit_label,
        band_label=f"90% interval ({args.n_boot} replicates)",
        k_top=k_top,
    )
    out = Path(args.out)
    text = json.dumps(to_jsonable(result), indent=1, allow_nan=False)
    atomic_write(out / f"{stem}_fit.json", text.encode())
    atomic_write(out / f"{stem}_fit.png", png)
    w(f"wrote {out / (stem + '_fit.json')} and {out / (stem + '_fit.png')}")
    if args.strict and (not fit.identified or fit.result is not pop.RESULTS.successful):
        print(f"ds3jax fit: --strict: {fit.result.name}: {fit.message}", file=sys.stderr)
        return 3
    return 0
