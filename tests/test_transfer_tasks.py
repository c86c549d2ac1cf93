"""Transfer (Eq. 2, 16, 64-66), task distributions and aggregates (Eq. 40-41, 53)."""

import importlib.util
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sc
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.stats import norm

from ds3jax._loss import LossLaw, loss
from ds3jax._tasks import (
    TaskGrid,
    expected_accuracy,
    log_expected_accuracy,
    per_task_success,
    task_average,
)
from ds3jax._transfer import (
    SigmoidTransfer,
    iota_hat,
    log_skill_probability,
    skill_probability,
    two_step_probability,
)
from ds3jax.special import betainc

HAVE_STRATEGIES = importlib.util.find_spec("ds3jax._strategies") is not None


def cot_callable(q, m, budget, omega):
    """CoT success I_q(m, T - m + 1), T = budget/omega, 0 where T - m + 1 <= 0 (Eq. 20)."""
    b = budget / omega - m + 1.0
    ok = b > 0
    return jnp.where(ok, betainc(jnp.where(ok, m, 1.0), jnp.where(ok, b, 1.0), q), 0.0)


def app_c():
    law = LossLaw.hoffmann_rounded()
    transfer = SigmoidTransfer(a=1.0, b=5.0, d=0.0)
    tasks = TaskGrid.product(jnp.linspace(0.1, 4.0, 8), jnp.arange(1, 51))
    return law, transfer, tasks


@jax.jit
def _app_c_accuracy(N, D, budget):
    law, transfer, tasks = app_c()
    return expected_accuracy(tasks, cot_callable, law, transfer, N, D, budget, 25.0)


def reference_accuracy(N, D, budget, omega=25.0, iota=1.0):
    """Explicit double loop over the 8 x 50 App. C tasks with scipy (Eq. 1, 2, 20, 40)."""
    L = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28
    total = 0.0
    for L0 in np.linspace(0.1, 4.0, 8):
        for m in range(1, 51):
            p = 1.0 / (1.0 + math.exp(-5.0 * (L0 - L)))
            b = budget / omega - m + 1.0
            psi = sc.betainc(m, b, iota * p) if b > 0 else 0.0
            total += psi / 400.0
    return total


# ------------------------------------------------------------------------------ transfer


def test_sigmoid_transfer_matches_formula():
    tr = SigmoidTransfer(a=0.8, b=3.0, d=0.1)
    L = np.linspace(1.5, 4.0, 7)[:, None]
    L0 = np.linspace(0.1, 4.0, 5)
    ref = 0.8 / (1.0 + np.exp(-3.0 * (L0 - L))) + 0.1
    np.testing.assert_allclose(np.asarray(skill_probability(tr, L, L0)), ref, rtol=1e-14)
    np.testing.assert_allclose(
        np.asarray(log_skill_probability(tr, L, L0)), np.log(ref), rtol=1e-13
    )


def test_log_skill_probability_in_the_underflow_tail():
    tr = SigmoidTransfer()
    # b (L0 - L) = -1000: p = e^-1000 / (1 + e^-1000) underflows, its log does not.
    lp = float(log_skill_probability(tr, 201.0, 1.0))
    assert lp == pytest.approx(-1000.0, rel=1e-15)
    assert float(skill_probability(tr, 201.0, 1.0)) == 0.0


def test_two_step_probability_app_c():
    law = LossLaw.hoffmann_rounded()
    N, D = 2e9, 4e10
    L = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28
    p = two_step_probability(law, SigmoidTransfer(1.0, 5.0, 0.0), N, D, 2.3)
    assert float(p) == pytest.approx(1 / (1 + math.exp(-5 * (2.3 - L))), rel=1e-14)


def test_iota_hat():
    assert float(iota_hat(1.0, 7)) == 1.0
    assert float(iota_hat(0.0, 8)) == 0.125
    # App. B: delta = 0.5, M = ceil(m (1 + beta)) with beta = 5, m = 3 -> M = 18
    assert float(iota_hat(0.5, 18)) == pytest.approx(0.5 + 0.5 / 18, rel=1e-15)
    np.testing.assert_allclose(
        np.asarray(iota_hat(jnp.array([0.2, 0.9]), jnp.array([[2.0], [10.0]]))),
        [[0.6, 0.95], [0.28, 0.91]],
        rtol=1e-14,
    )


