"""optim.solve_laws / optimum_bands / delta_method_bands against per-law optim.solve calls
and against each other (delta method vs bootstrap on a well-determined synthetic fit)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ds3jax
import optim

BUDGETS = np.logspace(20.0, 23.0, 4)


@pytest.fixture(scope="module")
def problem():
    tasks = ds3jax.TaskGrid.product(jnp.array([1.5, 2.5]), jnp.arange(1, 6))
    return optim.make_problem(
        ds3jax.LossLaw.epoch_refit(), ds3jax.SigmoidTransfer(1.0, 5.0, 0.0), tasks
    )


@pytest.fixture(scope="module")
def fit():
    rng = np.random.default_rng(5)
    N = 10 ** rng.uniform(7.5, 10.5, 400)
    D = 10 ** rng.uniform(9.0, 11.7, 400)
    L = np.asarray(ds3jax.loss(ds3jax.LossLaw.epoch_refit(), N, D))
    L = L * np.exp(0.003 * rng.standard_normal(400))
    starts = dict(e=(0.0, 1.0), a=(0.0, 5.0, 10.0), b=(0.0, 5.0, 10.0), alpha=(0.3,), beta=(0.3,))
    return ds3jax.fit_loss_law(N, D, L, starts=starts)


@pytest.mark.parametrize("plane", ["global", "chinchilla"])
def test_solve_laws_matches_one_solve_per_law(problem, fit, plane):
    import dataclasses

    boot = fit.bootstrap(2, jax.random.key(0))
    budgets = BUDGETS[:3]
    for method in ("warm", "gradient"):
        sol = optim.solve_laws(problem, boot.laws, budgets, plane, method=method, center=fit.law)
        assert sol.N.shape == (2, budgets.size)
        for i in range(2):
            ref = optim.solve(dataclasses.replace(problem, law=boot[i]), budgets, plane=plane)
            # never worse than the independent solve, and the same optimum
            assert np.all(np.asarray(sol.objective[i]) >= np.asarray(ref.objective) - 1e-9)
            np.testing.assert_allclose(sol.N[i], ref.N, rtol=1e-4)
            np.testing.assert_allclose(sol.value[i], ref.value, rtol=1e-7, atol=1e-12)


@pytest.mark.slow  # ~1 min on an idle 2-core CPU (compiles the solver's Jacobian twice)
def test_delta_method_agrees_with_bootstrap(problem, fit):
    import dataclasses

    budgets = BUDGETS[:3]  # at 1e23 the small task set saturates: the optimum is flat

    p = dataclasses.replace(problem, law=fit.law)
    boot = fit.bootstrap(80, jax.random.key(1))
    bb = optim.optimum_bands(p, boot.laws, budgets, level=0.9, center=fit.law, batch=40)
    dm = optim.delta_method_bands(p, fit.theta, fit.covariance, budgets, level=0.9)
    for name in ("N_global", "D_global", "Omega_global", "N_chinchilla"):
        # where the optimum is well determined (it moves with the law: not pinned where the
        # small task set saturates), the widths agree to within sampling error
        ok = bb.width(name) > 1e-3
        assert ok.sum() >= 2, (name, bb.width(name))
        np.testing.assert_allclose(dm.center[name][ok], bb.center[name][ok], rtol=1e-5)
        ratio = dm.width(name)[ok] / bb.width(name)[ok]
        assert np.all((ratio > 0.6) & (ratio < 1.6)), (name, ratio)
    for name in ("value_global", "accuracy_gap"):
        ratio = dm.width(name) / np.maximum(bb.width(name), 1e-300)
        ok = bb.width(name) > 1e-6  # where the band is not degenerate
        assert np.all((ratio[ok] > 0.5) & (ratio[ok] < 2.0)), (name, ratio)
    # compute-to-match: the constrained plane needs at least the budget itself
    m = np.isfinite(bb.samples["compute_to_match"])
    assert np.all(bb.samples["compute_to_match"][m] >= budgets[None, :].repeat(80, 0)[m] * 0.999)


def test_bands_reject_bad_input(problem, fit):
    boot = fit.bootstrap(2, jax.random.key(0))
    with pytest.raises(ValueError, match="increasing"):
        optim.optimum_bands(problem, boot.laws, BUDGETS[::-1])
    with pytest.raises(ValueError, match="plane"):
        optim.optimum_bands(problem, boot.laws, BUDGETS, plane="global")
    with pytest.raises(ValueError, match="replicate axis"):
        optim.solve_laws(problem, fit.law, BUDGETS)
