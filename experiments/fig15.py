"""Fig. 15 (App. C): global vs fixed-token-budget total-compute-optimal allocation.

Same problem and budgets as Fig. 8 (:func:`optim.presets.paper_fig8`: 400 CoT tasks, I = 1e9
tasks, omega = 25, C = 6 N D + 2 N I Omega, 225 budgets in [1e19, 3e24] FLOPs; 10 in quick
mode). The constrained path fixes the per-task token budget Omega and optimises only N and D
on the iso-compute surface (``optim.solve(..., plane="fixed_tokens", tokens=Omega_fix)``): the
"inference-aware Chinchilla" restriction of Sardana et al. (ref. [106]), here maximising
accuracy (Eq. 53) as the paper does.

The paper does not state its fixed token budget. We take Omega_fix = the global optimum's
Omega* at C = 5.5e21 FLOPs (the iso-compute surface drawn in Fig. 8), about 1.9e4 tokens per
task, so both paths coincide at that budget and the gap elsewhere is the cost of not scaling
Omega with compute.

Panels: optimal trajectories projected on (log10 N, log10 D) and (log10 N, log10 Omega) with
markers colored by accuracy and connectors (at equal budgets) colored by the accuracy gap;
N* and D* vs C; D*/N*; accuracy and its gap (percentage points, right axis); the compute the
fixed-token path needs to reach the global accuracy (dense frontier extended to 1e4 x the
largest budget, interpolated in log C; in full mode checked at 15 budgets by bisection with
``optim.compute_to_match``); inference share of FLOPs.
"""

from __future__ import annotations

import numpy as np

from experiments._common import run_module
from experiments.fig8 import (
    C_SURFACE,
    COLORS,
    bisection_check,
    budgets,
    extended_budgets,
    fits,
    gap_axis,
    match_by_interpolation,
    match_panel,
    solution_dict,
    solver_options,
    summary_panel,
    trajectory_panel,
)

TITLE = (
    "Fig. 15: global vs fixed-token-budget (Omega fixed at the global optimum's value at "
    "C = 5.5e21) total-compute-optimal allocation on the App. C problem"
)


def compute(quick: bool = False) -> dict:
    import optim

    problem = optim.presets.paper_fig8()
    C = budgets(quick)
    n = C.size
    # the global solve is the same call as in fig8 (shares its compilation in one process)
    g_all = optim.solve(
        problem, np.r_[C, C_SURFACE], plane="global", **solver_options(quick, "global")
    )
    tokens = float(g_all.Omega[n])
    ext = extended_budgets(C, quick)
    f_all = optim.solve(
        problem,
        np.r_[C, ext],
        plane="fixed_tokens",
        tokens=tokens,
        **solver_options(quick, "fixed_tokens"),
    )
    g, f = solution_dict(g_all, slice(0, n)), solution_dict(f_all, slice(0, n))
    frontier_C = np.r_[C, ext]
    frontier_acc = np.asarray(f_all.value, float)
    ratio = match_by_interpolation(C, g["accuracy"], frontier_C, frontier_acc)
    bisection = None
    if not quick:
        bisection = bisection_check(problem, C, g["accuracy"], plane="fixed_tokens", tokens=tokens)
    return {
        "problem": "optim.presets.paper_fig8()",
        "method": solver_options(quick, "global")["method"],
        "tokens": tokens,
        "tokens_from_budget": C_SURFACE,
        "C": C,
        "global": g,
        "fixed_tokens": f,
        "fits": {"global": fits(C, g), "fixed_tokens": fits(C, f)},
        "gap_pp": 100.0 * (g["accuracy"] - f["accuracy"]),
        "fixed_tokens_frontier": {"C": frontier_C, "accuracy": frontier_acc},
        "match": {"target": g["accuracy"], "ratio": ratio, "bisection": bisection},
    }


