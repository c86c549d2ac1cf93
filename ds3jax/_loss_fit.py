"""Fitting the loss law (Eq. 1) to training runs, and the sigmoid transfer (Eq. 2) to accuracies.

The loss law L = E + A / N^alpha + B / D^beta is fitted as Hoffmann et al. (2022, App. D.2)
and the Epoch replication (Besiroglu et al. 2024) do: in the log-sum-exp form

    log L(theta) = LSE(e, a - alpha log N, b - beta log D),   theta = (e, a, b, alpha, beta)

(E = exp e, A = exp a, B = exp b), minimising the Huber loss of the log residuals

    F(theta) = sum_i w_i rho_delta(log L(theta; N_i, D_i) - log L_i),
    rho_delta(r) = r^2 / 2 (|r| <= delta),  delta (|r| - delta / 2) otherwise,

from a grid of starts (default :data:`HOFFMANN_GRID`, 4,500 points). All starts run as one
vmapped, jitted batch of Levenberg-Marquardt steps on the iteratively reweighted
Gauss-Newton model of F (IRLS weights min(1, delta / |r|), exact Jacobian of the log-sum-exp;
a step is taken only if it lowers F, so F never increases). Variable projection does not
apply: with the loss taken in logs, E, A, B enter non-linearly.

Uncertainty: :meth:`LossFit.bootstrap` refits resampled runs (vmapped over replicates, from
the best distinct optima of the multi-start fit); :attr:`LossFit.covariance` is Huber's
(1981, Sec. 7.6) sandwich estimate for M-estimators in the form that allows each run its own
noise, with rho'' smoothed by a kernel so that it is stable when few residuals fall inside
|r| <= delta.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_level
from ._loss import LossLaw
from ._transfer import SigmoidTransfer

__all__ = [
    "HOFFMANN_GRID",
    "LossFit",
    "LossBootstrap",
    "fit_loss_law",
    "loss_fit_starts",
    "TransferFit",
    "fit_sigmoid_transfer",
    "law_from_theta",
]

#: The grid of starts of Hoffmann et al. (2022, App. D.2), used by the Epoch replication:
#: e in {-1, -0.5, ..., 1}, a and b in {0, 5, ..., 25}, alpha and beta in {0, 0.5, ..., 2}
#: (5 x 6 x 6 x 5 x 5 = 4,500 starts), in the coordinates (e, a, b, alpha, beta).
HOFFMANN_GRID = dict(
    e=tuple(np.arange(-1.0, 1.01, 0.5)),
    a=tuple(np.arange(0.0, 25.1, 5.0)),
    b=tuple(np.arange(0.0, 25.1, 5.0)),
    alpha=tuple(np.arange(0.0, 2.01, 0.5)),
    beta=tuple(np.arange(0.0, 2.01, 0.5)),
)

_NAMES = ("E", "A", "B", "alpha", "beta")
_N_PARAMS = 5


def loss_fit_starts(grid: dict | None = None) -> np.ndarray:
    """The Cartesian grid of starts, shape (n_starts, 5) in (e, a, b, alpha, beta).

    ``grid`` maps "e", "a", "b", "alpha", "beta" to sequences of values (default
    :data:`HOFFMANN_GRID`).
    """
    unknown = sorted(set(grid or {}) - set(HOFFMANN_GRID))
    if unknown:
        raise ValueError(
            f"starts: unknown axes {unknown}; the axes are e, a, b, alpha, beta (log E, "
            "log A, log B and the exponents)"
        )
    g = dict(HOFFMANN_GRID, **(grid or {}))
    axes = [np.asarray(g[k], float) for k in ("e", "a", "b", "alpha", "beta")]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=-1)


# ----------------------------------------------------------------------------- the objective


def _huber(r, delta):
    ar = jnp.abs(r)
    return jnp.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))


def _pass(theta, log_n, log_d, log_l, w, delta):
    """F, gradient and IRLS Gauss-Newton matrix at theta (one pass over the runs).

    Written as elementwise products and sums (no small matmuls) so that XLA fuses the pass
    into one loop over the runs, also when vmapped over thousands of starts.
    """
    e, a, b, al, be = theta[0], theta[1], theta[2], theta[3], theta[4]
    t0 = jnp.exp(e)
    t1 = jnp.exp(a - al * log_n)
    t2 = jnp.exp(b - be * log_d)
    s = t0 + t1 + t2
    r = jnp.log(s) - log_l
    f = jnp.sum(w * _huber(r, delta))
    inv = 1.0 / s
    cols = (t0 * inv, t1 * inv, t2 * inv, -t1 * inv * log_n, -t2 * inv * log_d)
    wpsi = w * jnp.clip(r, -delta, delta)
    # IRLS weight psi(r) / r: the Huber loss lies below its quadratic majoriser with this weight
    wom = w * jnp.minimum(1.0, delta / jnp.maximum(jnp.abs(r), 1e-300))
    g = jnp.stack([jnp.sum(wpsi * c) for c in cols])
    wc = [wom * c for c in cols]
    ent = {}
    for j in range(_N_PARAMS):
        for k in range(j, _N_PARAMS):
            ent[j, k] = ent[k, j] = jnp.sum(wc[j] * cols[k])
    A = jnp.stack([jnp.stack([ent[j, k] for k in range(_N_PARAMS)]) for j in range(_N_PARAMS)])
    return f, g, A


def _lm(theta0, log_n, log_d, log_l, w, delta, n_steps):
    """Levenberg-Marquardt on the IRLS model of F; monotone (a step is kept only if F drops).

    Returns (theta, F, converged), converged = none of the last 10 steps lowered F by more
    than 1e-10 relative.
    """
    dtype = theta0.dtype
    eye = jnp.eye(_N_PARAMS, dtype=dtype)

    def solve(g, A, mu):
        diag = jnp.diagonal(A)
        scale = diag + 1e-10 * (jnp.sum(diag) + 1e-30)
        d = -jnp.linalg.solve(A + mu * scale * eye + 1e-14 * eye, g)
        # bounded steps: keeps exp() in range when the start is far off
        return d * jnp.minimum(1.0, 4.0 / (jnp.max(jnp.abs(d)) + 1e-300))

    def body(c, _):
        th, f, g, A, mu, still = c
        d = solve(g, A, mu)
        th2 = th + d
        f2, g2, A2 = _pass(th2, log_n, log_d, log_l, w, delta)
        ok = jnp.isfinite(f2) & (f2 < f) & jnp.all(jnp.isfinite(g2)) & jnp.all(jnp.isfinite(A2))
        rel = jnp.where(ok, (f - f2) / (jnp.abs(f) + 1e-300), 0.0)
        still = jnp.where(rel > 1e-10, 0, still + 1)
        sel = lambda x, y: jnp.where(ok, x, y)
        mu = jnp.where(ok, jnp.maximum(mu / 3.0, 1e-12), jnp.minimum(mu * 4.0, 1e12))
        return (sel(th2, th), sel(f2, f), sel(g2, g), sel(A2, A), mu, still), None

    f0, g0, A0 = _pass(theta0, log_n, log_d, log_l, w, delta)
    f0 = jnp.where(jnp.isfinite(f0), f0, jnp.inf)
    init = (theta0, f0, g0, A0, jnp.asarray(1e-3, dtype), jnp.zeros((), jnp.int32))
    (th, f, _, _, _, still), _ = jax.lax.scan(body, init, None, length=n_steps)
    return th, f, still >= 10


@functools.partial(jax.jit, static_argnames=("n_steps",))
def _fit_many(starts, log_n, log_d, log_l, w, delta, n_steps):
    """All starts against one data set (vmapped)."""
    run = lambda t: _lm(t, log_n, log_d, log_l, w, delta, n_steps)
    return jax.vmap(run)(starts)


@functools.partial(jax.jit, static_argnames=("n_steps",))
def _fit_replicates(starts, log_n, log_d, log_l, weights, delta, n_steps):
    """Each replicate's weights from every start; the best start per replicate."""

    def rep(w):
        th, f, conv = jax.vmap(lambda t: _lm(t, log_n, log_d, log_l, w, delta, n_steps))(starts)
        f = jnp.where(jnp.isfinite(f), f, jnp.inf)
        k = jnp.argmin(f)
        return th[k], f[k], conv[k]

    return jax.vmap(rep)(weights)


