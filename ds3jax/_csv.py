"""Reading the library's CSV inputs: rows with their file line numbers, and numbers parsed
with a message that names the line and column.  Every loader (curves, counts, training runs)
and the CLI read through here, so a bad file is reported the same way everywhere."""

from __future__ import annotations

import csv
import io
from pathlib import Path

__all__ = ["MissingFileError", "read_rows", "parse_number"]


class MissingFileError(FileNotFoundError, ValueError):
    """No such file: a ``FileNotFoundError`` that is also the ``ValueError`` of bad input."""


def read_rows(path) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a CSV as (1-based line, stripped fields); the header is the
    first.  Raises ``ValueError`` for a missing, unreadable or empty file."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    try:
        text = path.read_text()
        rows = list(csv.reader(io.StringIO(text)))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path}: cannot read: {e}") from None
    numbered = [
        (i + 1, [c.strip() for c in r]) for i, r in enumerate(rows) if any(c.strip() for c in r)
    ]
    if not numbered:
        raise ValueError(f"{path}: file is empty")
    return numbered


def parse_number(path, line: int, column: str, text: str, what: str = "a number") -> float:
    """``float(text)``, or ``ValueError`` naming the file, line and column."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"{path}: line {line}: column {column!r}: expected {what}, got {text!r}"
        ) from None
