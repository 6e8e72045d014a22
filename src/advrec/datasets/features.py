"""Item content features and titles from MovieLens metadata, aligned with internal item ids.

Supported files: ``movies.csv`` (ml-latest*, ml-20m, ml-25m, ml-32m), ``movies.dat`` (ml-1m,
ml-10m), ``u.item`` (ml-100k) for genres and titles; ``tags.csv`` / ``tags.dat`` for user tags;
``genome-scores.csv`` (ml-20m, ml-25m) for the tag genome.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple, Union

import numpy as np

from ..interactions import Interactions
from ._text import check_folder, line_error

__all__ = ["movielens_item_features", "movielens_titles"]

_ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                  "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                  "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def _movielens_folder(folder) -> Path:
    p = Path(folder).expanduser()
    if p.is_file():
        p = p.parent
    return check_folder(p)


def _read_movies(folder: Path):
    """Returns a DataFrame with columns movie (int64), title (str), genres (list of str)."""
    import pandas as pd

    if (folder / "movies.csv").is_file():
        path = folder / "movies.csv"
        try:
            df = pd.read_csv(path, dtype={"movieId": "int64", "title": str, "genres": str},
                             keep_default_na=False)
        except (ValueError, pd.errors.ParserError) as exc:
            raise ValueError(f"{path}: could not parse ({exc})") from None
        missing = {"movieId", "title", "genres"} - set(df.columns)
        if missing:
            raise line_error(path, 1, f"missing column(s) {sorted(missing)} in the header")
        genres = [g.split("|") if g and g != "(no genres listed)" else [] for g in df["genres"]]
        return pd.DataFrame({"movie": df["movieId"].to_numpy(np.int64), "title": df["title"].astype(str),
                             "genres": genres}), path
    if (folder / "movies.dat").is_file():
        path = folder / "movies.dat"
        movies, titles, genres = [], [], []
        raw = path.read_bytes()
        text = raw.decode("utf-8") if _is_utf8(raw) else raw.decode("latin-1")
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split("::")
            if len(parts) != 3 or not parts[0].strip().isdigit():
                raise line_error(path, lineno, "expected 'MovieID::Title::Genres'")
            movies.append(int(parts[0]))
            titles.append(parts[1])
            g = parts[2].strip()
            genres.append(g.split("|") if g and g != "(no genres listed)" else [])
        return pd.DataFrame({"movie": np.asarray(movies, np.int64), "title": titles, "genres": genres}), path
    if (folder / "u.item").is_file():
        path = folder / "u.item"
        movies, titles, genres = [], [], []
        for lineno, line in enumerate(path.read_bytes().decode("latin-1").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split("|")
            if len(parts) != 5 + len(_ML100K_GENRES) or not parts[0].isdigit():
                raise line_error(path, lineno, f"expected {5 + len(_ML100K_GENRES)} '|'-separated fields")
            movies.append(int(parts[0]))
            titles.append(parts[1])
            flags = parts[5:]
            genres.append([g for g, flag in zip(_ML100K_GENRES, flags) if flag.strip() == "1"])
        return pd.DataFrame({"movie": np.asarray(movies, np.int64), "title": titles, "genres": genres}), path
    raise FileNotFoundError(f"no MovieLens movies file (movies.csv, movies.dat or u.item) in {folder}")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _rows_of(data: Interactions, movie_ids: np.ndarray) -> np.ndarray:
    """Internal item id of every MovieLens movie id (-1 when the movie is not in ``data``)."""
    import pandas as pd

    index = pd.Index(np.asarray(data.item_ids))
    try:
        return index.get_indexer(pd.Index(movie_ids)).astype(np.int64)
    except TypeError:  # item ids of another type (e.g. strings): nothing matches
        return np.full(movie_ids.shape[0], -1, dtype=np.int64)


def _check_data(data) -> None:
    if not isinstance(data, Interactions):
        raise TypeError(f"data must be an advrec.Interactions, got {type(data).__name__}")


def movielens_titles(folder, data: Interactions) -> np.ndarray:
    """Movie titles aligned with ``data``'s internal item ids.

    Parameters
    ----------
    folder : str or path
        The MovieLens folder (with ``movies.csv``, ``movies.dat`` or ``u.item``).
    data : Interactions
        Loaded with :func:`load_movielens` (``item_ids`` are MovieLens movie ids).

    Returns
    -------
    ndarray of object (str), shape (n_items,)
        ``""`` for items missing from the movies file.
    """
    _check_data(data)
    movies, _ = _read_movies(_movielens_folder(folder))
    rows = _rows_of(data, movies["movie"].to_numpy())
    out = np.full(data.n_items, "", dtype=object)
    ok = rows >= 0
    out[rows[ok]] = np.asarray(movies["title"], dtype=object)[ok]
    return out


def _genre_features(folder: Path, data: Interactions) -> Tuple[np.ndarray, List[str]]:
    movies, _ = _read_movies(folder)
    names = sorted({g for gs in movies["genres"] for g in gs})
    col = {g: k for k, g in enumerate(names)}
    rows = _rows_of(data, movies["movie"].to_numpy())
    F = np.zeros((data.n_items, len(names)), dtype=np.float32)
    r_idx, c_idx = [], []
    for r, gs in zip(rows, movies["genres"]):
        if r >= 0:
            for g in gs:
                r_idx.append(r)
                c_idx.append(col[g])
    F[np.asarray(r_idx, dtype=np.int64), np.asarray(c_idx, dtype=np.int64)] = 1.0
    return F, names


def _tag_features(folder: Path, data: Interactions, min_count: int, max_features) -> Tuple[np.ndarray, List[str]]:
    import pandas as pd

    if (folder / "tags.csv").is_file():
        path = folder / "tags.csv"
        try:
            df = pd.read_csv(path, dtype={"movieId": "int64", "tag": str}, keep_default_na=False)
        except (ValueError, pd.errors.ParserError) as exc:
            raise ValueError(f"{path}: could not parse ({exc})") from None
        if not {"movieId", "tag"} <= set(df.columns):
            raise line_error(path, 1, "expected columns movieId and tag in the header")
        movies, tags = df["movieId"].to_numpy(np.int64), df["tag"].astype(str).to_numpy(dtype=object)
    elif (folder / "tags.dat").is_file():
        path = folder / "tags.dat"
        movies_l, tags_l = [], []
        raw = path.read_bytes()
        text = raw.decode("utf-8") if _is_utf8(raw) else raw.decode("latin-1")
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split("::")
            if len(parts) != 4 or not parts[1].strip().isdigit():
                raise line_error(path, lineno, "expected 'UserID::MovieID::Tag::Timestamp'")
            movies_l.append(int(parts[1]))
            tags_l.append(parts[2])
        movies, tags = np.asarray(movies_l, np.int64), np.asarray(tags_l, dtype=object)
    else:
        raise FileNotFoundError(f"no MovieLens tags file (tags.csv or tags.dat) in {folder}")
    norm = pd.Series(tags, dtype=object).str.strip().str.lower().to_numpy(dtype=object)
    rows = _rows_of(data, movies)
    ok = (rows >= 0) & (norm != "")
    rows, norm = rows[ok], norm[ok]
    if rows.size == 0:
        return np.zeros((data.n_items, 0), dtype=np.float32), []
    vocab, tag_idx = np.unique(norm.astype(str), return_inverse=True)
    # document frequency = number of distinct items carrying the tag
    pairs = np.unique(rows * len(vocab) + tag_idx)
    df_count = np.bincount(pairs % len(vocab), minlength=len(vocab))
    keep = np.flatnonzero(df_count >= min_count)
    if max_features is not None and keep.size > max_features:
        # most frequent first, ties by name (vocab is sorted) for determinism
        keep = keep[np.argsort(-df_count[keep], kind="stable")[:max_features]]
        keep.sort()
    remap = np.full(len(vocab), -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    cols = remap[tag_idx]
    sel = cols >= 0
    F = np.zeros((data.n_items, keep.size), dtype=np.float64)
    np.add.at(F, (rows[sel], cols[sel]), 1.0)  # tf: how many times the item got the tag
    n_docs = max(1, int(np.unique(rows).size))
    idf = np.log((1.0 + n_docs) / (1.0 + df_count[keep])) + 1.0
    F = np.log1p(F) * idf
    norms = np.linalg.norm(F, axis=1, keepdims=True)
    F = np.divide(F, norms, out=np.zeros_like(F), where=norms > 0)
    return F.astype(np.float32), [str(v) for v in vocab[keep]]


def _genome_features(folder: Path, data: Interactions) -> Tuple[np.ndarray, List[str]]:
    import pandas as pd

    path = folder / "genome-scores.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no tag genome (genome-scores.csv) in {folder}; it ships with ml-20m and ml-25m")
    df = pd.read_csv(path, dtype={"movieId": "int64", "tagId": "int64", "relevance": "float64"})
    tag_ids, tag_col = np.unique(df["tagId"].to_numpy(), return_inverse=True)
    rows = _rows_of(data, df["movieId"].to_numpy())
    ok = rows >= 0
    F = np.zeros((data.n_items, tag_ids.size), dtype=np.float32)
    F[rows[ok], tag_col[ok]] = df["relevance"].to_numpy(np.float32)[ok]
    names = [str(t) for t in tag_ids]
    tags_path = folder / "genome-tags.csv"
    if tags_path.is_file():
        t = pd.read_csv(tags_path)
        lookup = dict(zip(t["tagId"].astype(np.int64), t["tag"].astype(str)))
        names = [lookup.get(int(k), str(k)) for k in tag_ids]
    return F, names


def movielens_item_features(folder, data: Interactions, kind: str = "genres", *, min_count: int = 2,
                            max_features=None, return_names: bool = False
                            ) -> Union[np.ndarray, Tuple[np.ndarray, List[str]]]:
    """Item content features from MovieLens metadata, aligned with ``data``'s internal item ids.

    Parameters
    ----------
    folder : str or path
        The MovieLens folder.
    data : Interactions
        Loaded with :func:`load_movielens` (``item_ids`` are MovieLens movie ids; works also on
        filtered data and on both parts of a split).
    kind : {"genres", "tags", "genome"}, default "genres"
        ``"genres"``: multi-hot genres (columns in sorted order; "(no genres listed)" gives an
        all-zero row). ``"tags"``: user tags (lower-cased, stripped) as TF-IDF with log term
        frequency, rows L2-normalised. ``"genome"``: tag-genome relevance scores (ml-20m, ml-25m).
    min_count : int, default 2
        ``kind="tags"`` only: keep tags applied to at least this many distinct items.
    max_features : int, optional
        ``kind="tags"`` only: keep at most this many tags (the most widespread).
    return_names : bool, default False
        Also return the column names.

    Returns
    -------
    F : ndarray of float32, shape (n_items, D)
        Row ``k`` describes internal item ``k``; items missing from the metadata get zero rows.
    names : list of str, only with ``return_names=True``
    """
    _check_data(data)
    folder = _movielens_folder(folder)
    if kind == "genres":
        F, names = _genre_features(folder, data)
    elif kind == "tags":
        if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
            raise ValueError(f"min_count must be a positive integer, got {min_count!r}")
        if max_features is not None and (isinstance(max_features, bool) or not isinstance(max_features, (int, np.integer))
                                         or max_features < 1):
            raise ValueError(f"max_features must be a positive integer or None, got {max_features!r}")
        F, names = _tag_features(folder, data, int(min_count), max_features)
    elif kind == "genome":
        F, names = _genome_features(folder, data)
    else:
        raise ValueError(f"kind must be 'genres', 'tags' or 'genome', got {kind!r}")
    F = np.ascontiguousarray(F, dtype=np.float32)
    return (F, names) if return_names else F
