"""Fig. 3: CoT expected token usage under a capped token budget, exact vs approximations.

For a CoT chain with per-step probability q = iota_hat p, m required skills and omega tokens
per step, the expected tokens actually generated under a budget Omega are compared for

* the exact closed form of Eq. 23 (``method="exact"``),
* the piecewise linear-Gaussian approximation Eq. 26 with z* = 2 (``method="gaussian"``),
* the piecewise linear approximation Eq. 27, min(omega m / q, Omega) (``method="linear"``),

in the paper's two regimes (m = 5, q = 0.2) and (m = 100, q = 0.05), omega = 25.  The
budgets are whole numbers of steps (Omega = K omega, K integer), where Eq. 23's sum is
defined.  A second row shows each approximation relative to the exact value.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import ds3jax

from ._common import run_module

TITLE = "Fig. 3: CoT expected token usage under a capped budget (exact, linear-Gaussian, linear)"

OMEGA = 25.0
Z_STAR = 2.0
# (m, q) of the left and right panels.
REGIMES = ((5, 0.2), (100, 0.05))
METHODS = ("exact", "gaussian", "linear")


@jax.jit
def _tokens(budget, q, m):
    return jnp.stack(
        [
            ds3jax.expected_tokens(ds3jax.CoT(), q, m, budget, OMEGA, method=meth, z_star=Z_STAR)
            for meth in METHODS
        ]
    )


def _step_grid(mean_steps: float, n: int) -> np.ndarray:
    """Whole step counts K from ~mean/100 to ~50 x mean, log-spaced (duplicates dropped)."""
    lo = max(1.0, mean_steps / 100.0)
    return np.unique(np.round(np.geomspace(lo, 50.0 * mean_steps, n)))


def compute(quick: bool = False) -> dict:
    n = 80 if quick else 400
    grids = [_step_grid(m / q, n) * OMEGA for m, q in REGIMES]
    # One jitted call for both panels (a single compilation): per-point q and m.
    q_all = np.concatenate([np.full(len(g), q) for g, (_, q) in zip(grids, REGIMES)])
    m_all = np.concatenate([np.full(len(g), float(m)) for g, (m, _) in zip(grids, REGIMES)])
    vals = np.asarray(_tokens(np.concatenate(grids), q_all, m_all))
    panels, start = [], 0
    for budget, (m, q) in zip(grids, REGIMES):
        part = vals[:, start : start + len(budget)]
        start += len(budget)
        panels.append(
            {
                "m": m,
                "q": q,
                "omega": OMEGA,
                "mu": OMEGA * m / q,  # Eq. 24 in tokens
                "budget": budget,
                **{meth: part[i] for i, meth in enumerate(METHODS)},
            }
        )
    return {"z_star": Z_STAR, "panels": panels}


def plot(data: dict):
    import matplotlib.pyplot as plt

    panels = data["panels"]
    fig, axes = plt.subplots(
        2,
        len(panels),
        figsize=(11, 7.2),
        sharex="col",
        gridspec_kw={"height_ratios": [2.2, 1]},
        layout="constrained",
    )
    style = {
        "exact": dict(color="tab:blue", lw=2.4, label="exact (Eq. 23)"),
        "gaussian": dict(
            color="tab:orange",
            lw=1.6,
            ls="-",
            label=f"linear-Gaussian (Eq. 26, z* = {data['z_star']:g})",
        ),
        "linear": dict(color="0.45", lw=1.4, ls="-.", label="linear min(ωm/q, Ω) (Eq. 27)"),
    }
    for j, p in enumerate(panels):
        budget = np.asarray(p["budget"], float)
        exact = np.asarray(p["exact"], float)
        top, bottom = axes[0, j], axes[1, j]
        for meth in METHODS:
            top.plot(budget, np.asarray(p[meth], float), **style[meth])
        for ax in (top, bottom):
            ax.axvline(p["mu"], color="0.5", ls="--", lw=1.2)
            ax.grid(True, which="major", alpha=0.3)
        top.text(
            p["mu"] / 1.12,
            budget[0] * 1.5,
            f"μ = ωm/q = {p['mu']:,.0f} tokens",
            color="0.35",
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=9,
        )
        top.set_xscale("log")
        top.set_yscale("log")
        top.set_title(f"m = {p['m']}, q = ι̂p = {p['q']:g}, ω = {p['omega']:g} tokens/step")
        top.set_ylabel("expected generated tokens E[Ω′ | Ω]")
        for meth in ("gaussian", "linear"):
            bottom.plot(budget, np.asarray(p[meth], float) / exact, **style[meth])
        bottom.axhline(1.0, color="tab:blue", lw=1.6)
        bottom.set_xlabel("token budget Ω (tokens)")
        bottom.set_ylabel("approximation / exact")
    axes[0, 0].legend(loc="lower right", fontsize=9)
    fig.suptitle("CoT expected token usage under a capped inference budget (Fig. 3)")
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
