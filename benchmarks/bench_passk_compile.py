"""What a fresh process pays to compile pass@k fits of data sets of different sizes.

    python -m benchmarks.bench_passk_compile [--n-boot 1000]

Five synthetic data sets (70% of the problems Beta(0.4, 10), the rest unsolvable) of
128 x 100, 60 x 100, 96 x 100, 200 x 1000 and 128 x 300 problems x samples, fitted one after
another in one process with the default route, then pass@k and its interval at a few k.
Prints the wall time of each fit and of its predictions, and the total: the first data set
pays for compiling the routes, the later ones for the shapes they do not share with it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SIZES = ((128, 100), (60, 100), (96, 100), (200, 1000), (128, 300))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as P

    r = np.random.default_rng(3)
    start = time.perf_counter()
    for problems, m in SIZES:
        psi = np.where(r.random(problems) < 0.7, r.beta(0.4, 10, problems), 0.0)
        c = r.binomial(m, psi)
        t = time.perf_counter()
        fit = P.fit_passk_counts(c, m, n_boot=args.n_boot, seed=1)
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        fit.passk_interval([1e3, 1e4])
        fit.passk([1e3, 1e4, 1e5])
        t_pred = time.perf_counter() - t
        print(
            f"{problems:4d} problems x {m:5d} samples: "
            f"fit {t_fit:5.1f} s, predictions {t_pred:4.1f} s"
        )
    print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
