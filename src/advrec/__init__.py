"""advrec: adversarial training and robustness evaluation for recommender systems."""

from ._engine import core as _core_engine
from .models import EpochLoop, NotFittedError, Recommender, load
from .models.mf import AMF, BPRMF
from .models.pop import ItemPop
from . import attacks
from .robustness import robustness

__version__ = "0.1.0"

# ---- data layer ----
from .interactions import Interactions  # noqa: E402
from . import datasets, split  # noqa: E402
