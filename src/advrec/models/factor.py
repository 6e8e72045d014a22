"""A dot-product model built from factors learnt elsewhere (another library, a paper's release)."""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from .base import Recommender, check_train, register
from .mf import BPRMF


def _factor_matrix(value, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (rows x factors), got shape {arr.shape}")
    if arr.dtype.kind not in "iuf" or arr.dtype.kind == "b":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {arr.shape}")
    out = np.array(arr, dtype=np.float32, order="C")  # a copy: the model never aliases the caller's array
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} contains NaN or infinite values (or values beyond float32)")
    return out


@register
class FactorModel(Recommender):
    """A fixed dot-product model from given factors: ``score(u, i) = user_factors[u] . item_factors[i]
    (+ item_bias[i])``.

    Use it to evaluate, recommend with, attack or test the robustness of factors that were learnt
    elsewhere. It never trains; :meth:`fit` only records the training interactions, whose items
    :meth:`recommend` then excludes (attacks use the BPR loss on them, as for :class:`BPRMF`).

    Parameters
    ----------
    user_factors : array_like, shape (n_users, D)
    item_factors : array_like, shape (n_items, D)
    item_bias : array_like, shape (n_items,), optional

    Examples
    --------
    >>> model = advrec.FactorModel(P, Q).fit(train)            # doctest: +SKIP
    >>> advrec.evaluate(model, train, test, k=10)              # doctest: +SKIP
    """

    _array_names = ("user_factors", "item_factors", "item_bias")

    def __init__(self, user_factors, item_factors, item_bias=None):
        self.user_factors = _factor_matrix(user_factors, "user_factors")
        self.item_factors = _factor_matrix(item_factors, "item_factors")
        if self.user_factors.shape[1] != self.item_factors.shape[1]:
            raise ValueError(f"user_factors and item_factors must have the same number of columns, got "
                             f"{self.user_factors.shape[1]} and {self.item_factors.shape[1]}")
        self.n_users, self.n_items = self.user_factors.shape[0], self.item_factors.shape[0]
        self.item_bias = None
        if item_bias is not None:
            bias = np.array(item_bias, dtype=np.float32).reshape(-1) if np.ndim(item_bias) == 1 else None
            if bias is None or bias.shape != (self.n_items,):
                raise ValueError(f"item_bias must be 1-d of length n_items={self.n_items}, got shape "
                                 f"{np.shape(item_bias)}")
            if not np.all(np.isfinite(bias)):
                raise ValueError("item_bias contains NaN or infinite values")
            self.item_bias = bias
        # No training data yet: nothing is excluded from recommendations until fit(train).
        self._train_indptr = np.zeros(self.n_users + 1, np.int64)
        self._train_indices = np.zeros(0, np.int32)
        self.history_ = []

    @property
    def factors(self) -> int:
        """Embedding width D."""
        return int(self.user_factors.shape[1])

    def get_params(self) -> Dict[str, Any]:
        """No hyper-parameters: the state is the factors themselves."""
        return {}

    def __repr__(self) -> str:
        bias = ", item_bias" if self.item_bias is not None else ""
        return f"FactorModel(n_users={self.n_users}, n_items={self.n_items}, factors={self.factors}{bias})"

    def fit(self, train, **_ignored):
        """Records ``train`` (its items are excluded by :meth:`recommend`); learns nothing.

        Parameters
        ----------
        train : advrec.Interactions
            Interactions in the id space of the factors (``n_users`` x ``n_items``).

        Returns
        -------
        self
        """
        check_train(train)
        if (train.n_users, train.n_items) != (self.n_users, self.n_items):
            raise ValueError(f"train has {train.n_users} users x {train.n_items} items but the factors have "
                             f"{self.n_users} x {self.n_items}")
        self._remember_train(train)
        return self

    # The scoring and the attack protocol are BPR-MF's: same arrays, same loss.
    _perturbable_blocks = BPRMF._perturbable_blocks
    _threads = BPRMF._threads
    _scoring_factors = BPRMF._scoring_factors
    _perturbable = BPRMF._perturbable
    _loss_gradients = BPRMF._loss_gradients

    def _perturbed_copy(self, deltas: Dict[str, np.ndarray]) -> "FactorModel":
        clone = FactorModel.__new__(FactorModel)
        clone.n_users, clone.n_items = self.n_users, self.n_items
        clone.user_factors = self.user_factors + deltas["users"] if "users" in deltas else self.user_factors.copy()
        clone.item_factors = self.item_factors + deltas["items"] if "items" in deltas else self.item_factors.copy()
        clone.item_bias = None if self.item_bias is None else self.item_bias.copy()
        clone._train_indptr, clone._train_indices = self._train_indptr, self._train_indices
        clone.history_ = []
        return clone

    @classmethod
    def _from_saved(cls, params: Dict[str, Any], state: Dict[str, Any], arrays: Dict[str, np.ndarray]):
        if params:
            raise ValueError(f"unexpected parameters {sorted(params)} for a FactorModel")
        for name in ("user_factors", "item_factors", "_train_indptr", "_train_indices"):
            if name not in arrays:
                raise ValueError(f"model file is inconsistent: {name} is missing")
        model = cls(arrays["user_factors"], arrays["item_factors"], arrays.get("item_bias"))
        for name in ("user_factors", "item_factors"):
            if arrays[name].dtype != np.float32:
                raise ValueError(f"model file is inconsistent: {name} should be float32")
        model._set_extra_state(state)
        if (model.n_users, model.n_items) != (model.user_factors.shape[0], model.item_factors.shape[0]):
            raise ValueError("model file is inconsistent: n_users/n_items do not match the factors")
        model._train_indptr, model._train_indices = arrays["_train_indptr"], arrays["_train_indices"]
        model._validate_loaded()
        return model