def test_transfer_validation():
    with pytest.raises(ValueError, match="probability"):
        SigmoidTransfer(a=1.0, b=5.0, d=0.2)
    with pytest.raises(ValueError, match="delta"):
        iota_hat(1.5, 3)
    with pytest.raises(ValueError, match="M"):
        iota_hat(0.5, 0)


# ------------------------------------------------------------------------------ task grids


def test_product_grid_app_c():
    tasks = TaskGrid.product(jnp.linspace(0.1, 4.0, 8), jnp.arange(1, 51))
    assert tasks.n_tasks == 400
    assert float(jnp.sum(tasks.weight)) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(np.asarray(tasks.weight), 1 / 400, rtol=1e-14)
    # difficulty-major order
    assert float(tasks.difficulty[49]) == pytest.approx(0.1) and float(tasks.m[49]) == 50.0
    assert float(tasks.difficulty[50]) == pytest.approx(0.1 + 3.9 / 7)


def test_product_grid_weights():
    tasks = TaskGrid.product(
        [1.0, 2.0], [1, 2, 3], difficulty_weights=[1.0, 3.0], m_weights=[1, 1, 2]
    )
    np.testing.assert_allclose(
        np.asarray(tasks.weight), np.outer([0.25, 0.75], [0.25, 0.25, 0.5]).ravel(), rtol=1e-15
    )


def test_gaussian_mixture_moments_and_smooth_expectations():
    tasks = TaskGrid.gaussian_mixture([1, 100], [0.93, 0.07], [2.0, 1.2], [0.4, 0.25], n_nodes=80)
    assert tasks.n_tasks == 160
    w = np.asarray(tasks.weight)
    x = np.asarray(tasks.difficulty)
    m = np.asarray(tasks.m)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert (w[m == 1]).sum() == pytest.approx(0.93, abs=1e-14)
    # E[L0 | m = 1], Var[L0 | m = 100]
    sel = m == 1
    assert (w[sel] * x[sel]).sum() / 0.93 == pytest.approx(2.0, rel=1e-13)
    sel = m == 100
    mean = (w[sel] * x[sel]).sum() / 0.07
    assert (w[sel] * (x[sel] - mean) ** 2).sum() / 0.07 == pytest.approx(0.25**2, rel=1e-12)
    # a smooth non-polynomial expectation vs adaptive quadrature
    g = lambda v: sc.expit(5.0 * (v - 1.8))
    ref = (
        0.93 * quad(lambda v: g(v) * norm.pdf(v, 2.0, 0.4), -np.inf, np.inf)[0]
        + 0.07 * quad(lambda v: g(v) * norm.pdf(v, 1.2, 0.25), -np.inf, np.inf)[0]
    )
    assert (w * g(x)).sum() == pytest.approx(ref, rel=1e-8)


def test_gaussian_mixture_is_differentiable_in_its_parameters():
    def mean_l0(mu):
        t = TaskGrid.gaussian_mixture([1, 100], [0.93, 0.07], mu, [0.4, 0.25], n_nodes=8)
        return task_average(t, t.difficulty)

    g = jax.grad(mean_l0)(jnp.array([2.0, 1.2]))
    np.testing.assert_allclose(np.asarray(g), [0.93, 0.07], rtol=1e-13)


def test_mixture_and_validation():
    a = TaskGrid.from_tasks([1.0, 2.0], [3, 4])
    b = TaskGrid.from_tasks([5.0], [6])
    mix = TaskGrid.mixture([a, b], [0.25, 0.75])
    np.testing.assert_allclose(np.asarray(mix.weight), [0.125, 0.125, 0.75], rtol=1e-15)
    with pytest.raises(ValueError, match="m"):
        TaskGrid.from_tasks([1.0], [0])
    with pytest.raises(ValueError, match="weights"):
        TaskGrid.product([1.0], [1], m_weights=[-1.0])
    with pytest.raises(ValueError, match="stds"):
        TaskGrid.gaussian_mixture([1], [1.0], [2.0], [0.0])


# ------------------------------------------------------------------------------ aggregates

TRIPLES = [(2e9, 4e10, 500.0), (5e10, 1e12, 1000.0), (1e8, 5e9, 1250.0), (3e11, 6e12, 137.5)]


