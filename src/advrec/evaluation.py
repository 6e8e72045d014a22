"""Exact ranking evaluation: full ranking and sampled protocols, computed in the C++ engine.

Every model in advrec scores with a dot product ``U @ V.T`` (see :mod:`advrec.models.base`), so one
blocked kernel ranks all of them. Definitions (also in the README):

* **full ranking**: each test item is ranked among every item the user did not interact with in
  training (other test items included);
* **sampled** (:class:`Sampled`): each test item is ranked among the user's other test items and
  ``n_negatives`` items the user never interacted with (train or test), drawn with a seed, or given;
* **ties are pessimistic**: an item scored equal to a test item ranks ahead of it, so a model that
  scores everything equal gets no credit;
* metrics at K: ``hr`` (at least one test item in the top K), ``recall`` (hits / test items),
  ``precision`` (hits / K), ``ndcg`` (binary gains, ideal DCG over min(test items, K)), ``mrr``
  (reciprocal rank of the first hit within K), ``map`` (average precision at K over
  min(test items, K)); ``auc`` (fraction of (test item, negative) pairs ordered correctly, negatives
  being all candidates that are not test items) has no cut-off. All are averaged over the users that
  have test items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, Sequence, Tuple, Union

import numpy as np

from ._checks import (as_int32_ids, check_interactions, check_ks, check_names, check_positive_int, check_same_shape,
                      is_int, model_threads)
from ._engine import core
from ._ranking import NonFiniteScoresError, check_factors, describe, top_k  # noqa: F401  (public here)

#: metrics with a cut-off, in the order the engine lays them out
RANK_METRICS = ("hr", "ndcg", "recall", "precision", "mrr", "map")
#: every metric name :func:`evaluate` accepts
METRICS = RANK_METRICS + ("auc",)


@dataclass(frozen=True)
class Sampled:
    """The sampled protocol: rank test items against ``n_negatives`` sampled items per user.

    Parameters
    ----------
    n_negatives : int
        Negatives per user (NCF/SASRec: 99 or 100; AMR: 999).
    seed : int
        Seeds the draw; each user has its own random stream, so results do not depend on the
        thread count or on which other users are evaluated.
    negatives : array, dict, or :class:`advrec.datasets.Negatives`, optional
        Fixed negatives instead of a draw: an int array of shape (n_users, N) indexed by user id, a
        dict ``user -> items``, or the result of :func:`advrec.datasets.load_negatives`.
    strategy : {"uniform", "popularity"}
        Uniform over eligible items, or proportional to training popularity (without replacement).
    """

    n_negatives: int = 100
    seed: int = 0
    negatives: object = field(default=None, compare=False, repr=False)
    strategy: str = "uniform"

    def __post_init__(self):
        if self.negatives is None:
            if not is_int(self.n_negatives) or self.n_negatives <= 0:
                raise ValueError(f"Sampled: n_negatives must be a positive integer, got {self.n_negatives!r}")
        if self.strategy not in ("uniform", "popularity"):
            raise ValueError(f"Sampled: strategy must be 'uniform' or 'popularity', got {self.strategy!r}")

    def describe(self) -> str:
        if self.negatives is not None:
            return "sampled (given negatives)"
        return f"sampled ({self.n_negatives} {self.strategy} negatives, seed {self.seed})"


class EvaluationResult:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    summary : dict
        ``"ndcg@10" -> float`` (mean over evaluated users), ``"auc" -> float``.
    per_user : dict
        The same names mapped to float64 arrays, one value per evaluated user.
    users : numpy.ndarray
        The evaluated users (int32 internal ids), aligned with ``per_user`` arrays.
    protocol : str
        A description of the protocol used.
    """

    def __init__(self, names: Sequence[str], values: np.ndarray, users: np.ndarray, protocol: str):
        self.users = users
        self.per_user: Dict[str, np.ndarray] = {name: np.ascontiguousarray(values[:, c]) for c, name in enumerate(names)}
        self.summary: Dict[str, float] = {}
        for name, column in self.per_user.items():
            finite = column[~np.isnan(column)]
            self.summary[name] = float(finite.mean()) if finite.size else float("nan")
        self.protocol = protocol

    @property
    def n_users(self) -> int:
        return int(self.users.size)

    def __getitem__(self, name: str) -> float:
        return self.summary[name]

    def to_frame(self):
        """Per-user results as a pandas DataFrame (one row per user)."""
        import pandas as pd

        return pd.DataFrame({"user": self.users, **self.per_user})

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v:.4f}" for k, v in self.summary.items())
        return f"EvaluationResult({self.protocol}, users={self.n_users}, {body})"


