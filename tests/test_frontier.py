"""Tests for optim.frontier: power-law fits against numpy.polyfit, and the compute-to-match
root against a brute-force scipy search (brentq on a scipy grid-search optimum)."""

import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from scipy.optimize import brentq

from optim._solve import solve
from optim.frontier import allocation_fits, compare_frontiers, compute_to_match, power_law_fit
from optim.presets import paper_fig8

sys.path.insert(0, str(Path(__file__).parent))
from test_optim import I_TASKS, ref_chinchilla  # noqa: E402


def _polyfit_reference(x, y):
    lx, ly = np.log10(x), np.log10(y)
    slope, icpt = np.polyfit(lx, ly, 1)
    r2 = np.corrcoef(lx, ly)[0, 1] ** 2  # R^2 of a simple linear regression
    return slope, 10.0**icpt, r2


def test_power_law_fit_matches_polyfit():
    rng = np.random.default_rng(1)
    C = np.logspace(19, 24, 40)
    y = 3.0 * C**0.41 * np.exp(rng.normal(0, 0.3, C.size))
    fit = power_law_fit(C, y)
    s, p, r2 = _polyfit_reference(C, y)
    np.testing.assert_allclose(float(fit.exponent), s, rtol=1e-10)
    np.testing.assert_allclose(float(fit.prefactor), p, rtol=1e-8)
    np.testing.assert_allclose(float(fit.r2), r2, rtol=1e-10)
    mask = rng.random(C.size) < 0.6
    fm = power_law_fit(C, y, mask=mask)
    s, p, r2 = _polyfit_reference(C[mask], y[mask])
    np.testing.assert_allclose([float(fm.exponent), float(fm.r2)], [s, r2], rtol=1e-10)
    # batched over leading axes
    fb = power_law_fit(C, np.stack([y, y**2]))
    np.testing.assert_allclose(np.asarray(fb.exponent), [s_ := _polyfit_reference(C, y)[0], 2 * s_])


@pytest.fixture(scope="module")
def frontier():
    problem = paper_fig8()
    budgets = np.array([3e20, 1e22])
    return problem, budgets, compare_frontiers(problem, budgets, n_bisect=30)


def test_frontier_diagnostics(frontier):
    problem, budgets, fc = frontier
    g = solve(problem, budgets, plane="global")
    c = solve(problem, budgets, plane="chinchilla")
    np.testing.assert_allclose(np.asarray(fc.kappa_constrained), 20.0, rtol=1e-12)
    N, Om = np.asarray(g.N), np.asarray(g.Omega)
    np.testing.assert_allclose(
        np.asarray(fc.inference_share_global), 2 * N * I_TASKS * Om / budgets, rtol=1e-10
    )
    np.testing.assert_allclose(
        np.asarray(fc.accuracy_gap), np.asarray(g.value) - np.asarray(c.value), atol=1e-12
    )
    assert np.all(np.asarray(fc.accuracy_gap) >= -1e-9)  # the plane can't beat the surface
    for name in ("N", "D", "Omega"):
        s, p, r2 = _polyfit_reference(budgets, np.asarray(getattr(g, name)))
        np.testing.assert_allclose(float(fc.fits_global[name].exponent), s, rtol=1e-8)


def test_compute_to_match_against_brute_force(frontier):
    problem, budgets, fc = frontier
    g = solve(problem, budgets, plane="global")
    c_match = np.asarray(fc.compute_to_match)
    for C, target, got in zip(budgets, np.asarray(g.value), c_match):
        f = lambda lc: ref_chinchilla(np.exp(lc))[0] - target
        root = np.exp(brentq(f, np.log(C), np.log(C * 1e4), xtol=1e-7))
        np.testing.assert_allclose(got, root, rtol=2e-4)
        assert got > C


def test_compute_to_match_unreachable_and_errors():
    problem = paper_fig8()
    # same shapes and static settings as the fixture: reuses its compilation
    c, ok = compute_to_match(problem, [0.999999] * 2, [3e20, 1e22], max_factor=10.0, n_bisect=30)
    assert not np.any(np.asarray(ok)) and np.all(np.isinf(np.asarray(c)))
    with pytest.raises(ValueError, match="target_accuracy"):
        compute_to_match(problem, [1.5], [1e20])
    with pytest.raises(ValueError, match="budgets"):
        compute_to_match(problem, [0.5], [-1.0])
    with pytest.raises(ValueError, match="kappa"):
        compute_to_match(problem, [0.5], [1e20], kappa=0.0)


