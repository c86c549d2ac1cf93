"""Benchmark: optim.solve vs a SciPy baseline on the App. C problem (Fig. 8 workload).

Workload: paper_fig8(), budgets log-spaced in [1e19, 3e24], both the global surface and the
Chinchilla plane (kappa = 20). optim runs the gradient and the continuation methods, each
timed after compilation (best of ``--repeat`` runs). The SciPy baseline is written the way
a user would: per budget, scipy.special.betainc vectorised over a grid of the surface (log N
x training share for the global surface, training share for the Chinchilla plane), the best
grid point, then a Nelder-Mead polish of -accuracy. Both run in this process on the same machine.

Usage: python benchmarks/bench_optim.py [--budgets 225] [--repeat 3] [--grid 40]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
import scipy.special as sp
from scipy.optimize import minimize

jax.config.update("jax_enable_x64", True)

from optim import solve  # noqa: E402
from optim.presets import paper_fig8  # noqa: E402

I_TASKS, OMEGA, KAPPA = 1e9, 25.0, 20.0
L0 = np.linspace(0.1, 4.0, 8)
M = np.arange(1, 51)


def scipy_accuracy(N, D, Omega):
    L = 1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28
    p = sp.expit(5.0 * (L0[:, None] - L[..., None, None]))
    n = Omega[..., None, None] / OMEGA - M + 1.0
    ok = n > 0
    return np.where(ok, sp.betainc(M, np.where(ok, n, 1.0), p), 0.0).mean(axis=(-2, -1))


def _alloc_global(u, C):
    logN, s = u[..., 0], u[..., 1]
    f = sp.expit(s)
    N = np.exp(logN)
    return N, f * C / (6 * N), (1 - f) * C / (2 * N * I_TASKS)


def _alloc_chin(u, C):
    f = sp.expit(u[..., 0])
    N = np.sqrt(f * C / (6 * KAPPA))
    return N, KAPPA * N, (1 - f) * C / (2 * N * I_TASKS)


def scipy_solve(C, plane, grid):
    if plane == "global":
        top = np.log(C / (6 + 2 * I_TASKS * OMEGA))
        xs = np.linspace(np.log(1e5), top, grid)
        ss = np.linspace(-12, 12, grid)
        U = np.stack(np.meshgrid(xs, ss, indexing="ij"), -1).reshape(-1, 2)
        alloc = _alloc_global
    else:
        U = np.linspace(-20, 20, 4 * grid)[:, None]
        alloc = _alloc_chin
    vals = scipy_accuracy(*alloc(U, C))
    u0 = U[np.argmax(vals)]
    res = minimize(
        lambda u: -scipy_accuracy(*alloc(np.asarray(u)[None], C))[0],
        u0,
        method="Nelder-Mead",
        options=dict(xatol=1e-8, fatol=1e-12, maxiter=400),
    )
    best = max(-res.fun, vals.max())
    return best


def _time_optim(problem, budgets, method, repeat):
    """(first-call seconds, best-of-``repeat`` seconds after compilation, solutions)."""
    sols = {}
    t0 = time.perf_counter()
    for plane in ("global", "chinchilla"):
        sols[plane] = solve(problem, budgets, plane=plane, method=method)
        sols[plane].N.block_until_ready()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for plane in ("global", "chinchilla"):
            sols[plane] = solve(problem, budgets, plane=plane, method=method)
        for plane in sols:
            sols[plane].N.block_until_ready()
        times.append(time.perf_counter() - t0)
    return first, min(times), sols


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", type=int, default=225)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--grid", type=int, default=40, help="SciPy baseline grid per axis")
    args = ap.parse_args(argv)

    problem = paper_fig8()
    budgets = np.logspace(19, np.log10(3e24), args.budgets)
    print(f"devices: {jax.devices()}  budgets: {budgets.size}")

    runs = {}
    for method in ("gradient", "continuation"):
        first, best, sols = _time_optim(problem, budgets, method, args.repeat)
        runs[method] = (best, sols)
        print(
            f"optim method={method}: first call (compile + run) {first:.2f} s; after "
            f"compilation, both planes {best:.3f} s (best of {args.repeat})"
        )

    t0 = time.perf_counter()
    ref = {
        plane: np.array([scipy_solve(C, plane, args.grid) for C in budgets])
        for plane in ("global", "chinchilla")
    }
    t_scipy = time.perf_counter() - t0
    print(f"scipy baseline (grid {args.grid} + Nelder-Mead), both planes: {t_scipy:.2f} s")
    for method, (t_optim, sols) in runs.items():
        print(f"[{method}] speed-up: {t_scipy / t_optim:.1f}x")
        for plane in ("global", "chinchilla"):
            ours = np.asarray(sols[plane].value)
            diff = ours - ref[plane]
            print(
                f"  {plane:>10}: accuracy optim - scipy: min {diff.min():+.3e}, "
                f"max {diff.max():+.3e}; budgets where optim is worse by > 1e-9: "
                f"{(diff < -1e-9).sum()}; converged: {np.asarray(sols[plane].converged).mean():.0%}"
            )


if __name__ == "__main__":
    main()
