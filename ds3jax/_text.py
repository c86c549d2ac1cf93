"""Wording shared by messages and reports."""

from __future__ import annotations

__all__ = ["counted"]


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``"1 problem"``, ``"3 problems"``: n and the word in the number n calls for."""
    return f"{n} {word if n == 1 else (plural or word + 's')}"
