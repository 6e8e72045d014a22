"""advrec models and the base class they share."""

from .base import EpochLoop, EpochTrained, NotFittedError, Recommender, load, register
from .cdae import CDAE
from .irgan import IRGAN

__all__ = ["CDAE", "EpochLoop", "IRGAN", "EpochTrained", "NotFittedError", "Recommender", "load", "register"]
