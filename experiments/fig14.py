"""Fig. 14: trained skill competence vs tokens per parameter kappa at fixed training compute.

Competence is sum_{l=1}^{L} p_s(l), the skill-acquisition scores of Eq. 48 summed over the
L = 100 levels of the skill-text framework (Sec. III-A, App. B), computed by
:func:`ds3jax.skill_competence` with the App. B parameters (the :class:`ds3jax.SkillTextModel`
defaults: zeta = 2.5e3 parameters per concept, tau = 1e4 tokens per text piece, d_t = 6,
S = 1e4 skills per level, level decay b = 10; eta = 3 and Chernoff rho = 0.05, which the paper
does not state). For a training budget C_tr = 6 N D and ratio kappa = D / N the model has
N = sqrt(C_tr / (6 kappa)) parameters and D = kappa N tokens.

Below a threshold kappa the text-concept graph is under the BP threshold (too little text per
concept, concept erasure ~1, the "undertrained" regime the paper puts out of scope, shaded);
above it every concept is learned and competence falls monotonically as kappa grows because the
model, and so the number of concepts per skill, shrinks (overtraining). The threshold sits at
kappa ~ 17-20 for these parameters at every budget: the mean concept degree d_t tau^-1 zeta kappa
must clear the BP threshold, which does not depend on C_tr. The figure marks kappa = 20 (the
Chinchilla rule) and the training-optimal D*/N* of the Epoch refit of the Chinchilla loss law
(:func:`ds3jax.training_optimal_ratio`), which is 16-19 over these budgets.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import ds3jax
from experiments._common import run_module

TITLE = (
    "Fig. 14: trained skill competence sum_l p_s(l) vs tokens per parameter kappa at several "
    "training budgets (skill-text model, App. B parameters)"
)


def compute(quick: bool = False) -> dict:
    model = ds3jax.SkillTextModel()
    budgets = np.array([1e22, 1e24, 1e26]) if quick else np.logspace(22.0, 26.0, 5)
    kappa = np.logspace(0.0, 4.0, 49 if quick else 161)
    alloc = ds3jax.chinchilla_rule(jnp.asarray(budgets)[:, None], jnp.asarray(kappa)[None, :])
    competence = np.asarray(ds3jax.skill_competence(model, alloc.N, alloc.D))
    peak = np.argmax(competence, axis=1)
    law = ds3jax.LossLaw.epoch_refit()
    return {
        "C_tr": budgets,
        "kappa": kappa,
        "competence": competence,
        "n_levels": model.n_levels,
        "peak_kappa": kappa[peak],
        "peak_competence": competence[np.arange(budgets.size), peak],
        "chinchilla_kappa": 20.0,
        "epoch_refit_optimal_kappa": np.asarray(
            ds3jax.training_optimal_ratio(law, jnp.asarray(budgets))
        ),
    }


def plot(data: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10.5, 5.5))
    kappa = np.asarray(data["kappa"], float)
    comp = np.asarray(data["competence"], float)
    peaks = np.asarray(data["peak_kappa"], float)
    for i, c in enumerate(data["C_tr"]):
        ax.plot(kappa, comp[i], color=f"C{i}", lw=1.8, label=f"C_tr = {c:.0e} FLOPs")
        ax.plot(peaks[i], data["peak_competence"][i], "o", color=f"C{i}", ms=5)
    ax.axvspan(kappa.min(), peaks.min(), color="0.85", alpha=0.6, lw=0)
    ax.text(
        np.sqrt(kappa.min() * peaks.min()),
        0.97,
        "undertrained\n(out of scope)",
        transform=ax.get_xaxis_transform(),
        ha="center",
        va="top",
        fontsize=8,
        color="0.35",
    )
    ax.axvline(
        data["chinchilla_kappa"], color="k", ls="--", lw=1, label="Chinchilla rule kappa = 20"
    )
    opt = np.asarray(data["epoch_refit_optimal_kappa"], float)
    ax.axvspan(
        opt.min(),
        opt.max(),
        color="C3",
        alpha=0.15,
        lw=0,
        label=f"loss-law optimum D*/N* (Epoch refit): {opt.min():.0f}-{opt.max():.0f}",
    )
    ax.set_xscale("log")
    ax.set_xlabel("tokens per parameter kappa = D / N")
    ax.set_ylabel(f"skill competence sum over {data['n_levels']} levels of p_s(l)")
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Fig. 14: trained skill competence vs kappa (dots: peak per budget)")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
