"""Argument checks on values known before tracing; under ``jit``/``grad`` they step aside.

A value is *concrete* when no leaf of it is a JAX tracer: Python numbers and lists, numpy
arrays and concrete ``jax.Array`` values alike (a check that skipped ``jnp.asarray(1.5)``
let a probability of 1.5 through to a silent NaN). Range checks are written so that NaN
fails them.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

__all__ = [
    "is_concrete",
    "is_host_value",
    "check_values",
    "check_fields",
    "is_placeholder",
    "check_probability",
    "check_level",
    "positive",
    "non_negative",
    "in_unit_interval",
]


_HOST = (bool, int, float, np.ndarray, np.number)
_NUMERIC = (*_HOST, jax.Array)


def is_concrete(x) -> bool:
    """True when ``x`` holds numbers that can be read now: every leaf a number or array and
    none a tracer. False for None and for placeholders (a pytree rebuilt by JAX with
    sentinel leaves, a ``vmap`` axis spec), which are not checked."""
    leaves = jax.tree_util.tree_leaves(x)
    return bool(leaves) and all(
        isinstance(v, _NUMERIC) and not isinstance(v, jax.core.Tracer) for v in leaves
    )


def is_host_value(x) -> bool:
    """True when every leaf of ``x`` is a Python or NumPy number or array (no jax.Array).

    What the constructors of parameter pytrees check: a user's parameters. The library
    builds these pytrees from jax arrays of fitted coordinates (bootstrap replicates, an
    optimizer's iterates), whose entries may lie anywhere while a fit runs and must not be
    refused.
    """
    leaves = jax.tree_util.tree_leaves(x)
    return bool(leaves) and all(isinstance(v, _HOST) for v in leaves)


def check_values(name: str, x, ok, allowed: str) -> None:
    """Raise ``ValueError`` "name must be <allowed>" unless ``ok(x)`` holds everywhere.

    ``ok`` maps a float numpy array to a boolean array; NaN must map to False. Skipped unless
    ``x`` is concrete.
    """
    if not is_concrete(x):
        return
    if not np.all(ok(np.asarray(x, dtype=float))):
        raise ValueError(f"{name} must be {allowed}, got {x!r}")


def is_placeholder(obj) -> bool:
    """True when a field of the dataclass ``obj`` is None: no parameter is None, so the
    object is a ``vmap`` axis spec (``LossLaw(E=0, A=None, ...)``) or a similar stand-in."""
    return any(getattr(obj, f.name) is None for f in dataclasses.fields(obj))


_AXIS_HINT = (
    "; for a vmap axis spec give None for the unmapped fields or build it with "
    "jax.tree.map(lambda _: 0, params)"
)


def check_fields(obj, rules) -> None:
    """Check a parameter pytree's fields at construction: ``rules`` maps field name to
    ``(ok, allowed)``; Python and NumPy values are checked (:func:`is_host_value`), jax
    arrays and placeholders (:func:`is_placeholder`) are not. JAX rebuilds these pytrees
    without the constructor (:mod:`ds3jax._pytree`), so gradients, tangents and tree-mapped
    axis specs never reach this check."""
    if is_placeholder(obj):
        return
    for name, (ok, allowed) in rules.items():
        value = getattr(obj, name)
        if not is_host_value(value):
            continue
        try:
            check_values(f"{type(obj).__name__}.{name}", value, ok, allowed)
        except ValueError as e:
            if isinstance(value, int) and value in (0, -1):  # an axis more likely than a value
                raise ValueError(f"{e}{_AXIS_HINT}") from None
            raise


def positive(a):
    return (a > 0) & (a < np.inf)


def non_negative(a):
    return (a >= 0) & (a < np.inf)


def in_unit_interval(a):
    return (a >= 0) & (a <= 1)


def check_probability(name: str, x, what: str = "a probability") -> None:
    """``check_values`` for a probability: every entry in [0, 1] (NaN refused)."""
    check_values(name, x, in_unit_interval, f"in [0, 1] ({what})")


def check_level(level) -> float:
    """An interval's level as a float in (0, 1), else ``ValueError`` (NaN fails too)."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        value = np.nan
    if not 0.0 < value < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    return value


def check_n_boot(n_boot) -> int:
    """A bootstrap size: 0 (no intervals) or an integer >= 20, else ``ValueError``."""
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0, got {n_boot!r}")
    if 0 < n_boot < 20:
        raise ValueError(f"n_boot must be 0 (no intervals) or at least 20, got {n_boot}")
    return int(n_boot)


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int if it is an integer (Python or NumPy, not a bool) >= ``minimum``,
    else ``ValueError``; a float is refused, not truncated."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
