"""Figures 10-12 (population models on the paper's MATH pass@k data): the plotted numbers
against independent references (scipy's betaln / betainc / quad) and the paper's claims.

Known exception: Gemma-2B cannot be fitted within 0.02 of every point by any member of the
three-parameter family (the minimax fit's largest error is ~0.0255, an S-shaped misfit of its
data), so its bound is 0.026.
"""

import jax
import numpy as np
import pytest
import scipy.integrate
import scipy.special

from experiments import fig10, fig11, fig12

needs_data = pytest.mark.skipif(
    not fig10.DATA_DIR.is_dir(), reason=f"pass@k data folder {fig10.DATA_DIR} absent"
)
pytestmark = needs_data


def _passk_scipy(k, d):
    k = np.asarray(k, float)
    a, b, A = d["alpha"], d["beta"], d["solvable"]
    return A * (1.0 - np.exp(scipy.special.betaln(a, b + k) - scipy.special.betaln(a, b)))


@pytest.fixture(scope="module")
def f10():
    return fig10.compute(quick=True)


@pytest.fixture(scope="module")
def f11():
    return fig11.compute(quick=True)


@pytest.fixture(scope="module")
def f12():
    return fig12.compute(quick=True)


def test_missing_data_folder_message(monkeypatch, tmp_path):
    monkeypatch.setattr(fig10, "DATA_DIR", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="ds3_passk"):
        fig10.compute(quick=True)


def test_fig10_fits_close_to_every_data_point(f10):
    assert set(f10["models"]) == set(fig10.MODELS)
    for stem, d in f10["models"].items():
        # the plotted curve is Eq. 59 at the reported parameters (scipy reference)
        np.testing.assert_allclose(d["fit_grid"], _passk_scipy(d["k_grid"], d), rtol=1e-9)
        err = np.max(np.abs(_passk_scipy(d["k"], d) - np.asarray(d["y"])))
        assert err == pytest.approx(d["max_abs_error"], rel=1e-6)
        assert err < (0.026 if stem == "gemma2B" else 0.02), (stem, err)
        # the minimax fit is never worse in its worst point than the paper's least squares
        assert err <= d["least_squares"]["max_abs_error"] + 1e-9


def test_fig10_pdf_and_point_mass_account_for_all_tasks(f10):
    from ds3jax.population import BetaPopulation, population_pdf

    for stem, d in f10["models"].items():
        pop = BetaPopulation(d["alpha"], d["beta"], d["solvable"])
        pdf = jax.jit(lambda x, pop=pop: population_pdf(pop, x))
        f = lambda x: float(pdf(x))
        mass, _ = scipy.integrate.quad(f, 0, 1, limit=400)
        atom = d["cdf"][0]  # CDF at psi = 0: the point mass 1 - A
        assert mass + atom == pytest.approx(1.0, abs=1e-6), stem
        assert atom == pytest.approx(1.0 - d["solvable"], abs=1e-12)
        # the plotted CDF is the atom plus the integral of the plotted density
        psi, cdf = np.asarray(d["psi"]), np.asarray(d["cdf"])
        for i in np.linspace(5, psi.size - 5, 5).astype(int):
            part, _ = scipy.integrate.quad(f, 0, psi[i], limit=400)
            assert cdf[i] == pytest.approx(atom + part, abs=1e-6), (stem, psi[i])
        assert cdf[-1] == pytest.approx(1.0, abs=1e-12)
    # Pythia-2.8B is the only model with a visible point mass (paper App. E-D)
    atoms = {s: 1.0 - d["solvable"] for s, d in f10["models"].items()}
    assert atoms["pythia28B"] > 0.01
    assert all(v < 1e-6 for s, v in atoms.items() if s != "pythia28B")


