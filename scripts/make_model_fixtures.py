"""Writes one tiny saved model of every registered model class into python/tests/fixtures/.

``python/tests/test_model_files.py`` loads each file and compares its recommendations and scores
with the values recorded here in ``model_files.json``, so a change that breaks reading files
written by an earlier advrec (a renamed parameter, a moved array, a new format without a reader
for the old one) fails a test instead of users' saved models.

Run it only when adding a model class (the test asks for a file of every registered class) or
when deliberately bumping ``FORMAT_VERSION`` (then keep the old files and teach ``load`` to read
them)::

    PYTHONPATH=src python scripts/make_model_fixtures.py

Each file is a few KB: 12 users, 10 items, 2 factors, one or two epochs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import advrec
from advrec.models.base import FORMAT_VERSION, _REGISTRY

OUT = Path(__file__).resolve().parents[1] / "python" / "tests" / "fixtures"
K = 3
SCORED_USERS = [0, 1, 2, 3]


def build(train):
    """A fitted instance of every registered class (fresh fits and fits from init=)."""
    common = dict(num_threads=1, seed=5, show_progress=False)
    mf = dict(init_std=0.3, **common)  # scores well above float32 noise
    F = train.item_features
    bpr = advrec.BPRMF(factors=2, epochs=2, use_bias=True, **mf).fit(train)
    vbpr = advrec.VBPR(factors=2, epochs=2, batch_size=8, **mf).fit(train, item_features=F)
    sas = advrec.SASRec(factors=2, maxlen=3, blocks=1, epochs=2, batch_size=4, **common).fit(train)
    return {
        "BPRMF": bpr,
        "AMF": advrec.AMF(factors=2, epochs=1, use_bias=True, eps=0.5, **mf).fit(train, init=bpr),
        "ItemPop": advrec.ItemPop().fit(train),
        "VBPR": vbpr,
        "AMR": advrec.AMR(factors=2, epochs=1, pretrain_epochs=1, batch_size=8, eps=0.1, **mf).fit(
            train, item_features=F),
        "ContentMF": advrec.ContentMF(factors=2, epochs=2, batch_size=8, visual_bias=True, **mf).fit(
            train, item_features=F),
        "SASRec": sas,
        "ASASRec": advrec.ASASRec(eps=0.5, epochs=1, batch_size=4, **common).fit(train, init=sas),
    }


def main() -> None:
    data = advrec.datasets.synthetic(n_users=12, n_items=10, density=0.3, n_features=3, seed=11)
    train, _ = advrec.split.leave_one_out(data, by="time")
    models = build(train)
    missing = sorted(set(_REGISTRY) - set(models))
    if missing:
        raise SystemExit(f"add a tiny instance of {missing} to build() in {__file__}")
    OUT.mkdir(parents=True, exist_ok=True)
    users = np.arange(train.n_users)
    record = {"format_version": FORMAT_VERSION, "k": K, "scored_users": SCORED_USERS, "models": {}}
    for name, model in models.items():
        path = OUT / f"model_{name}.npz"
        model.save(path)
        ids, scores = model.recommend(users, k=K)
        finite = np.isfinite(scores)
        gaps = np.abs(np.diff(np.where(finite, scores, 0), axis=1))
        scale = np.abs(np.where(finite, scores, 0)).max(axis=1, keepdims=True)
        close = (gaps > 0) & (gaps < 1e-5 * scale) & finite[:, 1:]  # exact ties (ItemPop's counts) are stable
        if np.any(close):
            raise SystemExit(f"{name}: near-tied top-{K} scores make the recorded ranking fragile; change the seed")
        record["models"][name] = {
            "file": path.name,
            "ids": ids.tolist(),
            "scores": [[float(v) if np.isfinite(v) else None for v in row] for row in scores],
            "score": model.score(SCORED_USERS).astype(float).tolist(),
        }
        print(f"{path.relative_to(OUT.parents[2])}: {path.stat().st_size} bytes")
    with open(OUT / "model_files.json", "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
