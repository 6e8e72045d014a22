"""advrec: adversarial training and robustness evaluation for recommender systems."""

from ._engine import core as _core_engine

__version__ = "0.1.0"

# ---- data layer ----
from .interactions import Interactions  # noqa: E402
from . import datasets, split  # noqa: E402
