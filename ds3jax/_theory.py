"""Theory results of Sec. II-F and III-C: Theorem 1, Conjecture 1 and Theorem 2.

Setup of Theorem 1: ToT(b) gets the asymptotically equal-compute budget sqrt(b) Omega
(Eq. 39), so with per-step probability eps,

    psi^(b)(eps, m) = I_{1 - (1 - eps)^b}(m, Omega / (sqrt(b) omega) - m + 1),  b >= 1,

and b = 1 is CoT.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from ._checks import check_probability
from ._strategies import ToT, _log_failure, _prepare, log_success, success

__all__ = [
    "equal_compute_success",
    "low_capability_ratio",
    "low_capability_success",
    "crossover_epsilon",
    "amplification",
    "critical_depth",
    "max_amplification",
]


def equal_compute_success(eps, m, budget, omega, branching: int):
    """psi^(b)(eps, m) of Theorem 1: ToT(b) with budget sqrt(b) * budget (CoT at b = 1)."""
    return success(ToT(branching), eps, m, jnp.sqrt(float(branching)) * budget, omega)


def low_capability_ratio(branching, m):
    """Theorem 1, low-capability regime: psi^(b) / psi^(1) -> b^(m / 2) as eps -> 0 with
    Omega / (sqrt(b) omega) >> m (App. A-A)."""
    return jnp.power(jnp.asarray(branching, jnp.result_type(m, float)), 0.5 * jnp.asarray(m))


def low_capability_success(eps, m, budget, omega, branching=1):
    """App. A-A leading term: psi^(b) ~ (eps Omega / omega)^m / m! * b^(m / 2)."""
    check_probability("eps", eps)
    dtype = jnp.result_type(eps, m, budget, omega, float)
    eps, m, budget, omega = (jnp.asarray(v, dtype) for v in (eps, m, budget, omega))
    log_val = (
        m * jnp.log(eps * budget / omega) - gammaln(m + 1) + 0.5 * m * jnp.log(float(branching))
    )
    return jnp.exp(log_val)


def crossover_epsilon(m, branching: int, c=None, *, steps: int = 64):
    """Conjecture 1: the per-step probability eps*(m) where ToT(b) and CoT swap places.

    With Omega_budget = c m omega (c > sqrt(b); default c = 1.05 sqrt(b)), Delta(eps, m) =
    psi^(b) - psi^(1) is positive for small eps (ToT(b) better) and negative for large eps
    (CoT better).  eps* is found by ``steps`` bisection steps on the sign of Delta,
    evaluated in log space (log psi when both are below 1/2, log(1 - psi) otherwise) so
    the sign is right even where both probabilities are within rounding of 0 or 1.
    Vectorised over ``m`` and ``c``; jit-able.  Returns NaN where Delta has the same sign
    at eps = 1e-9 and 1 - 1e-6 (no crossover: e.g. for small m and c well above sqrt(b),
    ToT(b) wins for every eps in this continuous-budget model).
    """
    b = int(branching)
    dtype = jnp.result_type(m, c if c is not None else 1.0, float)
    m = jnp.asarray(m, dtype)
    c = jnp.asarray(1.05 * b**0.5 if c is None else c, dtype)
    omega = jnp.asarray(1.0, dtype)
    budget = c * m * omega
    tot, cot = ToT(b), ToT(1)

    def tot_better(eps):
        bt = jnp.sqrt(jnp.asarray(b, dtype)) * budget
        ls_t = log_success(tot, eps, m, bt, omega)
        ls_c = log_success(cot, eps, m, budget, omega)
        lf_t = _log_failure(tot, *_prepare(tot, eps, m, bt, omega))
        lf_c = _log_failure(cot, *_prepare(cot, eps, m, budget, omega))
        low = jnp.maximum(ls_t, ls_c) < jnp.log(0.5)
        return jnp.where(low, ls_t > ls_c, lf_t < lf_c)

    shape = jnp.broadcast_shapes(m.shape, c.shape)
    lo = jnp.full(shape, 1e-9, dtype)
    hi = jnp.full(shape, 1.0 - 1e-6, dtype)
    ok = tot_better(lo) & ~tot_better(hi)

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        better = tot_better(mid)
        return jnp.where(better, mid, lo), jnp.where(better, hi, mid)

    lo, hi = jax.lax.fori_loop(0, steps, body, (lo, hi))
    return jnp.where(ok, 0.5 * (lo + hi), jnp.nan)


def amplification(t, r):
    """A(t, r) = t (1 - r)^(t - 1): N-slope of S(N, t) = 1 - (1 - r)^t per dr/dN (Theorem 2)."""
    check_probability("r", r, "a per-step success probability")
    t, r = jnp.asarray(t), jnp.asarray(r)
    # t = 1: (1 - r)^0 = 1 also at r = 1, where (t - 1) log1p(-r) was 0 * -inf = NaN
    one = t == 1
    r_safe = jnp.where(one, 0.0, r)
    return t * jnp.exp(jnp.where(one, 0.0, (t - 1) * jnp.log1p(-r_safe)))


def critical_depth(r):
    """t*(r) = 1 / r - 1 (Theorem 2): the slope grows with depth t up to t*."""
    check_probability("r", r, "a per-step success probability")
    return 1.0 / jnp.asarray(r) - 1.0


def max_amplification(r):
    """g(r) = (1/r - 1)(1 - r)^(1/r - 2) for r < 1/2 and 1 for r >= 1/2 (Theorem 2).

    The paper's factor by which reasoning depth can steepen the N-slope (the maximum of
    A(t, r) over real t; over whole depths t it can be slightly larger, e.g. A(3, 0.3) =
    1.470 against g(0.3) = 1.450): strictly decreasing,
    g(1/2) = 1 and g -> infinity as r -> 0 (App. D-A).  Computed as
    exp(log(1/r - 1) + (1/r - 2) log1p(-r)).
    """
    check_probability("r", r, "a per-step success probability")
    r = jnp.asarray(r, jnp.result_type(r, float))
    small = (r < 0.5) & (r > 0)
    rs = jnp.where(small, r, 0.25)
    log_g = jnp.log1p(-rs) - jnp.log(rs) + (1.0 / rs - 2.0) * jnp.log1p(-rs)
    # g -> infinity as r -> 0 (it was NaN at r = 0)
    return jnp.where(small, jnp.exp(log_g), jnp.where(r == 0, jnp.inf, 1.0))
