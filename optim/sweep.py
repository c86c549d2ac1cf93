"""Inference-compute-optimal scaling per task type: the Fig. 9 sweep (App. C-A).

For every task type (L0, m) and every inference budget C, with unbounded training data
(L = E + A / N^alpha) and the whole budget spent at inference, C = I C_task(N, Omega)
(= 2 N I Omega with parameter FLOPs only), find

    N*(C) = argmax_N  log psi(q(L(N), L0), m, Omega(N, C), omega)          (Eq. 20, 53)

and fit log10 N* and log10 Omega* against log10 C (App. C-A). Each (task, budget) is a 1-D
problem in x = log N on [log n_min, x_max(C)] (x_max: the model for which the budget buys
max(m - 1, 1/4) skill steps per task). It is solved by a G-point grid in x (global: it
finds the best basin even where the function has several), then golden-section search in
the bracket of the best grid point. Nothing is sequential across budgets, so the work is
a plain vmap over (tasks, budgets).

Scale-out: tasks are processed in chunks; each chunk is sharded over the process's devices
along the task axis (``NamedSharding``), so several GPUs (or
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` on a CPU) split it. Across processes
(several hosts, or several processes on one host) call ``jax.distributed.initialize()``
first and then ``task_sweep`` with the same arguments in every process: the chunks still to
do are dealt round-robin to the processes, each computes its own on its local devices
(no communication per chunk), and at the end the results are exchanged (one all-gather), so
every process returns the whole sweep. With ``out_dir`` every finished chunk is saved at
once (atomic rename) together with a manifest of the sweep's configuration; a rerun with
the same configuration loads finished chunks instead of recomputing them, so an
interrupted sweep resumes where it stopped; with several processes ``out_dir`` must be a
folder all of them see (shared file system), and a rerun deals the missing chunks (for
example those of a killed process) to all processes again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ds3jax._loss import loss
from ds3jax._strategies import log_success
from ds3jax._transfer import log_skill_probability

from ._problem import Problem, log_tokens_for_flops

__all__ = ["TaskSweep", "task_sweep", "fit_sweep"]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclasses.dataclass(frozen=True)
class TaskSweep:
    """Optimal allocations per task type and budget (arrays of shape (tasks, budgets)).

    Attributes:
      difficulty, m: the task types, shape (tasks,).
      budgets: inference compute C [FLOPs], shape (budgets,).
      N: optimal parameters; Omega: optimal token budget per task [tokens].
      value: success probability psi at the optimum.
      valid: finite optimum strictly inside the search interval with psi > 1e-12 (a
        scaling point; boundary optima at n_min or at the one-step limit are not).
      chunks_computed, chunks_loaded: how many chunks this call computed / read from disk
        (summed over all processes for the computed ones).
    """

    difficulty: np.ndarray
    m: np.ndarray
    budgets: np.ndarray
    N: np.ndarray
    Omega: np.ndarray
    value: np.ndarray
    valid: np.ndarray
    chunks_computed: int = 0
    chunks_loaded: int = 0


def _objective(problem: Problem, x, log_c, l0, m):
    """log psi for one task at log N = x with the whole budget exp(log_c) at inference."""
    log_i = jnp.log(problem.n_queries)
    log_t = log_tokens_for_flops(problem, x, log_c - log_i)
    L = loss(problem.law, jnp.exp(x), jnp.inf)
    q = jnp.exp(jnp.log(problem.iota_hat) + log_skill_probability(problem.transfer, L, l0))
    val = log_success(problem.strategy, q, m, jnp.exp(log_t), problem.omega)
    return jnp.where(jnp.isnan(val), -jnp.inf, val)


def _solve_points(problem, log_c, l0, m, log_n_min, n_grid, n_golden):
    """(x*, f*, valid) for flat arrays of (budget, task) points: grid, then golden section.

    Both phases are loops over whole arrays (one objective call per grid point or golden
    step for all points at once) rather than vmaps over points: the incomplete beta is then
    evaluated on large, flat batches, which is what it is fast at.
    """
    log_i = jnp.log(problem.n_queries)
    steps = jnp.maximum(m - 1.0, 0.25)
    x_hi = log_c - log_i - jnp.log(2.0 * problem.omega * steps)
    x_lo = jnp.minimum(log_n_min, x_hi - 1.0)
    h = (x_hi - x_lo) / (n_grid - 1)
    f = lambda x: _objective(problem, x, log_c, l0, m)

    def grid_step(j, s):
        best_f, best_j = s
        fj = f(x_lo + j * h)
        better = fj > best_f
        return jnp.where(better, fj, best_f), jnp.where(better, j, best_j)

    init = (jnp.full_like(x_lo, -jnp.inf), jnp.zeros_like(x_lo))
    f_k, k = jax.lax.fori_loop(0, n_grid, grid_step, init)
    x_k = x_lo + k * h
    a = jnp.maximum(x_k - h, x_lo)
    b = jnp.minimum(x_k + h, x_hi)
    c = b - _GOLDEN * (b - a)
    d = a + _GOLDEN * (b - a)

    def body(_, s):
        a, b, c, d, fc, fd = s
        left = fc >= fd  # maximum in [a, d]
        a2 = jnp.where(left, a, c)
        b2 = jnp.where(left, d, b)
        c2 = jnp.where(left, b2 - _GOLDEN * (b2 - a2), d)
        d2 = jnp.where(left, c, a2 + _GOLDEN * (b2 - a2))
        new = f(jnp.where(left, c2, d2))
        fc2 = jnp.where(left, new, fd)
        fd2 = jnp.where(left, fc, new)
        return a2, b2, c2, d2, fc2, fd2

    a, b, c, d, fc, fd = jax.lax.fori_loop(0, n_golden, body, (a, b, c, d, f(c), f(d)))
    x_g = jnp.where(fc >= fd, c, d)
    f_g = jnp.maximum(fc, fd)
    better = f_g >= f_k
    x = jnp.where(better, x_g, x_k)
    fx = jnp.where(better, f_g, f_k)
    interior = (x > x_lo + 1e-3 * h) & (x < x_hi - 1e-3 * h)
    valid = jnp.isfinite(fx) & (fx > math.log(1e-12)) & interior
    return x, fx, valid


@functools.partial(jax.jit, static_argnames=("n_grid", "n_golden"))
def _run_chunk(problem, l0, m, log_c, log_n_min, *, n_grid, n_golden):
    """One chunk of tasks x all budgets. Sharded inputs (tasks axis) shard the computation:
    jit follows the inputs' shardings, so no device-specific code is needed here."""
    shape = (l0.shape[0], log_c.shape[0])
    lc = jnp.broadcast_to(log_c[None, :], shape)
    l0 = jnp.broadcast_to(l0[:, None], shape)
    m = jnp.broadcast_to(m[:, None], shape)
    x, fx, valid = _solve_points(problem, lc, l0, m, log_n_min, n_grid, n_golden)
    log_t = log_tokens_for_flops(problem, x, lc - jnp.log(problem.n_queries))
    return jnp.exp(x), jnp.exp(log_t), jnp.exp(fx), valid


