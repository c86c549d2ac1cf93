"""Test-session configuration: float64 is the accuracy reference for every test."""

import jax

jax.config.update("jax_enable_x64", True)


import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _fresh_jax_caches():
    """Drop JAX's compiled programs after each test module.

    The whole suite in one process compiles thousands of XLA programs; with all of them kept,
    XLA's CPU compiler crashed (segmentation fault) compiling a later module's program, which
    compiles fine in a shorter run. Nothing in a module relies on another module's compiled
    programs, so releasing them costs only recompilation of shared kernels.
    """
    yield
    jax.clear_caches()
