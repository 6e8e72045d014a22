"""Recommender models."""

from .base import EpochLoop, NotFittedError, Recommender, load, register