def _config_hash(problem, difficulty, m, budgets, n_min, n_grid, n_golden, chunk_size):
    h = hashlib.sha256()
    leaves = jax.tree_util.tree_leaves(problem)
    for v in (*leaves, difficulty, m, budgets):
        h.update(np.ascontiguousarray(np.asarray(v, dtype=np.float64)).tobytes())
    meta = (repr(problem.strategy), problem.flop_kind, problem.charge, n_min, n_grid, n_golden)
    h.update(repr((meta, chunk_size)).encode())
    return h.hexdigest()[:20]


def _umask_mode() -> int:
    """0o666 less the process umask: the mode ``open(path, "w")`` gives a new file."""
    mask = os.umask(0)  # the only way to read the umask is to set it; put it back at once
    os.umask(mask)
    return 0o666 & ~mask


def _atomic_save(path: Path, **arrays) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, _umask_mode())  # mkstemp makes the file 0600
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def task_sweep(
    problem: Problem,
    difficulty,
    m,
    budgets,
    *,
    n_min: float = 1.0,
    chunk_size: int = 512,
    out_dir: str | os.PathLike | None = None,
    devices=None,
    n_grid: int = 16,
    n_golden: int = 22,
    max_chunks: int | None = None,
    progress=None,
) -> TaskSweep:
    """Inference-compute-optimal N*, Omega* for every task type (L0, m) and budget (Fig. 9).

    Args:
      problem: supplies the loss law, transfer, strategy, omega, iota_hat, I (n_queries) and
        FLOP model; its task distribution is not used. ``charge`` must be "budget".
      difficulty, m: task types, 1-D arrays of equal length (e.g. a flattened product grid).
      budgets: inference compute C [FLOPs], 1-D, positive.
      n_min: smallest model size [parameters].
      chunk_size: task types per chunk (the unit of sharding, saving and resuming).
      out_dir: folder for chunk files and the manifest (resumable); None keeps all in memory.
      devices: devices to shard each chunk over (default ``jax.devices()``; with several
        processes ``jax.local_devices()``, and only this process's own devices are allowed).
      n_grid, n_golden: grid points and golden-section steps per (task, budget); the bracket
        shrinks to 2 (x_max - x_min) / (n_grid - 1) * 0.618^n_golden in log N.
      max_chunks: compute at most this many new chunks, then return (the rest stays NaN);
        a later call resumes. None computes all.
      progress: optional callable(done_chunks, total_chunks) called after every chunk.

    Returns:
      :class:`TaskSweep`.

    Raises:
      ValueError: empty or mismatched task arrays, non-finite difficulty, non-positive
        budgets, m < 1, charge other than "budget", bad chunk size, n_grid < 3, n_golden < 0,
        max_chunks < 0, an ``out_dir`` holding a different sweep, or (several
        processes) devices of another process.
    """
    difficulty = np.atleast_1d(np.asarray(difficulty, dtype=float))
    m = np.atleast_1d(np.asarray(m, dtype=float))
    budgets = np.atleast_1d(np.asarray(budgets, dtype=float))
    if difficulty.ndim != 1 or difficulty.shape != m.shape or difficulty.size == 0:
        raise ValueError("difficulty and m must be non-empty 1-D arrays of the same length")
    if np.any(~np.isfinite(m)) or np.any(m < 1):
        raise ValueError("m must be finite and >= 1 (required skills)")
    if np.any(~np.isfinite(difficulty)):
        raise ValueError("difficulty must be finite (L0 [nats/token])")
    if budgets.ndim != 1 or budgets.size == 0:
        raise ValueError("budgets must be a non-empty 1-D array")
    if np.any(~np.isfinite(budgets)) or np.any(budgets <= 0):
        raise ValueError("budgets must be positive, finite FLOP counts")
    if problem.charge != "budget":
        raise ValueError("task_sweep charges the token budget (charge='budget') only")
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    if not (np.isfinite(n_min) and n_min > 0):
        raise ValueError(f"n_min must be positive, got {n_min!r}")
    for name, v, least in (("n_grid", n_grid, 3), ("n_golden", n_golden, 0)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < least:
            raise ValueError(f"{name} must be an int >= {least}, got {v!r}")
    if max_chunks is not None and (
        isinstance(max_chunks, bool)
        or not isinstance(max_chunks, int | np.integer)
        or max_chunks < 0
    ):
        raise ValueError(f"max_chunks must be None or an int >= 0, got {max_chunks!r}")
    chunk_size = int(chunk_size)
    n_proc, me = jax.process_count(), jax.process_index()
    if devices is None:
        devices = jax.local_devices() if n_proc > 1 else jax.devices()
    devices = list(devices)
    if n_proc > 1 and any(d.process_index != me for d in devices):
        raise ValueError(
            "with several processes each one shards its chunks over its own devices only; "
            "pass devices=jax.local_devices() (or leave devices unset)"
        )
    n_dev = len(devices)
    per_chunk = -(-chunk_size // n_dev) * n_dev  # padded to a multiple of the devices
    sharding = None
    if n_dev > 1:
        sharding = NamedSharding(Mesh(np.array(devices), ("tasks",)), PartitionSpec("tasks"))

    n_tasks, n_b = difficulty.size, budgets.size
    n_chunks = -(-n_tasks // chunk_size)
    shape = (n_tasks, n_b)
    N = np.full(shape, np.nan)
    Om = np.full(shape, np.nan)
    val = np.full(shape, np.nan)
    valid = np.zeros(shape, bool)

    folder = None
    if out_dir is not None:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        key = _config_hash(problem, difficulty, m, budgets, n_min, n_grid, n_golden, chunk_size)
        manifest = folder / "manifest.json"
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise ValueError(f"{manifest}: unreadable sweep manifest ({e})") from None
            if old.get("config") != key:
                raise ValueError(
                    f"{folder} holds a different sweep (config {old.get('config')} != {key}); "
                    "use another out_dir or delete it"
                )
        else:
            text = json.dumps(
                {"config": key, "n_tasks": n_tasks, "n_budgets": n_b, "chunks": n_chunks}
            )
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest.", suffix=".tmp")
            os.fchmod(fd, _umask_mode())
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, manifest)

    dtype = jnp.result_type(float)
    log_c = jnp.log(jnp.asarray(budgets, dtype))
    log_n_min = jnp.log(jnp.asarray(n_min, dtype))
    paths = [None if folder is None else folder / f"chunk_{ci:05d}.npz" for ci in range(n_chunks)]
    have = np.array([p is not None and p.exists() for p in paths])
    if n_proc > 1:
        # one view of what is finished, or processes could disagree on who does what
        have = np.asarray(multihost_utils.broadcast_one_to_all(have)).astype(bool)
    todo = [ci for ci in range(n_chunks) if not have[ci]]
    owner = {ci: k % n_proc for k, ci in enumerate(todo)}
    mine = np.zeros(n_chunks, bool)  # chunks this process computed
    loaded = 0
    for ci in range(n_chunks):
        lo, hi = ci * chunk_size, min((ci + 1) * chunk_size, n_tasks)
        path = paths[ci]
        if have[ci]:
            with np.load(path) as z:
                N[lo:hi], Om[lo:hi], val[lo:hi], valid[lo:hi] = (
                    z["N"],
                    z["Omega"],
                    z["value"],
                    z["valid"],
                )
            loaded += 1
        else:
            if owner[ci] != me or (max_chunks is not None and mine.sum() >= max_chunks):
                continue
            pad = per_chunk - (hi - lo)
            l0 = np.concatenate([difficulty[lo:hi], np.full(pad, difficulty[lo])])
            mm = np.concatenate([m[lo:hi], np.full(pad, m[lo])])
            l0, mm = jnp.asarray(l0, dtype), jnp.asarray(mm, dtype)
            if sharding is not None:
                l0, mm = jax.device_put(l0, sharding), jax.device_put(mm, sharding)
            out = _run_chunk(
                problem, l0, mm, log_c, log_n_min, n_grid=int(n_grid), n_golden=int(n_golden)
            )
            cn, co, cv, cok = (np.asarray(a)[: hi - lo] for a in out)
            N[lo:hi], Om[lo:hi], val[lo:hi], valid[lo:hi] = cn, co, cv, cok
            if path is not None:
                _atomic_save(path, N=cn, Omega=co, value=cv, valid=cok)
            mine[ci] = True
        if progress is not None:
            progress(ci + 1, n_chunks)
    computed = int(mine.sum())
    if n_proc > 1:
        N, Om, val, valid, computed = _gather(mine, chunk_size, (N, Om, val, valid))
    return TaskSweep(
        difficulty=difficulty,
        m=m,
        budgets=budgets,
        N=N,
        Omega=Om,
        value=val,
        valid=valid,
        chunks_computed=computed,
        chunks_loaded=loaded,
    )


def _gather(mine, chunk_size, arrays):
    """Every process's computed chunks into every process's arrays (one all-gather)."""
    N, Om, val, valid = arrays
    g_mine, g_N, g_Om, g_val, g_valid = (
        np.asarray(t)
        for t in multihost_utils.process_allgather(
            (mine.astype(np.int32), N, Om, val, valid.astype(np.int32))
        )
    )
    out = [N.copy(), Om.copy(), val.copy(), valid.copy()]
    for p in range(g_mine.shape[0]):
        for ci in np.flatnonzero(g_mine[p]):
            rows = slice(ci * chunk_size, (ci + 1) * chunk_size)
            for o, g in zip(out, (g_N, g_Om, g_val, g_valid)):
                o[rows] = g[p, rows]
    return (*out, int(g_mine.sum()))


def fit_sweep(
    sweep: TaskSweep, min_points: int = 5, min_r2: float = 0.7, psi_window=(0.0, 1.0)
) -> dict:
    """Per-task log-linear fits of log10 N* and log10 Omega* on log10 C (App. C-A).

    Uses each task's valid points whose optimal accuracy lies in ``psi_window`` (e.g.
    (1e-6, 1 - 1e-6) to leave out budgets where accuracy is flat: the exact optimum then
    minimises a failure probability below 1e-6, a different scaling regime); a fit is kept
    when it has at least ``min_points`` points and R^2 >= ``min_r2`` (the paper's 5 and 0.7).
    Returns a dict of arrays (tasks,):
    ``N_slope, N_intercept, N_r2, N_ok, Omega_slope, Omega_intercept, Omega_r2, Omega_ok,
    n_points`` (intercepts are log10 values at C = 1 FLOP).
    """
    x = np.log10(sweep.budgets)[None, :]
    lo, hi = psi_window
    use = sweep.valid & (sweep.value >= lo) & (sweep.value <= hi)
    w = use.astype(float)
    npts = w.sum(1)
    out = {"n_points": npts.astype(int)}
    for name, y in (("N", sweep.N), ("Omega", sweep.Omega)):
        ly = np.where(use, np.log10(np.where(use, y, 1.0)), 0.0)
        sw = np.maximum(npts, 1.0)
        xm = (w * x).sum(1) / sw
        ym = (w * ly).sum(1) / sw
        sxx = (w * (x - xm[:, None]) ** 2).sum(1)
        sxy = (w * (x - xm[:, None]) * (ly - ym[:, None])).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = sxy / sxx
            icpt = ym - slope * xm
            res = ((w * (ly - (slope[:, None] * x + icpt[:, None]))) ** 2).sum(1)
            tot = (w * (ly - ym[:, None]) ** 2).sum(1)
            r2 = np.where(tot > 0, 1.0 - res / tot, 1.0)
        ok = (npts >= min_points) & np.isfinite(slope) & (r2 >= min_r2)
        out[f"{name}_slope"] = slope
        out[f"{name}_intercept"] = icpt
        out[f"{name}_r2"] = r2
        out[f"{name}_ok"] = ok
    return out
