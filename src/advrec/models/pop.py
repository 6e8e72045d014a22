"""Non-personalised popularity baseline."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from .._checks import check_train
from .base import Recommender, register


@register
class ItemPop(Recommender):
    """Scores every item by its number of training interactions (MostPop in the SAO paper).

    Ties between equally popular items are left as ties (evaluation breaks them pessimistically).
    """

    _array_names = ("item_counts",)

    def __init__(self):
        self._set_params(locals())

    def fit(self, train, **_ignored):
        """Counts training interactions per item. Returns self."""
        check_train(train)
        self.n_users, self.n_items = int(train.n_users), int(train.n_items)
        _, indices = train.csr_arrays()
        self.item_counts = np.bincount(indices, minlength=self.n_items).astype(np.float32)
        self._remember_train(train)
        return self

    def _scoring_factors(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return np.ones((len(users), 1), np.float32), self.item_counts[:, None].copy()

    def _validate_loaded(self) -> None:
        super()._validate_loaded()
        if getattr(self, "item_counts", None) is None or self.item_counts.shape != (self.n_items,):
            raise ValueError("model file is inconsistent: item_counts has the wrong shape")
