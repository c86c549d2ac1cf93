"""Public entry points: :func:`fit_checkpoints` (DS3), :func:`fit_baseline` (logistic)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._checks import check_values, positive
from .._loss import LossLaw
from .._transfer import SigmoidTransfer
from ._fit import PINNED_SE, ForecastFit, fit_model
from ._models import DS3Model, LogisticModel
from ._table import load_table

__all__ = ["fit_checkpoints", "fit_baseline", "PINNED_SE"]


def fit_checkpoints(
    table,
    *,
    law: LossLaw | None = None,
    fit_law: bool = False,
    transfer: SigmoidTransfer | None = None,
    iota_hat: float = 1.0,
    fit_iota: bool = False,
    budget: float = 2048.0,
    omega: float = 25.0,
    prior_L0: float = 1.0,
    prior_logm: float = 1.0,
    n_boot: int = 200,
    seed: int = 0,
    maxiter: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> ForecastFit:
    """Fit the DS3 chain to per-problem counts on a grid of checkpoints (N, D).

    Each problem i has its own skill difficulty L0_i and skill count m_i >= 1 (continuous);
    the checkpoints share the loss law, the sigmoid transfer and iota_hat:

        L = E + A / N^alpha + B / D^beta                         (Eq. 1)
        q = iota_hat [a sigmoid(b (L0_i - L)) + d]                (Eq. 2 / 65-66)
        psi_i(N, D) = I_q(m_i, T - m_i + 1),  T = budget / omega  (Eq. 20 / 67)
        c_ik ~ Binomial(n_ik, psi_i(N_k, D_k))

    L0_i ~ Normal(mu_L0[level], prior_L0) and log(m_i - 1) ~ Normal(nu_m[level], prior_logm)
    with the level means fitted (per-problem values are penalised maximum likelihood, so
    problems never solved in training keep finite parameters). Forecasts:
    ``fit.problem_passk(N, D, k)`` = 1 - (1 - psi_i)^k per problem, ``fit.passk`` their mean
    (Eq. 56-59), intervals from a vmapped bootstrap over problems.

    Identifiability. Only b (L0 - L) enters, so E is exactly confounded with a shift of all
    L0 (kept fixed at the preset), and b with the scale of L0 and of A, B (kept fixed); a and
    iota_hat enter as a product (a stays fixed, iota_hat is fixed unless ``fit_iota``); where
    every psi is small, q sits in the sigmoid's tail and iota_hat is confounded with the L0
    shift too. ``fit.parameters()`` reports each shared parameter's profile standard error
    (from the Hessian with the per-problem parameters profiled out); those with
    SE >= ``PINNED_SE`` (or no curvature at all) are reported as not pinned by the data.

    Args:
      table: CSV path, mapping of columns (``nominal_params``, ``training_tokens``,
        ``problem``, ``level``, ``samples``, ``correct``) or a :class:`CheckpointTable`.
      law: the loss law (Eq. 1); default ``LossLaw.epoch_refit()``, the refit of the Chinchilla
        training runs. With ``fit_law`` it is the starting point (E stays fixed).
      fit_law: keep the law fixed (default: DS3's two steps, the loss law from pretraining
        runs and only the task side from benchmark counts) or fit A, B, alpha, beta to the
        counts too. Benchmark counts of a few small models pin the law's exponents poorly: on
        Pythia/MATH a free law reads the early saturation of MATH success as alpha ~ 1.7 and
        beta at its bound, and forecasts a plateau (README, forecast section).
      transfer: a, b, d of Eq. 2 (fixed); default ``SigmoidTransfer()`` (1, 5, 0).
      iota_hat, fit_iota: directionality (Eq. 16), fixed at ``iota_hat`` unless ``fit_iota``.
      budget, omega: token budget per sample and tokens per skill step (default 2048 and 25:
        Pythia's context and the paper's omega, T = 81.92 as in Table II).
      prior_L0, prior_logm: widths of the level priors (not tuned to any data set).
      n_boot, seed: bootstrap replicates over problems and their seed.
      maxiter, progress: Newton iteration cap; ``progress(done, total)`` is called per
        iteration.

    Returns a :class:`ForecastFit`. Fitting needs float64 (``jax_enable_x64``).
    Raises ``ValueError`` for a bad table (naming the row) or bad settings.
    """
    tab = load_table(table)
    law = law if law is not None else LossLaw.epoch_refit()
    transfer = transfer if transfer is not None else SigmoidTransfer()
    _check_positive(budget=budget, omega=omega, prior_L0=prior_L0, prior_logm=prior_logm)
    if budget / omega < 4:
        raise ValueError(f"budget / omega = {budget / omega:g} steps: need at least 4")
    if not 0 < iota_hat <= 1:
        raise ValueError(f"iota_hat must lie in (0, 1], got {iota_hat!r}")
    model = DS3Model(
        n_levels=len(np.unique(tab.levels)),
        budget=float(budget),
        omega=float(omega),
        a=float(transfer.a),
        d=float(transfer.d),
        prior_L0=float(prior_L0),
        prior_logm=float(prior_logm),
    )
    lv = model.n_levels
    theta0 = model.theta_from(law, float(transfer.b), iota_hat, np.zeros(lv), np.zeros(lv))
    free = np.zeros(len(theta0), bool)
    free[:4] = fit_law
    free[6] = fit_iota
    free[7:] = True
    return fit_model(
        model, tab, theta0, free, n_boot=n_boot, seed=seed, maxiter=maxiter, progress=progress
    )


def _check_positive(**values) -> None:
    for name, v in values.items():
        check_values(name, v, positive, "a positive number")


def fit_baseline(
    table,
    *,
    prior_u: float = 3.0,
    prior_slope: float = 1.0,
    n_boot: int = 200,
    seed: int = 0,
    maxiter: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> ForecastFit:
    """Empirical baseline with the same API: a per-problem logistic model of success,

        logit psi_i(N, D) = u_i + v_i log(N / 1e8) + w_i log(D / 1e10),

    u_i ~ Normal(mu_u[level], prior_u), v_i ~ Normal(mu_v, prior_slope),
    w_i ~ Normal(mu_w, prior_slope), fitted like :func:`fit_checkpoints` (binomial counts,
    penalised maximum likelihood, bootstrap over problems). It knows nothing of DS3: compare
    its held-out error with the DS3 fit's to see what the theory adds.
    """
    # a negative width made the objective NaN, read as inf, and the fit "converged" at its start
    _check_positive(prior_u=prior_u, prior_slope=prior_slope)
    tab = load_table(table)
    model = LogisticModel(
        n_levels=len(np.unique(tab.levels)), prior_u=float(prior_u), prior_slope=float(prior_slope)
    )
    theta0 = np.zeros(len(model.theta_names))
    free = np.ones(len(theta0), bool)
    return fit_model(
        model, tab, theta0, free, n_boot=n_boot, seed=seed, maxiter=maxiter, progress=progress
    )
