"""``backtest_passk`` and ``ds3jax backtest``: forecasts from thinned counts scored against
the full data.

References: the unbiased pass@k written out with exact binomial coefficients (Python's
``math.comb``), the problems' exact pass@k from their known success rates, and a population
built so that one route is right and the power law is wrong by construction (half the
problems unsolvable: pass@k stops at one half while a power law climbs to 1).
"""

import json
import math

import numpy as np
import pytest

import ds3jax.population as P
from experiments.cli import main


def _unbiased(c, n, k):
    return np.mean(
        [1.0 - math.comb(int(ni - ci), k) / math.comb(int(ni), k) for ci, ni in zip(c, n)]
    )


def _half_unsolvable(seed, problems=128, n=1000):
    rng = np.random.default_rng(seed)
    psi = np.where(rng.random(problems) < 0.5, rng.beta(1.0, 20.0, problems), 0.0)
    return psi, rng.binomial(n, psi), n


def test_backtest_finds_the_right_route_where_the_power_law_is_wrong():
    psi, c, n = _half_unsolvable(0)
    bt = P.backtest_passk(c, n, methods=("beta+zero", "power_law"), seeds=4, n_boot=0, seed=0)
    assert bt.k.tolist() == [n] and bt.thinned.tolist() == [100] * c.size
    np.testing.assert_allclose(bt.reach, [10.0])
    # the measured value is the unbiased estimate, and close to the drawn problems' exact
    # pass@k (binomial noise of 1,000 samples per problem)
    assert bt.measured[0] == pytest.approx(_unbiased(c, [n] * c.size, n), abs=1e-12)
    exact = np.mean(1.0 - (1.0 - psi) ** n)
    assert abs(bt.measured[0] - exact) < 0.03
    err = dict(zip(bt.methods, bt.mean_abs_error[:, 0]))
    signed = dict(zip(bt.methods, bt.mean_error[:, 0]))
    assert bt.best == "beta+zero"
    assert err["beta+zero"] < 0.08 and err["power_law"] > 2 * err["beta+zero"]
    assert signed["power_law"] > 0.08  # it climbs towards 1 past the unsolvable half
    assert bt.coverage is None and bt.low is None and bt.fits.tolist() == [4, 4]


def test_backtest_forecasts_are_the_fits_of_the_documented_thinnings():
    rng = np.random.default_rng(3)
    n = rng.integers(200, 400, 60)
    c = rng.binomial(n, rng.beta(0.5, 10.0, 60))
    k = np.array([50.0, float(n.min())])
    bt = P.backtest_passk(c, n, fraction=0.25, k=k, methods="beta", seeds=3, n_boot=40, seed=5)
    thin = np.floor(0.25 * n).astype(int)
    assert bt.thinned.tolist() == thin.tolist()
    for s in range(3):
        cs = np.random.default_rng([5, s]).hypergeometric(c, n - c, thin)
        fit = P.fit_passk_counts(cs, thin, method="beta", n_boot=40, seed=5 + s)
        np.testing.assert_allclose(bt.passk[0, s], fit.passk(k), rtol=1e-12)
        lo, hi = fit.passk_interval(k)
        np.testing.assert_allclose(bt.low[0, s], lo, rtol=1e-12)
        np.testing.assert_allclose(bt.high[0, s], hi, rtol=1e-12)
    for j, kj in enumerate(k):
        assert bt.measured[j] == pytest.approx(_unbiased(c, n, int(kj)), abs=1e-12)
    inside = (bt.low[0] <= bt.measured) & (bt.measured <= bt.high[0])
    np.testing.assert_allclose(bt.coverage[0], inside.mean(0))
    table = bt.table()
    assert "| `beta` | 3 |" in table and "coverage" in table


def test_backtest_records_a_route_that_cannot_fit():
    # one sample per problem after thinning: the power law needs two usable k
    rng = np.random.default_rng(4)
    c = rng.binomial(10, rng.beta(2.0, 2.0, 80))
    bt = P.backtest_passk(c, 10, fraction=0.1, methods=("beta", "power_law"), seeds=2, n_boot=0)
    assert bt.fits.tolist() == [2, 0]
    assert np.isnan(bt.mean_abs_error[1]).all() and "power_law" in bt.failures
    assert bt.best == "beta" and "| `power_law` | 0 | - |" in bt.table()


