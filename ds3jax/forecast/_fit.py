"""Maximum (penalised) likelihood fits of per-problem counts across checkpoints, forecasts at
any (N, D, k), and bootstrap intervals over problems.

The objective of a model with local parameters phi_i (problem i) and shared theta is

    F(phi, theta) = - sum_i [ sum_k c_ik log psi_ik + (n_ik - c_ik) log(1 - psi_ik)
                              + log prior(phi_i | theta, level_i) ]

(binomial counts c of n samples, up to the constant log C(n, c); psi from the model, see
:mod:`._models`). It is minimised over phi and the free entries of theta by damped Newton steps
(Levenberg-Marquardt, projected on bounds) on exact JAX gradients, the Hessian from central
differences of those gradients. The rows of a problem touch only its own phi_i, so the Hessian is a
block arrow: per-problem blocks are found with one ``vmap`` of ``jax.hessian``, and
everything else (profile curvature of theta, bootstrap steps) uses the Schur complement over
theta.

Bootstrap over problems (vmapped): replicate r draws multinomial problem weights w_r (mean 1)
and moves the estimate by one Newton step of the reweighted objective sum_i w_ri f_i,

    delta_r = - H^-1 sum_i (w_ri - 1) grad f_i,

which is the first-order (infinitesimal-jackknife) bootstrap; directions of theta with no
curvature (not identified by the data) get no step. Interval bounds are quantiles of the
replicates' forecasts; the mean over problems of replicate r uses the same weights w_r.

A problem's own phi_i does not move with its weight (its gradient is zero at the optimum),
so these replicates hold the shared parameters' uncertainty only. The per-problem intervals
add each problem's own: phi_i + A_i^(-1/2) z_ri, z ~ N(0, I), A_i the curvature of f_i in
phi_i (counts and prior), so that replicate r's phi_i has the covariance of the block of
the full inverse Hessian, A_i^-1 + A_i^-1 H_i,theta Cov(theta) H_theta,i A_i^-1.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from .._checks import check_int, check_level, check_n_boot

__all__ = ["ForecastFit", "fit_model", "PINNED_SE"]

# A shared parameter counts as pinned by the data when its profile standard error is below
# this (log units for the positive constants L_N, L_D, alpha, beta, b, iota_hat; nats for E
# and the level means).
PINNED_SE = 0.25


def _float_dtype():
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


# log(1 - psi) is floored so that a trial step of the optimiser into psi ~ 1 gives a huge but
# finite objective (the damped Newton step is then rejected and the damping raised).
_LOG_FLOOR = -1e4


def _problem_nll(model, z, logN, logD, n_i, c_i, level_i):
    """f_i: minus the log likelihood of problem i's counts plus its log prior; z = (phi_i,
    theta)."""
    nl = len(model.phi_names)
    phi_i, theta = z[:nl], z[nl:]
    lp, lf = model.logs(phi_i, theta, logN, logD)
    lp, lf = jnp.maximum(lp, _LOG_FLOOR), jnp.maximum(lf, _LOG_FLOOR)
    ll = jnp.where(c_i > 0, c_i * lp, 0.0) + jnp.where(n_i > c_i, (n_i - c_i) * lf, 0.0)
    return -(jnp.sum(ll) + model.log_prior(phi_i, theta, level_i))


@functools.partial(jax.jit, static_argnames=("model",))
def _problem_value_grad(model, phi, theta, logN, logD, n, c, levels):
    """f_i [P] and its gradient [P, nl + nt] with respect to (phi_i, theta), vmapped over
    problems. The one compiled kernel behind the fit, the Hessian and the bootstrap."""

    def one(phi_i, n_i, c_i, lv):
        z = jnp.concatenate([phi_i, theta])
        return jax.value_and_grad(_problem_nll, argnums=1)(model, z, logN, logD, n_i, c_i, lv)

    return jax.vmap(one)(phi, n, c, levels)


def _blocks(model, phi, theta, args, h=1e-5, coords=None, central=True):
    """Per-problem gradients [P, nl + nt] and Hessians [P, nl + nt, nl + nt] of f_i.

    Central differences of the exact gradients, one coordinate of (phi_i, theta) at a time
    for all problems at once (f_i depends on phi_i and theta only); relative error ~1e-7,
    ample for standard errors and bootstrap steps, and it reuses the fit's compiled kernel
    (jax.hessian through the incomplete beta takes minutes to compile on a CPU)."""
    P, nl = phi.shape
    nt = theta.shape[0]
    _, g0 = _problem_value_grad(model, phi, theta, *args)
    g0 = np.asarray(g0)
    hess = np.zeros((P, nl + nt, nl + nt))
    for j in range(nl + nt) if coords is None else coords:
        cols = []
        for sign in (1.0, -1.0) if central else (1.0,):
            if j < nl:
                ph, th = phi.at[:, j].add(sign * h), theta
            else:
                ph, th = phi, theta.at[j - nl].add(sign * h)
            cols.append(np.asarray(_problem_value_grad(model, ph, th, *args)[1]))
        hess[:, :, j] = (cols[0] - cols[1]) / (2 * h) if central else (cols[0] - g0) / h
    return g0, 0.5 * (hess + np.swapaxes(hess, 1, 2))


def _psd_inverse(h, floor):
    """Inverse of symmetric matrices [..., n, n] with eigenvalues floored at ``floor``."""
    w, v = np.linalg.eigh(0.5 * (h + np.swapaxes(h, -1, -2)))
    w = np.maximum(w, floor)
    return np.einsum("...ij,...j,...kj->...ik", v, 1.0 / w, v)


@dataclasses.dataclass(frozen=True)
class _Curvature:
    """The block-arrow Hessian at the optimum, reduced to what the bootstrap needs."""

    grads: np.ndarray  # [P, nl + nt]
    phi_inv: np.ndarray  # [P, nl, nl]   (H_phi_phi_i)^-1
    cross: np.ndarray  # [P, nl, nt]    H_phi_theta_i
    schur: np.ndarray  # [nt, nt]       theta block minus sum_i H_theta_phi A_i H_phi_theta


def _curvature(model, phi, theta, args) -> _Curvature:
    g, h = _blocks(model, phi, theta, args)
    nl = phi.shape[1]
    h_pp, h_pt, h_tt = h[:, :nl, :nl], h[:, :nl, nl:], h[:, nl:, nl:].sum(axis=0)
    a = _psd_inverse(h_pp, 1e-8)
    schur = h_tt - np.einsum("pik,pij,pjl->kl", h_pt, a, h_pt)
    return _Curvature(grads=g, phi_inv=a, cross=h_pt, schur=0.5 * (schur + schur.T))


def _profile_se(schur: np.ndarray, free: np.ndarray):
    """Standard error of each theta entry when it is added to (or is one of) the free ones
    and all others are profiled out: 1 / sqrt(curvature of the profile). inf = flat."""
    nt = len(free)
    se = np.full(nt, np.inf)
    curv = np.zeros(nt)
    for j in range(nt):
        others = np.flatnonzero(free & (np.arange(nt) != j))
        s_oo = schur[np.ix_(others, others)]
        s_jo = schur[j, others]
        if others.size:
            w, v = np.linalg.eigh(s_oo)
            keep = w > 1e-12 * max(w.max(), 1e-300)
            k = schur[j, j] - ((s_jo @ v[:, keep]) ** 2 / w[keep]).sum()
        else:
            k = schur[j, j]
        curv[j] = k
        # curvature lost to rounding relative to the parameter's own curvature = flat
        if k > 1e-8 * abs(schur[j, j]) and k > 0:
            se[j] = 1.0 / np.sqrt(k)
    return se, curv


def _bootstrap_steps(cur: _Curvature, free: np.ndarray, weights: np.ndarray):
    """One-step Newton bootstrap: delta_phi [B, P, nl], delta_theta [B, nt] (zero for fixed)."""
    nl = cur.phi_inv.shape[1]
    f = np.flatnonzero(free)
    r = np.einsum("bp,pj->bpj", weights - 1.0, cur.grads)  # [B, P, nl + nt]
    r_phi, r_theta = r[..., :nl], r[..., nl:].sum(axis=1)[:, f]
    cross = cur.cross[:, :, f]
    s = cur.schur[np.ix_(f, f)]
    w, v = np.linalg.eigh(s)
    keep = w > 1e-9 * max(w.max(), 1e-300)
    s_pinv = (v[:, keep] / w[keep]) @ v[:, keep].T
    a_r = np.einsum("pij,bpj->bpi", cur.phi_inv, r_phi)
    d_theta_f = (r_theta - np.einsum("pik,bpi->bk", cross, a_r)) @ s_pinv
    d_phi = np.einsum(
        "pij,bpj->bpi", cur.phi_inv, r_phi - np.einsum("pik,bk->bpi", cross, d_theta_f)
    )
    d_theta = np.zeros((weights.shape[0], len(free)))
    d_theta[:, f] = d_theta_f
    return -d_phi, -d_theta


@functools.partial(jax.jit, static_argnames=("model",))
def _log_fail(model, phi, theta, logN, logD):
    """log(1 - psi) of every problem [S..., P] at log N, log D of shape [S...]."""
    return model.logs(phi, theta, logN[..., None], logD[..., None])[1]


@functools.partial(jax.jit, static_argnames=("model",))
def _log_fail_boot(model, phi_b, theta_b, logN, logD):
    """log(1 - psi) [B, S..., P] for each bootstrap replicate (vmapped)."""
    return jax.vmap(lambda p, t: _log_fail(model, p, t, logN, logD))(phi_b, theta_b)


def _passk_from_log_fail(lf, k):
    """pass@k = 1 - (1 - psi)^k = -expm1(k log(1 - psi)) (Eq. 56 for one problem)."""
    return -np.expm1(np.asarray(k)[..., None] * lf)


@dataclasses.dataclass(frozen=True)
class ForecastFit:
    """A fitted per-problem model of success across checkpoints (see :func:`fit_checkpoints`).

    Attributes:
      model: the model (:class:`DS3Model` or :class:`LogisticModel`), static settings.
      problems: problem ids [P], the order of every per-problem result.
      levels: each problem's level [P] (as in the table); ``level_values`` the distinct ones.
      phi: fitted local parameters [P, nl] (names ``model.phi_names``).
      theta: shared parameters [nt] (names ``model.theta_names``); ``free`` marks fitted ones.
      nll: the minimised objective F; ``converged``, ``n_iter``, ``message`` from the damped
        Newton iteration.
      theta_se: profile standard error of each theta entry (inf: not identified by the data;
        for fixed entries, what it would be if it were freed).
      boot_phi, boot_theta, boot_weights: the bootstrap replicates [B, ...];
        ``boot_phi_own`` adds each problem's own estimation noise (per-problem intervals).
      train_checkpoints: the (N, D) pairs fitted.
    """

    model: object
    problems: np.ndarray
    levels: np.ndarray
    level_values: np.ndarray
    phi: np.ndarray
    theta: np.ndarray
    free: np.ndarray
    nll: float
    converged: bool
    n_iter: int
    message: str
    theta_se: np.ndarray
    theta_curvature: np.ndarray
    boot_phi: np.ndarray
    boot_theta: np.ndarray
    boot_weights: np.ndarray
    train_checkpoints: tuple
    boot_phi_own: np.ndarray | None = None

    # ------------------------------------------------------------------ forecasts
    def _grid(self, N, D, k):
        N, D, k = (np.asarray(v, float) for v in (N, D, k))
        np.broadcast_shapes(N.shape, D.shape, k.shape)
        if (
            np.any(N <= 0)
            or np.any(D <= 0)
            or not (np.all(np.isfinite(N)) and np.all(np.isfinite(D)))
        ):
            raise ValueError("N and D must be finite and > 0")
        if np.any(k < 1) or not np.all(np.isfinite(k)):
            raise ValueError("k must be finite and >= 1")
        # N and D take k's shape too: a bootstrap's leading replicate axis then lines up
        N, D, k = np.broadcast_arrays(N, D, k)
        dt = _float_dtype()
        return jnp.asarray(np.log(N), dt), jnp.asarray(np.log(D), dt), k

    def problem_passk(self, N, D, k):
        """Per-problem pass@k at (N, D) with k samples: shape broadcast(N, D, k) + [P],
        problems in the order of :attr:`problems`. Any N, D > 0 (also never trained) and
        any real k >= 1."""
        lN, lD, k = self._grid(N, D, k)
        dt = _float_dtype()
        lf = np.asarray(
            _log_fail(self.model, jnp.asarray(self.phi, dt), jnp.asarray(self.theta, dt), lN, lD)
        )
        return _passk_from_log_fail(lf, k)

    def passk(self, N, D, k):
        """pass@k averaged over the problems (Eq. 56 with equal weights): broadcast shape."""
        return self.problem_passk(N, D, k).mean(axis=-1)

    def problem_psi(self, N, D):
        """Per-sample success psi of each problem at (N, D): broadcast shape + [P]."""
        return self.problem_passk(N, D, 1.0)

    def _boot(self, N, D, k, own: bool = False):
        if self.boot_phi.shape[0] == 0:
            raise ValueError(
                "fitted with n_boot = 0: no bootstrap replicates, so no intervals; refit with "
                "n_boot >= 20"
            )
        lN, lD, k = self._grid(N, D, k)
        dt = _float_dtype()
        phi = self.boot_phi_own if own and self.boot_phi_own is not None else self.boot_phi
        lf = np.asarray(
            _log_fail_boot(
                self.model, jnp.asarray(phi, dt), jnp.asarray(self.boot_theta, dt), lN, lD
            )
        )
        return _passk_from_log_fail(lf, k)

    def problem_passk_interval(self, N, D, k, level: float = 0.9):
        """(low, high) interval of each problem's pass@k (shape as problem_passk): the
        bootstrap's shared-parameter spread plus the problem's own estimation noise (module
        doc). Without the latter the bands were 20 times too narrow and held the truth for
        5% of the problems."""
        level = check_level(level)
        b = self._boot(N, D, k, own=True)
        lo, hi = np.quantile(b, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return lo, hi

    def passk_interval(self, N, D, k, level: float = 0.9, errors=None):
        """(low, high) bootstrap interval over problems of the mean pass@k: replicate r
        averages its own forecasts with its problem weights w_r.

        ``errors`` (an :class:`ExtrapolationErrors` from :func:`extrapolation_errors`) widens
        it into a band for the measurement: every replicate's mean is moved by every logit
        residual at k (``errors.at(k)``), expit(logit(mean_r) + e_j), before the quantiles.
        Without it the band holds the fitted model's uncertainty only (loss law and transfer
        taken as right)."""
        level = check_level(level)
        b = self._boot(N, D, k)  # [B, S..., P]
        w = self.boot_weights.reshape((b.shape[0],) + (1,) * (b.ndim - 2) + (b.shape[-1],))
        means = (b * w).sum(axis=-1) / w.sum(axis=-1)
        q = [(1 - level) / 2, (1 + level) / 2]
        if errors is None:
            lo, hi = np.quantile(means, q, axis=0)
            return lo, hi
        kk = np.broadcast_to(np.asarray(k, float), means.shape[1:])
        at = {v: np.asarray(errors.at(v)) for v in np.unique(kk)}  # once per distinct k
        lg = scipy.special.logit(np.clip(means, 1e-300, 1.0 - 1e-16))
        lo, hi = np.empty(kk.shape), np.empty(kk.shape)
        for idx in np.ndindex(kk.shape):
            moved = lg[(slice(None),) + idx][:, None] + at[kk[idx]][None, :]
            lo[idx], hi[idx] = np.quantile(scipy.special.expit(moved), q)
        return lo, hi

    # ------------------------------------------------------------------ reporting
    def parameters(self) -> dict:
        """Shared parameters by name: ``value``, ``free`` (fitted or fixed), ``se`` (profile
        standard error; inf where the data give no curvature at all) and ``pinned``
        (se < :data:`PINNED_SE`: for a fixed entry, whether the data could have pinned it).
        Per-level entries are numbered by position: ``mu_L0[j]`` belongs to the level
        ``level_values[j]`` (with levels 1-5, ``mu_L0[0]`` is level 1)."""
        out = {}
        for j, name in enumerate(self.model.theta_names):
            out[name] = {
                "value": float(self.theta[j]),
                "free": bool(self.free[j]),
                "se": float(self.theta_se[j]),
                "pinned": bool(self.theta_se[j] < PINNED_SE),
            }
        return out

    def not_pinned(self) -> list[str]:
        """Names of the shared parameters the data cannot pin (free or fixed)."""
        return [k for k, v in self.parameters().items() if not v["pinned"]]

    def problem_parameters(self) -> dict:
        """Local parameters by name, each an array [P] in the order of :attr:`problems`."""
        out = {n: self.phi[:, j] for j, n in enumerate(self.model.phi_names)}
        if hasattr(self.model, "skills"):
            out["m"] = np.asarray(self.model.skills(jnp.asarray(self.phi)))
        return out


def _split(x, theta_fixed, free, P, nl):
    theta = theta_fixed.copy()
    theta[free] = x[P * nl :]
    return x[: P * nl].reshape(P, nl), theta


def _objective(model, x, theta_fixed, free, P, nl, args):
    dt = _float_dtype()
    phi, theta = _split(x, theta_fixed, free, P, nl)
    v, _ = _problem_value_grad(model, jnp.asarray(phi, dt), jnp.asarray(theta, dt), *args)
    v = float(jnp.sum(v))
    return v if np.isfinite(v) else np.inf


def _newton(
    model, x, theta_fixed, free, P, nl, args, lo, hi, maxiter, progress, tol_nats=1.0, window=10
):
    """Damped (Levenberg-Marquardt) Newton on the block-arrow Hessian, projected on the
    bounds. Each step solves (H + lam diag) delta = -g through the Schur complement over
    theta, so its cost is linear in the number of problems.

    Stops when the objective fell by less than ``tol_nats`` over the last ``window`` steps:
    a log likelihood change of one nat is far below its sampling noise, and along the nearly
    flat valleys of this model (the skill count m against the loss scale) Newton otherwise
    creeps on for hundreds of steps while the forecasts move by less than 1e-2."""
    dt = _float_dtype()
    fidx = np.flatnonzero(free)
    coords = list(range(nl)) + [nl + j for j in fidx]
    lam = 1e-3
    f = _objective(model, x, theta_fixed, free, P, nl, args)
    message = "iteration limit reached"
    converged = False
    it = 0
    history: list[float] = []
    for it in range(1, maxiter + 1):
        phi, theta = _split(x, theta_fixed, free, P, nl)
        # forward differences over the free coordinates suffice for a search direction
        g, h = _blocks(
            model, jnp.asarray(phi, dt), jnp.asarray(theta, dt), args, coords=coords, central=False
        )
        g_phi, g_theta = g[:, :nl], g[:, nl:].sum(axis=0)[fidx]
        h_pp = h[:, :nl, :nl]
        h_pt = h[:, :nl, nl:][:, :, fidx]
        h_tt = h[:, nl:, nl:].sum(axis=0)[np.ix_(fidx, fidx)]
        # free coordinates at a bound with the gradient pushing outwards are held there
        x_phi, x_th = x[: P * nl].reshape(P, nl), x[P * nl :]
        lo_p, hi_p = lo[: P * nl].reshape(P, nl), hi[: P * nl].reshape(P, nl)
        hold_p = ((x_phi <= lo_p) & (g_phi > 0)) | ((x_phi >= hi_p) & (g_phi < 0))
        hold_t = ((x_th <= lo[P * nl :]) & (g_theta > 0)) | ((x_th >= hi[P * nl :]) & (g_theta < 0))
        g_phi = np.where(hold_p, 0.0, g_phi)
        g_theta = np.where(hold_t, 0.0, g_theta)
        gnorm = max(np.abs(g_phi).max(), np.abs(g_theta).max() if g_theta.size else 0.0)
        if gnorm < 1e-6:
            converged, message = True, "gradient below 1e-6"
            break
        improved = False
        for _ in range(12):
            dp = np.abs(np.diagonal(h_pp, axis1=1, axis2=2)) + 1.0
            a_inv = _psd_inverse(h_pp + lam * np.einsum("pi,ij->pij", dp, np.eye(nl)), 1e-8)
            dt_ = np.abs(np.diag(h_tt)) + 1.0
            schur = h_tt + lam * np.diag(dt_) - np.einsum("pik,pij,pjl->kl", h_pt, a_inv, h_pt)
            s_inv = _psd_inverse(schur, 1e-8 * max(np.abs(np.diag(schur)).max(), 1.0))
            rhs = -g_theta + np.einsum("pik,pij,pj->k", h_pt, a_inv, g_phi)
            d_th = np.where(hold_t, 0.0, s_inv @ rhs)
            d_ph = np.einsum("pij,pj->pi", a_inv, -g_phi - np.einsum("pik,k->pi", h_pt, d_th))
            d_ph = np.where(hold_p, 0.0, d_ph)
            x_new = np.clip(x + np.concatenate([d_ph.ravel(), d_th]), lo, hi)
            f_new = _objective(model, x_new, theta_fixed, free, P, nl, args)
            if f_new < f:
                improved = True
                lam = max(lam * 0.3, 1e-9)
                break
            lam *= 10.0
        if progress is not None:
            progress(it, maxiter)
        if not improved:
            if np.isfinite(f):
                converged, message = True, "no further decrease (stationary to rounding)"
            else:
                message = "the objective is not finite at the start (check the priors and data)"
            break
        history.append(f - f_new)
        x, f = x_new, f_new
        if sum(history[-window:]) < tol_nats and len(history) >= window:
            converged, message = (
                True,
                f"decrease over the last {window} steps below {tol_nats:g} nats",
            )
            break
    if progress is not None:
        progress(maxiter, maxiter)
    return x, it, converged, message


def fit_model(
    model,
    table,
    theta0,
    free,
    *,
    n_boot: int = 200,
    seed: int = 0,
    maxiter: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> ForecastFit:
    """Fit ``model`` to a :class:`CheckpointTable` from ``theta0`` (free entries fitted)."""
    n_boot = check_n_boot(n_boot)
    # refused here, not by NumPy after the whole fit
    seed = check_int("seed", seed, 0)
    if not np.any(table.correct > 0):
        raise ValueError(
            f"{table.name or 'table'}: every count is zero (no checkpoint solved any problem): "
            "nothing pins the problems' parameters; forecasts would be the priors'"
        )
    if not jax.config.jax_enable_x64:
        warnings.warn(
            "fitting in float32: enable jax_enable_x64 for reliable fits",
            RuntimeWarning,
            stacklevel=3,
        )
    dt = _float_dtype()
    level_values = np.unique(table.levels)
    levels = np.searchsorted(level_values, table.levels)
    logN, logD = np.log(table.N), np.log(table.D)
    n, c = table.samples, table.correct
    free = np.asarray(free, bool)
    phi0, theta0 = model.init(np.asarray(theta0, float), logN, logD, n, c, levels)
    P, nl = phi0.shape
    args = tuple(jnp.asarray(v, dt) for v in (logN, logD, n, c)) + (jnp.asarray(levels),)
    theta_fixed = np.asarray(theta0, float)
    bounds = model.phi_bounds() * P + [b for b, f in zip(model.theta_bounds(), free) if f]
    x0 = np.concatenate([phi0.ravel(), theta0[free]])
    x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
    lo_b = np.array([b_[0] for b_ in bounds])
    hi_b = np.array([b_[1] for b_ in bounds])
    x, n_iter, converged, message = _newton(
        model,
        np.clip(x0, lo_b, hi_b),
        theta_fixed,
        free,
        P,
        nl,
        args,
        lo_b,
        hi_b,
        maxiter,
        progress,
    )
    phi = x[: P * nl].reshape(P, nl)
    theta = np.array(theta0, float)
    theta[free] = x[P * nl :]
    jphi, jtheta = jnp.asarray(phi, dt), jnp.asarray(theta, dt)
    cur = _curvature(model, jphi, jtheta, args)
    se, curv = _profile_se(cur.schur, free)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(P, np.full(P, 1.0 / P), size=max(int(n_boot), 1)).astype(float)
    d_phi, d_theta = _bootstrap_steps(cur, free, weights)
    lo = np.array([b[0] for b in model.phi_bounds()])
    hi = np.array([b[1] for b in model.phi_bounds()])
    boot_phi = np.clip(phi[None] + d_phi, lo, hi)
    # each problem's own noise (module doc), through the symmetric root of A_i^-1
    w_a, v_a = np.linalg.eigh(0.5 * (cur.phi_inv + np.swapaxes(cur.phi_inv, -1, -2)))
    root = np.einsum("pij,pj,pkj->pik", v_a, np.sqrt(np.maximum(w_a, 0.0)), v_a)
    z = rng.standard_normal(d_phi.shape)
    boot_phi_own = np.clip(phi[None] + d_phi + np.einsum("pij,bpj->bpi", root, z), lo, hi)
    boot_theta = theta[None] + d_theta
    tb = np.array(model.theta_bounds())
    boot_theta = np.clip(boot_theta, tb[:, 0], tb[:, 1])
    # n_boot = 0: one replicate was drawn to keep the shapes; none is kept
    keep = slice(0, int(n_boot))
    boot_phi, boot_theta, weights = boot_phi[keep], boot_theta[keep], weights[keep]
    boot_phi_own = boot_phi_own[keep]
    return ForecastFit(
        model=model,
        problems=table.problems,
        levels=table.levels,
        level_values=level_values,
        phi=phi,
        theta=theta,
        free=free,
        nll=float(_objective(model, x, theta_fixed, free, P, nl, args)),
        converged=converged,
        n_iter=n_iter,
        message=message,
        theta_se=se,
        theta_curvature=curv,
        boot_phi=boot_phi,
        boot_theta=boot_theta,
        boot_weights=weights,
        train_checkpoints=tuple(table.checkpoints()),
        boot_phi_own=boot_phi_own,
    )
