"""Test-session configuration: float64 is the accuracy reference for every test."""

import jax

jax.config.update("jax_enable_x64", True)
