"""Fig. 13: the success maps behind Fig. 5 -- CoT, ToT(1) b = 4 and ToT(1) b = 16.

Same grids and matched-compute budgets as ``experiments.fig5``: every map is plotted against
the CoT token budget Omega_CoT; the ToT(1) rows use the ToT budget with the same total
inference compute (App. A-B architecture).  Rows: CoT (Eq. 20), ToT(1) b = 4 and b = 16
(Eq. 29); columns: numbers of required skills m.  The dashed line marks the smallest budget
at which the row's strategy can finish at all (q = 1).
"""

from __future__ import annotations

import numpy as np

from ._common import run_module
from .fig5 import strategy_names, success_maps

TITLE = "Fig. 13: CoT and ToT(1) success probabilities at matched compute vs q and budget"


def compute(quick: bool = False) -> dict:
    return success_maps(quick)


def plot(data: dict):
    import matplotlib.pyplot as plt

    q = np.asarray(data["q"], float)
    x = np.asarray(data["cot_budget"], float)
    ms = data["m"]
    names = strategy_names()
    fig, axes = plt.subplots(
        len(names),
        len(ms),
        figsize=(3.6 * len(ms) + 1.2, 3.0 * len(names) + 0.8),
        sharex=True,
        sharey=True,
        layout="constrained",
        squeeze=False,
    )
    mesh = None
    for i, name in enumerate(names):
        succ = np.asarray(data["success"][name], float)
        label = "CoT" if name == "CoT" else f"ToT(1) b = {name[4:-1]}"
        for j, m in enumerate(ms):
            ax = axes[i, j]
            mesh = ax.pcolormesh(
                x, q, succ[j], cmap="viridis", vmin=0, vmax=1, shading="nearest", rasterized=True
            )
            ax.axvline(data["feasible_cot_budget"][name][j], color="white", ls="--", lw=1.3)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.minorticks_off()  # minor log ticks are unreadable on heat maps (and slow)
            ax.set_title(f"{label}, m = {m}", fontsize=10)
            if i == len(names) - 1:
                ax.set_xlabel("CoT token budget Ω_CoT (tokens)")
            if j == 0:
                ax.set_ylabel(f"{label}\nper-step success q = ι̂p")
    cb = fig.colorbar(mesh, ax=axes, shrink=0.7, pad=0.02)
    cb.set_label("task success probability ψ")
    axes[0, 0].plot([], [], color="white", ls="--", label="strategy can finish (q = 1)")
    axes[0, 0].legend(loc="lower left", fontsize=7.5, facecolor="0.3", labelcolor="white")
    fig.suptitle(
        "Fig. 13: success probability at matched total compute "
        "(ToT(1) rows use the equal-compute budget of Fig. 4)"
    )
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
