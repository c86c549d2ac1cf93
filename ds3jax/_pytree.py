"""Parameter pytrees whose constructor checks values and whose unflatten does not.

JAX rebuilds a pytree through its node type's unflatten for every transformation: gradients
(entries of any sign), tangents, batched values, and the placeholders people write as
``vmap`` axis specs (``jax.tree.map(lambda _: 0, population)``). ``register_dataclass``
unflattens by calling the constructor, so a range check in ``__post_init__`` refused those
rebuilt trees. :func:`parameter_pytree` registers the dataclass with an unflatten that sets
the fields directly: the check runs when a user builds parameters, never when JAX does.
"""

from __future__ import annotations

import dataclasses

import jax

__all__ = ["parameter_pytree"]


def parameter_pytree(cls=None, *, meta_fields: tuple[str, ...] = ()):
    """Register the frozen dataclass ``cls`` as a pytree: every field a child except
    ``meta_fields`` (static, hashable); rebuilding skips ``__init__`` and ``__post_init__``.

    Usable bare (``@parameter_pytree``) or with arguments
    (``@parameter_pytree(meta_fields=("n_levels",))``).
    """

    def register(cls):
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = set(meta_fields) - set(names)
        if unknown:
            raise TypeError(f"{cls.__name__} has no fields {sorted(unknown)}")
        data = tuple(n for n in names if n not in meta_fields)
        keys = tuple(jax.tree_util.GetAttrKey(n) for n in data)

        def flatten(obj):
            return tuple(getattr(obj, n) for n in data), tuple(getattr(obj, n) for n in meta_fields)

        def flatten_with_keys(obj):
            children, meta = flatten(obj)
            return tuple(zip(keys, children)), meta

        def unflatten(meta, children):
            obj = object.__new__(cls)
            for name, value in zip(data, children):
                object.__setattr__(obj, name, value)
            for name, value in zip(meta_fields, meta):
                object.__setattr__(obj, name, value)
            return obj

        jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
        return cls

    return register if cls is None else register(cls)
