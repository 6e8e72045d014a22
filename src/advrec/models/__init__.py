"""advrec models and the base class they share."""

from .base import EpochLoop, EpochTrained, NotFittedError, Recommender, load, register
from .cdae import CDAE
from .cfgan import CFGAN
from .irgan import IRGAN

__all__ = ["CDAE", "CFGAN", "EpochLoop", "IRGAN", "EpochTrained", "NotFittedError", "Recommender", "load", "register"]
