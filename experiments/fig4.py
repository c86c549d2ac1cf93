"""Fig. 4: token budgets of CoT and ToT(1)(b) that cost the same total inference compute.

For each CoT budget Omega_CoT the total compute is Eq. 28 (parameters + attention with a
200-token prompt); ToT(1) with branching b gets the budget Omega_ToT whose cost Eq. 31 plus
App. A-B's logit/branching terms is the same (``ds3jax.tot_equal_compute_budget``).  Once
the quadratic attention term dominates, Omega_ToT -> sqrt(b) Omega_CoT (Eq. 39, dashed).
Architecture of App. A-B: N = 1e10 non-embedding parameters, 96 layers, d_attn = 12288,
omega = 25 tokens per branching step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import ds3jax

from ._common import run_module

TITLE = "Fig. 4: CoT and ToT(1) token budgets at equal total inference compute"

# App. A-B architecture (shared by Fig. 5 and Fig. 13).
ARCH = dict(n_params=1e10, n_layer=96, d_attn=12288, prompt_tokens=200, omega=25.0)
BRANCHING = (2, 4, 8, 16)


def cot_flops(budget):
    """Total CoT inference FLOPs (Eq. 28) of a token budget under the App. A-B architecture."""
    kw = {k: v for k, v in ARCH.items() if k != "n_params"}
    return ds3jax.inference_flops(ds3jax.CoT(), budget, ARCH["n_params"], **kw)


def tot_budget(cot_budget, branching: int):
    """ToT(1)(b) token budget with the total compute of CoT at ``cot_budget`` (App. A-B)."""
    kw = {k: v for k, v in ARCH.items() if k != "n_params"}
    return ds3jax.tot_equal_compute_budget(
        cot_budget, branching, ARCH["n_params"], include_eval=True, **kw
    )


@jax.jit
def _budgets(cot_budget):
    return cot_flops(cot_budget), jnp.stack([tot_budget(cot_budget, b) for b in BRANCHING])


def compute(quick: bool = False) -> dict:
    cot_budget = np.geomspace(10.0, 1e8, 60 if quick else 400)
    flops, tot = (np.asarray(v) for v in _budgets(cot_budget))
    return {
        "arch": dict(ARCH),
        "cot_budget": cot_budget,
        "flops": flops,
        "branching": list(BRANCHING),
        "tot_budget": {str(b): tot[i] for i, b in enumerate(BRANCHING)},
        # Omega where attention (n_layer d_attn Omega^2) overtakes parameters (2 N Omega).
        "attention_crossover_tokens": 2.0 * ARCH["n_params"] / (ARCH["n_layer"] * ARCH["d_attn"]),
    }


def plot(data: dict):
    import matplotlib.pyplot as plt

    cot = np.asarray(data["cot_budget"], float)
    flops = np.asarray(data["flops"], float)
    blues = plt.get_cmap("Blues")
    bs = data["branching"]
    colors = [blues(0.4 + 0.6 * i / max(len(bs) - 1, 1)) for i in range(len(bs))]
    fig, (top, bottom) = plt.subplots(
        2,
        1,
        figsize=(8.5, 8),
        sharex=True,
        gridspec_kw={"height_ratios": [2, 1]},
        layout="constrained",
    )
    top.plot(flops, cot, color="tab:orange", lw=2.4, label="CoT: Ω_CoT")
    for b, c in zip(bs, colors):
        tot = np.asarray(data["tot_budget"][str(b)], float)
        top.plot(flops, tot, color=c, lw=2, label=f"ToT(1), b = {b}: Ω_ToT(1)")
        top.plot(flops, np.sqrt(b) * cot, color=c, lw=1.2, ls="--")
        bottom.plot(flops, tot / cot, color=c, lw=2, label=f"b = {b}")
        bottom.axhline(np.sqrt(b), color=c, lw=1.2, ls="--")
    top.plot([], [], color="0.4", ls="--", label="asymptote √b · Ω_CoT (Eq. 39)")
    # Compute at which attention starts to dominate the CoT cost.
    cross = np.interp(np.log(data["attention_crossover_tokens"]), np.log(cot), np.log(flops))
    for ax in (top, bottom):
        ax.axvline(np.exp(cross), color="0.6", ls=":", lw=1.2)
        ax.grid(True, which="major", alpha=0.3)
    top.text(
        np.exp(cross) * 1.3,
        cot[0] * 3,
        "attention FLOPs = parameter FLOPs\n(CoT, Ω ≈ 2N / (n_layer d_attn))",
        color="0.4",
        fontsize=8.5,
    )
    top.set_xscale("log")
    top.set_yscale("log")
    top.set_ylabel("total token budget Ω (tokens)")
    top.legend(loc="upper left", fontsize=9)
    a = data["arch"]
    top.set_title(
        f"Equal-compute token budgets (N = {a['n_params']:.0e}, n_layer = {a['n_layer']}, "
        f"d_attn = {a['d_attn']}, prompt = {a['prompt_tokens']}, ω = {a['omega']:g})",
        fontsize=10,
    )
    bottom.set_yscale("log", base=2)
    bottom.set_yticks([1.0, *np.sqrt(bs)], ["1", *(f"√{b} = {np.sqrt(b):.3g}" for b in bs)])
    bottom.minorticks_off()
    bottom.set_ylabel("Ω_ToT(1) / Ω_CoT")
    bottom.set_xlabel("total inference compute (FLOPs)")
    bottom.legend(loc="upper left", fontsize=9, ncol=2, title="dashed: √b")
    fig.suptitle("Fig. 4: ToT(1) generates more tokens than CoT for the same compute")
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
