"""pass@k forecasts that pool several data sets (models, checkpoints) on the same problems.

Every route of :func:`fit_passk_counts` sees one data set, and beyond its samples the shape
of the success rates' left tail is an assumption.  When several models were run on the same
problems, the others say which of a model's unsolved problems are hard for every model and
which are merely unlucky.  Shared difficulty (a Rasch model with interaction):

    logit psi_im = theta_m - d_i + eps_im,   eps_im ~ N(0, tau^2),   d_i ~ G,

psi_im the success rate of problem i for data set m, theta_m the data set's level (the
strongest data set's is 0), tau how far the data sets' problem-by-problem success departs
from the shared difficulty (the problem-by-data-set interaction, tau >= ``tau_min``), G a
distribution of difficulties on a grid with a curvature penalty on log G (``smoothness``; a
log-density linear in d, which the penalty favours beyond the data, is a power-law left tail
of psi).  Fitted by penalised maximum likelihood (L-BFGS-B on the exact likelihood of the
counts).  The likelihood of c of n samples, integrated against the interaction, uses each
bin of a logit-psi grid's exact integral of psi^c (1 - psi)^(n - c) (an incomplete beta
ratio), so 100 samples and a million are resolved alike.  A problem's pass@k for data set m
is its posterior expectation given every data set's counts of it:

    pass_im@k = 1 - E[(1 - psi_im)^k | counts of problem i],   pass_m@k = mean_i pass_im@k

over the problems data set m measured.  Intervals: parameters drawn as refits to
problems resampled with replacement would spread (the sandwich H^+ J H^+ of the penalised
likelihood), then pass@k drawn from the problems' own spread (mean_i p_i + sqrt(sum_i
p_i (1 - p_i)) / P z), as the single-data-set routes do.  They hold neither the model's own
error (a data set whose problems do not follow the shared ordering) nor the far tail's
(set by the penalty): see the README for their coverage.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from scipy import special as sps

from .._checks import check_level, check_n_boot

__all__ = ["SharedFit", "fit_passk_shared", "align_count_groups"]

_H = 0.2
_X = np.arange(-36.0, 14.0 + _H / 2, _H)  # logit psi: psi from 2e-16 to 1 - 1e-6
_D = np.arange(-14.0, 34.0 + 0.4, 0.8)  # difficulty, relative to the strongest data set


def _bin_logmass(c, f):
    """log of int_bin psi^c (1 - psi)^f dx over each bin of the logit grid, [..., X] (x the
    logit of psi; exact incomplete beta ratios where c, f >= 1, else the midpoint rule on a
    smooth integrand)."""
    c = np.asarray(c, float)[..., None]
    f = np.asarray(f, float)[..., None]
    lo, hi = _X - _H / 2, _X + _H / 2
    pa, pb = sps.expit(lo), sps.expit(hi)
    qa, qb = sps.expit(-lo), sps.expit(-hi)
    inner = (c >= 1) & (f >= 1)
    cc, ff = np.where(inner, c, 1.0), np.where(inner, f, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ia, ib = sps.betainc(cc, ff, pa), sps.betainc(cc, ff, pb)
        ja, jb = sps.betainc(ff, cc, qa), sps.betainc(ff, cc, qb)
        diff = np.where(ia > 0.5, ja - jb, ib - ia)  # the side without cancellation
        exact = sps.betaln(cc, ff) + np.log(np.maximum(diff, 0.0))
        mid = np.log(_H) + c * -np.logaddexp(0.0, -_X) + f * -np.logaddexp(0.0, _X)
    return np.where(inner, exact, mid)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SharedDifficulty:
    """theta [M] (levels), log_tau (tau = tau_min + exp(log_tau)), log_g [G] (log weights
    of the difficulty grid, normalised)."""

    theta: jax.Array
    log_tau: jax.Array
    log_g: jax.Array


def _unpack(p, m, anchor):
    theta = jnp.insert(p[: m - 1], anchor, 0.0)
    lg = p[m:]
    return SharedDifficulty(theta, p[m - 1], lg - logsumexp(lg))


def _log_kernel(par, tau_min):
    """log density of x = logit psi given d at the grid's bin centres, [M, X, G] (normalised
    so that its bin sum times the bin width is 1)."""
    tau = tau_min + jnp.exp(par.log_tau)
    x, d = jnp.asarray(_X), jnp.asarray(_D)
    z = (x[None, :, None] - par.theta[:, None, None] + d[None, None, :]) / tau
    lk = -0.5 * z**2
    return lk - logsumexp(lk, axis=1, keepdims=True) - np.log(_H)


def _cell_loglik(lm, lk, present):
    """log int lik(x) kernel(x | d) dx, [I, M, G]; 0 where a data set did not measure."""
    mx = jnp.max(lm, axis=2, keepdims=True)
    el = jnp.einsum("imx,mxg->img", jnp.exp(lm - mx), jnp.exp(lk))
    return jnp.where(present[..., None], jnp.log(jnp.maximum(el, _tiny(el))) + mx, 0.0)


def _tiny(x):
    # the underflow guard in x's precision (1e-300 is 0 in float32, and log 0 a NaN gradient)
    return jnp.finfo(x.dtype).tiny


def _problem_loglik(p, lm, present, tau_min, anchor):
    """log-likelihood of each problem's counts, [I]."""
    par = _unpack(p, lm.shape[1], anchor)
    cell = _cell_loglik(lm, _log_kernel(par, tau_min), present)
    return logsumexp(cell.sum(1) + par.log_g[None], axis=1)


