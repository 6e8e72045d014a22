"""Synthetic implicit feedback with a planted low-rank structure: the embedded default dataset.

Generative model (all draws from one stream derived from ``seed``, independent of the streams the
same seed gives a model, a split or an attack):

* user factors ``P`` (n_users x f) and item factors ``Q`` (n_items x f), standard normal;
* item popularity ``b_i = -popularity * log(rank_i)`` for a random permutation of ranks (Zipf-like);
* preference logits ``s_ui = affinity * P_u . Q_i / sqrt(f) + b_i``;
* user ``u`` interacts with ``n_u`` distinct items drawn without replacement with probability
  proportional to ``exp(s_ui)`` (Gumbel top-k), ``n_u`` log-normal around ``density * n_items``;
* timestamps: each user starts at a random time and consumes items at exponential gaps, in the order
  of a noisy 1-d projection of the item factors (an "era" along which tastes drift), so the next
  item is predictable from the previous ones (a signal for sequential models);
* item content features ``F = Q W / sqrt(f) + feature_noise * noise``: linear in the item factors, so
  content predicts preferences (a signal for VBPR/AMR), with the noise making it imperfect.

So a model that learns ``P`` and ``Q`` beats popularity ranking, and content features help.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple, Union

import numpy as np

from .. import _seeds
from ..interactions import Interactions

__all__ = ["synthetic"]

_T0 = 1_500_000_000  # 2017-07-14, unix seconds: plausible timestamps
_DAY = 86_400


def _int_arg(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _float_arg(value, name, lo, hi=None, lo_open=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or (value <= lo if lo_open else value < lo) or (hi is not None and value > hi):
        rng = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi if hi is not None else 'inf'})"
        raise ValueError(f"{name} must be in {rng}, got {value}")
    return value


def synthetic(n_users: int = 2000, n_items: int = 1000, n_factors: int = 8, density: float = 0.05,
              n_features: int = 32, timestamps: bool = True, popularity: float = 0.8, affinity: float = 2.5,
              feature_noise: float = 0.5, min_user_interactions: int = 3, seed: int = 0,
              return_factors: bool = False) -> Union[Interactions, Tuple[Interactions, Dict[str, Any]]]:
    """Generates a synthetic implicit-feedback dataset with planted latent factors.

    Parameters
    ----------
    n_users, n_items : int
        Size of the id spaces (every id in ``0..n-1``; an item may have no interaction).
    n_factors : int, default 8
        Rank of the planted preference structure.
    density : float in (0, 1], default 0.05
        Target fraction of the users x items matrix that is filled (about ``density * n_users *
        n_items`` interactions; 100,000 with the defaults).
    n_features : int, default 32
        Number of item content features (``item_features``); 0 for none.
    timestamps : bool, default True
        Generate int64 unix-second timestamps (otherwise rows are still in per-user chronological
        order, which :meth:`Interactions.sequences` then uses).
    popularity : float, default 0.8
        Zipf exponent of the item popularity skew (0: no skew).
    affinity : float, default 2.5
        Strength of the personal preference signal relative to the sampling noise.
    feature_noise : float, default 0.5
        Standard deviation of the noise added to the content features (signal has unit scale).
    min_user_interactions : int, default 3
        Every user gets at least this many interactions.
    seed : int, default 0
        Same seed, same data.
    return_factors : bool, default False
        Also return the planted parameters.

    Returns
    -------
    data : Interactions
        Dense ids (``user_ids = arange(n_users)``), rows grouped by user in chronological order.
    truth : dict, only with ``return_factors=True``
        ``user_factors``, ``item_factors``, ``item_bias`` (the ``b_i``), ``feature_weights`` (W);
        the planted logits are ``affinity * user_factors @ item_factors.T / sqrt(f) + item_bias``.
    """
    n_users = _int_arg(n_users, "n_users", 1)
    n_items = _int_arg(n_items, "n_items", 2)
    f = _int_arg(n_factors, "n_factors", 1)
    density = _float_arg(density, "density", 0.0, 1.0, lo_open=True)
    n_features = _int_arg(n_features, "n_features", 0)
    popularity = _float_arg(popularity, "popularity", 0.0)
    affinity = _float_arg(affinity, "affinity", 0.0)
    feature_noise = _float_arg(feature_noise, "feature_noise", 0.0)
    min_u = _int_arg(min_user_interactions, "min_user_interactions", 1)
    seed = _int_arg(seed, "seed", 0)
    if min_u > n_items:
        raise ValueError(f"min_user_interactions={min_u} exceeds n_items={n_items}")

    rng = _seeds.rng(seed, "data")
    P = rng.standard_normal((n_users, f)).astype(np.float32)
    Q = rng.standard_normal((n_items, f)).astype(np.float32)
    ranks = rng.permutation(n_items) + 1
    bias = (-popularity * np.log(ranks)).astype(np.float32)

    # interactions per user: log-normal around the target mean, clipped to a feasible range
    raw = rng.lognormal(0.0, 0.6, n_users)
    counts = np.rint(raw / raw.mean() * density * n_items).astype(np.int64)
    counts = np.clip(counts, min_u, n_items)

    scale = np.float32(affinity / np.sqrt(f))
    chunk = max(1, 4_000_000 // n_items)  # bounds the dense logits block to ~16 MB
    users_parts, items_parts = [], []
    for lo in range(0, n_users, chunk):
        hi = min(n_users, lo + chunk)
        logits = (P[lo:hi] @ Q.T) * scale + bias
        # Gumbel top-k = sampling without replacement proportionally to exp(logits)
        # (a Gumbel variable is -log of a standard exponential one)
        expo = np.maximum(rng.standard_exponential(logits.shape, dtype=np.float32), np.float32(1e-30))
        logits -= np.log(expo)
        c = counts[lo:hi]
        # keep each row's c_u largest: threshold at the c_u-th largest value (a value sort is far
        # cheaper than an argsort); exact float ties could keep an extra item, counted below
        kmax = int(c.max())
        neg = -logits
        if kmax < n_items // 4:  # only the kmax largest matter: partition, then sort those
            neg = np.partition(neg, kmax - 1, axis=1)[:, :kmax]
        thresholds = -np.sort(neg, axis=1)[np.arange(hi - lo), c - 1]
        rows, cols = np.nonzero(logits >= thresholds[:, None])
        users_parts.append(rows.astype(np.int64) + lo)
        items_parts.append(cols)
    users = np.concatenate(users_parts)
    items = np.concatenate(items_parts).astype(np.int64)
    counts = np.bincount(users, minlength=n_users)

    # chronological order within each user along a noisy "era" of the items
    direction = rng.standard_normal(f)
    direction /= np.linalg.norm(direction)
    era = Q @ direction.astype(np.float32)
    key = era[items] + rng.standard_normal(items.size).astype(np.float32)
    order = np.lexsort((key, users))
    users, items = users[order], items[order]
    ts = None
    if timestamps:
        start = _T0 + rng.integers(0, 2 * 365 * _DAY, n_users)
        gaps = rng.exponential(_DAY, items.size).astype(np.int64) + 1
        cum = np.cumsum(gaps)
        first = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=first[1:])
        base = np.concatenate(([0], cum))[first[:-1]]  # cumulative gap before each user's first row
        ts = start[users] + cum - np.repeat(base, counts)

    feats = None
    W = None
    if n_features:
        W = rng.standard_normal((f, n_features)).astype(np.float32)
        feats = (Q @ W) / np.float32(np.sqrt(f))
        feats += np.float32(feature_noise) * rng.standard_normal(feats.shape).astype(np.float32)

    data = Interactions.from_arrays(users, items, timestamps=ts, n_users=n_users, n_items=n_items,
                                    dense_ids=True, item_features=feats)
    if return_factors:
        truth = {"user_factors": P, "item_factors": Q, "item_bias": bias, "feature_weights": W,
                 "affinity": affinity}
        return data, truth
    return data
