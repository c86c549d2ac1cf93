"""Benchmark: the Fig. 9 task sweep (optim.sweep.task_sweep), optimisations per second.

Workload: App. C-A's model (I = 1, sigmoid b = 20, omega = 25), ``--tasks`` task types from
the 100 x 100 (L0, m) grid (all 10,000 by default) x ``--budgets`` budgets in
[10^8.5, 10^17]. Timed after a compilation run on one chunk; prints the time and the rate.

Usage: python benchmarks/bench_sweep.py [--tasks 10000] [--budgets 1250] [--chunk 500]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

from experiments import fig9  # noqa: E402
from optim.sweep import task_sweep  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--budgets", type=int, default=1250)
    ap.add_argument("--chunk", type=int, default=500)
    args = ap.parse_args()
    cfg = fig9.config(quick=False)
    _, _, _, d, m = fig9.task_grid(cfg)
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(d.size, size=min(args.tasks, d.size), replace=False))
    d, m = d[idx], m[idx]
    C = np.logspace(8.5, 17, args.budgets)
    p = fig9.problem()
    t0 = time.perf_counter()
    task_sweep(p, d[: args.chunk], m[: args.chunk], C, chunk_size=args.chunk)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = task_sweep(p, d, m, C, chunk_size=args.chunk)
    dt = time.perf_counter() - t0
    n = d.size * C.size
    print(f"devices: {jax.devices()}")
    print(f"first chunk incl. compilation: {t_first:.1f} s")
    print(
        f"{d.size} tasks x {C.size} budgets = {n:.3g} optimisations in {dt:.1f} s "
        f"({n / dt:.3g} per s); valid points {r.valid.mean():.3f}"
    )


if __name__ == "__main__":
    main()
