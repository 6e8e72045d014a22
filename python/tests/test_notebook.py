"""The hands-on notebook: committed without outputs, and executes end to end (nbclient).

Outputs are stripped in git (they would contain results derived from MovieLens, which is never
committed); CI regenerates them here. Strip with ``python scripts/strip_notebooks.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import require_data

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "adversarial_hands_on.ipynb"


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, (f"cells {dirty} of {NOTEBOOK.name} hold outputs; run python scripts/strip_notebooks.py "
                       "before committing")
    assert "widgets" not in nb.metadata, "widget state in the notebook metadata; run scripts/strip_notebooks.py"


def _advrec_path():
    """The kernel must import the advrec this test imports: the checkout's ``src`` in a development
    run (``PYTHONPATH=src``), the installed package otherwise (then nothing is added)."""
    import advrec

    parent = Path(advrec.__file__).resolve().parents[1]
    return [str(parent)] if parent == (ROOT / "src").resolve() else []


def execute_notebook(path: Path, data_dir: Path, skip_tags=(), timeout: int = 600):
    """Executes a notebook in its own folder with this checkout's advrec importable; returns it."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    if skip_tags:
        nb.cells = [c for c in nb.cells if not set(c.metadata.get("tags", [])) & set(skip_tags)]
    env_before = {k: os.environ.get(k) for k in ("PYTHONPATH", "ADVREC_DATA_DIR", "MPLBACKEND")}
    os.environ["PYTHONPATH"] = os.pathsep.join(_advrec_path() + [p for p in [env_before["PYTHONPATH"]] if p])
    os.environ["ADVREC_DATA_DIR"] = str(data_dir)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def test_notebook_executes_end_to_end():
    pytest.importorskip("nbclient")
    data_dir = require_data("ml-latest-small").parent
    nb = execute_notebook(NOTEBOOK, data_dir)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    # BPR robustness curve, training curves, BPR vs AMF side by side, AMR drops, SAO curve
    assert len(images) >= 5
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "AMF" in text and "p-value" in text


def test_notebook_uses_only_the_public_api():
    import re

    nb = nbformat.read(NOTEBOOK, as_version=4)
    private = [(i, m.group(0)) for i, c in enumerate(nb.cells) if c.cell_type == "code"
               for m in re.finditer(r"\.\s*_[A-Za-z]\w*", c.source)]
    assert not private, f"the notebook reaches into private members: {private}"
