"""Loads the fastest build of the C++ engine this CPU can run.

The wheel carries up to three builds of the same engine (portable baseline, AVX2, AVX-512), each a
separate extension module so that no code compiled for one instruction set can leak into another.
``ADVREC_ISA=base|avx2|avx512`` forces a choice (useful to test the baseline on a new machine).
"""

from __future__ import annotations

import importlib
import importlib.util
import os

from . import _core as _base

_ORDER = ("avx512", "avx2")


def _load():
    forced = os.environ.get("ADVREC_ISA", "").strip().lower()
    if forced in ("base", "native"):
        return _base
    features = _base.cpu_features()
    candidates = _ORDER if not forced else (forced,)
    for name in candidates:
        if name not in _ORDER:
            raise ValueError(f"ADVREC_ISA must be one of base, avx2, avx512; got {forced!r}")
        if not features.get(name, False):
            if forced:
                raise RuntimeError(f"ADVREC_ISA={forced} but this CPU does not support {name}")
            continue
        if not forced and importlib.util.find_spec(f"advrec._core_{name}") is None:
            continue  # a build without ISA variants (e.g. a development build)
        try:
            return importlib.import_module(f"advrec._core_{name}")
        except ImportError as exc:
            if forced:
                raise
            import warnings

            warnings.warn(f"advrec: the {name} build of the engine failed to load ({exc}); "
                          "falling back to a slower build", RuntimeWarning, stacklevel=2)
    return _base


core = _load()
"""The engine module in use; ``core.variant`` names its instruction set."""
