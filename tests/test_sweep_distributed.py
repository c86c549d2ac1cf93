"""``optim.sweep.task_sweep`` across two processes joined by ``jax.distributed`` (CPU, localhost).

Two worker processes (tests/_distributed_sweep_worker.py) connect to a coordinator on
127.0.0.1 at a free port and run the same sweep. Checked against the one-process sweep run
in this test process: both processes return the whole result, equal to it; when one process
is killed (SIGKILL, mid-sweep) the chunks it had not saved are missing, and a rerun of both
computes exactly those (dealt to both processes again) and loads the rest.

The workers share a persistent compilation cache so that only the first one compiles.
"""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "_distributed_sweep_worker.py"
sys.path.insert(0, str(ROOT / "tests"))
import _distributed_sweep_worker as worker  # noqa: E402

from optim.sweep import task_sweep  # noqa: E402


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp, out_dir, size, extra=None, tag="run"):
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), XLA_FLAGS="", JAX_PLATFORMS="cpu")
    procs = []
    for pid in range(2):
        args = [
            sys.executable,
            str(WORKER),
            str(port),
            str(pid),
            "2",
            str(out_dir),
            str(tmp / f"{tag}_{pid}.npz"),
            "--tasks",
            str(size[0]),
            "--budgets",
            str(size[1]),
            "--chunk",
            str(size[2]),
            "--cache",
            str(tmp / "cache"),
            *((extra or {}).get(pid, [])),
        ]
        log = open(tmp / f"{tag}_{pid}.log", "w")
        procs.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log))
    return procs


def _wait_ok(procs, tmp, tag, timeout):
    deadline = time.time() + timeout
    for pid, p in enumerate(procs):
        try:
            p.wait(timeout=max(deadline - time.time(), 1))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        log = (tmp / f"{tag}_{pid}.log").read_text()[-3000:]
        assert p.returncode == 0, f"process {pid} exited {p.returncode}:\n{log}"


def _check_equal(res, ref):
    np.testing.assert_array_equal(res["valid"], ref.valid)
    for k, want in (("N", ref.N), ("Omega", ref.Omega), ("value", ref.value)):
        np.testing.assert_allclose(res[k], want, rtol=1e-12, err_msg=k)


def _scenario(tmp, size, timeout, in_memory):
    n_tasks, n_budgets, chunk = size
    n_chunks = -(-n_tasks // chunk)
    d, m, C = worker.tasks(n_tasks, n_budgets)
    ref = task_sweep(worker.problem(), d, m, C, chunk_size=chunk)
    assert np.isfinite(ref.value).all() and ref.valid.any()

    if in_memory:  # no out_dir: both processes return the whole sweep, equal to one process's
        _wait_ok(_launch(tmp, "-", size, tag="memory"), tmp, "memory", timeout)
        for pid in range(2):
            with np.load(tmp / f"memory_{pid}.npz") as z:
                assert int(z["n_processes"]) == 2
                assert int(z["computed"]) == n_chunks and int(z["loaded"]) == 0
                _check_equal(z, ref)

    # process 1 is killed after saving its first chunk; process 0 cannot finish without it
    out = tmp / "chunks"
    out.mkdir()
    procs = _launch(tmp, out, size, extra={1: ["--die-after", "1"]}, tag="killed")
    procs[1].wait(timeout=timeout)
    assert procs[1].returncode == -signal.SIGKILL
    own = {out / f"chunk_{ci:05d}.npz" for ci in range(0, n_chunks, 2)}  # process 0's share
    deadline = time.time() + timeout
    while procs[0].poll() is None and not all(p.exists() for p in own):
        assert time.time() < deadline, "process 0 neither finished its chunks nor exited"
        time.sleep(0.2)
    procs[0].kill()  # what a scheduler does to the rest of a job that lost a task
    procs[0].wait()
    saved = sorted(int(p.stem.split("_")[1]) for p in out.glob("chunk_*.npz"))
    assert 1 in saved and 3 not in saved  # process 1 did chunk 1, then died
    assert len(saved) < n_chunks

    # the rerun computes exactly the missing chunks and returns the whole sweep
    _wait_ok(_launch(tmp, out, size, tag="rerun"), tmp, "rerun", timeout)
    for pid in range(2):
        with np.load(tmp / f"rerun_{pid}.npz") as z:
            assert int(z["n_processes"]) == 2 and int(z["loaded"]) == len(saved)
            assert int(z["computed"]) == n_chunks - len(saved)
            _check_equal(z, ref)
    assert len(list(out.glob("chunk_*.npz"))) == n_chunks


def test_two_processes_equal_one_and_resume_after_kill(tmp_path):
    _scenario(tmp_path, (12, 10, 2), timeout=240, in_memory=False)


@pytest.mark.slow
def test_two_processes_larger_sweep(tmp_path):
    """Also without out_dir, and a sweep big enough that each chunk takes real time."""
    _scenario(tmp_path, (400, 200, 40), timeout=1200, in_memory=True)
