"""One process of the two-process sweep in tests/test_sweep_distributed.py (not a test).

    python tests/_distributed_sweep_worker.py PORT PROCESS_ID N_PROCESSES OUT_DIR RESULT
        [--tasks T] [--budgets B] [--chunk C] [--die-after K] [--cache DIR]

Joins the job through ``jax.distributed.initialize`` (coordinator 127.0.0.1:PORT, run by
process 0), runs ``optim.sweep.task_sweep`` with chunk files in OUT_DIR ('-': in memory),
and writes the returned arrays to RESULT (one file per process). ``--die-after K`` kills
this process (SIGKILL, no clean-up) right after it has saved its K-th computed chunk.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys


def tasks(n_tasks, n_budgets):
    import numpy as np

    rng = np.random.default_rng(5)
    d = rng.uniform(1.8, 3.0, n_tasks)
    m = rng.integers(1, 60, n_tasks).astype(float)
    return d, m, np.logspace(9.0, 16.0, n_budgets)


def problem():
    import ds3jax
    import optim

    return optim.make_problem(
        ds3jax.LossLaw.hoffmann_rounded(),
        ds3jax.SigmoidTransfer(1.0, 20.0, 0.0),
        ds3jax.TaskGrid.from_tasks([2.0], [5]),
        omega=25.0,
        n_queries=1.0,
    )


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("port")
    p.add_argument("process_id", type=int)
    p.add_argument("n_processes", type=int)
    p.add_argument("out_dir")
    p.add_argument("result")
    p.add_argument("--tasks", type=int, default=12)
    p.add_argument("--budgets", type=int, default=10)
    p.add_argument("--chunk", type=int, default=2)
    p.add_argument("--die-after", type=int, default=None)
    p.add_argument("--cache", default=None)
    args = p.parse_args(argv)

    import jax

    jax.distributed.initialize(
        f"127.0.0.1:{args.port}",
        num_processes=args.n_processes,
        process_id=args.process_id,
        initialization_timeout=120,
        heartbeat_timeout_seconds=10,
        shutdown_timeout_seconds=10,
    )
    jax.config.update("jax_enable_x64", True)
    if args.cache:
        jax.config.update("jax_compilation_cache_dir", args.cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    import numpy as np

    from optim.sweep import task_sweep

    handled = 0

    def progress(done, total):
        # called after every chunk this process saved (or loaded: none in a first run)
        nonlocal handled
        handled += 1
        if args.die_after is not None and handled >= args.die_after:
            os.kill(os.getpid(), signal.SIGKILL)

    d, m, C = tasks(args.tasks, args.budgets)
    out = None if args.out_dir == "-" else args.out_dir
    r = task_sweep(problem(), d, m, C, chunk_size=args.chunk, out_dir=out, progress=progress)
    np.savez(
        args.result,
        N=r.N,
        Omega=r.Omega,
        value=r.value,
        valid=r.valid,
        computed=r.chunks_computed,
        loaded=r.chunks_loaded,
        n_processes=jax.process_count(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
