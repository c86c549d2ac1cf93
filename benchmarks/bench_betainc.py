"""Throughput of ds3jax.special.betainc against scipy.special.betainc, same process.

Workload: the DS3 chain-of-thought regime, I_q(m, T - m + 1) with m ~ U{1..100},
T = budget/omega log-uniform in [m, 200 m] and q ~ U(0.01, 0.99) (paper Eq. 20), plus a
"wide" set with a log-uniform in [0.3, 1e4] and b in [0.5, 1e7].

    python benchmarks/bench_betainc.py [--n 1000000] [--repeat 5]

Prints the best-of-``repeat`` wall time of each, the scipy/ds3jax ratio for values (> 1 means
ds3jax is faster), and value + all three gradients relative to the value alone. Timings are
after compilation. Not a test: numbers go to benchmarks/RESULTS.md and the README by hand.
"""

from __future__ import annotations

import argparse
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.special as sps  # noqa: E402

from ds3jax.special import betainc  # noqa: E402


def workloads(n, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.integers(1, 101, n).astype(np.float64)
    T = m * np.exp(rng.uniform(0.0, np.log(200.0), n))
    yield "DS3 CoT (m<=100)", m, T - m + 1.0, rng.uniform(0.01, 0.99, n)
    a = np.exp(rng.uniform(np.log(0.3), np.log(1e4), n))
    b = np.exp(rng.uniform(np.log(0.5), np.log(1e7), n))
    yield "wide (a<=1e4, b<=1e7)", a, b, rng.uniform(0.0, 1.0, n)


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    print(
        f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
        f"{platform.processor() or platform.machine()}, n = {args.n:,}"
    )
    value = jax.jit(betainc)
    value_grad = jax.jit(
        jax.value_and_grad(lambda a, b, x: jnp.sum(betainc(a, b, x)), argnums=(0, 1, 2))
    )
    for name, a, b, x in workloads(args.n):
        A, B, X = (jnp.asarray(v) for v in (a, b, x))
        t_scipy = best_of(lambda: sps.betainc(a, b, x), args.repeat)
        jax.block_until_ready(value(A, B, X))
        t_val = best_of(lambda: value(A, B, X), args.repeat)
        jax.block_until_ready(value_grad(A, B, X))
        t_grad = best_of(lambda: value_grad(A, B, X), args.repeat)
        ref = sps.betainc(a, b, x)
        got = np.asarray(value(A, B, X))
        ok = ref > 1e-300
        err = np.max(np.abs(got[ok] - ref[ok]) / ref[ok])
        print(
            f"[{name}] scipy {t_scipy:.3f} s | ds3jax value {t_val:.3f} s "
            f"(scipy/ds3jax = {t_scipy / t_val:.2f}) | value+grad(a,b,x) {t_grad:.3f} s "
            f"({t_grad / t_val:.1f}x value) | max rel diff vs scipy {err:.1e}"
        )


if __name__ == "__main__":
    main()