def law_from_theta(theta) -> LossLaw:
    """LossLaw from theta = (log E, log A, log B, alpha, beta) (last axis of size 5): the
    coordinates of the fit, its covariance and its bootstrap replicates."""
    theta = jnp.asarray(theta)
    if theta.ndim < 1 or theta.shape[-1] != 5:
        raise ValueError(
            "theta must hold (log E, log A, log B, alpha, beta) on its last axis (size 5), "
            f"got shape {theta.shape}"
        )
    return LossLaw(
        E=jnp.exp(theta[..., 0]),
        A=jnp.exp(theta[..., 1]),
        B=jnp.exp(theta[..., 2]),
        alpha=theta[..., 3],
        beta=theta[..., 4],
    )


def _law_values(law: LossLaw) -> dict:
    return {k: np.asarray(getattr(law, k), float) for k in _NAMES}


# ----------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class LossBootstrap:
    """Bootstrap refits of a :class:`LossFit` (resampling runs with replacement).

    Attributes:
      laws: :class:`ds3jax.LossLaw` whose leaves have shape (n,): one law per replicate.
      theta: (n, 5) refitted (e, a, b, alpha, beta).
      objective: (n,) Huber objective of each replicate at its refit.
      converged: (n,) bool, the replicate's best start converged.
      point: the fit's own law (the centre).
    """

    laws: LossLaw
    theta: np.ndarray
    objective: np.ndarray
    converged: np.ndarray
    point: LossLaw

    @property
    def n(self) -> int:
        return int(self.theta.shape[0])

    def interval(self, level: float = 0.9) -> dict:
        """Percentile intervals of E, A, B, alpha, beta: name -> (low, high)."""
        level = check_level(level)
        q = 100.0 * np.array([(1 - level) / 2, (1 + level) / 2])
        vals = _law_values(self.laws)
        return {k: tuple(float(x) for x in np.percentile(v, q)) for k, v in vals.items()}

    def covariance(self) -> np.ndarray:
        """Sample covariance of theta = (log E, log A, log B, alpha, beta), shape (5, 5)."""
        return np.cov(self.theta, rowvar=False)

    def __getitem__(self, i):
        return LossLaw(**{k: float(v[i]) for k, v in _law_values(self.laws).items()})


