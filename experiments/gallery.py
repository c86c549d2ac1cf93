"""Regenerate the README gallery: every figure at full settings into ``docs/gallery``.

python -m experiments.gallery [--out docs/gallery] [--only fig3 fig8 ...] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time

from ._common import available, run_experiment


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.gallery", description=__doc__)
    p.add_argument("--out", default="docs/gallery")
    p.add_argument("--only", nargs="*", default=None, help="figure names (default: all)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    names = args.only or available()
    for name in names:
        t0 = time.perf_counter()
        res = run_experiment(name, args.out, quick=args.quick)
        print(f"{name}: {res['png']} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
