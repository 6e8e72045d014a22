"""Shared pytest fixtures.

Real datasets live outside the repository (never committed): the folder is ``$ADVREC_DATA_DIR`` if
set, else ``<repo root>/../shared/data``. Tests that need it use the ``data_dir`` fixture (the
folder) or the ``dataset`` fixture (``dataset("ml-latest-small")`` -> that sub-folder). When the
data is absent the test is skipped with the reason, unless ``ADVREC_REQUIRE_DATA=1`` (CI), in which
case it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


# ---- data folder (data layer) ---------------------------------------------------------------
def find_data_dir() -> Path:
    """The shared data folder (it may not exist): ``$ADVREC_DATA_DIR`` or ``<repo>/../shared/data``."""
    env = os.environ.get("ADVREC_DATA_DIR")
    return Path(env).expanduser() if env else (REPO_ROOT.parent / "shared" / "data")


def data_required() -> bool:
    """True when missing data must fail the run (``ADVREC_REQUIRE_DATA=1``, set by CI)."""
    return os.environ.get("ADVREC_REQUIRE_DATA", "").strip().lower() in ("1", "true", "yes", "on")


def require_data(sub: str = "") -> Path:
    """The data folder (or its sub-folder ``sub``); skips the test, or fails it when
    ``ADVREC_REQUIRE_DATA=1``, when it is absent."""
    base = find_data_dir()
    path = base / sub if sub else base
    if not path.exists():
        reason = (f"test data not found at {path} (set ADVREC_DATA_DIR to the folder holding the shared "
                  f"datasets, e.g. <repo>/../shared/data)")
        if data_required():
            pytest.fail(f"ADVREC_REQUIRE_DATA=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder (skip, or fail under ``ADVREC_REQUIRE_DATA=1``, when absent)."""
    return require_data()


@pytest.fixture
def dataset():
    """``dataset(name)`` -> the sub-folder ``name`` of the data folder (skip/fail when absent)."""
    return require_data
