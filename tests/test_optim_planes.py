"""The fixed-tokens and inference-only planes, Table I attention FLOPs in the constraint and
charging expected token usage, each against an independent scipy/numpy reference."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize as so
import scipy.special as sp
import scipy.stats as st
from test_optim import I_TASKS, L0, OMEGA, M, _ref_search, ref_accuracy

import optim
from optim.presets import paper_fig8

BUDGETS = np.logspace(20, 24, 5)
TOKENS = 2000.0


@pytest.fixture(scope="module")
def problem():
    return paper_fig8()


def ref_fixed_tokens(C, tokens):
    """Max accuracy over log10 N with Omega fixed and D = (C - 2 N I Omega) / (6 N)."""

    def acc_of(pts):
        N = 10.0 ** pts[:, 0]
        D = (C - 2.0 * N * I_TASKS * tokens) / (6.0 * N)
        ok = D > 1.0
        out = np.full(len(pts), -1.0)
        out[ok] = ref_accuracy(N[ok], D[ok], tokens)
        return out

    top = np.log10(C / (2 * I_TASKS * tokens))
    return _ref_search(acc_of, [3.0], [top], 800, rounds=6, n_local=11)[:2]


def ref_inference_only(C):
    """Max accuracy over log10 N with D = inf and Omega = C / (2 N I)."""

    def acc_of(pts):
        N = 10.0 ** pts[:, 0]
        return ref_accuracy(N, np.inf, C / (2.0 * N * I_TASKS))

    top = np.log10(C / (2 * I_TASKS * OMEGA))
    return _ref_search(acc_of, [3.0], [top], 800, rounds=6, n_local=11)[:2]


def test_fixed_tokens_matches_brute_force(problem):
    sol = optim.solve(problem, BUDGETS, plane="fixed_tokens", tokens=TOKENS)
    np.testing.assert_allclose(np.asarray(sol.Omega), TOKENS, rtol=1e-12)
    comp = 6 * np.asarray(sol.N) * np.asarray(sol.D) + 2 * np.asarray(sol.N) * I_TASKS * TOKENS
    np.testing.assert_allclose(comp, BUDGETS, rtol=1e-10)
    for i, C in enumerate(BUDGETS):
        v_ref, x_ref = ref_fixed_tokens(C, TOKENS)
        v = ref_accuracy(sol.N[i], sol.D[i], TOKENS)
        assert v >= v_ref - 1e-6, (C, v, v_ref)
        if v_ref > 1e-3:
            assert abs(np.log10(sol.N[i]) - x_ref[0]) < 2e-3


def test_fixed_tokens_loss_objective_is_inference_aware_chinchilla(problem):
    """Minimum loss on 6 N D + 2 N I Omega = C (Sardana et al.) by scipy, and the same
    allocation as maximal accuracy (with Omega fixed, accuracy is monotone in the loss)."""
    sol = optim.solve(problem, BUDGETS, plane="fixed_tokens", tokens=TOKENS, objective="loss")
    acc = optim.solve(problem, BUDGETS, plane="fixed_tokens", tokens=TOKENS)
    for i, C in enumerate(BUDGETS):

        def L(logn):
            N = 10.0**logn
            D = (C - 2 * N * I_TASKS * TOKENS) / (6 * N)
            return 1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28 if D > 0 else np.inf

        top = np.log10(C / (2 * I_TASKS * TOKENS))
        r = so.minimize_scalar(
            L, bounds=(1.0, top - 1e-9), method="bounded", options={"xatol": 1e-12}
        )
        assert float(sol.loss[i]) <= r.fun * (1 + 1e-12)
        assert abs(np.log10(sol.N[i]) - r.x) < 1e-4
        if float(acc.value[i]) > 1e-3:
            assert abs(np.log10(acc.N[i]) - np.log10(sol.N[i])) < 1e-3


def test_inference_only_matches_brute_force(problem):
    sol = optim.solve(problem, BUDGETS, plane="inference_only")
    assert np.all(np.isinf(np.asarray(sol.D)))
    np.testing.assert_allclose(2 * sol.N * I_TASKS * sol.Omega, BUDGETS, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(sol.compute), BUDGETS, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(sol.loss), 1.69 + 406.4 * sol.N**-0.34, rtol=1e-12)
    for i, C in enumerate(BUDGETS):
        v_ref, x_ref = ref_inference_only(C)
        v = ref_accuracy(sol.N[i], np.inf, sol.Omega[i])
        assert v >= v_ref - 1e-6, (C, v, v_ref)
        if v_ref > 1e-3:
            assert abs(np.log10(sol.N[i]) - x_ref[0]) < 2e-3


def _attention_problem(problem):
    return optim.make_problem(
        problem.law,
        problem.transfer,
        problem.tasks,
        omega=OMEGA,
        n_queries=I_TASKS,
        flops=optim.FlopModel(n_layer=96.0, d_attn=12288.0, prompt_tokens=200.0),
    )


def test_attention_flops_constraint_and_optimum(problem):
    """Table I CoT cost per task, written out by hand: 2 N T + 2 n d (P^2 + P T + T^2/2)."""
    pa = _attention_problem(problem)
    C = np.array([1e22, 1e23])
    sol = optim.solve(pa, C, plane="global")
    N, D, T = (np.asarray(v) for v in (sol.N, sol.D, sol.Omega))
    attn = 2 * 96 * 12288
    per_task = 2 * N * T + attn * (200.0**2 + 200.0 * T + T**2 / 2)
    np.testing.assert_allclose(6 * N * D + I_TASKS * per_task, C, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(sol.compute), C, rtol=1e-10)
    for i, c in enumerate(C):

        def acc_of(pts):
            n, om = 10.0 ** pts[:, 0], 10.0 ** pts[:, 1]
            cost = I_TASKS * (2 * n * om + attn * (200.0**2 + 200.0 * om + om**2 / 2))
            d = (c - cost) / (6 * n)
            ok = d > 1.0
            out = np.full(len(pts), -1.0)
            out[ok] = ref_accuracy(n[ok], d[ok], om[ok])
            return out

        v_ref, _ = _ref_search(acc_of, [5.0, 0.5], [11.5, 6.0], 48)[:2]
        assert ref_accuracy(N[i], D[i], T[i]) >= v_ref - 1e-6
    # the attention costs can only lower the optimum
    plain = optim.solve(problem, C, plane="global")
    assert np.all(np.asarray(sol.value) < np.asarray(plain.value))


def _sum_expected_steps(q, m, K):
    """E[min(tau, K)] for integer K by direct summation of Eq. 23: sum_{t<K} P(tau > t)."""
    t = np.arange(int(K))
    return np.sum(st.nbinom.sf(t - m, m, q))  # P(tau > t) = P(failures > t - m)


def ref_expected_tokens(N, D, Omega):
    """E_phi[omega E[min(tau, K)]], K = Omega / omega real, in scipy from the closed form
    (m/q) I_q(m+1, K-m+1) + K (1 - I_q(m, K-m+1)) (K for K <= m - 1), capped at K: for K in
    (m - 1, m) every chain is cut at K (tau >= m), which the form's interpolation exceeds."""
    L = 1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28
    q = sp.expit(5.0 * (L0 - L))[:, None]
    K = Omega / OMEGA
    n = K - M + 1.0
    ok = n > 0
    nn = np.where(ok, n, 1.0)
    steps = np.where(ok, M / q * sp.betainc(M + 1, nn, q) + K * sp.betainc(nn, M, 1 - q), K)
    steps = np.minimum(steps, K)
    return OMEGA * steps.mean()


