"""What the counts alone say about pass@k: bounds with no assumption on the population.

With n samples per problem, the distribution of a problem's count c depends on the success
rates' distribution G only through Pr(c = j) = C(n, j) E_G[psi^j (1 - psi)^(n - j)], i.e.
through its first n moments; pass@k = 1 - E_G[(1 - psi)^k] at k > n is not a function of
them.  So every forecast beyond the data rests on an assumed shape of G's left tail, and the
counts alone only bound it:

    low / high = min / max over G of  E_G[1 - (1 - psi)^k]
                 subject to  |Pr_G(count <= e) - F(e)| <= eps  at every e,

F the empirical distribution function of the counts and eps = sqrt(log(2 / (1 - level)) /
(2 P)) the Dvoretzky-Kiefer-Wolfowitz band, which holds the true distribution function
everywhere at once with probability >= ``level``, whatever it is (``level=None``: eps = 0,
the populations whose count distribution is exactly the observed one).  G is a distribution
on a fixed grid of psi (0, 1 and log-spaced rates down to 1e-9), so each bound is a linear
program (scipy's HiGHS): the fingerprint programme of the unseen-species literature (Valiant
& Valiant) applied to pass@k.  Mixed sample sizes: the problems are grouped by size (from the
largest down, at least ``min_group`` per group), each group is bounded on its own (its own G,
at its smallest size n, a problem with more samples counting by the law of its count in n of
them drawn at random: hypergeometric thinning), the bounds are the groups' weighted by their
problems, and each group's band holds with probability 1 - (1 - level) / groups (Bonferroni),
so all hold at once with probability >= level.  The bounds are on the population's
pass@k; the DKW band is wide enough to hold the problems at hand too (coverage measured in
the tests and the README).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_level
from ._data import as_counts

__all__ = ["passk_bounds"]


def passk_bounds(
    counts,
    samples=None,
    k=None,
    *,
    level: float | None = 0.9,
    grid: int = 400,
    min_group: int = 32,
):
    """Lowest and highest pass@k that the counts allow, whatever the success rates'
    distribution (module doc).

    Args:
      counts: a :class:`Counts` or correct counts c_i (then pass ``samples``).
      samples: samples n_i per problem (scalar or array), with raw counts.
      k: the numbers of samples at which to bound pass@k (scalar or array, >= 1).
      level: the confidence of the band on the counts' distribution function (the DKW
        band of the module doc), in (0, 1); None for no band (the counts taken as exact).
      grid: number of log-spaced success rates in the grid (besides 0 and 1).
      min_group: with mixed sample sizes, the fewest problems bounded together (module doc).

    Returns ``(low, high)``, numpy arrays of the shape of ``k``.
    """
    if k is None:
        raise ValueError("pass k, the numbers of samples at which to bound pass@k")
    counts = as_counts(counts, samples)
    kk = np.asarray(k, float)
    if not np.all(np.isfinite(kk) & (kk >= 1)):
        raise ValueError(f"k must be finite and >= 1, got {k!r}")
    if level is not None:
        level = check_level(level)
    grid = check_int("grid", grid, 20)
    min_group = check_int("min_group", min_group, 1)
    g = _rates(grid)
    # pass@k of every grid rate, [K, G]; psi = 1 solves at once
    value = np.ones((kk.size, g.size))
    value[:, :-1] = -np.expm1(kk.ravel()[:, None] * np.log1p(-g[None, :-1]))
    groups = _size_groups(counts.samples, min_group)
    # each group's band holds with probability 1 - (1 - level) / G: all hold at once with
    # probability >= level (Bonferroni)
    alpha = None if level is None else (1.0 - float(level)) / len(groups)
    low, high = np.zeros(kk.size), np.zeros(kk.size)
    for idx in groups:
        share = idx.size / counts.correct.size
        lo_g, hi_g = _group_bounds(counts.correct[idx], counts.samples[idx], value, g, alpha)
        low += share * lo_g
        high += share * hi_g
    # the linear programs' tolerance can put low a hair above high where the two meet
    low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
    low = np.minimum(low, high)
    return low.reshape(kk.shape), high.reshape(kk.shape)


def _group_bounds(c, n_all, value, g, alpha):
    """Bounds for one group of problems, thinned to its smallest sample size n."""
    from scipy import optimize, stats

    n = int(n_all.min())
    edges = _cdf_points(n)
    # the share of problems with count <= e in n samples; a problem with more samples counts
    # by the law of its count in n of them drawn at random (hypergeometric thinning)
    F = np.mean(stats.hypergeom.cdf(edges[None, :], n_all[:, None], c[:, None], n), axis=0)
    A = stats.binom.cdf(edges[:, None], n, g[None, :])  # Pr(count <= e | n, psi)
    eps = 0.0 if alpha is None else np.sqrt(np.log(2.0 / alpha) / (2 * c.size))
    A_ub = np.vstack([A, -A])
    b_ub = np.concatenate([F + eps, eps - F])
    low, high = np.zeros(value.shape[0]), np.zeros(value.shape[0])
    for i in range(value.shape[0]):
        for sign, out in ((1.0, low), (-1.0, high)):
            res = optimize.linprog(
                sign * value[i],
                A_ub=A_ub,
                b_ub=b_ub,
                A_eq=np.ones((1, g.size)),
                b_eq=[1.0],
                bounds=(0, None),
                method="highs",
            )
            if res.status != 0:
                how = (
                    "exactly (level=None): pass a level"
                    if alpha is None
                    else "within its sampling band: counts this alike are unlikely when each "
                    "problem's samples are independent draws; check the data"
                )
                raise ValueError(
                    f"no distribution of success rates reproduces the distribution of the "
                    f"counts of the problems with {int(n)} samples {how} ({res.message})"
                )
            out[i] = sign * res.fun
    return low, high


def _size_groups(n, min_group: int) -> list:
    """Problems grouped by sample size: from the largest n down, a group closes once it holds
    ``min_group`` problems and its next size is smaller; a remainder smaller than that joins
    the last group.  Returns index arrays."""
    order = np.argsort(-n, kind="stable")
    groups, cur = [], []
    for j, i in enumerate(order):
        cur.append(i)
        nxt = order[j + 1] if j + 1 < order.size else None
        if len(cur) >= min_group and (nxt is None or n[nxt] < n[i]):
            groups.append(np.array(cur))
            cur = []
    if cur:
        if groups:
            groups[-1] = np.concatenate([groups[-1], np.array(cur)])
        else:
            groups.append(np.array(cur))
    return groups


def _rates(grid: int) -> np.ndarray:
    """0, ``grid`` rates log-spaced in [1e-9, 1/2] and mirrored towards 1, and 1."""
    lo = np.geomspace(1e-9, 0.5, int(0.8 * grid))
    hi = 1.0 - np.geomspace(1e-9, 0.5, grid - lo.size)[::-1][1:]
    return np.unique(np.concatenate([[0.0], lo, hi, [1.0]]))


def _cdf_points(n: int) -> np.ndarray:
    """Counts e at which the CDF is matched: every count below 16, then about 40 log-spaced
    (the CDF at n is 1 for every distribution and constrains nothing)."""
    small = np.arange(0, min(n, 16))
    if n <= 16:
        return small
    return np.unique(np.concatenate([small, np.round(np.geomspace(16, n - 1, 40)).astype(int)]))
