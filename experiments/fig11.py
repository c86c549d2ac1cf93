"""Fig. 11: the truncated-geometric error spectra behind the majority-vote fits of Fig. 10
(Sec. III-D, App. E-C).

For each Llama-3 instruct model the Beta + point-mass population (alpha, beta, A) of its
pass@k fit is kept, the largest error weight c* is set by the MV plateau P_inf (Eq. 62,
c* = r_c / (1 - r_c), r_c = I^{-1}(1 - P_inf / A; alpha, beta)), and the |Y| - 1 = 9 wrong
answers get c_j = (1 - lambda) lambda^(j-1) / (1 - lambda^9) with c_1 = c* (Eq. 63).

Panels: (a) the spectra c_j versus wrong-answer rank j (paper: lambda = 0.752 for 8B-Instruct,
0.592 for 70B-Instruct); (b) how P_inf fixes c*: majority vote eventually wins exactly the
tasks with psi > r_c = c* / (1 + c*), so P_inf = A (1 - I_{r_c}(alpha, beta)).
"""

from __future__ import annotations

import numpy as np

from experiments._common import run_module
from experiments.fig10 import INSTRUCT, MODELS, N_ANSWERS, fit_oracle, load, psi_grid

TITLE = "Truncated-geometric error distributions of the two majority-vote fits (lambda values)"

PAPER_LAMBDA = {"llama38Binstruct_oracle": 0.752, "llama370Binstruct_oracle": 0.592}


def compute(quick: bool = False) -> dict:
    # quick and full are the same: the calibration needs no vote tables beyond k = 1
    import ds3jax.population as pop

    out = {}
    psi = psi_grid()
    for stem in INSTRUCT:
        curve, fit = fit_oracle(stem)
        mv_curve = load(stem.replace("_oracle", "_maj"))
        p_inf = pop.plateau(mv_curve)
        # Eq. 62-63 through the library's MV calibration, evaluated at the single k = 1 point
        # (the spectrum depends only on the population and P_inf, not on the points used)
        first = pop.make_curve([1.0], [mv_curve.y[0]], name=mv_curve.name)
        mf = pop.fit_majority_curve(first, fit, n_answers=N_ANSWERS, p_inf=p_inf)
        c_star = float(mf.error_weights[0])
        r_c = c_star / (1.0 + c_star)
        out[stem] = {
            "label": MODELS[stem][0],
            "color": MODELS[stem][1],
            "alpha": float(fit.population.alpha),
            "beta": float(fit.population.beta),
            "solvable": float(fit.population.solvable),
            "p_inf": p_inf,
            "max_error_weight": mf.max_error_weight,
            "lam": mf.lam,
            "lam_paper": PAPER_LAMBDA[stem],
            "rank": np.arange(1, N_ANSWERS),
            "error_weights": mf.error_weights,
            "r_c": r_c,
            "saturation_check": float(pop.mv_saturation(fit.population, c_star)),
            "psi": psi,
            "cdf": np.asarray(pop.population_cdf(fit.population, psi)),
        }
    return {"n_answers": N_ANSWERS, "models": out}


def plot(data: dict):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 4.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    models = data["models"]
    n = len(models)
    for i, d in enumerate(models.values()):
        j = np.asarray(d["rank"], float)
        centre = j + (i - (n - 1) / 2) * 0.38
        ax1.bar(
            centre,
            d["error_weights"],
            width=0.38,
            color=d["color"],
            alpha=0.75,
            label=f"{d['label']}: lambda = {d['lam']:.3f} (paper {d['lam_paper']})",
        )
        ax1.plot(centre, d["error_weights"], "-", color=d["color"], lw=1)
        ax2.plot(d["psi"], d["cdf"], color=d["color"], label=f"{d['label']} Beta + point mass")
        rc = d["r_c"]
        y_rc = 1.0 - d["p_inf"]  # CDF value at r_c, = (1 - A) + A I_rc
        ax2.plot([rc, rc], [0, y_rc], ":", color=d["color"])
        ax2.plot([0, rc], [y_rc, y_rc], ":", color=d["color"])
        ax2.plot([rc], [y_rc], "o", color=d["color"])
        ax2.annotate(
            f"r_c = {rc:.3f}, c* = {d['max_error_weight']:.3f}\nP_inf = 1 - CDF(r_c) = "
            f"{d['p_inf']:.3f}",
            (rc, y_rc),
            xytext=(12, -28 if i else 8),
            textcoords="offset points",
            fontsize=8,
            color=d["color"],
        )
    ax1.set_xticks(np.arange(1, data["n_answers"]))
    ax1.set_xlabel("rank j of the wrong answer (1 = most frequent)")
    ax1.set_ylabel("share of wrong samples c_j")
    ax1.set_title(
        f"(a) error spectra over |Y| - 1 = {data['n_answers'] - 1} wrong answers (Eq. 63)"
    )
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3, lw=0.5, axis="y")
    ax2.set_xlim(0, 1)
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("per-sample task success rate psi")
    ax2.set_ylabel("P(task success rate <= psi)")
    ax2.set_title("(b) MV plateau fixes c*: MV wins tasks with psi > r_c = c*/(1 + c*)")
    ax2.legend(fontsize=8, loc="lower right")
    ax2.grid(alpha=0.3, lw=0.5)
    fig.suptitle("Fig. 11: truncated-geometric error distributions used in the MV fits of Fig. 10")
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