def test_expected_budget_inversion_and_its_gradient(problem):
    """Omega with E[Omega'|Omega] = T against direct summation; d log Omega / d log T against
    a central finite difference of the inverted map."""
    import jax

    from optim._problem import log_budget_for_tokens

    # the closed-form reference equals Eq. 23's direct sum at whole step counts
    for q, m, K in ((0.3, 3, 17), (0.02, 40, 900), (0.9, 1, 4)):
        n = K - m + 1
        closed = m / q * sp.betainc(m + 1, n, q) + K * sp.betainc(n, m, 1 - q)
        np.testing.assert_allclose(closed, _sum_expected_steps(q, m, K), rtol=1e-12)
    pe = paper_fig8(charge="expected")
    N, D = 1e9, 2e10
    for T in (60.0, 700.0, 9000.0):
        om = float(np.exp(log_budget_for_tokens(pe, N, D, jnp.log(T))))
        assert om >= T
        np.testing.assert_allclose(ref_expected_tokens(N, D, om), T, rtol=1e-9)
    f = lambda lt: log_budget_for_tokens(pe, N, D, lt)
    lt, h = np.log(700.0), 1e-4
    fd = (float(f(lt + h)) - float(f(lt - h))) / (2 * h)
    np.testing.assert_allclose(float(jax.grad(f)(jnp.asarray(lt))), fd, rtol=1e-5)


