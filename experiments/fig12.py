"""Fig. 12: search directionality iota_hat from pass@k curves through the DS3 push-forward
(Sec. III-D, App. E-D, Eq. 64-70).

Tasks are pairs (L0, m): m in {1, 100} required skills with Pr = 0.93 / 0.07 and skill
difficulty L0 | m ~ N(mu_m, sigma_m^2).  A model with Chinchilla loss L and step budget
T_max (Table II) solves one sample with psi = I_u(m, T_max - m + 1), u = iota_hat
sigmoid(5 (L0 - L)) (Eq. 64-67); a fraction 1 - A of tasks (A from the Fig. 10 Beta fit) is
unsolvable.  (mu_m, sigma_m) are shared by all models and iota_hat is per model; all are
fitted jointly by least squares to the pass@k curves (``fit_iota_hat``).

Panels: (a) the fitted two-mode task prior over L0 (histogram of draws, component densities)
with each model's loss L; (b) pass@k data and the push-forward model; (c) push-forward CDFs
(dashed) against the Beta + point-mass CDFs of Fig. 10 (solid), iota_hat in the legend.

``quick=True`` skips the joint fit (compiling its Jacobian takes about a minute on a slow
CPU) and evaluates the push-forward at the parameters of the full fit stored below.
"""

from __future__ import annotations

import numpy as np

from experiments._common import run_module
from experiments.fig10 import MODELS, fit_oracle, psi_grid

TITLE = "Push-forward of a two-mode task-difficulty prior: iota_hat from pass@k curves"

# Table II: Chinchilla loss L(N, D) and T_max = output budget / 25.  The table lists these
# four models (no Llama-3-70B row), so Fig. 12 uses them.
TABLE_II = {
    "pythia28B": (2.1906, 81.92),
    "gemma2B": (2.1014, 327.68),
    "llama8BpassN": (1.9485, 327.68),
    "llama38Binstruct_oracle": (1.9485, 327.68),
}
M_VALUES = (1, 100)
M_PROBS = (0.93, 0.07)
# The least-squares landscape has several local minima (the paper uses differential
# evolution) and the trust-region path is sensitive to its start and even to rounding: from
# mu0 = (1.5, 2.5), iota0 = 0.5 single runs ended at total squared errors of 0.0245, 0.043
# and 0.068 over the four curves as the library's rounding changed. The fit runs from
# fit_iota_hat's four default starts and keeps the best.

# Best full joint fit found (compute(quick=False)), used as-is by the quick mode.
REFERENCE = {
    "mu": [0.443198, 1.589167],
    "sigma": [0.479213, 9.353573],
    "iota": {
        "pythia28B": 0.289149,
        "gemma2B": 0.260551,
        "llama8BpassN": 0.271096,
        "llama38Binstruct_oracle": 0.650554,
    },
}


def _model(mu, sigma, iota, loss, t_max, solvable):
    import jax.numpy as jnp

    from ds3jax.population import PushForward

    return PushForward(
        mu=jnp.asarray(mu, float),
        sigma=jnp.asarray(sigma, float),
        m_probs=jnp.asarray(M_PROBS, float),
        iota=jnp.asarray(iota, float),
        loss=jnp.asarray(loss, float),
        t_max=jnp.asarray(t_max, float),
        solvable=jnp.asarray(solvable, float),
        m_values=M_VALUES,
    )


