"""pass@k over task populations (Eq. 56-59, App. E-A), the unbiased estimator and loaders.

References: Monte Carlo with numpy's Generator (4 standard errors), scipy quadrature,
mpmath at high precision, brute-force enumeration with itertools.
"""

import itertools
from pathlib import Path

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from ds3jax.population._data import (
    load_count_groups,
    load_counts,
    load_curve,
    make_counts,
    make_curve,
    thin_counts,
)
from ds3jax.population._passk import (
    BetaPopulation,
    DiscretePopulation,
    log_failure,
    log_gamma_ratio,
    passk,
    passk_asymptote,
    passk_from_counts,
    passk_unbiased,
    population_cdf,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ds3_passk"


@pytest.mark.parametrize("alpha,beta,A", [(0.4, 3.0, 1.0), (0.3, 15.0, 0.96), (2.0, 0.5, 0.6)])
def test_beta_passk_matches_simulation(alpha, beta, A):
    rng = np.random.default_rng(1234)
    tasks = 200_000
    ks = [1, 4, 32]
    psi = np.where(rng.random(tasks) < A, rng.beta(alpha, beta, tasks), 0.0)
    got = np.asarray(passk(BetaPopulation(alpha, beta, A), np.asarray(ks, float)))
    for k, g in zip(ks, got):
        hits = rng.binomial(k, psi) > 0  # at least one of k samples correct
        se = hits.std() / np.sqrt(tasks)
        assert abs(hits.mean() - g) < 4 * se, (k, hits.mean(), g, se)


@pytest.mark.parametrize("k", [1.0, 7.0, 100.0, 1e4])
def test_beta_passk_matches_quadrature(k):
    alpha, beta, A = 0.37, 2.5, 0.9
    dist = scipy.stats.beta(alpha, beta)
    fail, _ = scipy.integrate.quad(
        lambda x: (1 - x) ** k * dist.pdf(x), 0, 1, points=[1e-8, 1e-4, 1e-2], limit=500
    )
    ref = A * (1 - fail)
    got = float(passk(BetaPopulation(alpha, beta, A), k))
    assert got == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("k", [1e3, 1e8, 1e15])
def test_beta_log_failure_matches_mpmath_for_huge_k(k):
    mpmath.mp.dps = 40
    alpha, beta = 0.41, 0.49
    ref = mpmath.log(mpmath.beta(alpha, beta + k) / mpmath.beta(alpha, beta))
    got = float(log_failure(BetaPopulation(alpha, beta, 1.0), k))
    assert got == pytest.approx(float(ref), rel=1e-13, abs=1e-13)


@settings(max_examples=40, deadline=None)
@given(
    z=st.floats(1e-3, 1e12),
    a=st.floats(0.0, 1e6),
)
def test_log_gamma_ratio_matches_mpmath(z, a):
    mpmath.mp.dps = 50
    ref = mpmath.loggamma(z) - mpmath.loggamma(mpmath.mpf(z) + a)
    got = float(log_gamma_ratio(z, a))
    assert got == pytest.approx(float(ref), rel=1e-13, abs=1e-12)


def test_asymptote_power_law():
    # App. E-A: 1 - Psi/A ~ Gamma(alpha + beta)/Gamma(beta) k^-alpha; the ratio -> 1 as O(1/k).
    pop = BetaPopulation(0.35, 4.0, 0.95)
    ks = np.array([1e3, 1e5, 1e7])
    exact = 1 - np.asarray(passk(pop, ks)) / 0.95
    approx = 1 - np.asarray(passk_asymptote(pop, ks)) / 0.95
    c = scipy.special.gamma(4.35) / scipy.special.gamma(4.0)
    np.testing.assert_allclose(approx, c * ks**-0.35, rtol=1e-12)
    rel = np.abs(exact / approx - 1)
    assert np.all(rel < 10 * 4.0 / ks)  # O(beta / k)
    assert rel[-1] < rel[0]


def test_discrete_population_bruteforce():
    psi = np.array([0.0, 0.05, 0.5, 0.9, 1.0])
    w = np.array([0.1, 0.3, 0.2, 0.3, 0.1])
    for k in [1, 2, 10, 1000]:
        ref = sum(wi * (1 - (1 - pi) ** k) for wi, pi in zip(w, psi))
        assert float(passk(DiscretePopulation(psi, w), k)) == pytest.approx(ref, rel=1e-13)
    # Eq. 54: two tasks with weights 1/2
    ref = 1 - 0.5 * (1 - 0.7) ** 3 - 0.5 * (1 - 0.2) ** 3
    assert float(passk(DiscretePopulation([0.7, 0.2], [0.5, 0.5]), 3)) == pytest.approx(ref)


def test_population_cdf_matches_scipy():
    pop = BetaPopulation(0.7, 1.3, 0.8)
    x = np.linspace(0.0, 1.0, 11)
    ref = 0.2 + 0.8 * scipy.stats.beta(0.7, 1.3).cdf(x)
    np.testing.assert_allclose(np.asarray(population_cdf(pop, x)), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n,c", [(5, 0), (5, 2), (6, 5), (8, 3)])
def test_unbiased_estimator_bruteforce(n, c):
    samples = [1] * c + [0] * (n - c)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(range(n), k))
        ref = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
        assert float(passk_unbiased(c, n, k)) == pytest.approx(ref, abs=1e-13)


def test_unbiased_estimator_large_n_matches_scipy_comb():
    n, c, k = 10_000, 37, 500
    ref = 1 - float(mpmath.binomial(n - c, k) / mpmath.binomial(n, k))
    assert float(passk_unbiased(c, n, k)) == pytest.approx(ref, rel=1e-12)
    # average over problems
    cs, ns = np.array([0, 3, 10]), np.array([10, 10, 10])
    ref = np.mean([1 - scipy.special.comb(10 - ci, 4) / scipy.special.comb(10, 4) for ci in cs])
    assert float(passk_from_counts(cs, ns, 4)) == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ValueError, match="k must satisfy"):
        passk_unbiased(3, 10, 11)
    # the mean over problems checks too: beyond a problem's samples the estimator does not
    # exist (it used to count an unsolved problem as solved there)
    with pytest.raises(ValueError, match="k from 4 to 11 and samples from 10"):
        passk_from_counts(cs, ns, np.array([4.0, 11.0]))
    with pytest.raises(ValueError, match="k must satisfy"):
        passk_from_counts(jnp.asarray(cs), jnp.asarray(ns), jnp.asarray(11.0))
    # fractional counts have no subsets to average over: refused, naming the argument;
    # fractional k is the curve between integers and allowed
    with pytest.raises(ValueError, match=r"correct must be whole counts .*got 2.5"):
        passk_unbiased(2.5, 10, 3)
    with pytest.raises(ValueError, match=r"samples must be whole counts .*got 9.5"):
        passk_from_counts(cs, np.array([10, 9.5, 10]), 4)
    assert 0 < float(passk_unbiased(3, 10, 2.5)) < 1
    # under jit nothing is concrete: no check, the same values
    jitted = jax.jit(passk_from_counts)(cs, ns, 4.0)
    assert float(jitted) == pytest.approx(ref, rel=1e-12)


