#!/usr/bin/env python
"""Strips outputs, execution counts and widget state from the committed notebooks.

The notebooks are committed *without outputs* (they would hold results derived from MovieLens, which
must not be committed, and make diffs unreadable); CI regenerates them by executing the notebook
(python/tests/test_notebook.py), which also checks that the committed copy is stripped.

    python scripts/strip_notebooks.py                  # every notebooks/*.ipynb
    python scripts/strip_notebooks.py path.ipynb ...
"""

import sys
from pathlib import Path

import nbformat


def strip(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    after = nbformat.writes(nb)
    if after != before:
        path.write_text(after, encoding="utf-8")
        return True
    return False


def main(argv):
    root = Path(__file__).resolve().parents[1]
    paths = [Path(a) for a in argv] or sorted((root / "notebooks").glob("*.ipynb"))
    for p in paths:
        print(("stripped " if strip(p) else "clean    ") + str(p))


if __name__ == "__main__":
    main(sys.argv[1:])