_problem_scores = jax.jit(jax.jacfwd(_problem_loglik), static_argnums=(4,))


def _objective(p, lm, present, smooth, tau_min, anchor):
    """The penalised negative log-likelihood that the fit minimises."""
    lg = _unpack(p, lm.shape[1], anchor).log_g
    d2 = lg[2:] - 2 * lg[1:-1] + lg[:-2]
    return -jnp.sum(_problem_loglik(p, lm, present, tau_min, anchor)) + smooth * jnp.sum(d2**2)


_value_and_grad = jax.jit(jax.value_and_grad(_objective), static_argnums=(5,))


def _hessian(p, *args):
    """Central differences of the exact gradient (forward-over-reverse differentiation of
    the underflow guards gives NaN where a cell's likelihood is 0 on part of the grid), in
    float64 on the host; the step balances truncation against the gradient's rounding
    (eps^(1/3) in float32)."""
    step = 1e-4 if jax.config.jax_enable_x64 else 5e-3
    cols = []
    for j in range(p.size):
        e = np.zeros(p.size)
        e[j] = step
        hi = np.asarray(_value_and_grad(jnp.asarray(p + e), *args)[1], float)
        lo = np.asarray(_value_and_grad(jnp.asarray(p - e), *args)[1], float)
        cols.append((hi - lo) / (2 * step))
    h = np.array(cols)
    return 0.5 * (h + h.T)


def _problem_failure(par, lm, present, lnum, m, tau_min):
    """E[(1 - psi_im)^k | counts of problem i] for each k, [K, I]."""
    lk = _log_kernel(par, tau_min)
    cell = _cell_loglik(lm, lk, present)
    w = par.log_g[None] + cell.sum(1)
    w = w - logsumexp(w, axis=1, keepdims=True)  # posterior of d_i, [I, G]
    # log sum_x exp(lnum + lk[m]) over the grid, [K, I, G], as a product of scaled
    # exponentials (the same guard as the cells'), not a [K, I, X, G] logsumexp; where k
    # is so large that (1 - psi)^k underflows in every bin the expectation is 0
    mx = jnp.max(lnum, axis=2, keepdims=True)
    some = jnp.isfinite(mx)
    mx = jnp.where(some, mx, 0.0)
    el = jnp.exp(lnum - mx) @ jnp.exp(lk[m])
    num = jnp.where(some, jnp.log(jnp.maximum(el, _tiny(el))) + mx, -jnp.inf)
    return jnp.exp(logsumexp(w[None] + num - cell[None, :, m, :], axis=2))


_fitted_failure = jax.jit(_problem_failure)
_replicate_failure = jax.jit(jax.vmap(_problem_failure, in_axes=(0, None, None, None, None, None)))
_CHUNK_CELLS = 2e7  # replicates x data sets x logit bins x difficulties at once (~0.5 GB)