def compute(quick: bool = False) -> dict:
    import jax

    import ds3jax.population as pop

    curves, betas, data = {}, {}, {}
    for stem, (loss, t_max) in TABLE_II.items():
        curve, fit = fit_oracle(stem)
        curves[stem], betas[stem] = curve, fit
        data[stem] = (curve, loss, t_max, float(fit.population.solvable))
    if quick:
        mu, sigma = REFERENCE["mu"], REFERENCE["sigma"]
        iota, iota_se, success = REFERENCE["iota"], {s: None for s in TABLE_II}, None
    else:
        res = pop.fit_iota_hat(data, m_values=M_VALUES, m_probs=M_PROBS)
        mu, sigma = res.mu.tolist(), res.sigma.tolist()
        iota, iota_se, success = res.iota, res.iota_stderr, res.success

    # one compilation each: every model is evaluated on arrays of the same shapes
    passk_j = jax.jit(pop.pushforward_passk)
    cdf_j = jax.jit(pop.pushforward_cdf)
    k_grid = np.geomspace(1.0, 1e4, 100)
    n_pad = -(-max(c.k.size for c in curves.values()) // 32) * 32
    psi = psi_grid()
    models = {}
    for stem, (curve, loss, t_max, A) in data.items():
        m = _model(mu, sigma, iota[stem], loss, t_max, A)
        k_all = np.concatenate([k_grid, curve.k, np.ones(n_pad - curve.k.size)])
        pk = np.asarray(passk_j(m, k_all))
        resid = pk[k_grid.size : k_grid.size + curve.k.size] - curve.y
        models[stem] = {
            "label": MODELS[stem][0],
            "color": MODELS[stem][1],
            "loss": loss,
            "t_max": t_max,
            "solvable": A,
            "iota": float(iota[stem]),
            "iota_stderr": iota_se[stem],
            "k": curve.k,
            "y": curve.y,
            "k_grid": k_grid,
            "pushforward_passk": pk[: k_grid.size],
            "rmse": float(np.sqrt(np.mean(resid**2))),
            "max_abs_error": float(np.max(np.abs(resid))),
            "psi": psi,
            "pushforward_cdf": np.asarray(cdf_j(m, psi)),
            "beta_cdf": np.asarray(pop.population_cdf(betas[stem].population, psi)),
        }
    # draws from the fitted prior for the histogram (numbers plotted, so stored)
    rng = np.random.default_rng(12)
    n_draw = 20_000
    comp = rng.random(n_draw) < M_PROBS[0]
    draws = np.where(comp, rng.normal(mu[0], sigma[0], n_draw), rng.normal(mu[1], sigma[1], n_draw))
    lo = min(mu[0] - 4 * sigma[0], min(v[0] for v in TABLE_II.values()) - 1.0)
    hi = max(mu[0] + 4 * sigma[0], max(v[0] for v in TABLE_II.values()) + 1.0)
    edges = np.linspace(lo, hi, 61)
    hist, _ = np.histogram(draws, bins=edges)
    hist = hist / (n_draw * np.diff(edges))  # density of the whole mixture
    grid = np.linspace(lo, hi, 400)
    comps = [
        p * np.exp(-0.5 * ((grid - mu_) / s_) ** 2) / (s_ * np.sqrt(2 * np.pi))
        for p, mu_, s_ in zip(M_PROBS, mu, sigma)
    ]
    return {
        "quick_uses_reference": bool(quick),
        "m_values": list(M_VALUES),
        "m_probs": list(M_PROBS),
        "mu": list(mu),
        "sigma": list(sigma),
        "fit_success": success,
        "prior": {
            "edges": edges,
            "hist": hist,
            "grid": grid,
            "components": comps,
            "mass_outside": float(np.mean((draws < lo) | (draws > hi))),
        },
        "models": models,
    }


def plot(data: dict):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(19, 5.4), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    pr = data["prior"]
    edges = np.asarray(pr["edges"], float)
    ax1.stairs(pr["hist"], edges, fill=True, color="0.8", label="draws from the fitted prior")
    for comp, m, p, mu, s in zip(
        pr["components"], data["m_values"], data["m_probs"], data["mu"], data["sigma"]
    ):
        ax1.plot(
            pr["grid"],
            comp,
            "-",
            lw=1.3,
            label=f"m = {m} skills (Pr {p}): mu = {mu:.2f}, sigma = {s:.2f}",
        )
    seen = set()
    for d in data["models"].values():
        lab = f"{d['label']}: L = {d['loss']}"
        ls = "--" if d["loss"] in seen else "-"
        seen.add(d["loss"])
        ax1.axvline(d["loss"], color=d["color"], ls=ls, lw=1.5, label=lab)
    ax1.set_xlabel("skill difficulty L0 (loss units)")
    ax1.set_ylabel("probability density")
    ax1.set_title("(a) fitted task prior over L0, with model losses L")
    note = f"({pr['mass_outside']:.1%} of the prior lies outside the plotted range)"
    ax1.set_ylim(0, 1.7 * max(np.max(pr["hist"]), max(np.max(c) for c in pr["components"])))
    ax1.legend(fontsize=7.5, loc="upper left", title=note, title_fontsize=7.5, ncols=2)

    for d in data["models"].values():
        ax2.plot(d["k"], d["y"], "-", color=d["color"], lw=3, alpha=0.45, label=f"{d['label']}")
        ax2.plot(
            d["k_grid"],
            d["pushforward_passk"],
            "--",
            color=d["color"],
            lw=1.4,
            label=f"push-forward: RMSE {d['rmse']:.3f}",
        )
    ax2.set_xscale("log")
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("k (samples per problem, log scale)")
    ax2.set_ylabel("pass@k on MATH (fraction of problems)")
    ax2.set_title("(b) pass@k: data (solid) vs push-forward model (dashed)")
    ax2.legend(fontsize=7.5, loc="upper left")
    ax2.grid(alpha=0.3, which="both", lw=0.5)

    for d in data["models"].values():
        se = d["iota_stderr"]
        se_txt = f" +- {se:.3f}" if se is not None else ""
        ax3.plot(d["psi"], d["beta_cdf"], "-", color=d["color"], lw=2, alpha=0.6)
        ax3.plot(
            d["psi"],
            d["pushforward_cdf"],
            "--",
            color=d["color"],
            lw=1.4,
            label=f"{d['label']}: iota_hat = {d['iota']:.3f}{se_txt} (T_max = {d['t_max']:g})",
        )
    ax3.plot([], [], "-", color="gray", lw=2, alpha=0.6, label="Beta + point mass (Fig. 10)")
    ax3.plot([], [], "--", color="gray", lw=1.4, label="push-forward (Eq. 70)")
    ax3.set_xlim(0, 1)
    ax3.set_ylim(0, 1)
    ax3.set_xlabel("per-sample task success rate psi")
    ax3.set_ylabel("P(task success rate <= psi)")
    ax3.set_title("(c) push-forward CDFs vs Beta + point-mass CDFs")
    ax3.legend(fontsize=7.5, loc="lower right")
    ax3.grid(alpha=0.3, lw=0.5)
    src = "stored full-fit parameters (quick mode)" if data["quick_uses_reference"] else "joint fit"
    fig.suptitle(
        "Fig. 12: two-mode Gaussian task prior over L0 pushed through DS3 CoT (Eq. 64-67); "
        f"search directionality iota_hat per model ({src})"
    )
    return fig


if __name__ == "__main__":
    raise SystemExit(run_module(__name__))