# ----------------------------------------------------------------------------- loaders


def test_make_curve_sorts_dedupes_and_averages():
    c = make_curve([4, 1, 2, 4, 2], [0.5, 0.1, 0.3, 0.5, 0.2])
    np.testing.assert_array_equal(c.k, [1, 2, 4])
    np.testing.assert_allclose(c.y, [0.1, 0.25, 0.5])


@pytest.mark.skipif(not DATA.exists(), reason=f"shared data directory {DATA} not present")
def test_load_real_curve_dedupes():
    c = load_curve(DATA / "llama8BpassN.csv")
    raw = np.loadtxt(DATA / "llama8BpassN.csv", delimiter=",", skiprows=1)
    assert np.all(np.diff(c.k) > 0)
    assert c.k.size == np.unique(raw[:, 0]).size
    assert c.k[0] == 1.0  # 0.9913 is digitisation noise, set to 1
    assert np.all((c.y >= 0) & (c.y <= 1))


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_curve_loader_errors_name_the_row(tmp_path):
    with pytest.raises(ValueError, match="line 3: k = 0.5"):
        load_curve(_write(tmp_path, "a.csv", "x, y\n1, 0.1\n0.5, 0.2\n"))
    with pytest.raises(ValueError, match=r"line 4: accuracy y = 1.2 must lie in \[0, 1\]"):
        load_curve(_write(tmp_path, "b.csv", "x, y\n1, 0.1\n2, 0.2\n3, 1.2\n"))
    with pytest.raises(ValueError, match="line 2: column 'y': expected a number for accuracy"):
        load_curve(_write(tmp_path, "c.csv", "x, y\n1, abc\n"))
    with pytest.raises(ValueError, match="empty"):
        load_curve(_write(tmp_path, "d.csv", ""))
    with pytest.raises(ValueError, match="no data rows"):
        load_curve(_write(tmp_path, "e.csv", "x, y\n"))
    with pytest.raises(ValueError, match="index 1: accuracy"):
        make_curve([1, 2], [0.1, -0.1])
    for exc in (FileNotFoundError, ValueError):  # either way of catching a missing file
        with pytest.raises(exc, match="no such file"):
            load_curve(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="line 1: unknown column 'stderr'"):
        load_curve(_write(tmp_path, "f.csv", "k,accuracy,stderr\n1,0.1,0.01\n"))
    with pytest.raises(ValueError, match="line 3: expected 2 fields"):
        load_curve(_write(tmp_path, "g.csv", "k,accuracy\n1,0.1\n2\n"))


