"""Throughput of the strategy success probabilities and exact majority voting.

Run by hand (not a test):  python benchmarks/bench_strategies.py [--n 1000000] [--x32]

1. ``success(CoT(), q, m, budget, omega)`` on n random (q, m <= 100, budget) triples,
   jitted, against ``scipy.special.betainc`` on the same triples (the scipy call is the
   bare special function; ours includes the feasibility mask and T = budget / omega).
2. Exact majority vote ``mv_success`` for k = 1000 votes over 10 answers (9 wrong), one
   new error-weight vector per call (so the (k + 1)-table is rebuilt every time).
Timings are the median of several repeats after a warm-up (compilation excluded and
reported separately).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np
from scipy import special as sps


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of (q, m, budget) triples")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--x32", action="store_true", help="float32 instead of float64")
    args = parser.parse_args(argv)
    if not args.x32:
        jax.config.update("jax_enable_x64", True)

    from ds3jax._majority import mv_success
    from ds3jax._strategies import CoT, success

    dtype = np.float32 if args.x32 else np.float64
    rng = np.random.default_rng(0)
    n, omega = args.n, 25.0
    q = rng.uniform(1e-3, 0.999, n).astype(dtype)
    m = rng.integers(1, 101, n).astype(dtype)
    steps = m + rng.uniform(0.0, 1.0, n) * 5 * m / q  # from tight to loose budgets
    budget = (steps * omega).astype(dtype)

    f = jax.jit(lambda q, m, budget: success(CoT(), q, m, budget, omega))
    qd, md, bd = (jax.device_put(a) for a in (q, m, budget))
    t0 = time.perf_counter()
    ours = np.asarray(f(qd, md, bd).block_until_ready())
    compile_s = time.perf_counter() - t0
    t_ours = _median_time(lambda: f(qd, md, bd).block_until_ready(), args.repeats)

    b = budget / omega - m + 1
    t_scipy = _median_time(lambda: sps.betainc(m, b, q), args.repeats)
    ref = sps.betainc(m.astype(float), b.astype(float), q.astype(float))
    err = np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-300)[...] * (ref > 1e-300))

    print(f"device: {jax.devices()[0].device_kind}  dtype: {np.dtype(dtype).name}  n = {n:,}")
    print(f"success(CoT) jitted : {t_ours * 1e3:9.1f} ms  ({n / t_ours / 1e6:6.2f} M evals/s)"
          f"  [compile {compile_s:.1f} s]")  # fmt: skip
    print(f"scipy betainc       : {t_scipy * 1e3:9.1f} ms  ({n / t_scipy / 1e6:6.2f} M evals/s)")
    print(f"speed-up vs scipy   : {t_scipy / t_ours:9.2f} x   max rel. diff {err:.2e}")

    k = 1000
    g = jax.jit(lambda p, c: mv_success(p, k, c))
    c0 = np.ones(9) / 9
    t0 = time.perf_counter()
    g(0.2, c0).block_until_ready()
    compile_s = time.perf_counter() - t0

    def one_call():
        c = rng.dirichlet(np.ones(9))
        return g(0.2, c).block_until_ready()

    t_mv = _median_time(one_call, args.repeats)
    ps = np.linspace(0.0, 1.0, 1001)
    t_many = _median_time(lambda: g(ps, c0).block_until_ready(), args.repeats)
    print(
        f"exact MV k=1000, 10 answers: {t_mv * 1e3:8.1f} ms per call  [compile {compile_s:.1f} s]"
    )
    print(f"  one call with 1001 values of p: {t_many * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
