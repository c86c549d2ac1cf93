"""The DS3 walk simulator against the closed forms (4 standard errors) and exact identities."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ds3jax._flops import inference_flops
from ds3jax._strategies import BestOfN, CoT, MajorityVote, ToT, expected_tokens, success
from ds3jax.simulate import fatigue_decay, simulate

OMEGA = 25
SMALL_Q = dict(n_relevant=10, delta=0.1, p=0.5)  # iota_hat = 0.19, q = 0.095
LARGE_Q = dict(n_relevant=5, delta=0.8, p=0.9)  # iota_hat = 0.84, q = 0.756


def q_of(regime):
    M, d, p = regime["n_relevant"], regime["delta"], regime["p"]
    return (d + (1 - d) / M) * p


def width(s):
    base = s.base if isinstance(s, (BestOfN, MajorityVote)) else s
    return base.branching if isinstance(base, ToT) else 1


def copies(s):
    return s.k if isinstance(s, (BestOfN, MajorityVote)) else 1


def check_against_closed_form(strategy, regime, m, rounds, n_trials, seed):
    """Budget = rounds full steps per trace, so floors and continuous budgets agree."""
    budget = float(OMEGA * width(strategy) * copies(strategy) * rounds)
    q = q_of(regime)
    res = simulate(
        strategy, jax.random.key(seed), m=m, budget=budget, omega=OMEGA, n_trials=n_trials, **regime
    )
    psi = float(success(strategy, q, m, budget, OMEGA))
    se = np.sqrt(max(psi * (1 - psi), 1e-12) / n_trials)
    got = float(res.success.mean())
    assert abs(got - psi) <= 4 * se + 1e-9, (strategy, m, rounds, got, psi, se)
    tok = float(expected_tokens(strategy, q, m, budget, OMEGA))
    tok_mean = float(res.tokens.mean())
    tok_se = float(res.tokens.std()) / np.sqrt(n_trials)
    assert abs(tok_mean - tok) <= 4 * tok_se + 1e-9 * tok, (strategy, m, tok_mean, tok, tok_se)


FAST_GRID = [
    (CoT(), SMALL_Q, 5, 40),
    (CoT(), LARGE_Q, 100, 140),
    (ToT(4), SMALL_Q, 5, 20),
    (ToT(16), LARGE_Q, 20, 21),
    (BestOfN(8), SMALL_Q, 3, 30),
    (BestOfN(64, ToT(2)), LARGE_Q, 5, 6),
    (MajorityVote(8, CoT(), [0.6, 0.3, 0.1]), SMALL_Q, 2, 25),
    (BestOfN(3, (CoT(), ToT(2), ToT(4))), SMALL_Q, 2, 12),
]


@pytest.mark.parametrize("strategy,regime,m,rounds", FAST_GRID)
def test_closed_forms_match_simulation(strategy, regime, m, rounds):
    if isinstance(strategy, BestOfN) and isinstance(strategy.base, tuple):
        # Mixture: equal shares of a budget that gives every member whole steps.
        budget = float(OMEGA * 3 * 4 * rounds)
        q = q_of(regime)
        res = simulate(
            strategy, jax.random.key(1), m=m, budget=budget, omega=OMEGA, n_trials=20_000, **regime
        )
        psi = float(success(strategy, q, m, budget, OMEGA))
        se = np.sqrt(psi * (1 - psi) / 20_000)
        assert abs(float(res.success.mean()) - psi) <= 4 * se
        tok = float(expected_tokens(strategy, q, m, budget, OMEGA))
        assert abs(float(res.tokens.mean()) - tok) <= 4 * float(res.tokens.std()) / np.sqrt(2e4)
        return
    check_against_closed_form(strategy, regime, m, rounds, n_trials=20_000, seed=0)


def _full_grid():
    out = []
    for regime, ms in ((SMALL_Q, [1, 5, 20]), (LARGE_Q, [1, 5, 20, 100])):
        q = q_of(regime)
        for m in ms:
            for factor in (0.8, 3.0):  # tight and loose budgets around m / q steps
                steps = max(m, int(np.ceil(factor * m / q)))
                out.append((CoT(), regime, m, steps))
                for b in (2, 4, 16):
                    x = 1 - (1 - q) ** b
                    out.append((ToT(b), regime, m, max(m, int(np.ceil(factor * m / x)))))
                for k in (1, 8, 64):
                    if m * k <= 400:
                        out.append((BestOfN(k), regime, m, steps))
                        out.append((MajorityVote(k, CoT(), [0.5, 0.25, 0.25]), regime, m, steps))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("strategy,regime,m,rounds", _full_grid())
def test_closed_forms_match_simulation_full_grid(strategy, regime, m, rounds):
    check_against_closed_form(strategy, regime, m, rounds, n_trials=4_000, seed=7)


def test_directionality_iota_hat():
    # One step, one skill: success = iota_hat * p with iota_hat = delta + (1 - delta) / M.
    for M, delta, p in [(4, 0.0, 1.0), (10, 0.5, 0.8), (50, 0.9, 0.5)]:
        res = simulate(
            CoT(),
            jax.random.key(M),
            m=1,
            budget=OMEGA,
            omega=OMEGA,
            n_relevant=M,
            delta=delta,
            p=p,
            n_trials=40_000,
        )
        want = (delta + (1 - delta) / M) * p
        se = np.sqrt(want * (1 - want) / 40_000)
        assert abs(float(res.success.mean()) - want) <= 4 * se


def test_fatigue_complete_sec_2f():
    # r_1 = iota_hat p at the first step and 0 afterwards: CoT succeeds with r_1 whatever
    # its budget, b parallel one-step traces with 1 - (1 - r_1)^b (Sec. II-F).
    regime = dict(n_relevant=10, delta=0.2, p=0.5)
    r1 = q_of(regime)
    decay = fatigue_decay(64, "complete")
    n = 40_000
    cot = simulate(
        CoT(),
        jax.random.key(3),
        m=1,
        budget=8 * OMEGA,
        omega=OMEGA,
        step_decay=decay,
        n_trials=n,
        **regime,
    )
    assert abs(float(cot.success.mean()) - r1) <= 4 * np.sqrt(r1 * (1 - r1) / n)
    for s in (BestOfN(8), ToT(8)):
        res = simulate(
            s,
            jax.random.key(4),
            m=1,
            budget=8 * OMEGA,
            omega=OMEGA,
            step_decay=decay,
            n_trials=n,
            **regime,
        )
        want = 1 - (1 - r1) ** 8
        assert abs(float(res.success.mean()) - want) <= 4 * np.sqrt(want * (1 - want) / n)
    # Without fatigue the sequential chain is better for the same tokens (Sec. II-F).
    fresh = float(success(CoT(), r1, 1, 8 * OMEGA, OMEGA))
    assert fresh > 1 - (1 - r1) ** 8 - 1e-12


def test_fatigue_geometric_has_no_table1_form_but_matches_its_product():
    # m = 1, execution probability p * rate^t: P(success in K steps) = 1 - prod (1 - q_t).
    regime = dict(n_relevant=8, delta=0.5, p=0.6)
    q = q_of(regime)
    K, rate, n = 12, 0.8, 40_000
    res = simulate(
        CoT(),
        jax.random.key(5),
        m=1,
        budget=K * OMEGA,
        omega=OMEGA,
        step_decay=fatigue_decay(K, "geometric", rate),
        n_trials=n,
        **regime,
    )
    want = 1 - np.prod(1 - q * rate ** np.arange(K))
    assert abs(float(res.success.mean()) - want) <= 4 * np.sqrt(want * (1 - want) / n)
    assert want < float(success(CoT(), q, 1, K * OMEGA, OMEGA))  # fatigue hurts the chain


ARCH = dict(n_params=1e9, n_layer=24, d_attn=2048, prompt_tokens=200)


@pytest.mark.parametrize(
    "strategy",
    [CoT(), ToT(4), BestOfN(8), BestOfN(4, ToT(2)), MajorityVote(8, ToT(2), [1.0])],
    ids=lambda s: type(s).__name__,
)
@pytest.mark.parametrize("include_eval", [False, True])
def test_flops_follow_eq18_token_by_token(strategy, include_eval):
    # delta = p = 1: every step succeeds, so tokens are deterministic: m steps per trace.
    m = 7
    budget = float(OMEGA * width(strategy) * copies(strategy) * 3 * m)
    res = simulate(
        strategy,
        jax.random.key(0),
        m=m,
        budget=budget,
        omega=OMEGA,
        n_relevant=5,
        delta=1.0,
        p=1.0,
        n_trials=16,
        include_eval=include_eval,
        **ARCH,
    )
    tokens = OMEGA * width(strategy) * copies(strategy) * m
    np.testing.assert_array_equal(np.asarray(res.tokens), tokens)
    np.testing.assert_array_equal(np.asarray(res.success), 1.0)
    table = float(
        inference_flops(
            strategy,
            tokens,
            ARCH["n_params"],
            n_layer=ARCH["n_layer"],
            d_attn=ARCH["d_attn"],
            prompt_tokens=ARCH["prompt_tokens"],
            include_eval=include_eval,
            omega=OMEGA,
        )
    )
    # Eq. 18's token-by-token sum has Omega (Omega - 1) / 2 where Table I has Omega^2 / 2.
    discrete = table - ARCH["n_layer"] * ARCH["d_attn"] * tokens
    np.testing.assert_allclose(np.asarray(res.flops), discrete, rtol=1e-12)


def test_vmap_over_execution_probability():
    f = lambda p: simulate(
        CoT(),
        jax.random.key(0),
        m=2,
        budget=10 * OMEGA,
        omega=OMEGA,
        n_relevant=4,
        delta=0.5,
        p=p,
        n_trials=2000,
    ).success.mean()
    ps = jnp.array([0.0, 0.5, 1.0])
    out = np.asarray(jax.vmap(f)(ps))
    assert out[0] == 0.0 and out[2] >= out[1] > 0


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="m"):
        simulate(
            CoT(), jax.random.key(0), m=0, budget=100.0, omega=OMEGA, n_relevant=3, delta=0.5, p=0.5
        )
    with pytest.raises(ValueError, match="budget"):
        simulate(
            CoT(), jax.random.key(0), m=1, budget=-1.0, omega=OMEGA, n_relevant=3, delta=0.5, p=0.5
        )
    kw = dict(m=1, omega=OMEGA, n_relevant=3)
    # probabilities outside [0, 1] ran as if clipped (p = 1.5 solved more than p = 1 can)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        simulate(CoT(), jax.random.key(0), budget=100.0, delta=0.5, p=1.5, **kw)
    with pytest.raises(ValueError, match=r"delta must be in \[0, 1\]"):
        simulate(CoT(), jax.random.key(0), budget=100.0, delta=-0.1, p=0.5, **kw)
    # an infinite budget raised OverflowError; a huge one asked for terabytes of keys
    with pytest.raises(ValueError, match="budget must be a finite"):
        simulate(CoT(), jax.random.key(0), budget=float("inf"), delta=0.5, p=0.5, **kw)
    with pytest.raises(ValueError, match="steps per trace"):
        simulate(CoT(), jax.random.key(0), budget=1e12, delta=0.5, p=0.5, **kw)
    # p * d_t is the execution probability at step t: above 1 it ran as a sure success
    for decay in (np.full(20, 2.0), -np.ones(20)):
        with pytest.raises(ValueError, match=r"p \* step_decay must be in \[0, 1\]"):
            simulate(
                CoT(), jax.random.key(0), budget=100.0, delta=0.5, p=0.6, step_decay=decay, **kw
            )
    with pytest.raises(ValueError, match="n_params must be non-negative"):
        simulate(CoT(), jax.random.key(0), budget=100.0, delta=0.5, p=0.6, n_params=-1.0, **kw)
    # fatigue_decay(0) was an empty decay; a geometric rate above 1 raised p above 1
    with pytest.raises(ValueError, match="n_steps must be a positive"):
        fatigue_decay(0)
    for rate in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"rate must be in \[0, 1\]"):
            fatigue_decay(10, "geometric", rate)
