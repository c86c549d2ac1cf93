"""Plotted numbers of Fig. 3, 4, 5 and 13 against independent references.

References: scipy's negative binomial (Eq. 23 summed term by term), scipy.stats.norm (Eq.
26), the Table I / App. A-B FLOP formulas written out by hand, and scipy.special.betainc
(Eq. 20, 29).  Plus the papers' qualitative claims: the limits of Fig. 3, the sqrt(b)
asymptote of Fig. 4 and the sign pattern of Fig. 5.
"""

import numpy as np
import pytest
from scipy import special, stats

from experiments import fig3, fig4, fig5, fig13

N, N_LAYER, D_ATTN, PROMPT, OMEGA = 1e10, 96, 12288, 200, 25.0


@pytest.fixture(scope="module")
def f3():
    return fig3.compute(quick=True)


@pytest.fixture(scope="module")
def f4():
    return fig4.compute(quick=True)


@pytest.fixture(scope="module")
def f13():
    return fig13.compute(quick=True)


@pytest.fixture(scope="module")
def f5():
    return fig5.compute(quick=True)


# --------------------------------------------------------------------------------------
# Fig. 3


def nbinom_capped_mean(steps, m, q):
    """E[min(T, K)] for T = trials to the m-th success, by summing scipy's pmf (Eq. 23)."""
    kmax = int(np.max(steps))
    t = np.arange(m, max(kmax, m) + 1)
    pmf = stats.nbinom.pmf(t - m, m, q)  # scipy counts failures before the m-th success
    partial = np.concatenate([np.zeros(m), np.cumsum(t * pmf)])  # index K -> sum_{t<=K}
    k = np.asarray(steps, int)
    tail = np.where(k >= m, stats.nbinom.sf(k - m, m, q), 1.0)  # P(T > K)
    return partial[k] + k * tail


@pytest.mark.parametrize("panel", [0, 1])
def test_fig3_exact_matches_negative_binomial_sum(f3, panel):
    p = f3["panels"][panel]
    budget = np.asarray(p["budget"])
    steps = budget / p["omega"]
    assert np.allclose(steps, np.round(steps))  # whole steps, where Eq. 23 is defined
    ref = p["omega"] * nbinom_capped_mean(np.round(steps), p["m"], p["q"])
    np.testing.assert_allclose(p["exact"], ref, rtol=1e-9)


@pytest.mark.parametrize("panel", [0, 1])
def test_fig3_limits_and_mu(f3, panel):
    p = f3["panels"][panel]
    budget, exact = np.asarray(p["budget"]), np.asarray(p["exact"])
    assert p["mu"] == pytest.approx(p["omega"] * p["m"] / p["q"])
    assert budget.min() < p["mu"] / 20 and budget.max() > 20 * p["mu"]
    # Small budgets: the whole budget is spent (Eq. 25); exactly so below m steps.
    short = budget < p["m"] * p["omega"]
    np.testing.assert_allclose(exact[short], budget[short], rtol=1e-12)
    small = budget < p["mu"] / 10
    assert np.all(exact[small] / budget[small] > 0.999)
    # Large budgets: the uncapped mean omega m / q (Eq. 24).
    assert exact[-1] == pytest.approx(p["mu"], rel=1e-8)
    # Capping never adds tokens: E[min(T, K)] <= min(E[T], K) (min is concave).
    assert np.all(exact <= np.minimum(budget, p["mu"]) * (1 + 1e-12))
    assert np.all(np.diff(exact) >= 0)


@pytest.mark.parametrize("panel", [0, 1])
def test_fig3_approximations_match_eq26_eq27(f3, panel):
    p = f3["panels"][panel]
    budget, q, m, w, zs = np.asarray(p["budget"]), p["q"], p["m"], p["omega"], f3["z_star"]
    mu = w * m / q
    sig = w * np.sqrt(m * (1 - q)) / q
    z = (budget - mu) / sig
    mid = mu * stats.norm.cdf(z) + budget * stats.norm.sf(z) - sig * stats.norm.pdf(z)
    ref = np.where(z < -zs, budget, np.where(z > zs, mu, mid))
    np.testing.assert_allclose(p["gaussian"], ref, rtol=1e-10)
    np.testing.assert_allclose(p["linear"], np.minimum(mu, budget), rtol=1e-12)
    # "approximations preserve key trends": both within 20% of exact everywhere, and the
    # linear-Gaussian one within 3% (Fig. 3's lower panels).
    exact = np.asarray(p["exact"])
    assert np.max(np.abs(np.asarray(p["linear"]) / exact - 1)) < 0.2
    assert np.max(np.abs(np.asarray(p["gaussian"]) / exact - 1)) < 0.03


# --------------------------------------------------------------------------------------
# Fig. 4: Table I / App. A-B costs by hand


def cot_flops_by_hand(omega_tokens):
    w = omega_tokens
    return 2 * N * w + 2 * N_LAYER * D_ATTN * (PROMPT**2 + PROMPT * w + 0.5 * w**2)


def tot_flops_by_hand(omega_tokens, b):
    w = omega_tokens
    attn = 2 * N_LAYER * D_ATTN * (PROMPT**2 + PROMPT * w + w**2 / (2 * b))
    logits = w + w * (b - 1) / (b * OMEGA)  # App. A-B logit accumulation + branching
    return 2 * N * w + attn + logits


def test_fig4_compute_axis_is_eq28(f4):
    assert f4["arch"] == dict(
        n_params=N, n_layer=N_LAYER, d_attn=D_ATTN, prompt_tokens=PROMPT, omega=OMEGA
    )
    np.testing.assert_allclose(f4["flops"], cot_flops_by_hand(np.asarray(f4["cot_budget"])))


