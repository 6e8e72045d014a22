"""Target-item metrics: how far a poisoning attack pushed its targets, exactly, per real user.

For each target item ``t`` the audience is every real user who had not interacted with ``t`` in
the (poisoned) training data; for each of them ``t`` is ranked among all the items the user has not
interacted with, by the exact full-ranking evaluator (:func:`advrec.evaluate`, C++), with ties
broken pessimistically (an item scored equal to the target ranks ahead of it). Per target and user:

* ``hr@K``: 1 if the target is in the user's top K;
* ``ndcg@K``: ``1 / log2(rank + 1)`` if rank <= K, else 0 (one relevant item, ideal DCG 1);
* ``rank``: the 1-based rank (1 + the number of candidates scored >= the target), recovered exactly
  from the evaluator's AUC: with ``n`` candidates other than the target, ``AUC = (n - ahead) / n``;
* ``score``: the model's score for (user, target).

Per-user values average over the targets the user is eligible for; they are aligned with
``users`` so that :mod:`advrec.stats` paired tests apply to two results directly (same real users,
e.g. clean vs poisoned model).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Union

import numpy as np

from .._checks import as_int32_ids, check_ks, check_same_shape
from ..evaluation import evaluate
from ..interactions import Interactions
from .inject import as_interactions, check_targets

__all__ = ["TargetResult", "target_metrics", "score_shift"]


class _FixedFactors:
    """A model stand-in that returns precomputed user factors (encodes each user once, not once per
    target: SASRec's user vector is a forward pass)."""

    def __init__(self, model, users: np.ndarray):
        self.n_users, self.n_items = model.n_users, model.n_items
        U, V = model._scoring_factors(users)
        self._row = np.full(model.n_users, -1, dtype=np.int64)
        self._row[users] = np.arange(users.size)
        self._U = np.ascontiguousarray(U, dtype=np.float32)
        self._V = np.ascontiguousarray(V, dtype=np.float32)

    def _scoring_factors(self, users):
        return self._U[self._row[users]], self._V


class TargetResult:
    """What :func:`target_metrics` returns.

    Attributes
    ----------
    targets : numpy.ndarray
        The target items.
    users : numpy.ndarray
        Real users eligible for at least one target (sorted), aligned with ``per_user``.
    per_user : dict
        ``"hr@K"``, ``"ndcg@K"``, ``"rank"``, ``"score"`` -> float64 array over ``users`` (mean over
        the targets each user is eligible for).
    per_target : dict
        target item -> dict with ``users`` (its audience) and the same metric arrays for that target.
    summary : dict
        Mean of each per-user array.
    """

    def __init__(self, targets, users, per_user, per_target):
        self.targets = targets
        self.users = users
        self.per_user = per_user
        self.per_target = per_target
        self.summary = {name: float(v.mean()) if v.size else float("nan") for name, v in per_user.items()}

    def __getitem__(self, name: str) -> float:
        return self.summary[name]

    def target_summary(self):
        """A pandas DataFrame: one row per target, the mean of each metric over its audience."""
        import pandas as pd

        rows = []
        for t, d in self.per_target.items():
            rows.append({"target": int(t), "audience": int(d["users"].size),
                         **{k: float(v.mean()) if v.size else float("nan") for k, v in d.items() if k != "users"}})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v:.4f}" for k, v in self.summary.items())
        return f"TargetResult(targets={self.targets.tolist()}, users={self.users.size}, {body})"


def target_metrics(model, train, targets, k: Union[int, Sequence[int]] = 50, users=None,
                   num_threads: int = 0) -> TargetResult:
    """Exact target-item metrics of a fitted model.

    Parameters
    ----------
    model : advrec model
        Fitted on ``train`` (same users and items).
    train : advrec.Interactions
        The data the model was trained on (poisoned or clean); its pairs are never candidates, and a
        user who already holds a target is not in that target's audience.
    targets : int or sequence of int
        Target items.
    k : int or sequence of int
        Cut-offs for ``hr`` and ``ndcg``.
    users : array of int, optional
        The real users (default: every user of ``train``; pass ``np.arange(n_real)`` on poisoned
        data so that fake users are left out).
    num_threads : int
        0 = all cores.

    Returns
    -------
    TargetResult
    """
    train = as_interactions(train)
    if not hasattr(model, "_scoring_factors"):
        raise TypeError(f"model must be an advrec model, got {type(model).__name__}")
    if hasattr(model, "_check_fitted"):
        model._check_fitted()
    check_same_shape(model, train)
    targets = check_targets(targets, train.n_items)
    ks = check_ks(k)
    if users is None:
        users = np.arange(train.n_users, dtype=np.int32)
    else:
        users = np.unique(as_int32_ids(np.atleast_1d(users), "users", train.n_users))
    indptr, indices = train.csr_arrays()
    sizes = np.diff(indptr)[users]
    row_of = np.repeat(np.arange(train.n_users), np.diff(indptr))
    holds = np.zeros((users.size, targets.size), dtype=bool)
    for j, t in enumerate(targets):
        holds[:, j] = np.isin(users, row_of[indices == t])
    eligible_any = ~holds.all(axis=1)
    fixed = _FixedFactors(model, users[eligible_any]) if eligible_any.any() else None
    names = [f"{m}@{kk}" for kk in ks for m in ("hr", "ndcg")]
    per_target: Dict[int, Dict[str, np.ndarray]] = {}
    sums = {name: np.zeros(users.size) for name in names + ["rank", "score"]}
    counts = np.zeros(users.size)
    for j, t in enumerate(targets):
        aud_mask = ~holds[:, j]
        aud = users[aud_mask]
        if aud.size == 0:
            per_target[int(t)] = {"users": aud, **{n: np.zeros(0) for n in names + ["rank", "score"]}}
            continue
        test = Interactions._build(aud.copy(), np.full(aud.size, t, np.int32), None, None, train.n_users,
                                   train.n_items, train.user_ids, train.item_ids)
        res = evaluate(fixed, train, test, k=ks, metrics=("hr", "ndcg", "auc"), users=aud, num_threads=num_threads)
        n_other = (train.n_items - sizes[aud_mask] - 1).astype(np.float64)
        ahead = np.where(n_other > 0, np.rint(n_other * (1.0 - res.per_user["auc"])), 0.0)
        U, V = fixed._scoring_factors(aud)
        vals = {n: res.per_user[n] for n in names}
        vals["rank"] = 1.0 + ahead
        vals["score"] = (U.astype(np.float64) @ V[t].astype(np.float64))
        per_target[int(t)] = {"users": aud, **vals}
        for n, v in vals.items():
            sums[n][aud_mask] += v
        counts[aud_mask] += 1
    keep = counts > 0
    per_user = {n: s[keep] / counts[keep] for n, s in sums.items()}
    return TargetResult(targets, users[keep], per_user, per_target)


def score_shift(before: TargetResult, after: TargetResult) -> Dict[str, float]:
    """Mean change of the target scores and ranks from ``before`` to ``after`` over their common
    users (``score`` up and ``rank`` down mean the attack worked)."""
    common, ia, ib = np.intersect1d(before.users, after.users, return_indices=True)
    if common.size == 0:
        raise ValueError("the two results share no user")
    out = {"users": int(common.size)}
    for name in ("score", "rank"):
        out[f"{name}_shift"] = float((after.per_user[name][ib] - before.per_user[name][ia]).mean())
    return out
