"""The routes' predictions: pass@k, population pass@k and replicate draws of a fitted
:func:`fit_passk_counts` route (grid posteriors, one fitted population, the power law, and
their ensemble)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ._count_models import FAMILIES
from ._families import MixturePopulation, log_moment
from ._passk import DiscretePopulation
from ._posterior import (
    distinct_counts,
    grid_moments,
    grid_replicates,
    padded_size,
    problem_moments,
)
from ._powerlaw import powerlaw_passk


class _GridRoute:
    """Posterior-weighted families on their grids (see the module doc)."""

    def __init__(self, posts, weights, key, n_boot, resample):
        self.posts, self.weights = posts, weights
        names = list(posts)
        w = np.array([weights[nm] for nm in names])
        self.n_boot = n_boot
        if n_boot:
            kf, kz, kb = jax.random.split(key, 3)
            self.fam = np.asarray(
                jax.random.choice(kf, len(names), (n_boot,), p=jnp.asarray(w / w.sum()))
            )
            self.z = np.asarray(jax.random.normal(kz, (n_boot,)))
            self.idx = {}
            for j, nm in enumerate(names):
                p = posts[nm]
                idx = grid_replicates(
                    jax.random.fold_in(kb, j),
                    p.loglik,
                    p.logw,
                    p.logq,
                    n_boot=n_boot,
                    resample=resample,
                )
                self.idx[nm] = np.asarray(idx)
        self.names = names

    def _support_moments(self, nm, k, extra=None, variance=True):
        p = self.posts[nm]
        w = np.exp(np.asarray(p.logw))
        used = w > 1e-7 * w.max()
        if extra is not None:
            used[extra] = True
        sel = np.nonzero(used)[0]
        # pad to a power of two so that few shapes (and compilations) occur
        size = padded_size(sel.size, 64)
        pad = np.concatenate([sel, np.full(size - sel.size, sel[0])])
        dt = p.correct.dtype
        kk = jnp.asarray(k, dt)
        cu, nu, mult, _ = distinct_counts(p.correct, p.samples)
        m, v = grid_moments(
            nm,
            p.thetas[pad],
            *(jnp.asarray(a, dt) for a in (cu, nu)),
            kk,
            jnp.asarray(mult, dt),
            variance=variance,
        )
        M = np.zeros((w.size, k.size))
        V = np.zeros((w.size, k.size))
        M[sel], V[sel] = np.asarray(m)[: sel.size], np.asarray(v)[: sel.size]
        return w, M, V

    @property
    def family_weights(self):
        return self.weights

    def components(self, k):
        """Each family's posterior-mean pass@k for these problems: {family: [K]}."""
        out = {}
        for nm in self.names:
            w, M, _ = self._support_moments(nm, k, variance=False)
            out[nm] = w @ M
        return out

    def mean(self, k):
        comps = self.components(k)
        return sum(self.weights[nm] * comps[nm] for nm in self.names)

    def population_mean(self, k):
        out = np.zeros(k.size)
        for nm in self.names:
            p = self.posts[nm]
            w = np.exp(np.asarray(p.logw))
            lf = _pop_log_failure(nm, p.thetas, jnp.asarray(k, p.correct.dtype))
            out += self.weights[nm] * (w @ -np.expm1(np.minimum(np.asarray(lf), 0.0)))
        return out

    def draws(self, k):
        out = np.zeros((self.n_boot, k.size))
        for j, nm in enumerate(self.names):
            rows = np.nonzero(self.fam == j)[0]
            if rows.size == 0:
                continue
            idx = self.idx[nm][rows]
            _, M, V = self._support_moments(nm, k, extra=np.unique(idx))
            out[rows] = M[idx] + np.sqrt(V[idx]) * self.z[rows, None]
        return np.clip(out, 0.0, 1.0)


@functools.partial(jax.jit, static_argnames=("name",))
def _pop_log_failure(name, thetas, k):
    fam = FAMILIES[name]
    return jax.vmap(lambda th: log_moment(fam.build(th), 0.0, k))(thetas)


@jax.jit
def _same_problem(pop, c, n, k):
    """m(k), s(k)^2 of one population for the problems at hand (fields made to broadcast
    against [K, P] by :func:`_expand`)."""
    return problem_moments(pop, c, n, k, jnp.ones_like(c))


def _expand(pop):
    """Give a population's scalar fields two trailing axes so they broadcast against the
    [K, P] grid of (k, problem); a mixture's weights and a discrete population's nodes keep
    their last axis, which the moment sums over."""
    if isinstance(pop, MixturePopulation):
        return MixturePopulation(tuple(_expand(p) for p in pop.components), pop.weights)
    if isinstance(pop, DiscretePopulation):
        return pop
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x)[..., None, None], pop)


class _PointRoute:
    """One fitted population (maximum likelihood) and bootstrap replicate populations."""

    def __init__(self, pop, reps, c, n, key):
        self.pop, self.reps, self.c, self.n = pop, reps, c, n
        self.n_boot = 0 if reps is None else jax.tree_util.tree_leaves(reps)[0].shape[0]
        if self.n_boot:
            self.z = np.asarray(jax.random.normal(key, (self.n_boot,)))

    def _mv(self, pop, k):
        kk = jnp.asarray(k, self.c.dtype)
        return _same_problem(_expand(pop), self.c, self.n, kk)

    def mean(self, k):
        return np.asarray(self._mv(self.pop, k)[0])

    def population_mean(self, k):
        from ._passk import passk

        return np.asarray(passk(self.pop, jnp.asarray(k, self.c.dtype)))

    def draws(self, k):
        m, v = jax.vmap(lambda p: self._mv(p, k))(self.reps)
        return np.clip(np.asarray(m) + np.sqrt(np.asarray(v)) * self.z[:, None], 0.0, 1.0)


