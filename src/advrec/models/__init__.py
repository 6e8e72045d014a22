"""advrec models and the base class they share."""

from .base import EpochLoop, EpochTrained, NotFittedError, Recommender, load, register

__all__ = ["CDAE", "CFGAN", "EALS", "EpochLoop", "IRGAN", "EpochTrained", "MFeALS", "NeuMF", "NotFittedError", "Recommender",
           "load", "register"]

_LAZY = {"CDAE": "cdae", "CFGAN": "cfgan", "IRGAN": "irgan", "EALS": "eals", "MFeALS": "eals", "NeuMF": "neumf"}


def __getattr__(name):
    # Imported on first use, so that the registry keeps the order in which advrec/__init__.py
    # imports the model modules (experiment files list the allowed classes in that order).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