@pytest.mark.parametrize("b", [2, 4, 8, 16])
def test_fig4_equal_total_flops(f4, b):
    cot = np.asarray(f4["cot_budget"])
    tot = np.asarray(f4["tot_budget"][str(b)])
    # rtol 1e-13 is far below the logit terms' share (~1e-10), so dropping them fails.
    np.testing.assert_allclose(tot_flops_by_hand(tot, b), cot_flops_by_hand(cot), rtol=1e-13)


@pytest.mark.parametrize("b", [2, 4, 8, 16])
def test_fig4_ratio_tends_to_sqrt_b(f4, b):
    ratio = np.asarray(f4["tot_budget"][str(b)]) / np.asarray(f4["cot_budget"])
    assert ratio[-1] == pytest.approx(np.sqrt(b), rel=1e-3)  # Eq. 39, attention-dominated
    assert ratio[0] == pytest.approx(1.0, abs=1e-3)  # parameter-dominated: same tokens
    assert np.all(np.diff(ratio) > -1e-12) and np.all(ratio < np.sqrt(b))


# --------------------------------------------------------------------------------------
# Fig. 5 / 13: success maps vs scipy.special.betainc


def tot_budget_by_hand(cot_budget, b):
    """Positive root of C_ToT(Omega_T) = C_CoT(Omega_CoT), from the hand-written costs."""
    a2 = 2 * N_LAYER * D_ATTN / (2 * b)
    a1 = 2 * N + 2 * N_LAYER * D_ATTN * PROMPT + 1 + (b - 1) / (b * OMEGA)
    c = cot_flops_by_hand(cot_budget) - 2 * N_LAYER * D_ATTN * PROMPT**2
    return 2 * c / (a1 + np.sqrt(a1**2 + 4 * a2 * c))


def chain_success_ref(x, m, steps):
    """I_x(m, steps - m + 1), zero where fewer than m steps fit (scipy)."""
    n = steps - m + 1
    return np.where(n > 0, special.betainc(m, np.where(n > 0, n, 1.0), x), 0.0)


def references(data):
    q = np.asarray(data["q"])[:, None]
    cot_budget = np.asarray(data["cot_budget"])[None, :]
    out = {}
    for j, m in enumerate(data["m"]):
        # Whole steps, as the floors of Eq. 29.
        out.setdefault("CoT", []).append(chain_success_ref(q, m, np.floor(cot_budget / OMEGA)))
        for b in data["branching"]:
            x = 1.0 - (1.0 - q) ** b
            steps = np.floor(tot_budget_by_hand(cot_budget, b) / (b * OMEGA))
            out.setdefault(f"ToT({b})", []).append(chain_success_ref(x, m, steps))
    return {k: np.stack(v) for k, v in out.items()}


def test_fig13_success_matches_scipy(f13):
    assert f13["branching"] == [4, 16] and f13["arch"]["omega"] == OMEGA
    ref = references(f13)
    assert set(f13["success"]) == {"CoT", "ToT(4)", "ToT(16)"}
    for name, val in f13["success"].items():
        np.testing.assert_allclose(val, ref[name], rtol=1e-8, atol=1e-12, err_msg=name)
    for b in f13["branching"]:
        np.testing.assert_allclose(
            f13["tot_budget"][str(b)], tot_budget_by_hand(np.asarray(f13["cot_budget"]), b)
        )


def test_fig13_feasibility_lines(f13):
    """Left of a strategy's dashed line it cannot finish; at q = 1 it succeeds right of it."""
    x = np.asarray(f13["cot_budget"])
    q = np.asarray(f13["q"])
    assert q[-1] == 1.0
    for name, lines in f13["feasible_cot_budget"].items():
        for j, m in enumerate(f13["m"]):
            if name == "CoT":
                assert lines[j] == pytest.approx(m * OMEGA)
            else:
                b = int(name[4:-1])
                assert tot_budget_by_hand(lines[j], b) == pytest.approx(b * m * OMEGA, rel=1e-9)
            succ = np.asarray(f13["success"][name][j])
            assert np.all(succ[:, x < lines[j] * (1 - 1e-9)] == 0.0)
            assert np.all(succ[-1, x > lines[j] * (1 + 1e-9)] == pytest.approx(1.0))


def test_fig5_difference_and_caption_signs(f5):
    ref = references(f5)
    q = np.asarray(f5["q"])
    low, high = q <= 0.01, q >= 0.9
    assert low.sum() >= 3 and high.sum() >= 1
    for b in f5["branching"]:
        diff = np.asarray(f5["difference"][str(b)])
        np.testing.assert_allclose(diff, ref[f"ToT({b})"] - ref["CoT"], rtol=1e-8, atol=1e-12)
        for j, m in enumerate(f5["m"]):
            d = diff[j]
            # "ToT(1) is preferred at low success probabilities ...": a large ToT(1) edge.
            # For m = 2 CoT keeps a small edge at small budgets, where parameter FLOPs
            # dominate and equal compute means nearly equal tokens (Fig. 4).
            assert d[low].max() > 0.25, (b, m)
            assert -d[low].min() < 0.2 * d[low].max(), (b, m)
            if m >= 8:
                assert d[low].min() > -1e-3, (b, m)
            # "... CoT at high probabilities".
            assert d[high].min() < -0.5, (b, m)
            assert d[high].max() < 1e-9, (b, m)
            # Near-equal (white) at large budgets, where both strategies succeed.
            assert np.all(np.abs(d[:, -1]) < 1e-6)
