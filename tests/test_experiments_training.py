"""Plotted numbers of Fig. 7 (training x inference compute, AIME) and Fig. 14 (competence vs
kappa) against independent references: Eq. 51-52 re-derived with scipy's betainc, dense
searches on the iso-compute lines, a scipy least-squares fit, the closed-form minimiser of
the loss law and the Eq. 46 degree bound typed in by hand.
"""

import math

import matplotlib
import numpy as np
import pytest
from scipy.optimize import least_squares
from scipy.special import betainc

import ds3jax
from experiments import fig7, fig14

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def f7():
    return fig7.compute(quick=True)


@pytest.fixture(scope="module")
def f14():
    return fig14.compute(quick=True)


# ---------------------------------------------------------------------------- Fig. 7 --------


def _psi_reference(p_s, gamma, budget, levels, ms, omega=25.0, beta=5.0, delta=0.5):
    """Eq. 51-52 in numpy/scipy from per-level p_s(l) and gamma_l (levels 1..L)."""
    L = p_s.size
    sigma = 0.5 * np.log(np.arange(1, L + 1))  # sigma_k, index k - 1
    T = budget / omega
    total = 0.0
    for lvl in levels:
        for m in ms:
            best = 0.0
            for lp in range(1, L + 1):
                if lp == lvl:
                    mp = float(m)
                elif lp > lvl:
                    mp = math.ceil(m / np.prod(sigma[lvl:lp]))
                else:
                    mp = math.ceil(m * np.prod(sigma[lp:lvl]))
                b = T - mp + 1.0
                if b <= 0 or gamma[lp - 1] <= 0:
                    continue
                iota = delta + (1 - delta) / math.ceil(mp * (1 + beta))
                val = gamma[lp - 1] ** mp * betainc(mp, b, iota * p_s[lp - 1])
                best = max(best, val)
            total += best
    return total / (len(levels) * len(ms))


def _levels(data):
    return list(range(data["levels"][0], data["levels"][1] + 1, data["level_step"]))


def _ms(data):
    return list(range(data["m_skills"][0], data["m_skills"][1] + 1))


def test_fig7_grid_accuracy_matches_scipy_reference(f7):
    g = f7["grid"]
    acc = np.asarray(g["accuracy"])
    budget = np.asarray(g["budget"])
    c_tr = np.asarray(g["C_tr"])
    # Points in the transition region (strictly between 0 and 1), plus one saturated point.
    picks = list(zip(*np.nonzero((acc > 0.05) & (acc < 0.95)), strict=True))[::7][:4]
    picks.append(tuple(np.argwhere(acc > 0.999)[0]))
    assert len(picks) >= 3
    model = ds3jax.SkillTextModel()
    for i, j in picks:
        N = math.sqrt(c_tr[i] / 120.0)
        h = ds3jax.skill_hierarchy(model, N, 20.0 * N)
        ref = _psi_reference(
            np.asarray(h.p_s), np.asarray(h.gamma), budget[i, j], _levels(f7), _ms(f7)
        )
        assert acc[i, j] == pytest.approx(ref, rel=1e-7, abs=1e-10)
        # The grid budget is the per-task Omega implied by C_inf = 2 N I Omega.
        c_inf = np.asarray(g["C_inf"])[j]
        assert budget[i, j] == pytest.approx(c_inf / (2 * N * f7["n_queries"]), rel=1e-12)


def test_fig7_accuracy_grows_with_inference_compute(f7):
    acc = np.asarray(f7["grid"]["accuracy"])
    assert np.all(np.diff(acc, axis=1) >= -1e-12)
    assert acc.min() < 0.01 and acc.max() > 0.99


