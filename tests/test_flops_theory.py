"""Table I compute terms, equal-compute budgets (Fig. 4, Eq. 39) and the theory results."""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy import optimize

from ds3jax._flops import (
    equal_compute_tokens,
    flops_coefficients,
    inference_flops,
    tot_equal_compute_budget,
)
from ds3jax._strategies import BestOfN, CoT, MajorityVote, ToT
from ds3jax._theory import (
    amplification,
    critical_depth,
    crossover_epsilon,
    equal_compute_success,
    low_capability_ratio,
    low_capability_success,
    max_amplification,
)

ARCH = dict(n_layer=96, d_attn=12288, prompt_tokens=200)  # App. A-B
N = 1e10


def table1(strategy_row, tokens, k=1, b=1):
    """Table I written out by hand: 2 N W + 2 n_l d (P_k P^2 + P W + W^2 / (2 L))."""
    nl, d, P = ARCH["n_layer"], ARCH["d_attn"], ARCH["prompt_tokens"]
    prompts, chains = {"cot": (1, 1), "tot": (1, b), "bon": (k, k), "bon_tot": (k, b * k)}[
        strategy_row
    ]
    return 2 * N * tokens + 2 * nl * d * (prompts * P**2 + P * tokens + tokens**2 / (2 * chains))


@pytest.mark.parametrize(
    "strategy,row,k,b",
    [
        (CoT(), "cot", 1, 1),
        (ToT(4), "tot", 1, 4),
        (BestOfN(8), "bon", 8, 1),
        (BestOfN(8, ToT(2)), "bon_tot", 8, 2),
        (MajorityVote(16, CoT(), [1.0]), "bon", 16, 1),
    ],
)
def test_table1_param_and_attention_terms(strategy, row, k, b):
    tokens = np.array([0.0, 1e3, 1e5, 1e7])
    got = np.asarray(inference_flops(strategy, tokens, N, **ARCH))
    np.testing.assert_allclose(got, table1(row, tokens, k, b), rtol=1e-14)
    # attention off: only 2 N Omega (Eq. 28-37 with n_layer = 0)
    np.testing.assert_allclose(inference_flops(strategy, tokens, N), 2 * N * tokens, rtol=1e-15)


def test_evaluation_terms_table1_note_c_and_app_ab():
    W, omega = 1e5, 25.0
    base = lambda s: float(inference_flops(s, W, N, **ARCH, omega=omega))
    with_eval = lambda s: float(inference_flops(s, W, N, **ARCH, include_eval=True, omega=omega))
    assert with_eval(CoT()) == base(CoT())
    b = 4  # logits of every token + (b - 1) comparisons per branching step
    assert with_eval(ToT(b)) - base(ToT(b)) == pytest.approx(W + (b - 1) * W / (b * omega))
    assert with_eval(BestOfN(8)) - base(BestOfN(8)) == pytest.approx(W + 8)
    assert with_eval(MajorityVote(8, CoT(), [1.0])) - base(MajorityVote(8, CoT(), [1.0])) == 8


def test_mixture_costs_sum_members():
    W = 1e5
    mix = BestOfN(2, (CoT(), ToT(4)), shares=[0.25, 0.75])
    want = float(inference_flops(CoT(), 0.25 * W, N, **ARCH)) + float(
        inference_flops(ToT(4), 0.75 * W, N, **ARCH)
    )
    assert float(inference_flops(mix, W, N, **ARCH)) == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("b", [2, 4, 16])
def test_tot_equal_compute_budget_solves_eq28_eq31(b):
    cot = np.logspace(1, 9, 9)
    tot = np.asarray(tot_equal_compute_budget(cot, b, N, **ARCH, omega=25.0))
    for c_budget, t_budget in zip(cot, tot):
        target = float(inference_flops(CoT(), c_budget, N, **ARCH))
        f = lambda w: float(inference_flops(ToT(b), w, N, **ARCH, include_eval=True)) - target
        root = optimize.brentq(f, 0.0, 10 * np.sqrt(b) * c_budget, xtol=1e-12, rtol=1e-14)
        assert t_budget == pytest.approx(root, rel=1e-10)
    # Eq. 39: the ratio tends to sqrt(b) once the quadratic attention term dominates.
    assert tot[-1] / cot[-1] == pytest.approx(np.sqrt(b), rel=1e-3)
    assert tot[0] / cot[0] < 1.01  # parameter cost dominates small budgets: ratio ~ 1