@pytest.mark.parametrize("header", ["x, y", "k,accuracy", "Accuracy,K"])
def test_curve_loader_reads_either_header(tmp_path, header):
    k_first = header.lower().startswith(("x", "k"))
    rows = [(1, 0.1), (4, 0.3), (2, 0.2)]
    text = header + "\n" + "".join(f"{a},{b}\n" if k_first else f"{b},{a}\n" for a, b in rows)
    c = load_curve(_write(tmp_path, "h.csv", text))
    np.testing.assert_array_equal(c.k, [1, 2, 4])
    np.testing.assert_array_equal(c.y, [0.1, 0.2, 0.3])


def test_counts_loader(tmp_path):
    ok = load_counts(_write(tmp_path, "ok.csv", "problem,correct,samples\np1,3,10\np2,0,10\n"))
    np.testing.assert_array_equal(ok.correct, [3, 0])
    assert ok.problem == ("p1", "p2")
    with pytest.raises(ValueError, match="line 3: correct = 11 exceeds samples = 10"):
        load_counts(_write(tmp_path, "bad.csv", "problem,correct,samples\np1,3,10\np2,11,10\n"))
    with pytest.raises(ValueError, match="line 2: correct = -1 must be an integer"):
        load_counts(_write(tmp_path, "neg.csv", "problem,correct,samples\np1,-1,10\n"))
    with pytest.raises(ValueError, match="line 2: samples = 0 must"):
        load_counts(_write(tmp_path, "zero.csv", "problem,correct,samples\np1,0,0\n"))
    with pytest.raises(ValueError, match="missing"):
        load_counts(_write(tmp_path, "hdr.csv", "problem,correct\np1,0\n"))
    with pytest.raises(ValueError, match="empty"):
        load_counts(_write(tmp_path, "empty.csv", "\n"))
    with pytest.raises(ValueError, match="index 0: correct = 2.5"):
        make_counts([2.5], [4])


def test_thin_counts_is_numpys_hypergeometric_where_numpy_can_draw_it():
    # the same stream as rng.hypergeometric: benchmarks' subsamples stay what they were
    c = np.array([0, 3, 50, 100, 7, 999_999_999])
    n = np.array([100, 100, 100, 100, 10_000, 999_999_999 + 10])
    for keep in (50, np.array([1, 10, 50, 100, 5_000, 500_000_000])):
        want = np.random.default_rng(3).hypergeometric(c, n - c, keep)
        np.testing.assert_array_equal(thin_counts(c, n, keep, 3), want)
        rng = np.random.default_rng(3)
        np.testing.assert_array_equal(thin_counts(c, n, keep, rng), want)


