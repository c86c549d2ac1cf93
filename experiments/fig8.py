"""Fig. 8 (Sec. III-B, App. C): global vs Chinchilla (kappa = 20) total-compute-optimal allocation.

Problem (App. C, :func:`optim.presets.paper_fig8`): loss L = 1.69 + 406.4 N^-0.34 +
410.7 D^-0.28 (Eq. 1); per-step success p = sigmoid(5 (L0 - L)) (Eq. 2, a = 1, b = 5, d = 0);
400 tasks, L0 in linspace(0.1, 4, 8) x m = 1..50, uniform; CoT accuracy
psi = I_p(m, Omega/omega - m + 1) with omega = 25 tokens per step (Eq. 20); objective the
task average Psi (Eq. 40); I = 1e9 tasks served; compute C = 6 N D + 2 N I Omega (Eq. 11, 53)
with Omega the per-task token budget, no attention FLOPs.

For every budget C (225 log-spaced in [1e19, 3e24] FLOPs; 10 in quick mode) the global optimum
maximises Psi over the whole iso-compute surface and the Chinchilla optimum over the curve
D = 20 N on it (``optim.solve``, ``plane="global"`` / ``"chinchilla"``).

Panels (numbering of the paper's caption):

1. log10 Psi on the iso-compute surface C = 5.5e21 FLOPs (the surface drawn in the paper),
   as a heat map over (log10 N, log10 D) with Omega = (C - 6 N D) / (2 N I) drawn as
   contours; the Chinchilla curve D = 20 N and both optima are marked. (The paper shows a 3-D
   scatter.) N and D are the axes rather than N and Omega because inference takes 80-95% of C
   at the optimum: in (N, Omega) coordinates the optima sit within 0.05 decades of the
   D -> 0 edge of the surface, while in (N, D) they lie well inside it.
2. optimal trajectories projected on (log10 N, log10 D) and (log10 N, log10 Omega); markers
   colored by accuracy, connectors between the two optima at the same budget colored by the
   accuracy gap.
3a-c. N*, D*, Omega* vs C with power-law fits (``optim.power_law_fit``; exponent, R^2).
4. kappa* = D*/N* vs C. 5. share of FLOPs spent on inference, 2 N I Omega / C.
6. the fitted exponents. 7. accuracy vs C, gap in percentage points (right axis).
8. compute the Chinchilla path needs to reach the global accuracy, C'/C, vs that accuracy.
   C' comes from the Chinchilla frontier solved on a dense budget grid extended to
   1e4 x the largest budget (monotone interpolation in log C); in full mode it is checked at
   15 budgets by ``optim.compute_to_match`` (bisection on freshly solved optima).

Quick mode uses the solver's grid method with small grids (it compiles about twice as fast as
the gradient method); full mode the gradient method with its defaults.
"""

from __future__ import annotations

import numpy as np

from experiments._common import run_module

TITLE = (
    "Fig. 8: global vs Chinchilla (D = 20 N) total-compute-optimal N, D, Omega on the App. C "
    "problem (400 CoT tasks, I = 1e9, C = 6ND + 2NI Omega)"
)

KAPPA = 20.0
C_RANGE = (1e19, 3e24)  # FLOPs (App. C)
C_SURFACE = 5.5e21  # the iso-compute surface drawn in the paper's panels 1-2
MAX_FACTOR = 1e4  # the Chinchilla frontier is solved up to MAX_FACTOR x the largest budget
COLORS = {"global": "tab:blue", "chinchilla": "tab:orange", "fixed_tokens": "tab:gray"}


# ----------------------------------------------------------------------------- shared helpers
# (also used by experiments.fig15)


def budgets(quick: bool) -> np.ndarray:
    """Main budgets C [FLOPs]: 225 (10 in quick mode) log-spaced in [1e19, 3e24]."""
    return np.logspace(np.log10(C_RANGE[0]), np.log10(C_RANGE[1]), 10 if quick else 225)