@dataclasses.dataclass(frozen=True)
class LossFit:
    """Result of :func:`fit_loss_law`.

    Attributes:
      law: the fitted :class:`ds3jax.LossLaw` (floats).
      theta: (5,) fitted (e, a, b, alpha, beta) = (log E, log A, log B, alpha, beta).
      objective: the Huber objective F at the fit (sum over the runs used).
      residuals: (n_runs,) log L(fit) - log L_observed for every run (excluded ones too).
      used: (n_runs,) bool, runs that entered the fit (False for ``exclude``).
      start: index of the winning start in ``starts``; ``starts``: (n_starts, 5).
      start_objectives: (n_starts,) final F from each start; ``start_theta`` (n_starts, 5).
      converged: the winning start converged.
      n_params, n_tokens, loss: the data (n_runs,); ``delta``: the Huber threshold.
    """

    law: LossLaw
    theta: np.ndarray
    objective: float
    residuals: np.ndarray
    used: np.ndarray
    start: int
    starts: np.ndarray
    start_objectives: np.ndarray
    start_theta: np.ndarray
    converged: bool
    n_params: np.ndarray
    n_tokens: np.ndarray
    loss: np.ndarray
    delta: float
    n_steps: int = 30

    @property
    def n_used(self) -> int:
        return int(np.sum(self.used))

    def best_starts(self, k: int = 4, tol: float = 1e-6) -> np.ndarray:
        """Up to ``k`` distinct final points of the multi-start fit, best first, (k', 5).

        Two optima count as the same when their theta differ by < ``tol`` (max-norm, relative
        to 1 + |theta|).
        """
        order = np.argsort(
            np.where(np.isfinite(self.start_objectives), self.start_objectives, np.inf)
        )
        picked = []
        for i in order:
            t = self.start_theta[i]
            if not np.all(np.isfinite(t)):
                continue
            if all(np.max(np.abs(t - p) / (1 + np.abs(p))) > tol for p in picked):
                picked.append(t)
            if len(picked) == k:
                break
        return np.asarray(picked)

    def _jacobian(self) -> np.ndarray:
        """d log L / d theta at the runs used, (n_used, 5): the terms' shares of L and the
        shares times -log N, -log D."""
        u = self.used
        ln, ld = np.log(self.n_params[u]), np.log(self.n_tokens[u])
        e, a, b, al, be = self.theta
        t = np.stack([np.full(ln.size, e), a - al * ln, b - be * ld])
        p = np.exp(t - np.logaddexp.reduce(t, axis=0))
        return np.stack([p[0], p[1], p[2], -p[1] * ln, -p[2] * ld], axis=-1)

    @property
    def covariance(self) -> np.ndarray:
        """Sandwich covariance of theta = (log E, log A, log B, alpha, beta), (5, 5).

            Cov = n / (n - p) H^-1 S H^-1,   H = sum_i rho''(r_i) J_i J_i^T,
                                              S = sum_i psi(r_i)^2 J_i J_i^T

        (Huber 1981, Sec. 7.6, in the form that does not assume every run has the same
        noise), J_i the gradient of log L(theta) at run i, psi = rho' the clipped residual.
        rho'' = 1(|r| <= delta) is smoothed with a Gaussian kernel (Silverman's bandwidth) on
        the residuals, which keeps H stable when delta is small next to the residual spread
        (delta = 1e-3 vs ~1e-2 on the Chinchilla runs). The common-noise form K^2 mean(psi^2)
        / mean(rho'')^2 (J^T J)^-1 gave standard errors half the bootstrap's on the
        Chinchilla runs, whose scatter differs between compute budgets.
        """
        r = self.residuals[self.used]
        n = r.size
        d = self.delta
        J = self._jacobian()
        psi = np.clip(r, -d, d)
        iqr = np.subtract(*np.percentile(r, [75, 25]))
        h = 0.9 * min(np.std(r), iqr / 1.34) * n ** (-0.2)
        h = max(h, 1e-12)
        from scipy.special import ndtr

        rho2 = ndtr((d - r) / h) - ndtr((-d - r) / h)
        h_inv = np.linalg.inv((J * rho2[:, None]).T @ J)
        meat = (J * (psi * psi)[:, None]).T @ J
        cov = n / (n - _N_PARAMS) * h_inv @ meat @ h_inv
        return 0.5 * (cov + cov.T)

    @property
    def unidentified(self) -> tuple:
        """The constants these runs do not determine, whatever their noise (empty: all are).

        Read off the runs' design at the fit: the standard error each parameter would have
        if every run's log loss were off by the Huber threshold delta (the fit's own
        resolution), delta sqrt(diag (J^T J)^-1). A prefactor (E, A, B) is undetermined when
        that error exceeds 1 in its log (a factor e), an exponent when it exceeds half the
        exponent. This flags a term that no run sees (B = 5e296 with beta = 33, seen by the
        smallest D alone) and a term that does not vary over the runs (alpha ~ 1e-4, A
        confounded with E); on the 245 Chinchilla runs the largest such error is 0.03.
        """
        _, s, vt = np.linalg.svd(self._jacobian(), full_matrices=False)
        # directions the runs do not see at all (J^T J singular to rounding) leave every
        # parameter with a visible share in them undetermined; rounding noise in the
        # others' shares is ignored
        null = s <= s[0] * np.sqrt(np.finfo(float).eps)
        seen = np.sum(
            np.where(null[:, None], 0.0, vt * vt) / np.where(null, 1.0, s * s)[:, None], 0
        )
        se = np.where(np.any(null[:, None] & (np.abs(vt) > 1e-3), 0), np.inf, np.sqrt(seen))
        se = self.delta * se
        limit = np.r_[1.0, 1.0, 1.0, 0.5 * abs(self.theta[3]), 0.5 * abs(self.theta[4])]
        return tuple(k for k, e, lim in zip(_NAMES, se, limit) if not e <= lim)

    def standard_errors(self) -> dict:
        """Delta-method standard errors of E, A, B, alpha, beta from :attr:`covariance`."""
        se = np.sqrt(np.diag(self.covariance))
        vals = [self.law.E, self.law.A, self.law.B, 1.0, 1.0]
        return {k: float(v * s) for k, v, s in zip(_NAMES, vals, se)}

    def predict(self, n_params, n_tokens):
        """Fitted loss L(N, D) (Eq. 1)."""
        from ._loss import loss

        return loss(self.law, n_params, n_tokens)

    def bootstrap(
        self, n: int, key, *, n_starts: int = 4, n_steps: int = 60, batch: int = 500, progress=None
    ) -> LossBootstrap:
        """Nonparametric bootstrap: resample the runs used with replacement, refit, n times.

        Each replicate is a multinomial reweighting of the runs (counts summing to n_used),
        refitted from the ``n_starts`` best distinct optima of the multi-start fit
        (:meth:`best_starts`) with ``n_steps`` LM steps, vmapped over replicates and starts
        (``batch`` replicates per compiled call; ``progress(done, total)`` after each).

        Args:
          n: number of replicates (>= 2).
          key: ``jax.random`` key.

        Returns:
          :class:`LossBootstrap` (``.laws`` is a LossLaw with leaves of shape (n,); percentile
          intervals by ``.interval(level)``).
        """
        if int(n) != n or n < 2:
            raise ValueError(f"n (bootstrap replicates) must be an integer >= 2, got {n!r}")
        n = int(n)
        idx = np.nonzero(self.used)[0]
        m = idx.size
        dtype = jnp.result_type(float)
        starts = jnp.asarray(self.best_starts(n_starts), dtype)
        log_n = jnp.asarray(np.log(self.n_params[idx]), dtype)
        log_d = jnp.asarray(np.log(self.n_tokens[idx]), dtype)
        log_l = jnp.asarray(np.log(self.loss[idx]), dtype)
        draws = jax.random.randint(key, (n, m), 0, m)
        weights = jax.vmap(lambda d: jnp.zeros(m, dtype).at[d].add(1.0))(draws)
        thetas, objs, convs = [], [], []
        batch = max(1, min(int(batch), n))
        for lo in range(0, n, batch):
            w = weights[lo : lo + batch]
            if w.shape[0] < batch:  # pad the last chunk: one compilation
                w = jnp.concatenate([w, jnp.broadcast_to(w[:1], (batch - w.shape[0], m))])
            th, f, c = _fit_replicates(
                starts, log_n, log_d, log_l, w, dtype.type(self.delta), n_steps
            )
            k = min(batch, n - lo)
            thetas.append(np.asarray(th[:k]))
            objs.append(np.asarray(f[:k]))
            convs.append(np.asarray(c[:k]))
            if progress is not None:
                progress(lo + k, n)
        theta = np.concatenate(thetas)
        law = law_from_theta(theta)
        return LossBootstrap(
            laws=law,
            theta=theta,
            objective=np.concatenate(objs),
            converged=np.concatenate(convs),
            point=self.law,
        )


