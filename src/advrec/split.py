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
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from . import _seeds
from ._checks import check_choice, check_interactions, check_seed
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


def _finish(data: Interactions, is_test: np.ndarray, info: dict, drop_cold_items: bool):
    train_mask = ~is_test
    seen = np.zeros(data.n_items, dtype=bool)
    seen[data.items[train_mask]] = True
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
    return train, test


def leave_one_out(data: Interactions, by: str = "time", seed: int = 0,
                  drop_cold_items: bool = False) -> Tuple[Interactions, Interactions]:
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

    Returns
    -------
    train, test : Interactions
        Sharing the id space. Users with a single interaction are in ``train`` only.
        Both carry the ``split_info`` dict (see the module docstring).
    """
    check_interactions(data, "data")
    check_choice(by, "by", ("time", "random"))
    seed = check_seed(seed)
    from_end, counts = _rank_within_user(data, by, seed)
    is_test = (from_end == 0) & (counts[data.users] >= 2)
    info = {"method": "leave_one_out", "by": by, "seed": seed,
            "n_train_only_users": int((counts == 1).sum())}
    return _finish(data, is_test, info, drop_cold_items)


def holdout(data: Interactions, test_size: float = 0.2, by: str = "random", seed: int = 0,
            drop_cold_items: bool = False) -> Tuple[Interactions, Interactions]:
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

    Returns
    -------
    train, test : Interactions
        Sharing the id space; both carry ``split_info``.
    """
    check_interactions(data, "data")
    check_choice(by, "by", ("random", "time"))
    seed = check_seed(seed)
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, (int, float, np.integer, np.floating)):
        raise TypeError(f"test_size must be a float in (0, 1), got {test_size!r}")
    test_size = float(test_size)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    from_end, counts = _rank_within_user(data, by, seed)
    n_test_user = np.clip(np.floor(test_size * counts + 0.5), 1, np.maximum(counts - 1, 0)).astype(np.int64)
    n_test_user[counts < 2] = 0
    is_test = from_end < n_test_user[data.users]
    info = {"method": "holdout", "by": by, "seed": seed, "test_size": test_size,
            "n_train_only_users": int((counts == 1).sum())}
    return _finish(data, is_test, info, drop_cold_items)