def solver_options(quick: bool, plane: str) -> dict:
    """``optim.solve`` settings: small-grid grid method (quick) or default gradient method."""
    if not quick:
        return dict(method="gradient")
    if plane == "global":
        return dict(method="grid", dense_grid=(33, 33), zoom_rounds=8)
    return dict(method="grid", dense_grid_1d=129, zoom_rounds=8)


def extended_budgets(C: np.ndarray, quick: bool) -> np.ndarray:
    """Budgets above C[-1] up to C[-1] * MAX_FACTOR at about C's density (for panel 8)."""
    per_decade = max((C.size - 1) / np.log10(C[-1] / C[0]), 1.0)
    n = int(np.ceil(np.log10(MAX_FACTOR) * (1.5 if quick else per_decade)))
    return np.logspace(np.log10(C[-1]), np.log10(C[-1] * MAX_FACTOR), n + 1)[1:]


def solution_dict(sol, sl=slice(None)) -> dict:
    """The plotted fields of an ``optim.Solution`` (optionally a slice of its budgets)."""
    out = {
        "N": sol.N,
        "D": sol.D,
        "Omega": sol.Omega,
        "accuracy": sol.value,
        "train_share": sol.train_share,
        "compute": sol.compute,
    }
    return {k: np.asarray(v, float)[sl] for k, v in out.items()}


def fits(C, res: dict) -> dict:
    """Power-law fits y ~ prefactor C^exponent of N*, D*, Omega* (``optim.power_law_fit``)."""
    import optim

    out = {}
    for key in ("N", "D", "Omega"):
        f = optim.power_law_fit(np.asarray(C), np.asarray(res[key]))
        out[key] = {
            "exponent": float(f.exponent),
            "prefactor": float(f.prefactor),
            "r2": float(f.r2),
        }
    return out


def bisection_check(problem, C, target, **plane) -> dict:
    """compute_to_match by bisection on freshly solved constrained optima, for 15 of the
    budgets: the cross-check of :func:`match_by_interpolation` (``plane``: the constrained
    plane and its parameter, as for ``optim.compute_to_match``)."""
    import optim

    n = len(C)
    sub = np.unique(np.linspace(0, n - 1, 15).round().astype(int))
    cm, ok = optim.compute_to_match(
        problem, target[sub], C[sub], max_factor=MAX_FACTOR, n_bisect=24, **plane
    )
    r = np.where(np.asarray(ok), np.asarray(cm, float) / C[sub], np.nan)
    return {"C": C[sub], "target": target[sub], "ratio": r}


def match_by_interpolation(C, target, C_frontier, acc_frontier) -> np.ndarray:
    """C' = min{C'' : V(C'') >= target} from a constrained frontier V sampled at C_frontier.

    V is non-decreasing in C (extra compute can always be spent); its running maximum is
    interpolated linearly in log C. NaN where the target is above the largest sampled value.
    Returns C' / C.
    """
    order = np.argsort(C_frontier)
    lc = np.log(np.asarray(C_frontier, float)[order])
    v = np.maximum.accumulate(np.asarray(acc_frontier, float)[order])
    out = np.full(np.shape(target), np.nan)
    for i, (c, t) in enumerate(zip(np.asarray(C, float), np.asarray(target, float))):
        if t > v[-1]:
            continue
        j = int(np.searchsorted(v, t))  # first index with v[j] >= t
        if j == 0:
            out[i] = np.exp(lc[0]) / c
            continue
        w = (t - v[j - 1]) / max(v[j] - v[j - 1], 1e-300)
        out[i] = np.exp(lc[j - 1] + w * (lc[j] - lc[j - 1])) / c
    return out