# ----------------------------------------------------------------------------- input checks


def _as_column(x, name):
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if a.ndim != 1:
        a = np.atleast_1d(a)
        if a.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a


def _check_runs(n_params, n_tokens, loss, exclude):
    cols = {
        "n_params": _as_column(n_params, "n_params"),
        "n_tokens": _as_column(n_tokens, "n_tokens"),
        "loss": _as_column(loss, "loss"),
    }
    sizes = {k: v.size for k, v in cols.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"n_params, n_tokens and loss must have the same length, got {sizes}")
    for k, v in cols.items():
        bad = np.nonzero(~np.isfinite(v) | (v <= 0))[0]
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"row {i}: {k} must be positive and finite, got {v[i]!r}"
                + (f" ({bad.size} such rows)" if bad.size > 1 else "")
            )
    n = cols["loss"].size
    used = np.ones(n, bool)
    if exclude is not None:
        if isinstance(exclude, str):
            if not exclude.startswith("highest_loss:"):
                raise ValueError(
                    "exclude must be row indices, a boolean mask or 'highest_loss:K', "
                    f"got {exclude!r}"
                )
            tail = exclude.split(":", 1)[1].strip()
            if not tail.lstrip("+").isdigit():
                raise ValueError(
                    f"exclude 'highest_loss:K' needs a whole number K >= 0, got {exclude!r}"
                )
            k = int(tail)
            if k:
                used[np.argsort(cols["loss"], kind="stable")[-k:]] = False
        else:
            ex = np.asarray(exclude)
            if ex.dtype == bool:
                if ex.shape != (n,):
                    raise ValueError(f"exclude mask must have shape ({n},), got {ex.shape}")
                used &= ~ex
            else:
                if ex.size and not np.issubdtype(ex.dtype, np.number):
                    raise ValueError(f"exclude must be row indices or a boolean mask, got {ex!r}")
                if ex.size and np.any(ex != np.round(ex)):
                    raise ValueError(f"exclude row indices must be whole numbers, got {ex!r}")
                if ex.shape == (n,) and n > 2 and np.all((ex == 0) | (ex == 1)):
                    # a 0/1 integer mask would be read as rows 0 and 1
                    raise ValueError(
                        "exclude looks like a 0/1 mask over the runs: pass it as booleans "
                        "(np.asarray(mask, bool)); integers are row indices"
                    )
                ex = ex.astype(int).ravel()
                if ex.size and (ex.min() < 0 or ex.max() >= n):
                    raise ValueError(f"exclude holds row indices outside 0..{n - 1}")
                used[ex] = False
    if used.sum() <= _N_PARAMS:
        raise ValueError(
            f"{int(used.sum())} runs left to fit 5 parameters (E, A, B, alpha, beta): need at "
            "least 6"
        )
    for k, term in (("n_params", "A / N^alpha"), ("n_tokens", "B / D^beta")):
        values = np.unique(cols[k][used])
        if values.size < 2:
            raise ValueError(
                f"every run used has {k} = {values[0]:g}: the term {term} is a constant there "
                f"and cannot be told from E; Eq. 1 needs runs at two {k} values at least"
            )
    return cols["n_params"], cols["n_tokens"], cols["loss"], used


