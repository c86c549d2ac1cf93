"""Per-problem counts on a grid of checkpoints (N, D): reading and validating the table.

The input is one row per (checkpoint, problem) with the columns of
``data/pythia_math/per_problem_counts.csv``: ``nominal_params`` (N), ``training_tokens`` (D),
``problem``, ``level``, ``samples``, ``correct``; other columns are ignored. A checkpoint is a
distinct (N, D) pair. The rows are arranged densely as [problem, checkpoint] arrays; a
problem not attempted at a checkpoint has ``samples = 0`` there (it adds nothing to a
likelihood and is left out of every score).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

__all__ = ["CheckpointTable", "load_table", "REQUIRED_COLUMNS"]

REQUIRED_COLUMNS = ("nominal_params", "training_tokens", "problem", "level", "samples", "correct")


@dataclasses.dataclass(frozen=True)
class CheckpointTable:
    """Counts of correct samples per problem and checkpoint.

    Fields:
      N, D: float arrays [K]: parameters and training tokens of each checkpoint, sorted by
        (N, D).
      problems: array [P] of problem ids (as given; sorted).
      levels: int array [P]: the difficulty level of each problem.
      samples, correct: float arrays [P, K]; ``samples == 0`` where a problem was not run.
      name: where the table came from (for messages).
    """

    N: np.ndarray
    D: np.ndarray
    problems: np.ndarray
    levels: np.ndarray
    samples: np.ndarray
    correct: np.ndarray
    name: str = ""

    @property
    def n_problems(self) -> int:
        return len(self.problems)

    @property
    def n_checkpoints(self) -> int:
        return len(self.N)

    def checkpoints(self) -> list[tuple[float, float]]:
        """The (N, D) pairs, in table order."""
        return [(float(n), float(d)) for n, d in zip(self.N, self.D)]

    def select(self, keep) -> CheckpointTable:
        """The table restricted to checkpoints: a boolean mask [K], or ``f(N, D) -> bool``."""
        mask = _checkpoint_mask(self, keep)
        if not mask.any():
            raise ValueError("the selection keeps no checkpoint")
        return dataclasses.replace(
            self,
            N=self.N[mask],
            D=self.D[mask],
            samples=self.samples[:, mask],
            correct=self.correct[:, mask],
        )


def _checkpoint_mask(table: CheckpointTable, keep) -> np.ndarray:
    if callable(keep):
        return np.array([bool(keep(n, d)) for n, d in zip(table.N, table.D)])
    keep = np.asarray(keep)
    if keep.dtype == bool:
        if keep.shape != table.N.shape:
            raise ValueError(f"checkpoint mask has shape {keep.shape}, expected {table.N.shape}")
        return keep
    # a sequence of (N, D) pairs
    pairs = {(float(a), float(b)) for a, b in np.reshape(keep, (-1, 2))}
    known = set(table.checkpoints())
    unknown = pairs - known
    if unknown:
        raise ValueError(f"checkpoint {sorted(unknown)[0]} is not in the table")
    return np.array([c in pairs for c in table.checkpoints()])


def _read_csv(path: Path) -> tuple[dict[str, list[str]], Callable[[int], str]]:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [r for r in reader if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path}: cannot read: {e}") from None
    if not rows:
        raise ValueError(f"{path}: file is empty")
    header = [h.strip() for h in rows[0]]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise ValueError(f"{path}: column {repeated[0]!r} appears twice in the header")
    cols: dict[str, list[str]] = {h: [] for h in header}
    for i, r in enumerate(rows[1:]):
        if len(r) != len(header):
            raise ValueError(
                f"{path}: data row {i} (line {i + 2}): expected {len(header)} fields, got {len(r)}"
            )
        for h, v in zip(header, r):
            cols[h].append(v.strip())
    return cols, lambda i: f"{path.name}: row {i} (line {i + 2})"


def load_table(table, *, name: str | None = None) -> CheckpointTable:
    """Read and validate a table: a CSV path, a mapping of equal-length columns, or a
    :class:`CheckpointTable` (returned as is).

    Raises ``ValueError`` naming the row (0-based data row; for a CSV also the file line) for:
    a missing column, a value that is not a finite number, ``samples`` or ``correct`` not a
    non-negative integer, ``correct > samples``, ``N <= 0`` or ``D <= 0``, a problem listed
    twice at one checkpoint, a problem whose level changes between rows, and a checkpoint at
    which no problem was attempted (all its rows have ``samples = 0``).
    """
    if isinstance(table, CheckpointTable):
        return table
    if isinstance(table, str | os.PathLike):
        path = Path(table)
        cols, where = _read_csv(path)
        src = name or path.stem
    elif isinstance(table, Mapping):
        cols = {str(k): v for k, v in table.items()}
        lengths = {k: len(v) for k, v in cols.items() if k in REQUIRED_COLUMNS}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns have different lengths: {lengths}")

        def where(i):
            return f"row {i}"

        src = name or "table"
    else:
        raise ValueError(
            f"table must be a CSV path, a mapping of columns or a CheckpointTable, "
            f"got {type(table).__name__}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise ValueError(
            f"{src}: missing column {missing[0]!r}; need {', '.join(REQUIRED_COLUMNS)}"
        )
    n_rows = len(cols["problem"])
    if n_rows == 0:
        raise ValueError(f"{src}: the table has no rows")

    def numbers(col):
        out = np.empty(n_rows)
        for i, v in enumerate(cols[col]):
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{where(i)}: column {col!r}: expected a number, got {v!r}"
                ) from None
            if not math.isfinite(x):
                raise ValueError(f"{where(i)}: column {col!r}: expected a finite number, got {v!r}")
            out[i] = x
        return out

    N, D = numbers("nominal_params"), numbers("training_tokens")
    n, c, lv = numbers("samples"), numbers("correct"), numbers("level")
    for col, arr in (("nominal_params", N), ("training_tokens", D)):
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            i = bad[0]
            raise ValueError(f"{where(i)}: column {col!r} must be > 0, got {arr[i]:g}")
    for col, arr in (("samples", n), ("correct", c), ("level", lv)):
        bad = np.flatnonzero((arr < 0) | (arr != np.round(arr)))
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"{where(i)}: column {col!r} must be a non-negative integer, got {arr[i]:g}"
            )
    bad = np.flatnonzero(c > n)
    if bad.size:
        i = bad[0]
        raise ValueError(f"{where(i)}: correct ({c[i]:g}) exceeds samples ({n[i]:g})")
    raw = [str(p).strip() for p in cols["problem"]]
    ids, order_key = raw, str
    try:
        as_int = [int(float(p)) if float(p) == int(float(p)) else None for p in raw]
    except (ValueError, OverflowError):  # text ids, or "inf"
        as_int = [None]
    if None not in as_int:
        # numeric ids ("3", "3.0") become integers, unless two spellings meet ("01" and "1"
        # were merged into one problem without a word)
        spelt: dict[int, str] = {}
        for p, v in zip(raw, as_int):
            if spelt.setdefault(v, p) != p:
                raise ValueError(
                    f"problem ids {spelt[v]!r} and {p!r} are the same number: write each "
                    "problem's id one way (or use text ids)"
                )
        ids, order_key = as_int, (lambda p: p)
    problems = sorted(set(ids), key=order_key)
    p_index = {p: j for j, p in enumerate(problems)}
    ck = sorted(set(zip(N.tolist(), D.tolist())))
    k_index = {x: j for j, x in enumerate(ck)}
    P, K = len(problems), len(ck)
    samples = np.zeros((P, K))
    correct = np.zeros((P, K))
    seen = np.full((P, K), -1)
    levels = np.full(P, -1)
    level_row = np.full(P, -1)
    for i in range(n_rows):
        j, k = p_index[ids[i]], k_index[(N[i], D[i])]
        if seen[j, k] >= 0:
            raise ValueError(
                f"{where(i)}: problem {ids[i]!r} appears twice at checkpoint "
                f"N={N[i]:g}, D={D[i]:g} (first at {where(int(seen[j, k]))})"
            )
        seen[j, k] = i
        if levels[j] < 0:
            levels[j], level_row[j] = int(lv[i]), i
        elif levels[j] != lv[i]:
            raise ValueError(
                f"{where(i)}: problem {ids[i]!r} has level {lv[i]:g} here but "
                f"{levels[j]} at {where(int(level_row[j]))}"
            )
        samples[j, k], correct[j, k] = n[i], c[i]
    empty = np.flatnonzero(samples.sum(axis=0) == 0)
    if empty.size:
        k = empty[0]
        first = int(seen[:, k][seen[:, k] >= 0].min())
        raise ValueError(
            f"{where(first)}: checkpoint N={ck[k][0]:g}, D={ck[k][1]:g} has no problem with "
            "samples > 0"
        )
    return CheckpointTable(
        N=np.array([x[0] for x in ck]),
        D=np.array([x[1] for x in ck]),
        problems=np.array(problems, dtype=object),
        levels=levels,
        samples=samples,
        correct=correct,
        name=src,
    )
