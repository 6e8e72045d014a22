"""User-item interaction data: the input of every model and split in advrec.

An :class:`Interactions` object holds one row per (user, item) interaction with dense internal ids
(``0 .. n_users-1`` and ``0 .. n_items-1``, int32), optional int64 timestamps and float32 weights,
and the original ids so that results can be mapped back. It is immutable in practice: its arrays
are read-only and every transformation (filtering, splitting) returns a new object.

Invariants (established by the constructors, relied upon by the engine):

* no duplicate (user, item) pair by default: duplicates are merged on construction, keeping the
  earliest interaction by time (ties and missing timestamps: the first in input order), as in the
  APR paper; the number merged is in :attr:`Interactions.n_duplicates_merged`. With
  ``keep_repeats=True`` every event is kept instead (repeat consumption, for sequential models):
  the rows, :meth:`Interactions.sequences` and the splits see every event, while the CSR view
  (:meth:`Interactions.csr_arrays`, the training-set *membership* used for negatives and for
  excluding seen items) stays a set;
* the rows keep the input order of the interactions that survived; "chronological order" means
  ordering by timestamp, ties (and data without timestamps) keeping that input order;
* ``user_ids[k]`` is the original id of internal user ``k`` (same for items), so two objects produced
  by a split share ``n_users``, ``n_items``, ``user_ids`` and ``item_ids``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Dict, Optional, Tuple

import numpy as np
import scipy.sparse as sp

__all__ = ["Interactions"]

_log = logging.getLogger(__name__)

_INT32_MAX = np.iinfo(np.int32).max


# ---------------------------------------------------------------------------------------------
# argument checking helpers
# ---------------------------------------------------------------------------------------------
def _readonly(arr: Optional[np.ndarray]) -> Optional[np.ndarray]:
    if arr is not None:
        arr.flags.writeable = False
    return arr


def _as_1d(values: Any, name: str) -> np.ndarray:
    if values is None:
        raise TypeError(f"{name} must be an array of ids, got None")
    if sp.issparse(values):
        raise TypeError(f"{name} must be a 1-d array, got a scipy.sparse matrix of shape {values.shape}; "
                        "build interactions from a users x items matrix with Interactions.from_csr(matrix)")
    if type(values).__name__ == "DataFrame":
        raise TypeError(f"{name} must be a 1-d array, got a DataFrame; use Interactions.from_pandas(df, ...)")
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _integral_ids(arr: np.ndarray, name: str) -> np.ndarray:
    """Checks that ``arr`` holds non-negative integer ids; returns them as int64."""
    kind = arr.dtype.kind
    if kind == "b":
        raise TypeError(f"{name} must hold integer ids, got booleans")
    if kind == "f":
        if not np.all(np.isfinite(arr)):
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ValueError(f"{name} contains a missing or non-finite id (NaN/inf) at position {bad}")
        if not np.all(arr == np.floor(arr)):
            bad = int(np.flatnonzero(arr != np.floor(arr))[0])
            raise ValueError(f"{name} contains a non-integer id {arr[bad]!r} at position {bad}")
        if arr.size and np.abs(arr).max() >= 2.0 ** 53:
            raise ValueError(f"{name} contains ids too large to be represented exactly as floats")
        arr = arr.astype(np.int64)
    elif kind in "iu":
        if kind == "u" and arr.dtype.itemsize == 8 and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name} contains ids larger than 2**63-1")
        arr = arr.astype(np.int64, copy=False)
    else:
        raise TypeError(f"{name} must hold integer ids, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        bad = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{name} contains a negative id {arr[bad]} at position {bad}")
    return arr


def _raw_ids(values: Any, name: str) -> np.ndarray:
    """Validates original ids: non-negative integers (any integer/float dtype) or strings."""
    arr = _as_1d(values, name)
    kind = arr.dtype.kind
    if kind in "US":
        return arr
    if kind == "O":
        # object arrays come from pandas (strings, or ints mixed with missing values)
        missing = np.fromiter((v is None or (isinstance(v, float) and v != v) for v in arr), bool, arr.size)
        if missing.any():
            raise ValueError(f"{name} contains a missing id (None/NaN) at position {int(np.flatnonzero(missing)[0])}")
        if all(isinstance(v, str) for v in arr):
            return arr.astype(str)
        try:
            numeric = np.asarray(arr.tolist())
        except Exception as exc:  # pragma: no cover - exotic objects
            raise TypeError(f"{name} must hold integer or string ids") from exc
        if numeric.dtype.kind not in "iuf" or numeric.ndim != 1:
            raise TypeError(f"{name} must hold integer or string ids, got mixed objects")
        arr = numeric
    return _integral_ids(arr, name)


def _densify(ids: np.ndarray, name: str) -> Tuple[np.ndarray, np.ndarray]:
    """Maps original ids to 0..n-1 in sorted order. Returns (unique sorted ids, dense int32 ids)."""
    if ids.dtype.kind == "i" and ids.size:
        top = int(ids.max())
        # O(n) presence table instead of a sort when the id range is not much larger than the data
        if top < 8 * ids.size + 1_000_000:
            present = np.zeros(top + 1, dtype=bool)
            present[ids] = True
            uniq = np.flatnonzero(present).astype(np.int64)
            lookup = np.cumsum(present, dtype=np.int64) - 1
            dense = lookup[ids]
            return uniq, dense.astype(np.int32)
    uniq, dense = np.unique(ids, return_inverse=True)
    if uniq.size > _INT32_MAX:
        raise ValueError(f"{name} has more than 2**31-1 distinct ids")
    return uniq, dense.astype(np.int32).reshape(-1)


def _timestamps(values: Any, n: int) -> Optional[np.ndarray]:
    if values is None:
        return None
    arr = _as_1d(values, "timestamps")
    if arr.shape[0] != n:
        raise ValueError(f"timestamps has length {arr.shape[0]}, but users/items have length {n}")
    kind = arr.dtype.kind
    if kind == "M":  # datetime64 -> seconds since the epoch
        if np.isnat(arr).any():
            raise ValueError(f"timestamps contains a missing value (NaT) at position {int(np.flatnonzero(np.isnat(arr))[0])}")
        return arr.astype("datetime64[s]").astype(np.int64)
    if kind == "b":
        raise TypeError("timestamps must be integers (e.g. unix seconds), got booleans")
    if kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"timestamps contains NaN/inf at position {int(np.flatnonzero(~np.isfinite(arr))[0])}")
        if not np.all(arr == np.floor(arr)):
            raise ValueError("timestamps must be integral (e.g. unix seconds); round them first")
        return arr.astype(np.int64)
    if kind in "iu":
        return arr.astype(np.int64)
    raise TypeError(f"timestamps must be integers or datetime64, got dtype {arr.dtype}")


def _max_dense_space(n_rows: int) -> int:
    """Largest id space ``dense_ids=True`` accepts for ``n_rows`` interactions."""
    return max(1 << 24, 64 * n_rows)


def _check_weight_values(arr: np.ndarray, name: str = "weights") -> None:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN/inf at position {int(np.flatnonzero(~np.isfinite(arr))[0])}")
    if arr.size and arr.min() < 0:
        bad = int(np.flatnonzero(arr < 0)[0])
        raise ValueError(f"{name} contains a negative value {arr[bad]} at position {bad}: weights are interaction "
                         "strengths and must be >= 0 (drop or shift negative feedback first)")


def _weights(values: Any, n: int) -> Optional[np.ndarray]:
    if values is None:
        return None
    arr = _as_1d(values, "weights")
    if arr.shape[0] != n:
        raise ValueError(f"weights has length {arr.shape[0]}, but users/items have length {n}")
    if arr.dtype.kind not in "iuf" and arr.dtype.kind != "b":
        raise TypeError(f"weights must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float32)
    _check_weight_values(arr)
    return arr


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if value > _INT32_MAX:
        raise ValueError(f"{name} must be below 2**31, got {value}")
    return value


def _item_features(values: Any, n_items: int) -> Optional[np.ndarray]:
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[0] != n_items:
        raise ValueError(f"item_features must have shape (n_items={n_items}, D), got {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"item_features must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError("item_features contains NaN/inf")
    if arr.flags.writeable and arr is values:
        arr = arr.copy()
    return _readonly(arr)


# ---------------------------------------------------------------------------------------------
class Interactions:
    """Implicit-feedback interactions with dense internal ids.

    Do not call the constructor directly: use :meth:`from_arrays`, :meth:`from_pandas`,
    :meth:`from_csr`, a loader of :mod:`advrec.datasets`, or a split of :mod:`advrec.split`.

    Attributes
    ----------
    n_users, n_items : int
        Size of the id spaces (internal ids are ``0 .. n-1``). May exceed the number of users/items
        that actually have interactions (e.g. the test part of a split shares the id space).
    users, items : ndarray of int32
        Internal ids, one entry per interaction.
    timestamps : ndarray of int64 or None
        Interaction times (e.g. unix seconds).
    weights : ndarray of float32 or None
        Interaction strengths (e.g. ratings).
    user_ids, item_ids : ndarray
        Original ids: internal user ``k`` is ``user_ids[k]`` (length ``n_users``; ``n_items`` for items).
    item_features : ndarray of float32, shape (n_items, D), or None
        Optional item content features aligned with internal item ids (settable).
    n_duplicates_merged : int
        Number of duplicate (user, item) rows merged away on construction.
    split_info : dict or None
        Counts reported by the split that produced this object (see :mod:`advrec.split`).
    """

    __slots__ = (
        "n_users", "n_items", "users", "items", "timestamps", "weights", "user_ids", "item_ids",
        "_item_features", "n_duplicates_merged", "split_info", "keep_repeats", "_csr", "_seq", "_frozen",
    )

    def __init__(self, users, items, timestamps, weights, n_users, n_items, user_ids, item_ids, *,
                 item_features=None, n_duplicates_merged=0, split_info=None, keep_repeats=False, _trusted=False):
        if not _trusted:
            raise TypeError("use Interactions.from_arrays / from_pandas / from_csr to build Interactions")
        object.__setattr__(self, "_frozen", False)
        self.users = _readonly(users)
        self.items = _readonly(items)
        self.timestamps = _readonly(timestamps)
        self.weights = _readonly(weights)
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self.user_ids = _readonly(user_ids)
        self.item_ids = _readonly(item_ids)
        self._item_features = _item_features(item_features, self.n_items)
        self.n_duplicates_merged = int(n_duplicates_merged)
        self.split_info = split_info
        self.keep_repeats = bool(keep_repeats)
        self._csr = None
        self._seq = None
        self._frozen = True

    def __setattr__(self, name, value):
        if getattr(self, "_frozen", False) and name not in ("item_features", "_csr", "_seq", "split_info"):
            raise AttributeError(f"Interactions is immutable; cannot set {name!r} (build a new object instead)")
        object.__setattr__(self, name, value)

    # ---- item features ----------------------------------------------------------------------
    @property
    def item_features(self) -> Optional[np.ndarray]:
        """Item content features, (n_items, D) float32, or None. Assigning validates the shape."""
        return self._item_features

    @item_features.setter
    def item_features(self, value) -> None:
        object.__setattr__(self, "_item_features", _item_features(value, self.n_items))

    # ---- constructors -----------------------------------------------------------------------
    @classmethod
    def _build(cls, users, items, timestamps, weights, n_users, n_items, user_ids, item_ids,
               item_features=None, split_info=None, keep_repeats=False) -> "Interactions":
        """Internal constructor for already validated arrays, duplicate-free unless ``keep_repeats``
        (no copies)."""
        return cls(users, items, timestamps, weights, n_users, n_items, user_ids, item_ids,
                   item_features=item_features, split_info=split_info, keep_repeats=keep_repeats, _trusted=True)

    @classmethod
    def from_arrays(cls, users, items, timestamps=None, weights=None, *, n_users=None, n_items=None,
                    dense_ids=False, item_features=None, keep_repeats: bool = False) -> "Interactions":
        """Builds interactions from parallel arrays.

        Parameters
        ----------
        users, items : array_like
            One entry per interaction. Original ids: non-negative integers or strings. By default
            they are mapped to dense internal ids ``0 .. n-1`` in sorted order of the original ids.
        timestamps : array_like of int or datetime64, optional
            Interaction times (datetime64 values are converted to unix seconds).
        weights : array_like of float, optional
            Interaction strengths (e.g. ratings), stored as float32; finite and >= 0.
        n_users, n_items : int, optional
            Only with ``dense_ids=True``: size of the id spaces (default: largest id + 1).
        dense_ids : bool, default False
            Keep the given non-negative integer ids as internal ids (``user_ids`` is then
            ``arange(n_users)``). Use it when several files share one id space (train/test files).
            An id space larger than ``max(2**24, 64 * n_interactions)`` is refused (it would
            allocate memory for ids that have no data; map such ids with ``dense_ids=False``).
        item_features : array_like, shape (n_items, D), optional
            Item content features aligned with the internal item ids.
        keep_repeats : bool, default False
            Keep repeated (user, item) events instead of merging them. Sequential models (SASRec,
            ASASRec) then see every event, and leave-one-out holds out each user's true last event
            (which may be an item they consumed before; evaluation then ranks it although it is in
            the training history). Membership (negatives, excluded items, :meth:`csr_arrays`) stays
            a set. Default False: duplicates are merged, as the pairwise models' papers do.

        Returns
        -------
        Interactions

        Raises
        ------
        ValueError
            Empty input, mismatched lengths, negative/NaN/non-integer ids, ids outside
            ``n_users``/``n_items``.
        TypeError
            Ids of a non-integer, non-string type.

        Notes
        -----
        Unless ``keep_repeats=True``, duplicate (user, item) pairs are merged, keeping the earliest
        by time (the first in input order when there are no timestamps or on ties). The count is in
        ``n_duplicates_merged`` and a warning is issued.
        """
        if not isinstance(keep_repeats, (bool, np.bool_)):
            raise TypeError(f"keep_repeats must be True or False, got {keep_repeats!r}")
        if dense_ids:
            users = _integral_ids(_as_1d(users, "users"), "users")
            items = _integral_ids(_as_1d(items, "items"), "items")
        else:
            if n_users is not None or n_items is not None:
                raise ValueError("n_users/n_items can only be given with dense_ids=True "
                                 "(with raw ids the id space is the set of distinct ids)")
            users = _raw_ids(users, "users")
            items = _raw_ids(items, "items")
        n = users.shape[0]
        if items.shape[0] != n:
            raise ValueError(f"users and items must have the same length, got {n} and {items.shape[0]}")
        if n == 0:
            raise ValueError("users is empty: an Interactions object needs at least one interaction")
        ts = _timestamps(timestamps, n)
        w = _weights(weights, n)

        if dense_ids:
            max_u, max_i = int(users.max()), int(items.max())
            n_users = max_u + 1 if n_users is None else _check_count(n_users, "n_users", 1)
            n_items = max_i + 1 if n_items is None else _check_count(n_items, "n_items", 1)
            if max_u >= n_users:
                raise ValueError(f"users contains id {max_u}, outside [0, n_users={n_users})")
            if max_i >= n_items:
                raise ValueError(f"items contains id {max_i}, outside [0, n_items={n_items})")
            if n_users > _INT32_MAX or n_items > _INT32_MAX:
                raise ValueError("ids must be below 2**31-1")
            for name, size, given in (("n_users", n_users, "users"), ("n_items", n_items, "items")):
                # The id space is allocated (original ids, per-user and per-item arrays, model rows):
                # an id space far beyond the data is almost always raw ids passed as dense ones.
                if size > _max_dense_space(n):
                    raise ValueError(
                        f"dense_ids=True with {name}={size} for {n} interactions: an id space this far beyond "
                        f"the data would allocate memory for {size} {given}. Use dense_ids=False (the default) "
                        f"to map the ids to 0..n-1, or re-index them first")
            u = users.astype(np.int32)
            i = items.astype(np.int32)
            user_ids = np.arange(n_users, dtype=np.int64)
            item_ids = np.arange(n_items, dtype=np.int64)
        else:
            user_ids, u = _densify(users, "users")
            item_ids, i = _densify(items, "items")
            n_users, n_items = user_ids.shape[0], item_ids.shape[0]

        keep, n_dup = (None, 0) if keep_repeats else _dedup_keep(u, i, ts, n_items)
        if n_dup:
            u, i = u[keep], i[keep]
            ts = ts[keep] if ts is not None else None
            w = w[keep] if w is not None else None
            msg = (f"merged {n_dup} duplicate (user, item) interactions, keeping the earliest of each "
                   f"pair ({u.shape[0]} remain)")
            _log.info(msg)
            warnings.warn(msg, UserWarning, stacklevel=3)
        out = cls(np.ascontiguousarray(u), np.ascontiguousarray(i), ts, w, n_users, n_items,
                  user_ids, item_ids, item_features=item_features, n_duplicates_merged=n_dup,
                  keep_repeats=bool(keep_repeats), _trusted=True)
        return out

    @classmethod
    def from_pandas(cls, df, user_col: str = "user", item_col: str = "item", time_col: Optional[str] = None,
                    weight_col: Optional[str] = None, **kwargs) -> "Interactions":
        """Builds interactions from the columns of a :class:`pandas.DataFrame`.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per interaction.
        user_col, item_col : str
            Columns holding user and item ids.
        time_col, weight_col : str, optional
            Columns holding timestamps (integers or datetimes) and weights.
        **kwargs
            Passed to :meth:`from_arrays` (``n_users``, ``n_items``, ``dense_ids``, ``item_features``).

        Returns
        -------
        Interactions
        """
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        cols = {"user_col": user_col, "item_col": item_col}
        if time_col is not None:
            cols["time_col"] = time_col
        if weight_col is not None:
            cols["weight_col"] = weight_col
        for arg, col in cols.items():
            if col not in df.columns:
                raise ValueError(f"{arg}={col!r} is not a column of df (columns: {list(df.columns)})")

        def column(arg, col):
            s = df[col]
            missing = s.isna().to_numpy()
            if missing.any():
                raise ValueError(f"{arg}={col!r}: column has a missing value at row {int(np.flatnonzero(missing)[0])}")
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            if s.dtype.kind in "iufbM":
                return s.to_numpy(dtype=s.dtype.numpy_dtype if hasattr(s.dtype, "numpy_dtype") else None)
            return s.to_numpy(dtype=object)

        return cls.from_arrays(column("user_col", user_col), column("item_col", item_col),
                               timestamps=None if time_col is None else column("time_col", time_col),
                               weights=None if weight_col is None else column("weight_col", weight_col),
                               **kwargs)

    @classmethod
    def from_csr(cls, matrix) -> "Interactions":
        """Builds interactions from a sparse users x items matrix.

        Every stored non-zero entry is an interaction; its value becomes the weight (weights are
        dropped when they are all 1). Internal ids are the row and column indices.

        Parameters
        ----------
        matrix : scipy.sparse matrix or array, shape (n_users, n_items)

        Returns
        -------
        Interactions
        """
        if not sp.issparse(matrix):
            raise TypeError(f"matrix must be a scipy.sparse matrix, got {type(matrix).__name__}")
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be 2-dimensional, got shape {matrix.shape}")
        m = sp.csr_matrix(matrix, copy=True)
        m.sum_duplicates()
        m.eliminate_zeros()
        if m.nnz == 0:
            raise ValueError("matrix has no non-zero entries: nothing to build Interactions from")
        if m.data.dtype.kind not in "iufb":
            raise TypeError(f"matrix must be numeric, got dtype {m.data.dtype}")
        n_users, n_items = m.shape
        users = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(m.indptr))
        items = m.indices.astype(np.int32)
        w = m.data.astype(np.float32)
        _check_weight_values(w, "matrix values")
        weights = None if np.all(w == 1.0) else w
        return cls(users, items, None, weights, n_users, n_items, np.arange(n_users, dtype=np.int64),
                   np.arange(n_items, dtype=np.int64), _trusted=True)

    # ---- basic protocol ---------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.users.shape[0])

    def __repr__(self) -> str:
        s = self.summary()
        parts = [f"n_users={s['n_users']}", f"n_items={s['n_items']}",
                 f"n_interactions={s['n_interactions']}", f"density={100 * s['density']:.3g}%"]
        if self.timestamps is not None:
            parts.append("timestamps")
        if self.weights is not None:
            parts.append("weights")
        if self.keep_repeats:
            parts.append("keep_repeats")
        if self._item_features is not None:
            parts.append(f"item_features={self._item_features.shape[1]}")
        return f"Interactions({', '.join(parts)})"

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__ if k not in ("_csr", "_seq", "_frozen")}

    def __setstate__(self, state):
        object.__setattr__(self, "_frozen", False)
        object.__setattr__(self, "keep_repeats", False)  # objects pickled before the option existed
        for k, v in state.items():
            if isinstance(v, np.ndarray):
                v.flags.writeable = False
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_csr", None)
        object.__setattr__(self, "_seq", None)
        object.__setattr__(self, "_frozen", True)

    # ---- views ------------------------------------------------------------------------------
    def user_counts(self) -> np.ndarray:
        """Number of interactions of every user, int64 array of length ``n_users``."""
        return np.bincount(self.users, minlength=self.n_users).astype(np.int64)

    def item_counts(self) -> np.ndarray:
        """Number of interactions of every item (popularity), int64 array of length ``n_items``."""
        return np.bincount(self.items, minlength=self.n_items).astype(np.int64)

    def _csr_parts(self):
        if self._csr is None:
            # without repeats (user, item) pairs are unique, so the key sort has no ties
            key = self.users.astype(np.int64) * self.n_items + self.items
            order = np.argsort(key, kind="stable")
            users, items = self.users[order], self.items[order]
            data = (np.ones(len(self), dtype=np.float32) if self.weights is None
                    else np.ascontiguousarray(self.weights[order]))
            if self.keep_repeats and len(self):
                # membership is a set: one entry per pair, its value the sum over its events
                sk = key[order]
                first = np.ones(sk.shape[0], dtype=bool)
                first[1:] = sk[1:] != sk[:-1]
                starts = np.flatnonzero(first)
                data = np.add.reduceat(data, starts).astype(np.float32)
                users, items = users[starts], items[starts]
            indptr = np.zeros(self.n_users + 1, dtype=np.int64)
            np.cumsum(np.bincount(users, minlength=self.n_users), out=indptr[1:])
            indices = np.ascontiguousarray(items)
            for a in (indptr, indices, data):
                a.flags.writeable = False
            self._csr = (indptr, indices, data)
        return self._csr

    def csr_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        """CSR structure of the users x items matrix (cached, read-only).

        Returns
        -------
        indptr : ndarray of int64, shape (n_users + 1,)
        indices : ndarray of int32
            Item ids of user ``u`` are ``indices[indptr[u]:indptr[u+1]]``, sorted, no duplicates
            (also with ``keep_repeats``: this is the set of items each user interacted with).
        """
        indptr, indices, _ = self._csr_parts()
        return indptr, indices

    def to_csr(self) -> sp.csr_matrix:
        """The users x items matrix, float32 (weights, or 1 without weights; with ``keep_repeats`` the
        sum over a pair's events).

        Returns
        -------
        scipy.sparse.csr_matrix
            Shape (n_users, n_items), sorted indices, no duplicates. A fresh, writable copy.
        """
        indptr, indices, data = self._csr_parts()
        m = sp.csr_matrix((data.copy(), indices.copy(), indptr.copy()), shape=(self.n_users, self.n_items))
        m.has_sorted_indices = True
        return m

    def sequences(self) -> Tuple[np.ndarray, np.ndarray]:
        """Each user's items in chronological order (cached, read-only).

        Order is by timestamp; ties, and data without timestamps, keep the input order. With
        ``keep_repeats`` every event is there, repeats included.

        Returns
        -------
        indptr : ndarray of int64, shape (n_users + 1,)
        items : ndarray of int32
            Items of user ``u``, oldest first, are ``items[indptr[u]:indptr[u+1]]``.
        """
        if self._seq is None:
            order = self._chrono_order()
            indptr = np.zeros(self.n_users + 1, dtype=np.int64)
            np.cumsum(self.user_counts(), out=indptr[1:])
            indptr.flags.writeable = False
            items = np.ascontiguousarray(self.items[order])
            items.flags.writeable = False
            self._seq = (indptr, items)
        return self._seq

    def _chrono_order(self) -> np.ndarray:
        """Row permutation grouping rows by user, chronological within a user (stable ties)."""
        if self.timestamps is None:
            return np.argsort(self.users, kind="stable")
        return np.lexsort((self.timestamps, self.users))  # lexsort is stable

    def to_pandas(self, original_ids: bool = True):
        """The interactions as a DataFrame with columns user, item[, timestamp][, weight].

        Parameters
        ----------
        original_ids : bool, default True
            Report original ids (``user_ids``/``item_ids``) instead of internal ids.

        Returns
        -------
        pandas.DataFrame
        """
        import pandas as pd

        cols = {"user": self.user_ids[self.users] if original_ids else self.users.copy(),
                "item": self.item_ids[self.items] if original_ids else self.items.copy()}
        if self.timestamps is not None:
            cols["timestamp"] = self.timestamps.copy()
        if self.weights is not None:
            cols["weight"] = self.weights.copy()
        return pd.DataFrame(cols)

    def summary(self) -> Dict[str, Any]:
        """Descriptive statistics.

        Returns
        -------
        dict
            ``n_users``, ``n_items``, ``n_interactions``, ``density``, ``n_active_users``,
            ``n_active_items`` (with at least one interaction), per-user and per-item
            ``min``/``median``/``mean``/``max`` counts, ``n_duplicates_merged``, ``has_timestamps``,
            ``has_weights``, ``n_item_features``, and the time range when timestamps exist.
        """
        n = len(self)
        uc, ic = self.user_counts(), self.item_counts()
        active_u, active_i = uc[uc > 0], ic[ic > 0]

        def stats(c):
            if c.size == 0:
                return {"min": 0, "median": 0.0, "mean": 0.0, "max": 0}
            return {"min": int(c.min()), "median": float(np.median(c)), "mean": float(c.mean()), "max": int(c.max())}

        out: Dict[str, Any] = {
            "n_users": self.n_users,
            "n_items": self.n_items,
            "n_interactions": n,
            # the filled fraction of the users x items matrix (distinct pairs, also with repeats)
            "density": (self.csr_arrays()[1].size / (self.n_users * self.n_items)
                        if self.n_users * self.n_items else 0.0),
            "n_active_users": int(active_u.size),
            "n_active_items": int(active_i.size),
            "interactions_per_user": stats(active_u),
            "interactions_per_item": stats(active_i),
            "n_duplicates_merged": self.n_duplicates_merged,
            "has_timestamps": self.timestamps is not None,
            "has_weights": self.weights is not None,
            "n_item_features": 0 if self._item_features is None else int(self._item_features.shape[1]),
        }
        if self.timestamps is not None and n:
            out["time_min"] = int(self.timestamps.min())
            out["time_max"] = int(self.timestamps.max())
        return out

    # ---- derived objects --------------------------------------------------------------------
    def _subset(self, rows: np.ndarray, split_info=None) -> "Interactions":
        """Same id space, a subset of the rows (boolean mask or sorted indices; order kept)."""
        return Interactions._build(
            np.ascontiguousarray(self.users[rows]), np.ascontiguousarray(self.items[rows]),
            None if self.timestamps is None else self.timestamps[rows],
            None if self.weights is None else self.weights[rows],
            self.n_users, self.n_items, self.user_ids, self.item_ids,
            item_features=self._item_features, split_info=split_info, keep_repeats=self.keep_repeats)

    def _reindexed(self, rows: np.ndarray) -> "Interactions":
        """A subset of the rows with ids re-densified to the users/items still present."""
        users, items = self.users[rows], self.items[rows]
        if users.size == 0:
            raise ValueError("no interactions left after filtering; relax the thresholds")
        keep_u = np.bincount(users, minlength=self.n_users) > 0
        keep_i = np.bincount(items, minlength=self.n_items) > 0
        map_u = (np.cumsum(keep_u) - 1).astype(np.int32)
        map_i = (np.cumsum(keep_i) - 1).astype(np.int32)
        feats = None if self._item_features is None else self._item_features[keep_i]
        return Interactions._build(
            map_u[users], map_i[items],
            None if self.timestamps is None else self.timestamps[rows],
            None if self.weights is None else self.weights[rows],
            int(keep_u.sum()), int(keep_i.sum()), self.user_ids[keep_u], self.item_ids[keep_i],
            item_features=feats, keep_repeats=self.keep_repeats)

    def filter(self, min_user_interactions: int = 1, min_item_interactions: int = 1) -> "Interactions":
        """Drops users and items with too few interactions (one pass; see :meth:`k_core`).

        Counts are taken on this object; users/items below either threshold are removed with all
        their interactions. Ids are re-densified, original ids are kept in ``user_ids``/``item_ids``.

        Parameters
        ----------
        min_user_interactions, min_item_interactions : int, default 1

        Returns
        -------
        Interactions
        """
        mu = _check_count(min_user_interactions, "min_user_interactions", 0)
        mi = _check_count(min_item_interactions, "min_item_interactions", 0)
        ok_u = self.user_counts() >= mu
        ok_i = self.item_counts() >= mi
        return self._reindexed(ok_u[self.users] & ok_i[self.items])

    def k_core(self, k: int, k_items: Optional[int] = None) -> "Interactions":
        """Iterative k-core: repeats the filter until every user and item has at least k interactions.

        Parameters
        ----------
        k : int
            Minimum interactions per user.
        k_items : int, optional
            Minimum interactions per item (default: ``k``).

        Returns
        -------
        Interactions
            Ids re-densified; original ids kept.
        """
        k = _check_count(k, "k", 0)
        ki = k if k_items is None else _check_count(k_items, "k_items", 0)
        alive = np.ones(len(self), dtype=bool)
        while True:
            uc = np.bincount(self.users[alive], minlength=self.n_users)
            ic = np.bincount(self.items[alive], minlength=self.n_items)
            new = alive & (uc[self.users] >= k) & (ic[self.items] >= ki)
            if new.sum() == alive.sum():
                break
            alive = new
        return self._reindexed(alive)

    def with_item_features(self, item_features) -> "Interactions":
        """A copy (sharing the interaction arrays) with the given item features.

        Parameters
        ----------
        item_features : array_like, shape (n_items, D)

        Returns
        -------
        Interactions
        """
        return Interactions._build(self.users, self.items, self.timestamps, self.weights, self.n_users,
                                   self.n_items, self.user_ids, self.item_ids, item_features=item_features,
                                   split_info=self.split_info, keep_repeats=self.keep_repeats)


def _dedup_keep(u: np.ndarray, i: np.ndarray, ts: Optional[np.ndarray], n_items: int):
    """Rows to keep so that each (user, item) pair appears once: the earliest by time, ties by
    input order. Returns (sorted row indices or None when nothing is dropped, number dropped)."""
    key = u.astype(np.int64) * n_items + i
    if ts is None:
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((ts, key))  # stable: equal (key, time) keep input order
    sk = key[order]
    first = np.ones(sk.shape[0], dtype=bool)
    first[1:] = sk[1:] != sk[:-1]
    n_dup = int(sk.shape[0] - first.sum())
    if n_dup == 0:
        return None, 0
    return np.sort(order[first]), n_dup