def plot(data: dict):
    import matplotlib.pyplot as plt

    C = np.asarray(data["C"], float)
    g = {k: np.asarray(v, float) for k, v in data["global"].items()}
    f = {k: np.asarray(v, float) for k, v in data["fixed_tokens"].items()}
    lab_f = f"fixed tokens (Omega = {data['tokens']:.3g})"
    planes = [("global", "global optimum", g), ("fixed_tokens", lab_f, f)]
    gap = np.asarray(data["gap_pp"], float)

    fig, axs = plt.subplots(2, 4, figsize=(23, 10.5), constrained_layout=True)
    ax = axs.ravel()

    every = max(1, C.size // 30)
    norm = plt.Normalize(0.0, max(g["accuracy"].max(), f["accuracy"].max()))
    gap_max = float(np.max(gap))
    for a, ykey, unit in ((ax[0], "D", "tokens"), (ax[1], "Omega", "tokens per task")):
        sc, lcol = trajectory_panel(a, g, f, ykey, ("fixed_tokens", lab_f), norm, gap_max, every)
        a.set(
            xlabel="log10 N* [parameters]",
            ylabel=f"log10 {ykey}* [{unit}]",
            title=f"optimal trajectories, projected on (N, {ykey})",
        )
        a.grid(True, alpha=0.3)
    fig.colorbar(sc, ax=ax[0], label="accuracy Psi at the optimum (markers)")
    fig.colorbar(lcol, ax=ax[1], label="accuracy gap global - fixed tokens [pp] (connectors)")

    for key, ls in (("N", "-"), ("D", "--")):
        for plane, label, res in planes:
            fit = data["fits"][plane][key]
            ax[2].loglog(
                C,
                res[key],
                ls=ls,
                color=COLORS[plane],
                lw=2,
                label=f"{key}* {label} (~ C^{fit['exponent']:.2f}, R$^2$ {fit['r2']:.2f})",
            )
    ax[2].axvline(data["tokens_from_budget"], color="k", lw=0.7, ls=":")
    ax[2].set(
        title="optimal N* (solid) and D* (dashed)",
        xlabel="total compute C [FLOPs]",
        ylabel="parameters / training tokens",
    )
    ax[2].legend(fontsize=7)
    ax[2].grid(True, which="major", alpha=0.3)

    for plane, label, res in planes:
        ax[3].loglog(C, res["D"] / res["N"], color=COLORS[plane], lw=2, label=label)
    ax[3].axhline(20.0, color="tab:orange", lw=1, ls="--", label="Chinchilla D = 20 N")
    ax[3].set(
        title="tokens per parameter D*/N*",
        xlabel="total compute C [FLOPs]",
        ylabel="D*/N* [tokens per parameter]",
    )
    ax[3].legend(fontsize=8)
    ax[3].grid(True, which="major", alpha=0.3)

    for plane, label, res in planes:
        ax[4].semilogx(C, res["accuracy"], color=COLORS[plane], lw=2, label=label)
    ax[4].axvline(
        data["tokens_from_budget"], color="k", lw=0.7, ls=":", label="budget that sets Omega"
    )
    ax[4].set(
        title="accuracy at the optimum",
        xlabel="total compute C [FLOPs]",
        ylabel="task-averaged accuracy Psi",
        ylim=(0, 1),
    )
    ax[4].grid(True, alpha=0.3)
    gap_axis(ax[4], C, gap, gap_max, "fixed tokens")

    ratio, ok = match_panel(ax[5], data["match"], "fixed-token")

    for plane, label, res in planes:
        ax[6].semilogx(C, 100 * (1 - res["train_share"]), color=COLORS[plane], lw=2, label=label)
    ax[6].set(
        title="share of total FLOPs spent on inference",
        xlabel="total compute C [FLOPs]",
        ylabel="2 N I Omega / C [%]",
        ylim=(0, 100),
    )
    ax[6].legend(fontsize=8)
    ax[6].grid(True, alpha=0.3)

    lines = [
        f"{C.size} budgets, C = {C[0]:.2g} .. {C[-1]:.2g} FLOPs",
        f"solver: optim.solve, method={data['method']!r}",
        f"fixed Omega = {data['tokens']:.4g} tokens per task",
        f"  (global Omega* at C = {data['tokens_from_budget']:.2g})",
        "",
        "exponent     global   fixed tokens",
        *[
            f"{k + '*':<10}{data['fits']['global'][k]['exponent']:>9.3f}"
            f"{data['fits']['fixed_tokens'][k]['exponent']:>12.3f}"
            for k in ("N", "D")
        ],
        "",
        f"max accuracy gap: {gap_max:.1f} pp",
    ]
    if ok.any():
        lines.append(
            f"C'/C to match: median {np.median(ratio[ok]):.3g}, max {np.max(ratio[ok]):.3g}"
        )
    summary_panel(ax[7], lines)
    fig.suptitle(
        "Fig. 15: total-compute-optimal allocation, global vs fixed token budget; App. C problem: "
        "400 CoT tasks, I = 1e9, omega = 25, C = 6 N D + 2 N I Omega",
        fontsize=14,
    )
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
