"""Per-sample success psi of a problem at a checkpoint (N, D): the DS3 chain and a baseline.

Both models give each problem its own local parameters phi_i and share global parameters
theta; phi_i has a Gaussian prior whose mean depends on the problem's difficulty level (a
hierarchical model with fixed prior widths, so a problem never solved in training still has
finite parameters). Each model returns log psi and log(1 - psi), both accurate where the
other underflows, so the binomial log likelihood c log psi + (n - c) log(1 - psi) and pass@k
= 1 - (1 - psi)^k = -expm1(k log(1 - psi)) never cancel.

DS3 (:class:`DS3Model`), one problem i with skill difficulty L0_i and m_i required skills:

    L(N, D) = E + A / N^alpha + B / D^beta                         (Eq. 1)
    p = a sigmoid(b (L0_i - L)) + d                                 (Eq. 2 / 65)
    q = iota_hat p                                                  (Eq. 66)
    psi = I_q(m_i, T - m_i + 1),   T = budget / omega               (Eq. 20 / 67)

with phi_i = (L0_i, log(m_i - 1)) (m_i >= 1 continuous) and theta = (log L_N, log L_D,
log alpha, log beta, E, log b, log iota_hat, mu_L0[level], nu_m[level]), where
L_N = A / N_ref^alpha and L_D = B / D_ref^beta are the two reducible loss terms at
N_ref = 1e8, D_ref = 1e10 (the same law; this choice decorrelates A from alpha and B from
beta for the optimiser). Which entries of theta are fitted
is a mask; E and b are kept fixed by default because they are exactly / nearly confounded
with the L0 shift and scale (see :func:`ds3jax.forecast.fit_checkpoints`).

Baseline (:class:`LogisticModel`): logit psi_i = u_i + v_i log(N / 1e8) + w_i log(D / 1e10),
phi_i = (u_i, v_i, w_i), theta = (mu_u[level], mu_v, mu_w): a per-problem logistic regression
of success in log N and log D.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .._loss import LossLaw
from ..special import log_betainc, log_betaincc

__all__ = ["DS3Model", "LogisticModel"]

N_REF, D_REF = 1e8, 1e10


def _normal_logpdf(x, mu, s):
    return -0.5 * ((x - mu) / s) ** 2 - jnp.log(s) - 0.5 * jnp.log(2 * jnp.pi)


@dataclasses.dataclass(frozen=True)
class DS3Model:
    """DS3 chain Eq. 1 -> 2 -> 66 -> 20 for one problem; static settings (hashable).

    Fields:
      n_levels: number of distinct difficulty levels (prior means per level).
      budget, omega: token budget Omega per sample and tokens per skill step (T = Omega/omega).
      a, d: sigmoid amplitude and floor (Eq. 2), fixed.
      prior_L0, prior_logm: widths of the per-level Gaussian priors of L0_i [nats] and of
        log(m_i - 1).
      m_max: largest m allowed (m < T + 1 is needed for Eq. 20).
    """

    n_levels: int
    budget: float = 2048.0
    omega: float = 25.0
    a: float = 1.0
    d: float = 0.0
    prior_L0: float = 1.0
    prior_logm: float = 1.0
    m_max: float | None = None

    name = "ds3"
    phi_names = ("L0", "log(m-1)")

    @property
    def steps(self) -> float:
        return self.budget / self.omega

    @property
    def theta_names(self) -> tuple[str, ...]:
        lv = range(self.n_levels)
        return (
            ("log_LN", "log_LD", "log_alpha", "log_beta", "E", "log_b", "log_iota")
            + tuple(f"mu_L0[{j}]" for j in lv)
            + tuple(f"nu_m[{j}]" for j in lv)
        )

    def theta_from(self, law: LossLaw, transfer_b: float, iota: float, mu, nu) -> np.ndarray:
        return np.concatenate(
            [
                [
                    np.log(law.A) - law.alpha * np.log(N_REF),
                    np.log(law.B) - law.beta * np.log(D_REF),
                    np.log(law.alpha),
                    np.log(law.beta),
                ],
                [law.E, np.log(transfer_b), np.log(iota)],
                np.asarray(mu, float),
                np.asarray(nu, float),
            ]
        )

    def unpack(self, theta):
        """theta -> (LossLaw, SigmoidTransfer b, iota_hat, mu_L0 [levels], nu_m [levels])."""
        alpha, beta = jnp.exp(theta[2]), jnp.exp(theta[3])
        law = LossLaw(
            E=theta[4],
            A=jnp.exp(theta[0] + alpha * np.log(N_REF)),
            B=jnp.exp(theta[1] + beta * np.log(D_REF)),
            alpha=alpha,
            beta=beta,
        )
        lv = self.n_levels
        return law, jnp.exp(theta[5]), jnp.exp(theta[6]), theta[7 : 7 + lv], theta[7 + lv :]

    def loss(self, theta, logN, logD):
        """L(N, D) of Eq. 1 in the reference-point form E + L_N (N/N_ref)^-alpha + ..."""
        alpha, beta = jnp.exp(theta[2]), jnp.exp(theta[3])
        return (
            theta[4]
            + jnp.exp(theta[0] - alpha * (logN - np.log(N_REF)))
            + jnp.exp(theta[1] - beta * (logD - np.log(D_REF)))
        )

    def skills(self, phi):
        m = 1.0 + jnp.exp(phi[..., 1])
        return jnp.minimum(m, self._m_cap())

    def _m_cap(self):
        return self.m_max if self.m_max is not None else 0.5 * self.steps

    def logs(self, phi, theta, logN, logD):
        """(log psi, log(1 - psi)) of problems ``phi [..., 2]`` at log N, log D (broadcast)."""
        _, b, iota, _, _ = self.unpack(theta)
        L = self.loss(theta, logN, logD)
        L0, m = phi[..., 0], self.skills(phi)
        z = b * (L0 - L)
        # q = iota (a sigmoid(z) + d) and 1 - q, both without cancellation
        log_core = jnp.log(self.a) + jax.nn.log_sigmoid(z)
        log_p = jnp.logaddexp(log_core, jnp.log(self.d)) if self.d > 0 else log_core
        log_q = jnp.log(iota) + log_p
        q = jnp.exp(log_q)
        one_minus_q = (1.0 - iota * (self.a + self.d)) + iota * self.a * jax.nn.sigmoid(-z)
        n = self.steps - m + 1.0
        low = q <= 0.5
        q_lo = jnp.where(low, q, 0.25)
        y_hi = jnp.where(low, 0.25, one_minus_q)
        # I_q(m, n) and its complement; past q = 1/2 through I_q(m, n) = 1 - I_{1-q}(n, m)
        lp = jnp.where(low, log_betainc(m, n, q_lo), log_betaincc(n, m, y_hi))
        lf = jnp.where(low, log_betaincc(m, n, q_lo), log_betainc(n, m, y_hi))
        return lp, lf

    def log_prior(self, phi, theta, level):
        """Gaussian prior of one problem's phi given its level index."""
        *_, mu, nu = self.unpack(theta)
        return _normal_logpdf(phi[0], mu[level], self.prior_L0) + _normal_logpdf(
            phi[1], nu[level], self.prior_logm
        )

    def phi_bounds(self):
        cap = float(np.log(self._m_cap() - 1.0))
        return [(-50.0, 50.0), (-8.0, cap)]

    def theta_bounds(self):
        lv = self.n_levels
        return (
            [(np.log(1e-4), np.log(1e2))] * 2
            + [(np.log(0.02), np.log(3.0))] * 2
            + [(-20.0, 20.0), (np.log(1e-3), np.log(1e3)), (np.log(1e-6), 0.0)]
            + [(-50.0, 50.0)] * lv
            + [(-8.0, 8.0)] * lv
        )

    def init(self, theta0, logN, logD, samples, correct, levels):
        """Starting phi [P, 2]: each problem's L0 put where psi matches its best observed
        success rate (or half a success at its largest sample count if never solved), at
        m = 2; level means from those starts."""
        L = np.asarray(self.loss(jnp.asarray(theta0), jnp.asarray(logN), jnp.asarray(logD)))
        _, b, iota, _, _ = (np.asarray(v) for v in self.unpack(jnp.asarray(theta0)))
        rate = np.where(samples > 0, (correct + 0.5) / (samples + 1.0), 0.0)
        solved = correct.sum(axis=1) > 0
        best_rate = np.argmax(np.where(correct > 0, rate, -np.inf), axis=1)
        best_loss = np.argmin(np.where(samples > 0, L[None, :], np.inf), axis=1)
        best = np.where(solved, best_rate, best_loss)
        P = samples.shape[0]
        f = np.where(solved, rate[np.arange(P), best], 0.5 / samples[np.arange(P), best])
        T = self.steps
        q = np.clip(np.sqrt(f / (0.5 * T * (T - 1))), 1e-12, 0.4) / iota
        z = np.log(q) - np.log1p(-np.minimum(q, 0.9))
        L0 = L[best] + z / b
        phi = np.stack([L0, np.zeros(P)], axis=1)
        lv = self.n_levels
        mu = np.array(
            [L0[levels == j].mean() if np.any(levels == j) else L0.mean() for j in range(lv)]
        )
        theta = np.array(theta0, float)
        theta[7 : 7 + lv] = mu
        theta[7 + lv :] = 0.0
        return phi, theta