def fit_loss_law(
    n_params,
    n_tokens,
    loss,
    *,
    delta: float = 1e-3,
    starts=None,
    exclude=None,
    n_steps: int = 30,
    n_polish: int = 64,
    polish_steps: int = 300,
) -> LossFit:
    """Fit L = E + A / N^alpha + B / D^beta (Eq. 1) to training runs by multi-start Huber.

    Minimises F(theta) = sum_i rho_delta(LSE(e, a - alpha log N_i, b - beta log D_i) - log L_i)
    over theta = (e, a, b, alpha, beta) (Hoffmann et al. 2022, App. D.2; Besiroglu et al.
    2024), from every start at once: ``n_steps`` Levenberg-Marquardt steps on all starts
    (one vmapped, jitted batch), then ``polish_steps`` more on the ``n_polish`` best. The
    answer is the start with the lowest F.

    Args:
      n_params: N, parameters per run, shape (n,), > 0.
      n_tokens: D, training tokens per run, shape (n,), > 0 (D = C / (6 N) from FLOPs).
      loss: final training loss per run [nats/token], shape (n,), > 0.
      delta: Huber threshold on log-loss residuals (1e-3 as in both papers).
      starts: (n_starts, 5) starts in (e, a, b, alpha, beta), or a dict of axes for
        :func:`loss_fit_starts`; default the 4,500-point :data:`HOFFMANN_GRID`.
      exclude: runs left out: row indices, a boolean mask, or ``"highest_loss:K"`` (the K runs
        with the highest loss; Epoch leave out 5 on the Chinchilla data).
      n_steps, n_polish, polish_steps: solver effort (see above).

    Returns:
      :class:`LossFit`. Float64 is the accuracy reference (enable ``jax_enable_x64``); in
      float32 the objective is resolved to ~1e-7 relative.

    Raises:
      ValueError naming the row: non-positive or non-finite N, D or loss; columns of
      different lengths; fewer than 6 runs left after ``exclude``; bad ``starts``/``delta``.
      ValueError saying why: every run used at one N (or one D), where A / N^alpha cannot be
      told from E; a best fit with alpha or beta <= 0 (a loss that rises with N or D).

    Warns (``UserWarning``) when the runs do not determine some constants
    (:attr:`LossFit.unidentified`).
    """
    N, D, L, used = _check_runs(n_params, n_tokens, loss, exclude)
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be positive, got {delta!r}")
    if starts is None or isinstance(starts, dict):
        s = loss_fit_starts(starts)
    else:
        s = np.asarray(starts, float)
        if s.ndim == 1:
            s = s[None, :]
        if s.ndim != 2 or s.shape[1] != 5 or s.shape[0] == 0:
            raise ValueError(
                f"starts must have shape (n_starts, 5) in (e, a, b, alpha, beta), got {s.shape}"
            )
        if not np.all(np.isfinite(s)):
            raise ValueError("starts must be finite")
    dtype = jnp.result_type(float)
    idx = np.nonzero(used)[0]
    log_n = jnp.asarray(np.log(N[idx]), dtype)
    log_d = jnp.asarray(np.log(D[idx]), dtype)
    log_l = jnp.asarray(np.log(L[idx]), dtype)
    w = jnp.ones(idx.size, dtype)
    dl = dtype.type(delta)
    th, f, conv = _fit_many(jnp.asarray(s, dtype), log_n, log_d, log_l, w, dl, int(n_steps))
    th, f, conv = np.array(th), np.array(f), np.array(conv)
    f = np.where(np.isfinite(f), f, np.inf)
    k = min(int(n_polish), s.shape[0])
    if k > 0 and polish_steps > 0:
        top = np.argsort(f, kind="stable")[:k]
        th2, f2, c2 = _fit_many(jnp.asarray(th[top]), log_n, log_d, log_l, w, dl, int(polish_steps))
        th[top], f[top], conv[top] = np.asarray(th2), np.asarray(f2), np.asarray(c2)
        f = np.where(np.isfinite(f), f, np.inf)
    best = int(np.argmin(f))
    theta = th[best]
    for j, name, var in ((3, "alpha", "N"), (4, "beta", "D")):
        if not theta[j] > 0:
            raise ValueError(
                f"the best fit of Eq. 1 has {name} = {theta[j]:.3g} <= 0: over these runs the "
                f"loss does not fall with {var} as L = E + A / N^alpha + B / D^beta needs "
                "(check that the runs are comparable and the columns hold parameters, training "
                "tokens and final losses)"
            )
    law = LossLaw(
        E=float(math.exp(theta[0])),
        A=float(math.exp(theta[1])),
        B=float(math.exp(theta[2])),
        alpha=float(theta[3]),
        beta=float(theta[4]),
    )
    ln, ldd = np.log(N), np.log(D)
    pred = np.logaddexp(np.logaddexp(theta[0], theta[1] - theta[3] * ln), theta[2] - theta[4] * ldd)
    fit = LossFit(
        law=law,
        theta=theta,
        objective=float(f[best]),
        residuals=pred - np.log(L),
        used=used,
        start=best,
        starts=s,
        start_objectives=f,
        start_theta=th,
        converged=bool(conv[best]),
        n_params=N,
        n_tokens=D,
        loss=L,
        delta=float(delta),
        n_steps=int(n_steps),
    )
    if fit.unidentified:
        warnings.warn(
            f"fit_loss_law: these {fit.n_used} runs do not determine "
            f"{', '.join(fit.unidentified)} (LossFit.unidentified): the law fits them, but "
            "other constants would fit them as well; runs over a wider range of N and D "
            "would pin them",
            stacklevel=2,
        )
    return fit


