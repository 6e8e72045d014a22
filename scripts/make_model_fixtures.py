"""Writes a tiny saved model of every registered model class into python/tests/fixtures/.

``python/tests/test_model_files.py`` loads each file and compares its recommendations and scores
with the values recorded here in ``model_files.json``, so a change that breaks reading files
written by an earlier advrec (a renamed parameter, a moved array, a new format without a reader
for the old one) fails a test instead of users' saved models.

Existing files are never rewritten (they stand for what users have on disk): the script adds the
classes that have no file yet, so run it after registering a new model class (the test asks for a
file of every registered class)::

    PYTHONPATH=src python scripts/make_model_fixtures.py          # add missing classes
    PYTHONPATH=src python scripts/make_model_fixtures.py --all    # rewrite all (format bump only)

Every class is built the same way, from the tiny hyper-parameters below that its ``__init__``
accepts, and fitted on a 12-user synthetic split (content models get its item features). Each file
is a few KB.
"""

from __future__ import annotations

import argparse
import inspect
import json
import warnings
from pathlib import Path

import numpy as np

import advrec
from advrec.models.base import FORMAT_VERSION, _REGISTRY

OUT = Path(__file__).resolve().parents[1] / "python" / "tests" / "fixtures"
RECORD = OUT / "model_files.json"
K = 3
SCORED_USERS = [0, 1, 2, 3]
#: hyper-parameters of the tiny models, for the classes whose __init__ takes them
TINY = dict(factors=2, epochs=2, maxlen=3, blocks=1, heads=1, batch_size=8, init_std=0.3, num_threads=1,
            show_progress=False)


def tiny_model(cls, train, seed: int):
    accepted = inspect.signature(cls.__init__).parameters
    if "user_factors" in accepted:  # a model built from given factors (FactorModel): take a tiny BPR-MF's
        source = tiny_model(advrec.BPRMF, train, seed)
        return cls(source.user_factors, source.item_factors).fit(train)
    params = {k: v for k, v in {**TINY, "seed": seed}.items() if k in accepted}
    model = cls(**params)
    inputs = inspect.signature(getattr(model, "_fit_inputs", model.fit)).parameters
    kwargs = {"item_features": train.item_features} if "item_features" in inputs else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eps-vs-norm warnings of a 2-epoch model are expected
        return model.fit(train, **kwargs)


def fragile(scores: np.ndarray) -> bool:
    """Near-tied (but not exactly tied) top-K scores: a ranking another build could reorder."""
    finite = np.isfinite(scores)
    values = np.where(finite, scores, 0)
    gaps = np.abs(np.diff(values, axis=1))
    scale = np.abs(values).max(axis=1, keepdims=True)
    return bool(np.any((gaps > 0) & (gaps < 1e-5 * scale) & finite[:, 1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="rewrite the files of every class")
    args = parser.parse_args()
    data = advrec.datasets.synthetic(n_users=12, n_items=10, density=0.3, n_features=3, seed=11)
    train, _ = advrec.split.leave_one_out(data, by="time")
    record = {"format_version": FORMAT_VERSION, "k": K, "scored_users": SCORED_USERS, "models": {}}
    if RECORD.exists() and not args.all:
        record = json.loads(RECORD.read_text(encoding="utf-8"))
        if record["format_version"] != FORMAT_VERSION:
            raise SystemExit("the recorded files are of another format version: keep them, and record the new "
                             "version's files beside them (extend this script and the test)")
    OUT.mkdir(parents=True, exist_ok=True)
    users = np.arange(train.n_users)
    for name, cls in _REGISTRY.items():
        if name in record["models"]:
            continue
        for seed in range(5, 25):
            model = tiny_model(cls, train, seed)
            ids, scores = model.recommend(users, k=K)
            if not fragile(scores):
                break
        else:
            raise SystemExit(f"{name}: every seed gives near-tied top-{K} scores; change TINY")
        path = OUT / f"model_{name}.npz"
        model.save(path)
        record["models"][name] = {
            "file": path.name,
            "ids": ids.tolist(),
            "scores": [[float(v) if np.isfinite(v) else None for v in row] for row in scores],
            "score": model.score(SCORED_USERS).astype(float).tolist(),
        }
        print(f"{path.relative_to(OUT.parents[2])}: {path.stat().st_size} bytes")
    with open(RECORD, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
