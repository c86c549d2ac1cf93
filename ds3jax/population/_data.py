"""Loaders and validation for pass@k / majority-vote curves and per-problem counts.

* Curves: CSV with two columns ``k`` (or ``x``: the number of samples) and ``accuracy`` (or
  ``y``, in [0, 1]), as digitised in ``shared/data/ds3_passk``.  Points may be unsorted and
  duplicated: exact duplicate rows are dropped, repeated k are averaged, and the result is
  sorted by k.
* Counts: CSV with columns ``problem, correct, samples`` (one row per problem) and any label
  columns (``model``, ``checkpoint``, ...) that tell several data sets in one file apart.

Every problem with the input raises ``ValueError`` naming the file line (1-based, header is
line 1) or array index and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np

from .._csv import check_fields, check_unique_columns, parse_number, read_rows

__all__ = [
    "Curve",
    "Counts",
    "load_curve",
    "load_curves",
    "load_counts",
    "load_count_groups",
    "make_curve",
    "make_counts",
    "thin_counts",
]


@dataclasses.dataclass(frozen=True)
class Curve:
    """An accuracy curve: ``k`` (sorted, unique, >= 1), accuracy ``y`` in [0, 1] (numpy)."""

    k: np.ndarray
    y: np.ndarray
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Counts:
    """Per-problem results: ``correct[i]`` of ``samples[i]`` samples were correct."""

    problem: tuple
    correct: np.ndarray
    samples: np.ndarray
    name: str = ""


def make_curve(k, y, name: str = "", *, k_tolerance: float = 0.01, where=None) -> Curve:
    """Validate, deduplicate and sort (k, accuracy) points.

    Args:
      k: numbers of samples (>= 1).  Values in [1 - k_tolerance, 1) are digitisation noise
        and are set to 1; anything smaller is an error.
      y: accuracies in [0, 1].
      k_tolerance: accepted undershoot of k below 1 (digitised curves start at k ~ 0.99).
      where: labels for the points in error messages (defaults to "index i").
    """
    k = np.asarray(k, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if k.size != y.size:
        raise ValueError(f"k and y must have the same length, got {k.size} and {y.size}")
    if k.size == 0:
        raise ValueError(f"curve {name!r} has no data points")
    labels = where if where is not None else [f"index {i}" for i in range(k.size)]
    for i in range(k.size):
        if not math.isfinite(k[i]) or k[i] < 1.0 - k_tolerance:
            raise ValueError(f"{name or 'curve'}: {labels[i]}: k = {k[i]:g} must be a number >= 1")
        if not math.isfinite(y[i]) or y[i] < 0.0 or y[i] > 1.0:
            raise ValueError(
                f"{name or 'curve'}: {labels[i]}: accuracy y = {y[i]:g} must lie in [0, 1]"
            )
    k = np.maximum(k, 1.0)
    # exact duplicate rows collapse; the y of a k that appears with different y are averaged
    pts = np.unique(np.stack([k, y], axis=1), axis=0)
    uk, inverse = np.unique(pts[:, 0], return_inverse=True)
    y_sum = np.bincount(inverse, weights=pts[:, 1])
    y_cnt = np.bincount(inverse)
    return Curve(k=uk, y=y_sum / y_cnt, name=name)


_CURVE_COLS = {"k": "k", "x": "k", "accuracy": "y", "y": "y"}
CURVE_FORMAT = "k, accuracy (or x, y)"


def load_curve(path: str | os.PathLike, *, k_tolerance: float = 0.01) -> Curve:
    """Read a curve CSV with columns ``k, accuracy`` (or ``x, y``, as digitised; names are
    case-insensitive), one row per number of samples k; see :func:`make_curve`."""
    path = Path(path)
    numbered = read_rows(path)
    header_line, header = numbered[0]
    cols = [h.lower() for h in header]
    check_unique_columns(path, header_line, cols)
    unknown = [h for h, c in zip(header, cols) if c not in _CURVE_COLS]
    if unknown:
        raise ValueError(
            f"{path}: line {header_line}: unknown column {unknown[0]!r} in a curve file; "
            f"expected {CURVE_FORMAT}"
        )
    roles = [_CURVE_COLS[c] for c in cols]
    for role, names in (("k", "k (or x)"), ("y", "accuracy (or y)")):
        if roles.count(role) != 1:
            raise ValueError(
                f"{path}: line {header_line}: need exactly one column {names}, got {header}"
            )
    ik, iy = roles.index("k"), roles.index("y")
    check_fields(path, header, numbered[1:])
    ks, ys, where = [], [], []
    for line, row in numbered[1:]:
        ks.append(parse_number(path, line, header[ik], row[ik], "a number for k"))
        ys.append(parse_number(path, line, header[iy], row[iy], "a number for accuracy"))
        where.append(f"line {line}")
    return make_curve(ks, ys, name=path.stem, k_tolerance=k_tolerance, where=where)


def load_curves(directory: str | os.PathLike, pattern: str = "*.csv", **kw) -> dict[str, Curve]:
    """Load every curve CSV in ``directory`` matching ``pattern``: files whose header holds
    only curve columns (those :func:`load_curve` reads: k, accuracy or x, y, in any order);
    files with other columns (counts, tables) are skipped."""
    out = {}
    for p in sorted(Path(directory).glob(pattern)):
        # the header as load_curve reads it (quoted names, blank lines before it)
        try:
            head = [h.lower() for h in read_rows(p)[0][1]]
        except ValueError:  # empty or unreadable: not a curve file
            continue
        if head and all(h in _CURVE_COLS for h in head):
            out[p.stem] = load_curve(p, **kw)
    return out


def make_counts(correct, samples, problem=None, name: str = "", *, where=None) -> Counts:
    """Validate per-problem counts: integers with 0 <= correct <= samples and samples >= 1,
    one entry per problem (1-D), and ``problem`` (the problems' ids, default 0 .. P-1)
    distinct, one per entry. Counts are held as int64 and must stay below 2**53."""
    c = np.asarray(correct, dtype=float)
    n = np.asarray(samples, dtype=float)
    if c.ndim > 1 or n.ndim > 1:
        raise ValueError(
            f"correct and samples must hold one entry per problem (1-D), got shapes {c.shape} "
            f"and {n.shape}"
        )
    c, n = c.ravel(), n.ravel()
    if c.size != n.size:
        raise ValueError(f"correct and samples must have the same length, got {c.size}, {n.size}")
    if c.size == 0:
        raise ValueError(f"{name or 'counts'}: no problems")
    if problem is not None:
        problem = tuple(problem)
        if len(problem) != c.size:
            raise ValueError(f"{len(problem)} problem ids for {c.size} counts")
        if len(set(problem)) != len(problem):
            seen = set()
            dup = next(p for p in problem if p in seen or seen.add(p))
            raise ValueError(f"{name or 'counts'}: problem {dup!r} appears more than once")
    labels = where if where is not None else [f"index {i}" for i in range(c.size)]
    for i in range(c.size):
        lab = f"{name or 'counts'}: {labels[i]}"
        if not (math.isfinite(n[i]) and n[i] == int(n[i]) and n[i] >= 1):
            raise ValueError(f"{lab}: samples = {n[i]:g} must be an integer >= 1")
        if n[i] >= 2.0**53:
            # read as float64 and stored as int64: beyond 2**53 digits are lost, beyond
            # 2**63 the count wrapped to a negative number
            raise ValueError(f"{lab}: samples = {n[i]:g} is beyond 2**53, the counts' precision")
        if not (math.isfinite(c[i]) and c[i] == int(c[i]) and c[i] >= 0):
            raise ValueError(f"{lab}: correct = {c[i]:g} must be an integer >= 0")
        if c[i] > n[i]:
            raise ValueError(f"{lab}: correct = {int(c[i])} exceeds samples = {int(n[i])}")
    problem = problem if problem is not None else tuple(range(c.size))
    return Counts(problem, c.astype(np.int64), n.astype(np.int64), name)


def as_counts(counts, samples=None) -> Counts:
    """``counts`` if it is a :class:`Counts`, else raw correct counts with ``samples`` (a
    scalar or one per problem) validated by :func:`make_counts`."""
    if isinstance(counts, Counts):
        if samples is not None:
            raise ValueError("a Counts holds its own samples: pass samples only with raw counts")
        return counts
    if samples is None:
        raise ValueError("pass samples (the number of samples per problem) with raw counts")
    c, n = np.asarray(counts), np.asarray(samples)
    if c.ndim > 1:
        raise ValueError(f"counts must hold one entry per problem (1-D), got shape {c.shape}")
    if n.ndim > 1 or (n.ndim == 1 and n.shape != c.shape):
        raise ValueError(
            f"samples must be one number, or one per problem ({c.size}), got shape {n.shape}"
        )
    return make_counts(c, np.broadcast_to(n, c.shape))


# numpy's hypergeometric sampler takes ngood and nbad below 10**9 each
_HYPER_MAX = 10**9
# beyond it, the smaller side (draws or correct samples, or their complements) is at most
# this share of n for the binomial form; more, and every count is large: the normal form
_BINOMIAL_SHARE = 1e-3


def thin_counts(correct, samples, keep, rng=None) -> np.ndarray:
    """Correct counts among ``keep`` of each problem's ``samples`` samples, drawn without
    replacement: X_i ~ Hypergeometric(c_i correct, n_i - c_i wrong, keep_i draws).

    This is what a benchmark that had run only ``keep`` samples would have counted (the
    issue-12 benchmark's subsample, the held-out splits of :func:`fit_passk_counts`,
    :func:`backtest_passk`).  Exact (numpy's sampler, the same stream as
    ``rng.hypergeometric(c, n - c, keep)``) wherever c_i and n_i - c_i are below 1e9, or
    ``keep_i`` and n_i - ``keep_i`` are (then the symmetric form Hypergeometric(keep_i,
    n_i - keep_i, c_i)).  Beyond that, n_i >= 1e9 and the draw is approximated: binomially
    on the smaller side (relative error in the variance below 1e-3), else by the normal law
    with the hypergeometric mean and variance (then >= 250), rounded into the support.

    Args:
      correct, samples, keep: integers, broadcast together, 0 <= correct <= samples and
        0 <= keep <= samples.
      rng: a ``numpy.random.Generator`` or a seed.
    """
    rng = np.random.default_rng(rng)
    c, n, s = (np.asarray(x) for x in np.broadcast_arrays(correct, samples, keep))
    for name, x in (("correct", c), ("samples", n), ("keep", s)):
        if not np.all(np.isfinite(x)) or np.any(x != np.floor(x)) or np.any(x < 0):
            raise ValueError(f"thin_counts: {name} must hold integers >= 0")
        if np.any(x >= 2.0**62):  # int64, with room for n - c
            raise ValueError(f"thin_counts: {name} must be below 2**62, got {np.max(x):g}")
    c, n, s = (x.astype(np.int64) for x in (c, n, s))
    if np.any(c > n) or np.any(s > n):
        raise ValueError("thin_counts: correct and keep must not exceed samples")
    direct = (c < _HYPER_MAX) & (n - c < _HYPER_MAX)
    if direct.all():
        return rng.hypergeometric(c, n - c, s)
    out = np.empty(c.shape, np.int64)
    out[direct] = rng.hypergeometric(c[direct], (n - c)[direct], s[direct])
    swap = ~direct & (s < _HYPER_MAX) & (n - s < _HYPER_MAX)
    out[swap] = rng.hypergeometric(s[swap], (n - s)[swap], c[swap])
    rest = ~(direct | swap)
    out[rest] = _thin_large(rng, c[rest], n[rest], s[rest])
    return out


def _thin_large(rng, c, n, s):
    # Hypergeometric(c, n - c, s) for n >= 1e9: with replacement on the smallest of the four
    # sides (draws, undrawn, correct, wrong) is exact to a relative variance error of
    # side / n; where every side is large, the normal law
    out = np.empty(c.shape, np.int64)
    nf = n.astype(float)
    sides = np.stack([s, n - s, c, n - c])
    small = np.argmin(sides, axis=0)
    side = np.take_along_axis(sides, small[None], 0)[0]
    binom = side <= _BINOMIAL_SHARE * nf
    for j, (size, p, sign, base) in enumerate(
        (
            (s, c / nf, 1, 0),  # correct among the kept draws
            (n - s, c / nf, -1, c),  # correct among the rest, taken from c
            (c, s / nf, 1, 0),  # kept among the correct
            (n - c, s / nf, -1, s),  # kept among the wrong, taken from the draws
        )
    ):
        sel = binom & (small == j)
        out[sel] = base[sel] if np.ndim(base) else base
        out[sel] += sign * rng.binomial(size[sel], p[sel])
    norm = ~binom
    if norm.any():
        cn, nn, sn = c[norm].astype(float), nf[norm], s[norm].astype(float)
        mean = sn * cn / nn
        var = sn * (cn / nn) * (1 - cn / nn) * (nn - sn) / (nn - 1)
        x = np.rint(rng.normal(mean, np.sqrt(var)))
        out[norm] = np.clip(x, np.maximum(0, s[norm] - (n - c)[norm]), np.minimum(s, c)[norm])
    return out


def load_counts(path: str | os.PathLike, *, where: dict | None = None) -> Counts:
    """Read per-problem counts from a CSV with columns ``problem, correct, samples``.

    Other columns (``model``, ``checkpoint``, ...) are labels.  ``where`` = {column: value}
    keeps the rows whose labels match (values compared as text).  A problem may appear once:
    a file that holds several data sets (say one per model and checkpoint) raises
    ``ValueError`` naming the columns that tell them apart; pick one with ``where`` or read
    them all with :func:`load_count_groups`.
    """
    path = Path(path)
    table = _CountTable(path)
    rows = table.select(where or {})
    return table.counts(rows, _group_name(path, where or {}))


def load_count_groups(
    path: str | os.PathLike, by, *, where: dict | None = None
) -> dict[tuple, Counts]:
    """Read a counts CSV that holds several data sets, one per value of the ``by`` columns.

    Args:
      path: CSV with columns ``problem, correct, samples`` and the ``by`` columns.
      by: a column name or a sequence of them (``()``: the whole file is one data set).
      where: {column: value}: only the rows with these labels (as in :func:`load_counts`).

    Returns {tuple of the ``by`` values (text): :class:`Counts`}, in file order.
    """
    path = Path(path)
    by = (by,) if isinstance(by, str) else tuple(by)
    table = _CountTable(path)
    idx = [table.column(b) for b in by]
    groups: dict[tuple, list] = {}
    for row in table.select(where or {}):
        groups.setdefault(tuple(row[1][i] for i in idx), []).append(row)
    return {
        key: table.counts(rows, _group_name(path, {**(where or {}), **dict(zip(by, key))}))
        for key, rows in groups.items()
    }


_COUNT_COLS = ("problem", "correct", "samples")


class _CountTable:
    """A counts CSV read once: header, rows (line, fields), the label columns."""

    def __init__(self, path: Path):
        self.path = path
        numbered = read_rows(path)
        self.header_line, self.header = numbered[0]
        self.cols = [h.lower() for h in self.header]
        check_unique_columns(path, self.header_line, self.cols)
        missing = [c for c in _COUNT_COLS if c not in self.cols]
        if missing:
            raise ValueError(
                f"{path}: line {self.header_line}: header must have columns problem, correct, "
                f"samples; missing {missing}"
            )
        self.rows = numbered[1:]
        check_fields(path, self.header, self.rows)

    def column(self, name) -> int:
        if str(name).lower() not in self.cols:
            raise ValueError(
                f"{self.path}: no column {name!r}; the columns are {', '.join(self.header)}"
            )
        return self.cols.index(str(name).lower())

    def select(self, where: dict):
        rows = self.rows
        for col, val in where.items():
            i = self.column(col)
            kept = [r for r in rows if r[1][i] == str(val).strip()]
            if not kept:
                seen = list(dict.fromkeys(r[1][i] for r in rows))
                more = ", ..." if len(seen) > 8 else ""
                raise ValueError(
                    f"{self.path}: no row has {col} = {val!r} (among the rows selected so far "
                    f"it takes {', '.join(map(repr, seen[:8]))}{more})"
                )
            rows = kept
        return rows

    def counts(self, rows, name: str) -> Counts:
        ip, ic, i_n = (self.cols.index(c) for c in _COUNT_COLS)
        first: dict[str, tuple] = {}
        probs, cs, ns, where = [], [], [], []
        for line, row in rows:
            vals = [
                parse_number(self.path, line, self.header[i], row[i], "an integer")
                for i in (ic, i_n)
            ]
            if row[ip] in first:
                self._duplicate(rows, row[ip], first[row[ip]], (line, row))
            first[row[ip]] = (line, row)
            probs.append(row[ip])
            cs.append(vals[0])
            ns.append(vals[1])
            where.append(f"line {line}")
        return make_counts(cs, ns, probs, name=name, where=where)

    def _duplicate(self, rows, problem, a, b):
        """Raise for a problem on two rows, naming few label columns (greedily, in file
        order, among those that vary within a problem) that give every problem one row at
        most, when some do."""
        ip = self.cols.index("problem")
        by, n_groups = [], 1
        for j, c in enumerate(self.cols):
            per_problem = {(r[1][ip], r[1][j]) for r in rows}
            if c in _COUNT_COLS or len(per_problem) == len({r[1][ip] for r in rows}):
                continue
            n = len({tuple(r[1][i] for i in by + [j]) for r in rows})
            if n > n_groups:
                by, n_groups = by + [j], n
        keys = [(r[1][ip], *(r[1][i] for i in by)) for r in rows]
        if by and len(set(keys)) == len(keys):
            names = [self.header[i] for i in by]
            pick = " ".join(f"--where {self.header[i]}={b[1][i]}" for i in by)
            hint = (
                f"the file holds several data sets (told apart by {', '.join(names)}): pick "
                f"one with where={{...}} (ds3jax fit: {pick}), or read each with "
                f"load_count_groups(path, by={tuple(names)!r})"
            )
        else:
            hint = "each problem must have one row (add up repeated runs first)"
        raise ValueError(
            f"{self.path}: problem {problem!r} appears on lines {a[0]} and {b[0]}: {hint}"
        )


def _group_name(path: Path, where: dict) -> str:
    return "_".join([path.stem] + [f"{k}-{v}" for k, v in where.items()])
