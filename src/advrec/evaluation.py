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
* beyond accuracy (full ranking only), from the same top-K lists the engine selects for accuracy
  (each user's K best non-training items, test items included, ties to the lower id: what
  ``recommend`` returns), with popularity taken from the training data: per user ``epc``, ``efd``
  (novelty), ``arp``, ``aplt``, ``aclt`` (popularity bias) and ``ild`` (intra-list diversity, needs
  ``item_features``); over all lists ``coverage``, ``gini``, ``entropy`` (exposure), ``pop_reo`` and
  ``pop_rsp`` (head vs long tail). The README's metric table gives every formula and its source.
* accuracy per user group (``user_groups=``): every per-user metric averaged within each group, and
  the gap between the best and the worst group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._checks import (as_int32_ids, check_interactions, check_ks, check_names, check_positive_int, check_same_shape,
                      is_int, model_threads)
from ._engine import core
from ._ranking import NonFiniteScoresError, check_factors, describe, top_k  # noqa: F401  (public here)

#: metrics with a cut-off, in the order the engine lays them out
RANK_METRICS = ("hr", "ndcg", "recall", "precision", "mrr", "map")
#: accuracy metrics (per user, both protocols)
ACCURACY_METRICS = RANK_METRICS + ("auc",)
#: per-user metrics of each user's top-K list (full protocol), in the engine's column order
LIST_METRICS = tuple(core.list_metric_names["user"])
#: statistics of the whole set of top-K lists, no per-user value (full protocol)
AGGREGATE_METRICS = tuple(core.list_metric_names["aggregate"])
#: every beyond-accuracy metric
BEYOND_ACCURACY_METRICS = LIST_METRICS + AGGREGATE_METRICS
#: every metric name :func:`evaluate` accepts (the one list other modules read)
METRICS = ACCURACY_METRICS + BEYOND_ACCURACY_METRICS


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


def _nanmean(column: np.ndarray) -> float:
    finite = column[~np.isnan(column)]
    return float(finite.mean()) if finite.size else float("nan")


