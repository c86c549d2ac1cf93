"""How the elementwise kernels are laid out on the hardware: block sizes and straggler phases.

The incomplete beta's continued fractions (:mod:`ds3jax.special._fractions`) iterate all
points of a batch in lock-step, so a batch costs as many loop trips as its slowest point
needs. Two knobs trade that waste against parallelism:

* ``block``: points per block, the blocks run one after another under ``jax.lax.map``
  (``None``: the whole batch at once). On a CPU, blocks of 2048 keep the loop state in cache
  and let each block stop at its own slowest point. A GPU needs ~1e5 points in flight to be
  busy, so there the whole batch runs at once.
* ``split`` and ``phases``: within a block, the loop runs in ``phases`` phases; each phase
  iterates until at most 1/``split`` of its points are unconverged, then gathers those into
  a batch 1/``split`` the size for the next phase (``phases=1``: one lock-step loop).
* ``partition``: before blocking, derivative kernels group points by a cheap guess of their
  step count (only matters when there is more than one block).
* ``batching``: ``vmap`` of the kernels runs them once on the whole batch (True, default);
  False batches the scalar kernel's loops instead (lock-step over the whole batch, the
  behaviour before the batching rules; kept to compare and as an escape hatch).
* ``grid_chunk``: grid points evaluated at once per budget by the optim solvers' seed grids
  (``jax.lax.map`` over chunks bounds the memory of a dense grid vmapped over budgets).

Defaults are chosen per backend (``jax.default_backend()`` when a function is traced) and
can be overridden with :func:`execution`. The settings change only the schedule, never the
arithmetic per point: results agree to rounding (a point may take one more or fewer loop
trip past convergence) across settings and backends.

Settings are read at trace time: a function already compiled by ``jax.jit`` keeps the
settings it was traced with; wrap the first call (or a fresh ``jax.jit``) in the context.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses

import jax
import numpy as np

__all__ = ["Execution", "execution", "execution_settings"]


@dataclasses.dataclass(frozen=True)
class Execution:
    """Kernel layout (see the module docstring). ``block``/``grid_chunk`` ``None`` = all at once."""

    block: int | None = 2048
    split: int = 8
    phases: int = 2
    partition: bool = True
    grid_chunk: int | None = 128
    batching: bool = True


# Measured on the 2-core CPU (benchmarks/RESULTS.md). The GPU entry follows from the
# hardware (~1e5 points in flight needed) and is not yet measured: benchmarks/gpu_run.sh
# times the alternatives when a device is lent.
_DEFAULTS = {
    "cpu": Execution(block=2048, split=8, phases=2, partition=True, grid_chunk=128),
    "gpu": Execution(block=None, split=8, phases=2, partition=False, grid_chunk=4096),
    "tpu": Execution(block=None, split=8, phases=2, partition=False, grid_chunk=4096),
}

_OVERRIDE: contextvars.ContextVar[dict] = contextvars.ContextVar("ds3jax_execution", default={})


def execution_settings(backend: str | None = None) -> Execution:
    """The settings in force: the backend's defaults with any :func:`execution` overrides.

    Args:
      backend: "cpu", "gpu", "tpu" (or a platform name such as "cuda"/"rocm");
        default ``jax.default_backend()``.
    """
    if backend is None:  # another platform (a plugin) runs as an accelerator
        name = jax.default_backend()
    else:
        name = backend
        if name not in (*_DEFAULTS, "cuda", "rocm"):
            raise ValueError(
                f"backend must be one of 'cpu', 'gpu', 'tpu', 'cuda', 'rocm' or None, "
                f"got {backend!r}"
            )
    name = {"cuda": "gpu", "rocm": "gpu"}.get(name, name)
    base = _DEFAULTS.get(name, _DEFAULTS["gpu"])
    return dataclasses.replace(base, **_OVERRIDE.get())


def _check(name, value, minimum, allow_none):
    if value is None and allow_none:
        return None
    integer = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if not integer or value < minimum:
        allowed = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise ValueError(f"execution: {name} must be {allowed}, got {value!r}")
    return int(value)


_UNSET = object()


@contextlib.contextmanager
def execution(
    *,
    block=_UNSET,
    split=_UNSET,
    phases=_UNSET,
    partition=_UNSET,
    grid_chunk=_UNSET,
    batching=_UNSET,
):
    """Override the kernel layout for functions traced inside the ``with`` block.

    Fields left out keep the backend's defaults (or an enclosing override). Example::

        with ds3jax.execution(block=None):      # whole batch at once, also on a CPU
            y = jax.jit(ds3jax.special.betainc)(a, b, x)

    Raises:
      ValueError: ``block``/``grid_chunk`` not a positive int or None, ``split`` < 2,
        ``phases`` < 1, ``partition`` or ``batching`` not a bool.
    """
    given = {
        k: v
        for k, v in dict(
            block=block,
            split=split,
            phases=phases,
            partition=partition,
            grid_chunk=grid_chunk,
            batching=batching,
        ).items()
        if v is not _UNSET
    }
    for k, lo, none_ok in (
        ("block", 1, True),
        ("grid_chunk", 1, True),
        ("split", 2, False),
        ("phases", 1, False),
    ):
        if k in given:
            given[k] = _check(k, given[k], lo, none_ok)
    for k in ("partition", "batching"):
        if k in given and not isinstance(given[k], bool):
            raise ValueError(f"execution: {k} must be a bool, got {given[k]!r}")
    token = _OVERRIDE.set({**_OVERRIDE.get(), **given})
    try:
        yield execution_settings()
    finally:
        _OVERRIDE.reset(token)
