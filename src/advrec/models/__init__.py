"""advrec models and the base class they share."""

from .base import EpochLoop, EpochTrained, NotFittedError, Recommender, load, register

from .eals import EALS, MFeALS
from .neumf import NeuMF

__all__ = ["EpochLoop", "EpochTrained", "NotFittedError", "Recommender", "load", "register", "EALS", "MFeALS", "NeuMF"]