def test_backtest_a_fit_whose_interval_fails_counts_as_failed(monkeypatch):
    # every number of a fit or none: a forecast without its interval is not scored
    def no_interval(self, k, level=0.9):
        raise ValueError("fewer than 20 replicates are finite: no interval")

    monkeypatch.setattr(P.CountsFit, "passk_interval", no_interval)
    rng = np.random.default_rng(7)
    c = rng.binomial(200, rng.beta(0.5, 10.0, 40))
    bt = P.backtest_passk(c, 200, methods="beta", seeds=2, n_boot=40)
    assert bt.fits.tolist() == [0] and np.isnan(bt.passk).all()
    assert np.isnan(bt.power_law_weight).all() and len(bt.failures["beta"]) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"fraction": 1.0}, "fraction"),
        ({"fraction": 0.0}, "fraction"),
        ({"k": 501}, r"k must lie in \[1, 500\] .*got 501$"),
        ({"k": 0.5}, "k must lie"),
        ({"methods": ("beta", "nope")}, "methods"),
        ({"seeds": 0}, "seeds"),
        ({"level": 1.0}, "level"),
    ],
)
def test_backtest_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        P.backtest_passk(np.array([3, 0, 1]), np.array([500, 600, 700]), **kwargs)


def test_backtest_bad_data():
    with pytest.raises(ValueError, match="every count is zero"):
        P.backtest_passk(np.zeros(5, int), 100)
    with pytest.raises(ValueError, match="exceeds samples"):
        P.backtest_passk(np.array([3, 200]), 100)
    # one correct sample in all: a thinning to 1 of 1,000 samples keeps it with chance 1e-3
    c = np.zeros(20, int)
    c[0] = 1
    with pytest.raises(ValueError, match="no thinning"):
        P.backtest_passk(c, 1000, fraction=1e-3, seeds=3, methods="beta", n_boot=0)


def test_cli_backtest_writes_the_library_numbers(tmp_path, capsys):
    rng = np.random.default_rng(6)
    c = rng.binomial(400, rng.beta(0.4, 8.0, 50))
    path = tmp_path / "c.csv"
    path.write_text(
        "model,problem,correct,samples\n"
        + "".join(f"m{j},p{i},{v},400\n" for j in (1, 2) for i, v in enumerate(c))
    )
    out = tmp_path / "o"
    argv = ["backtest", str(path), "--where", "model=m1", "--methods", "beta,power_law"]
    # k not in ascending order: the best route is ranked at the largest k, and named there
    argv += ["--seeds", "2", "--n-boot", "0", "--k", "400,100", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "| `beta` | 2 |" in stdout and "best here at k = 400" in stdout
    res = json.loads((out / "c_model-m1_backtest.json").read_text())
    bt = P.backtest_passk(c, 400, k=[400, 100], methods=("beta", "power_law"), seeds=2, n_boot=0)
    np.testing.assert_allclose(res["measured"], bt.measured)
    for i, m in enumerate(bt.methods):
        np.testing.assert_allclose(res["routes"][m]["mean_abs_error"], bt.mean_abs_error[i])
    assert res["best"] == bt.best and res["best_at_k"] == 400.0
    assert res["routes"]["beta"]["coverage90"] is None
    assert (out / "c_model-m1_backtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--fraction", "1.5"], "--fraction"),
        (["--methods", "beta,nope"], "--methods"),
        (["--k", "a,b"], "--k"),
        (["--n-boot", "5"], "--n-boot"),
        (["--seeds", "0"], "--seeds"),
        (["--k", "5000"], "k must lie"),
        (["--k", "0,10"], "--k takes numbers >= 1"),
        # a seed beyond int64 ended in an OverflowError traceback
        (["--seed", str(2**70)], "--seed"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_cli_backtest_bad_options(tmp_path, capsys, extra, match):
    path = tmp_path / "c.csv"
    path.write_text("problem,correct,samples\np1,3,100\np2,0,100\n")
    out = tmp_path / "o"
    assert main(["backtest", str(path), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
    assert not (out / "c_backtest.json").exists()


def test_best_route_is_read_at_the_largest_k():
    # k need not be sorted; "best" is the route with the smallest error at the largest k
    b = P.Backtest(
        methods=("A", "B"),
        k=np.array([100.0, 10.0]),
        fraction=0.1,
        thinned=np.array([10, 10]),
        measured=np.array([0.5, 0.9]),
        passk=np.array([[[0.5, 0.7]], [[0.8, 0.9]]]),
        low=None,
        high=None,
        power_law_weight=np.zeros((2, 1, 2)),
        failures={},
        skipped=0,
        level=0.9,
    )
    assert b.best == "A"


def test_backtest_refuses_empty_k_and_bad_n_boot_up_front():
    c, n = np.array([3, 0, 5, 1] * 8), np.full(32, 200)
    with pytest.raises(ValueError, match="k must lie"):
        P.backtest_passk(c, n, k=[])
    for bad in (-5, 2.5, 5):
        with pytest.raises(ValueError, match="n_boot"):
            P.backtest_passk(c, n, n_boot=bad)