# ----------------------------------------------------------------------------- transfer fit


@dataclasses.dataclass(frozen=True)
class TransferFit:
    """Result of :func:`fit_sigmoid_transfer`.

    Attributes:
      transfer: :class:`ds3jax.SigmoidTransfer` (a, b, d).
      L0: fitted difficulty [nats/token] (the loss at which p = d + a / 2).
      sse: sum of squared accuracy residuals; residuals: (n,) fit - observed.
    """

    transfer: SigmoidTransfer
    L0: float
    sse: float
    residuals: np.ndarray

    def predict(self, loss):
        """a sigmoid(b (L0 - L)) + d at ``loss``."""
        from ._transfer import skill_probability

        return skill_probability(self.transfer, loss, self.L0)


def _transfer_params(u):
    top = jax.nn.sigmoid(u[0])  # a + d in (0, 1)
    d = top * jax.nn.sigmoid(u[1])
    return top - d, jnp.exp(u[2]), d, u[3]


def _transfer_resid(u, L, y):
    a, b, d, l0 = _transfer_params(u)
    return a * jax.nn.sigmoid(b * (l0 - L)) + d - y


@functools.partial(jax.jit, static_argnames=("n_steps",))
def _fit_transfer(starts, L, y, n_steps):
    def one(u0):
        def body(c, _):
            u, f, mu = c
            r = _transfer_resid(u, L, y)
            J = jax.jacfwd(_transfer_resid)(u, L, y)
            A = J.T @ J
            step = -jnp.linalg.solve(A + mu * (jnp.diagonal(A) + 1e-12) * jnp.eye(4), J.T @ r)
            u2 = u + step * jnp.minimum(1.0, 3.0 / (jnp.max(jnp.abs(step)) + 1e-300))
            f2 = jnp.sum(_transfer_resid(u2, L, y) ** 2)
            ok = jnp.isfinite(f2) & (f2 < f)
            return (
                jnp.where(ok, u2, u),
                jnp.where(ok, f2, f),
                jnp.where(ok, mu / 3.0, mu * 4.0),
            ), None

        f0 = jnp.sum(_transfer_resid(u0, L, y) ** 2)
        (u, f, _), _ = jax.lax.scan(body, (u0, f0, jnp.asarray(1e-3, u0.dtype)), None, n_steps)
        return u, f

    return jax.vmap(one)(starts)


