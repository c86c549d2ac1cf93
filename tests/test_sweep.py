"""The Fig. 9 task sweep: optima against brute force, fits against numpy, sharding over 4
host devices, and resuming an interrupted `ds3jax sweep`."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.special as sp

import ds3jax
import optim
from experiments.cli import main
from optim.sweep import fit_sweep, task_sweep

B_SIG, OMEGA = 20.0, 25.0


@pytest.fixture(scope="module")
def problem():
    return optim.make_problem(
        ds3jax.LossLaw.hoffmann_rounded(),
        ds3jax.SigmoidTransfer(1.0, B_SIG, 0.0),
        ds3jax.TaskGrid.from_tasks([2.0], [5]),
        omega=OMEGA,
        n_queries=1.0,
    )


def ref_log_psi(log_n, l0, m, C):
    """log psi with scipy: psi = I_q(m, T - m + 1), failure = I_{1-q}(T - m + 1, m)."""
    N = np.exp(log_n)
    L = 1.69 + 406.4 * N**-0.34
    q = sp.expit(B_SIG * (l0 - L))
    T = C / (2.0 * N * OMEGA)
    b = T - m + 1.0
    ok = b > 0
    bb = np.where(ok, b, 1.0)
    psi = sp.betainc(m, bb, q)
    fail = sp.betainc(bb, m, 1.0 - q)
    with np.errstate(divide="ignore"):
        val = np.where(psi > 0.5, np.log1p(-fail), np.log(psi))
    return np.where(ok, val, -np.inf)


@pytest.fixture(scope="module")
def small(problem):
    d = np.array([2.0, 2.6, 1.8, 2.9])
    m = np.array([5.0, 1.0, 30.0, 80.0])
    C = np.logspace(9, 16, 24)
    return task_sweep(problem, d, m, C, chunk_size=3)


def test_optima_match_dense_brute_force(small):
    checked = 0
    for i in range(small.m.size):
        for j in range(small.budgets.size):
            if not small.valid[i, j]:
                continue
            C, l0, m = small.budgets[j], small.difficulty[i], small.m[i]
            x_hi = np.log(C / (2 * OMEGA * max(m - 1, 0.25)))
            xs = np.linspace(0.0, x_hi, 20001)
            ref = ref_log_psi(xs, l0, m, C)
            k = np.argmax(ref)
            fine = np.linspace(xs[max(k - 1, 0)], xs[min(k + 1, xs.size - 1)], 2001)
            best = np.max(ref_log_psi(fine, l0, m, C))
            ours = ref_log_psi(np.log(small.N[i, j]), l0, m, C)
            # never worse than the dense search: in log psi, or in log(failure) once psi > 1/2
            # (there log psi = log1p(-fail) ~ -fail and the failure is what is minimised)
            if best > np.log(0.5):
                gap = np.log(-ours) - np.log(-best) if best < 0 else 0.0
                assert gap <= 1e-6, (i, j, ours, best)
            else:
                assert ours >= best - 1e-6 * max(1.0, abs(best)), (i, j, ours, best)
            checked += 1
    assert checked > 30
    np.testing.assert_allclose(
        2 * small.N * small.Omega, np.broadcast_to(small.budgets, small.N.shape), rtol=1e-10
    )


def test_fits_match_numpy_polyfit(small):
    fits = fit_sweep(small, min_points=3, min_r2=0.0)
    for i in range(small.m.size):
        use = small.valid[i]
        if use.sum() < 3:
            assert not fits["N_ok"][i]
            continue
        x = np.log10(small.budgets[use])
        for name, y in (("N", small.N[i, use]), ("Omega", small.Omega[i, use])):
            slope, icpt = np.polyfit(x, np.log10(y), 1)
            np.testing.assert_allclose(fits[f"{name}_slope"][i], slope, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(fits[f"{name}_intercept"][i], icpt, rtol=1e-8, atol=1e-8)


def test_sharded_over_four_host_devices_matches_one_device(small, tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import jax
        jax.config.update("jax_enable_x64", True)
        import numpy as np
        import ds3jax, optim
        from optim.sweep import task_sweep
        assert len(jax.devices()) == 4, jax.devices()
        p = optim.make_problem(ds3jax.LossLaw.hoffmann_rounded(),
            ds3jax.SigmoidTransfer(1.0, 20.0, 0.0), ds3jax.TaskGrid.from_tasks([2.0], [5]),
            omega=25.0, n_queries=1.0)
        d = np.array([2.0, 2.6, 1.8, 2.9]); m = np.array([5.0, 1.0, 30.0, 80.0])
        r = task_sweep(p, d, m, np.logspace(9, 16, 24), chunk_size=3)
        np.savez(sys.argv[1], N=r.N, Omega=r.Omega, value=r.value, valid=r.valid)
        """
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    out = tmp_path / "sharded.npz"
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env)
    z = np.load(out)
    np.testing.assert_array_equal(z["valid"], small.valid)
    for k in ("N", "Omega", "value"):
        np.testing.assert_allclose(z[k], getattr(small, k), rtol=1e-12)


def test_interrupted_cli_sweep_resumes_to_identical_results(tmp_path, capsys):
    once, twice = tmp_path / "once", tmp_path / "twice"
    args = ["sweep", "--quick", "--chunk-size", "40"]
    assert main([*args, "--out", str(once)]) == 0
    assert main([*args, "--out", str(twice), "--max-chunks", "2"]) == 0
    assert not (twice / "sweep.npz").exists()
    stamps = {p.name: p.stat().st_mtime_ns for p in (twice / "chunks").glob("chunk_*.npz")}
    assert len(stamps) == 2
    capsys.readouterr()
    assert main([*args, "--out", str(twice)]) == 0
    assert "2 loaded, 2 computed" in capsys.readouterr().out
    for name, t in stamps.items():  # finished chunks were not recomputed
        assert (twice / "chunks" / name).stat().st_mtime_ns == t
    a, b = np.load(once / "sweep.npz"), np.load(twice / "sweep.npz")
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k])
    assert (once / "fig9.json").read_text() == (twice / "fig9.json").read_text()
    # a different configuration in the same folder is refused, not mixed in
    assert main(["sweep", "--quick", "--chunk-size", "30", "--out", str(twice)]) == 2
    assert "different sweep" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(difficulty=[], m=[]), "non-empty"),
        (dict(difficulty=[2.0, 1.0], m=[3.0]), "same length"),
        (dict(m=[0.0]), "m must be finite and >= 1"),
        (dict(budgets=[1e10, -1.0]), "positive"),
        (dict(chunk_size=0), "chunk_size"),
        # these three returned numbers or NaN without a word
        (dict(difficulty=[np.nan]), "difficulty must be finite"),
        (dict(n_grid=1), "n_grid must be an int >= 3"),
        (dict(max_chunks=-1), "max_chunks must be None or an int >= 0"),
    ],
)
def test_bad_sweep_input(problem, kwargs, msg):
    args = dict(difficulty=[2.0], m=[3.0], budgets=[1e10, 1e11])
    args.update(kwargs)
    extra = {k: args.pop(k) for k in list(args) if k not in ("difficulty", "m", "budgets")}
    with pytest.raises(ValueError, match=msg):
        task_sweep(problem, args["difficulty"], args["m"], args["budgets"], **extra)