def test_fig10_majority_vote_below_oracle(f10):
    for stem, mv in f10["majority"].items():
        assert np.all(np.asarray(mv["mv_model"]) <= np.asarray(mv["oracle_model"]) + 1e-12)
        assert mv["mv_model"][-1] < mv["oracle_model"][-1] - 0.05  # MV saturates early
        # MV data below the oracle data too (interpolated in log k; digitisation slack 0.01)
        d = f10["models"][stem]
        oracle = np.interp(np.log(mv["k"]), np.log(d["k"]), d["y"])
        assert np.all(np.asarray(mv["y"]) <= oracle + 0.01)
        assert mv["max_abs_error"] < 0.02
        assert mv["p_inf"] < d["solvable"]


def test_fig11_lambdas_match_the_paper(f11):
    # paper Fig. 11: 0.752 (8B-Instruct) and 0.592 (70B-Instruct); our fits of the digitised
    # curves give 0.744 and 0.579 -- tolerance 0.02
    for stem, d in f11["models"].items():
        assert abs(d["lam"] - d["lam_paper"]) < 0.02, (stem, d["lam"])
        c = np.asarray(d["error_weights"])
        assert c.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(c[1:] / c[:-1], d["lam"], rtol=1e-9)  # Eq. 63
        assert c[0] == pytest.approx(d["max_error_weight"], rel=1e-9)  # c_1 = c* (Eq. 62)
        # P_inf = A (1 - I_rc(alpha, beta)) with scipy's betainc
        ref = d["solvable"] * (1 - scipy.special.betainc(d["alpha"], d["beta"], d["r_c"]))
        assert ref == pytest.approx(d["p_inf"], rel=1e-8)
    m = f11["models"]
    # the larger model concentrates its errors more (smaller lambda)
    assert m["llama370Binstruct_oracle"]["lam"] < m["llama38Binstruct_oracle"]["lam"]


def test_fig12_pushforward_at_reference_parameters(f12):
    for stem, d in f12["models"].items():
        cdf, beta_cdf = np.asarray(d["pushforward_cdf"]), np.asarray(d["beta_cdf"])
        assert np.all(np.diff(cdf) >= -1e-12) and cdf[-1] == pytest.approx(1.0)
        # the atom at psi = 0: unsolvable tasks, and (Pythia-2.8B's T_max = 81.92) the tasks
        # needing more skills m than the step budget, whose psi is 0 as in pushforward_passk
        short = sum(p for m, p in zip(f12["m_values"], f12["m_probs"]) if d["t_max"] - m + 1 <= 0)
        atom = 1.0 - d["solvable"] + d["solvable"] * short
        assert cdf[0] == pytest.approx(atom, abs=1e-12)
        # the push-forward reproduces the pass@k data and roughly the Beta + point-mass CDF
        assert d["rmse"] < 0.025, (stem, d["rmse"])
        assert np.max(np.abs(cdf - beta_cdf)) < 0.2, stem
    iota = {s: d["iota"] for s, d in f12["models"].items()}
    # the instruction-tuned model gets the highest directionality (paper, Sec. III-D)
    assert iota["llama38Binstruct_oracle"] == max(iota.values())
    assert iota["llama38Binstruct_oracle"] > 1.5 * iota["llama8BpassN"]


@pytest.mark.slow
def test_fig12_full_fit_is_as_good_as_the_reference():
    # the joint fit has several local minima (single starts ended at total squared errors of
    # 0.0245 = fig12.REFERENCE, 0.043 and 0.068 as rounding changed); from fit_iota_hat's
    # four starts it reaches 0.0234, so check fit quality and the paper's ordering rather
    # than exact values
    d = fig12.compute(quick=False)
    sse = sum(np.asarray(m["k"]).size * m["rmse"] ** 2 for m in d["models"].values())
    assert sse < 0.03
    iota = {s: m["iota"] for s, m in d["models"].items()}
    assert iota["llama38Binstruct_oracle"] == max(iota.values())
    for m in d["models"].values():
        assert m["rmse"] < 0.025 and 0 < m["iota_stderr"] < m["iota"]
