"""``passk_bounds``: the range of pass@k the counts allow with no assumption on the success
rates' distribution.

References: hand-derived extremes (one sample per problem: Jensen's inequality and the
two-point law on {0, 1}; two samples: the Markov-Krein principal representations of the
first two moments), and Monte Carlo coverage on known populations.
"""

import numpy as np
import pytest

from ds3jax.population import passk_bounds


def _f(x, k):
    return 1.0 - (1.0 - np.asarray(x, float)) ** k


def test_one_sample_per_problem_bounds_are_the_mean_and_jensen():
    # with one sample each only E[psi] = mu is known: pass@k = E[1 - (1 - psi)^k] is least
    # for psi in {0, 1} (= mu) and greatest for psi = mu everywhere (concavity)
    rng = np.random.default_rng(0)
    c = (rng.random(1000) < 0.03).astype(int)
    mu = c.mean()
    k = np.array([2.0, 10.0, 100.0, 1e4])
    lo, hi = passk_bounds(c, 1, k, level=None)
    np.testing.assert_allclose(lo, mu, rtol=1e-6)
    np.testing.assert_allclose(hi, _f(mu, k), rtol=1e-3)


@pytest.mark.parametrize("k", [3.0, 20.0, 1000.0])
def test_two_samples_per_problem_bounds_are_the_principal_representations(k):
    # with two samples each, Pr(count = 1) = 2 (m1 - m2) and Pr(count = 2) = m2 fix the first
    # two moments; f = 1 - (1 - psi)^k has f''' > 0, so its extremes over all laws with those
    # moments are at the two principal representations: {0, m2 / m1} and {y, 1}
    rng = np.random.default_rng(1)
    psi = rng.beta(0.7, 3.0, 4000)
    c = rng.binomial(2, psi)
    p1, p2 = np.mean(c == 1), np.mean(c == 2)
    m2 = p2
    m1 = p1 / 2 + m2
    x, p = m2 / m1, m1**2 / m2  # mass p at x, the rest at 0
    u = (1 - 2 * m1 + m2) / (1 - m1)  # mass 1 - q at y = 1 - u, q at 1
    q = 1 - (1 - m1) ** 2 / (1 - 2 * m1 + m2)
    lower_rep = p * _f(x, k)
    upper_rep = q + (1 - q) * _f(1 - u, k)
    lo, hi = passk_bounds(c, 2, k, level=None, grid=2000)
    want = sorted([lower_rep, upper_rep])
    assert float(lo) == pytest.approx(want[0], rel=2e-3)
    assert float(hi) == pytest.approx(want[1], rel=2e-3)


@pytest.mark.parametrize(
    "draw",
    [
        lambda r, P: r.beta(0.3, 30.0, P),
        lambda r, P: np.where(r.random(P) < 0.6, r.beta(0.4, 20.0, P), 0.0),
        lambda r, P: 10 ** (-5 * r.random(P)),
    ],
    ids=["beta", "40% unsolvable", "log-uniform"],
)
def test_bounds_hold_the_problems_true_passk(draw):
    # 128 problems x 100 samples, 12 data sets: the problems' exact pass@k lies within the
    # 90% bounds at 2x, 10x and 100x the data (the DKW band holds with probability >= 0.9)
    ks = np.array([200.0, 1e3, 1e4])
    inside = []
    for s in range(12):
        rng = np.random.default_rng(100 + s)
        psi = draw(rng, 128)
        c = rng.binomial(100, psi)
        truth = np.mean(_f(psi[None, :], ks[:, None]), axis=1)
        lo, hi = passk_bounds(c, 100, ks)
        assert np.all(lo <= hi)
        inside.append((lo <= truth) & (truth <= hi))
    assert np.mean(inside) >= 0.9, np.mean(inside, axis=0)


