"""Fig. 10-style figure: pass@k fits, MV fits, and the inferred task-success PDF / CDF."""

from __future__ import annotations

import numpy as np

from ._passk import passk, population_cdf, population_pdf

__all__ = ["plot_population_fits"]


def plot_population_fits(curves, fits, majority=None, *, k_max: float | None = None):
    """Build a four-panel figure like the paper's Fig. 10 and return it (nothing is shown).

    Args:
      curves: dict name -> :class:`Curve` of pass@k data.
      fits: dict name -> :class:`PopulationFit` (same keys as ``curves``).
      majority: optional dict name -> (MV :class:`Curve`, :class:`MajorityFit`), drawn in
        panel (2) together with that model's pass@k data.
      k_max: right end of the k axis (default: the largest k in the data).

    Panels: (1) pass@k data (solid) and Beta + point-mass fits (dashed); (2) oracle pass@k
    versus majority vote (data solid, MV model dashed); (3) PDF A Beta(psi; alpha, beta) of
    task success rates (the atom 1 - A at psi = 0 is given in the legend); (4) CDF
    (1 - A) + A I_psi(alpha, beta).  Returns a ``matplotlib.figure.Figure``.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(18, 4.2), layout="constrained")
    ax1, ax2, ax3, ax4 = fig.subplots(1, 4)
    if k_max is None:
        k_max = max(float(np.max(c.k)) for c in curves.values())
    kk = np.geomspace(1.0, k_max, 300)
    psi = np.linspace(1e-4, 1 - 1e-4, 600)
    colors = {}
    for i, (name, curve) in enumerate(curves.items()):
        col = f"C{i}"
        colors[name] = col
        fit = fits[name]
        ax1.plot(curve.k, curve.y, "-", color=col, label=f"{name} (data)")
        ax1.plot(kk, np.asarray(passk(fit.population, kk)), "--", color=col)
        A = float(fit.population.solvable)
        lab = (
            f"{name}: a={float(fit.population.alpha):.2f}, b={float(fit.population.beta):.2f}, "
            f"A={A:.3f}"
        )
        ax3.plot(psi, np.asarray(population_pdf(fit.population, psi)), color=col, label=lab)
        ax4.plot(
            np.concatenate([[0.0], psi, [1.0]]),
            np.asarray(population_cdf(fit.population, np.concatenate([[0.0], psi, [1.0]]))),
            color=col,
            label=name,
        )
    if majority:
        for name, (mv_curve, mv_fit) in majority.items():
            col = colors.get(name, None)
            if name in curves:
                ax2.plot(
                    curves[name].k,
                    curves[name].y,
                    "-",
                    color=col,
                    alpha=0.5,
                    label=f"{name} pass@k",
                )
            ax2.plot(mv_curve.k, mv_curve.y, "-", color=col, label=f"{name} MV (data)")
            ax2.plot(
                mv_fit.k,
                mv_fit.predicted,
                "--",
                color=col,
                label=f"MV model, lambda={mv_fit.lam:.3f}",
            )
    else:
        ax2.set_visible(False)
    for ax in (ax1, ax2) if majority else (ax1,):
        ax.set_xscale("log")
        ax.set_xlabel("k (samples)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
    ax1.set_title("(1) pass@k: data (solid), Beta fit (dashed)")
    ax2.set_title("(2) pass@k vs majority vote")
    ax3.set_title("(3) PDF of task success rate")
    ax3.set_ylim(0, 6)  # the densities diverge at psi -> 0 (alpha < 1)
    ax3.set_xlabel("psi")
    ax3.legend(fontsize=7)
    ax4.set_title("(4) CDF of task success rate")
    ax4.set_xlabel("psi")
    ax4.set_ylim(0, 1)
    ax4.legend(fontsize=7)
    return fig
