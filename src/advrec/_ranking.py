"""Blocked top-K over dot-product scores: the one ranking primitive that models (``recommend``) and
evaluation share. It imports neither, so ``models`` and ``evaluation`` do not import each other."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ._checks import check_k, check_num_threads
from ._engine import core


def check_factors(U: np.ndarray, V: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(U, V)`` as C-contiguous float32 of equal widths, finite."""
    U = np.ascontiguousarray(U, dtype=np.float32)
    V = np.ascontiguousarray(V, dtype=np.float32)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError(f"factors must be 2-d with equal widths, got {U.shape} and {V.shape}")
    if not (np.isfinite(U).all() and np.isfinite(V).all()):
        raise ValueError("the model's factors contain NaN or infinite values (training diverged? try a lower lr)")
    return U, V


def top_k(U, V, k: int, exclude=None, num_threads=None) -> Tuple[np.ndarray, np.ndarray]:
    """Top-``k`` items of ``U @ V.T`` per row, computed blockwise without forming the matrix.

    Parameters
    ----------
    U, V : array (n, D), (n_items, D)
        Factors; converted to float32.
    k : int
        Items per row.
    exclude : tuple (indptr, indices, rows), optional
        A CSR user-item matrix and, for each row of ``U``, the CSR row whose items are excluded.
    num_threads : int, optional
        0 or None = all cores.

    Returns
    -------
    (ids, scores) : int32 and float32 arrays of shape (n, k), best first; ties go to the lower id.
        Rows with fewer than ``k`` candidates are padded with id -1 and score -inf.
    """
    k = check_k(k)
    num_threads = check_num_threads(num_threads)
    U, V = check_factors(U, V)
    if exclude is None:
        return core.top_k(U, V, int(k), num_threads=num_threads)
    indptr, indices, rows = exclude
    core.validate_csr(indptr, indices, int(V.shape[0]), "exclude")  # once per call, not in the engine call
    return core.top_k(U, V, int(k), indptr, indices, rows, num_threads=num_threads)
