"""Strip outputs from the example notebooks before committing them.

    python notebooks/strip_outputs.py            # strip every notebooks/*.ipynb in place
    python notebooks/strip_outputs.py --check    # exit 1 if any notebook still has outputs
    python notebooks/strip_outputs.py a.ipynb    # only the given files

Removes cell outputs, execution counts, per-cell execution metadata (timings written by
nbclient/Jupyter) and the run-specific part of the notebook's language_info, so a committed
notebook only changes when its source changes. Needs ``nbformat``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
_CELL_KEYS = ("execution", "collapsed", "scrolled", "ExecuteTime")


def strip(nb) -> bool:
    """Strip ``nb`` in place; return True if anything changed."""
    changed = False
    for cell in nb.cells:
        for key in _CELL_KEYS:
            if key in cell.metadata:
                del cell.metadata[key]
                changed = True
        if cell.cell_type != "code":
            continue
        if cell.outputs or cell.execution_count is not None:
            cell.outputs, cell.execution_count = [], None
            changed = True
    info = nb.metadata.get("language_info")
    if info is not None and set(info) != {"name"}:
        nb.metadata["language_info"] = {"name": info.get("name", "python")}
        changed = True
    for key in ("widgets", "varInspector"):
        if nb.metadata.pop(key, None) is not None:
            changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=pathlib.Path, help="default: notebooks/*.ipynb")
    ap.add_argument("--check", action="store_true", help="report, do not modify")
    args = ap.parse_args(argv)
    files = args.files or sorted(HERE.glob("*.ipynb"))
    dirty = []
    for path in files:
        nb = nbformat.read(path, as_version=4)
        if strip(nb):
            dirty.append(path)
            if not args.check:
                nbformat.write(nb, path)
    verb = "has outputs" if args.check else "stripped"
    for path in dirty:
        print(f"{path}: {verb}")
    return 1 if (args.check and dirty) else 0


if __name__ == "__main__":
    sys.exit(main())
