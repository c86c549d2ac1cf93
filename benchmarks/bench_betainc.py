"""Throughput of ds3jax.special.betainc against scipy.special.betainc, same process, any backend.

Workload: the DS3 chain-of-thought regime, I_q(m, T - m + 1) with m ~ U{1..100},
T = budget/omega log-uniform in [m, 200 m] and q ~ U(0.01, 0.99) (paper Eq. 20), plus a
"wide" set with a log-uniform in [0.3, 1e4] and b in [0.5, 1e7].

    python benchmarks/bench_betainc.py [--n 1000000] [--repeat 5] [--workload ds3|wide|all]
        [--dtype float64|float32] [--block N|none] [--split S] [--phases P] [--partition 0|1]
        [--calls array,vmap,value_and_grad,vmap_grad]

Prints, per workload, the table of issue 15 (best-of-``repeat`` wall time after
compilation):

* ``jit(betainc)`` on arrays, and scipy/ds3jax (> 1: ds3jax is faster);
* ``jit(vmap(betainc))`` on scalars, and scipy/ds3jax;
* ``jit(value_and_grad(sum(betainc), argnums=(0, 1, 2)))``, as a multiple of the array time;
* ``jit(vmap(grad(betainc, argnums=(0, 1, 2))))``, as a multiple of the array time;

plus the largest relative difference of the array values from scipy and of the vmapped
paths from the array path. ``--block`` etc. override the backend's execution layout
(:func:`ds3jax.execution`); the defaults are the backend's. Not a test: numbers go to
benchmarks/RESULTS.md and the README by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.special as sps  # noqa: E402

from ds3jax.special import betainc  # noqa: E402

CALLS = ("array", "vmap", "value_and_grad", "vmap_grad")


def workloads(n, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.integers(1, 101, n).astype(np.float64)
    T = m * np.exp(rng.uniform(0.0, np.log(200.0), n))
    yield "ds3", "DS3 CoT (m<=100)", m, T - m + 1.0, rng.uniform(0.01, 0.99, n)
    a = np.exp(rng.uniform(np.log(0.3), np.log(1e4), n))
    b = np.exp(rng.uniform(np.log(0.5), np.log(1e7), n))
    yield "wide", "wide (a<=1e4, b<=1e7)", a, b, rng.uniform(0.0, 1.0, n)


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return min(times)


def _layout(args):
    """The ``ds3jax.execution`` context for the command-line overrides (if any)."""
    given = {}
    if args.block is not None:
        given["block"] = None if args.block.lower() == "none" else int(args.block)
    if args.split is not None:
        given["split"] = args.split
    if args.phases is not None:
        given["phases"] = args.phases
    if args.partition is not None:
        given["partition"] = bool(args.partition)
    if not given:
        return contextlib.nullcontext()
    import ds3jax

    return ds3jax.execution(**given)


def _settings():
    try:
        import ds3jax

        return str(ds3jax.execution_settings())
    except AttributeError:  # an older ds3jax (baseline runs) has no execution settings
        return "fixed blocks of 2048"


def _rel(got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    ok = np.isfinite(ref) & (np.abs(ref) > 1e-300)
    return float(np.max(np.abs(got[ok] - ref[ok]) / np.abs(ref[ok]))) if ok.any() else 0.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--workload", choices=("ds3", "wide", "all"), default="all")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--block", default=None, help="points per block, or 'none' (whole batch)")
    p.add_argument("--split", type=int, default=None)
    p.add_argument("--phases", type=int, default=None)
    p.add_argument("--partition", type=int, choices=(0, 1), default=None)
    p.add_argument("--calls", default=",".join(CALLS), help="subset of " + ",".join(CALLS))
    args = p.parse_args(argv)
    calls = [c for c in args.calls.split(",") if c]
    bad = [c for c in calls if c not in CALLS]
    if bad:
        p.error(f"unknown --calls {bad}; choose from {CALLS}")
    dt = np.dtype(args.dtype)
    with _layout(args):
        print(
            f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
            f"{platform.processor() or platform.machine()}, n = {args.n:,}, {args.dtype}; "
            f"layout: {_settings()}"
        )
        fns = {
            "array": jax.jit(betainc),
            "vmap": jax.jit(jax.vmap(betainc)),
            "value_and_grad": jax.jit(
                jax.value_and_grad(lambda a, b, x: jnp.sum(betainc(a, b, x)), argnums=(0, 1, 2))
            ),
            "vmap_grad": jax.jit(jax.vmap(jax.grad(betainc, argnums=(0, 1, 2)))),
        }
        for key, name, a, b, x in workloads(args.n):
            if args.workload not in (key, "all"):
                continue
            a, b, x = (v.astype(dt) for v in (a, b, x))
            A, B, X = (jnp.asarray(v) for v in (a, b, x))
            t_scipy = best_of(lambda: sps.betainc(a, b, x), args.repeat)
            res, times = {}, {}
            for c in calls:
                res[c] = jax.block_until_ready(fns[c](A, B, X))  # compiles
                times[c] = best_of(lambda c=c: fns[c](A, B, X), args.repeat)
            print(f"[{name}] scipy.special.betainc (values) {t_scipy:.3f} s")
            t_val = times.get("array")
            for c in calls:
                t = times[c]
                if c in ("array", "vmap"):
                    rel = f"scipy/ds3jax = {t_scipy / t:.2f}"
                else:
                    rel = f"{t / t_val:.1f}x the array value time" if t_val else ""
                print(f"  {c:15s} {t:8.3f} s   {rel}")
            if "array" in res:
                ref = sps.betainc(a.astype(np.float64), b.astype(np.float64), x.astype(np.float64))
                print(f"  max rel diff array vs scipy: {_rel(res['array'], ref):.1e}")
                if "vmap" in res:
                    print(f"  max rel diff vmap vs array: {_rel(res['vmap'], res['array']):.1e}")
            if "value_and_grad" in res and "vmap_grad" in res:
                d = max(_rel(g, h) for g, h in zip(res["vmap_grad"], res["value_and_grad"][1]))
                print(f"  max rel diff vmap(grad) vs value_and_grad: {d:.1e}")


if __name__ == "__main__":
    main()