def _column_names(ks: Sequence[int], metrics: Sequence[str]) -> Tuple[str, ...]:
    names = [f"{m}@{k}" for k in ks for m in RANK_METRICS if m in metrics]
    if "auc" in metrics:
        names.append("auc")
    return tuple(names)


def _interactions_csr(data, name: str):
    check_interactions(data, name)
    indptr, indices = data.csr_arrays()
    return np.ascontiguousarray(indptr, dtype=np.int64), np.ascontiguousarray(indices, dtype=np.int32)


def _without_test_pairs(tr_indptr, tr_indices, te_indptr, te_indices, n_items: int):
    """The training membership minus each user's test items. With repeated events (``keep_repeats``)
    a user's held-out last event may be an item they consumed before; it must stay a candidate
    (it is the item to find), while the rest of their history is still excluded."""
    n_users = tr_indptr.size - 1
    tr_users = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(tr_indptr))
    te_users = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(te_indptr))
    keep = ~np.isin(tr_users * n_items + tr_indices, te_users * n_items + te_indices)
    if keep.all():
        return tr_indptr, tr_indices
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(tr_users[keep], minlength=n_users), out=indptr[1:])
    return indptr, np.ascontiguousarray(tr_indices[keep])


def _given_negatives(negatives, users: np.ndarray, n_users: int, n_items: int) -> np.ndarray:
    """Fixed negatives as an (len(users), N) int32 array."""
    if isinstance(negatives, dict):
        rows = []
        for u in users:
            if int(u) not in negatives:
                raise ValueError(f"Sampled.negatives has no entry for user {int(u)}")
            rows.append(np.asarray(negatives[int(u)]))
        lengths = {r.size for r in rows}
        if len(lengths) > 1:
            raise ValueError("Sampled.negatives: every user must have the same number of negatives")
        out = np.stack(rows) if rows else np.zeros((0, 1), dtype=np.int64)
    elif hasattr(negatives, "negatives") and hasattr(negatives, "users"):
        neg_users = np.asarray(negatives.users)
        if np.unique(neg_users).size != neg_users.size:
            raise ValueError("Sampled.negatives: the negatives file lists a user more than once; "
                             "give one line per user (leave-one-out)")
        lookup = np.full(n_users, -1, dtype=np.int64)
        if neg_users.size and (neg_users.min() < 0 or neg_users.max() >= n_users):
            raise ValueError("Sampled.negatives: user id out of range")
        lookup[neg_users] = np.arange(neg_users.size)
        missing = users[lookup[users] < 0]
        if missing.size:
            raise ValueError(f"Sampled.negatives has no line for user {int(missing[0])}")
        out = np.asarray(negatives.negatives)[lookup[users]]
    else:
        arr = np.asarray(negatives)
        if arr.ndim != 2 or arr.shape[0] != n_users:
            raise ValueError(f"Sampled.negatives must have shape (n_users={n_users}, N), got {arr.shape}")
        out = arr[users]
    if out.dtype.kind not in "iu":
        raise TypeError(f"Sampled.negatives must hold integer item ids, got dtype {out.dtype}")
    if out.size and (out.min() < 0 or out.max() >= n_items):
        raise ValueError(f"Sampled.negatives contains item ids outside [0, {n_items})")
    return np.ascontiguousarray(out, dtype=np.int32)


