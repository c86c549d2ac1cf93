"""Argument checks on values known before tracing; under ``jit``/``grad`` they step aside.

A value is *concrete* when no leaf of it is a JAX tracer: Python numbers and lists, numpy
arrays and concrete ``jax.Array`` values alike (a check that skipped ``jnp.asarray(1.5)``
let a probability of 1.5 through to a silent NaN). Range checks are written so that NaN
fails them.
"""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["is_concrete", "check_values", "check_probability"]


def is_concrete(x) -> bool:
    """True when ``x`` holds no tracer, so its values can be read now."""
    return not any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(x))


def check_values(name: str, x, ok, allowed: str) -> None:
    """Raise ``ValueError`` "name must be <allowed>" unless ``ok(x)`` holds everywhere.

    ``ok`` maps a float numpy array to a boolean array; NaN must map to False. Skipped when
    ``x`` is None or traced.
    """
    if x is None or not is_concrete(x):
        return
    if not np.all(ok(np.asarray(x, dtype=float))):
        raise ValueError(f"{name} must be {allowed}, got {x!r}")


def check_probability(name: str, x, what: str = "a probability") -> None:
    """``check_values`` for a probability: every entry in [0, 1] (NaN refused)."""
    check_values(name, x, lambda a: (a >= 0) & (a <= 1), f"in [0, 1] ({what})")