class _PowerLawRoute:
    def __init__(self, curve, reps):
        self.curve, self.reps = curve, reps
        self.n_boot = 0 if reps is None else reps.b.shape[0]

    def mean(self, k):
        return np.asarray(powerlaw_passk(self.curve, jnp.asarray(k)))

    population_mean = mean

    def draws(self, k):
        return np.asarray(powerlaw_passk(self.reps, jnp.asarray(k)[None, :]))


# the power law's far-out weight in the point forecast rises from 1/2 to 1 as the share of
# problems with a correct sample goes from _LEAN_FROM to _LEAN_TO, in full with up to
# _LEAN_FULL_N samples per problem and not at all from _LEAN_NONE_N (see ensemble_lean)
_LEAN_FROM, _LEAN_TO = 0.1, 0.3
_LEAN_FULL_N, _LEAN_NONE_N = 100.0, 1000.0


def lean_inputs(correct, samples) -> tuple[float, float]:
    """(s, m): the share of problems with a correct sample and the median number of samples
    per problem, the two numbers :func:`ensemble_lean` reads."""
    return float(np.mean(np.asarray(correct) > 0)), float(np.median(np.asarray(samples, float)))


def ensemble_lean(s, m) -> float:
    """The power law's weight far beyond the data in the ensemble's point forecast,

        lean = 1/2 + 1/2 clip((s - 0.1) / 0.2, 0, 1) clip(log10(1000 / m), 0, 1),

    s the share of problems with a correct sample, m the median number of samples per
    problem.  Where few problems are solved within the data, the pass@k curve the power law
    fits is measured far below the values it must reach, and its slope there under-predicts
    (by 0.19 at 1e4 on the Pythia sets with s < 0.1); the families and the law then err in
    opposite directions and their even average is best.  From s ~ 0.3 on, with 100 samples
    per problem, the law beat the families' average on the populations read off measured
    curves at every s and on the synthetic ones up to s = 0.5 (above, those favoured the
    families by < 0.01), and the point forecast follows it; with 1,000 the families
    see enough of the left tail to gain it back, and the even average was the better
    there (between 100 and 1,000 the rule interpolates in log m; checked afterwards at
    m = 50 and 300 on the measured curves and weaker-model versions of them,
    ``benchmarks/PASSK.md``)."""
    solved = np.clip((s - _LEAN_FROM) / (_LEAN_TO - _LEAN_FROM), 0.0, 1.0)
    few = np.clip(np.log10(_LEAN_NONE_N / m) / np.log10(_LEAN_NONE_N / _LEAN_FULL_N), 0.0, 1.0)
    return 0.5 + 0.5 * float(solved * few)


class _EnsembleRoute:
    """The population route and the power law combined (module doc): pass@k is
    (1 - w(k)) pop(k) + w(k) law(k) with w(k) = lean * mean_i max(0, 1 - n_i / k)
    (:func:`ensemble_lean`); replicate b is the law's replicate b where u_b < v(k),
    v(k) = 1/2 mean_i max(0, 1 - n_i / k), u_b ~ U(0, 1), else the population's: the
    intervals are those of the even mixture of the two laws whatever the lean, as the data
    cannot tell which of the two extrapolates right (the power law's own intervals are too
    narrow, and leaning the replicates on them would narrow the bands where the point
    forecast leans on it)."""

    def __init__(self, pop, law, n, key, n_boot, lean=0.5):
        self.pop, self.law, self.n, self.n_boot = pop, law, np.asarray(n, float), n_boot
        self.lean = float(lean)
        if n_boot:
            self.u = np.asarray(jax.random.uniform(key, (n_boot,)))

    def _beyond(self, k):
        # mean over problems of the share of k samples beyond the problem's data
        k = np.asarray(k, float)
        return np.mean(np.maximum(0.0, 1.0 - self.n[:, None] / k.ravel()[None, :]), 0)

    def share(self, k):
        """The power law's weight w(k) in the point forecast (numpy, shape of k)."""
        return self.lean * self._beyond(k)

    def envelope_k(self):
        """Where the mixing weight moves (min n_i to 100 max n_i, where it is within 1% of
        its limit; 4 per decade): the replicates' quantiles can fall with k there, as the
        law's share grows (see ``CountsFit.passk_interval``)."""
        lo, hi = float(self.n.min()), 100.0 * float(self.n.max())
        return np.geomspace(lo, hi, int(np.ceil(4 * np.log10(hi / lo))) + 1)

    @property
    def family_weights(self):
        return self.pop.family_weights

    def components(self, k):
        """Each family's forecast and the power law's: {name: [K]}."""
        out = dict(self.pop.components(k))
        out["power_law"] = np.asarray(self.law.mean(k))
        return out

    def mean(self, k):
        w = self.share(k)
        return (1.0 - w) * np.asarray(self.pop.mean(k)) + w * np.asarray(self.law.mean(k))

    def population_mean(self, k):
        w = self.share(k)
        return (1.0 - w) * np.asarray(self.pop.population_mean(k)) + w * np.asarray(
            self.law.population_mean(k)
        )

    def draws(self, k):
        use_law = self.u[:, None] < 0.5 * self._beyond(k)[None, :]
        pop = np.asarray(self.pop.draws(k))
        if not use_law.any():
            return pop
        law = np.asarray(self.law.draws(k))
        # a resample the power law cannot fit (too few k with 0 < pass@k < 1) gets what the
        # route gives such data: the families alone
        return np.where(use_law & np.isfinite(law), law, pop)