@pytest.mark.parametrize("N,D,budget", TRIPLES)
def test_expected_accuracy_equals_double_loop(N, D, budget):
    got = float(_app_c_accuracy(N, D, budget))
    assert got == pytest.approx(reference_accuracy(N, D, budget), rel=1e-10, abs=1e-15)


def test_expected_accuracy_vectorised_shapes_and_values():
    law, transfer, tasks = app_c()
    N = jnp.array([2e9, 5e10])[:, None]
    D = 20.0 * N
    budget = jnp.array([250.0, 500.0, 1000.0])
    f = jax.jit(
        lambda N, D, B: expected_accuracy(tasks, cot_callable, law, transfer, N, D, B, 25.0)
    )
    out = np.asarray(f(N, D, budget))
    assert out.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            ref = reference_accuracy(float(N[i, 0]), float(D[i, 0]), float(budget[j]))
            assert out[i, j] == pytest.approx(ref, rel=1e-10, abs=1e-15)
    # vmap over budgets equals broadcasting
    v = jax.jit(jax.vmap(lambda B: f(2e9, 4e10, B)))(budget)
    np.testing.assert_allclose(np.asarray(v), out[0], rtol=1e-13)


def test_per_task_success_and_iota_hat_per_task():
    law, transfer, tasks = app_c()
    iota = jnp.linspace(0.5, 1.0, 400)
    psi = per_task_success(tasks, cot_callable, law, transfer, 2e9, 4e10, 800.0, 25.0, iota)
    assert psi.shape == (400,)
    L = 1.69 + 406.4 / 2e9**0.34 + 410.7 / 4e10**0.28
    k = 123
    L0, m = float(tasks.difficulty[k]), float(tasks.m[k])
    p = 1 / (1 + math.exp(-5 * (L0 - L)))
    ref = sc.betainc(m, 800 / 25 - m + 1, float(iota[k]) * p)
    assert float(psi[k]) == pytest.approx(ref, rel=1e-10)


def test_gradients_in_N_and_D_match_finite_differences():
    law, transfer, tasks = app_c()

    def f(logN, logD):
        return expected_accuracy(
            tasks, cot_callable, law, transfer, jnp.exp(logN), jnp.exp(logD), 750.0, 25.0
        )

    x = (jnp.log(3e9), jnp.log(6e10))
    g = jax.jit(jax.grad(f, argnums=(0, 1)))(*x)
    h = 1e-5
    for i in range(2):
        xp = list(x)
        xm = list(x)
        xp[i] = xp[i] + h
        xm[i] = xm[i] - h
        fd = (
            reference_accuracy(*np.exp(np.array(xp, float)), 750.0)
            - reference_accuracy(*np.exp(np.array(xm, float)), 750.0)
        ) / (2 * h)
        assert float(g[i]) == pytest.approx(fd, rel=1e-6)


def test_gradient_in_budget_matches_finite_differences():
    g = float(jax.jit(jax.grad(_app_c_accuracy, argnums=2))(3e9, 6e10, 777.0))
    h = 1e-3
    fd = (reference_accuracy(3e9, 6e10, 777.0 + h) - reference_accuracy(3e9, 6e10, 777.0 - h)) / (
        2 * h
    )
    assert g == pytest.approx(fd, rel=1e-6)


def test_log_expected_accuracy_matches_log_for_callable():
    law, transfer, tasks = app_c()
    a = expected_accuracy(tasks, cot_callable, law, transfer, 2e9, 4e10, 500.0, 25.0)
    la = log_expected_accuracy(tasks, cot_callable, law, transfer, 2e9, 4e10, 500.0, 25.0)
    assert float(la) == pytest.approx(math.log(float(a)), rel=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.floats(8, 12), st.floats(1, 3))
def test_accuracy_monotone_in_budget(log_n, log_budget):
    N = 10.0**log_n
    b = 10.0**log_budget
    a1, a2 = np.asarray(_app_c_accuracy(N, 20 * N, jnp.array([b, 2 * b])))
    assert 0.0 <= a1 <= a2 + 1e-14 <= 1.0 + 1e-14


