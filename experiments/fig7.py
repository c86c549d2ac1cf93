"""Fig. 7 (panels 1a, 1b, 2a, 2b): accuracy over training and inference compute, and AIME.

Model: the hierarchical skill-text framework (Sec. III-A, Eq. 42-52) with the App. B
"Claude 3.7 Sonnet" parameters, which are the :class:`ds3jax.SkillTextModel` defaults:
zeta = 2.5e3 parameters per concept, tau = 1e4 tokens per text piece, text degree d_t = 6,
S = 1e4 skills per level, L = 100 levels, level decay b = 10, beta = 5, delta = 0.5,
omega = 25 tokens per skill step; tasks uniform over levels l = 60..70 and m = 2..15 skills;
CoT policy (Eq. 51-52). Pretraining is Chinchilla-style, D = 20 N, so a training budget
C_tr = 6 N D fixes N = sqrt(C_tr / 120). Inference compute is C_inf = 2 N I Omega (no attention,
Eq. 11) with Omega the per-task token budget and I = 1e9 tasks served (the App. C task load;
the paper does not state I for Fig. 7). Parameters the paper leaves open (eta = 3 concepts per
skill, Chernoff rho = 0.05) keep the library defaults.

Panels:

* 1a: accuracy Psi over (C_tr, C_inf), with the total-compute-optimal allocations: for each
  total budget C the maximum of Psi on the line C_tr + C_inf = C (dense search over the
  training share of C).
* 1b: accuracy isocontours in (log C_tr, log C_inf) with straight-line fits (the approximately
  log-linear trade-off between training and inference compute).
* 2a: Claude 3.7 Sonnet AIME accuracy vs tokens used per task (estimated data in
  ``shared/data/ds3_passk/Claude_3_7_Sonnet_Estimated_Aime_df.csv``, training compute 3.35e25
  FLOPs) with the token budgets marked, and the DS3 curve at that training compute. Two
  parameters are fitted by least squares: the tokens per skill step omega (a horizontal shift
  in log tokens; omega enters Psi only through T = Omega / omega) and a ceiling c (the share of
  AIME problems within the model's reach), Psi_fit(x) = c Psi(x; omega_fit). The paper uses
  the App. B values without a stated fit; the model's budget is plotted against the data's
  *used* tokens.
* 2b: the same without budget overlays over a wider token range.

Panels 3a/3b (OpenAI o1) are not reproduced: their data are not in ``shared/data``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import ds3jax
from experiments._common import run_module

TITLE = (
    "Fig. 7: CoT accuracy over training x inference compute (skill-text model, App. B "
    "'Claude 3.7 Sonnet' parameters, D = 20N, I = 1e9 tasks) and Claude 3.7 Sonnet AIME "
    "accuracy vs tokens"
)

KAPPA = 20.0  # Chinchilla-style tokens per parameter
N_QUERIES = 1e9  # I, tasks served (App. C value)
CLAUDE_C_TR = 3.35e25
RATIO_WINDOW = (
    1e-2,
    1e2,
)  # C_inf / C_tr range of the 1b log-linear fits  # EpochAI training-FLOP estimate used in App. B
LEVELS = (60, 70)  # task levels l (App. B)
M_SKILLS = (2, 15)  # required skills m (App. B)
DATA_FILE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "ds3_passk"
    / "Claude_3_7_Sonnet_Estimated_Aime_df.csv"
)


def _settings(quick: bool) -> dict:
    if quick:
        return dict(level_step=2, n_tr=10, n_inf=10, n_total=5, n_share=20, n_curve=24, chunk=128)
    return dict(level_step=1, n_tr=36, n_inf=36, n_total=10, n_share=64, n_curve=60, chunk=256)


def _tasks(level_step: int) -> ds3jax.TaskGrid:
    levels = np.arange(LEVELS[0], LEVELS[1] + 1, level_step, dtype=float)
    ms = np.arange(M_SKILLS[0], M_SKILLS[1] + 1, dtype=float)
    return ds3jax.TaskGrid.product(jnp.asarray(levels), jnp.asarray(ms))


def _accuracy(model, tasks, c_tr, budget, chunk):
    """Psi (Eq. 52) at flat arrays of training compute [FLOPs] and budgets [tokens].

    Evaluated in fixed-size chunks (the last one padded) so that the library compiles one
    shape and memory stays at chunk x tasks x levels.
    """
    c_tr = np.asarray(c_tr, float).ravel()
    budget = np.asarray(budget, float).ravel()
    n = c_tr.size
    pad = (-n) % chunk
    c_tr = np.concatenate([c_tr, np.full(pad, c_tr[-1])])
    budget = np.concatenate([budget, np.full(pad, budget[-1])])
    out = []
    for i in range(0, c_tr.size, chunk):
        alloc = ds3jax.chinchilla_rule(jnp.asarray(c_tr[i : i + chunk]), KAPPA)
        acc = ds3jax.tripartite_expected_accuracy(
            model, tasks, ds3jax.CoT(), alloc.N, alloc.D, jnp.asarray(budget[i : i + chunk])
        )
        out.append(np.asarray(acc))
    return np.concatenate(out)[:n]


def _n_params(c_tr):
    return np.sqrt(np.asarray(c_tr, float) / (6.0 * KAPPA))


def _crossing(x, y, target):
    """x where the non-decreasing sequence y first reaches ``target`` (linear interp), or NaN."""
    idx = int(np.argmax(y >= target))
    if y[idx] < target or idx == 0:
        return np.nan
    x0, x1, y0, y1 = x[idx - 1], x[idx], y[idx - 1], y[idx]
    return x0 + (target - y0) * (x1 - x0) / (y1 - y0)


def read_aime(path=None):
    """The Claude 3.7 Sonnet AIME series as a dict of lists, or None if the file is missing."""
    path = Path(DATA_FILE if path is None else path)
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols = ("Budget", "Tokens", "Accuracy", "C_inf", "C_tr")
    return {c: [float(r[c]) for r in rows] for c in cols}


def fit_token_curve(log_budget, acc, tokens, accuracy):
    """Least-squares fit of Psi_fit(x) = c Psi(x / r) to (tokens, accuracy) points.

    ``acc`` is the model accuracy at budgets exp(log_budget) for omega = 25; r = omega_fit / 25
    stretches the token axis (Psi depends on the budget only through Omega / omega). For each
    shift s = ln r on a fine grid the optimal ceiling c in [0, 1] is linear least squares in
    closed form; the best (s, c) is returned with its residual sum of squares.
    """
    log_x = np.log(np.asarray(tokens, float))
    y = np.asarray(accuracy, float)
    best = (np.inf, 0.0, 1.0)
    for s in np.linspace(-2.0, 8.0, 4001):
        f = np.interp(log_x - s, log_budget, acc)
        ff = float(f @ f)
        c = float(np.clip(f @ y / ff, 0.0, 1.0)) if ff > 0 else 1.0
        sse = float(np.sum((c * f - y) ** 2))
        if sse < best[0]:
            best = (sse, s, c)
    sse, s, c = best
    return {"ratio": float(np.exp(s)), "ceiling": c, "sse": sse}


def compute(quick: bool = False) -> dict:
    cfg = _settings(quick)
    model = ds3jax.SkillTextModel()
    tasks = _tasks(cfg["level_step"])

    # 1a/1b grid: rectangular in (log C_tr, log C_inf); the budget is Omega = C_inf / (2 N I).
    c_tr = np.logspace(24.0, 26.5, cfg["n_tr"])
    c_inf_axis = np.logspace(22.5, 27.0, cfg["n_inf"])
    cc, c_inf = np.meshgrid(c_tr, c_inf_axis, indexing="ij")
    bb = c_inf / (2.0 * _n_params(cc) * N_QUERIES)

    # Iso-compute lines C_tr + C_inf = C, training share s on a logit grid. The range of C is
    # where the optimum is interior (0 < Psi < 1); ``defined`` flags it per line.
    totals = np.logspace(24.75, 25.75, cfg["n_total"])
    share = 1.0 / (1.0 + np.exp(-np.linspace(-5.0, 5.0, cfg["n_share"])))
    line_tr = totals[:, None] * share[None, :]
    line_inf = totals[:, None] * (1.0 - share[None, :])
    line_budget = line_inf / (2.0 * _n_params(line_tr) * N_QUERIES)

    # 2a/2b: Claude-scale model over budgets (omega = 25).
    curve_budget = np.logspace(1.0, 5.5, cfg["n_curve"])

    flat_c = np.concatenate([cc.ravel(), line_tr.ravel(), np.full(curve_budget.size, CLAUDE_C_TR)])
    flat_b = np.concatenate([bb.ravel(), line_budget.ravel(), curve_budget])
    acc = _accuracy(model, tasks, flat_c, flat_b, cfg["chunk"])
    n_grid, n_line = cc.size, line_tr.size
    grid_acc = acc[:n_grid].reshape(cc.shape)
    line_acc = acc[n_grid : n_grid + n_line].reshape(line_tr.shape)
    curve_acc = acc[n_grid + n_line :]

    best = np.argmax(line_acc, axis=1)
    rows = np.arange(totals.size)
    optimum = {
        "C_total": totals,
        "C_tr": line_tr[rows, best],
        "C_inf": line_inf[rows, best],
        "train_share": share[best],
        "N": _n_params(line_tr[rows, best]),
        "budget": line_budget[rows, best],
        "accuracy": line_acc[rows, best],
        "defined": (line_acc[rows, best] > 1e-3) & (line_acc[rows, best] < 0.999),
    }

    # 1b: isocontours C_inf(C_tr) at fixed accuracy and their log-linear fits. At large C_tr
    # and small C_inf the contours turn up again (a bigger model leaves fewer tokens per task),
    # so the fit uses the trade-off branch where both budgets matter, 1e-2 <= C_inf/C_tr <= 1e2.
    targets = [0.1, 0.3, 0.5, 0.7, 0.9]
    log_ci = np.log10(c_inf_axis)
    iso = []
    for t in targets:
        ci = 10.0 ** np.array([_crossing(log_ci, grid_acc[i], t) for i in range(c_tr.size)])
        ratio = ci / c_tr
        ok = np.isfinite(ci) & (ratio >= RATIO_WINDOW[0]) & (ratio <= RATIO_WINDOW[1])
        if ok.sum() >= 2:
            slope, intercept = np.polyfit(np.log10(c_tr[ok]), np.log10(ci[ok]), 1)
        else:
            slope = intercept = np.nan
        iso.append(
            {
                "accuracy": t,
                "C_tr": c_tr,
                "C_inf": ci,
                "in_fit": ok,
                "slope": slope,
                "intercept": intercept,
            }
        )

    aime = read_aime()
    if aime is not None:
        fit = fit_token_curve(np.log(curve_budget), curve_acc, aime["Tokens"], aime["Accuracy"])
    else:
        fit = {"ratio": 1.0, "ceiling": 1.0, "sse": None}
    fit["omega"] = model.omega * fit["ratio"]

    return {
        "n_queries": N_QUERIES,
        "ratio_window": list(RATIO_WINDOW),
        "kappa": KAPPA,
        "levels": list(LEVELS),
        "m_skills": list(M_SKILLS),
        "level_step": cfg["level_step"],
        "grid": {"C_tr": c_tr, "C_inf": c_inf_axis, "budget": bb, "accuracy": grid_acc},
        "lines": {"C_total": totals, "train_share": share, "accuracy": line_acc},
        "optimum": optimum,
        "isocontours": iso,
        "claude": {
            "C_tr": CLAUDE_C_TR,
            "budget": curve_budget,
            "accuracy": curve_acc,
            "fit": fit,
            "tokens_fit": curve_budget * fit["ratio"],
            "accuracy_fit": fit["ceiling"] * curve_acc,
        },
        "aime": aime,
        "aime_path": str(DATA_FILE),
    }


def _plot_aime(ax, data, overlays: bool):
    cl = data["claude"]
    fit = cl["fit"]
    aime = data["aime"]
    x = np.asarray(cl["tokens_fit"], float)
    y = np.asarray(cl["accuracy_fit"], float)
    if aime is not None:
        tok = np.asarray(aime["Tokens"])
        keep = (x >= tok.min() / 3) & (x <= tok.max() * 3) if overlays else np.ones_like(x, bool)
        label = f"DS3 CoT fit: omega = {fit['omega']:.0f} tok/step, ceiling {fit['ceiling']:.2f}"
        ax.plot(x[keep], y[keep], "-", color="C0", lw=2, label=label)
        ax.plot(tok, aime["Accuracy"], "o", color="C3", ms=7, label="Claude 3.7 Sonnet (est.)")
        if overlays:
            for b, t, a in zip(aime["Budget"], tok, aime["Accuracy"], strict=True):
                ax.axvline(b, color="0.6", ls=":", lw=1)
                ax.annotate(
                    f"{b / 1000:.0f}k",
                    (b, 0.02),
                    xycoords=("data", "axes fraction"),
                    ha="center",
                    fontsize=7,
                    color="0.4",
                )
                ax.plot([t, b], [a, a], color="0.6", lw=0.8)
            ax.plot([], [], color="0.6", ls=":", label="token budget (dotted; grey bar: used)")
    else:
        ax.plot(x, y, "-", color="C0", lw=2, label="DS3 CoT (omega = 25, unfitted)")
        ax.text(
            0.5,
            0.5,
            "AIME data file not found:\n" + Path(data["aime_path"]).name,
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="C3",
            fontsize=9,
        )
    ax.set_xscale("log")
    ax.set_xlabel("tokens per task")
    ax.set_ylabel("AIME accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left")


def plot(data: dict):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 9.5))
    g = data["grid"]
    c_tr = np.asarray(g["C_tr"], float)
    c_inf = np.asarray(g["C_inf"], float)
    acc = np.asarray(g["accuracy"], float)

    ax = axes[0, 0]
    levels = np.linspace(0.0, 1.0, 11)
    cf = ax.contourf(c_tr, c_inf, acc.T, levels=levels, cmap="viridis")
    ax.contour(c_tr, c_inf, acc.T, levels=levels[1:-1], colors="k", linewidths=0.4, alpha=0.5)
    fig.colorbar(cf, ax=ax, label="expected accuracy Psi (CoT)")
    totals = np.asarray(data["lines"]["C_total"], float)
    s = np.asarray(data["lines"]["train_share"], float)
    for i, c in enumerate(totals):
        ax.plot(
            c * s,
            c * (1 - s),
            color="w",
            ls=":",
            lw=0.8,
            label="C_tr + C_inf = C" if i == 0 else None,
        )
    opt = data["optimum"]
    ok = np.asarray(opt["defined"], bool)
    ax.plot(
        np.asarray(opt["C_tr"])[ok],
        np.asarray(opt["C_inf"])[ok],
        "r*-",
        ms=10,
        label="max accuracy on each C_tr + C_inf = C",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(c_tr.min(), c_tr.max())
    ax.set_ylim(c_inf.min(), c_inf.max())
    ax.set_xlabel("training compute C_tr = 6ND [FLOPs]")
    ax.set_ylabel(f"inference compute C_inf = 2NI*Omega [FLOPs], I = {data['n_queries']:.0e}")
    ax.set_title("1a. Accuracy, Chinchilla D = 20N, CoT, optimal allocations")
    ax.legend(fontsize=7, loc="lower left")

    ax = axes[0, 1]
    for k, iso in enumerate(data["isocontours"]):
        x = np.asarray(iso["C_tr"], float)
        y = np.array([np.nan if v is None else v for v in iso["C_inf"]], float)
        fit = np.asarray(iso["in_fit"], bool)
        ax.plot(x, y, "-", color=f"C{k}", lw=0.8, alpha=0.5)
        ax.plot(x[fit], y[fit], "o", color=f"C{k}", ms=3.5)
        if fit.sum() >= 2:
            xf = x[fit]
            ax.plot(
                xf,
                10.0 ** (iso["intercept"] + iso["slope"] * np.log10(xf)),
                "--",
                color=f"C{k}",
                lw=1.5,
                label=f"Psi = {iso['accuracy']:.1f}: slope {iso['slope']:.2f}",
            )
    lo, hi = data["ratio_window"]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute C_tr [FLOPs]")
    ax.set_ylabel("inference compute C_inf [FLOPs]")
    ax.set_title(
        f"1b. Isocontours (line), log-linear fits (dashed) on {lo:g} <= C_inf/C_tr <= {hi:g}",
        fontsize=10,
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, title="d log C_inf / d log C_tr", title_fontsize=7)

    _plot_aime(axes[1, 0], data, overlays=True)
    axes[1, 0].set_title(
        f"2a. Claude 3.7 Sonnet on AIME, C_tr = {data['claude']['C_tr']:.3g} FLOPs"
    )
    _plot_aime(axes[1, 1], data, overlays=False)
    axes[1, 1].set_title("2b. Same, extended token range (no budget overlays)")

    fig.suptitle(
        "Fig. 7: skill-text DS3 model (App. B parameters: L = 100, S = 1e4, levels 60-70, "
        "m = 2-15, beta = 5, delta = 0.5)",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
