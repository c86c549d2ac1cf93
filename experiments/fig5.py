"""Fig. 5: success-probability difference ToT(1)(b) - CoT at equal total inference compute.

CoT with token budget Omega_CoT has success I_q(m, K - m + 1), K = floor(Omega_CoT / omega)
whole steps (Eq. 20).  ToT(1) with branching b gets the budget Omega_ToT of the same total
compute (Eq. 28 = Eq. 31 plus App. A-B's logit/branching terms, N = 1e10, 96 layers,
d_attn = 12288, 200-token prompt, omega = 25; see ``experiments.fig4``) and has success
I_{1-(1-q)^b}(m, floor(Omega_ToT / (b omega)) - m + 1) (Eq. 29, with its floor).  The maps
are over the per-step probability q = iota_hat p (log scale) and the CoT token budget (log
scale) for a few numbers of required skills m.  Dashed lines: the smallest budgets at which
each strategy can finish at all (q = 1): Omega_CoT = m omega for CoT, and the CoT budget
whose equal-compute ToT budget is b m omega for ToT(1).  Fig. 13 shows the success maps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import ds3jax

from ._common import run_module
from .fig4 import ARCH, tot_budget

TITLE = "Fig. 5: success-probability difference ToT(1) - CoT at equal inference compute"

BRANCHING = (4, 16)
M_VALUES = (2, 8, 32, 128)
Q_RANGE = (1e-3, 1.0)
BUDGET_RANGE = (25.0, 1e7)  # CoT token budget (tokens)


def strategy_names() -> list[str]:
    return ["CoT", *(f"ToT({b})" for b in BRANCHING)]


@jax.jit
def _maps(q, m, cot_budget):
    """Success of CoT and each ToT(b) at matched compute: shape (1 + len(BRANCHING), q, budget).

    Budgets are floored to whole steps (the floors of Eq. 29): floor(Omega / omega) CoT steps,
    floor(Omega_ToT / (b omega)) ToT(1) levels, so q = 1 succeeds exactly from m steps on.
    """
    omega = ARCH["omega"]
    cot = jnp.floor(cot_budget / omega) * omega
    out = [ds3jax.success(ds3jax.CoT(), q[:, None], m, cot[None, :], omega)]
    for b in BRANCHING:
        tot = jnp.floor(tot_budget(cot_budget, b) / (b * omega)) * (b * omega)
        out.append(ds3jax.success(ds3jax.ToT(b), q[:, None], m, tot[None, :], omega))
    return jnp.stack(out)


def _cot_budget_for_tot(tot_tokens, branching: int):
    """CoT budget whose compute equals ToT(b)'s at ``tot_tokens`` (inverse of fig4.tot_budget)."""
    kw = {k: v for k, v in ARCH.items() if k != "n_params"}
    return ds3jax.equal_compute_tokens(
        ds3jax.ToT(branching),
        tot_tokens,
        ds3jax.CoT(),
        ARCH["n_params"],
        include_eval=True,
        **kw,
    )


def success_maps(quick: bool) -> dict:
    """The numbers behind Fig. 5 and Fig. 13: grids, success maps and feasibility budgets."""
    n_q, n_budget = (36, 48) if quick else (110, 150)
    q = np.geomspace(*Q_RANGE, n_q)
    cot_budget = np.geomspace(*BUDGET_RANGE, n_budget)
    maps = np.stack([np.asarray(_maps(q, float(m), cot_budget)) for m in M_VALUES], axis=1)
    omega = ARCH["omega"]
    m = np.asarray(M_VALUES, float)
    feasible = {"CoT": m * omega}
    for b in BRANCHING:
        feasible[f"ToT({b})"] = np.asarray(_cot_budget_for_tot(b * m * omega, b))
    return {
        "arch": dict(ARCH),
        "m": list(M_VALUES),
        "branching": list(BRANCHING),
        "q": q,
        "cot_budget": cot_budget,
        "tot_budget": {str(b): np.asarray(tot_budget(cot_budget, b)) for b in BRANCHING},
        "success": {name: maps[i] for i, name in enumerate(strategy_names())},
        "feasible_cot_budget": feasible,
    }


def compute(quick: bool = False) -> dict:
    d = success_maps(quick)
    succ = d.pop("success")
    d["difference"] = {str(b): succ[f"ToT({b})"] - succ["CoT"] for b in BRANCHING}
    return d


def diverging_cmap():
    """Orange (CoT better) - white (equal) - blue (ToT(1) better), as in the paper."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(
        "cot_tot", ["#b35806", "#f1a340", "#ffffff", "#6baed6", "#08519c"]
    )


def draw_feasibility(ax, data, m_index, names, colors):
    """Dashed vertical lines at the smallest CoT budget where each strategy can finish."""
    for name, color in zip(names, colors):
        x = data["feasible_cot_budget"][name][m_index]
        ax.axvline(x, color=color, ls="--", lw=1.4)


def plot(data: dict):
    import matplotlib.pyplot as plt

    q = np.asarray(data["q"], float)
    x = np.asarray(data["cot_budget"], float)
    ms, bs = data["m"], data["branching"]
    fig, axes = plt.subplots(
        len(bs),
        len(ms),
        figsize=(3.6 * len(ms) + 1.2, 3.3 * len(bs) + 0.8),
        sharex=True,
        sharey=True,
        layout="constrained",
        squeeze=False,
    )
    cmap = diverging_cmap()
    mesh = None
    for i, b in enumerate(bs):
        diff = np.asarray(data["difference"][str(b)], float)
        for j, m in enumerate(ms):
            ax = axes[i, j]
            mesh = ax.pcolormesh(
                x, q, diff[j], cmap=cmap, vmin=-1, vmax=1, shading="nearest", rasterized=True
            )
            draw_feasibility(ax, data, j, ["CoT", f"ToT({b})"], ["#b35806", "#08519c"])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.minorticks_off()  # minor log ticks are unreadable on heat maps (and slow)
            ax.set_title(f"ToT(1) b = {b} minus CoT, m = {m}", fontsize=10)
            if i == len(bs) - 1:
                ax.set_xlabel("CoT token budget Ω_CoT (tokens)")
            if j == 0:
                ax.set_ylabel("per-step success q = ι̂p")
    cb = fig.colorbar(mesh, ax=axes, shrink=0.8, pad=0.02)
    cb.set_label("ψ_ToT(1) − ψ_CoT at equal compute\n(blue: ToT(1) better, orange: CoT better)")
    axes[0, 0].plot([], [], color="#b35806", ls="--", label="CoT can finish: Ω_CoT = mω")
    axes[0, 0].plot([], [], color="#08519c", ls="--", label="ToT(1) can finish: Ω_ToT = bmω")
    axes[0, 0].legend(loc="lower left", fontsize=7.5, framealpha=0.9)
    fig.suptitle(
        "Fig. 5: success difference ToT(1) − CoT at matched total compute "
        "(ToT(1) gets the equal-compute budget of Fig. 4)"
    )
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