@pytest.mark.skipif(not HAVE_STRATEGIES, reason="ds3jax._strategies not available yet")
def test_strategy_value_equals_callable():
    from ds3jax._strategies import CoT

    law, transfer, tasks = app_c()
    for N, D, budget in TRIPLES:
        a = float(expected_accuracy(tasks, CoT(), law, transfer, N, D, budget, 25.0))
        assert a == pytest.approx(reference_accuracy(N, D, budget), rel=1e-9, abs=1e-15)


@pytest.mark.skipif(not HAVE_STRATEGIES, reason="ds3jax._strategies not available yet")
def test_log_expected_accuracy_with_strategy():
    from ds3jax._strategies import CoT

    law, transfer, tasks = app_c()
    f = lambda n, b: log_expected_accuracy(tasks, CoT(), law, transfer, n, 20 * n, b, 25.0)
    vg = jax.jit(jax.value_and_grad(f, argnums=(0, 1)))
    value, _ = vg(2e9, 500.0)
    assert float(value) == pytest.approx(math.log(reference_accuracy(2e9, 4e10, 500.0)), rel=1e-10)
    # finite gradients on the flat, nearly-unsolvable corner (most tasks infeasible)
    _, g = vg(1e6, 30.0)
    assert all(np.isfinite(float(v)) for v in g)


@pytest.mark.skipif(not HAVE_STRATEGIES, reason="ds3jax._strategies not available yet")
def test_expected_inference_tokens_equals_double_loop():
    from ds3jax._strategies import CoT, expected_tokens
    from ds3jax._tasks import expected_inference_compute, expected_inference_tokens

    law, transfer, tasks = app_c()
    N, D, budget = 2e9, 4e10, 500.0
    L = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28
    one_task = jax.jit(lambda p, m: expected_tokens(CoT(), p, m, budget, 25.0))
    ref = 0.0
    for L0 in np.linspace(0.1, 4.0, 8):
        for m in range(1, 51):
            p = 1.0 / (1.0 + math.exp(-5.0 * (L0 - L)))
            ref += float(one_task(p, float(m))) / 400.0
    got = float(expected_inference_tokens(tasks, CoT(), law, transfer, N, D, budget, 25.0))
    assert got == pytest.approx(ref, rel=1e-12)
    c = float(
        expected_inference_compute(tasks, CoT(), law, transfer, N, D, budget, 25.0, n_queries=1e9)
    )
    assert c == pytest.approx(2 * N * 1e9 * ref, rel=1e-12)


def test_log_skill_probability_derivatives_at_zero_floor_and_amplitude():
    # log p = log(a sigmoid(z) + d): d/dd = 1/p at d = 0 (it was 0), d/da = sigmoid(z)/p at
    # a = 0 (it was NaN from log a); the references are these hand-derived formulas
    import ds3jax

    sig = 1 / (1 + np.exp(-5.0 * (2.0 - 1.8)))
    f = lambda d: ds3jax.log_skill_probability(ds3jax.SigmoidTransfer(0.5, 5.0, d), 1.8, 2.0)  # noqa: E731
    assert float(jax.grad(f)(0.0)) == pytest.approx(1 / (0.5 * sig), rel=1e-12)
    g = lambda a: ds3jax.log_skill_probability(ds3jax.SigmoidTransfer(a, 5.0, 0.2), 1.8, 2.0)  # noqa: E731
    assert float(jax.grad(g)(0.0)) == pytest.approx(sig / 0.2, rel=1e-12)
    # values far out, against mpmath: p underflows to a floor of 1e-300, or the core alone
    import mpmath

    for a, d, L in ((1.0, 0.0, 300.0), (0.5, 1e-300, 300.0), (0.3, 0.2, -50.0), (0.9, 1e-5, 5.0)):
        t = ds3jax.SigmoidTransfer(a, 5.0, d)
        with mpmath.workdps(30):
            want = mpmath.log(a / (1 + mpmath.exp(-5 * (2 - mpmath.mpf(L)))) + d)
        assert float(ds3jax.log_skill_probability(t, L, 2.0)) == pytest.approx(
            float(want), rel=1e-14
        )
        gd = float(
            jax.grad(
                lambda dd, t=t, L=L: ds3jax.log_skill_probability(
                    ds3jax.SigmoidTransfer(a, 5.0, dd), L, 2.0
                )
            )(d)
        )
        assert np.isfinite(gd)
    with pytest.raises(ValueError, match="slope"):
        ds3jax.SigmoidTransfer(1.0, np.nan, 0.0)


