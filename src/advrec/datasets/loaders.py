"""Loaders for the public formats used by the papers advrec reproduces.

=====================  ===========================================  ================================
loader                 format                                       ids
=====================  ===========================================  ================================
load_movielens         ratings.csv / ratings.dat / u.data           raw MovieLens ids, densified
load_sasrec            ``user item`` lines, chronological per user  raw (1-based) ids, densified
load_rating_split      NCF/APR ``.rating`` train + test files       dense 0-based ids kept
load_negatives         NCF ``.negative`` files                      dense 0-based ids kept
load_lightgcn          train.txt or s_adj_mat.npz, plus test.txt    dense 0-based ids kept
=====================  ===========================================  ================================

Formats that already use dense 0-based ids keep them, so that train and test share one id space
whose size covers both files. Malformed input raises ValueError naming the file and line; missing
files raise FileNotFoundError naming the path.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from ..interactions import Interactions
from ._text import check_file, check_folder, check_integral, fixed_columns, line_error, read_tokens, scan_for_error

__all__ = ["load_movielens", "load_sasrec", "load_rating_split", "load_negatives", "Negatives",
           "load_lightgcn", "find_movielens_ratings"]


# ---------------------------------------------------------------------------------------------
# MovieLens
# ---------------------------------------------------------------------------------------------
_ML_FILES = ("ratings.csv", "ratings.dat", "u.data")


def find_movielens_ratings(folder) -> Path:
    """The ratings file of a MovieLens folder (``ratings.csv``, ``ratings.dat`` or ``u.data``).

    Parameters
    ----------
    folder : str or path
        A MovieLens folder, or directly the path of one of those files.

    Returns
    -------
    pathlib.Path
    """
    p = Path(folder).expanduser()
    if p.is_file():
        if p.name not in _ML_FILES:
            raise ValueError(f"{p}: not a MovieLens ratings file (expected one of {', '.join(_ML_FILES)})")
        return p
    check_folder(p)
    for name in _ML_FILES:
        if (p / name).is_file():
            return p / name
    raise FileNotFoundError(f"no MovieLens ratings file ({', '.join(_ML_FILES)}) in {p}")


def _ml_line_parser(sep: str):
    def parse(text: str) -> None:
        fields = text.split(sep)
        if len(fields) != 4:
            raise ValueError(f"expected 4 fields (user, item, rating, timestamp) separated by {sep!r}, "
                             f"found {len(fields)}")
        for name, value in zip(("user", "item", "timestamp"), (fields[0], fields[1], fields[3])):
            v = value.strip()
            if not v.isdigit():
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        float(fields[2])
    return parse


def load_movielens(folder, min_rating: Optional[float] = None, ratings_as_weights: bool = True,
                   keep_repeats: bool = False) -> Interactions:
    """Loads MovieLens ratings as implicit-feedback interactions.

    Detects the format: ``ratings.csv`` (ml-latest, ml-latest-small, ml-20m, ml-25m, ml-32m; with a
    header), ``ratings.dat`` (ml-1m, ml-10m; ``::``-separated) or ``u.data`` (ml-100k; tab-separated).

    Parameters
    ----------
    folder : str or path
        The dataset folder (or the ratings file itself).
    min_rating : float, optional
        Keep only ratings ``>= min_rating`` (e.g. 4 for "liked"); default: keep every rating.
    ratings_as_weights : bool, default True
        Store the ratings as ``weights``.
    keep_repeats : bool, default False
        Keep repeated ratings of a movie by a user as separate events (see
        :meth:`advrec.Interactions.from_arrays`); by default they are merged, keeping the earliest.

    Returns
    -------
    Interactions
        Original MovieLens ids in ``user_ids`` / ``item_ids`` (dense ids follow their sorted order),
        unix-second ``timestamps``.
    """
    import pandas as pd

    path = check_file(find_movielens_ratings(folder))
    names = ["user", "item", "rating", "timestamp"]
    if path.name == "ratings.csv":
        header = path.open("r", encoding="utf-8", errors="replace").readline().strip().lower()
        if not header.startswith("userid,movieid"):
            raise line_error(path, 1, f"expected the header 'userId,movieId,rating,timestamp', got {header!r}")
        kw = dict(sep=",", skiprows=1)
        parser, skip = _ml_line_parser(","), 1
    elif path.name == "ratings.dat":
        # "::" separated: read with ':' so that the fast C parser applies; fields 0, 2, 4, 6 are ours
        kw = dict(sep=":", usecols=[0, 2, 4, 6])
        parser, skip = _ml_line_parser("::"), 0
    else:
        kw = dict(sep="\t")
        parser, skip = _ml_line_parser("\t"), 0
    try:
        df = pd.read_csv(path, header=None, names=None, dtype=np.float64, engine="c", **kw)
        if df.shape[1] != 4:
            raise ValueError(f"expected 4 columns, found {df.shape[1]}")
        df.columns = names
        arr = df.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError("missing values")
        if np.any(arr[:, [0, 1, 3]] < 0) or np.any(arr[:, [0, 1, 3]] != np.floor(arr[:, [0, 1, 3]])):
            raise ValueError("ids and timestamps must be non-negative integers")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        if isinstance(exc, pd.errors.EmptyDataError):
            raise ValueError(f"{path}: the file is empty") from None
        raise scan_for_error(path, parser, skip=skip, encoding="latin-1", cause=exc) from None
    if arr.shape[0] == 0:
        raise ValueError(f"{path}: the file has no ratings")
    if min_rating is not None:
        arr = arr[arr[:, 2] >= float(min_rating)]
        if arr.shape[0] == 0:
            raise ValueError(f"min_rating={min_rating} leaves no ratings in {path}")
    return Interactions.from_arrays(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64),
                                    timestamps=arr[:, 3].astype(np.int64),
                                    weights=arr[:, 2] if ratings_as_weights else None, keep_repeats=keep_repeats)


# ---------------------------------------------------------------------------------------------
# SASRec
# ---------------------------------------------------------------------------------------------
def load_sasrec(path, keep_repeats: bool = False) -> Interactions:
    """Loads a SASRec-format file: one ``user item`` pair per line, chronological within each user.

    Parameters
    ----------
    path : str or path
        E.g. ``Video.txt`` (1-based ids).
    keep_repeats : bool, default False
        Keep a user's repeated items as separate events, so that SASRec/ASASRec train on every
        event and leave-one-out holds out the true last one (edit logs and listening histories
        repeat a lot). By default repeats are merged, keeping the first, as in the SASRec data.

    Returns
    -------
    Interactions
        Without timestamps: the chronological order is the file order, which
        :meth:`Interactions.sequences` and ``leave_one_out(by="time")`` use. Ids are densified in
        sorted order, so 1-based contiguous ids become ``id - 1`` (the original ids stay in
        ``user_ids`` / ``item_ids``).
    """
    path = check_file(path)
    values, line, n_lines = read_tokens(path)
    rows = fixed_columns(path, values, line, n_lines, 2, 2, "'user item'")
    return Interactions.from_arrays(rows[:, 0], rows[:, 1], keep_repeats=keep_repeats)


# ---------------------------------------------------------------------------------------------
# NCF / APR .rating and .negative
# ---------------------------------------------------------------------------------------------
def _read_rating(path):
    path = check_file(path)
    values, line, n_lines = read_tokens(path, floats=True)
    rows = fixed_columns(path, values, line, n_lines, 2, 4, "'user item [rating [timestamp]]'")
    line_of_row = line[:: rows.shape[1]]
    users = check_integral(path, rows[:, 0], line_of_row, "user")
    items = check_integral(path, rows[:, 1], line_of_row, "item")
    ratings = rows[:, 2] if rows.shape[1] >= 3 else None
    ts = None
    if rows.shape[1] == 4:
        col = rows[:, 3]
        bad = col != np.floor(col)
        if bad.any():
            k = int(np.argmax(bad))
            raise line_error(path, int(line_of_row[k]), f"timestamp must be an integer, got {col[k]!r}")
        ts = col.astype(np.int64)
    return path, users, items, ratings, ts


def load_rating_split(train_path, test_path) -> Tuple[Interactions, Interactions]:
    """Loads an NCF/APR train/test pair of ``.rating`` files.

    Each line is ``user item [rating [timestamp]]`` (tab- or space-separated), ids dense and 0-based.

    Parameters
    ----------
    train_path, test_path : str or path

    Returns
    -------
    train, test : Interactions
        The file ids are kept as internal ids (``dense_ids=True``) in one shared id space of size
        ``max id + 1`` over both files; ratings become ``weights``, the timestamp column
        ``timestamps``.
    """
    _, tu, ti, tr, tt = _read_rating(train_path)
    _, su, si, sr, st = _read_rating(test_path)
    n_users = int(max(tu.max(), su.max())) + 1
    n_items = int(max(ti.max(), si.max())) + 1
    train = Interactions.from_arrays(tu, ti, timestamps=tt, weights=tr, n_users=n_users, n_items=n_items,
                                     dense_ids=True)
    test = Interactions.from_arrays(su, si, timestamps=st, weights=sr, n_users=n_users, n_items=n_items,
                                    dense_ids=True)
    return train, test


@dataclass(frozen=True)
class Negatives:
    """Negative items for sampled evaluation, as read from an NCF ``.negative`` file.

    Attributes
    ----------
    users : ndarray of int32, shape (n,)
    items : ndarray of int32, shape (n,)
        The test item of each line.
    negatives : ndarray of int32, shape (n, m)
        The ``m`` sampled negative items of each line.

    The object unpacks as ``users, items, negatives = load_negatives(path)``.
    """

    users: np.ndarray
    items: np.ndarray
    negatives: np.ndarray

    def __iter__(self):
        return iter((self.users, self.items, self.negatives))

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def n_negatives(self) -> int:
        """Number of negatives per test item."""
        return int(self.negatives.shape[1])


def load_negatives(path) -> Negatives:
    """Loads an NCF ``.negative`` file: lines ``(user,item)<TAB>neg1<TAB>neg2...``.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    Negatives
        ``users``, ``items`` (int32) and ``negatives`` (int32, one row per line). Every line must
        have the same number of negatives.
    """
    path = check_file(path)
    raw = path.read_bytes()
    first = raw.lstrip().split(b"\n", 1)[0]
    if first and not first.startswith(b"("):
        lineno = raw[: len(raw) - len(raw.lstrip())].count(b"\n") + 1
        raise line_error(path, lineno, "expected a line starting with '(user,item)'")
    values, line, n_lines = read_tokens(path, translate=b"(),")
    rows = fixed_columns(path, values, line, n_lines, 2, 1 << 30, "'(user,item) neg1 neg2 ...'")
    if rows.max(initial=0) > np.iinfo(np.int32).max:
        raise ValueError(f"{path}: ids must be below 2**31")
    rows = rows.astype(np.int32)
    negs = np.ascontiguousarray(rows[:, 2:])
    return Negatives(np.ascontiguousarray(rows[:, 0]), np.ascontiguousarray(rows[:, 1]), negs)


# ---------------------------------------------------------------------------------------------
# LightGCN / NGCF
# ---------------------------------------------------------------------------------------------
def _read_adjacency_lists(path) -> Tuple[np.ndarray, np.ndarray]:
    """``user item1 item2 ...`` lines -> (users, items) int64 pairs, in file order."""
    path = check_file(path)
    values, line, _ = read_tokens(path)
    if values.size == 0:
        raise ValueError(f"{path}: the file is empty (expected 'user item1 item2 ...' lines)")
    first = np.ones(values.size, dtype=bool)
    first[1:] = line[1:] != line[:-1]
    owner = np.cumsum(first) - 1  # index of the line-leading token for every token
    users = values[first][owner]
    return users[~first], values[~first]


def _read_adjacency_npz(path, hint_users: Optional[int]) -> Tuple[np.ndarray, np.ndarray, int, int]:
    """A symmetric user-item adjacency (scipy save_npz) -> (users, items, n_users, n_items)."""
    import scipy.sparse as sp

    path = check_file(path)
    try:
        adj = sp.load_npz(path)
    except (zipfile.BadZipFile, EOFError, KeyError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable scipy.sparse .npz file ({type(exc).__name__}: {exc})") from None
    adj = sp.csr_matrix(adj)
    adj.sum_duplicates()
    adj.eliminate_zeros()
    n = adj.shape[0]
    if adj.shape[0] != adj.shape[1] or adj.nnz == 0:
        raise ValueError(f"{path}: expected a square, non-empty user-item adjacency matrix, got shape {adj.shape}")
    # Rows are users then items. A user row only links to item columns (>= n_users), an item row
    # only to user columns (< n_users); the boundary is where rows switch from linking "ahead" to
    # linking "behind" themselves.
    counts = np.diff(adj.indptr)
    nonempty = np.flatnonzero(counts > 0)
    row_min = adj.indices[adj.indptr[nonempty]] if adj.has_sorted_indices else \
        np.minimum.reduceat(adj.indices, adj.indptr[nonempty])
    ahead = row_min > nonempty
    lo = int(nonempty[ahead].max()) + 1 if ahead.any() else 0
    hi = int(nonempty[~ahead].min()) if (~ahead).any() else n
    if lo > hi:
        raise ValueError(f"{path}: not a bipartite user-item adjacency (users first, then items)")
    n_users = hint_users if hint_users is not None and lo <= hint_users <= hi else lo
    if hint_users is not None and not lo <= hint_users <= hi:
        raise ValueError(f"{path}: user_list.txt gives {hint_users} users, inconsistent with the matrix")
    r = adj[:n_users, n_users:].tocsr()
    if adj[:n_users, :n_users].nnz or adj[n_users:, n_users:].nnz:
        raise ValueError(f"{path}: not a bipartite user-item adjacency (user-user or item-item entries)")
    if (adj[n_users:, :n_users] != r.T).nnz:
        raise ValueError(f"{path}: the adjacency matrix is not symmetric")
    r.sort_indices()
    users = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(r.indptr))
    return users, r.indices.astype(np.int64), n_users, n - n_users


def _count_list(path: Path) -> Optional[int]:
    """Number of entries of a LightGCN user_list.txt / item_list.txt (header line excluded)."""
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        lines = [ln for ln in fh.read().split(b"\n") if ln.strip()]
    return max(len(lines) - 1, 0)


def load_lightgcn(folder, prefer: str = "txt") -> Tuple[Interactions, Interactions]:
    """Loads a LightGCN/NGCF dataset folder: training data plus ``test.txt``.

    Training data is read from ``train.txt`` (lines ``user item1 item2 ...``) or, when absent (or
    ``prefer="npz"``), from ``s_adj_mat.npz``: the scipy sparse symmetric user-item adjacency of
    shape ``(n_users + n_items)^2`` whose block ``[:n_users, n_users:]`` holds the training pairs.

    Parameters
    ----------
    folder : str or path
    prefer : {"txt", "npz"}, default "txt"
        Which training source to use when both exist.

    Returns
    -------
    train, test : Interactions
        File ids kept as internal ids, one shared id space covering both parts (with the npz, its
        shape fixes ``n_users + n_items``; ``user_list.txt`` if present fixes ``n_users``).
    """
    if prefer not in ("txt", "npz"):
        raise ValueError(f"prefer must be 'txt' or 'npz', got {prefer!r}")
    folder = check_folder(folder)
    test_path = folder / "test.txt"
    check_file(test_path)
    txt, npz = folder / "train.txt", folder / "s_adj_mat.npz"
    if txt.is_file() and (prefer == "txt" or not npz.is_file()):
        tu, ti = _read_adjacency_lists(txt)
        n_u = n_i = None
    elif npz.is_file():
        tu, ti, n_u, n_i = _read_adjacency_npz(npz, _count_list(folder / "user_list.txt"))
    else:
        raise FileNotFoundError(f"no training data in {folder}: expected train.txt or s_adj_mat.npz")
    su, si = _read_adjacency_lists(test_path)
    if n_u is None:
        n_u = int(max(tu.max(initial=-1), su.max(initial=-1))) + 1
        n_i = int(max(ti.max(initial=-1), si.max(initial=-1))) + 1
    else:
        if su.size and (su.max() >= n_u or si.max() >= n_i):
            raise ValueError(f"{test_path}: ids exceed the adjacency matrix ({n_u} users, {n_i} items)")
    train = Interactions.from_arrays(tu, ti, n_users=n_u, n_items=n_i, dense_ids=True)
    test = Interactions.from_arrays(su, si, n_users=n_u, n_items=n_i, dense_ids=True)
    return train, test
