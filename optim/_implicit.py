"""A differentiable optimum: gradients of the optimal value and Jacobians of the argmax
with respect to any problem parameter, by the implicit function theorem.

At the solver's optimum u* (coordinates on the iso-compute surface, see ``optim._solve``)
the gradient g(u*, theta) = d f / d u vanishes. With u* held constant (stop_gradient) and
H = d^2 f / du^2 at u*, the expressions

    value = f(u*, theta)                       d value / d theta = df/dtheta    (envelope)
    u     = u* - H^-1 g(u*, theta)             d u / d theta = -H^-1 dg/dtheta  (implicit fn.)

have exactly the derivatives of the true optimum (g = 0 at u*, so the derivative of H^-1
drops out), to any order of JAX transformation that needs only first derivatives: grad,
jacfwd, jacrev, vmap, jit. The solve itself runs on the stopped-gradient problem.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._problem import Problem, accuracy
from ._solve import _alloc, _objective, _prepare, _solve_batch

__all__ = ["optimum"]


def optimum(
    problem: Problem,
    budgets,
    plane: str = "global",
    kappa=20.0,
    tokens=None,
    method: str = "gradient",
    n_min: float = 1.0,
    **options,
) -> dict:
    """Optimal allocation as a differentiable function of the problem's parameters.

    Same arguments as :func:`optim.solve` (objective "accuracy"). Works when ``problem`` is
    traced, e.g. ``jax.grad(lambda A: optimum(replace_law(problem, A), C)["objective"])``;
    budgets, plane, kappa and tokens are treated as constants.

    Returns:
      dict of arrays with the budgets' shape: ``objective`` (log Psi at the optimum; its
      gradient is the envelope-theorem gradient), ``log_N``, ``log_D``, ``log_Omega``
      (natural logs, with implicit-function-theorem derivatives), ``N``, ``D``, ``Omega``,
      ``value`` (Psi), and ``hessian_ok`` (False where the Hessian in solver coordinates is
      not negative definite: there the optimum is not isolated and its Jacobian undefined).
    """
    for name, v in (("budgets", budgets), ("kappa", kappa), ("tokens", tokens)):
        if any(isinstance(t, jax.core.Tracer) for t in jax.tree_util.tree_leaves(v)):
            raise TypeError(
                f"optimum: {name} is traced (under jit, grad or vmap); it must be a concrete "
                "value. The optimum is differentiable in the problem's parameters; for its "
                "change with the budget, solve at nearby budgets (optim.solve) or fit the "
                "frontier's power laws (optim.allocation_fits)"
            )
    prep = _prepare(problem, budgets, plane, method, kappa, tokens, "accuracy", n_min, options)
    mode, logC, aux = prep["mode"], prep["logC"], prep["aux"]
    frozen = jax.tree_util.tree_map(jax.lax.stop_gradient, problem)
    u_star = _solve_batch(
        frozen,
        logC,
        aux,
        prep["n_min"],
        plane=plane,
        mode=mode,
        method=method,
        objective="accuracy",
        cfg_items=prep["cfg_items"],
        return_u=True,
    )
    u_star = jax.lax.stop_gradient(u_star)

    def one(u0, lc, a):
        f_live = lambda u: _objective(problem, plane, mode, "accuracy", u, lc, a)
        f_frozen = lambda u: _objective(frozen, plane, mode, "accuracy", u, lc, a)
        H = jax.lax.stop_gradient(jax.hessian(f_frozen)(u0))
        g = jax.grad(f_live)(u0)
        lam = jnp.linalg.eigvalsh(0.5 * (H + H.T))
        ok = jnp.all(lam < 0)
        u = u0 - jnp.linalg.solve(jnp.where(ok, H, -jnp.eye(H.shape[0], dtype=H.dtype)), g)
        log_n, log_d, log_o = _alloc(problem, plane, mode, u, lc, a)
        return f_live(u0), log_n, log_d, log_o, ok

    obj, log_n, log_d, log_o, ok = jax.vmap(one)(u_star, logC, aux)
    N, D, Om = jnp.exp(log_n), jnp.exp(log_d), jnp.exp(log_o)
    out = dict(
        objective=obj,
        log_N=log_n,
        log_D=log_d,
        log_Omega=log_o,
        N=N,
        D=D,
        Omega=Om,
        value=accuracy(problem, N, D, Om),
        hessian_ok=ok,
    )
    if prep["scalar"]:
        out = {k: v[0] for k, v in out.items()}
    return out
