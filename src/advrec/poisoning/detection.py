"""Fake-user detection, scored without leaking labels, and remove-and-retrain.

Protocol: a detector sees only the (poisoned) interactions - never the fake ids, the attack, the
targets or the number of fakes. It returns one suspicion score per user and flags users by a rule
fixed in advance (:func:`flag_outliers`: robust z-score above ``z``, median and MAD of the scores
of all users). The fake ids are used only afterwards, by :func:`detection_scores`, to count
precision, recall and F1. Nothing is tuned on the labels: the defaults below are the detectors'
and the rule's only settings.

Two detectors from the shilling-detection literature, in implicit-feedback versions:

* :func:`pca_scores` - PCA-based selection (Mehta & Nejdl, "Unsupervised strategies for shilling
  detection and robust collaborative filtering", UMUAI 2009, select users by their weight in the
  leading principal components). Implicit version: rows are a user's binary profile, centred by
  the item means and scaled to unit norm; the score is the share of the row *not* explained by the
  top ``n_components`` principal directions of all users (the PCA residual). Real users' profiles
  follow the shared, popularity-driven structure the leading components capture; filler drawn
  uniformly (random, bandwagon) does not.
* :func:`degsim_scores` - degree and similarity (Chirita, Nejdl, Zamfir, "Preventing shilling
  attacks in online recommender systems", WIDM 2005: DegSim, the mean similarity to the top-k
  neighbours, with RDMA, a profile's deviation from the items' average behaviour). Implicit
  version: DegSim is the mean cosine similarity of the binary profile to its ``k`` most similar
  other users (fake users made by one recipe resemble each other), and the degree deviation is how
  far the mean log-popularity of a user's items lies from the other users' (filler drawn without
  regard to popularity, or only from popular items, departs from it). The score is the sum of the
  two absolute robust z-scores: a deviation in either direction is suspicious (in explicit data
  shills are *more* similar to their neighbours than real users; implicit fakes with uniform filler
  are *less* similar to anyone).
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import scipy.sparse as sp

from .._checks import as_int32_ids
from .inject import as_interactions

__all__ = ["pca_scores", "degsim_scores", "flag_outliers", "detect", "detection_scores", "remove_users",
           "DETECTORS"]


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    mad = np.median(np.abs(x - med)) * 1.4826  # consistent with the standard deviation under normality
    if mad == 0:
        # more than half the users share one value (e.g. a residual of 0): fall back on the mean
        # absolute deviation, still anchored at the median (the standard deviation would be
        # inflated by the very outliers being looked for)
        mad = np.mean(np.abs(x - med)) * 1.2533
        if mad == 0:
            mad = 1.0
    return (x - med) / mad


def _binary(train) -> sp.csr_matrix:
    indptr, indices = train.csr_arrays()
    return sp.csr_matrix((np.ones(indices.size), indices, indptr), shape=(train.n_users, train.n_items))


def pca_scores(train, n_components: int = 10, seed: int = 0) -> np.ndarray:
    """PCA residual share of every user's binary profile (high = suspicious): ``1 - ||proj||^2 /
    ||r||^2`` with the projection on the top ``n_components`` right singular vectors of the
    user-item matrix. The matrix is not centred: its leading direction is popularity, the shared
    structure that real users follow and uniform filler does not."""
    from scipy.sparse.linalg import svds

    train = as_interactions(train)
    R = _binary(train)
    n_comp = int(min(n_components, min(R.shape) - 1))
    if n_comp < 1:
        raise ValueError("pca_scores needs at least 2 users and 2 items")
    rng = np.random.default_rng(seed)
    U, s, _ = svds(R, k=n_comp, v0=rng.standard_normal(min(R.shape)))
    explained = ((U * s) ** 2).sum(axis=1)
    norms2 = np.asarray(R.sum(axis=1)).ravel()
    return np.where(norms2 > 0, np.clip(1.0 - explained / np.maximum(norms2, 1e-12), 0.0, 1.0), 0.0)


def degsim_scores(train, k: int = 10, block: int = 2048) -> np.ndarray:
    """DegSim (mean cosine similarity to the ``k`` nearest users) plus the absolute deviation of
    the mean log item popularity, as robust z-scores (high = suspicious)."""
    train = as_interactions(train)
    R = _binary(train)
    n = R.shape[0]
    if n < 2:
        raise ValueError("degsim_scores needs at least 2 users")
    k = int(min(k, n - 1))
    norms = np.sqrt(np.asarray(R.sum(axis=1)).ravel())
    Rn = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ R
    RnT = Rn.T.tocsr()
    degsim = np.zeros(n)
    for start in range(0, n, block):
        S = (Rn[start:start + block] @ RnT).toarray()
        rows = np.arange(S.shape[0])
        S[rows, start + rows] = -np.inf  # not one's own neighbour
        top = np.partition(S, S.shape[1] - k, axis=1)[:, -k:]
        degsim[start:start + block] = top.mean(axis=1)
    pop = np.asarray(R.sum(axis=0)).ravel()
    logpop = np.log1p(pop)
    counts = np.asarray(R.sum(axis=1)).ravel()
    mean_logpop = np.where(counts > 0, (R @ logpop) / np.maximum(counts, 1), np.median(logpop))
    return np.abs(_robust_z(degsim)) + np.abs(_robust_z(mean_logpop))


DETECTORS = {"pca": pca_scores, "degsim": degsim_scores}


def flag_outliers(scores: np.ndarray, z: float = 3.0) -> np.ndarray:
    """Users whose robust z-score (median, MAD of all users' scores) exceeds ``z``, sorted."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.flatnonzero(_robust_z(scores) > float(z)).astype(np.int32)


def detect(train, detector: str = "pca", z: float = 3.0, **params) -> np.ndarray:
    """Flags suspected fake users of ``train`` with ``detector`` (``"pca"`` or ``"degsim"``) and the
    robust z-score rule. Sees no label."""
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; choose from {sorted(DETECTORS)}")
    return flag_outliers(DETECTORS[detector](train, **params), z=z)


def detection_scores(flagged, fake_users) -> Dict[str, float]:
    """Precision, recall and F1 of ``flagged`` against the true ``fake_users``."""
    flagged = np.unique(np.asarray(flagged, dtype=np.int64))
    fake = np.unique(np.asarray(fake_users, dtype=np.int64))
    tp = int(np.isin(flagged, fake).sum())
    precision = tp / flagged.size if flagged.size else 0.0
    recall = tp / fake.size if fake.size else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "flagged": int(flagged.size), "true_positives": tp}


def remove_users(train, users) -> "object":
    """``train`` without the interactions of ``users`` (ids and the id space are kept, so models
    and metrics stay aligned; the removed users simply have no training data)."""
    train = as_interactions(train)
    drop = np.zeros(train.n_users, dtype=bool)
    drop[as_int32_ids(np.atleast_1d(users), "users", train.n_users)] = True
    keep = ~drop[train.users]
    if not keep.any():
        raise ValueError("removing these users leaves no interaction")
    return train._subset(np.flatnonzero(keep))
