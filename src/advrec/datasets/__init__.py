"""Datasets: loaders for public formats, a synthetic generator, content features, downloads.

>>> import advrec
>>> data = advrec.datasets.synthetic(n_users=200, n_items=100, seed=0)   # no download needed
>>> folder = advrec.datasets.fetch("ml-latest-small")                    # cached after the first call
>>> data = advrec.datasets.load_movielens(folder)
>>> F = advrec.datasets.movielens_item_features(folder, data, kind="genres")

See :mod:`advrec.datasets.loaders` for the formats and id conventions.
"""

from .features import movielens_item_features, movielens_titles
from .fetch import ChecksumError, DownloadError, available_datasets, fetch, get_data_home
from .loaders import (Negatives, find_movielens_ratings, load_lightgcn, load_movielens, load_negatives,
                      load_rating_split, load_sasrec)
from .synthetic import synthetic

__all__ = [
    "synthetic", "load_movielens", "load_sasrec", "load_rating_split", "load_negatives", "Negatives",
    "load_lightgcn", "movielens_item_features", "movielens_titles", "fetch", "available_datasets",
    "get_data_home", "DownloadError", "ChecksumError", "find_movielens_ratings",
]
