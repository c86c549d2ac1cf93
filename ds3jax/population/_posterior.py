"""Posterior of a population family's parameters on a grid, and the pass@k it predicts.

For a family with parameters theta (2 or 3 of them: :data:`GRID_AXES`), the posterior on a box
of theta (a Beta's mean logit and log concentration; logit of a mass; mu, log sigma) is
computed on a product grid.  The prior is flat in log alpha and log beta on alpha in
[5e-3, 50], beta in [0.05, 1e8] (flat in the Beta's grid coordinates too: the Jacobian is 1),
flat in mu in [-22, 8] and log sigma, sigma in [0.1, 10], and uniform in a mass itself (A, not
its logit).
With L[g, i] = log M_theta_g(c_i, n_i - c_i) (the per-problem log-likelihood up to a
constant, :mod:`._families`),

    log post(g) = sum_i v_i L[g, i] + log prior(g) - log sum_g' exp(...).

The grid zooms twice onto the region where the log posterior is within 20 of its maximum (one
cell beyond it, inside the box), keeping its number of points, so a posterior narrower than
the box's cells (thousands of problems) is resolved as well as a wide one.

Nothing is optimised, so nothing can fail to converge, and a likelihood ridge (data that
determine alpha / beta but not both) shows up as posterior spread instead of an arbitrary
optimum.  The whole computation is one vmapped evaluation over (grid, problems).

Prediction for the problems at hand.  A problem seen with c_i of n_i correct is solved by k
fresh samples with probability 1 - E[(1 - psi)^k | c_i, n_i, theta] (:func:`posterior_passk`), so
the benchmark's pass@k after k samples per problem is, under theta,

    m_theta(k) = (1/P) sum_i [1 - r_i(k)],     r_i(k) = M_theta(c_i, f_i + k) / M_theta(c_i, f_i),

with variance s_theta(k)^2 = (1/P^2) sum_i [r_i(2k) - r_i(k)^2] from the problems' own
success rates (which psi_i each problem has).  The point estimate is sum_g post(g) m_g(k).

Intervals ("BayesBag", Buehlmann 2014; Huggins & Miller 2023): replicate b resamples 2P
problems with replacement (multinomial weights v_b summing to 2P), draws theta_b from the
posterior given the resampled data, and draws pass@k ~ Normal(m_theta_b(k), s_theta_b(k)^2)
clipped to [0, 1].  With bootstrap samples twice the data's size the replicate spread equals
the posterior's when the family is right (nominal coverage) and grows towards the sandwich
(model-free) variance when it is wrong; it carries the parameter uncertainty, its sensitivity
to which problems were drawn, and the problems' own randomness.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from ._count_models import FAMILIES, Family
from ._families import PointMass, log_moment

__all__ = [
    "GRID_AXES",
    "GridPosterior",
    "bounded_coordinates",
    "grid_posterior",
    "grid_moments",
    "problem_moments",
    "distinct_counts",
    "padded_size",
    "grid_replicates",
]

_LOG = np.log
_ALPHA, _BETA = (5e-3, 50.0), (0.05, 1e8)  # the Beta families' prior box in alpha, beta
_MU, _LS = (-22.0, 8.0), (_LOG(0.1), _LOG(10.0))  # mu, log sigma
# the grid's box in the Beta coordinates (logit of the mean m = log alpha - log beta, log
# concentration s = log(alpha + beta)) encloses the alpha-beta box; the prior is zero outside it
_M = (_LOG(_ALPHA[0] / _BETA[1]), _LOG(_ALPHA[1] / _BETA[0]))
_C = (_LOG(_ALPHA[0] + _BETA[0]), _LOG(_ALPHA[1] + _BETA[1]))
# the grid's box of each family: (low, high, grid points) per axis, in the coordinates of
# ``FAMILIES[name].build`` (Beta: m, s; logit of a mass; mu, log sigma)
GRID_AXES = {
    "beta": ((*_M, 28), (*_C, 28)),
    "beta+zero": ((*_M, 14), (*_C, 12), (-6.0, 8.0, 18)),
    "beta+one": ((*_M, 14), (*_C, 12), (-9.0, 3.0, 16)),
    "logit-normal": ((*_MU, 24), (*_LS, 18)),
    "logit-normal+zero": ((*_MU, 12), (*_LS, 10), (-6.0, 8.0, 18)),
}


def bounded_coordinates(name, thetas):
    """The coordinates whose prior bounds are artificial limits, with the bounds:
    ``[(label, values [G], low, high)]`` (log alpha, log beta for the Beta families; mu and
    log sigma for the logit-normal)."""
    th = np.asarray(thetas)
    if name.startswith("beta"):
        la = th[:, 1] - np.logaddexp(0.0, -th[:, 0])
        lb = th[:, 1] - np.logaddexp(0.0, th[:, 0])
        return [
            ("log alpha", la, _LOG(_ALPHA[0]), _LOG(_ALPHA[1])),
            ("log beta", lb, _LOG(_BETA[0]), _LOG(_BETA[1])),
        ]
    return [("mu", th[:, 0], *_MU), ("log sigma", th[:, 1], *_LS)]


_REFINE = 2  # zoom rounds onto the region holding the mass
_KEEP = 20.0  # the region: log posterior within 20 of its maximum (plus one cell)
_SUPPORT = 1024  # grid points kept for prediction
_CUT = 25.0


def _log_prior(name, thetas, box):
    """log prior density: flat in log alpha, log beta (equivalently in the Beta coordinates m,
    s: the Jacobian is 1) on the alpha-beta box and zero outside it; flat in mu, log sigma;
    uniform on the probability scale for a mass (its logit t has density
    sigmoid(t) sigmoid(-t))."""
    fam = FAMILIES[name]
    out = np.zeros(thetas.shape[0])
    if name.startswith("beta"):
        (_, la, la0, la1), (_, lb, lb0, lb1) = bounded_coordinates(name, thetas)
        inside = (la >= la0) & (la <= la1) & (lb >= lb0) & (lb <= lb1)
        out += np.where(inside, -np.log((la1 - la0) * (lb1 - lb0)), -np.inf)
    for j in range(len(fam.names)):
        lo, hi = box[j, 0], box[j, 1]
        if j in fam.mass_axes:
            t = thetas[:, j]
            sig = lambda x: 1.0 / (1.0 + np.exp(-x))
            out += -np.logaddexp(0.0, -t) - np.logaddexp(0.0, t) - np.log(sig(hi) - sig(lo))
        elif not name.startswith("beta"):
            out -= np.log(hi - lo)
    return out


def _mesh(lo, hi, npts):
    axes = [np.linspace(a, b, m) for a, b, m in zip(lo, hi, npts)]
    grid = np.meshgrid(*axes, indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=1)


def padded_size(n: int, least: int) -> int:
    """The smallest power of two >= n, and at least ``least``: the length arrays are padded to
    so that few shapes, and compilations, occur."""
    return max(least, 1 << int(np.ceil(np.log2(max(n, 1)))))


def distinct_counts(correct, samples, weights=None):
    """The distinct (c, n) pairs of the data, padded with (0, 0) to a power of two (at least 32)
    so that few array shapes, and compilations, occur: ``(c_u, n_u, v_u, inverse)`` with
    ``v_u`` the summed problem weights of each pair (0 on the padding) and ``inverse`` the
    pair of each problem.  Benchmarks repeat pairs heavily (every unsolved problem at the same
    n is one pair), and the likelihood and the predictions need each pair's moments once."""
    c = np.asarray(correct, dtype=float)
    n = np.asarray(samples, dtype=float)
    v = np.ones_like(c) if weights is None else np.asarray(weights, dtype=float)
    pairs, inv = np.unique(np.stack([c, n], axis=1), axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    size = padded_size(len(pairs), 32)
    cu, nu, vu = np.zeros(size), np.zeros(size), np.zeros(size)
    cu[: len(pairs)], nu[: len(pairs)] = pairs[:, 0], pairs[:, 1]
    np.add.at(vu, inv, v)
    return cu, nu, vu, inv


@functools.partial(jax.jit, static_argnames=("name",))
def _loglik_matrix(name, thetas, c, f):
    """L[g, i] = log M_theta_g(c_i, f_i), blocked over the grid to bound memory."""
    fam = FAMILIES[name]
    one = lambda th: log_moment(fam.build(th), c, f)
    return jax.lax.map(one, thetas, batch_size=256)


@functools.partial(jax.jit, static_argnames=("name",))
def _split_loglik(name, base_thetas, t, c, f):
    """L of a mass family on the product grid base_thetas x t (t varying fastest), from the
    base family's L on base_thetas alone: log M = logaddexp(log(1 - w) + log M_base,
    log w + log M_mass), w the mass's weight (as MixturePopulation / the zero mass compute it,
    but with the base's moments computed once per base point instead of once per t)."""
    base, psi0, mass_is_t = FAMILIES[name].split
    lb = _loglik_matrix(base, base_thetas, c, f)
    lm = log_moment(PointMass(jnp.asarray(psi0, c.dtype)), c, f)
    lw_mass = jax.nn.log_sigmoid(t if mass_is_t else -t)
    lw_base = jax.nn.log_sigmoid(-t if mass_is_t else t)
    out = jnp.logaddexp(
        lb[:, None, :] + lw_base[None, :, None], lm[None, None, :] + lw_mass[None, :, None]
    )
    return out.reshape(-1, c.shape[-1])


def _grid_loglik(name, lo, hi, npts, c, f, dtype):
    """L on the product grid of (lo, hi, npts) (:func:`_mesh` order)."""
    if FAMILIES[name].split:
        base = jnp.asarray(_mesh(lo[:-1], hi[:-1], npts[:-1]), dtype)
        t = jnp.asarray(np.linspace(lo[-1], hi[-1], npts[-1]), dtype)
        return _split_loglik(name, base, t, c, f)
    return _loglik_matrix(name, jnp.asarray(_mesh(lo, hi, npts), dtype), c, f)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GridPosterior:
    """Posterior of one family on its grid, represented on at most ``_SUPPORT`` grid points.

    When the posterior is concentrated the support is its heaviest points; when it is spread
    (weakly identified data) the support is a weighted draw of grid points from the posterior,
    each carrying weight 1/S.  ``logq`` is the log density the support was chosen from minus
    the log prior (-log prior for the heaviest points, the log-likelihood for a draw), so a
    replicate with problem weights V reweights the support exactly by exp(V L - logq).

    Fields: ``thetas`` [S, d], ``logw`` [S] (normalised log weights), ``logq`` [S],
    ``loglik`` [S, P] (per-problem log-likelihood, for resampling), ``correct``, ``samples``
    [P] (the data), ``log_evidence`` (log of the marginal likelihood under the flat prior on
    the whole box, up to the data's constant), ``name`` (static)."""

    thetas: jax.Array
    logw: jax.Array
    logq: jax.Array
    loglik: jax.Array
    correct: jax.Array
    samples: jax.Array
    log_evidence: jax.Array
    name: str = dataclasses.field(metadata=dict(static=True), default="beta")

    @property
    def family(self) -> Family:
        return FAMILIES[self.name]


def grid_posterior(name: str, correct, samples, weights=None, key=None) -> GridPosterior:
    """Posterior of family ``name`` (a key of :data:`GRID_AXES`) given counts (see module doc).

    ``key`` seeds the draw of support points when the posterior is too spread for its
    heaviest ``_SUPPORT`` points to hold all but 1e-6 of its mass."""
    c = jnp.asarray(correct)
    n = jnp.asarray(samples, c.dtype)
    dt = c.dtype
    cu, nu, vu, inv = distinct_counts(c, n, weights)
    cu, nu, vu = (jnp.asarray(a, dt) for a in (cu, nu, vu))
    box = np.array(GRID_AXES[name], dtype=float)
    lo, hi, npts = box[:, 0].copy(), box[:, 1].copy(), box[:, 2].astype(int)
    for rnd in range(_REFINE + 1):
        thetas_np = _mesh(lo, hi, npts)
        thetas = jnp.asarray(thetas_np, dt)
        L = _grid_loglik(name, lo, hi, npts, cu, nu - cu, dt)
        logprior = _log_prior(name, thetas_np, box)
        # the bookkeeping below is host-side numpy: many small eager JAX calls cost more
        tot = np.asarray(L @ vu, dtype=float) + logprior
        tot = np.where(np.isfinite(tot), tot, -np.inf)
        if rnd == _REFINE:
            break
        # zoom onto the points within _KEEP of the maximum, one cell beyond, inside the box
        keep = tot > tot.max() - _KEEP
        cell = (hi - lo) / (npts - 1)
        lo, hi = (
            np.maximum(box[:, 0], thetas_np[keep].min(0) - cell),
            np.minimum(box[:, 1], thetas_np[keep].max(0) + cell),
        )
    logz = float(scipy.special.logsumexp(tot))
    # Z = int L(theta) prior(theta) dtheta over the box, by the grid's cells (the prior is
    # normalised on the whole box, so the zoomed grid's cells are smaller)
    log_evidence = logz + float(np.sum(np.log((hi - lo) / npts)))
    S = min(_SUPPORT, thetas.shape[0])
    top = np.argsort(-tot, kind="stable")[:S]
    held = float(np.exp(scipy.special.logsumexp(tot[top]) - logz))
    if held >= 1.0 - 1e-6:
        lw = tot[top] - logz
        # points far below the mode carry nothing; they stay in the support with weight 0
        lw = np.where(lw > lw.max() - _CUT, lw, -np.inf)
        lw = lw - scipy.special.logsumexp(lw)
        sel, logq = top, -logprior[top]
    else:
        key = jax.random.key(0) if key is None else key
        sel = np.asarray(jax.random.categorical(key, jnp.asarray(tot, dt), shape=(S,)))
        lw = np.full(S, -np.log(S))
        logq = tot[sel] - logprior[sel]
    lw, logq = jnp.asarray(lw, dt), jnp.asarray(logq, dt)
    return GridPosterior(
        thetas=thetas[sel],
        logw=lw,
        logq=logq,
        loglik=L[sel][:, inv],
        correct=c,
        samples=n,
        log_evidence=log_evidence,
        name=name,
    )


def problem_moments(pop, c, n, k, mult, variance: bool = True):
    """m(k) and s(k)^2 (module doc) of one population for the problems at hand: shapes [K].

    ``pop``'s fields must broadcast against the [K, P] grid of (k, problem); ``mult`` counts
    how many problems each (c, n) stands for.  ``variance=False`` skips s(k)^2 (returned as
    zeros), a third of the cost."""
    base = log_moment(pop, c, n - c)
    kk = k[:, None]
    r1 = jnp.exp(jnp.minimum(log_moment(pop, c, (n - c) + kk) - base, 0.0))
    P = jnp.sum(mult)
    m = (1.0 - r1) @ mult / P
    if not variance:
        return m, jnp.zeros_like(m)
    r2 = jnp.exp(jnp.minimum(log_moment(pop, c, (n - c) + 2 * kk) - base, 0.0))
    return m, jnp.maximum(r2 - r1**2, 0.0) @ mult / P**2


@functools.partial(jax.jit, static_argnames=("name", "variance"))
def grid_moments(name, thetas, c, n, k, mult=None, variance: bool = True):
    """m_theta(k) and s_theta(k)^2 for every support point: shapes [G, K].  ``mult`` counts
    how many problems each (c, n) stands for (the output of :func:`distinct_counts`; one each
    by default); ``variance=False``: means only (s^2 returned as zeros)."""
    fam = FAMILIES[name]
    mult = jnp.ones_like(c) if mult is None else mult
    one = lambda th: problem_moments(fam.build(th), c, n, k, mult, variance)
    return jax.lax.map(one, thetas, batch_size=64)


def grid_replicates(key, loglik, logw, logq, *, n_boot: int, resample: bool):
    """Support indices of ``n_boot`` BayesBag draws: each resamples the problems (if
    ``resample``) and draws theta from the posterior given the resampled problems, by
    reweighting the support (``logq`` = the proposal's log density minus the log prior)."""
    G, P = loglik.shape
    k1, k2 = jax.random.split(key)
    if not resample:
        return _support_draws(k2, jnp.broadcast_to(logw, (n_boot, G)))
    # the reweighting runs on problems padded to a power of two (weight 0, log-likelihood 0),
    # so data sets of different sizes share its compilation; only the cheap draw of the
    # problem weights is compiled per size
    size = padded_size(P, 32)
    V = jnp.pad(_problem_weights(k1, n_boot, P, loglik.dtype), ((0, 0), (0, size - P)))
    L = jnp.pad(loglik, ((0, 0), (0, size - P)))
    return _support_draws(k2, _reweighted(V, L, logw, logq))


@functools.partial(jax.jit, static_argnames=("n_boot", "P", "dtype"))
def _problem_weights(key, n_boot, P, dtype):
    # bootstrap samples of size 2P: their posterior is half as wide and their spread half
    # the resampling variance, so a correct model keeps its nominal coverage while a wrong
    # one is widened towards the sandwich variance (Huggins & Miller's BayesBag with M = 2N)
    idx = jax.random.randint(key, (n_boot, 2 * P), 0, P)
    return jax.vmap(lambda i: jnp.zeros(P, dtype).at[i].add(1.0))(idx)


@jax.jit
def _reweighted(V, loglik, logw, logq):
    # a problem a support point cannot produce gets the dtype's most negative number, not
    # -inf, so that a problem the replicate did not draw (weight 0) adds 0, not NaN
    L = jnp.where(jnp.isfinite(loglik), loglik, jnp.finfo(loglik.dtype).min / 4)
    lp = V @ L.T - logq[None, :]  # [B, G]
    return jnp.where(jnp.isfinite(logw)[None, :], lp, -jnp.inf)


@jax.jit
def _support_draws(key, lp):
    return jax.random.categorical(key, lp, axis=1)