def _chi2_pvalue(x, dist):
    # x's histogram against dist's pmf, the tails beyond x's range pooled into the end bins
    lo, hi = int(x.min()), int(x.max())
    pmf = dist.pmf(np.arange(lo, hi + 1))
    pmf[0] += dist.cdf(lo - 1)
    pmf[-1] += dist.sf(hi)
    obs = np.bincount(x - lo, minlength=pmf.size)
    keep = pmf * x.size >= 5  # pool bins with few expected draws into one
    o = np.append(obs[keep], obs[~keep].sum())
    e = np.append(pmf[keep], pmf[~keep].sum()) * x.size
    o, e = o[e > 0], e[e > 0]
    return scipy.stats.chi2.sf(np.sum((o - e) ** 2 / e), o.size - 1)


@pytest.mark.parametrize(
    "c, keep",
    [
        (10, 1_500_000_000),  # few correct samples: binomial in the correct ones
        (3_000_000_000 - 10, 1_500_000_000),  # few wrong ones
        (1_500_000_000, 7),  # few kept
        (1_500_000_000, 3_000_000_000 - 7),  # few left out
        (1_200_000_000, 1_000),
    ],
)
def test_thin_counts_beyond_numpys_limit_matches_scipys_hypergeometric(c, keep):
    # n = 3e9: numpy's sampler refuses (ngood, nbad < 1e9) in either arrangement
    n = 3_000_000_000
    x = thin_counts(np.full(40_000, c), n, keep, 5)
    dist = scipy.stats.hypergeom(n, c, keep)
    assert _chi2_pvalue(x, dist) > 1e-4
    assert x.min() >= max(0, keep - (n - c)) and x.max() <= min(keep, c)


@pytest.mark.parametrize(
    "n, c, keep",
    [
        (3_000_000_000, 1_200_000_000, 1_400_000_000),  # every side large: the normal law
        (1_500_000_000, 1_200_000_000, 700_000_000),  # the symmetric form, exact
    ],
)
def test_thin_counts_with_every_count_large_has_the_hypergeometric_moments(n, c, keep):
    x = thin_counts(np.full(40_000, c), n, keep, 9).astype(float)
    dist = scipy.stats.hypergeom(n, c, keep)
    se = np.sqrt(dist.var() / x.size)
    assert abs(x.mean() - dist.mean()) < 5 * se
    # the sample variance of 40,000 draws is within ~1.5% (sd 0.7%) of a normal law's
    assert x.var() == pytest.approx(dist.var(), rel=0.04)


def test_thin_counts_rejects_bad_input():
    with pytest.raises(ValueError, match="correct and keep must not exceed samples"):
        thin_counts([5], [4], [2])
    with pytest.raises(ValueError, match="correct and keep must not exceed samples"):
        thin_counts([1], [4], [5])
    with pytest.raises(ValueError, match="keep must hold integers"):
        thin_counts([1], [4], [1.5])
    with pytest.raises(ValueError, match="correct must hold integers"):
        thin_counts([-1], [4], [1])


def test_csv_readers_take_a_byte_order_mark_and_name_other_separators(tmp_path):
    # spreadsheet exports start with a UTF-8 byte-order mark; it was read into the first
    # column's name ("missing ['problem']" on a file that visibly had it)
    bom = "\ufeff"
    counts = load_counts(_write(tmp_path, "c.csv", bom + "problem,correct,samples\r\np1,3,10\r\n"))
    assert counts.problem == ("p1",) and counts.correct.tolist() == [3]
    curve = load_curve(_write(tmp_path, "k.csv", bom + "k,accuracy\n1,0.2\n10,0.5\n"))
    assert curve.y.tolist() == [0.2, 0.5]
    from ds3jax.forecast import REQUIRED_COLUMNS, load_table

    row = "1e8,1e10,p1,1,10,3"
    table = load_table(_write(tmp_path, "t.csv", bom + ",".join(REQUIRED_COLUMNS) + "\n" + row))
    assert table.correct.tolist() == [[3.0]]
    with pytest.raises(ValueError, match="line 1: the header is one field separated by semicolons"):
        load_counts(_write(tmp_path, "s.csv", "problem;correct;samples\np1;3;10\n"))
    with pytest.raises(ValueError, match="separated by tabs"):
        load_curve(_write(tmp_path, "t.tsv", "k\taccuracy\n1\t0.2\n"))


