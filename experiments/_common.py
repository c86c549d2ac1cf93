"""The shared runner of the figure modules and the CLI's plumbing: argument parsing, output
checks, status lines, float64, atomic output.

Nothing here imports JAX at module level: the CLI parses and validates its whole input (argparse,
TOML, output locations) with this module before it imports JAX (``import experiments.cli``
leaves ``jax`` out of ``sys.modules``).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import math
import os
import pkgutil
import secrets
import stat
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = [
    "UsageError",
    "OneLineArgumentParser",
    "check_out_dir",
    "status",
    "Progress",
    "int_at_least",
    "positive_float",
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


class UsageError(ValueError):
    """Bad user input: the CLI reports it in one line and exits with status 2."""


class OneLineArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line on stderr (exit status 2).

    The stock parser prints the usage block first; the CLI's contract is one line naming the
    problem. Subparsers made with ``add_subparsers`` inherit the class.
    """

    def error(self, message):
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def status(message: str) -> None:
    """One status line on stderr, written at once (``ds3jax: message``)."""
    sys.stderr.write(f"ds3jax: {message}\n")
    sys.stderr.flush()


def check_out_dir(path, files=(), option: str = "--out") -> Path:
    """Check, before any work, that the folder ``path`` can receive output files.

    Fails when ``path`` is an existing file, lies under a file, cannot be created (e.g. under
    ``/proc``) or is not writable, or when one of ``files`` (names inside ``path``) is an
    existing folder. The test is real: the missing folders are created, a probe file is
    written in ``path`` and removed, and the created folders are removed again, so a passing
    check leaves the file system as it found it.

    Args:
      path: the output folder (need not exist).
      files: names of the files the command will write into ``path``.
      option: the option that named ``path``, for the message (``--out``).

    Returns:
      ``Path(path)``.

    Raises:
      UsageError: one line naming the option, the path and what is wrong.
    """
    path = Path(path)
    where = f"{option} {path}"
    try:
        missing, p = [], path
        while True:
            try:
                st = p.stat()
                break
            except (FileNotFoundError, NotADirectoryError):
                # NotADirectoryError: some ancestor is a file; found when the loop reaches it
                if p == p.parent:  # pragma: no cover - the root always exists
                    raise
                missing.append(p)
                p = p.parent
        if not stat.S_ISDIR(st.st_mode):
            if p == path:
                raise UsageError(f"{where}: exists and is not a folder")
            raise UsageError(f"{where}: {p} is a file, not a folder")
        for name in files:
            if (path / name).is_dir():
                raise UsageError(f"{where}: {path / name} is a folder; cannot write a file there")
        created = []
        try:
            for d in reversed(missing):
                os.mkdir(d)
                created.append(d)
            fd, probe = tempfile.mkstemp(dir=path, prefix=".ds3jax-probe-")
            os.close(fd)
            os.unlink(probe)
        finally:
            for d in reversed(created):
                try:
                    os.rmdir(d)
                except OSError:  # pragma: no cover - someone else wrote into it meanwhile
                    pass
    except UsageError:
        raise
    except (OSError, ValueError) as e:  # ValueError: an embedded NUL byte in the path
        reason = getattr(e, "strerror", None) or str(e)
        raise UsageError(f"{where}: cannot create files there ({reason})") from None
    return path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half-written).

    The file gets the mode a plain ``open(path, "wb")`` would give, 0o666 less the umask
    (0644 under umask 022); ``tempfile.mkstemp`` would leave it 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            # O_EXCL: never reuse someone else's file; mode 0o666: the kernel applies the umask
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:  # pragma: no cover - a 48-bit random name collided
            continue
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
    out = check_out_dir(out, files=(f"{name}.json", f"{name}.png"))
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
    p = OneLineArgumentParser(prog=f"python -m experiments.{name}", description=mod.TITLE)
    p.add_argument("--quick", action="store_true", help="small, fast settings (for tests)")
    p.add_argument("--out", default="out/figures", help="output folder (default out/figures)")
    args = p.parse_args(argv)
    try:
        check_out_dir(args.out, files=(f"{name}.json", f"{name}.png"))
    except UsageError as e:
        p.error(str(e))
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


def positive_float(text: str) -> float:
    """argparse type: a positive finite number."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return v


def seed(text: str) -> int:
    """An argparse type for random seeds: 0 <= seed < 2**63 (a larger one overflowed deep in
    NumPy with a traceback)."""
    return int_at_least(0, 2**63 - 1)(text)


def int_at_least(minimum: int, maximum: int | None = None):
    """An argparse type: an integer >= ``minimum`` (and <= ``maximum`` if given), with a
    one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text[:40]!r}") from None
        if v < minimum or (maximum is not None and v > maximum):
            need = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
            raise argparse.ArgumentTypeError(f"expected an integer {need}, got {text[:40]!r}")
        return v

    return parse
