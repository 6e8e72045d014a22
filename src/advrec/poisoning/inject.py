"""Profile-injection (shilling) attacks for implicit feedback: fake users appended to the data.

Threat model (the tutorial, ``papers/003_…``, "hand-crafted shilling attacks"): an attacker adds a
small number of fake users, each with at most ``profile_size`` interactions, to the training data
so that the recommender trained on it pushes the *target items* to real users. A fake profile is
made of the targets, *selected* items (chosen for their relation to the data: popular items, the
target's segment) and *filler* items (the rest); the classic attacks differ by how those are picked
(Gunes et al., "Shilling attacks against recommender systems: a comprehensive survey", AI Review
2014). The classic definitions use ratings (targets at the maximum rating, filler at the item's mean
or a random rating); with implicit feedback an interaction carries no value, so each attack is
reduced to *which items* its profile contains, and each docstring says so.

Invariants of :func:`inject` (tested):

* the real users keep their ids and their rows (the returned data's first ``len(train)`` rows are
  the input's rows, in order); fake users get the ids ``n_users .. n_users + n_fake - 1``;
* every fake profile has exactly ``profile_size`` distinct items and contains every target;
* the same arguments and seed give the same data.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

import zlib

import numpy as np

from .._checks import check_interactions, check_seed
from ..interactions import Interactions

__all__ = ["inject", "ATTACKS", "check_targets", "fake_count", "as_interactions"]


# ---- argument checks ---------------------------------------------------------------------------
def as_interactions(train, name: str = "train") -> Interactions:
    check_interactions(train, name)
    return train


def check_targets(targets, n_items: int) -> np.ndarray:
    """Target items as a sorted, duplicate-free int32 array; raises on ids outside [0, n_items)."""
    arr = np.atleast_1d(np.asarray(targets))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("targets must be one item id or a non-empty 1-d sequence of item ids")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iu":
        raise TypeError(f"targets must be integer item ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n_items)]
    if bad.size:
        raise ValueError(f"targets contains item id {int(bad[0])}, outside [0, n_items={n_items})")
    if np.unique(arr).size != arr.size:
        raise ValueError("targets contains the same item more than once")
    return np.sort(arr).astype(np.int32)


def fake_count(n_fake, n_real: int) -> int:
    """``n_fake`` as a number of fake users: an int >= 1 is a count, a float in (0, 1] a fraction of
    the real users (rounded, at least one)."""
    if isinstance(n_fake, (bool, np.bool_)):
        raise TypeError("n_fake must be a count (int) or a fraction of the real users (float), got a bool")
    if isinstance(n_fake, (int, np.integer)):
        if n_fake < 1:
            raise ValueError(f"n_fake must be >= 1 when given as a count, got {n_fake}")
        return int(n_fake)
    if isinstance(n_fake, (float, np.floating)):
        if not np.isfinite(n_fake) or not 0.0 < n_fake <= 1.0:
            raise ValueError(f"n_fake as a fraction of the real users must be in (0, 1], got {n_fake}")
        return max(1, int(round(float(n_fake) * n_real)))
    raise TypeError(f"n_fake must be an int (count) or a float (fraction), got {type(n_fake).__name__}")


def _profile_size(profile_size, train: Interactions, n_targets: int) -> int:
    if profile_size is None:
        # The median real profile: a fake user as long as a typical user is the usual choice and
        # makes the attack hard to spot by length alone.
        counts = train.user_counts()
        profile_size = int(np.median(counts[counts > 0])) if np.any(counts > 0) else n_targets
        profile_size = min(max(profile_size, n_targets), train.n_items)
    if isinstance(profile_size, (bool, np.bool_)) or not isinstance(profile_size, (int, np.integer)):
        raise TypeError(f"profile_size must be an integer, got {type(profile_size).__name__}")
    if profile_size > train.n_items:
        raise ValueError(f"profile_size ({profile_size}) is larger than the number of items ({train.n_items})")
    if profile_size < n_targets:
        raise ValueError(f"profile_size ({profile_size}) must be at least the number of targets ({n_targets}): "
                         "every fake profile contains every target")
    return int(profile_size)


# ---- sampling helpers ----------------------------------------------------------------------------
def _top_keys(keys: np.ndarray, m: int) -> np.ndarray:
    """Columns of the ``m`` largest keys of every row (order within a row unspecified)."""
    if m == 0:
        return np.zeros((keys.shape[0], 0), dtype=np.int64)
    return np.argpartition(-keys, m - 1, axis=1)[:, :m]


def _draw(rng: np.random.Generator, n_rows: int, m: int, weights: np.ndarray, forbidden: np.ndarray) -> np.ndarray:
    """``m`` distinct items per row drawn without replacement with probability proportional to
    ``weights`` (successive draws), never a ``forbidden`` item: Gumbel-top-m keys
    ``log w + Gumbel`` (Vieira's trick; equal in law to sequential weighted sampling)."""
    n_items = weights.size
    with np.errstate(divide="ignore"):
        logw = np.log(weights.astype(np.float64))
    logw = np.broadcast_to(logw, (n_rows, n_items)).copy()
    logw[:, forbidden] = -np.inf
    available = int(np.isfinite(logw[0]).sum())
    if available < m:
        raise ValueError(f"only {available} items can fill the profile but {m} are needed; "
                         "lower profile_size")
    keys = logw + rng.gumbel(size=(n_rows, n_items))
    return _top_keys(keys, m)


def _popularity(train: Interactions) -> np.ndarray:
    return train.item_counts().astype(np.float64)


# ---- the attacks ------------------------------------------------------------------------------
# Each returns an (n_fake, profile_size - n_targets) int array of non-target items, distinct per row.
def _random(train, targets, n_fake, m, rng):
    """Random attack (Lam & Riedl, WWW 2004): filler drawn uniformly from every non-target item.
    Implicit version: the filler's ratings (drawn around the global mean in the original) are
    dropped; the profile is the uniform filler plus the targets."""
    return _draw(rng, n_fake, m, np.ones(train.n_items), targets)


def _popular(train, targets, n_fake, m, rng):
    """Popular / average attack, implicit version. The average attack (Lam & Riedl, WWW 2004) rates
    filler items at each item's mean rating, using item-level statistics of the data; without
    ratings the item-level statistic left is popularity, so the filler is drawn without replacement
    with probability proportional to the item's number of interactions (items nobody interacted
    with are never drawn). The fake users then resemble the typical, popularity-driven user."""
    return _draw(rng, n_fake, m, _popularity(train), targets)


def _bandwagon(train, targets, n_fake, m, rng, n_selected: Optional[int] = None):
    """Bandwagon attack (Burke, Mobasher, Bhaumik, "Limited knowledge shilling attacks in
    collaborative filtering systems", 2005): the selected items are the ``n_selected`` most popular
    items (default: a tenth of the filler, at least one), the rest of the filler is uniform random.
    Implicit version: the selected items, rated at the maximum in the original, are simply
    interacted with."""
    n_sel = max(1, m // 10) if n_selected is None else int(n_selected)
    if n_sel < 0 or n_sel > m:
        raise ValueError(f"n_selected must be in [0, {m}] (the filler size), got {n_selected}")
    pop = _popularity(train)
    pop[targets] = -1.0
    order = np.argsort(-pop, kind="stable")  # ties: lower id first (deterministic)
    selected = order[:n_sel]
    forbidden = np.concatenate([targets, selected])
    filler = _draw(rng, n_fake, m - n_sel, np.ones(train.n_items), forbidden)
    return np.hstack([np.broadcast_to(selected, (n_fake, n_sel)), filler])


def _segment_items(train: Interactions, targets: np.ndarray) -> np.ndarray:
    """Non-target items ordered by co-consumption with the targets: the number of users who hold a
    target and the item (ties: more popular first, then lower id)."""
    indptr, indices = train.csr_arrays()
    holds = np.zeros(train.n_users, dtype=bool)
    is_target = np.zeros(train.n_items, dtype=bool)
    is_target[targets] = True
    row_of = np.repeat(np.arange(train.n_users), np.diff(indptr))
    holds[row_of[is_target[indices]]] = True
    co = np.bincount(indices[holds[row_of]], minlength=train.n_items).astype(np.float64)
    pop = _popularity(train)
    key = co * (pop.max() + 1.0) + pop
    key[targets] = -1.0
    return np.argsort(-key, kind="stable")


def _segment(train, targets, n_fake, m, rng, n_selected: Optional[int] = None):
    """Segment attack (Burke, Mobasher, Williams, Bhaumik, "Segment-based injection attacks against
    collaborative filtering recommender systems", ICDM 2005): the selected items are the target's
    segment (items liked by the audience the attacker wants), the filler is random. Implicit
    version: the segment is the ``n_selected`` items (default: half the filler) most co-consumed
    with the targets by real users (then by popularity when few users hold a target), interacted
    with; the rest of the filler is uniform random. The original rates filler at the minimum; with
    implicit feedback the filler is kept, as plain interactions."""
    n_sel = max(1, m // 2) if n_selected is None else int(n_selected)
    if n_sel < 0 or n_sel > m:
        raise ValueError(f"n_selected must be in [0, {m}] (the filler size), got {n_selected}")
    selected = _segment_items(train, targets)[:n_sel]
    forbidden = np.concatenate([targets, selected])
    filler = _draw(rng, n_fake, m - n_sel, np.ones(train.n_items), forbidden)
    return np.hstack([np.broadcast_to(selected, (n_fake, n_sel)), filler])


def _sequential(train, targets, n_fake, m, rng):
    """Sequential popular-then-target attack for next-item models (SASRec): the filler is drawn by
    popularity (as :func:`_popular`) and the order of the fake sequence places every target right
    after a popular item, so the transitions "popular item -> target" are what the fake users teach
    (the heuristic baseline of Zhang et al., "Practical data poisoning attack against next-item
    recommendation", WWW 2020, who insert targets after popular items in fake sequences). The order
    is set by :func:`inject` (``order="after_popular"``): filler by increasing popularity, each
    target right after one of the most popular items, at the end of the sequence (within
    ``maxlen``, the recent window a sequence model trains on)."""
    return _draw(rng, n_fake, m, _popularity(train), targets)


#: attack name -> (filler function, how targets are ordered in the fake sequences)
ATTACKS: Dict[str, Tuple[Callable, str]] = {
    "random": (_random, "shuffle"),
    "popular": (_popular, "shuffle"),
    "average": (_popular, "shuffle"),  # the implicit version of the average attack is the popular one
    "bandwagon": (_bandwagon, "shuffle"),
    "segment": (_segment, "shuffle"),
    "sequential": (_sequential, "after_popular"),
}


def _order_profiles(filler: np.ndarray, targets: np.ndarray, how: str, pop: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Each row: the fake user's items in the order they are injected (oldest first)."""
    n_fake, m = filler.shape
    t = targets.size
    if how == "shuffle":
        rows = np.hstack([filler, np.broadcast_to(targets, (n_fake, t))])
        perm = np.argsort(rng.random(rows.shape), axis=1)
        return np.take_along_axis(rows, perm, axis=1)
    # after_popular: filler in increasing popularity, and the targets (a seeded random order per
    # fake) each inserted right after one of the most popular filler items, at the END of the
    # sequence: sequence models keep the most recent maxlen items, so the popular -> target
    # transitions must be recent to be trained on.
    filler = np.take_along_axis(filler, np.argsort(pop[filler], axis=1, kind="stable"), axis=1)
    out = np.empty((n_fake, m + t), dtype=np.int64)
    for f in range(n_fake):
        order = rng.permutation(targets)
        seq = []
        n_early = t - min(t, m)  # more targets than filler items: the remaining ones first
        seq.extend(order[:n_early])
        for j in range(m):
            seq.append(filler[f, j])
            slot = j - (m - (t - n_early))  # the last t - n_early filler items get a target each
            if slot >= 0:
                seq.append(order[n_early + slot])
        out[f] = seq
    return out


def append_profiles(train: Interactions, profiles: np.ndarray) -> Tuple[Interactions, np.ndarray]:
    """Appends one fake user per row of ``profiles`` (item ids in injection order) to ``train``.

    Real rows are kept as they are and first; fake rows follow, user after user. Timestamps, when the
    data has them, are after every real interaction and increase along each profile (so sequence
    models read the profile in its row order); weights, when present, are the data's maximum (a
    shill gives the best rating). Original ids of fakes continue the integer ids, or are
    ``"fake-<k>"`` for string ids.
    """
    profiles = np.asarray(profiles, dtype=np.int64)
    n_fake, size = profiles.shape
    n_real = train.n_users
    fake_users = np.arange(n_real, n_real + n_fake, dtype=np.int32)
    users = np.concatenate([train.users, np.repeat(fake_users, size)]).astype(np.int32)
    items = np.concatenate([train.items, profiles.ravel()]).astype(np.int32)
    ts = None
    if train.timestamps is not None:
        start = (int(train.timestamps.max()) if len(train) else 0) + 1
        ts = np.concatenate([train.timestamps, start + np.tile(np.arange(size, dtype=np.int64), n_fake)])
    w = None
    if train.weights is not None:
        w = np.concatenate([train.weights, np.full(n_fake * size, train.weights.max(), np.float32)])
    if train.user_ids.dtype.kind in "iu":
        base = int(train.user_ids.max()) + 1 if train.user_ids.size else 0
        new_ids = np.arange(base, base + n_fake, dtype=train.user_ids.dtype)
    else:
        new_ids = np.array([f"fake-{k}" for k in range(n_fake)])
        if train.user_ids.dtype == object:
            new_ids = new_ids.astype(object)
    user_ids = np.concatenate([train.user_ids, new_ids])
    poisoned = Interactions._build(np.ascontiguousarray(users), np.ascontiguousarray(items), ts, w,
                                   n_real + n_fake, train.n_items, user_ids, train.item_ids,
                                   item_features=train.item_features)
    return poisoned, fake_users


def inject(train, attack: str, targets, n_fake=0.01, profile_size: Optional[int] = None, seed: int = 0,
           **params) -> Tuple[Interactions, np.ndarray]:
    """Appends fake user profiles that promote ``targets`` to ``train``.

    Parameters
    ----------
    train : advrec.Interactions
        The clean training data (the real users).
    attack : str
        ``"random"``, ``"popular"`` (alias ``"average"``), ``"bandwagon"``, ``"segment"``,
        ``"sequential"`` (see each function's definition in :mod:`advrec.poisoning.inject`), or
        ``"pga"``, the optimised attack of :func:`advrec.poisoning.pga_profiles` (``params`` go to it).
    targets : int or sequence of int
        Target item ids (internal); every fake profile contains all of them.
    n_fake : int or float
        Number of fake users (int >= 1) or fraction of the real users (float in (0, 1]).
    profile_size : int, optional
        Items per fake profile, targets included (default: the median real profile length).
    seed : int
        Seeds every random choice; equal arguments give equal data.
    **params
        Attack parameters (``n_selected`` for bandwagon and segment; see :func:`pga_profiles`).

    Returns
    -------
    (poisoned, fake_users) : (advrec.Interactions, int32 array)
        The data with the fakes appended, and their user ids (``train.n_users`` onwards).
    """
    train = as_interactions(train)
    if not isinstance(attack, str):
        raise TypeError(f"attack must be a string, got {type(attack).__name__}")
    names = sorted(ATTACKS) + ["pga"]
    if attack not in names:
        raise ValueError(f"unknown attack {attack!r}; choose from {names}")
    targets = check_targets(targets, train.n_items)
    n = fake_count(n_fake, train.n_users)
    size = _profile_size(profile_size, train, targets.size)
    seed = check_seed(seed)
    # one stream per (seed, attack): two attacks with one seed do not share their random draws
    rng = np.random.default_rng([int(seed), zlib.crc32(attack.encode())])
    if attack == "pga":
        from .optimized import pga_profiles

        profiles = pga_profiles(train, targets, n, size, seed=int(seed), **params)
        profiles = _order_profiles(_without(profiles, targets), targets, "shuffle", _popularity(train), rng)
        return append_profiles(train, profiles)
    fn, how = ATTACKS[attack]
    import inspect

    accepted = [p for p in inspect.signature(fn).parameters if p not in ("train", "targets", "n_fake", "m", "rng")]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(f"attack {attack!r} got unknown parameter(s) {unknown}; it accepts {accepted}")
    filler = fn(train, targets, n, size - targets.size, rng, **params)
    profiles = _order_profiles(np.asarray(filler, dtype=np.int64), targets, how, _popularity(train), rng)
    return append_profiles(train, profiles)


def _without(profiles: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Rows of ``profiles`` without the target columns (every row holds every target once)."""
    keep = ~np.isin(profiles, targets)
    m = profiles.shape[1] - targets.size
    return profiles[keep].reshape(profiles.shape[0], m)
