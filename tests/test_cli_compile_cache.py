"""``ds3jax --compile-cache DIR`` / ``DS3JAX_COMPILE_CACHE``: a second run loads compiled code.

Runs the CLI in subprocesses (the cache is process-wide JAX configuration, which tests must
not flip in the test session). JAX logs every persistent-cache hit when
``JAX_LOG_COMPILES=1``: the first run compiles the sweep kernel and stores it, the second
(same folder, given by the environment variable this time) loads it and writes the same
result.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
HIT = "Persistent compilation cache hit for 'jit__run_chunk'"


def _cli(args, extra_env=None):
    env = dict(os.environ, JAX_LOG_COMPILES="1", PYTHONPATH=str(ROOT))
    env.pop("DS3JAX_COMPILE_CACHE", None)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_second_run_loads_compiled_code(tmp_path):
    cache = tmp_path / "cache"
    sweep = ["sweep", "--quick", "--max-chunks", "1"]
    first = _cli(["--compile-cache", str(cache), *sweep, "--out", str(tmp_path / "a")])
    assert first.returncode == 0, first.stderr
    assert HIT not in first.stderr
    assert any(p.name.startswith("jit__run_chunk") for p in cache.iterdir())
    second = _cli([*sweep, "--out", str(tmp_path / "b")], {"DS3JAX_COMPILE_CACHE": str(cache)})
    assert second.returncode == 0, second.stderr
    assert HIT in second.stderr
    with np.load(tmp_path / "a" / "sweep.npz") as za, np.load(tmp_path / "b" / "sweep.npz") as zb:
        for k in za.files:
            np.testing.assert_array_equal(za[k], zb[k], err_msg=k)


def test_bad_cache_folder_exits_2(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    out = tmp_path / "out"
    r = _cli(["--compile-cache", str(f), "sweep", "--quick", "--out", str(out)])
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "not a folder" in r.stderr
    assert not out.exists()
