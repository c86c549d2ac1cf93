"""Argument checks run on every concrete value, jax arrays included, and not under tracing.

A check that only looked at Python numbers and numpy arrays let ``jnp.asarray(1.5)`` through
as a probability: ``success`` returned NaN and ``iota_hat`` a negative directionality.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ds3jax
from ds3jax._checks import check_probability, is_concrete
from ds3jax.simulate import simulate


def test_is_concrete_sees_through_containers_and_not_tracers():
    assert is_concrete(1.5) and is_concrete([1.0, 2.0]) and is_concrete(np.ones(2))
    assert is_concrete(jnp.ones(2)) and is_concrete(True)
    seen = []
    jax.jit(lambda x: seen.append(is_concrete(x)) or x)(1.0)
    jax.grad(lambda x: seen.append(is_concrete([x, 1.0])) or x)(1.0)
    assert seen == [False, False]


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan])
@pytest.mark.parametrize("wrap", [float, np.asarray, jnp.asarray, lambda v: [v]])
def test_probabilities_are_checked_whatever_array_type(bad, wrap):
    v = wrap(bad)
    with pytest.raises(ValueError, match="q must be in"):
        ds3jax.success(ds3jax.CoT(), v, 3.0, 100.0, 10.0)
    with pytest.raises(ValueError, match="delta must be in"):
        ds3jax.iota_hat(v, 3)
    with pytest.raises(ValueError, match="p must be in"):
        ds3jax.mv_success(v, 5, [1.0])
    if wrap is not jnp.asarray:  # parameter pytrees check host values only (below)
        with pytest.raises(ValueError, match="SigmoidTransfer"):
            ds3jax.SigmoidTransfer(a=wrap(-0.5 if bad > 0 else bad))
    with pytest.raises(ValueError, match="p must be in"):
        simulate(
            ds3jax.CoT(),
            jax.random.key(0),
            m=2,
            budget=50.0,
            omega=10,
            n_relevant=3,
            delta=0.5,
            p=v,
            n_trials=4,
        )


def test_other_ranges_checked_for_jax_arrays():
    with pytest.raises(ValueError, match="m"):
        ds3jax.TaskGrid.from_tasks(jnp.array([1.0, 2.0]), jnp.array([0.5, 2.0]))
    with pytest.raises(ValueError, match="weights"):
        ds3jax.TaskGrid.from_tasks([1.0, 2.0], [1, 2], jnp.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="weights"):
        ds3jax.TaskGrid.from_tasks([1.0, 2.0], [1, 2], [1.0, np.inf])
    with pytest.raises(ValueError, match="stds"):
        ds3jax.TaskGrid.gaussian_mixture([1, 2], [0.5, 0.5], [1.0, 2.0], jnp.array([0.1, 0.0]))
    with pytest.raises(ValueError, match="M"):
        ds3jax.iota_hat(0.5, jnp.asarray(0.5))
    with pytest.raises(ValueError, match="omega"):
        ds3jax.success(ds3jax.CoT(), 0.5, 3.0, 100.0, jnp.asarray(0.0))
    law = ds3jax.LossLaw.epoch_refit()
    with pytest.raises(ValueError, match="C_tr must be positive"):
        ds3jax.training_optimal(law, jnp.asarray(-1.0))
    with pytest.raises(ValueError, match="kappa must be positive"):
        ds3jax.chinchilla_rule(1e21, kappa=jnp.asarray(0.0))
    with pytest.raises(ValueError, match="tokens must be finite"):
        ds3jax.inference_flops(ds3jax.CoT(), np.inf, n_params=1e9)  # was NaN
    for empty in ([], jnp.zeros(0)):
        with pytest.raises(ValueError, match="difficulty is empty"):
            ds3jax.TaskGrid.product(empty, [1, 2])
        with pytest.raises(ValueError, match="difficulty is empty"):
            ds3jax.TaskGrid.from_tasks(empty, [])


def test_traced_values_are_not_checked_and_valid_ones_agree():
    # under jit the check steps aside (a traced value has no number yet); valid values give
    # the same answer traced or not, and a hand-derived value: CoT with m = 1, one step of
    # omega tokens in a budget of omega tokens succeeds with probability q
    f = jax.jit(lambda q: ds3jax.success(ds3jax.CoT(), q, 1.0, 10.0, 10.0))
    assert float(f(0.3)) == pytest.approx(0.3, rel=1e-12)
    assert float(ds3jax.success(ds3jax.CoT(), jnp.asarray(0.3), 1.0, 10.0, 10.0)) == float(f(0.3))
    f(1.5)  # traced: the value is unknown when the check would run, so nothing is raised
    check_probability("x", jnp.array([0.0, 1.0]))  # the ends are probabilities


def test_parameter_pytrees_rebuilt_by_jax_are_not_refused():
    # jax.grad returns the gradient as a LossLaw / SigmoidTransfer whose entries are
    # negative (d loss / d alpha < 0): a check on jax arrays in the constructor refused it
    law, tr = ds3jax.LossLaw.hoffmann_unrounded(), ds3jax.SigmoidTransfer()
    g = jax.grad(lambda lw: ds3jax.loss(lw, 3e9, 7e10))(law)
    assert float(g.alpha) < 0 and float(g.E) == 1.0
    gt = jax.grad(lambda t: ds3jax.skill_probability(t, 2.5, 2.0))(tr)
    assert float(gt.b) < 0  # p = sigmoid(b (L0 - L)) falls with b when L > L0
    # while Python and NumPy values given to the constructor are checked
    for bad in (-1.0, np.array([0.3, -1.0]), np.nan, np.inf):
        with pytest.raises(ValueError, match="alpha must be positive and finite"):
            ds3jax.LossLaw(E=1.0, A=1.0, B=1.0, alpha=bad, beta=0.3)
    # and jax arrays are not: fits build laws from them (a bootstrap replicate's theta may
    # hold alpha <= 0, ds3jax.law_from_theta), and a refusal there would stop the bootstrap
    rep = ds3jax.law_from_theta(jnp.array([[0.5, 6.0, 6.0, -0.1, 0.3], [0.5, 6.0, 6.0, 0.3, 0.3]]))
    assert float(rep.alpha[0]) == pytest.approx(-0.1)
    # and the gradient, brought back to the host (numpy leaves), is still a LossLaw
    g_host = jax.tree.map(np.asarray, g)
    assert isinstance(g_host, ds3jax.LossLaw) and g_host.alpha < 0


def _parameter_pytrees():
    import ds3jax.population as P

    beta = P.BetaPopulation(0.4, 3.0, 0.9)
    return [
        beta,
        P.LogitNormalPopulation(-1.0, 1.5, 0.8),
        P.PointMass(0.3),
        P.DiscretePopulation(np.array([0.1, 0.6]), np.array([0.5, 0.5])),
        P.MixturePopulation((beta, P.PointMass(0.2)), np.array([0.7, 0.3])),
        ds3jax.LossLaw.hoffmann_rounded(),
        ds3jax.SigmoidTransfer(a=0.9, b=5.0, d=0.05),
        ds3jax.SkillTextModel(),
    ]


@pytest.mark.parametrize("tree", _parameter_pytrees(), ids=lambda t: type(t).__name__)
def test_pytrees_jax_rebuilds_skip_the_constructor_checks(tree):
    # vmap axis specs (0 for alpha is no Beta parameter), negated values and None leaves
    # are trees JAX and users build from parameters; each comes back as the same type
    # with the same structure and the leaves it was given
    for f in (lambda _: 0, lambda x: -np.asarray(x), lambda _: None):
        rebuilt = jax.tree.map(f, tree)
        assert type(rebuilt) is type(tree)
        assert jax.tree.structure(rebuilt) == jax.tree.structure(tree) or f(1.0) is None
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
    assert all(p.startswith(".") for p in paths) and len(set(paths)) == len(paths)


def test_vmap_over_a_batch_of_populations_with_a_tree_axis_spec():
    # the in_axes spec built with tree.map used to be refused (alpha = 0); the batched
    # pass@k agrees with the closed form 1 - B(alpha, beta + k) / B(alpha, beta)
    # (Eq. 59) from scipy, one population at a time
    from scipy.special import betaln

    import ds3jax.population as P

    alpha, beta = np.array([0.2, 0.5, 1.3]), np.array([2.0, 8.0, 30.0])
    solvable = np.array([1.0, 0.9, 0.5])
    pops = P.BetaPopulation(alpha, beta, solvable)
    axes = jax.tree.map(lambda _: 0, pops)
    got = jax.vmap(lambda p: P.passk(p, 1000.0), in_axes=(axes,))(pops)
    ref = -solvable * np.expm1(betaln(alpha, beta + 1000.0) - betaln(alpha, beta))
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-10)


def test_population_parameters_are_checked_and_gradients_pass():
    from scipy import stats

    import ds3jax.population as P

    bad = [
        (lambda: P.BetaPopulation(0.0, 3.0), "BetaPopulation.alpha"),
        (lambda: P.BetaPopulation(0.3, np.inf), "BetaPopulation.beta"),
        (lambda: P.BetaPopulation(0.3, 3.0, 1.2), "BetaPopulation.solvable"),
        (lambda: P.LogitNormalPopulation(0.0, -1.0), "LogitNormalPopulation.sigma"),
        (lambda: P.LogitNormalPopulation(np.nan, 1.0), "LogitNormalPopulation.mu"),
        (lambda: P.PointMass(1.5), "PointMass.psi"),
        (lambda: P.DiscretePopulation(np.array([0.2, 1.1]), np.ones(2) / 2), "psi"),
        (lambda: P.MixturePopulation((), ()), "non-empty"),
        (lambda: P.MixturePopulation((P.PointMass(0.0), P.PointMass(1.0)), (0.3, 0.3)), "sum to 1"),
        (
            lambda: P.MixturePopulation((P.PointMass(0.0), P.PointMass(1.0)), (1.5, -0.5)),
            "sum to 1",
        ),
        (lambda: P.MixturePopulation((P.PointMass(0.0),), (0.5, 0.5)), "last axis of 1"),
    ]
    for make, msg in bad:
        with pytest.raises(ValueError, match=msg):
            make()
    pop = P.BetaPopulation(0.3, 3.0, 0.9)
    for k in (-1.0, np.nan, np.inf):  # pass@-1 was -0.15, pass@inf NaN
        with pytest.raises(ValueError, match="k must be finite and >= 0"):
            P.passk(pop, k)
    with pytest.raises(ValueError, match="no problems"):
        P.passk_from_counts([], [], 1)
    # the cdf outside [0, 1] is 0 below and 1 above (was NaN above); inside, scipy's
    x = np.array([-1.0, 0.0, 0.3, 1.0, 2.0])
    ref = np.where(x < 0, 0.0, np.where(x >= 1, 1.0, 0.1 + 0.9 * stats.beta.cdf(x, 0.3, 3.0)))
    np.testing.assert_allclose(np.asarray(P.population_cdf(pop, x)), ref, rtol=1e-12)
    # gradients come back as populations with negative entries: not refused
    g = jax.grad(lambda p: P.passk(p, 100.0))(pop)
    assert float(g.beta) < 0 and float(g.alpha) > 0  # more mass near psi = 0 as beta grows


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.2, np.nan, "0.9x", None])
def test_interval_levels_are_checked_everywhere_alike(bad):
    import ds3jax.population as P
    from ds3jax._checks import check_level

    with pytest.raises(ValueError, match="level must lie in"):
        check_level(bad)
    fit = P.fit_passk_counts([1, 3, 0, 7], 50, method="power_law", n_boot=20)
    with pytest.raises(ValueError, match="level must lie in"):
        fit.passk_interval(1e3, level=bad)
    if bad is not None:  # passk_bounds takes level=None: the range alone, no interval
        with pytest.raises(ValueError, match="level must lie in"):
            P.passk_bounds([1, 3, 0, 7], 50, k=1e3, level=bad)
    assert check_level(np.float32(0.5)) == 0.5 and check_level("0.8") == 0.8


def test_axis_specs_written_as_constructor_calls():
    # in_axes=LossLaw(E=0, A=None, ...) maps E only: a field of None marks a spec (no
    # parameter is None), so the constructor does not refuse E = 0; vmap over two laws
    # gives the loss of each, evaluated one at a time (Eq. 1 by hand)
    spec = ds3jax.LossLaw(E=0, A=None, B=None, alpha=None, beta=None)
    laws = ds3jax.LossLaw(E=np.array([1.69, 1.75]), A=406.4, B=410.7, alpha=0.34, beta=0.28)
    got = jax.vmap(lambda lw: ds3jax.loss(lw, 1e9, 2e10), in_axes=(spec,))(laws)
    ref = np.array([1.69, 1.75]) + 406.4 / 1e9**0.34 + 410.7 / 2e10**0.28
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-13)
    ds3jax.SigmoidTransfer(a=0, b=None, d=None)
    ds3jax.SkillTextModel(zeta=0, tau=None)
    # a complete set of ints is a set of values: refused, with a hint at the spec idioms
    with pytest.raises(
        ValueError, match=r"E must be positive and finite, got 0; for a vmap axis spec"
    ):
        ds3jax.LossLaw(E=0, A=1, B=1, alpha=1, beta=1)
    with pytest.raises(ValueError, match=r"E must be positive and finite, got 0.0$"):
        ds3jax.LossLaw(E=0.0, A=1.0, B=1.0, alpha=1.0, beta=1.0)
