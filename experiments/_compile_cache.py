"""``--compile-cache DIR`` (or ``DS3JAX_COMPILE_CACHE=DIR``): JAX's persistent compilation cache.

A second run of any subcommand with the same cache folder loads the compiled XLA programs
from disk instead of compiling them again (on the CPU and on GPUs). Off unless asked for:
the library never touches JAX's configuration at import, and the CLI only when the user
passes the option or sets the variable (the option wins over the variable).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "DS3JAX_COMPILE_CACHE"


def register(parser) -> None:
    parser.add_argument(
        "--compile-cache",
        metavar="DIR",
        default=None,
        help=f"persistent JAX compilation cache folder (also ${ENV}); off by default",
    )


def apply(args) -> None:
    """Turn the cache on if asked for. Raises ValueError (exit status 2) for a bad folder."""
    folder = getattr(args, "compile_cache", None) or os.environ.get(ENV) or None
    if folder is None:
        return
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"--compile-cache {folder}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"--compile-cache {folder}: cannot create the folder ({e})") from None
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path.resolve()))
    # cache every program that took at least 0.1 s to build (JAX's default skips < 1 s)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
