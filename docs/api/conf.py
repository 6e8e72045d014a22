"""Sphinx configuration of the advrec API reference (built from the numpydoc docstrings).

Build: ``python -m sphinx -W --keep-going -b html docs/api build/docs-api`` (scripts/test.sh does,
with warnings as errors, so a docstring that does not render fails CI)."""

import os
import sys

# Document the checkout when it is importable from src/ (development builds link the engine there);
# otherwise the installed package is used.
_SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")
if os.path.exists(os.path.join(_SRC, "advrec")) and any(
        name.startswith("_core") for name in os.listdir(os.path.join(_SRC, "advrec"))):
    sys.path.insert(0, os.path.abspath(_SRC))

import advrec  # noqa: E402

project = "advrec"
author = "the advrec developers"
release = version = advrec.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = False          # types stay text (no cross-references to guess, e.g. "users")
napoleon_use_ivar = True           # "Attributes" sections as fields: autodoc documents the members once
napoleon_preprocess_types = False
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"          # the numpydoc "Parameters" sections carry the types
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = f"advrec {release} API reference"