def fit_sigmoid_transfer(loss, accuracy, *, n_steps: int = 200) -> TransferFit:
    """Least-squares fit of p = a sigmoid(b (L0 - L)) + d (Eq. 2 / Eq. 65) to (loss, accuracy).

    The constraints 0 <= d, 0 <= a, a + d <= 1, b > 0 hold by construction
    (a + d = sigmoid(u0), d = (a + d) sigmoid(u1), b = exp(u2), L0 = u3); Levenberg-Marquardt
    from a grid of starts (L0 over the data's loss range, a few slopes), vmapped.

    Args:
      loss: pretraining losses [nats/token], shape (n,), finite, > 0.
      accuracy: benchmark accuracies in [0, 1], shape (n,).

    Raises:
      ValueError naming the row for non-finite / out-of-range values; fewer than 5 pairs.
    """
    L = _as_column(loss, "loss")
    y = _as_column(accuracy, "accuracy")
    if L.size != y.size:
        raise ValueError(f"loss and accuracy must have the same length, got {L.size}, {y.size}")
    for name, v, ok in (
        ("loss", L, np.isfinite(L) & (L > 0)),
        ("accuracy", y, np.isfinite(y) & (y >= 0) & (y <= 1)),
    ):
        bad = np.nonzero(~ok)[0]
        if bad.size:
            rng = "positive and finite" if name == "loss" else "in [0, 1]"
            raise ValueError(f"row {int(bad[0])}: {name} must be {rng}, got {v[bad[0]]!r}")
    if L.size < 5:
        raise ValueError(f"{L.size} (loss, accuracy) pairs for 4 parameters: need at least 5")
    lo, hi = float(L.min()), float(L.max())
    span = max(hi - lo, 1e-3)
    grid = np.meshgrid(
        [0.0, 3.0],
        [-4.0, -1.0],
        np.log(np.array([0.3, 1.0, 3.0, 10.0]) / span * 4),
        np.linspace(lo - 0.25 * span, hi + 0.25 * span, 9),
        indexing="ij",
    )
    starts = np.stack([g.reshape(-1) for g in grid], -1)
    dtype = jnp.result_type(float)
    u, f = _fit_transfer(
        jnp.asarray(starts, dtype), jnp.asarray(L, dtype), jnp.asarray(y, dtype), int(n_steps)
    )
    f = np.where(np.isfinite(np.asarray(f)), np.asarray(f), np.inf)
    k = int(np.argmin(f))
    a, b, d, l0 = (float(v) for v in _transfer_params(u[k]))
    tr = SigmoidTransfer(a=a, b=b, d=d)
    res = np.asarray(_transfer_resid(u[k], jnp.asarray(L, dtype), jnp.asarray(y, dtype)))
    return TransferFit(transfer=tr, L0=l0, sse=float(f[k]), residuals=res)
