"""Fig. 10: pass@k (oracle verifier) and majority-vote accuracy over a Beta + point-mass
population of per-task success rates (Sec. III-D, App. E-B/E-C).

Panels: (1) pass@k of three base models on MATH (digitised from Brown et al. 2024) with the
Beta + point-mass law A (1 - B(alpha, beta + k) / B(alpha, beta)) (Eq. 59) fitted to each;
(2) the two Llama-3 instruct models: oracle pass@k versus majority vote (MV), the MV model
(Eq. 61) using the pass@k population unchanged and error weights calibrated to the MV plateau
(Eq. 62-63); (3) the fitted densities A Beta(psi; alpha, beta) (the atom 1 - A at psi = 0 is
in the legend); (4) the CDFs (1 - A) + A I_psi(alpha, beta).

The plotted pass@k fits are the minimax variant of ``fit_passk_curve`` (smallest largest
error); the paper's least-squares fit (App. E-B) is stored alongside in the JSON.  The helpers
here (data folder, model table, fits) are shared with fig11 and fig12.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments._common import run_module

TITLE = "pass@k and majority-vote fits with Beta + point-mass task-success distributions"

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ds3_passk"

# file stem -> (label, colour); colours follow the paper where it names them (70B peach,
# 8B-Instruct purple)
MODELS = {
    "pythia28B": ("Pythia-2.8B", "tab:blue"),
    "llama8BpassN": ("Llama-3-8B", "tab:green"),
    "gemma2B": ("Gemma-2B", "tab:red"),
    "llama38Binstruct_oracle": ("Llama-3-8B-Instruct", "tab:purple"),
    "llama370Binstruct_oracle": ("Llama-3-70B-Instruct", "#e0784a"),
}
BASE = ("pythia28B", "llama8BpassN", "gemma2B")
INSTRUCT = ("llama38Binstruct_oracle", "llama370Binstruct_oracle")
N_ANSWERS = 10  # |Y| (App. E-C)
FIT_LOSS = "max"  # plotted fits: minimax; "l2" (the paper's) is reported too


def data_dir() -> Path:
    """The pass@k data folder, or a FileNotFoundError saying where it was expected."""
    if not DATA_DIR.is_dir():
        raise FileNotFoundError(
            f"pass@k data folder {DATA_DIR} is missing; figures 10-12 need the digitised "
            "curves shared/data/ds3_passk/*.csv next to the repository"
        )
    return DATA_DIR


def load(stem: str):
    """Load one curve CSV of the data folder (``ds3jax.population.load_curve``)."""
    from ds3jax.population import load_curve

    return load_curve(data_dir() / f"{stem}.csv")


def fit_oracle(stem: str, loss: str = FIT_LOSS):
    """(curve, PopulationFit) of the Beta + point-mass law for one pass@k curve."""
    from ds3jax.population import fit_passk_curve

    curve = load(stem)
    return curve, fit_passk_curve(curve, loss=loss)


def fit_summary(fit) -> dict:
    """Parameters, standard errors and goodness of fit of a PopulationFit as plain floats."""
    p = fit.population
    return {
        "alpha": float(p.alpha),
        "beta": float(p.beta),
        "solvable": float(p.solvable),
        "stderr": {k: float(v) for k, v in fit.stderr.items()},
        "at_bound": list(fit.at_bound),
        "rmse": fit.rmse,
        "max_abs_error": fit.max_abs_error,
    }


def psi_grid() -> np.ndarray:
    """Success-rate grid, dense near both ends where the Beta densities diverge."""
    return np.unique(
        np.concatenate(
            [
                [0.0],
                np.geomspace(1e-4, 0.05, 50),
                np.linspace(0.05, 0.95, 91),
                1.0 - np.geomspace(0.05, 1e-4, 50),
                [1.0],
            ]
        )
    )


def _quick_subcurve(curve, targets=(1.0, 4.0, 30.0)):
    """A few data points (nearest in log k to ``targets``), k rounded to the integer the MV
    model is evaluated at anyway: few distinct k, so few compilations of the vote table."""
    from ds3jax.population import make_curve

    idx = sorted({int(np.argmin(np.abs(np.log(curve.k / t)))) for t in targets})
    return make_curve(np.round(curve.k[idx]), curve.y[idx], name=curve.name)


def compute(quick: bool = False) -> dict:
    import ds3jax.population as pop

    psi = psi_grid()
    k_grid = np.geomspace(1.0, 1e4, 120)
    models, fits = {}, {}
    for stem, (label, color) in MODELS.items():
        curve, fit = fit_oracle(stem)
        _, fit_l2 = fit_oracle(stem, "l2")
        fits[stem] = fit
        models[stem] = {
            "label": label,
            "color": color,
            "k": curve.k,
            "y": curve.y,
            **fit_summary(fit),
            "least_squares": fit_summary(fit_l2),
            "k_grid": k_grid,
            "fit_grid": np.asarray(fit.passk(k_grid)),
            "psi": psi,
            "pdf": np.asarray(pop.population_pdf(fit.population, psi)),
            "cdf": np.asarray(pop.population_cdf(fit.population, psi)),
        }
    majority = {}
    for stem in INSTRUCT:
        mv_curve = load(stem.replace("_oracle", "_maj"))
        # P_inf from the whole curve (mean over its last two decades of k), then the model is
        # evaluated at every data k (full) or at three of them (quick)
        p_inf = pop.plateau(mv_curve)
        used = _quick_subcurve(mv_curve) if quick else mv_curve
        mf = pop.fit_majority_curve(used, fits[stem], n_answers=N_ANSWERS, p_inf=p_inf)
        majority[stem] = {
            "label": MODELS[stem][0],
            "color": MODELS[stem][1],
            "k": mv_curve.k,
            "y": mv_curve.y,
            "k_model": mf.k,
            "mv_model": mf.predicted,
            "oracle_model": np.asarray(fits[stem].passk(mf.k.astype(float))),
            "p_inf": mf.p_inf,
            "max_error_weight": mf.max_error_weight,
            "lam": mf.lam,
            "error_weights": mf.error_weights,
            "rmse": mf.rmse,
            "max_abs_error": mf.max_abs_error,
            "n_points_evaluated": int(used.k.size),
        }
    return {
        "fit_loss": FIT_LOSS,
        "n_answers": N_ANSWERS,
        "base": list(BASE),
        "instruct": list(INSTRUCT),
        "models": models,
        "majority": majority,
    }


def _log_k_axis(ax):
    ax.set_xscale("log")
    ax.set_xlabel("k (samples per problem, log scale)")
    ax.set_ylabel("accuracy on MATH (fraction of problems)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, which="both", lw=0.5)


def plot(data: dict):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(20, 5.2), layout="constrained")
    ax1, ax2, ax3, ax4 = fig.subplots(1, 4)
    m = data["models"]
    for stem in data["base"]:
        d = m[stem]
        ax1.plot(
            d["k"], d["y"], "-", color=d["color"], lw=3, alpha=0.45, label=f"{d['label']} (data)"
        )
        ax1.plot(
            d["k_grid"],
            d["fit_grid"],
            "--",
            color=d["color"],
            lw=1.4,
            label=f"Beta fit: RMSE {d['rmse']:.4f}, max |err| {d['max_abs_error']:.4f}",
        )
    _log_k_axis(ax1)
    ax1.set_title("(1) pass@k, base models: data (solid), Beta fit (dashed)")
    ax1.legend(fontsize=8, loc="upper left")

    for stem in data["instruct"]:
        d, mv = m[stem], data["majority"][stem]
        ax2.plot(
            d["k"], d["y"], "-", color=d["color"], lw=3, alpha=0.45, label=f"{d['label']} pass@k"
        )
        ax2.plot(d["k_grid"], d["fit_grid"], ":", color=d["color"], lw=1.2)
        ax2.plot(mv["k"], mv["y"], "o", color=d["color"], ms=4, label="majority vote (data)")
        ax2.plot(
            mv["k_model"],
            mv["mv_model"],
            "--",
            color=d["color"],
            lw=1.5,
            label=f"MV model (lambda = {mv['lam']:.3f}, max |err| {mv['max_abs_error']:.3f})",
        )
        ax2.axhline(mv["p_inf"], color=d["color"], lw=0.6, alpha=0.5)
    ax2.plot([], [], ":", color="gray", label="Beta fit of pass@k")
    ax2.plot([], [], "-", color="gray", lw=0.6, alpha=0.5, label="MV plateau P_inf")
    _log_k_axis(ax2)
    ax2.set_title("(2) instruct models: oracle pass@k vs majority vote")
    ax2.legend(fontsize=7.5, loc="lower right")

    for stem, d in m.items():
        atom = 1.0 - d["solvable"]
        lab = (
            f"{d['label']}: alpha={d['alpha']:.2f}, beta={d['beta']:.2f}, "
            f"A={d['solvable']:.3f} (atom {atom:.3f} at 0)"
        )
        psi = np.asarray(d["psi"], float)
        inner = (psi > 0) & (psi < 1)
        ax3.plot(psi[inner], np.asarray(d["pdf"], float)[inner], color=d["color"], label=lab)
        ax4.plot(psi, d["cdf"], color=d["color"], label=d["label"])
    ax3.set_ylim(0, 5)  # every density diverges at psi -> 0 (alpha < 1)
    ax3.set_xlim(0, 1)
    ax3.set_xlabel("per-sample task success rate psi")
    ax3.set_ylabel("density A Beta(psi; alpha, beta)")
    ax3.set_title("(3) PDF of task success rates (continuous part)")
    ax3.legend(fontsize=7, loc="upper center")
    ax4.set_xlim(0, 1)
    ax4.set_ylim(0, 1)
    ax4.set_xlabel("per-sample task success rate psi")
    ax4.set_ylabel("P(task success rate <= psi)")
    ax4.set_title("(4) CDF (1 - A) + A I_psi(alpha, beta)")
    ax4.legend(fontsize=8, loc="lower right")
    for ax in (ax3, ax4):
        ax.grid(alpha=0.3, lw=0.5)
    fig.suptitle(
        "Fig. 10: MATH pass@k and majority vote explained by a Beta + point-mass population of "
        f"task success rates (fits: {'minimax' if data['fit_loss'] == 'max' else 'least squares'}"
        f", |Y| = {data['n_answers']} answers)"
    )
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