def test_fixed_tokens_frontier_without_matching():
    """Fig. 15's comparison: the constant-Omega path has exponent 0 with R^2 = 1, and
    match=False skips the bisection (NaN penalties)."""
    problem = paper_fig8()
    budgets = np.logspace(20, 22, 3)
    fc = compare_frontiers(problem, budgets, plane="fixed_tokens", tokens=2000.0, match=False)
    assert abs(float(fc.fits_constrained["Omega"].exponent)) < 1e-12
    assert float(fc.fits_constrained["Omega"].r2) == 1.0
    assert np.all(np.isnan(np.asarray(fc.compute_penalty)))
    assert np.all(np.asarray(fc.accuracy_gap) >= -1e-9)
    assert np.all(np.isfinite(np.asarray(fc.kappa_constrained)))


def test_saturated_budgets_are_flagged_left_out_of_fits_and_matched_at_equal_accuracy():
    # the default problem reaches accuracy 1 to float precision from ~1e26 FLOPs (global)
    # and ~1e28 (Chinchilla); there compute_to_match was inf ("never matched") and the
    # power laws were fitted through undetermined optima
    problem = paper_fig8()
    budgets = np.logspace(22, 32, 6)
    fc = compare_frontiers(problem, budgets, n_bisect=30)
    g = solve(problem, budgets, plane="global")
    c = solve(problem, budgets, plane="chinchilla")
    flat = (1 - np.asarray(g.value) <= 1e-9) & (1 - np.asarray(c.value) <= 1e-9)
    assert 2 <= flat.sum() < 6
    np.testing.assert_array_equal(np.asarray(fc.saturated), flat)
    np.testing.assert_array_equal(np.asarray(g.saturated), 1 - np.asarray(g.value) <= 1e-9)
    # where both are saturated the constrained path needs no extra compute
    np.testing.assert_allclose(np.asarray(fc.compute_penalty)[flat], 0.0, atol=1e-6)
    # everywhere the match is finite and at least the budget (the global optimum is optimal)
    pen = np.asarray(fc.compute_penalty)
    assert np.all(np.isfinite(pen)) and np.all(pen >= -1e-6)
    # each plane's fits use its own unsaturated budgets only: the reference is polyfit on those
    for sol, fits in ((g, fc.fits_global), (c, fc.fits_constrained)):
        live = 1 - np.asarray(sol.value) > 1e-9
        assert live.sum() >= 2
        for key in ("N", "D", "Omega"):
            y = np.asarray(getattr(sol, key))[live]
            slope, _, _ = _polyfit_reference(budgets[live], y)
            assert float(fits[key].exponent) == pytest.approx(slope, rel=1e-9, abs=1e-12)


def test_allocation_fits_need_two_unsaturated_optima():
    # hand-made optima: N = C^0.5, D = C^0.25, Omega = 3 (flat); accuracy saturated at the
    # last two budgets, whose allocations are arbitrary and must not move the fits
    C = np.logspace(20, 25, 6)
    value = np.array([0.3, 0.6, 0.9, 0.99, 1.0, 1.0 - 1e-12])
    alloc = {"N": C**0.5, "D": C**0.25, "Omega": np.full(6, 3.0)}
    for k in alloc:
        alloc[k][4:] = [7.0, 1e30]
    fits = allocation_fits(C, value, alloc)
    for key, e in (("N", 0.5), ("D", 0.25), ("Omega", 0.0)):
        assert float(fits[key].exponent) == pytest.approx(e, abs=1e-12)
    assert float(fits["N"].prefactor) == pytest.approx(1.0, rel=1e-9)
    # one unsaturated optimum fixes no exponent: NaN, not a fit through flat optima
    one = allocation_fits(C, np.r_[0.5, np.ones(5)], alloc)
    assert all(np.isnan(float(getattr(f, a))) for f in one.values() for a in ("exponent", "r2"))
    # exactly two: the slope between them
    two = allocation_fits(C[:2], value[:2], {k: v[:2] for k, v in alloc.items()})
    assert float(two["N"].exponent) == pytest.approx(0.5, abs=1e-12)


