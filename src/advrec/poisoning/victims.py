"""Warm-started retraining of a victim model on poisoned data.

The poisoning libraries retrain every victim from scratch after each injection; here a victim
fitted on the clean data continues training on the poisoned data for a few epochs (the engine's
``fit(train, init=...)``), which is what makes a poisoning grid cheap. The poisoned data has more
users than the clean model: the real users keep their learned state, each fake user starts like a
fresh user of that model (BPR-MF/AMF: a random factor row of the model's ``init_std`` and a fresh
Adagrad accumulator; SASRec/ASASRec have no per-user parameters; ItemPop is simply refitted).

The matching clean reference is the same continuation on the clean data (``retrain(model, train,
epochs)``), so that a before/after difference is due to the fake users and not to the extra epochs.
"""

from __future__ import annotations

import copy

import numpy as np

from ..models.mf import BPRMF
from ..models.pop import ItemPop
from ..models.sasrec import SASRec
from .inject import as_interactions

__all__ = ["retrain", "with_users"]


def with_users(model, n_users: int, seed: int = 0):
    """A shallow copy of a fitted ``model`` whose user space is grown to ``n_users`` (new users get
    fresh per-user state), usable as ``init=`` for a fit on data with that many users. ``model`` is
    not modified."""
    model._check_fitted()
    extra = int(n_users) - int(model.n_users)
    if extra < 0:
        raise ValueError(f"n_users ({n_users}) is smaller than the model's ({model.n_users})")
    out = copy.copy(model)
    out.n_users = int(n_users)
    if isinstance(model, BPRMF):
        rng = np.random.default_rng([int(seed), extra, 0xFA4E])
        d = model.user_factors.shape[1]
        new = (rng.standard_normal((extra, d)) * model.init_std).astype(np.float32)
        out.user_factors = np.vstack([model.user_factors, new])
        if model.user_accum is not None:
            out.user_accum = np.vstack([model.user_accum, np.full((extra, d), model.adagrad_init, np.float32)])
    elif not isinstance(model, SASRec):
        raise TypeError(f"warm-started retraining supports BPRMF, AMF, SASRec and ASASRec, not {type(model).__name__}")
    return out


def retrain(model, train, epochs: int, seed: int = 0):
    """A new model of ``model``'s class and parameters, trained ``epochs`` more epochs on ``train``
    starting from ``model`` (warm start). ``train`` may have more users than ``model`` (appended
    fake users). ``model`` is not modified. ItemPop is refitted (it has no training)."""
    train = as_interactions(train)
    if isinstance(model, ItemPop):
        return ItemPop().fit(train)
    init = with_users(model, train.n_users, seed=seed)
    params = model.get_params()
    if "show_progress" in params:
        params["show_progress"] = False
    fresh = type(model)(**params)
    return fresh.fit(train, init=init, epochs=int(epochs))
