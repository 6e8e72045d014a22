"""Single-thread seeded checksums of trained parameters, for "the refactor changes nothing" checks.

Trains every model family on a small synthetic split with ``num_threads=1`` and fixed seeds (fresh
fits, fits from ``init=``, explicit clean pre-training within one fit, ``partial_fit``), runs the
attacks, and prints one SHA-256 per case over every parameter array (``_array_names``) plus the top-10
recommendations. Run it on two builds and diff the outputs::

    PYTHONPATH=src python scripts/param_checksums.py > before.txt   # on the old tree
    PYTHONPATH=src python scripts/param_checksums.py > after.txt    # on the new tree
    diff before.txt after.txt                                      # empty: bit-identical

Takes a few seconds; nothing is written to disk.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

import advrec

warnings.simplefilter("ignore")  # eps-vs-norm and collapse warnings of these tiny runs are expected


def digest(model) -> str:
    h = hashlib.sha256()
    for name in type(model)._array_names:
        value = getattr(model, name, None)
        h.update(name.encode())
        if value is not None:
            h.update(np.ascontiguousarray(value).tobytes())
    ids, scores = model.recommend(np.arange(model.n_users), k=10)
    h.update(ids.tobytes())
    h.update(scores.tobytes())
    return h.hexdigest()[:16]


def main() -> None:
    data = advrec.datasets.synthetic(n_users=120, n_items=80, density=0.08, n_features=8, seed=3)
    train, _ = advrec.split.leave_one_out(data, by="time")
    F = train.item_features
    common = dict(num_threads=1, seed=7, show_progress=False)
    mf = dict(factors=8, epochs=3, **common)
    vb = dict(factors=8, epochs=2, batch_size=16, **common)
    sr = dict(factors=8, maxlen=6, blocks=1, heads=1, epochs=2, batch_size=16, **common)
    cases = {}
    bpr = advrec.BPRMF(**mf).fit(train)
    cases["BPRMF"] = bpr
    cases["BPRMF batch"] = advrec.BPRMF(batch_size=8, use_bias=True, **mf).fit(train)
    cases["AMF init"] = advrec.AMF(eps=0.5, **mf).fit(train, init=bpr)
    cases["AMF pretrain=2"] = advrec.AMF(eps=0.5, pretrain_epochs=2, **mf).fit(train)
    cases["AMF pretrain=0"] = advrec.AMF(eps=0.5, pretrain_epochs=0, **mf).fit(train)
    cases["AMF default"] = advrec.AMF(**mf).fit(train)
    cases["AMF eps_relative"] = advrec.AMF(eps=None, eps_relative=0.2, perturb="items", **mf).fit(train)
    cases["AMF partial_fit"] = advrec.AMF(eps=0.5, pretrain_epochs=1, **mf).fit(train).partial_fit(train, epochs=2)
    vbpr = advrec.VBPR(shared_user=True, item_bias=False, visual_bias=False, **vb).fit(train, item_features=F)
    cases["VBPR"] = advrec.VBPR(**vb).fit(train, item_features=F)
    cases["VBPR from BPRMF"] = advrec.VBPR(**vb).fit(train, item_features=F, init=bpr)
    cases["ContentMF"] = advrec.ContentMF(**vb).fit(train, item_features=F)
    cases["AMR init"] = advrec.AMR(eps=0.1, **vb).fit(train, item_features=F, init=vbpr)
    cases["AMR pretrain=1"] = advrec.AMR(eps=0.1, pretrain_epochs=1, **vb).fit(train, item_features=F)
    sas = advrec.SASRec(**sr).fit(train)
    cases["SASRec"] = sas
    cases["ASASRec init"] = advrec.ASASRec(eps=0.5, **sr).fit(train, init=sas)
    cases["ASASRec pretrain=1"] = advrec.ASASRec(eps=0.5, pretrain_epochs=1, **sr).fit(train)
    cases["ASASRec output"] = advrec.ASASRec(eps=0.5, perturb="output", pretrain_epochs=0, **sr).fit(train)
    cases["ASASRec default"] = advrec.ASASRec(**sr).fit(train)
    cases["AMR default"] = advrec.AMR(**vb).fit(train, item_features=F)
    cases["ItemPop"] = advrec.ItemPop().fit(train)
    for name in ("BPRMF", "VBPR", "SASRec"):
        m = cases[name]
        cases[f"{name} fgsm"] = advrec.attacks.fgsm(m, train, eps=0.5, num_threads=1)
        cases[f"{name} iterative"] = advrec.attacks.iterative(m, train, eps=0.5, steps=2, num_threads=1)
        cases[f"{name} random"] = advrec.attacks.random_noise(m, eps=0.5, seed=1)
    for name, model in cases.items():
        print(f"{name:24s} {digest(model)}")


if __name__ == "__main__":
    main()
