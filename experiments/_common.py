"""The shared runner of the figure modules: argument parsing, float64, atomic output."""

from __future__ import annotations

import argparse
import importlib
import io
import json
import math
import os
import pkgutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = [
    "Progress",
    "int_at_least",
    "available",
    "run_experiment",
    "run_module",
    "atomic_write",
    "to_jsonable",
]


def available() -> list[str]:
    """Names of all figure modules (``experiments/fig*.py``), sorted by figure number."""
    import experiments

    names = [
        m.name
        for m in pkgutil.iter_modules(experiments.__path__)
        if m.name.startswith("fig") and not m.ispkg
    ]

    def key(name):
        digits = "".join(ch for ch in name[3:] if ch.isdigit())
        return (int(digits) if digits else 0, name)

    return sorted(names, key=key)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def to_jsonable(obj):
    """Arrays and numpy scalars -> lists and floats; NaN/inf -> None (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "__array__") and not isinstance(obj, str | bytes):
        arr = np.asarray(obj)
        if arr.ndim == 0:
            return to_jsonable(arr.item())
        return [to_jsonable(v) for v in arr.tolist()]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def _enable_x64() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


def run_experiment(name: str, out: str | Path = "out/figures", quick: bool = False) -> dict:
    """Run figure module ``name``: compute, plot, write ``<name>.png`` and ``<name>.json``.

    Returns ``{"png": path, "json": path, "data": data}``. Float64 is enabled first.
    """
    if name not in available():
        raise ValueError(f"unknown figure {name!r}; available: {', '.join(available())}")
    _enable_x64()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mod = importlib.import_module(f"experiments.{name}")
    data = mod.compute(quick=quick)
    fig = mod.plot(data)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    out = Path(out)
    payload = {"figure": name, "title": mod.TITLE, "quick": bool(quick), "data": data}
    text = json.dumps(to_jsonable(payload), indent=1, allow_nan=False)
    atomic_write(out / f"{name}.json", text.encode())
    atomic_write(out / f"{name}.png", buf.getvalue())
    return {"png": out / f"{name}.png", "json": out / f"{name}.json", "data": data}


def run_module(module_name: str, argv=None) -> int:
    """``python -m experiments.<name>`` entry point: ``--quick`` and ``--out DIR``."""
    if module_name == "__main__":  # python -m experiments.<name>: the real name is in __spec__
        module_name = getattr(sys.modules["__main__"].__spec__, "name", module_name)
    name = module_name.rsplit(".", 1)[-1]
    if name == "__main__":  # pragma: no cover - run via -m gives the real name in __spec__
        raise SystemExit("run this module with python -m experiments.<name>")
    mod = importlib.import_module(f"experiments.{name}")
    p = argparse.ArgumentParser(prog=f"python -m experiments.{name}", description=mod.TITLE)
    p.add_argument("--quick", action="store_true", help="small, fast settings (for tests)")
    p.add_argument("--out", default="out/figures", help="output folder (default out/figures)")
    args = p.parse_args(argv)
    res = run_experiment(name, args.out, args.quick)
    print(f"wrote {res['png']} and {res['json']}")
    return 0


class Progress:
    """A one-line progress bar on stderr (no dependency; quiet when stderr is not a tty)."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done, self.t0 = total, label, 0, time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, n: int) -> None:
        self.done += n
        frac = self.done / self.total
        bar = "#" * int(30 * frac)
        msg = (
            f"\r{self.label:<22} [{bar:<30}] {self.done}/{self.total} "
            f"{time.perf_counter() - self.t0:6.1f}s"
        )
        if self.tty:
            sys.stderr.write(msg)
            if self.done >= self.total:
                sys.stderr.write("\n")
        elif self.done >= self.total:
            sys.stderr.write(msg.lstrip("\r") + "\n")
        sys.stderr.flush()


def int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``, with a one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return v

    return parse
