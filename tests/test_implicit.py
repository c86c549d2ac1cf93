"""optim.optimum: implicit-function-theorem derivatives of the optimum against central
finite differences of re-solved problems (loss constant A, I, sigmoid slope b, omega)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optim

C = 1e22
OPTS = dict(gtol=1e-10, newton_steps=30)


def test_implicit_derivatives_match_finite_differences_of_resolves():
    p0 = optim.presets.paper_fig8()

    def with_params(th):
        A, I, b, om = th
        return dataclasses.replace(
            p0,
            law=dataclasses.replace(p0.law, A=A),
            transfer=dataclasses.replace(p0.transfer, b=b),
            n_queries=I,
            omega=om,
        )

    def outs(th):
        r = optim.optimum(with_params(th), C, **OPTS)
        return jnp.stack([r["objective"], r["log_N"], r["log_D"], r["log_Omega"]])

    th0 = jnp.array([406.4, 1e9, 5.0, 25.0])
    r0 = optim.optimum(with_params(th0), C, **OPTS)
    assert bool(r0["hessian_ok"])
    sol = optim.solve(p0, C)
    np.testing.assert_allclose(float(r0["N"]), float(sol.N), rtol=1e-6)
    np.testing.assert_allclose(float(r0["value"]), float(sol.value), rtol=1e-9)
    J = np.asarray(jax.jacfwd(outs)(th0)) * np.asarray(th0)[None, :]  # elasticities
    h = 1e-3
    for k in range(4):
        e = np.zeros(4)
        e[k] = h
        up = np.asarray(outs(th0 * (1 + e)))
        dn = np.asarray(outs(th0 * (1 - e)))
        fd = (up - dn) / (2 * h)
        # atol: the entries near 1e-5 (log D's and log Omega's response to I and omega) come
        # from cancelling O(1) terms through an ill-conditioned Hessian; writing the loss's
        # sum in another order moves them by 3e-8 (and the solution by 1e-14)
        np.testing.assert_allclose(J[:, k], fd, rtol=1e-4, atol=1e-7)
    # the envelope theorem: d objective / dI equals the partial derivative at fixed (N, D,
    # Omega)-coordinates, which is nonzero here (more tasks make compute scarcer)
    assert J[0, 1] < 0


def test_grad_of_optimal_value_under_jit():
    p0 = optim.presets.paper_fig8()

    @jax.jit
    def best(b):
        p = dataclasses.replace(p0, transfer=dataclasses.replace(p0.transfer, b=b))
        return optim.optimum(p, C)["objective"]

    g = float(jax.grad(best)(5.0))
    h = 1e-4
    fd = (float(best(5.0 + h)) - float(best(5.0 - h))) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-4)


def test_traced_budget_is_refused_with_a_reason():
    # d/dC of the optimum is not provided: a traced budget failed deep inside with JAX's
    # TracerArrayConversionError; it now says what is differentiable and what to do instead
    problem = optim.presets.paper_fig8()
    with pytest.raises(TypeError, match="budgets is traced"):
        jax.grad(lambda c: optim.optimum(problem, c)["objective"])(1e22)
    with pytest.raises(TypeError, match="kappa is traced"):
        jax.grad(lambda k: optim.optimum(problem, 1e22, plane="chinchilla", kappa=k)["value"])(20.0)


def test_inference_only_plane_derivatives_in_the_data_exponent():
    # D = inf on this plane: B / D^beta is 0 for every beta, so d/d beta is exactly 0; it was
    # -inf * 0 = NaN and forward mode carried the NaN into every column (A's too)
    p0 = optim.presets.paper_fig8()

    def outs(th):
        law = dataclasses.replace(p0.law, A=th[0], beta=th[1])
        r = optim.optimum(dataclasses.replace(p0, law=law), C, plane="inference_only", **OPTS)
        return jnp.stack([r["objective"], r["log_Omega"], r["log_N"]])

    th0 = jnp.array([406.4, 0.28])
    J = np.asarray(jax.jacfwd(outs)(th0))
    assert np.all(J[:, 1] == 0.0)
    h = 1e-5 * 406.4
    fd = (
        np.asarray(outs(th0 + jnp.array([h, 0.0]))) - np.asarray(outs(th0 - jnp.array([h, 0.0])))
    ) / (2 * h)
    np.testing.assert_allclose(J[:, 0], fd, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(jax.jacrev(outs)(th0)), J, rtol=1e-10, atol=1e-15)
