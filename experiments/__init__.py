"""experiments: one module per paper figure, each a thin layer over ``ds3jax`` and ``optim``.

Every ``experiments/fig*.py`` module is an experiment and is found automatically
(:func:`experiments.available`). Each one defines

* ``TITLE``: one line saying what the figure shows;
* ``compute(quick: bool) -> dict``: the plotted numbers (plain floats, lists, nested dicts);
  ``quick=True`` is small enough for the test suite;
* ``plot(data: dict) -> matplotlib.figure.Figure``: the figure from those numbers alone;

and ends with ``if __name__ == "__main__": raise SystemExit(run_module(__name__))`` so that
``python -m experiments.<name> [--quick] [--out DIR]`` writes ``<name>.png`` and
``<name>.json`` (the plotted numbers). ``ds3jax figure <name>`` does the same, and
``python -m experiments.gallery`` regenerates the README gallery under ``docs/gallery``.

Layering: ``ds3jax`` <- ``optim`` <- ``experiments`` (this package also holds the CLI).
"""

from ._common import available, run_experiment, run_module

__all__ = ["available", "run_experiment", "run_module"]