def test_power_law_fit_refuses_non_positive_points_and_ignores_masked_ones():
    C = np.array([1e20, 1e21, 1e22, 1e23])
    with pytest.raises(ValueError, match="y must be positive and finite .* index \\(1,\\)"):
        power_law_fit(C, np.array([1.0, -1.0, 2.0, 3.0]))  # exponent NaN with R^2 = 1
    with pytest.raises(ValueError, match="C must be positive"):
        power_law_fit(np.r_[0.0, C[1:]], np.ones(4))
    # a point left out by the mask may hold anything (an infinite D): it made the fit NaN
    y = np.array([2.0, np.inf, 2.0e2, 2.0e3])
    f = power_law_fit(C, y, mask=np.array([True, False, True, True]))
    assert float(f.exponent) == pytest.approx(1.0, rel=1e-12)
    assert float(f.prefactor) == pytest.approx(2e-20, rel=1e-9)
    # under jit nothing is checked; the fit is NaN, and so is its R^2 (it was 1)
    g = jax.jit(power_law_fit)(C, np.array([1.0, -1.0, 2.0, 3.0]))
    assert np.isnan(float(g.exponent)) and np.isnan(float(g.r2))


def test_min_budget_refuses_bad_arguments():
    from optim._solve import min_budget

    problem = paper_fig8()
    for kw, msg in (
        ({"n_min": 0.0}, "n_min must be positive"),
        ({"n_min": np.nan}, "n_min must be positive"),
        ({"d_min": -1.0}, "d_min must be positive"),
        ({"plane": "globl"}, "plane must be one of"),
        ({"tokens": 0.0, "plane": "fixed_tokens"}, "tokens must be positive"),
        ({"tokens": 1e6}, "fixed-tokens plane's argument"),
        ({"plane": "fixed_tokens"}, "fixed-tokens plane's argument"),
    ):
        with pytest.raises(ValueError, match=msg):
            min_budget(problem, **kw)


def test_compare_frontiers_refuses_solutions_from_other_budgets():
    # a global solution solved at 10x the budgets gave a gap of 0.36 instead of 0.19 and an
    # N exponent of 0.12 instead of 0.29, without a word
    problem = paper_fig8()
    C = np.array([1e20, 1e22])
    g10 = solve(problem, C * 10)
    with pytest.raises(ValueError, match="other budgets"):
        compare_frontiers(problem, C, global_solution=g10, match=False)
    g = solve(problem, C)
    with pytest.raises(ValueError, match="not 'chinchilla'"):
        compare_frontiers(problem, C, constrained_solution=g, match=False)
    with pytest.raises(ValueError, match="plane must be"):
        compare_frontiers(problem, C, plane="inference_only", match=False)
    fine = compare_frontiers(problem, C, global_solution=g, match=False)
    np.testing.assert_allclose(
        np.asarray(fine.accuracy_gap),
        np.asarray(g.value) - np.asarray(solve(problem, C, plane="chinchilla").value),
        rtol=1e-10,
    )


def test_compute_to_match_checks_its_bracket():
    problem = paper_fig8()
    target, C = np.array([0.3]), np.array([3e20])
    for kw, msg in (
        ({"n_bisect": -1}, "n_bisect"),
        ({"n_bisect": 0}, "n_bisect"),
        ({"n_bisect": 2.5}, "n_bisect"),
        ({"max_factor": np.inf}, "max_factor"),
    ):
        with pytest.raises(ValueError, match=msg):
            compute_to_match(problem, target, C, **kw)


def test_power_law_fit_edge_inputs():
    fit = power_law_fit(np.array([]), np.array([]))
    assert np.isnan(float(fit.exponent)) and np.isnan(float(fit.r2))  # no fit, no R^2
    with pytest.raises(ValueError, match="mask must be boolean"):
        power_law_fit(np.array([1.0, 10.0]), np.array([2.0, 3.0]), mask=np.full(2, 0.5))