def test_fig7_optimum_on_iso_compute_lines_vs_dense_search(f7):
    opt = f7["optimum"]
    tasks = ds3jax.TaskGrid.product(np.array(_levels(f7), float), np.array(_ms(f7), float))
    model = ds3jax.SkillTextModel()
    share_grid = np.asarray(f7["lines"]["train_share"])
    n = share_grid.size
    # Dense logit grid containing every share the module tried (3x refinement).
    logit = np.linspace(-5.0, 5.0, 3 * (n - 1) + 1)
    dense = 1.0 / (1.0 + np.exp(-logit))
    np.testing.assert_allclose(dense[::3], share_grid, rtol=1e-12)
    rows = [k for k in range(len(opt["C_total"])) if 0.02 < opt["accuracy"][k] < 0.98][:3]
    assert len(rows) == 3
    C = np.asarray(opt["C_total"])[rows]
    c_tr = C[:, None] * dense[None, :]
    N = np.sqrt(c_tr / 120.0)
    omega = C[:, None] * (1 - dense[None, :]) / (2.0 * N * f7["n_queries"])
    brute = np.asarray(
        ds3jax.tripartite_expected_accuracy(model, tasks, ds3jax.CoT(), N, 20.0 * N, omega)
    )
    for r, k in enumerate(rows):
        # The stored point lies on its iso-compute line, with N and Omega consistent.
        assert opt["C_tr"][k] + opt["C_inf"][k] == pytest.approx(C[r], rel=1e-12)
        assert opt["N"][k] == pytest.approx(math.sqrt(opt["C_tr"][k] / 120.0), rel=1e-12)
        # Same values at the shared shares, so the module's max equals the coarse max...
        assert opt["accuracy"][k] == pytest.approx(brute[r, ::3].max(), rel=1e-9, abs=1e-12)
        # ...and the 3x denser search finds nothing much better nor far away.
        assert brute[r].max() - opt["accuracy"][k] < 0.05
        best = dense[np.argmax(brute[r])]
        assert (
            abs(
                np.log(best / (1 - best))
                - np.log(opt["train_share"][k] / (1 - opt["train_share"][k]))
            )
            < 2.0
        )
    # More total compute buys more accuracy at the optimum.
    assert np.all(np.diff(np.asarray(opt["accuracy"])) > 0)
    assert list(np.asarray(opt["defined"])) == [0.001 < a < 0.999 for a in opt["accuracy"]]


def test_fig7_isocontours_trade_off_log_linearly(f7):
    seen = 0
    for iso in f7["isocontours"]:
        fit = np.asarray(iso["in_fit"], bool)
        if fit.sum() < 3:
            continue
        seen += 1
        x = np.log10(np.asarray(iso["C_tr"])[fit])
        y = np.log10(np.asarray(iso["C_inf"], float)[fit])
        # More training compute needs less inference compute for the same accuracy.
        assert np.all(np.diff(y) < 0)
        slope, intercept = np.polyfit(x, y, 1)
        assert iso["slope"] == pytest.approx(slope, rel=1e-9)
        assert slope < -1.0
        resid = y - (intercept + slope * x)
        assert np.max(np.abs(resid)) < 0.35  # decades; a log-linear trade-off
    assert seen >= 3


def test_fig7_aime_data_and_fit(f7):
    aime = f7["aime"]
    if aime is None:
        pytest.skip("shared AIME data not present")
    assert len(aime["Tokens"]) == 6
    # The file's C_inf is 2 N tokens with N from C_tr = 6 N (20 N): same Chinchilla reading.
    N = np.sqrt(np.asarray(aime["C_tr"]) / 120.0)
    np.testing.assert_allclose(aime["C_inf"], 2 * N * np.asarray(aime["Tokens"]), rtol=1e-3)
    cl = f7["claude"]
    lb = np.log(np.asarray(cl["budget"]))
    f = np.asarray(cl["accuracy"])
    x, y = np.asarray(aime["Tokens"]), np.asarray(aime["Accuracy"])

    def resid(p):
        return p[1] * np.interp(np.log(x) - p[0], lb, f) - y

    best = min(
        (least_squares(resid, [s0, 0.9], bounds=([-2, 0], [8, 1])) for s0 in (1.0, 3.0, 5.0)),
        key=lambda r: r.cost,
    )
    fit = cl["fit"]
    assert fit["sse"] <= 2 * best.cost + 1e-6
    assert fit["sse"] / np.sum((y - y.mean()) ** 2) < 0.1  # R^2 > 0.9
    assert fit["omega"] == pytest.approx(25.0 * fit["ratio"])


