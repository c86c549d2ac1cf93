"""Loss laws (Eq. 1) and training-compute optima, against scipy minimisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize_scalar

from ds3jax._loss import (
    LossLaw,
    chinchilla_rule,
    loss,
    training_optimal,
    training_optimal_ratio,
)

PRESETS = {
    "hoffmann_rounded": (1.69, 406.4, 410.7, 0.34, 0.28),
    "hoffmann_unrounded": (1.6934, 406.4, 410.7, 0.33917, 0.28491),
    # Besiroglu et al. (2024), Table 1 (as in ../shared/data/README.md)
    "epoch_refit": (1.8172, 482.01, 2085.43, 0.3478, 0.3658),
}
BUDGETS = np.logspace(15, 28, 27)


def _restricted(params, C):
    """L along 6 N D = C as a function of u = log N, and its derivative (by hand)."""
    E, A, B, a, b = params

    def g(u):
        return E + A * np.exp(-a * u) + B * (C / 6.0) ** (-b) * np.exp(b * u)

    def dg(u):
        return -a * A * np.exp(-a * u) + b * B * (C / 6.0) ** (-b) * np.exp(b * u)

    return g, dg


def _scipy_optimum(params, C):
    g, dg = _restricted(params, C)
    # The stationarity condition of the 1-D problem solved to full precision in log N ...
    u = brentq(dg, 0.0, np.log(C), xtol=1e-15, rtol=1e-15, maxiter=500)
    # ... and a derivative-free minimisation of the same function as a cross-check.
    res = minimize_scalar(
        g, bounds=(0.0, np.log(C / 6.0)), method="bounded", options={"xatol": 1e-10}
    )
    assert abs(res.x - u) < 1e-5
    N = np.exp(u)
    return N, C / (6.0 * N)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_values(name):
    law = getattr(LossLaw, name)()
    assert (law.E, law.A, law.B, law.alpha, law.beta) == PRESETS[name]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_training_optimal_matches_scipy(name):
    law = getattr(LossLaw, name)()
    opt = training_optimal(law, jnp.asarray(BUDGETS))
    for i, C in enumerate(BUDGETS):
        N_ref, D_ref = _scipy_optimum(PRESETS[name], C)
        assert float(opt.N[i]) == pytest.approx(N_ref, rel=1e-8)
        assert float(opt.D[i]) == pytest.approx(D_ref, rel=1e-8)
    np.testing.assert_allclose(6.0 * np.asarray(opt.N) * np.asarray(opt.D), BUDGETS, rtol=1e-13)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_documented_ratios(name):
    # The D/N table in LossLaw's docstring, recomputed from the scipy optimum.
    table = {
        "hoffmann_rounded": (25.7, 50.1, 97.7, 152.6),
        "hoffmann_unrounded": (18.6, 33.9, 61.8, 92.2),
        "epoch_refit": (25.7, 21.6, 18.1, 16.1),
    }[name]
    for C, documented in zip((1e18, 1e21, 1e24, 1e26), table):
        N_ref, D_ref = _scipy_optimum(PRESETS[name], C)
        assert round(D_ref / N_ref, 1) == documented
        assert float(training_optimal_ratio(getattr(LossLaw, name)(), C)) == pytest.approx(
            D_ref / N_ref, rel=1e-8
        )
    assert name + " " in LossLaw.__doc__


def test_rounded_optimum_far_from_chinchilla_rule():
    law = LossLaw.hoffmann_rounded()
    assert float(training_optimal_ratio(law, 1e24)) > 4 * 20


def test_loss_formula_and_broadcasting():
    law = LossLaw.hoffmann_rounded()
    N = np.array([1e8, 1e9, 1e10])[:, None]
    D = np.array([1e10, 1e12])
    ref = 1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28
    out = loss(law, N, D)
    assert out.shape == (3, 2)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-14)


def test_loss_gradients_analytic():
    law = LossLaw.hoffmann_unrounded()
    N, D = 3e9, 7e10
    gN, gD = jax.grad(loss, argnums=(1, 2))(law, N, D)
    assert float(gN) == pytest.approx(-0.33917 * 406.4 * N ** (-1.33917), rel=1e-13)
    assert float(gD) == pytest.approx(-0.28491 * 410.7 * D ** (-1.28491), rel=1e-13)
    # gradients with respect to the law's parameters (it is a pytree)
    g = jax.grad(lambda lw: loss(lw, N, D))(law)
    assert float(g.E) == 1.0
    assert float(g.A) == pytest.approx(N**-0.33917, rel=1e-13)
    assert float(g.alpha) == pytest.approx(-406.4 * np.log(N) * N**-0.33917, rel=1e-12)


def test_training_optimal_derivative_and_jit():
    law = LossLaw.hoffmann_rounded()
    dlogn = jax.grad(lambda lc: jnp.log(training_optimal(law, jnp.exp(lc)).N))(jnp.log(1e22))
    assert float(dlogn) == pytest.approx(0.28 / 0.62, rel=1e-13)
    f = jax.jit(jax.vmap(lambda c: training_optimal(law, c).D))
    np.testing.assert_allclose(
        np.asarray(f(jnp.asarray(BUDGETS))),
        np.asarray(training_optimal(law, BUDGETS).D),
        rtol=1e-14,
    )


def test_vectorised_over_laws():
    laws = LossLaw(
        E=jnp.array([1.69, 1.8172]),
        A=jnp.array([406.4, 482.01]),
        B=jnp.array([410.7, 2085.43]),
        alpha=jnp.array([0.34, 0.3478]),
        beta=jnp.array([0.28, 0.3658]),
    )
    r = training_optimal_ratio(laws, 1e21)
    assert float(r[0]) == pytest.approx(
        float(training_optimal_ratio(LossLaw.hoffmann_rounded(), 1e21)), rel=1e-14
    )
    assert float(r[1]) == pytest.approx(
        float(training_optimal_ratio(LossLaw.epoch_refit(), 1e21)), rel=1e-14
    )


def test_chinchilla_rule():
    alloc = chinchilla_rule(BUDGETS)
    np.testing.assert_allclose(np.asarray(alloc.D / alloc.N), 20.0, rtol=1e-14)
    np.testing.assert_allclose(6 * np.asarray(alloc.N * alloc.D), BUDGETS, rtol=1e-14)
    alloc5 = chinchilla_rule(1e20, kappa=5.0)
    assert float(alloc5.D / alloc5.N) == pytest.approx(5.0, rel=1e-14)


@settings(max_examples=30, deadline=None)
@given(st.floats(15, 28), st.floats(-2, 3))
def test_optimum_beats_any_fixed_ratio(log_c, log_kappa):
    law = LossLaw.epoch_refit()
    C = 10.0**log_c
    opt = training_optimal(law, C)
    other = chinchilla_rule(C, kappa=10.0**log_kappa)
    assert float(loss(law, opt.N, opt.D)) <= float(loss(law, other.N, other.D)) + 1e-12


def test_validation():
    with pytest.raises(ValueError, match="alpha"):
        LossLaw(E=1.0, A=1.0, B=1.0, alpha=-0.3, beta=0.3)
    with pytest.raises(ValueError, match="kappa"):
        chinchilla_rule(1e20, kappa=0.0)
    # budgets: NaN and negative ones gave NaN allocations silently
    law = LossLaw.hoffmann_rounded()
    for bad in (-1.0, np.nan, np.inf, [1e20, -1e20]):
        with pytest.raises(ValueError, match="C_tr must be positive and finite"):
            training_optimal(law, bad)
        with pytest.raises(ValueError, match="C_tr must be positive and finite"):
            chinchilla_rule(bad)
    # under jit the same call is not checked (and stays differentiable)
    assert np.isfinite(float(jax.jit(lambda c: training_optimal(law, c).N)(1e20)))
    # traced values are not validated (no error under jit)
    jax.jit(lambda e: loss(LossLaw(E=e, A=1.0, B=1.0, alpha=0.3, beta=0.3), 1e9, 1e9))(1.0)