def test_equal_compute_tokens_is_differentiable_and_general():
    g = jax.grad(lambda w: equal_compute_tokens(CoT(), w, BestOfN(8), N, **ARCH))(1e6)
    a2, a1, _ = flops_coefficients(BestOfN(8), N, **ARCH)
    w8 = float(equal_compute_tokens(CoT(), 1e6, BestOfN(8), N, **ARCH))
    dc = float(jax.grad(lambda w: inference_flops(CoT(), w, N, **ARCH))(1e6))
    assert float(g) == pytest.approx(dc / (2 * a2 * w8 + a1), rel=1e-10)


# ------------------------------------------------------------------------------ theory


@pytest.mark.parametrize("b,m", [(2, 1), (4, 2), (4, 5), (16, 3)])
def test_theorem1_low_capability_ratio(b, m):
    # eps -> 0 with Omega / (sqrt(b) omega) >> m: psi^(b) / psi^(1) -> b^(m/2) (App. A-A).
    eps, omega = 1e-9, 1.0
    budget = 2e4 * m * np.sqrt(b)
    ratio = float(equal_compute_success(eps, m, budget, omega, b)) / float(
        equal_compute_success(eps, m, budget, omega, 1)
    )
    assert ratio == pytest.approx(float(low_capability_ratio(b, m)), rel=1e-2)
    # and the absolute leading term (eps Omega / omega)^m / m! b^(m/2)
    lead = float(low_capability_success(eps, m, budget, omega, b))
    assert float(equal_compute_success(eps, m, budget, omega, b)) == pytest.approx(lead, rel=1e-2)


def test_theorem1_high_capability_cot_optimal():
    # eps -> 1: psi^(b) -> 1 iff Omega >= sqrt(b) m omega, so CoT needs the fewest tokens.
    m, omega = 10, 25.0
    budget = 1.5 * m * omega
    assert float(equal_compute_success(1 - 1e-12, m, budget, omega, 1)) == pytest.approx(1.0)
    assert float(equal_compute_success(1 - 1e-12, m, budget, omega, 4)) == 0.0


def _delta_mpmath(eps, m, b, c):
    mpmath.mp.dps = 50
    eps = mpmath.mpf(eps)
    steps = c * m
    cot = mpmath.betainc(m, steps - m + 1, 0, eps, regularized=True)
    x = 1 - (1 - eps) ** b
    tot = mpmath.betainc(m, steps / mpmath.sqrt(b) - m + 1, 0, x, regularized=True)
    return tot - cot


@pytest.mark.parametrize("b,f,ms", [(2, 1.25, [5, 100]), (4, 1.05, [5, 30]), (16, 1.05, [10, 100])])
def test_conjecture1_crossover_is_a_sign_change(b, f, ms):
    c = f * np.sqrt(b)
    eps_star = np.asarray(jax.jit(lambda m: crossover_epsilon(m, b, c))(jnp.array(ms, float)))
    assert np.all(np.isfinite(eps_star)) and np.all((eps_star > 0) & (eps_star < 1))
    for m, e in zip(ms, eps_star):
        # independent high-precision evaluation of Delta on both sides of the root
        assert _delta_mpmath(e * (1 - 1e-7), m, b, c) > 0
        assert _delta_mpmath(e * (1 + 1e-7), m, b, c) < 0


def test_conjecture1_no_crossover_is_nan():
    # c = 2 sqrt(b), m = 2: ToT(b) wins for every eps (checked with mpmath), so no root.
    b, c = 16, 8.0
    assert np.isnan(float(crossover_epsilon(2.0, b, c)))
    for e in [1e-3, 0.3, 0.9, 0.99]:
        assert _delta_mpmath(e, 2, b, c) > 0