@dataclasses.dataclass(frozen=True)
class LogisticModel:
    """Empirical baseline: logit psi = u_i + v_i log(N / 1e8) + w_i log(D / 1e10).

    Fields:
      n_levels: number of difficulty levels (the intercept's prior mean is per level).
      prior_u, prior_slope: widths of the Gaussian priors of u_i and of v_i, w_i around the
        shared means (logit units, per e-fold of N or D).
    """

    n_levels: int
    prior_u: float = 3.0
    prior_slope: float = 1.0

    name = "logistic"
    phi_names = ("u", "v", "w")

    @property
    def theta_names(self) -> tuple[str, ...]:
        return tuple(f"mu_u[{j}]" for j in range(self.n_levels)) + ("mu_v", "mu_w")

    def logs(self, phi, theta, logN, logD):
        eta = phi[..., 0] + phi[..., 1] * (logN - np.log(1e8)) + phi[..., 2] * (logD - np.log(1e10))
        return jax.nn.log_sigmoid(eta), jax.nn.log_sigmoid(-eta)

    def log_prior(self, phi, theta, level):
        lv = self.n_levels
        return (
            _normal_logpdf(phi[0], theta[level], self.prior_u)
            + _normal_logpdf(phi[1], theta[lv], self.prior_slope)
            + _normal_logpdf(phi[2], theta[lv + 1], self.prior_slope)
        )

    def phi_bounds(self):
        return [(-60.0, 60.0), (-20.0, 20.0), (-20.0, 20.0)]

    def theta_bounds(self):
        return [(-60.0, 60.0)] * self.n_levels + [(-20.0, 20.0)] * 2

    def init(self, theta0, logN, logD, samples, correct, levels):
        tot_c, tot_n = correct.sum(axis=1), samples.sum(axis=1)
        u = np.log((tot_c + 0.5) / (tot_n + 1.0))
        P = len(u)
        phi = np.stack([u, np.full(P, 0.5), np.full(P, 0.5)], axis=1)
        lv = self.n_levels
        theta = np.concatenate(
            [
                [u[levels == j].mean() if np.any(levels == j) else u.mean() for j in range(lv)],
                [0.5, 0.5],
            ]
        )
        return phi, theta
