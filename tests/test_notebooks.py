"""The example notebooks run (quick mode) in a kernel of this Python, and are committed stripped.

Each notebook in ``notebooks/`` is executed with nbclient, working directory ``notebooks/`` and
``DS3JAX_QUICK=1`` (small sizes). The kernel is defined in a temporary kernel spec that runs
``sys.executable``, so the notebooks see the same environment (and installed ds3jax) as the
tests, never a global Jupyter kernel; an extra cell appended in memory checks that.
"""

from __future__ import annotations

import json
import pathlib
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
KERNEL = "ds3jax-test-python"
CELL_TIMEOUT = 300  # seconds per cell; quick mode takes well under a minute per notebook
PROBE = "import sys\nprint(sys.executable)"


def test_notebooks_present():
    names = [p.name for p in PATHS]
    assert names == [
        "01_formulas_and_strategies.ipynb",
        "02_allocation_chinchilla_vs_global.ipynb",
        "03_fitting_passk_and_majority_vote.ipynb",
    ]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_is_stripped_and_follows_conventions(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} cell {i} has outputs: run `python notebooks/strip_outputs.py`"
            )
        assert "execution" not in cell.metadata, f"{path.name} cell {i}: timing metadata"
    assert nb.cells[0].cell_type == "markdown", "a notebook opens with what it shows"
    first_code = next(c.source for c in nb.cells if c.cell_type == "code")
    assert 'jax.config.update("jax_enable_x64", True)' in first_code
    assert 'os.environ.get("DS3JAX_QUICK", "0") == "1"' in first_code


@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory):
    """A kernel spec that starts ipykernel on this interpreter (not whatever is on PATH)."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL
    spec.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "ds3jax tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return [str(root)]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_executes(path, kernel_dirs, monkeypatch):
    monkeypatch.setenv("DS3JAX_QUICK", "1")  # the kernel inherits this environment
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    km = KernelManager(
        kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs)
    )
    client = NotebookClient(
        nb,
        km=km,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError (with the traceback) if any cell fails

    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    assert pathlib.Path(printed.strip()).resolve() == pathlib.Path(sys.executable).resolve(), (
        f"the notebook ran on {printed.strip()!r}, not on this interpreter {sys.executable!r}"
    )
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{path.name} cell {i}: {out.get('ename')}"
