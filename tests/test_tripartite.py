"""Skill-text tripartite framework (Eq. 42-52): thresholds, bounds, and the paper's claims."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar
from scipy.stats import binom, norm

from ds3jax._strategies import CoT
from ds3jax._tasks import TaskGrid
from ds3jax._tripartite import (
    BinomialEnsemble,
    RegularEnsemble,
    SkillTextModel,
    bp_threshold,
    concept_ensemble,
    concept_erasure_probability,
    equivalent_skill_count,
    finite_length_erasure,
    giant_component_fraction,
    relevant_set_size,
    scaling_alpha,
    skill_acquisition_probability,
    skill_competence,
    skill_degree,
    skill_hierarchy,
    tripartite_expected_accuracy,
    tripartite_task_success,
)
from ds3jax.special import betainc

MODEL = SkillTextModel()
C_CLAUDE = 3.35e25  # App. B training FLOPs


def cot_callable(q, m, budget, omega):
    b = budget / omega - m + 1.0
    ok = b > 0
    return jnp.where(ok, betainc(jnp.where(ok, m, 1.0), jnp.where(ok, b, 1.0), q), 0.0)


def regular_threshold_scipy(l, r):
    f = lambda x: x / (1.0 - (1.0 - x) ** (r - 1)) ** (l - 1)
    res = minimize_scalar(f, bounds=(1e-6, 1.0), method="bounded", options={"xatol": 1e-13})
    return res.fun, res.x


# ------------------------------------------------------------------------- density evolution


@pytest.mark.parametrize(
    "l,r,known",
    [
        (3, 6, 0.4294398),
        (4, 8, 0.3834465),
        (3, 4, 0.6474256),
        (5, 10, 0.3415500),
        (3, 5, 0.5175702),
    ],
)
def test_regular_bec_thresholds(l, r, known):
    thr = bp_threshold(RegularEnsemble(float(l), float(r)))
    eps_ref, x_ref = regular_threshold_scipy(l, r)
    assert bool(thr.found)
    assert float(thr.eps) == pytest.approx(eps_ref, rel=1e-12)
    assert float(thr.eps) == pytest.approx(
        known, abs=1e-7
    )  # literature values (Richardson-Urbanke)
    assert float(thr.x) == pytest.approx(x_ref, rel=1e-6)


@pytest.mark.parametrize("r", [3, 4, 6])
def test_degree_two_boundary_threshold(r):
    # (2, r): f is increasing, eps_BP = lim_{x->0} f = 1 / (r - 1) (stability condition).
    thr = bp_threshold(RegularEnsemble(2.0, float(r)))
    assert float(thr.eps) == pytest.approx(1.0 / (r - 1), rel=1e-8)


def test_scaling_alpha_regular_36_literature():
    # Amraoui, Montanari, Richardson, Urbanke (2009): alpha = 0.56036 for the (3,6) ensemble.
    ens = RegularEnsemble(3.0, 6.0)
    thr = bp_threshold(ens)
    assert float(scaling_alpha(ens, thr.eps, thr.x)) == pytest.approx(0.56036, abs=2e-5)


def test_threshold_batched_and_differentiable():
    l = jnp.array([3.0, 4.0, 3.0])
    r = jnp.array([6.0, 8.0, 4.0])
    thr = bp_threshold(RegularEnsemble(l, r))
    for i in range(3):
        assert float(thr.eps[i]) == pytest.approx(
            regular_threshold_scipy(float(l[i]), float(r[i]))[0], rel=1e-12
        )
    # gradient in a continuous degree parameter vs central differences of the scipy threshold
    g_eps, g_x = (
        jax.grad(lambda rr: bp_threshold(RegularEnsemble(3.0, rr)).eps)(6.0),
        jax.grad(lambda rr: bp_threshold(RegularEnsemble(3.0, rr)).x)(6.0),
    )
    h = 1e-4
    fd_eps = (regular_threshold_scipy(3, 6 + h)[0] - regular_threshold_scipy(3, 6 - h)[0]) / (2 * h)
    fd_x = (regular_threshold_scipy(3, 6 + h)[1] - regular_threshold_scipy(3, 6 - h)[1]) / (2 * h)
    assert float(g_eps) == pytest.approx(fd_eps, rel=1e-6)
    assert float(g_x) == pytest.approx(fd_x, rel=1e-3)


def _numpy_de(ens, eps, iters=4000):
    t, p, n, pc = (float(v) for v in (ens.t, ens.p_v, ens.n, ens.p_c))
    lam = lambda y: math.exp((t - 1) * math.log1p(-p * (1 - y)))
    rho = lambda y: math.exp((n - 1) * math.log1p(-pc * (1 - y)))
    x = eps
    for _ in range(iters):
        x = eps * lam(1 - rho(1 - x))
    return x


@pytest.mark.parametrize("kappa", [5.0, 20.0, 80.0])
def test_binomial_threshold_is_the_density_evolution_jump(kappa):
    N = 1e9
    ens = concept_ensemble(MODEL, N, kappa * N)
    thr = bp_threshold(ens)
    eps = float(thr.eps)
    below = _numpy_de(ens, eps * (1 - 1e-4))
    above = _numpy_de(ens, eps * (1 + 1e-4))
    assert below < 1e-2 * float(thr.x)  # decoding succeeds: only the floor fixed point remains
    assert above > 0.5 * float(thr.x)  # decoding stalls at the large fixed point


def test_finite_length_erasure_assembly():
    # P_b = gamma_BP Q(sqrt(n)(eps_BP - eps)/alpha)/eps for (3,6), from scipy pieces.
    eps_ref, x_ref = regular_threshold_scipy(3, 6)
    y = 1 - (1 - x_ref) ** 5
    gamma = eps_ref * y**3
    for n, eps in [(1000, 0.41), (4000, 0.425), (500, 0.44)]:
        ref = gamma * norm.sf(math.sqrt(n) * (eps_ref - eps) / 0.5603547) / eps
        got = float(
            finite_length_erasure(RegularEnsemble(3.0, 6.0), n, eps, beyond_threshold="scaling_law")
        )
        assert got == pytest.approx(ref, rel=2e-5)


def test_concept_erasure_falls_with_data_and_is_differentiable():
    N = 1e7  # small R so the finite-length transition is smooth
    kappas = jnp.linspace(14.0, 24.0, 21)
    pb = np.asarray(jax.jit(concept_erasure_probability)(MODEL, N, kappas * N))
    assert np.all(np.diff(pb) <= 1e-12) and pb[0] > 0.5 and pb[-1] < 0.05
    f = jax.jit(lambda logd: concept_erasure_probability(MODEL, N, jnp.exp(logd)))
    x0 = math.log(18.3 * N)
    g = float(jax.jit(jax.grad(f))(x0))
    h = 1e-6
    fp, fm = np.asarray(f(jnp.array([x0 + h, x0 - h])))
    fd = (fp - fm) / (2 * h)
    assert np.isfinite(g) and g < 0
    assert g == pytest.approx(fd, rel=1e-4)


def test_unlimited_data_leave_no_concept_erased():
    # limit D -> inf: every concept sits in ever more text pieces, so density evolution
    # has no fixed point off 0 and P_b -> 0. From a mean concept degree of ~1e6 eps_BP
    # overflows; the erasure was NaN there (and at D = inf), and so was its gradient
    N = jnp.array([1e4, 1e8, 1e10])
    for D in (1e16, 1e20, jnp.inf):
        np.testing.assert_array_equal(np.asarray(concept_erasure_probability(MODEL, N, D)), 0.0)
    for D in (1e12, 1e20):  # the erasure is 0 to rounding already at 1e12 (N = 1e8)
        g = jax.grad(concept_erasure_probability, argnums=(1, 2))(MODEL, 1e8, D)
        assert all(float(v) == 0.0 for v in g)
    # the threshold itself is inf there, with a finite (zero) gradient
    ens = concept_ensemble(MODEL, 1e8, 1e20)
    assert float(bp_threshold(ens).eps) == np.inf
    g = jax.grad(lambda t: bp_threshold(BinomialEnsemble(t, ens.p_v, ens.n, ens.p_c)).eps)(ens.t)
    assert np.isfinite(float(g))
    # below one concept or one text piece the graph does not exist (was NaN)
    with pytest.raises(ValueError, match="N must be finite and above zeta"):
        concept_erasure_probability(MODEL, 1e3, 1e9)
    with pytest.raises(ValueError, match="D must be above tau"):
        concept_erasure_probability(MODEL, 1e8, 1e4)


# ------------------------------------------------------------------------- skills


@pytest.mark.parametrize("d", [1, 2, 5, 13, 40, 400])
def test_skill_acquisition_is_a_lower_bound_on_the_binomial_tail(d):
    # Eq. 48 must lower-bound P(Bin(d, P) >= eta) for integer d.
    from ds3jax._tripartite import _skill_acquisition

    for eta in (1, 2, 3, 7, 20):
        for P in (0.02, 0.2, 0.5, 0.8, 0.97):
            ps = float(_skill_acquisition(jnp.float64(d), float(eta), P, 1 - P))
            assert 0.0 <= ps <= binom.sf(eta - 1, d, P) * (1 + 1e-12) + 1e-300


def test_skill_degree_formula():
    N, level = 5e11, jnp.array([1.0, 30.0, 60.0, 70.0])
    R = N / 2.5e3
    xi = np.exp(-10 * np.asarray(level) / 100)
    ub = xi * R / 1e4 * (1 - np.sqrt(2 * 1e4 * np.log(1e4 / 0.05) / (R * xi)))
    np.testing.assert_allclose(
        np.asarray(skill_degree(MODEL, N, level)), 0.99 * np.maximum(ub, 0), rtol=1e-13
    )


def test_giant_component_fraction():
    cs = np.concatenate([[1.0 + 1e-3, 1.01, 1.1, 1.5], np.linspace(2, 50, 20)])
    ref = [brentq(lambda g: g - 1 + math.exp(-c * g), (c - 1) / c**2, 1.0, xtol=1e-15) for c in cs]
    np.testing.assert_allclose(
        np.asarray(giant_component_fraction(jnp.asarray(cs))), ref, rtol=1e-8
    )
    np.testing.assert_array_equal(
        np.asarray(giant_component_fraction(jnp.array([0.0, 0.5, 1.0]))), 0.0
    )
    # limits: the fixed point g = 1 - exp(-c g) tends to 1 as c -> inf (inf gave NaN); no
    # mean degree is negative or NaN (both gave 0, "no giant component")
    out = np.asarray(giant_component_fraction(jnp.array([1e3, np.inf, -1.0, np.nan])))
    np.testing.assert_array_equal(out[:2], 1.0)
    assert np.all(np.isnan(out[2:]))
    # derivative: finite everywhere, 0 below 1, ~2 just above 1, and d gamma/dc of the fixed point
    grad = jax.vmap(jax.grad(giant_component_fraction))
    g = np.asarray(grad(jnp.array([0.5, 1.0, 1.0 + 1e-3, 3.0])))
    assert np.all(np.isfinite(g))
    assert g[0] == 0.0 and g[2] == pytest.approx(2.0, rel=1e-2)
    gam = ref[4]  # c = 2
    assert float(jax.grad(giant_component_fraction)(2.0)) == pytest.approx(
        gam * math.exp(-2 * gam) / (1 - 2 * math.exp(-2 * gam)), rel=1e-10
    )


def test_equivalent_skill_count_eq42():
    sigma = lambda k: math.log(k) / 2
    for level, m in [(5, 3), (20, 7), (60, 2), (1, 4)]:
        for lp in (1, 2, 3, 5, 8, 20, 40, 60, 100):
            if lp > level:
                ref = math.ceil(
                    m / math.prod(sigma(k) for k in range(level + 1, lp + 1)) * (1 - 1e-12)
                )
            elif lp == level:
                ref = m
            else:
                ref = math.ceil(
                    m * math.prod(sigma(k) for k in range(lp + 1, level + 1)) * (1 - 1e-12)
                )
            got = float(equivalent_skill_count(MODEL, level, m, lp))
            assert got == pytest.approx(ref, rel=1e-11), (
                level,
                m,
                lp,
            )  # ceil of ~1e11 may move by 1
    assert float(relevant_set_size(MODEL, 3.0)) == 18.0  # ceil(3 (1 + 5))


def test_hierarchy_recursion_eq49_50():
    N = 3e10
    h = skill_hierarchy(MODEL, N, 20 * N)
    p_s, p, gamma = (np.asarray(v) for v in h)
    g_prev = 1.0
    for lvl in range(1, 101):
        sig = math.log(lvl) / 2
        p_ref = p_s[lvl - 1] ** 2 * (g_prev ** (2 * sig) if sig > 0 else 1.0)
        c = p_ref * 1e4
        g_ref = (
            brentq(lambda g: g - 1 + math.exp(-c * g), (c - 1) / c**2, 1.0, xtol=1e-16)
            if c > 1 + 1e-6
            else 0.0
        )
        assert p[lvl - 1] == pytest.approx(p_ref, rel=1e-12, abs=1e-300)
        assert gamma[lvl - 1] == pytest.approx(g_ref, rel=1e-9, abs=1e-300)
        g_prev = g_ref
    assert float(skill_competence(MODEL, N, 20 * N)) == pytest.approx(p_s.sum(), rel=1e-14)


def test_task_success_eq51_equals_explicit_loop():
    import scipy.special as sc

    N, budget = 5e11, 400.0
    h = skill_hierarchy(MODEL, N, 20 * N)
    p_s, gamma = np.asarray(h.p_s), np.asarray(h.gamma)
    levels = [(62.0, 4.0), (30.0, 9.0), (66.0, 2.0), (70.0, 3.0)]
    weights = [0.2, 0.3, 0.4, 0.1]
    tasks = TaskGrid.from_tasks([lv for lv, _ in levels], [m for _, m in levels], weights)
    f = jax.jit(
        lambda n, b: (
            tripartite_task_success(MODEL, cot_callable, n, 20 * n, b, tasks.difficulty, tasks.m),
            tripartite_expected_accuracy(MODEL, tasks, cot_callable, n, 20 * n, b),
        )
    )
    got, got_mean = (np.asarray(v) for v in f(N, budget))
    sigma = lambda k: math.log(k) / 2
    for i, (lv, m) in enumerate(levels):
        best = 0.0
        for lp in range(1, 101):
            if lp > lv:
                mp_ = math.ceil(
                    m / math.prod(sigma(k) for k in range(int(lv) + 1, lp + 1)) * (1 - 1e-12)
                )
            elif lp == lv:
                mp_ = m
            else:
                mp_ = math.ceil(
                    m * math.prod(sigma(k) for k in range(lp + 1, int(lv) + 1)) * (1 - 1e-12)
                )
            M = math.ceil(mp_ * 6)
            q = (0.5 + 0.5 / M) * p_s[lp - 1]
            b = budget / 25.0 - mp_ + 1
            psi = sc.betainc(mp_, b, q) if b > 0 else 0.0
            best = max(best, gamma[lp - 1] ** mp_ * psi)
        assert got[i] == pytest.approx(best, rel=1e-10, abs=1e-300)
    assert 0.1 < got[2] < 0.9  # a non-trivial value (level 66 solved elsewhere, partly)
    assert float(got_mean) == pytest.approx(float(np.dot(weights, got)), rel=1e-14)


# ------------------------------------------------------------------------- paper claims


@jax.jit
def _task_success(N, budget):
    return tripartite_task_success(
        MODEL, cot_callable, N, 20.0 * N, budget, jnp.array([30.0]), jnp.array([5.0])
    )[..., 0]


def test_emergence_sharp_rise_with_model_size():
    Ns = jnp.logspace(8, 13, 201)
    psi = np.asarray(_task_success(Ns, 16e3))
    assert psi[0] < 1e-6 and psi[-1] > 0.999
    assert np.all(np.diff(psi) >= -1e-12)
    logn = np.log10(np.asarray(Ns))
    lo = logn[np.argmax(psi > 0.01)]
    hi = logn[np.argmax(psi > 0.99)]
    assert hi - lo <= 0.1  # from 1% to 99% within a quarter of a factor 10 over 5 decades
    # the same jump shows in the acquisition probability of the task's level
    ps = np.asarray(jax.jit(lambda n: skill_acquisition_probability(MODEL, n, 20 * n, 30.0))(Ns))
    assert ps[0] < 1e-6 and ps[-1] > 0.999


def test_plateaus_for_hierarchical_task_mix():
    tasks = TaskGrid.product(jnp.array([10.0, 40.0, 70.0]), jnp.array([5.0]))
    Ns = jnp.logspace(8, 14, 61)  # 0.1-decade steps
    f = jax.jit(lambda N: tripartite_expected_accuracy(MODEL, tasks, cot_callable, N, 20 * N, 16e3))
    acc = np.asarray(f(Ns))
    assert np.all(np.diff(acc) >= -1e-12)
    assert acc[0] < 1e-6 and acc[-1] > 0.999
    # flat runs (change < 1e-3 over >= 5 consecutive 0.1-decade steps) at intermediate levels
    plateaus = set()
    for i in range(len(acc) - 5):
        window = acc[i : i + 6]
        if np.ptp(window) < 1e-3 and 0.05 < window.mean() < 0.95:
            plateaus.add(round(float(window.mean()), 2))
    assert plateaus >= {0.33, 0.67}


def test_competence_peaks_at_training_optimal_kappa_fig14():
    kappas = np.geomspace(2.0, 1000.0, 40)
    N = np.sqrt(C_CLAUDE / (6 * kappas))
    comp = np.asarray(skill_competence(MODEL, jnp.asarray(N), jnp.asarray(kappas * N)))
    k = int(np.argmax(comp))
    assert 15.0 <= kappas[k] <= 30.0  # the Chinchilla-like optimum emerges near kappa ~ 20
    assert np.all(np.diff(comp[k:]) <= 1e-9)  # falls monotonically with over-training
    assert np.all(np.diff(comp[: k + 1]) >= -1e-9)  # and with under-training
    assert comp[-1] < comp[k] - 5 and comp[0] < comp[k] - 5


def test_accuracy_grows_with_inference_budget_app_b():
    tasks = TaskGrid.product(jnp.arange(60.0, 71.0, 2.0), jnp.arange(2.0, 16.0, 3.0))
    N = math.sqrt(C_CLAUDE / 120)
    budgets = jnp.array([1e3, 2e3, 4e3, 8e3, 16e3])
    f = lambda b: tripartite_expected_accuracy(MODEL, tasks, cot_callable, N, 20 * N, b)
    acc, grads = jax.jit(jax.vmap(jax.value_and_grad(f)))(budgets)
    acc = np.asarray(acc)
    assert np.all(np.diff(acc) > 0) and acc[-1] - acc[0] > 0.2
    # roughly linear in log budget (Fig. 7): a straight-line fit in log budget explains > 90%
    x = np.log(np.asarray(budgets))
    resid = acc - np.polyval(np.polyfit(x, acc, 1), x)
    assert 1 - resid.var() / acc.var() > 0.9
    assert np.all(np.isfinite(np.asarray(grads))) and np.all(np.asarray(grads) >= 0)


def test_model_validation():
    with pytest.raises(ValueError, match="channel_eps"):
        SkillTextModel(channel_eps=1.5)
    with pytest.raises(ValueError, match="beyond_threshold"):
        SkillTextModel(beyond_threshold="nope")
    with pytest.raises(ValueError, match="beyond_threshold"):
        finite_length_erasure(
            BinomialEnsemble(10.0, 0.1, 20.0, 0.1), 20.0, 0.5, beyond_threshold="x"
        )


def test_task_levels_and_skill_counts_are_checked():
    # level 0 was clipped to level 1 without a word, and m = 0 surfaced as "q must be in
    # [0, 1], got Array([[inf, inf, nan, ...": Eq. 42 is defined for levels 1..L, m >= 1
    with pytest.raises(ValueError, match=r"level must be a skill level in 1\.\.100, got 0"):
        equivalent_skill_count(MODEL, 0, 5, 20)
    with pytest.raises(ValueError, match="level_prime must be a skill level"):
        equivalent_skill_count(MODEL, 3, 5, 101)
    with pytest.raises(ValueError, match="m must be >= 1"):
        tripartite_task_success(MODEL, CoT(), 1e9, 2e10, 1e4, 10, 0)
    with pytest.raises(ValueError, match="level must be a skill level"):
        tripartite_task_success(MODEL, CoT(), 1e9, 2e10, 1e4, [3, 0], 5)


def test_ensemble_parameters_are_checked():
    # RegularEnsemble(1, 1) gave eps_BP = 1e-9 and BinomialEnsemble(p_v = 1.5) eps_BP = 2519
    with pytest.raises(
        ValueError, match=r"RegularEnsemble.l must be >= 2 and finite \(a node degree\), got 1$"
    ):
        RegularEnsemble(1, 6)
    with pytest.raises(ValueError, match="BinomialEnsemble.p_v must be in"):
        BinomialEnsemble(10.0, 1.5, 20.0, 0.1)
    with pytest.raises(ValueError, match="BinomialEnsemble.t must be above 1"):
        BinomialEnsemble(-1.0, 0.1, 20.0, 0.1)
    # a vmap over degrees with a tree-mapped axis spec: each threshold as computed alone
    ens = RegularEnsemble(np.array([3.0, 4.0]), np.array([6.0, 8.0]))
    got = jax.vmap(lambda e: bp_threshold(e).eps, in_axes=(jax.tree.map(lambda _: 0, ens),))(ens)
    ref = [
        float(bp_threshold(RegularEnsemble(3.0, 6.0)).eps),
        float(bp_threshold(RegularEnsemble(4.0, 8.0)).eps),
    ]
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12)
