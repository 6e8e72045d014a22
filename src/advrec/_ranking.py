"""Blocked top-K over dot-product scores: the one ranking primitive that models (``recommend``) and
evaluation share. It imports neither, so ``models`` and ``evaluation`` do not import each other."""

from __future__ import annotations

from typing import Tuple

import numpy as np

from ._checks import check_k, check_num_threads
from ._engine import core


class NonFiniteScoresError(ValueError):
    """The model's scores are not finite float32 numbers (NaN/infinite factors, or dot products that
    overflow float32), so no ranking or metric can be computed from them."""


#: Scores are float32 sums of products. If sum_d |u_d| |v_d| <= _SCORE_BOUND, every partial sum of
#: u . v in any order is below it too (triangle inequality), so nothing can overflow in the kernel
#: whatever its blocking; FLT_MAX is 3.4e38 and the margin absorbs rounding.
_SCORE_BOUND = 1e38


def check_factors(U: np.ndarray, V: np.ndarray, what: str = "the model") -> Tuple[np.ndarray, np.ndarray]:
    """``(U, V)`` as C-contiguous float32 of equal widths whose scores ``U @ V.T`` are all finite.

    Raises :class:`NonFiniteScoresError` otherwise: a kernel fed with infinite scores would rank
    arbitrarily (an all-``+inf`` model once got HR@10 = 1.0), so no metric is ever computed from them.
    """
    U = np.ascontiguousarray(U, dtype=np.float32)
    V = np.ascontiguousarray(V, dtype=np.float32)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError(f"factors must be 2-d with equal widths, got {U.shape} and {V.shape}")
    # One float32 pass per matrix serves both checks (this runs before every evaluation call, and
    # its serial time limits how well evaluation scales with threads): a NaN or infinite entry
    # makes its row's squared norm non-finite; a non-finite squared norm of finite entries is an
    # overflow, which the range check handles exactly.
    nu2, nv2 = _squared_norms(U), _squared_norms(V)
    if not (np.isfinite(nu2).all() and np.isfinite(nv2).all()) and not (np.isfinite(U).all() and
                                                                        np.isfinite(V).all()):
        raise NonFiniteScoresError(f"the factors of {what} contain NaN or infinite values: a diverged training "
                                   "run (try a lower lr) or a degenerate attack budget")
    _check_score_range(U, V, what, nu2, nv2)
    return U, V


def _squared_norms(X: np.ndarray) -> np.ndarray:
    """Row sums of squares of a float32 matrix, in float32 (relative error below 2^-24 per term:
    at most about 1e-5 for any width up to a few hundred)."""
    return np.einsum("ij,ij->i", X, X)


def _check_score_range(U: np.ndarray, V: np.ndarray, what: str, nu2=None, nv2=None) -> None:
    """Raises NonFiniteScoresError when some score of ``U @ V.T`` could overflow float32.

    Cheap sound test first (Cauchy-Schwarz: sum_d |u_d||v_d| <= ||u|| ||v||, from float32 squared
    norms with a relative margin far above their rounding error); only when the largest norms allow
    an overflow (or the squared norms themselves overflowed) are the bounds computed pair by pair
    (float64, blockwise)."""
    if U.size == 0 or V.size == 0:
        return
    nu2 = _squared_norms(U) if nu2 is None else nu2
    nv2 = _squared_norms(V) if nv2 is None else nv2
    top_u, top_v = float(nu2.max()), float(nv2.max())
    if np.isfinite(top_u) and np.isfinite(top_v) and np.sqrt(top_u * top_v) * (1.0 + 1e-3) <= _SCORE_BOUND:
        return
    Va = np.abs(V).astype(np.float64).T
    rows = max(1, 4_000_000 // max(1, V.shape[0]))
    worst = 0.0
    for lo in range(0, U.shape[0], rows):
        worst = max(worst, float((np.abs(U[lo:lo + rows]).astype(np.float64) @ Va).max()))
    if worst > _SCORE_BOUND:
        raise NonFiniteScoresError(
            f"the scores of {what} overflow float32 (|scores| reach {worst:.3g}, the limit is about 3.4e38): "
            "no ranking or metric can be computed from them. Factors this large come from a degenerate "
            "attack budget (eps far beyond the embedding norms) or a diverged training run.")


def describe(model) -> str:
    """How error messages name ``model`` (with the attack that produced it, if any)."""
    info = getattr(model, "attack_", None)
    name = type(model).__name__
    if isinstance(info, dict) and "eps" in info:
        return f"this {name} under attack {info.get('attack')!r} at eps={info['eps']:g}"
    return f"this {name}"


def top_k(U, V, k: int, exclude=None, num_threads=None, *, what: str = "the model"
          ) -> Tuple[np.ndarray, np.ndarray]:
    """Top-``k`` items of ``U @ V.T`` per row, computed blockwise without forming the matrix.

    Parameters
    ----------
    U, V : array (n, D), (n_items, D)
        Factors; converted to float32.
    k : int
        Items per row; capped at the number of items (``V.shape[0]``), so the output never holds
        more columns than there are items.
    exclude : tuple (indptr, indices, rows), optional
        A CSR user-item matrix and, for each row of ``U``, the CSR row whose items are excluded.
    num_threads : int, optional
        0 or None = all cores.

    Returns
    -------
    (ids, scores) : int32 and float32 arrays of shape (n, min(k, n_items)), best first; ties go to
        the lower id. Rows with fewer candidates are padded with id -1 and score -inf.

    Raises
    ------
    NonFiniteScoresError
        If some score is NaN or overflows float32 (no ranking is computed from such scores).
    """
    k = check_k(k)
    num_threads = check_num_threads(num_threads)
    U, V = check_factors(U, V, what)
    k = max(1, min(int(k), V.shape[0]))  # bound the output before allocating it
    if exclude is None:
        return core.top_k(U, V, k, num_threads=num_threads)
    indptr, indices, rows = exclude
    core.validate_csr(indptr, indices, int(V.shape[0]), "exclude")  # once per call, not in the engine call
    return core.top_k(U, V, k, indptr, indices, rows, num_threads=num_threads)
