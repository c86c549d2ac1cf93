"""Multi-start Huber fit of the Chinchilla loss law: ds3jax vs SciPy L-BFGS-B (run by hand).

    python benchmarks/bench_loss_fit.py [--repeat 3] [--scipy-starts 4500] [--bootstrap 4000]

The data are the 245 Chinchilla runs (``../shared/data/chinchilla/hoffmann_fig4_points.csv``)
without the five with the highest loss (as the Epoch replication does). Both sides minimise
the same objective, sum_i huber_1e-3(LSE(e, a - alpha log N, b - beta log D) - log L), from
the same 4,500-point grid (:data:`ds3jax.HOFFMANN_GRID`):

* ds3jax: :func:`ds3jax.fit_loss_law` (all starts in one vmapped, jitted batch), best of
  ``--repeat`` runs after a compiling call;
* SciPy: ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` with an analytic NumPy
  gradient, one start after another (default tolerances). ``--scipy-starts K`` runs an
  evenly spaced subset of K starts and extrapolates the time per start to all 4,500; the
  printout says when it does. The SciPy objective reported is the best over the starts it ran.

Prints both objectives and fitted constants, the times and the speed ratio; optionally times
the bootstrap (``--bootstrap n``, 0 to skip).
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

DATA = (
    pathlib.Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "chinchilla"
    / "hoffmann_fig4_points.csv"
)


def load(path=DATA):
    d = np.loadtxt(path, delimiter=",", skiprows=1)
    n, c, loss = d.T
    return n, c / (6.0 * n), loss


def scipy_fit(starts, log_n, log_d, log_l, delta):
    from scipy.optimize import minimize

    def fun(t):
        e, a, b, al, be = t
        z = np.stack([np.full_like(log_n, e), a - al * log_n, b - be * log_d])
        zm = z.max(0)
        ez = np.exp(z - zm)
        s = ez.sum(0)
        r = zm + np.log(s) - log_l
        ar = np.abs(r)
        f = np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta)).sum()
        psi = np.clip(r, -delta, delta)
        p = ez / s
        g = np.array(
            [
                (psi * p[0]).sum(),
                (psi * p[1]).sum(),
                (psi * p[2]).sum(),
                -(psi * p[1] * log_n).sum(),
                -(psi * p[2] * log_d).sum(),
            ]
        )
        return f, g

    best_f, best_t = np.inf, None
    for s0 in starts:
        res = minimize(fun, s0, jac=True, method="L-BFGS-B")
        if np.isfinite(res.fun) and res.fun < best_f:
            best_f, best_t = float(res.fun), res.x
    return best_f, best_t


def bench_bands(fit, n):
    import dataclasses

    import jax

    import optim

    problem = dataclasses.replace(optim.presets.paper_fig8(), law=fit.law)
    budgets = np.logspace(19, np.log10(3e24), 60)
    laws = fit.bootstrap(n, jax.random.key(7)).laws
    t0 = time.perf_counter()
    bands = optim.optimum_bands(problem, laws, budgets, center=fit.law)
    t_bands = time.perf_counter() - t0
    print(
        f"optimum_bands: {n} laws x 60 budgets x (global + chinchilla), warm: {t_bands:.1f} s "
        "(incl. compilation)"
    )
    for key in ("N_global", "kappa_global", "accuracy_gap", "compute_to_match"):
        i = [0, 30, 59]
        lo, hi = bands.low[key][i], bands.high[key][i]
        print(
            f"  {key:<18} 90% band at C = 1e19, ~8e21, 3e24: "
            + ", ".join(f"[{a:.3g}, {b:.3g}]" for a, b in zip(lo, hi))
        )
    k = min(16, n)
    sub = jax.tree_util.tree_map(lambda x: x[:k], laws)
    for plane in ("global", "chinchilla"):
        w = optim.solve_laws(problem, sub, budgets, plane, center=fit.law)
        t0 = time.perf_counter()
        g = optim.solve_laws(problem, sub, budgets, plane, method="gradient")
        t_g = time.perf_counter() - t0
        d = np.asarray(w.objective) - np.asarray(g.objective)
        print(
            f"  {plane}: warm - full gradient solve, {k} laws x 60 budgets: min {d.min():.2g}, "
            f"share below -1e-9: {np.mean(d < -1e-9):.3f} (full solves {t_g:.1f} s)"
        )


def describe(t):
    return (
        f"E {np.exp(t[0]):.4f}  A {np.exp(t[1]):.2f}  B {np.exp(t[2]):.2f}  "
        f"alpha {t[3]:.4f}  beta {t[4]:.4f}"
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scipy-starts", type=int, default=4500)
    p.add_argument("--bootstrap", type=int, default=4000)
    p.add_argument(
        "--bands",
        type=int,
        default=0,
        help="also time optim.optimum_bands for this many bootstrap laws x 60 budgets x both "
        "planes on paper_fig8() with the fitted law (and warm vs full solves on 16 laws)",
    )
    p.add_argument("--skip-scipy", action="store_true", help="skip the SciPy baseline")
    args = p.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax

    n, d, loss = load()
    starts = ds3jax.loss_fit_starts()
    kw = dict(delta=1e-3, exclude="highest_loss:5")
    ds3jax.fit_loss_law(n, d, loss, **kw)  # compile
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        fit = ds3jax.fit_loss_law(n, d, loss, **kw)
        times.append(time.perf_counter() - t0)
    t_jax = min(times)
    print(f"ds3jax fit_loss_law, {starts.shape[0]} starts: best of {args.repeat}: {t_jax:.2f} s")
    print(f"  objective {fit.objective:.16g}   {describe(fit.theta)}   (start {fit.start})")

    if args.bands:
        bench_bands(fit, args.bands)
    if args.skip_scipy:
        return
    u = fit.used
    log_n, log_d, log_l = np.log(n[u]), np.log(d[u]), np.log(loss[u])
    k = min(args.scipy_starts, starts.shape[0])
    sub = starts[np.linspace(0, starts.shape[0] - 1, k).round().astype(int)]
    t0 = time.perf_counter()
    f_sp, t_sp = scipy_fit(sub, log_n, log_d, log_l, 1e-3)
    t_scipy = time.perf_counter() - t0
    per_start = t_scipy / k
    full = per_start * starts.shape[0]
    note = "" if k == starts.shape[0] else f" (EXTRAPOLATED from {k} evenly spaced starts)"
    print(f"SciPy L-BFGS-B, {k} starts: {t_scipy:.1f} s, {per_start * 1e3:.1f} ms per start")
    print(f"  all {starts.shape[0]} starts: {full:.1f} s{note}")
    print(f"  objective {f_sp:.16g}   {describe(t_sp)}   (best of the {k} starts run)")
    print(f"speed ratio SciPy / ds3jax: {full / t_jax:.0f}x{note}")
    diff = fit.objective - f_sp
    print(f"objective ds3jax - SciPy: {diff:.3g} ({'no worse' if diff <= 1e-15 else 'WORSE'})")

    if args.bootstrap:
        fit.bootstrap(min(500, args.bootstrap), jax.random.key(0))  # compile the refit
        t0 = time.perf_counter()
        bs = fit.bootstrap(args.bootstrap, jax.random.key(1))
        t_bs = time.perf_counter() - t0
        print(
            f"bootstrap, {args.bootstrap} replicates: {t_bs:.1f} s "
            f"({100 * bs.converged.mean():.0f}% converged)"
        )
        for name, (lo, hi) in bs.interval(0.9).items():
            print(f"  {name:<6} 90% interval [{lo:.4g}, {hi:.4g}]")


if __name__ == "__main__":
    main()