@dataclasses.dataclass(frozen=True)
class SharedFit:
    """Result of :func:`fit_passk_shared`.

    ``names``: the data sets; ``levels``: {name: theta} (the strongest 0; a level one
    lower is e times the odds of failure on every problem); ``tau``: the interaction;
    ``difficulty``: (grid, weights) of G; ``dropped``: data sets with no correct sample,
    left out of the fit (their level is not identified: there is no forecast for them);
    ``converged`` and ``message``: the optimiser's report."""

    names: tuple
    levels: dict
    tau: float
    difficulty: tuple
    dropped: tuple
    converged: bool
    message: str
    params: SharedDifficulty = dataclasses.field(repr=False)
    _correct: np.ndarray = dataclasses.field(repr=False)
    _samples: np.ndarray = dataclasses.field(repr=False)
    _rows: np.ndarray = dataclasses.field(repr=False)
    _n_rows: int = dataclasses.field(repr=False)
    _lm: jax.Array = dataclasses.field(repr=False)
    _pinv: np.ndarray = dataclasses.field(repr=False)
    _tau_min: float = dataclasses.field(repr=False)
    _anchor: int = dataclasses.field(repr=False)
    n_boot: int = 1000
    seed: int = 0

    def _column(self, name):
        if name in self.dropped:
            raise ValueError(
                f"data set {name!r} has no correct sample: its level is not identified, so "
                "the shared fit gives no forecast for it"
            )
        if name not in self.names:
            raise ValueError(f"unknown data set {name!r}; the fit has {list(self.names)}")
        return self.names.index(name)

    def _lnum(self, m, k):
        c, n = self._correct[:, m], self._samples[:, m]
        lnum = np.stack([_bin_logmass(c, n - c + kk) for kk in k])
        # a log-mass below -1e30 is 0 in any precision (and would overflow float32's range)
        return jnp.asarray(np.where(lnum < -1e30, -np.inf, lnum))

    @functools.cached_property
    def _present(self):
        return jnp.asarray(self._samples > 0)

    def _failure(self, m, k):
        fail = _fitted_failure(
            self.params, self._lm, self._present, self._lnum(m, k), m, self._tau_min
        )
        return np.asarray(fail)

    def _select(self, m, problems):
        """Positions (among the fitted rows) of the problems to average: ``problems``
        (indices into the input rows) or every problem data set m measured."""
        mine = self._samples[:, m] > 0
        if problems is None:
            return np.nonzero(mine)[0]
        pos = np.full(self._n_rows, -1)
        pos[self._rows] = np.arange(self._rows.size)
        sel = pos[_row_indices(problems, self._n_rows)]
        if (sel < 0).any() or not mine[sel].all():
            bad = np.asarray(problems)[(sel < 0) | ~mine[np.maximum(sel, 0)]]
            raise ValueError(f"data set {self.names[m]!r} did not measure problem(s) {bad[:5]}")
        return sel

    def passk_problems(self, name, k):
        """Each problem's posterior pass@k for data set ``name``, [len(k), P] in the input's
        row order (NaN where the data set did not measure the problem)."""
        k = _as_k(k)
        m = self._column(name)
        out = np.full((k.size, self._n_rows), np.nan)
        mine = self._samples[:, m] > 0
        out[:, self._rows[mine]] = 1.0 - self._failure(m, k)[:, mine]
        return out

    def passk(self, name, k, problems=None):
        """pass@k after k samples each, averaged over the problems data set ``name``
        measured (or over ``problems``, row indices of the input)."""
        k = _as_k(k)
        m = self._column(name)
        return 1.0 - self._failure(m, k)[:, self._select(m, problems)].mean(1)

    @functools.cached_property
    def _draws(self):
        """Parameter draws from N(p, H^+ J H^+), H the penalised likelihood's Hessian, J
        the sum over problems of their scores' outer products: the spread of refits to
        problems resampled with replacement, to first order (right also where the model is
        not), and none along directions that no problem's likelihood moves (the far tail of
        G, which the penalty alone sets)."""
        rng = np.random.default_rng(self.seed)
        p0 = _pack(self.params, self._anchor)
        sc = np.asarray(
            _problem_scores(jnp.asarray(p0), self._lm, self._present, self._tau_min, self._anchor)
        )
        sc = sc - sc.mean(0)
        cov = self._pinv @ (sc.T @ sc) @ self._pinv
        # through the symmetric square root, continuous in cov: refits to the same problems
        # in another row order (cov equal to the optimiser's tolerance) draw nearly the same
        # replicates, where eigenvectors of near-equal eigenvalues would reshuffle them
        evals, evecs = np.linalg.eigh(0.5 * (cov + cov.T))
        root = (evecs * np.sqrt(np.maximum(evals, 0.0))) @ evecs.T
        draws = p0 + rng.standard_normal((self.n_boot, p0.size)) @ root
        return draws, rng.standard_normal(self.n_boot)

    def passk_replicates(self, name, k, problems=None):
        """[n_boot, len(k)] replicates: parameters drawn as refits to resampled problems
        would spread (see ``_draws``), then pass@k from the problems' own spread."""
        k = _as_k(k)
        m = self._column(name)
        if not self.n_boot:
            raise ValueError("the fit was made with n_boot=0: no replicates, no intervals")
        draws, z = self._draws
        lnum = self._lnum(m, k)
        mine = self._select(m, problems)
        unpack = jax.vmap(lambda p: _unpack(p, len(self.names), self._anchor))
        fails = []
        chunk = int(np.clip(_CHUNK_CELLS // (len(self.names) * _X.size * _D.size), 1, 100))
        pad = -self.n_boot % chunk  # one compiled shape: the last chunk is filled up, then cut
        draws = np.concatenate([draws, np.repeat(draws[:1], pad, axis=0)])
        for lo in range(0, self.n_boot + pad, chunk):
            par = unpack(jnp.asarray(draws[lo : lo + chunk]))
            fail = _replicate_failure(par, self._lm, self._present, lnum, m, self._tau_min)
            fails.append(np.asarray(fail)[:, :, mine])
        p = 1.0 - np.concatenate(fails)[: self.n_boot]  # [B, K, P_m]
        spread = np.sqrt(np.sum(p * (1 - p), axis=2)) / p.shape[2]
        return np.clip(p.mean(2) + spread * z[:, None], 0.0, 1.0)

    def passk_interval(self, name, k, level: float = 0.9, problems=None):
        """(low, high) percentiles of :meth:`passk_replicates`."""
        level = check_level(level)
        r = self.passk_replicates(name, k, problems)
        a = (1 - level) / 2
        return np.quantile(r, a, axis=0), np.quantile(r, 1 - a, axis=0)


def _as_k(k):
    k = np.atleast_1d(np.asarray(k, float))
    if k.ndim != 1 or not k.size:
        raise ValueError(f"k must be a number or a non-empty 1-D array, got shape {k.shape}")
    if not np.all(np.isfinite(k)) or np.any(k < 1):
        raise ValueError(f"k must be finite and >= 1, got {k}")
    return k


def _row_indices(problems, n_rows):
    """Row indices of the input from ``problems``: integers in [0, n_rows), or a boolean
    mask of length n_rows."""
    p = np.atleast_1d(np.asarray(problems))
    if p.dtype == bool:
        if p.shape != (n_rows,):
            raise ValueError(f"a boolean mask of problems needs {n_rows} entries, got {p.shape}")
        p = np.nonzero(p)[0]
    elif p.dtype.kind not in "iu" and not (
        p.dtype.kind == "f" and np.all(np.isfinite(p)) and np.all(p == np.round(p))
    ):
        raise ValueError(f"problems must be integer row indices or a boolean mask, got {p}")
    if p.ndim != 1 or not p.size:
        raise ValueError("problems must select at least one problem (a 1-D array)")
    if np.any(p < 0) or np.any(p >= n_rows):
        out = p[(p < 0) | (p >= n_rows)]
        raise ValueError(f"problem indices must lie in [0, {n_rows}), got {out[:5]}")
    return p.astype(np.int64)


def _pack(par, anchor):
    th = np.delete(np.asarray(par.theta), anchor)
    return np.concatenate([th, [float(par.log_tau)], np.asarray(par.log_g)])


def align_count_groups(groups: Mapping) -> tuple:
    """{name: Counts} (as :func:`load_count_groups` returns) -> (names, problems, correct,
    samples), the last two [P, M] over the union of the problems (samples 0 where a data
    set did not measure a problem)."""
    if not groups:
        raise ValueError("no data sets")
    names = tuple(groups)
    problems = sorted({p for g in groups.values() for p in g.problem}, key=str)
    row = {p: i for i, p in enumerate(problems)}
    c = np.zeros((len(problems), len(names)), np.int64)
    n = np.zeros_like(c)
    for j, name in enumerate(names):
        g = groups[name]
        idx = [row[p] for p in g.problem]
        if len(set(idx)) != len(idx):
            raise ValueError(f"data set {name!r} lists a problem twice")
        c[idx, j], n[idx, j] = g.correct, g.samples
    return names, tuple(problems), c, n


def fit_passk_shared(
    correct,
    samples=None,
    *,
    names=None,
    smoothness: float = 10.0,
    tau_min: float = 0.3,
    n_boot: int = 1000,
    seed: int = 0,
) -> SharedFit:
    """Fit shared problem difficulty to counts of several data sets on the same problems.

    Args:
      correct, samples: [P, M] counts, problem i and data set m (samples 0: not measured).
        Or pass a {name: Counts} mapping as ``correct`` (and nothing as ``samples``).
      names: the data sets' names (default 0 .. M-1).
      smoothness: the curvature penalty on log G (per grid step of 0.8 in difficulty).
      tau_min: the least problem-by-data-set interaction (logit scale).
      n_boot, seed: replicates for the intervals (0: none; else at least 20).

    Returns a :class:`SharedFit`.  Raises ``ValueError`` naming the cell for counts that are
    not integers with 0 <= correct <= samples, and when fewer than two data sets have a
    correct sample (pooling needs two).
    """
    if isinstance(correct, Mapping):
        if samples is not None:
            raise ValueError("pass either a {name: Counts} mapping or correct and samples")
        names, _, correct, samples = align_count_groups(correct)
    c = np.asarray(correct, float)
    n = np.asarray(samples, float)
    if c.ndim != 2 or c.shape != n.shape:
        raise ValueError(
            f"correct and samples must be [problems, data sets] arrays of one shape, got "
            f"{c.shape} and {n.shape}"
        )
    names = tuple(range(c.shape[1])) if names is None else tuple(names)
    if len(names) != c.shape[1]:
        raise ValueError(f"{len(names)} names for {c.shape[1]} data sets")
    if len(set(names)) != len(names):
        raise ValueError(f"data set names must differ, got {list(names)}")
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(c) & np.isfinite(n) & (c == np.round(c)) & (n == np.round(n))
        bad = ~whole | ~((0 <= c) & (c <= n))
    if bad.any():  # the first bad cell in row order, named
        i, m = np.argwhere(bad)[0]
        if not whole[i, m]:
            raise ValueError(f"problem {i}, data set {names[m]!r}: counts must be integers")
        raise ValueError(
            f"problem {i}, data set {names[m]!r}: need 0 <= correct <= samples, got "
            f"{c[i, m]:g} of {n[i, m]:g}"
        )
    if not (0 <= smoothness < np.inf and 0 < tau_min < np.inf):
        raise ValueError(
            f"smoothness must be finite and >= 0 and tau_min finite and > 0, got {smoothness} "
            f"and {tau_min}"
        )
    n_boot = check_n_boot(n_boot)
    solved = c.sum(0) > 0
    if solved.sum() < 2:
        raise ValueError(
            "shared difficulty needs at least two data sets with a correct sample; fit one "
            "data set with fit_passk_counts"
        )
    keep = np.nonzero(solved)[0]
    dropped = tuple(names[j] for j in np.nonzero(~solved)[0])
    c, n = c[:, keep].astype(np.int64), n[:, keep].astype(np.int64)
    names = tuple(names[j] for j in keep)
    n_rows = c.shape[0]
    measured = n.sum(1) > 0
    c, n = c[measured], n[measured]
    present = jnp.asarray(n > 0)
    lm = jnp.asarray(np.where(n[..., None] > 0, _bin_logmass(c, n - c), 0.0))
    rate = (c.sum(0) + 0.5) / (n.sum(0) + 1.0)
    anchor = int(np.argmax(rate))
    th0 = np.log(rate / (1 - rate))
    th0 = np.delete(th0 - th0[anchor], anchor)
    p0 = np.concatenate([th0, [np.log(0.7)], -0.5 * ((_D - 5.0) / 6.0) ** 2])
    m = len(names)
    bounds = [(-40.0, 40.0)] * (m - 1) + [(np.log(1e-3), np.log(10.0))] + [(-60.0, 60.0)] * _D.size
    args = (lm, present, float(smoothness), float(tau_min), anchor)

    def f(p):
        v, g = _value_and_grad(jnp.asarray(p), *args)
        return float(v), np.asarray(g, float)

    from scipy.optimize import minimize

    res = minimize(f, p0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 5000})
    evals, evecs = np.linalg.eigh(_hessian(res.x, *args))
    # directions the penalised likelihood does not curve (log G's normalisation, grid
    # points far from every problem) carry no information and change no forecast
    inv = np.where(evals > 1e-8 * evals.max(), 1.0 / np.maximum(evals, 1e-300), 0.0)
    pinv = (evecs * inv) @ evecs.T
    par = _unpack(jnp.asarray(res.x), m, anchor)
    return SharedFit(
        names=names,
        levels={nm: float(t) for nm, t in zip(names, np.asarray(par.theta), strict=True)},
        tau=float(tau_min + np.exp(par.log_tau)),
        difficulty=(_D.copy(), np.exp(np.asarray(par.log_g))),
        dropped=dropped,
        converged=bool(res.success),
        message=str(res.message),
        params=par,
        _correct=c,
        _rows=np.nonzero(measured)[0],
        _n_rows=n_rows,
        _samples=n,
        _lm=lm,
        _pinv=pinv,
        _tau_min=float(tau_min),
        _anchor=anchor,
        n_boot=int(n_boot),
        seed=int(seed),
    )
