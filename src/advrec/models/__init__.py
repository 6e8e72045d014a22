"""advrec models and the base class they share."""

from .base import EpochLoop, EpochTrained, NotFittedError, Recommender, load, register
from .cdae import CDAE

__all__ = ["CDAE", "EpochLoop", "EpochTrained", "NotFittedError", "Recommender", "load", "register"]