def evaluate(model, train, test, k: Union[int, Sequence[int]] = 10,
             metrics: Union[str, Iterable[str]] = ("hr", "ndcg"), protocol: Union[str, Sampled] = "full",
             users=None, num_threads=None, batch_size: int = 32768,
             show_progress: bool = False) -> EvaluationResult:
    """Evaluates a fitted model on held-out interactions.

    Parameters
    ----------
    model : advrec model
        Any fitted advrec model (or anything with ``n_users``, ``n_items`` and
        ``_scoring_factors(users) -> (U, V)``).
    train : advrec.Interactions
        The training interactions; their items are never candidates (full protocol) and never
        drawn as negatives (sampled protocol). With ``keep_repeats`` data, a user's test item that
        also occurs in their history (a repeat) stays a candidate: it is the item to find.
    test : advrec.Interactions
        Held-out interactions in the same id space (from :mod:`advrec.split`).
    k : int or sequence of int
        Cut-offs.
    metrics : str or sequence of str
        Any of ``hr, ndcg, recall, precision, mrr, map, auc``.
    protocol : "full" or Sampled
        Full ranking, or :class:`Sampled`.
    users : array of int, optional
        Restrict to these users (those without test items are skipped).
    num_threads : int, optional
        0 = all cores; None (default) = the model's own ``num_threads`` (all cores for a model
        without one).
    batch_size : int
        Users per engine call (bounds memory; the progress bar advances per batch).
    show_progress : bool
        Show a progress bar.

    Returns
    -------
    EvaluationResult
    """
    ks = check_ks(k)
    metrics = check_names(metrics, "metrics", METRICS)
    names = _column_names(ks, metrics)
    if isinstance(protocol, str):
        if protocol != "full":
            raise ValueError(f"protocol must be 'full' or advrec.Sampled(...), got {protocol!r}")
    elif not isinstance(protocol, Sampled):
        raise TypeError(f"protocol must be 'full' or advrec.Sampled(...), got {type(protocol).__name__}")
    if not hasattr(model, "_scoring_factors"):
        raise TypeError(f"model must be an advrec model, got {type(model).__name__}")
    if hasattr(model, "_check_fitted"):
        model._check_fitted()
    tr_indptr, tr_indices = _interactions_csr(train, "train")
    te_indptr, te_indices = _interactions_csr(test, "test")
    if getattr(train, "keep_repeats", False):
        tr_indptr, tr_indices = _without_test_pairs(tr_indptr, tr_indices, te_indptr, te_indices, train.n_items)
    for name, data in (("train", train), ("test", test)):
        check_same_shape(model, data, name)
    # Validated once here; the engine calls below (one per batch of users) trust them.
    core.validate_csr(tr_indptr, tr_indices, int(model.n_items), "train")
    core.validate_csr(te_indptr, te_indices, int(model.n_items), "test")
    batch_size = check_positive_int(batch_size, "batch_size")
    num_threads = model_threads(model, num_threads)
    has_test = np.flatnonzero(np.diff(te_indptr) > 0).astype(np.int32)
    if users is not None:
        chosen = np.unique(as_int32_ids(np.atleast_1d(users), "users", model.n_users))
        has_test = np.intersect1d(has_test, chosen).astype(np.int32)
    if has_test.size == 0:
        raise ValueError("no user to evaluate: test has no interactions" + (" for the given users" if users is not None
                                                                           else ""))
    if isinstance(protocol, Sampled):
        if protocol.negatives is not None:
            negatives = _given_negatives(protocol.negatives, has_test, model.n_users, model.n_items)
        else:
            weights = None
            if protocol.strategy == "popularity":
                weights = np.bincount(tr_indices, minlength=model.n_items).astype(np.float64)
            negatives = core.sample_negatives(tr_indptr, tr_indices, te_indptr, te_indices, model.n_items, has_test,
                                              int(protocol.n_negatives), int(protocol.seed) & (2**64 - 1), weights,
                                              num_threads)
        description = protocol.describe()
    else:
        description = "full ranking"

    from tqdm.auto import tqdm

    values = np.empty((has_test.size, len(names)), dtype=np.float64)
    starts = range(0, has_test.size, int(batch_size))
    for start in tqdm(starts, desc="evaluate", disable=not show_progress, leave=False, unit="batch"):
        batch = has_test[start:start + int(batch_size)]
        U, V = check_factors(*model._scoring_factors(batch), what=describe(model))
        if isinstance(protocol, Sampled):
            out = core.evaluate_sampled(U, V, te_indptr, te_indices, batch, negatives[start:start + batch.size],
                                        list(ks), list(metrics), num_threads)
        else:
            out = core.evaluate_full(U, V, tr_indptr, tr_indices, te_indptr, te_indices, batch, list(ks),
                                     list(metrics), num_threads)
        values[start:start + batch.size] = out
    return EvaluationResult(names, values, has_test, description)