class EvaluationResult:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    summary : dict
        ``"ndcg@10" -> float`` (mean over evaluated users), ``"auc" -> float``, list-level
        statistics such as ``"coverage@10"`` and, with user groups, ``"ndcg@10_gap"``.
    per_user : dict
        Per-user metric names mapped to float64 arrays, one value per evaluated user (list-level
        statistics have none).
    aggregates : dict
        The list-level statistics alone (``"gini@10" -> float``).
    users : numpy.ndarray
        The evaluated users (int32 internal ids), aligned with ``per_user`` arrays.
    groups : numpy.ndarray or None
        With ``user_groups``: each evaluated user's group label, aligned with ``users``.
    group_summary : dict
        With ``user_groups``: ``name -> {group label -> mean over the group's users}`` for every
        per-user metric; ``summary[name + "_gap"]`` is the best group's mean minus the worst's.
    protocol : str
        A description of the protocol used.
    """

    def __init__(self, names: Sequence[str], values: np.ndarray, users: np.ndarray, protocol: str,
                 aggregates: Optional[Mapping[str, float]] = None, groups: Optional[np.ndarray] = None):
        self.users = users
        self.per_user: Dict[str, np.ndarray] = {name: np.ascontiguousarray(values[:, c]) for c, name in enumerate(names)}
        self.summary: Dict[str, float] = {name: _nanmean(column) for name, column in self.per_user.items()}
        self.aggregates: Dict[str, float] = {k: float(v) for k, v in (aggregates or {}).items()}
        self.summary.update(self.aggregates)
        self.groups = groups
        self.group_summary: Dict[str, Dict[object, float]] = {}
        if groups is not None:
            labels = [g for g in np.unique(groups)]
            for name, column in self.per_user.items():
                means = {g.item() if hasattr(g, "item") else g: _nanmean(column[groups == g]) for g in labels}
                self.group_summary[name] = means
                finite = [v for v in means.values() if not np.isnan(v)]
                self.summary[f"{name}_gap"] = float(max(finite) - min(finite)) if finite else float("nan")
        self.protocol = protocol

    @property
    def n_users(self) -> int:
        return int(self.users.size)

    def __getitem__(self, name: str) -> float:
        return self.summary[name]

    def to_frame(self):
        """Per-user results as a pandas DataFrame (one row per user, plus ``group`` when grouped)."""
        import pandas as pd

        extra = {} if self.groups is None else {"group": self.groups}
        return pd.DataFrame({"user": self.users, **extra, **self.per_user})

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v:.4f}" for k, v in self.summary.items())
        return f"EvaluationResult({self.protocol}, users={self.n_users}, {body})"


def _column_names(ks: Sequence[int], metrics: Sequence[str]) -> Tuple[str, ...]:
    """Per-user accuracy columns, in the engine's layout."""
    names = [f"{m}@{k}" for k in ks for m in RANK_METRICS if m in metrics]
    if "auc" in metrics:
        names.append("auc")
    return tuple(names)


def _list_names(ks: Sequence[int], metrics: Sequence[str], family: Sequence[str]) -> Tuple[str, ...]:
    """Columns of the engine's list metrics of one family (per user or aggregate), in its layout."""
    return tuple(f"{m}@{k}" for k in ks for m in family if m in metrics)


def _check_head_share(head_share) -> float:
    if isinstance(head_share, bool) or not isinstance(head_share, (int, float, np.integer, np.floating)):
        raise TypeError(f"head_share must be a number in (0, 1), got {head_share!r}")
    if not (0.0 < float(head_share) < 1.0):
        raise ValueError(f"head_share (share of training interactions held by the popular head) must be in (0, 1), "
                         f"got {head_share!r}")
    return float(head_share)


def activity_groups(train, users: np.ndarray, n_groups: int) -> np.ndarray:
    """Labels 0 .. n_groups-1 by quantile of training activity (0 = least active).

    Users with equal activity always share a group, so groups can be uneven (or some empty) when
    many users have the same number of training interactions.
    """
    indptr, _ = train.csr_arrays()
    activity = np.diff(np.asarray(indptr))[users].astype(np.float64)
    edges = np.quantile(activity, np.linspace(0.0, 1.0, n_groups + 1)[1:-1])
    return np.searchsorted(edges, activity, side="right").astype(np.int64)


def _user_group_labels(user_groups, train, users: np.ndarray, n_users: int) -> Optional[np.ndarray]:
    if user_groups is None:
        return None
    if isinstance(user_groups, (int, np.integer)) and not isinstance(user_groups, bool):
        if user_groups < 2:
            raise ValueError(f"user_groups as a number of activity quantiles must be >= 2, got {user_groups}")
        return activity_groups(train, users, int(user_groups))
    if isinstance(user_groups, (bool, str, float)):
        raise TypeError("user_groups must be a number of activity quantiles or one label per user, got "
                        f"{user_groups!r}")
    labels = np.asarray(user_groups)
    if labels.ndim != 1 or labels.shape[0] != n_users:
        raise ValueError(f"user_groups must hold one label per user (shape ({n_users},)), got shape {labels.shape}")
    return labels[users]


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


def evaluate_lists(ids, train, test, users=None, k: Union[int, Sequence[int]] = 10,
                   metrics: Union[str, Iterable[str]] = BEYOND_ACCURACY_METRICS, head_share: float = 0.8,
                   item_features=None) -> EvaluationResult:
    """Beyond-accuracy metrics of given ranked lists (any recommender's, or hand-written).

    The same engine code as :func:`evaluate` uses on the lists it selects itself.

    Parameters
    ----------
    ids : int array (n, K)
        Ranked item ids per user, best first; a trailing run of -1 marks a list shorter than K.
    train, test : advrec.Interactions
        Popularity comes from ``train``; relevance (EPC, EFD, PopREO) from ``test``.
    users : int array (n,), optional
        The user of each row (default: rows are users 0 .. n-1).
    k : int or sequence of int
        Cut-offs (a list shorter than k counts with the items it has).
    metrics : str or sequence of str
        Names from :data:`BEYOND_ACCURACY_METRICS`.
    head_share, item_features
        As in :func:`evaluate`.

    Returns
    -------
    EvaluationResult
        Per-user metrics in ``per_user``, list-level ones in ``aggregates`` (both in ``summary``).
    """
    ks = check_ks(k)
    metrics = check_names(metrics, "metrics", METRICS)
    head_share = _check_head_share(head_share)
    accuracy = [m for m in metrics if m in ACCURACY_METRICS]
    if accuracy:
        raise ValueError(f"evaluate_lists computes beyond-accuracy metrics only; {accuracy} need scores "
                         "(use advrec.evaluate)")
    if "ild" in metrics and item_features is None:
        raise ValueError("metric 'ild' (intra-list diversity) needs item_features=(n_items, D) array")
    tr_indptr, tr_indices = _interactions_csr(train, "train")
    te_indptr, te_indices = _interactions_csr(test, "test")
    if (train.n_users, train.n_items) != (test.n_users, test.n_items):
        raise ValueError("train and test must share users and items")
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"ids must be a 2-d array (users x K), got shape {ids.shape}")
    if ids.size and ids.dtype.kind not in "iu":
        raise TypeError(f"ids must hold integer item ids, got dtype {ids.dtype}")
    if users is None:
        users = np.arange(ids.shape[0], dtype=np.int32)
    users = np.asarray(users)
    if users.shape != (ids.shape[0],):
        raise ValueError(f"users must have one entry per row of ids ({ids.shape[0]}), got shape {users.shape}")
    features = None if item_features is None else np.asarray(item_features)
    lists = core.ListMetrics(tr_indptr, tr_indices, train.n_items, list(ks), list(metrics), head_share, features)
    per_user = lists.add_lists(np.ascontiguousarray(ids, dtype=np.int32), users, tr_indptr, tr_indices, te_indptr,
                               te_indices)
    aggregates = dict(zip(_list_names(ks, metrics, AGGREGATE_METRICS), lists.summary()))
    return EvaluationResult(_list_names(ks, metrics, LIST_METRICS), per_user, users.astype(np.int32),
                            "given lists", aggregates)