def test_loss_derivatives_at_infinite_data():
    # the inference-only plane's D = inf: d L / d beta is 0 there (it was -inf * 0 = NaN, and
    # forward mode carried the NaN into every tangent); dL/dA = N^-alpha by hand
    law = LossLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
    g = jax.grad(lambda lw: loss(lw, 1e10, jnp.inf))(law)
    assert float(g.beta) == 0.0 and float(g.B) == 0.0
    assert float(g.A) == pytest.approx(1e10**-0.34, rel=1e-14)
    fwd = jax.jacfwd(
        lambda th: loss(LossLaw(E=1.69, A=th[0], B=410.7, alpha=0.34, beta=th[1]), 1e10, jnp.inf)
    )(jnp.array([406.4, 0.28]))
    np.testing.assert_allclose(np.asarray(fwd), [1e10**-0.34, 0.0], rtol=1e-14)
    assert float(loss(law, 0.0, 1e11)) == np.inf
    # NaN is a missing value, not infinite data
    assert np.isnan(float(loss(law, 1e9, np.nan))) and np.isnan(float(loss(law, np.nan, 1e10)))


def test_zero_task_weight_keeps_its_log_accuracy_derivative():
    import dataclasses

    from ds3jax._strategies import CoT
    from ds3jax._tasks import TaskGrid, expected_accuracy, log_expected_accuracy

    tz = TaskGrid.from_tasks([1.0, 3.0, 2.0], [1, 2, 3], [0.5, 0.5, 0.0])
    args = (CoT(), LossLaw.hoffmann_rounded(), SigmoidTransfer(), 1e9, 1e10, 500.0, 25.0)

    def f(w):
        return log_expected_accuracy(dataclasses.replace(tz, weight=w), *args)

    g = np.asarray(jax.grad(f)(tz.weight))
    assert np.all(np.isfinite(g))  # the third entry was NaN
    # d log(sum w psi) / d w_3 = psi_3 / Psi: one-sided difference of the plain average
    h = 1e-7
    up = dataclasses.replace(tz, weight=tz.weight + jnp.array([0.0, 0.0, h]))
    fd = (np.log(float(expected_accuracy(up, *args))) - float(f(tz.weight))) / h
    assert g[2] == pytest.approx(fd, rel=1e-5)


def test_task_grid_inputs_are_checked():
    from ds3jax._strategies import CoT
    from ds3jax._tasks import TaskGrid, expected_accuracy, expected_inference_compute

    g1, g2 = TaskGrid.from_tasks([1.0], [1]), TaskGrid.from_tasks([2.0], [1])
    tk = TaskGrid.product([1.0, 2.0], [1, 2])
    args = (CoT(), LossLaw.hoffmann_rounded(), SigmoidTransfer(), 1e9, 2e10, 500.0, 25.0)
    for call, msg in (
        (lambda: TaskGrid.mixture([g1, g2], [1, 1, 2]), "one weight per grid"),
        (lambda: TaskGrid.mixture([g1, g2], [0.2]), "one weight per grid"),
        (lambda: TaskGrid.product([1.0, 2.0, 3.0], [1, 2], difficulty_weights=[1.0]), "one weight"),
        (lambda: TaskGrid.from_tasks([np.nan, 1.0], [1, 2]), "difficulty"),
        (lambda: TaskGrid.from_tasks([1.0, 1.0], [1, np.inf]), "m"),
        (lambda: TaskGrid.gaussian_mixture([1], [1.0], [np.nan], [0.5]), "means"),
        (lambda: TaskGrid.gaussian_mixture([1], [1.0], [1.0], [0.5], n_nodes=True), "n_nodes"),
        (lambda: expected_inference_compute(tk, *args, n_queries=-1.0), "n_queries"),
        (lambda: expected_accuracy(tk, *args, iota_hat=1.5), "iota_hat"),
        (lambda: expected_accuracy(tk, *args, iota_hat=np.full(3, 0.5)), "iota_hat"),
    ):
        with pytest.raises(ValueError, match=msg):
            call()
