"""Recommender models."""

from .base import Recommender, load, NotFittedError