def evaluate(model, train, test, k: Union[int, Sequence[int]] = 10,
             metrics: Union[str, Iterable[str]] = ("hr", "ndcg"), protocol: Union[str, Sampled] = "full",
             users=None, num_threads=None, batch_size: int = 32768,
             show_progress: bool = False, head_share: float = 0.8, item_features=None,
             user_groups=None) -> EvaluationResult:
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
        Any of :data:`METRICS`: accuracy ``hr, ndcg, recall, precision, mrr, map, auc``; per-user
        list metrics ``epc, efd, arp, aplt, aclt, ild``; list-level ``coverage, gini, entropy,
        pop_reo, pop_rsp`` (these two groups need the full protocol).
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
    head_share : float in (0, 1)
        The short head is the most popular items holding this share of the training interactions
        (default 0.8: the 80/20 rule); every other item is the long tail (APLT, ACLT, PopREO, PopRSP).
    item_features : array (n_items, D), optional
        Item features for intra-list diversity (``ild``, cosine distance).
    user_groups : int or array of n_users labels, optional
        Report every per-user metric per group of users, with the gap between groups: an int q
        makes q groups by quantile of training activity (0 = least active); an array gives each
        user's group.

    Returns
    -------
    EvaluationResult
    """
    ks = check_ks(k)
    metrics = check_names(metrics, "metrics", METRICS)
    head_share = _check_head_share(head_share)
    names = _column_names(ks, metrics)
    list_metrics = [m for m in BEYOND_ACCURACY_METRICS if m in metrics]
    list_names = _list_names(ks, metrics, LIST_METRICS)
    aggregate_names = _list_names(ks, metrics, AGGREGATE_METRICS)
    if "ild" in metrics and item_features is None:
        raise ValueError("metric 'ild' (intra-list diversity) needs item_features=(n_items, D) array")
    if isinstance(protocol, str):
        if protocol != "full":
            raise ValueError(f"protocol must be 'full' or advrec.Sampled(...), got {protocol!r}")
    elif not isinstance(protocol, Sampled):
        raise TypeError(f"protocol must be 'full' or advrec.Sampled(...), got {type(protocol).__name__}")
    if isinstance(protocol, Sampled) and list_metrics:
        raise ValueError(f"metric(s) {list_metrics} describe the top-K lists users would be shown and need "
                         "protocol='full': under Sampled the list is chosen among a few random candidates, so its "
                         "coverage, novelty and popularity reflect the sampler, not the model. Accuracy metrics "
                         "and user_groups work with either protocol")
    scored = hasattr(model, "_score_block")  # not a dot product (NeuMF): the model scores blocks itself
    if scored and list_metrics:
        raise ValueError(f"metric(s) {list_metrics} are computed from the dot-product evaluator's top-K pass; "
                         f"{type(model).__name__} scores itself and supports the accuracy metrics only")
    if not hasattr(model, "_scoring_factors") and not scored:
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
    groups = _user_group_labels(user_groups, train, has_test, model.n_users)
    lists = None
    if list_metrics:
        features = None
        if item_features is not None:
            features = np.asarray(item_features)
            if features.ndim != 2 or features.shape[0] != model.n_items:
                raise ValueError(f"item_features must have shape (n_items={model.n_items}, D), got {features.shape}")
        lists = core.ListMetrics(tr_indptr, tr_indices, model.n_items, list(ks), list_metrics, head_share, features)
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

    accuracy = [m for m in metrics if m in ACCURACY_METRICS]
    values = np.empty((has_test.size, len(names) + len(list_names)), dtype=np.float64)
    if scored:
        # A block is (users x all items) scores: bound it to 2^24 floats (64 MB).
        batch_size = max(1, min(int(batch_size), (1 << 24) // max(1, model.n_items)))
    starts = range(0, has_test.size, int(batch_size))
    for start in tqdm(starts, desc="evaluate", disable=not show_progress, leave=False, unit="batch"):
        batch = has_test[start:start + int(batch_size)]
        rows = slice(start, start + batch.size)
        if scored:
            values[rows] = _evaluate_scored(
                model, batch, negatives[rows] if isinstance(protocol, Sampled) else None,
                (tr_indptr, tr_indices, te_indptr, te_indices), ks, accuracy, num_threads)
            continue
        U, V = check_factors(*model._scoring_factors(batch), what=describe(model))
        if isinstance(protocol, Sampled):
            values[rows] = core.evaluate_sampled(U, V, te_indptr, te_indices, batch, negatives[rows], list(ks),
                                                 accuracy, num_threads)
        elif lists is None:
            values[rows] = core.evaluate_full(U, V, tr_indptr, tr_indices, te_indptr, te_indices, batch, list(ks),
                                              accuracy, num_threads)
        else:
            out, per_user_lists = core.evaluate_full(U, V, tr_indptr, tr_indices, te_indptr, te_indices, batch,
                                                     list(ks), accuracy, num_threads, lists)
            values[rows, :len(names)] = out
            values[rows, len(names):] = per_user_lists
    aggregates = dict(zip(aggregate_names, lists.summary())) if lists is not None else None
    return EvaluationResult(names + list_names, values, has_test, description, aggregates, groups)


def _evaluate_scored(model, batch, negatives, csr, ks, metrics, num_threads):
    """One batch of users for a model that scores itself (``_score_block`` / ``_score_pairs``):
    same protocols, tie rule and metrics as the dot-product path."""
    tr_indptr, tr_indices, te_indptr, te_indices = csr
    if negatives is None:
        scores = model._score_block(batch, num_threads=num_threads)
        return core.evaluate_full_scores(scores, tr_indptr, tr_indices, te_indptr, te_indices, batch, list(ks),
                                         list(metrics), num_threads)
    counts = (te_indptr[batch + 1] - te_indptr[batch]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    test_items = np.concatenate([te_indices[te_indptr[u]:te_indptr[u + 1]] for u in batch]).astype(np.int32)
    test_scores = model._score_pairs(np.repeat(batch, counts), test_items, num_threads=num_threads)
    neg_scores = model._score_pairs(np.repeat(batch, negatives.shape[1]), negatives.ravel(),
                                    num_threads=num_threads).reshape(negatives.shape)
    return core.evaluate_sampled_scores(neg_scores, test_scores, offsets, list(ks), list(metrics), num_threads)
