"""Push-forward of a task-difficulty distribution through DS3 to pass@k (App. E-D, Eq. 64-70).

Each task is a pair (L0, m): m required skills (discrete, probabilities Pr[m]) and skill
difficulty L0 | m ~ N(mu_m, sigma_m^2).  A model with pretraining loss L, search
directionality iota_hat and step budget T_max solves one sample with

    p = a sigma(b (L0 - L)) + d,   u = iota_hat p,   psi = I_u(m, T_max - m + 1)   (Eq. 64-67)

and a fraction 1 - A of tasks is unsolvable (psi = 0).  Instead of simulating, everything is
an explicit integral over the Gaussian in L0, done by the trapezoid rule on a fixed grid of
standardised z in [-9, 9] (accuracy: :func:`pushforward_passk`):

    pass@k = A sum_m Pr[m] E_{L0 | m}[1 - (1 - psi(L0, m))^k],

and the push-forward CDF (the integral of Eq. 70) is exact through the inverse map

    P(Psi <= psi) = (1 - A) + A sum_m Pr[m] Phi((l(psi, m) - mu_m) / sigma_m),
    l(psi, m) = L + logit((I^{-1}(psi; m, T_max - m + 1) / iota_hat - d) / a) / b,

with Phi = 1 where psi is beyond the reach of the model (u would exceed iota_hat (a + d)).
Eq. 68-70's density is its derivative (``jax.grad``).  Fits are least squares on pass@k
curves of several models at once, sharing (mu_m, sigma_m) and giving each model its own
iota_hat; gradients are exact (JAX), the optimiser is scipy's bounded trust region.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize as so
from jax.scipy.special import ndtr

from .._checks import (
    check_fields,
    check_int,
    in_unit_interval,
    is_host_value,
    is_placeholder,
    positive,
)
from .._pytree import parameter_pytree
from .._transfer import SigmoidTransfer
from ..special import betainc
from ..special._betaincinv import betaincinv
from ._data import Curve
from ._passk import _check_k

__all__ = ["PushForward", "pushforward_passk", "pushforward_cdf", "fit_iota_hat", "IotaFit"]

_Z = np.linspace(-9.0, 9.0, 721)
_WZ = np.exp(-0.5 * _Z**2)
_WZ /= _WZ.sum()  # the normal's mass beyond |z| = 9 is 2e-19: sum to 1 exactly


@parameter_pytree(meta_fields=("m_values", "sig_a", "sig_b", "sig_d"))
@dataclasses.dataclass(frozen=True)
class PushForward:
    """Task prior and one model, for the push-forward of Eq. 64-70.

    Fields:
      mu, sigma: arrays [M]: Gaussian skill-difficulty L0 | m for each skill count.
      m_probs: array [M], Pr[m] (sums to 1).
      iota: search directionality iota_hat in (0, 1].
      loss: the model's pretraining loss L (Table II).
      t_max: step budget T_max = output budget / omega (Table II).
      solvable: A, fraction of solvable tasks.
      m_values: static tuple of the skill counts m (e.g. (1, 100)).
      sig_a, sig_b, sig_d: two-step sigmoid constants of Eq. 65 (a = 1, b = 5, d = 0).

    Python and NumPy values are checked when the object is built (as for the other parameter
    pytrees; jax arrays, which the fit builds from its iterates, are not); lists become
    arrays.
    """

    mu: jax.Array
    sigma: jax.Array
    m_probs: jax.Array
    iota: jax.Array
    loss: jax.Array
    t_max: jax.Array
    solvable: jax.Array = 1.0
    m_values: tuple = dataclasses.field(default=(1, 100), metadata=dict(static=True))
    sig_a: float = dataclasses.field(default=1.0, metadata=dict(static=True))
    sig_b: float = dataclasses.field(default=5.0, metadata=dict(static=True))
    sig_d: float = dataclasses.field(default=0.0, metadata=dict(static=True))

    def __post_init__(self):
        for name in ("mu", "sigma", "m_probs", "iota", "loss", "t_max", "solvable"):
            if isinstance(getattr(self, name), (list, tuple)):
                object.__setattr__(self, name, np.asarray(getattr(self, name), float))
        ms = np.asarray(self.m_values, float)
        if ms.ndim != 1 or not ms.size or not np.all((ms >= 1) & (ms == np.round(ms))):
            raise ValueError(f"m_values must be skill counts, integers >= 1, got {self.m_values}")
        SigmoidTransfer(self.sig_a, self.sig_b, self.sig_d)  # the same checks as Eq. 2's map
        if is_placeholder(self):
            return
        M = ms.size
        for name in ("mu", "sigma", "m_probs"):
            v = getattr(self, name)
            if is_host_value(v) and np.shape(v) != (M,):
                raise ValueError(
                    f"PushForward.{name} needs one entry per skill count m_values={self.m_values} "
                    f"(shape ({M},)), got shape {np.shape(v)}"
                )
        check_fields(
            self,
            {
                "mu": (np.isfinite, "finite"),
                "sigma": (positive, "positive and finite"),
                "m_probs": (in_unit_interval, "in [0, 1] (probabilities of m)"),
                "iota": (lambda v: (v > 0) & (v <= 1), "in (0, 1] (search directionality)"),
                "loss": (np.isfinite, "finite"),
                "t_max": (positive, "positive and finite (the step budget)"),
                "solvable": (in_unit_interval, "in [0, 1] (the solvable share)"),
            },
        )
        if is_host_value(self.m_probs) and not np.isclose(np.sum(self.m_probs), 1.0, rtol=1e-6):
            raise ValueError(f"PushForward.m_probs must sum to 1, got {np.sum(self.m_probs)!r}")


def _psi_grid(model: PushForward, dtype):
    """psi on the z-grid: shape [M, Z]."""
    z = jnp.asarray(_Z, dtype)
    m = jnp.asarray(model.m_values, dtype)[:, None]
    l0 = jnp.asarray(model.mu, dtype)[:, None] + jnp.asarray(model.sigma, dtype)[:, None] * z
    p = model.sig_a * jax.nn.sigmoid(model.sig_b * (l0 - model.loss)) + model.sig_d
    # keep u off the end points, where derivatives of I_u are infinite or 0 * inf
    tiny = jnp.finfo(dtype).tiny ** 0.5
    u = jnp.clip(model.iota * p, tiny, 1.0 - jnp.finfo(dtype).eps)
    b = jnp.maximum(model.t_max - m + 1.0, 1e-6)
    psi = jnp.where(model.t_max - m + 1.0 > 0, betainc(m, b, u), 0.0)
    return jnp.clip(psi, 0.0, 1.0 - jnp.finfo(dtype).eps)


def pushforward_passk(model: PushForward, k):
    """pass@k of the push-forward population (Eq. 56 with Eq. 64-67), k of any shape.

    Accuracy: the trapezoid rule resolves 1 - (1 - psi)^k as a function of L0 when its
    switch (width ~1e-3 in L0 for m = 100 at large k) spans a few grid steps of
    0.025 sigma_m: to ~1e-13 for sigma_m <= 0.3 (the paper's fits); ~1e-3 absolute at
    sigma_m = 3 and k = 1e6.
    """
    _check_k(k)
    k = jnp.asarray(k)
    dtype = jnp.result_type(k, model.mu, float)
    psi = _psi_grid(model, dtype)  # [M, Z]
    w = jnp.asarray(_WZ, dtype)
    log_fail = k.astype(dtype)[..., None, None] * jnp.log1p(-psi)
    solve = -jnp.expm1(log_fail)  # [..., M, Z]
    per_m = jnp.sum(solve * w, axis=-1)
    return model.solvable * jnp.sum(per_m * jnp.asarray(model.m_probs, dtype), axis=-1)


def pushforward_cdf(model: PushForward, psi):
    """P(task success rate <= psi) under the push-forward (integral of Eq. 70), exact.

    0 below psi = 0; at psi = 0 the atom of unsolvable tasks: 1 - A, plus A Pr[m] for each
    skill count m beyond the step budget (T_max < m: psi = 0, as in
    :func:`pushforward_passk`); NaN for NaN.
    """
    psi = jnp.asarray(psi)
    dtype = jnp.result_type(psi, model.mu, float)
    psi = psi.astype(dtype)[..., None]  # [..., 1] against [M]
    m = jnp.asarray(model.m_values, dtype)
    feasible = model.t_max - m + 1.0 > 0
    b = jnp.where(feasible, model.t_max - m + 1.0, 1.0)
    u = betaincinv(m, b, psi)
    p = (u / model.iota - model.sig_d) / model.sig_a
    reach = p < 1.0
    p_s = jnp.clip(jnp.where(reach, p, 0.5), jnp.finfo(dtype).tiny, 1.0 - jnp.finfo(dtype).eps)
    l0 = model.loss + (jnp.log(p_s) - jnp.log1p(-p_s)) / model.sig_b
    phi = jnp.where(reach, ndtr((l0 - model.mu) / model.sigma), 1.0)
    phi = jnp.where(psi <= 0, 0.0, phi)
    phi = jnp.where(feasible, phi, 1.0)  # every such task has psi = 0 <= psi
    cont = jnp.sum(jnp.asarray(model.m_probs, dtype) * phi, axis=-1)
    out = (1.0 - model.solvable) + model.solvable * cont
    psi = psi[..., 0]
    return jnp.where(jnp.isnan(psi), jnp.nan, jnp.where(psi < 0, 0.0, out))


@dataclasses.dataclass(frozen=True)
class IotaFit:
    """Joint push-forward fit: shared task prior, one iota_hat per model.

    Attributes: ``iota`` (dict model -> iota_hat), ``iota_stderr``, ``mu``, ``sigma``
    (arrays [M]), ``models`` (dict model -> fitted :class:`PushForward`), ``rmse`` and
    ``max_abs_error`` per model, ``success``, and ``start_sse``: the total squared error
    each local fit ended at, in the order of the starts (the result is the smallest; starts
    that end far apart mean the landscape has several minima).
    """

    iota: dict
    iota_stderr: dict
    mu: np.ndarray
    sigma: np.ndarray
    models: dict
    rmse: dict
    max_abs_error: dict
    success: bool
    start_sse: tuple = ()


def fit_iota_hat(
    data: dict,
    *,
    m_values=(1, 100),
    m_probs=(0.93, 0.07),
    mu0=None,
    sigma0=None,
    iota0: float = 0.5,
    n_starts: int = 4,
) -> IotaFit:
    """Fit (mu_m, sigma_m) shared across models and one iota_hat per model (App. E-D).

    Args:
      data: dict name -> (curve, loss, t_max, solvable): a pass@k :class:`Curve`, the model's
        loss L and step budget T_max (Table II), and A from its Beta fit.
      m_values, m_probs: the discrete skill-count prior (paper: m in {1, 100}, 0.93 / 0.07).
      mu0, sigma0: starting values (default: mu = median loss, sigma = 0.3).
      iota0: starting iota_hat for every model.
      n_starts: local fits to run: the start above, then up to three spread ones (skill-count
        components centred below the median loss L, wider sigmas, iota_hat 0.3 / 0.5 / 0.6),
        then seeded random ones; the lowest total squared error wins. The landscape has
        several local minima (the paper uses differential evolution): on the paper's curves
        one start ends at three times the best error, and which one does can change with
        rounding alone.

    Least squares over all points (the residuals of every curve stacked), bounds
    sigma in [1e-3, 10] and iota_hat in [1e-4, 1] (mu is free: a component far from every
    loss, all solved or all unsolved, can drift to huge |mu| at no cost); standard errors
    of iota_hat from the Gauss-Newton Hessian.  Sensitive to the assumed prior (App. E-D
    says as much).
    """
    names = list(data)
    M = len(m_values)
    if not np.isclose(np.sum(m_probs), 1.0):
        raise ValueError(f"m_probs must sum to 1, got {m_probs}")
    for name in names:
        if not isinstance(data[name][0], Curve):
            raise TypeError(f"data[{name!r}][0] must be a Curve")
    n_starts = check_int("n_starts", n_starts, 1)
    losses = np.array([float(data[n][1]) for n in names])
    med = float(np.median(losses))
    mu0 = np.full(M, med) if mu0 is None else np.asarray(mu0, float)
    sigma0 = np.full(M, 0.3) if sigma0 is None else np.asarray(sigma0, float)
    spread = [
        (np.linspace(med - 0.5, med + 0.5, M), np.full(M, 0.3), 0.5),
        (np.linspace(med - 1.5, med - 0.5, M), np.geomspace(0.5, 3.0, M), 0.3),
        (np.linspace(med - 1.5, med, M), np.geomspace(0.5, 5.0, M), 0.6),
    ]
    if mu0.shape != (M,) or sigma0.shape != (M,) or not np.all(sigma0 > 0):
        raise ValueError(
            f"mu0 and sigma0 need one entry per skill count m_values={tuple(m_values)} "
            f"(sigma0 > 0), got {mu0.tolist()} and {sigma0.tolist()}"
        )
    rng = np.random.default_rng(0)
    for _ in range(n_starts - 1 - len(spread)):
        spread.append(
            (
                np.sort(med + rng.uniform(-2.0, 1.0, M)),
                np.exp(rng.uniform(np.log(0.2), np.log(5.0), M)),
                rng.uniform(0.1, 0.9),
            )
        )
    starts = [(mu0, sigma0, iota0)] + spread[: n_starts - 1]
    n_models = len(names)
    # mu unbounded: finite bounds change the trust region's scaling, and the paper-curve
    # fit then stopped on its evaluation limit
    lo = np.concatenate([np.full(M, -np.inf), np.full(M, np.log(1e-3)), np.full(n_models, 1e-4)])
    hi = np.concatenate([np.full(M, np.inf), np.full(M, np.log(10.0)), np.ones(n_models)])

    def unpack(x, i):
        name = names[i]
        _, loss, t_max, A = data[name]
        return PushForward(
            mu=x[:M],
            sigma=jnp.exp(x[M : 2 * M]),
            m_probs=jnp.asarray(m_probs, x.dtype),
            iota=x[2 * M + i],
            loss=jnp.asarray(float(loss), x.dtype),
            t_max=jnp.asarray(float(t_max), x.dtype),
            solvable=jnp.asarray(float(A), x.dtype),
            m_values=tuple(int(v) for v in m_values),
        )

    ks = [jnp.asarray(data[n][0].k) for n in names]
    ys = [jnp.asarray(data[n][0].y) for n in names]

    @jax.jit
    def residual(x):
        return jnp.concatenate(
            [pushforward_passk(unpack(x, i), ks[i]) - ys[i] for i in range(len(names))]
        )

    jac = jax.jit(jax.jacfwd(residual))
    sols = []
    for m0, s0, i0 in starts:
        x0 = np.concatenate([m0, np.log(s0), np.full(n_models, float(i0))])
        sols.append(
            so.least_squares(
                lambda x: np.asarray(residual(jnp.asarray(x))),
                np.clip(x0, lo + 1e-9, hi - 1e-9),
                jac=lambda x: np.asarray(jac(jnp.asarray(x))),
                bounds=(lo, hi),
                x_scale="jac",
                # the second skill-count component's sigma is nearly flat on the paper's
                # curves: the trust region crawls along it for ~1,000 evaluations (scipy's
                # default stops at 800)
                max_nfev=4000,
            )
        )
    start_sse = tuple(2.0 * float(sol.cost) for sol in sols)
    sol = sols[int(np.argmin(start_sse))]
    x = sol.x
    J = sol.jac
    r = sol.fun
    dof = max(r.size - x.size, 1)
    cov = float(r @ r) / dof * np.linalg.pinv(J.T @ J)
    out_models, rmse, mx, iota, iota_se = {}, {}, {}, {}, {}
    start = 0
    for i, name in enumerate(names):
        n = ks[i].size
        ri = r[start : start + n]
        start += n
        out_models[name] = unpack(jnp.asarray(x), i)
        rmse[name] = float(np.sqrt(np.mean(ri**2)))
        mx[name] = float(np.max(np.abs(ri)))
        iota[name] = float(x[2 * M + i])
        iota_se[name] = float(np.sqrt(max(cov[2 * M + i, 2 * M + i], 0.0)))
    return IotaFit(
        iota=iota,
        iota_stderr=iota_se,
        mu=np.asarray(x[:M]),
        sigma=np.exp(x[M : 2 * M]),
        models=out_models,
        rmse=rmse,
        max_abs_error=mx,
        success=bool(sol.success),
        start_sse=start_sse,
    )
