"""Train/test splits of :class:`advrec.Interactions`.

Both splits work per user and share these rules:

* **Chronological order** is by timestamp; ties, and data without timestamps, are broken by input
  order (a later row counts as later). This is the order of :meth:`Interactions.sequences`, so for
  files listed chronologically without timestamps (SASRec format) ``by="time"`` uses the file order.
* **Users with a single interaction stay in training only**: a user needs at least one training
  interaction to be evaluated, so they contribute nothing to the test set.
* Train and test keep the input order of their rows and share ``n_users``, ``n_items``,
  ``user_ids``, ``item_ids`` and ``item_features``: together they hold every interaction exactly
  once (unless ``drop_cold_items=True`` removes some test rows, which are then reported).
* **Cold test items** (items of a test interaction never seen in training) are kept by default
  (full-ranking protocols rank them too) or dropped with ``drop_cold_items=True``. Either way the
  count is reported in ``split_info``.

``split_info`` (a dict, set on both returned objects) reports ``method``, ``by``, ``seed``,
``n_train``, ``n_test``, ``n_test_users``, ``n_train_only_users`` (users with one interaction),
``n_cold_test_interactions`` (before dropping), ``n_cold_items`` (distinct such items) and
``n_cold_items_dropped`` (test interactions removed).

**Validation splits** (``leave_one_out(..., validation=True)``, ``holdout(..., validation_size=f)``)
return ``(train, valid, test)``. The test rows are exactly those of the same call without a
validation split (same ``by`` and ``seed``), and the validation rows are taken from what would
otherwise be training: each user's held-out rows are the latest (or, with ``by="random"``, the
first of one seeded permutation), test first, then validation. A user keeps at least one training
interaction, so a user with two interactions gets a test item but no validation item. Cold items
are counted against the final ``train`` for both held-out sets (``drop_cold_items`` drops them from
both), and ``split_info`` also reports ``n_valid``, ``n_valid_users``,
``n_cold_valid_interactions`` and ``n_cold_valid_dropped``. Select hyper-parameters and epochs on
``valid`` only; report ``test``.
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

from . import _seeds
from ._checks import check_bool, check_choice, check_interactions, check_seed
from .interactions import Interactions

__all__ = ["leave_one_out", "holdout"]


def _rank_within_user(data: Interactions, by: str, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """For every row: its position among the user's rows counted from the *last* one (0 = last),
    in chronological order (``by="time"``) or a seeded random order; and the per-user counts."""
    n = len(data)
    if by == "time":
        order = data._chrono_order()
    else:
        rng = _seeds.rng(seed, "split")
        order = np.lexsort((rng.random(n), data.users))
    counts = data.user_counts()
    starts = np.zeros(data.n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    sorted_users = data.users[order]
    pos_in_user = np.arange(n, dtype=np.int64) - starts[sorted_users]
    from_end = np.empty(n, dtype=np.int64)
    from_end[order] = counts[sorted_users] - 1 - pos_in_user
    return from_end, counts


def _finish(data: Interactions, is_test: np.ndarray, info: dict, drop_cold_items: bool,
            is_valid: Optional[np.ndarray] = None):
    """Builds (train, test), or (train, valid, test) when ``is_valid`` is given (disjoint from
    ``is_test``); cold items are those absent from the final train."""
    train_mask = ~is_test if is_valid is None else ~(is_test | is_valid)
    seen = np.zeros(data.n_items, dtype=bool)
    seen[data.items[train_mask]] = True
    valid = None
    if is_valid is not None:
        cold_valid = is_valid & ~seen[data.items]
        valid_mask = is_valid & ~cold_valid if drop_cold_items else is_valid
        info.update(n_cold_valid_interactions=int(cold_valid.sum()),
                    n_cold_valid_dropped=int(cold_valid.sum()) if drop_cold_items else 0,
                    n_valid=int(valid_mask.sum()), n_valid_users=int(np.unique(data.users[valid_mask]).size))
    cold = is_test & ~seen[data.items]
    n_cold = int(cold.sum())
    info.update(
        n_cold_test_interactions=n_cold,
        n_cold_items=int(np.unique(data.items[cold]).size),
        drop_cold_items=bool(drop_cold_items),
        n_cold_items_dropped=n_cold if drop_cold_items else 0,
    )
    test_mask = is_test & ~cold if drop_cold_items else is_test
    info["n_train"] = int(train_mask.sum())
    info["n_test"] = int(test_mask.sum())
    info["n_test_users"] = int(np.unique(data.users[test_mask]).size)
    train = data._subset(train_mask, split_info=info)
    test = data._subset(test_mask, split_info=info)
    if is_valid is not None:
        return train, data._subset(valid_mask, split_info=info), test
    return train, test


def leave_one_out(data: Interactions, by: str = "time", seed: int = 0, drop_cold_items: bool = False,
                  validation: bool = False) -> Union[Tuple[Interactions, Interactions],
                                                     Tuple[Interactions, Interactions, Interactions]]:
    """Holds out one interaction per user: the latest (``by="time"``) or a random one.

    Parameters
    ----------
    data : Interactions
    by : {"time", "random"}, default "time"
        ``"time"``: the user's latest interaction in chronological order (timestamp, ties and
        missing timestamps broken by input order: the later row is the later interaction).
        ``"random"``: one interaction per user drawn with ``seed``.
    seed : int, default 0
        Seed of the random choice (ignored for ``by="time"``).
    drop_cold_items : bool, default False
        Drop test interactions whose item never occurs in training (reported in ``split_info``).
    validation : bool, default False
        Leave one out twice: also hold out each user's second-latest interaction (``by="time"``;
        a second random one with ``by="random"``) as a validation set, for users with at least
        three interactions. The test set is the same as with ``validation=False``.

    Returns
    -------
    train, test : Interactions
        Sharing the id space. Users with a single interaction are in ``train`` only.
        Both carry the ``split_info`` dict (see the module docstring).
    train, valid, test : Interactions
        With ``validation=True``.
    """
    check_interactions(data, "data")
    check_choice(by, "by", ("time", "random"))
    seed = check_seed(seed)
    check_bool(validation, "validation")
    from_end, counts = _rank_within_user(data, by, seed)
    is_test = (from_end == 0) & (counts[data.users] >= 2)
    info = {"method": "leave_one_out", "by": by, "seed": seed, "validation": bool(validation),
            "n_train_only_users": int((counts == 1).sum())}
    is_valid = ((from_end == 1) & (counts[data.users] >= 3)) if validation else None
    return _finish(data, is_test, info, drop_cold_items, is_valid)


def holdout(data: Interactions, test_size: float = 0.2, by: str = "random", seed: int = 0,
            drop_cold_items: bool = False, validation_size: Optional[float] = None
            ) -> Union[Tuple[Interactions, Interactions], Tuple[Interactions, Interactions, Interactions]]:
    """Per-user holdout: a fraction of every user's interactions goes to test.

    A user with ``n >= 2`` interactions puts ``clip(round(test_size * n), 1, n - 1)`` of them in the
    test set (rounding half up), so every such user is evaluated and keeps at least one training
    interaction; users with a single interaction stay in training only. The overall test fraction
    is therefore close to, and for very sparse users slightly above, ``test_size``.

    Parameters
    ----------
    data : Interactions
    test_size : float in (0, 1), default 0.2
    by : {"random", "time"}, default "random"
        ``"random"``: a seeded random subset per user. ``"time"``: each user's latest interactions
        (chronological order as in :func:`leave_one_out`).
    seed : int, default 0
    drop_cold_items : bool, default False
        Drop test interactions whose item never occurs in training (reported in ``split_info``).
    validation_size : float in (0, 1), optional
        Also hold out a validation set: of a user's ``n`` interactions, after the test ones,
        ``clip(round(validation_size * n), 1, n - n_test - 1)`` more (the next-latest ones with
        ``by="time"``), for users who keep at least one training interaction. ``test_size +
        validation_size`` must be below 1. The test set is the same as without it.

    Returns
    -------
    train, test : Interactions
        Sharing the id space; both carry ``split_info``.
    train, valid, test : Interactions
        When ``validation_size`` is given.
    """
    check_interactions(data, "data")
    check_choice(by, "by", ("random", "time"))
    seed = check_seed(seed)
    test_size = _check_fraction(test_size, "test_size")
    if validation_size is not None:
        validation_size = _check_fraction(validation_size, "validation_size")
        if test_size + validation_size >= 1.0:
            raise ValueError(f"test_size + validation_size must be below 1, got {test_size} + {validation_size}")
    from_end, counts = _rank_within_user(data, by, seed)
    n_test_user = _held_out_counts(test_size, counts, counts)
    is_test = from_end < n_test_user[data.users]
    info = {"method": "holdout", "by": by, "seed": seed, "test_size": test_size,
            "validation_size": validation_size, "n_train_only_users": int((counts == 1).sum())}
    is_valid = None
    if validation_size is not None:
        n_valid_user = _held_out_counts(validation_size, counts, counts - n_test_user)
        is_valid = ~is_test & (from_end < (n_test_user + n_valid_user)[data.users])
    return _finish(data, is_test, info, drop_cold_items, is_valid)


def _check_fraction(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a float in (0, 1), got {value!r}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return value


def _held_out_counts(fraction: float, counts: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Per user: ``clip(round(fraction * count), 1, available - 1)`` rounding half up, and 0 for
    users with fewer than two ``available`` interactions (one must stay in training)."""
    n = np.clip(np.floor(fraction * counts + 0.5), 1, np.maximum(available - 1, 0)).astype(np.int64)
    n[available < 2] = 0
    return n