def test_labelled_counts_files(tmp_path):
    """A file with several data sets: ``where`` and ``load_count_groups`` give each one's
    rows exactly (checked against the rows written); a repeated problem names the lines and
    the label columns that tell the sets apart (not a per-problem column such as level)."""
    rng = np.random.default_rng(0)
    rows, want = ["model,step,problem,level,correct,samples"], {}
    for model in ("a", "b"):
        for step in ("1k", "2k"):
            c = rng.integers(0, 20, 5)
            want[(model, step)] = c
            rows += [f"{model},{step},p{i},{i % 3},{c[i]},20" for i in range(5)]
    path = _write(tmp_path, "runs.csv", "\n".join(rows) + "\n")
    groups = load_count_groups(path, by=("model", "step"))
    assert list(groups) == list(want)
    for key, c in want.items():
        np.testing.assert_array_equal(groups[key].correct, c)
        assert groups[key].problem == tuple(f"p{i}" for i in range(5))
        one = load_counts(path, where={"model": key[0], "step": key[1]})
        np.testing.assert_array_equal(one.correct, c)
        assert one.name == f"runs_model-{key[0]}_step-{key[1]}"
    with pytest.raises(ValueError, match="told apart by step"):
        load_count_groups(path, by="model")
    with pytest.raises(ValueError, match=r"lines 2 and 7: .*told apart by step\)"):
        load_counts(path, where={"model": "a"})
    with pytest.raises(ValueError, match=r"told apart by model, step\).*--where model=a --where"):
        load_counts(path)
    with pytest.raises(ValueError, match="no row has step = '3k'.*'1k', '2k'"):
        load_counts(path, where={"step": "3k"})
    with pytest.raises(ValueError, match="no column 'stp'"):
        load_count_groups(path, by="stp")
    with pytest.raises(ValueError, match="lines 2 and 3: each problem must have one row"):
        load_counts(_write(tmp_path, "rep.csv", "problem,correct,samples\np1,1,5\np1,2,5\n"))
    with pytest.raises(ValueError, match="line 3: expected 3 fields"):
        load_counts(_write(tmp_path, "short.csv", "problem,correct,samples\np1,1,5\np2,2\n"))
    with pytest.raises(ValueError, match="line 2: column 'correct': expected an integer"):
        load_counts(_write(tmp_path, "txt.csv", "problem,correct,samples\np1,x,5\n"))


def test_passk_gradients_match_mpmath_and_float32_is_sane():
    import jax

    mpmath.mp.dps = 40
    a, b, A, k = 0.41, 2.3, 0.9, 5000.0

    def ref(a_, b_, A_):
        return A_ * (1 - mpmath.beta(a_, b_ + k) / mpmath.beta(a_, b_))

    g = jax.grad(lambda a_, b_, A_: passk(BetaPopulation(a_, b_, A_), k), argnums=(0, 1, 2))(
        a, b, A
    )
    fd = (
        mpmath.diff(lambda x: ref(x, b, A), a),
        mpmath.diff(lambda x: ref(a, x, A), b),
        mpmath.diff(lambda x: ref(a, b, x), A),
    )
    for gi, fi in zip(g, fd):
        assert float(gi) == pytest.approx(float(fi), rel=1e-10)
    v32 = passk(BetaPopulation(np.float32(a), np.float32(b), np.float32(A)), np.float32(1e6))
    assert v32.dtype == np.float32
    ref32 = A * (1 - mpmath.beta(a, b + 1e6) / mpmath.beta(a, b))
    assert float(v32) == pytest.approx(float(ref32), rel=1e-5)
