"""Reading the library's CSV inputs: rows with their file line numbers, and numbers parsed
with a message that names the line and column.  Every loader (curves, counts, training runs)
and the CLI read through here, so a bad file is reported the same way everywhere."""

from __future__ import annotations

import csv
import io
from pathlib import Path

__all__ = [
    "MissingFileError",
    "read_rows",
    "parse_number",
    "check_fields",
    "check_unique_columns",
]


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
        # utf-8-sig: spreadsheet exports often start with a byte-order mark, which would
        # otherwise become part of the first column's name
        text = path.read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path}: cannot read: {e}") from None
    numbered = [
        (i + 1, [c.strip() for c in r]) for i, r in enumerate(rows) if any(c.strip() for c in r)
    ]
    if not numbered:
        raise ValueError(f"{path}: file is empty")
    line, header = numbered[0]
    for sep, name in ((";", "semicolons"), ("\t", "tabs")):
        if len(header) == 1 and sep in header[0]:
            raise ValueError(
                f"{path}: line {line}: the header is one field separated by {name} "
                f"({header[0][:60]!r}); ds3jax reads comma-separated files"
            )
    return numbered


def parse_number(path, line: int, column: str, text: str, what: str = "a number") -> float:
    """``float(text)``, or ``ValueError`` naming the file, line and column."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"{path}: line {line}: column {column!r}: expected {what}, got {text!r}"
        ) from None


def check_fields(path, header, rows) -> None:
    """There is a data row, and every data row has as many fields as the header."""
    if not rows:
        raise ValueError(f"{path}: file has a header but no data rows")
    for line, row in rows:
        if len(row) != len(header):
            raise ValueError(
                f"{path}: line {line}: expected {len(header)} fields ({', '.join(header)}), "
                f"got {len(row)}"
            )


def check_unique_columns(path, line: int, cols) -> None:
    """No column name (compared as given, e.g. lower-cased) appears twice in the header."""
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise ValueError(f"{path}: line {line}: duplicate column {dup[0]!r}")