def test_theorem2_g_and_critical_depth():
    r = np.array([0.01, 0.05, 0.1, 0.2, 0.3, 0.45])
    g = np.asarray(max_amplification(r))
    np.testing.assert_allclose(g, (1 / r - 1) * (1 - r) ** (1 / r - 2), rtol=1e-13)
    assert np.all(np.diff(g) < 0) and float(max_amplification(0.5)) == 1.0
    assert float(max_amplification(0.7)) == 1.0 and float(max_amplification(1e-6)) > 1e5
    # the limits at the ends (NaN before): g(0) = inf; A(1, r) = 1 for every r, also r = 1
    assert float(max_amplification(0.0)) == np.inf
    assert float(amplification(1.0, 1.0)) == 1.0
    assert float(jax.grad(lambda r: amplification(1.0, r))(1.0)) == 0.0
    # where t* = 1/r - 1 is an integer it maximises A(t, r) over integers (ties with t* + 1)
    for inv in [3, 5, 10, 40]:
        rr = 1.0 / inv
        ts = np.arange(1, 10 * inv)
        a = np.asarray(amplification(ts, rr))
        assert float(critical_depth(rr)) == pytest.approx(inv - 1)
        assert a.max() == pytest.approx(float(max_amplification(rr)), rel=1e-12)
        # the N-slope ratio max_t Delta(N, t) / Delta(N, 1) = g(r)
        assert a.max() / float(amplification(1, rr)) == pytest.approx(float(max_amplification(rr)))
    assert np.isfinite(float(jax.grad(max_amplification)(0.1)))
    # r is a per-step probability: outside [0, 1] these were NaN, or a negative depth, or
    # g = 1 (r = 1.5); the leading term of App. A-A gave psi = 562 for eps = 1.5
    for f in (max_amplification, critical_depth, lambda r: amplification(3, r)):
        for bad in (1.5, -0.5, np.nan):
            with pytest.raises(ValueError, match=r"r must be in \[0, 1\]"):
                f(bad)
    with pytest.raises(ValueError, match=r"eps must be in \[0, 1\]"):
        low_capability_success(1.5, 3, 100.0, 10.0)


def test_flops_validation():
    with pytest.raises(ValueError, match="tokens"):
        inference_flops(CoT(), -1.0, N)
    with pytest.raises(ValueError, match="strategy"):
        inference_flops("cot", 1.0, N)


def test_equal_compute_tokens_edge_derivative_and_huge_budgets():
    kw = dict(n_layer=96, d_attn=12288)
    f = lambda x: equal_compute_tokens(CoT(), x, ToT(3), 1e10, **kw)  # noqa: E731
    # at zero tokens the one-sided derivative (tokens cannot be negative): jnp.maximum's tie
    # halved it to 0.5
    h = 1e-3
    one_sided = float((f(h) - f(0.0)) / h)
    assert float(jax.grad(f)(0.0)) == pytest.approx(one_sided, rel=1e-6)
    # beyond ~1e148 tokens 4 a2 c overflowed and the root came out 0; the ratio tends to
    # sqrt(b) (Eq. 39)
    big = float(tot_equal_compute_budget(1e150, 3, 1e10, prompt_tokens=200, **kw))
    assert big / 1e150 == pytest.approx(np.sqrt(3.0), rel=1e-12)
    g = float(
        jax.grad(lambda x: tot_equal_compute_budget(x, 3, 1e10, prompt_tokens=200, **kw))(1e150)
    )
    assert g == pytest.approx(np.sqrt(3.0), rel=1e-10)


def test_flop_inputs_are_checked():
    for kw, msg in (
        ({"n_layer": -1}, "n_layer"),
        ({"d_attn": np.nan}, "d_attn"),
        ({"prompt_tokens": -5.0}, "prompt_tokens"),
        ({"omega": 0.0, "include_eval": True}, "omega"),
    ):
        with pytest.raises(ValueError, match=msg):
            inference_flops(ToT(3), 10.0, 1e10, **kw)
    with pytest.raises(ValueError, match="n_params"):
        flops_coefficients(CoT(), -1e10)
    # a list of token counts is an array like any other: 2 N Omega each
    np.testing.assert_allclose(np.asarray(inference_flops(CoT(), [1.0, 2.0], 1e10)), [2e10, 4e10])