def trajectory_panel(ax, g, c, ykey, label_c, norm_acc, gap_max, every=1):
    """Optimal paths in (log10 N, log10 ykey): markers colored by accuracy, connectors between
    the two optima at the same budget colored by the accuracy gap (percentage points)."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    xg, yg = np.log10(g["N"]), np.log10(g[ykey])
    xc, yc = np.log10(c["N"]), np.log10(c[ykey])
    gap = 100.0 * (np.asarray(g["accuracy"]) - np.asarray(c["accuracy"]))
    idx = np.arange(0, xg.size, every)
    segs = [[(xg[i], yg[i]), (xc[i], yc[i])] for i in idx]
    lcol = LineCollection(
        segs, cmap="Reds", norm=plt.Normalize(0.0, max(gap_max, 1e-9)), lw=1.2, alpha=0.8
    )
    lcol.set_array(gap[idx])
    ax.add_collection(lcol)
    ax.plot(xg, yg, color=COLORS["global"], lw=1, zorder=2, label="global optimum")
    ax.plot(xc, yc, color=COLORS[label_c[0]], lw=1, zorder=2, label=label_c[1])
    sc = ax.scatter(
        xg[idx],
        yg[idx],
        c=np.asarray(g["accuracy"])[idx],
        cmap="viridis",
        norm=norm_acc,
        marker="o",
        s=22,
        edgecolors=COLORS["global"],
        zorder=3,
    )
    ax.scatter(
        xc[idx],
        yc[idx],
        c=np.asarray(c["accuracy"])[idx],
        cmap="viridis",
        norm=norm_acc,
        marker="s",
        s=22,
        edgecolors=COLORS[label_c[0]],
        zorder=3,
    )
    ax.legend(fontsize=7, loc="best")
    return sc, lcol


# ----------------------------------------------------------------------------- compute


def _surface(problem, C, n):
    """log10 Psi on the iso-compute surface C over a (log10 N, log10 D) grid, with
    Omega = (C - 6 N D) / (2 N I) (NaN where infeasible)."""
    import jax
    import jax.numpy as jnp

    import optim

    I = float(problem.n_queries)
    lN = np.linspace(5.5, 10.5, n)
    lD = np.linspace(8.0, 14.5, n)
    NN, DD = np.meshgrid(10.0**lN, 10.0**lD, indexing="ij")
    Omega = (C - 6.0 * NN * DD) / (2.0 * NN * I)
    ok = Omega > 0
    acc = jax.jit(optim.accuracy)(
        problem, jnp.asarray(NN), jnp.asarray(DD), jnp.asarray(np.where(ok, Omega, 1.0))
    )
    logacc = np.where(ok, np.log10(np.maximum(np.asarray(acc), 1e-300)), np.nan)
    return {
        "C": C,
        "log10_N": lN,
        "log10_D": lD,
        "log10_accuracy": logacc,
        "log10_Omega": np.where(ok, np.log10(np.where(ok, Omega, 1.0)), np.nan),
    }


def compute(quick: bool = False) -> dict:
    import optim

    problem = optim.presets.paper_fig8()
    C = budgets(quick)
    ext = extended_budgets(C, quick)
    n = C.size
    g_all = optim.solve(
        problem, np.r_[C, C_SURFACE], plane="global", **solver_options(quick, "global")
    )
    c_all = optim.solve(
        problem,
        np.r_[C, ext, C_SURFACE],
        plane="chinchilla",
        kappa=KAPPA,
        **solver_options(quick, "chinchilla"),
    )
    g, c = solution_dict(g_all, slice(0, n)), solution_dict(c_all, slice(0, n))
    g_s, c_s = solution_dict(g_all, slice(n, n + 1)), solution_dict(c_all, slice(-1, None))
    frontier_C = np.r_[C, ext]
    frontier_acc = np.asarray(c_all.value, float)[:-1]
    ratio = match_by_interpolation(C, g["accuracy"], frontier_C, frontier_acc)

    bisection = None
    if not quick:
        bisection = bisection_check(problem, C, g["accuracy"], plane="chinchilla", kappa=KAPPA)

    surf = _surface(problem, C_SURFACE, 60 if quick else 160)
    surf["global_opt"] = {k: float(v[0]) for k, v in g_s.items()}
    surf["chinchilla_opt"] = {k: float(v[0]) for k, v in c_s.items()}
    return {
        "problem": "optim.presets.paper_fig8()",
        "kappa": KAPPA,
        "method": solver_options(quick, "global")["method"],
        "C": C,
        "global": g,
        "chinchilla": c,
        "fits": {"global": fits(C, g), "chinchilla": fits(C, c)},
        "kappa_star": {"global": g["D"] / g["N"], "chinchilla": c["D"] / c["N"]},
        "inference_share": {"global": 1.0 - g["train_share"], "chinchilla": 1.0 - c["train_share"]},
        "gap_pp": 100.0 * (g["accuracy"] - c["accuracy"]),
        "chinchilla_frontier": {"C": frontier_C, "accuracy": frontier_acc},
        "match": {"target": g["accuracy"], "ratio": ratio, "bisection": bisection},
        "surface": surf,
    }


# ----------------------------------------------------------------------------- plot


def _scaling_panel(ax, C, data, key, title, unit, planes):
    for plane, label in planes:
        res, fit = data[plane], data["fits"][plane][key]
        ax.loglog(C, res[key], color=COLORS[plane], lw=2, label=label)
        ax.loglog(
            C,
            fit["prefactor"] * C ** fit["exponent"],
            ls="--",
            color=COLORS[plane],
            alpha=0.7,
            label=f"fit ~ C^{fit['exponent']:.3f} (R$^2$ = {fit['r2']:.3f})",
        )
    ax.set(title=title, xlabel="total compute C [FLOPs]", ylabel=unit)
    ax.legend(fontsize=7)
    ax.grid(True, which="major", alpha=0.3)


def gap_axis(ax, C, gap_pp, gap_max, path) -> None:
    """Right axis with the accuracy gap global - ``path`` [pp]; one legend for both axes."""
    ar = ax.twinx()
    ar.semilogx(C, gap_pp, color="0.45", lw=1.5, ls="-", label="gap (right axis)")
    ar.set_ylabel(f"accuracy gap global - {path} [percentage points]", color="0.35")
    ar.set_ylim(0, max(1.0, 1.15 * gap_max))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ar.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")


def match_panel(ax, m, path, prefix=""):
    """Compute the ``path`` needs to reach the global accuracy: the interpolated frontier,
    the bisection check points and a note on unreached targets. Returns (ratio, reached)."""
    ratio = np.asarray(m["ratio"], dtype=float)
    tgt = np.asarray(m["target"], float)
    ok = np.isfinite(ratio)
    ax.semilogy(tgt[ok], ratio[ok], color="tab:red", lw=2, label=f"interpolated {path} frontier")
    if m.get("bisection"):
        b = m["bisection"]
        ax.semilogy(
            np.asarray(b["target"], float),
            np.asarray(b["ratio"], dtype=float),
            "ko",
            ms=5,
            label="optim.compute_to_match (bisection)",
        )
    if (~ok).any():
        ax.text(
            0.02,
            0.02,
            f"{int((~ok).sum())} targets not reached below {MAX_FACTOR:.0e} x C_max",
            transform=ax.transAxes,
            fontsize=8,
        )
    ax.set(
        title=f"{prefix}compute the {path} path needs to match global accuracy",
        xlabel="accuracy target = global optimum's Psi(C)",
        ylabel=f"C' / C ({path} compute / global compute)",
    )
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return ratio, ok


def summary_panel(ax, lines) -> None:
    """A text-only panel listing the summary numbers (shared with Fig. 15)."""
    ax.axis("off")
    ax.text(
        0.0,
        1.0,
        "\n".join(lines),
        va="top",
        family="monospace",
        fontsize=9.5,
        transform=ax.transAxes,
    )
    ax.set_title("summary")


def plot(data: dict):
    import matplotlib.pyplot as plt

    C = np.asarray(data["C"], float)
    g = {k: np.asarray(v, float) for k, v in data["global"].items()}
    c = {k: np.asarray(v, float) for k, v in data["chinchilla"].items()}
    d = dict(data, **{"global": g, "chinchilla": c})
    lab_c = f"Chinchilla plane (D = {data['kappa']:g} N)"
    planes = [("global", "global optimum"), ("chinchilla", lab_c)]

    fig, axs = plt.subplots(3, 4, figsize=(23, 15.5), constrained_layout=True)
    ax = axs.ravel()

    # (1) surface
    s = data["surface"]
    lN, lD = np.asarray(s["log10_N"], float), np.asarray(s["log10_D"], float)
    Z = np.asarray(s["log10_accuracy"], dtype=float)
    lO = np.asarray(s["log10_Omega"], dtype=float)
    im = ax[0].pcolormesh(lN, lD, Z.T, cmap="magma", vmin=-3, vmax=0, shading="auto")
    fig.colorbar(im, ax=ax[0], label="log10 accuracy Psi (clipped at -3)")
    cs = ax[0].contour(lN, lD, lO.T, levels=[2, 3, 4, 5, 6], colors="0.75", linewidths=0.7)
    ax[0].clabel(cs, fmt=lambda v: f"Omega=1e{v:.0f}", fontsize=7)
    ax[0].plot(
        lN,
        lN + np.log10(data["kappa"]),
        color=COLORS["chinchilla"],
        ls="--",
        lw=1.5,
        label=f"Chinchilla curve D = {data['kappa']:g} N",
    )
    for key, plane, mk in (("global_opt", "global", "*"), ("chinchilla_opt", "chinchilla", "s")):
        o = s[key]
        ax[0].plot(
            np.log10(o["N"]),
            np.log10(o["D"]),
            mk,
            ms=16 if mk == "*" else 9,
            color=COLORS[plane],
            mec="w",
            label=f"{plane} optimum: Psi = {o['accuracy']:.3f}, Omega = {o['Omega']:.3g}",
        )
    ax[0].set(
        xlabel="log10 N [parameters]",
        ylabel="log10 D [training tokens]",
        title=f"(1) log accuracy on the iso-compute surface C = {s['C']:.2g} FLOPs\n"
        "Omega = (C - 6 N D) / (2 N I) (gray contours); white: infeasible",
        xlim=(lN[0], lN[-1]),
        ylim=(lD[0], lD[-1]),
    )
    ax[0].legend(fontsize=7, loc="lower left")

    # (2) trajectories
    every = max(1, C.size // 30)
    norm = plt.Normalize(0.0, max(g["accuracy"].max(), c["accuracy"].max()))
    gap_max = float(np.max(d["gap_pp"]))
    for a, ykey, unit in ((ax[1], "D", "tokens"), (ax[2], "Omega", "tokens per task")):
        sc, lcol = trajectory_panel(a, g, c, ykey, ("chinchilla", lab_c), norm, gap_max, every)
        a.set(
            xlabel="log10 N* [parameters]",
            ylabel=f"log10 {ykey}* [{unit}]",
            title=f"(2) optimal trajectories, projected on (N, {ykey})",
        )
        a.grid(True, alpha=0.3)
    fig.colorbar(sc, ax=ax[1], label="accuracy Psi at the optimum (markers)")
    fig.colorbar(lcol, ax=ax[2], label="accuracy gap global - Chinchilla [pp] (connectors)")

    # (3a-c) scaling
    _scaling_panel(ax[3], C, d, "N", "(3a) optimal parameters N*", "N* [parameters]", planes)
    _scaling_panel(ax[4], C, d, "D", "(3b) optimal training tokens D*", "D* [tokens]", planes)
    _scaling_panel(
        ax[5],
        C,
        d,
        "Omega",
        "(3c) optimal inference token budget Omega*",
        "Omega* [tokens per task]",
        planes,
    )

    # (4) kappa*
    ax[6].loglog(C, d["kappa_star"]["global"], color=COLORS["global"], lw=2, label="global D*/N*")
    ax[6].axhline(data["kappa"], color=COLORS["chinchilla"], lw=2, label=lab_c)
    ax[6].set(
        title="(4) tokens per parameter kappa* = D*/N*",
        xlabel="total compute C [FLOPs]",
        ylabel="D*/N* [tokens per parameter]",
    )
    ax[6].legend(fontsize=8)
    ax[6].grid(True, which="major", alpha=0.3)

    # (5) inference share
    for plane, label in planes:
        ax[7].semilogx(
            C, 100 * np.asarray(d["inference_share"][plane]), color=COLORS[plane], lw=2, label=label
        )
    ax[7].set(
        title="(5) share of total FLOPs spent on inference",
        xlabel="total compute C [FLOPs]",
        ylabel="2 N I Omega / C [%]",
        ylim=(0, 100),
    )
    ax[7].legend(fontsize=8)
    ax[7].grid(True, alpha=0.3)

    # (6) exponents
    keys = ["N", "D", "Omega"]
    x = np.arange(3)
    for k, (plane, label) in enumerate(planes):
        ex = [data["fits"][plane][key]["exponent"] for key in keys]
        bars = ax[8].bar(x + (k - 0.5) * 0.38, ex, 0.38, color=COLORS[plane], label=label)
        ax[8].bar_label(bars, fmt="%.2f", fontsize=8)
    ax[8].set_xticks(x, ["N*", "D*", "Omega*"])
    ax[8].set(title="(6) fitted power-law exponents (y ~ C^e)", ylabel="exponent e")
    ax[8].axhline(0, color="k", lw=0.5)
    ax[8].legend(fontsize=8)

    # (7) accuracy + gap
    for plane, label in planes:
        ax[9].semilogx(C, d[plane]["accuracy"], color=COLORS[plane], lw=2, label=label)
    ax[9].set(
        title="(7) accuracy at the optimum",
        xlabel="total compute C [FLOPs]",
        ylabel="task-averaged accuracy Psi",
        ylim=(0, 1),
    )
    ax[9].grid(True, alpha=0.3)
    gap_axis(ax[9], C, d["gap_pp"], gap_max, "Chinchilla")

    # (8) compute to match
    ratio, ok = match_panel(ax[10], data["match"], "Chinchilla", "(8) ")

    # summary
    fg, fc = data["fits"]["global"], data["fits"]["chinchilla"]
    ks = np.asarray(d["kappa_star"]["global"], float)
    sh = {p: 100 * np.asarray(d["inference_share"][p], float) for p, _ in planes}
    lines = [
        f"{C.size} budgets, C = {C[0]:.2g} .. {C[-1]:.2g} FLOPs",
        f"solver: optim.solve, method={data['method']!r}",
        "",
        "exponent        global   Chinchilla",
        *[f"{k + '*':<13}{fg[k]['exponent']:>9.3f}{fc[k]['exponent']:>12.3f}" for k in keys],
        "",
        f"global kappa* = D*/N*: {ks[0]:.3g} -> {ks[-1]:.3g}",
        f"inference share global: {sh['global'][0]:.0f}% -> {sh['global'][-1]:.0f}%",
        f"inference share Chinchilla: {sh['chinchilla'][0]:.0f}% -> {sh['chinchilla'][-1]:.0f}%",
        f"max accuracy gap: {np.max(d['gap_pp']):.1f} pp",
    ]
    if ok.any():
        lines.append(
            f"C'/C to match: median {np.median(ratio[ok]):.3g}, max {np.max(ratio[ok]):.3g}"
        )
    summary_panel(ax[11], lines)
    fig.suptitle(
        "Fig. 8: total-compute-optimal allocation, global vs Chinchilla plane (kappa = 20); App. C "
        "problem: 400 CoT tasks, I = 1e9, omega = 25, C = 6 N D + 2 N I Omega",
        fontsize=14,
    )
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