def test_mixed_sample_sizes_are_thinned_to_the_smallest():
    # a problem with more samples counts by the law of its count in n_min of them: with every
    # problem at 400 samples the bounds from n_min = 400 are those of the same counts, and
    # adding one problem with 100 samples moves the common size to 100 (bounds still hold)
    rng = np.random.default_rng(2)
    psi = rng.beta(0.5, 8.0, 200)
    c = rng.binomial(400, psi)
    a = passk_bounds(c, 400, [1e3, 1e4])
    b = passk_bounds(c, np.full(200, 400), [1e3, 1e4])
    np.testing.assert_allclose(a, b)
    n = np.append(np.full(200, 400), 100)
    c2 = np.append(c, rng.binomial(100, 0.05))
    lo, hi = passk_bounds(c2, n, [1e3, 1e4])
    truth = np.mean(_f(np.append(psi, 0.05)[None, :], np.array([1e3, 1e4])[:, None]), axis=1)
    assert np.all((lo <= truth) & (truth <= hi))
    # fewer samples per problem allow a wider range
    assert hi[0] - lo[0] >= a[1][0] - a[0][0] - 1e-9


def test_size_groups_and_mixed_sizes_coverage():
    from ds3jax.population._bounds import _size_groups

    n = np.array([5] * 40 + [10] * 40 + [3] * 5)
    groups = _size_groups(n, 32)
    assert [sorted(set(n[g])) for g in groups] == [[10], [3, 5]]
    assert sorted(np.concatenate(groups)) == list(range(n.size))
    # half the problems sampled 100 times, half 10,000 times (adaptive sampling): the
    # problems' exact pass@k within the bounds in >= 90% of 12 data sets, and the 10,000-sample
    # half pins pass@1e4 tighter than 100 samples each would
    ks = np.array([1e3, 1e4])
    inside, width, width_100 = [], [], []
    for s in range(12):
        rng = np.random.default_rng(300 + s)
        psi = rng.beta(0.3, 20.0, 128)
        n = np.where(np.arange(128) < 64, 100, 10_000)
        c = rng.binomial(n, psi)
        truth = np.mean(_f(psi[None, :], ks[:, None]), axis=1)
        lo, hi = passk_bounds(c, n, ks)
        inside.append((lo <= truth) & (truth <= hi))
        width.append(hi[1] - lo[1])
        lo1, hi1 = passk_bounds(rng.binomial(100, psi), 100, ks)
        width_100.append(hi1[1] - lo1[1])
    assert np.mean(inside) >= 0.9
    assert np.mean(width) < 0.8 * np.mean(width_100)


def test_bad_input():
    with pytest.raises(ValueError, match="pass samples"):
        passk_bounds([1, 2], k=10)
    with pytest.raises(ValueError, match="k must be"):
        passk_bounds([1, 2], 10, 0.5)
    with pytest.raises(ValueError, match="level"):
        passk_bounds([1, 2], 10, 100, level=1.5)
    with pytest.raises(ValueError, match="exceeds"):
        passk_bounds([11, 2], 10, 100)
    # ten problems with exactly 5 of 1e9 correct each: no binomial mixture puts enough mass
    # on a single count (a Poisson(5) count is 5 with probability 0.175 at most)
    with pytest.raises(ValueError, match="counts this alike are unlikely"):
        passk_bounds([5] * 10, 10**9, 1e3)


def test_bounds_inputs_and_ordering():
    from ds3jax.population import make_counts

    counts = make_counts(np.array([1, 0, 2] * 4), np.full(12, 10))
    with pytest.raises(ValueError, match="own samples"):
        passk_bounds(counts, 99, 5)
    for bad in (20.7, np.nan, 5):
        with pytest.raises(ValueError, match="grid"):
            passk_bounds(counts, k=5, grid=bad)
    # no correct sample, no tolerance: low and high meet at 0 for every k, low never above
    low, high = passk_bounds(np.zeros(16, int), 10, k=np.array([1.0, 10.0, 100.0]), level=None)
    assert np.all(low <= high) and np.allclose(high, 0.0, atol=1e-8)