def test_fig7_fit_recovers_synthetic_parameters():
    lb = np.log(np.logspace(1, 5.5, 60))
    f = 1 / (1 + np.exp(-(lb - 6.0)))
    tokens = np.array([2e3, 5e3, 1e4, 2e4, 5e4])
    y = 0.7 * np.interp(np.log(tokens) - np.log(4.0), lb, f)
    fit = fig7.fit_token_curve(lb, f, tokens, y)
    assert fit["ratio"] == pytest.approx(4.0, rel=0.01)
    assert fit["ceiling"] == pytest.approx(0.7, rel=0.01)


def test_fig7_plot_says_when_data_missing(f7):
    import matplotlib.pyplot as plt

    data = dict(f7, aime=None)
    fig = fig7.plot(data)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    plt.close(fig)
    assert any("not found" in t for t in texts)


# ---------------------------------------------------------------------------- Fig. 14 -------

# Epoch refit of the Chinchilla law (Besiroglu et al. 2024), typed in independently.
E_A, E_B, E_ALPHA, E_BETA = 482.01, 2085.43, 0.3478, 0.3658


def _optimal_kappa(C):
    G = (E_ALPHA * E_A / (E_BETA * E_B)) ** (1 / (E_ALPHA + E_BETA))
    return G**-2 * (C / 6.0) ** ((E_ALPHA - E_BETA) / (E_ALPHA + E_BETA))


def test_fig14_peak_near_training_optimal_kappa(f14):
    C = np.asarray(f14["C_tr"])
    k_star = _optimal_kappa(C)
    np.testing.assert_allclose(f14["epoch_refit_optimal_kappa"], k_star, rtol=1e-10)
    peak = np.asarray(f14["peak_kappa"])
    assert np.all(np.abs(np.log(peak / k_star)) < np.log(1.35))
    assert np.all(np.abs(np.log(peak / 20.0)) < np.log(1.3))
    comp = np.asarray(f14["competence"])
    kappa = np.asarray(f14["kappa"])
    # Sharp transition: the step into the peak is the largest jump of every curve.
    for i in range(C.size):
        j = int(np.argmax(comp[i]))
        assert kappa[j] == peak[i]
        jumps = np.diff(comp[i])
        assert np.argmax(jumps) == j - 1 and jumps[j - 1] > 3.0


def test_fig14_competence_falls_monotonically_beyond_peak(f14):
    comp = np.asarray(f14["competence"])
    for row in comp:
        j = int(np.argmax(row))
        tail = row[j:]
        assert np.all(np.diff(tail) <= 1e-9)
        assert tail[-1] < row[j] - 10.0
    # Larger budgets are more competent at every kappa.
    assert np.all(np.diff(comp, axis=0) > 0)


def test_fig14_overtrained_branch_counts_skills_with_enough_concepts(f14):
    # Beyond the threshold every concept is learned, so p_s(l) = 1 exactly when the Eq. 46
    # degree bound d = 0.99 (xi R/S)(1 - sqrt(2 S ln(S/rho) / (R xi))) exceeds eta = 3.
    S, rho, eta, L, zeta = 1e4, 0.05, 3.0, 100, 2.5e3
    lv = np.arange(1, L + 1)
    kappa = np.asarray(f14["kappa"])
    comp = np.asarray(f14["competence"])
    checked = 0
    for i, C in enumerate(f14["C_tr"]):
        for j in np.nonzero(kappa > 1.5 * f14["peak_kappa"][i])[0]:
            R = math.sqrt(C / (6 * kappa[j])) / zeta
            xi = np.exp(-10.0 * lv / L)
            d = (
                0.99
                * (xi * R / S)
                * (1 - np.sqrt(np.maximum(2 * S * np.log(S / rho) / (R * xi), 0)))
            )
            assert comp[i, j] == pytest.approx(np.sum(d > eta), abs=1e-3)
            checked += 1
    assert checked > 20