@pytest.mark.slow
def test_expected_charge_constraint_and_dominance(problem):
    pe = paper_fig8(charge="expected")
    C = np.array([1e21, 1e23])
    opts = dict(seed_grid=(9, 9), n_seeds=2, adam_steps=4, newton_steps=8)
    sol = optim.solve(pe, C, plane="global", **opts)
    N, D, Om = (np.asarray(v) for v in (sol.N, sol.D, sol.Omega))
    for i, c in enumerate(C):
        e = ref_expected_tokens(N[i], D[i], Om[i])
        assert e <= Om[i]
        np.testing.assert_allclose(6 * N[i] * D[i] + 2 * N[i] * I_TASKS * e, c, rtol=1e-8)
    # every allocation feasible when charging the budget is feasible (with slack) when
    # charging expected usage, so the optimum cannot be worse
    plain = optim.solve(problem, C, plane="global")
    assert np.all(np.asarray(sol.value) >= np.asarray(plain.value) - 1e-9)


@pytest.mark.slow
def test_expected_charge_inference_only_constraint(problem):
    pe = paper_fig8(charge="expected")
    C = np.array([1e22])
    sol = optim.solve(pe, C, plane="inference_only", seed_grid_1d=65, n_seeds_1d=2)
    e = ref_expected_tokens(float(sol.N[0]), np.inf, float(sol.Omega[0]))
    np.testing.assert_allclose(2 * float(sol.N[0]) * I_TASKS * e, C[0], rtol=1e-8)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(plane="fixed_tokens"), "needs tokens"),
        (dict(plane="fixed_tokens", tokens=-5.0), "tokens must be positive"),
        (dict(plane="fixed_tokens", tokens=10.0), "below the easiest task"),
        (dict(plane="fixed_tokens", tokens=[1e3, 2e3]), "budgets' shape"),
        (dict(plane="global", objective="loss"), "fixed_tokens"),
        (dict(plane="global", objective="perplexity"), "objective must be"),
        (dict(plane="sideways"), "plane must be"),
    ],
)
def test_bad_plane_arguments(problem, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        optim.solve(problem, [1e21, 1e22, 1e23], **kwargs)


def test_expected_charge_rejected_on_fixed_tokens():
    with pytest.raises(ValueError, match="charge='expected'"):
        optim.solve(paper_fig8(charge="expected"), 1e22, plane="fixed_tokens", tokens=1e3)


def test_budget_too_small_for_attention_costs(problem):
    pa = _attention_problem(problem)
    with pytest.raises(ValueError, match="too small for any feasible point"):
        optim.solve(pa, 1e19, plane="global")


def test_bad_flop_model(problem):
    with pytest.raises(ValueError, match="FlopModel"):
        optim.make_problem(
            problem.law, problem.transfer, problem.tasks, flops=optim.FlopModel(n_layer=-1.0)
        )
    with pytest.raises(ValueError, match="flops must be"):
        optim.make_problem(problem.law, problem.transfer, problem.tasks, flops=(96, 12288))


def test_task_flops_matches_ds3jax_inference_flops(problem):
    import ds3jax

    pa = _attention_problem(problem)
    t = jnp.array([10.0, 1e3, 1e5])
    ours = optim.task_flops(pa, 1e10, t)
    ref = 2e10 * t + 2 * 96 * 12288 * (200.0**2 + 200.0 * t + t**2 / 2)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(ref), rtol=1e-13)
    lib = ds3jax.inference_flops(ds3jax.CoT(), t, 1e10, n_layer=96, d_attn=12288, prompt_tokens=200)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(lib), rtol=1e-13)


def test_single_task_accuracy_is_accurate_where_tiny(problem):
    """A task set without m = 1 uses the library kernel: psi_5 ~ 1e-127 must not come out of
    a cancellation (reference: scipy.special.betainc)."""
    import ds3jax

    p = optim.make_problem(
        problem.law,
        ds3jax.SigmoidTransfer(1.0, 20.0, 0.0),
        ds3jax.TaskGrid.from_tasks([2.0], [5]),
        omega=OMEGA,
        n_queries=1.0,
    )
    N, Om = 10.0**6.2, 100.35
    L = 1.69 + 406.4 * N**-0.34
    ref = sp.betainc(5.0, Om / OMEGA - 4.0, sp.expit(20.0 * (2.0 - L)))
    ours = float(np.exp(optim.log_accuracy(p, N, np.inf, Om)))
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
