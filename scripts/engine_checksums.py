"""Checksums of the trained parameters of every model, single-threaded and seeded.

A refactoring of the engine must leave every checksum unchanged: one thread and a fixed seed make
training reproducible bit for bit, so any change in the arithmetic (order of a sum, a fused step
written differently) shows up here. Each entry is the sha256 of the float32 bytes of every
trained array (and of the per-epoch figures the engine reports, rounded to nothing: exact reprs).

Usage::

    PYTHONPATH=src python scripts/engine_checksums.py --out benchmarks/results/engine_checksums.json
    PYTHONPATH=src python scripts/engine_checksums.py --compare benchmarks/results/engine_checksums.json

``--compare`` exits with status 1 when some checksum differs and names the models. A difference
made on purpose is listed, with its reason and size, in ``--explained`` (default: the file
``engine_checksums_explained.json`` beside the compared one); it is reported but does not fail.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from typing import Any, Callable, Dict

import numpy as np

import advrec

# Keys of the per-epoch figures that depend on the clock, not on the arithmetic.
_CLOCK_KEYS = {"seconds"}


def synthetic_data(seed: int = 0):
    """A small interaction set with timestamps and item features (60 users, 80 items), split
    leave-one-out by time: (train, test, features)."""
    rng = np.random.default_rng(seed)
    n_users, n_items, n_features = 60, 80, 12
    users, items, times = [], [], []
    for u in range(n_users):
        n = int(rng.integers(4, 16))
        chosen = rng.choice(n_items, size=n, replace=False)
        users.extend([u] * n)
        items.extend(chosen.tolist())
        times.extend(rng.permutation(n).tolist())
    data = advrec.Interactions.from_arrays(np.array(users), np.array(items), timestamps=np.array(times),
                                           n_users=n_users, n_items=n_items, dense_ids=True)
    features = rng.standard_normal((n_items, n_features)).astype(np.float32)
    train, test = advrec.split.leave_one_out(data, by="time")
    return train, test, features


def _digest(model) -> Dict[str, Any]:
    h = hashlib.sha256()
    names = []
    arrays = {name: getattr(model, name, None) for name in model._array_names}
    adam = getattr(model, "_adam", None)
    if adam:
        arrays.update({f"_adam.{k}": v for k, v in adam.items()})
    for name in sorted(arrays):
        value = arrays[name]
        if value is None:
            continue
        a = np.ascontiguousarray(value)
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
        names.append(name)
    history = [{k: v for k, v in fig.items() if k not in _CLOCK_KEYS} for fig in getattr(model, "history_", [])]
    hist_hash = hashlib.sha256(repr(history).encode()).hexdigest()
    return {"params": h.hexdigest(), "history": hist_hash, "arrays": names,
            "final_loss": history[-1].get("loss") if history else None}


def cases() -> Dict[str, Callable[[Any, np.ndarray], Any]]:
    """name -> function (data, features) -> fitted model. Every model single-threaded, seed 3."""
    common = dict(num_threads=1, seed=3, show_progress=False)
    mf = dict(factors=8, epochs=3, **common)
    content = dict(factors=8, epochs=3, **common)
    seq = dict(factors=8, maxlen=6, blocks=1, heads=2, epochs=2, batch_size=16, **common)
    out: Dict[str, Callable] = {}
    for opt in ("sgd", "adagrad"):
        for bs in (1, 512):
            out[f"BPRMF-{opt}-b{bs}"] = lambda d, F, opt=opt, bs=bs: advrec.BPRMF(
                optimizer=opt, batch_size=bs, lr=0.05, reg=0.01, use_bias=True, reg_bias=0.01, **mf).fit(d)
    for bs in (1, 64):
        for perturb in ("both", "users", "items"):
            out[f"AMF-b{bs}-{perturb}"] = lambda d, F, bs=bs, perturb=perturb: advrec.AMF(
                eps=0.5, reg_adv=1.0, perturb=perturb, batch_size=bs, use_bias=True, reg=0.01,
                pretrain_epochs=1, **mf).fit(d)
    for bs in (1, 32):
        out[f"VBPR-b{bs}"] = lambda d, F, bs=bs: advrec.VBPR(
            visual_factors=6, batch_size=bs, reg=0.01, reg_projection=0.01, **content).fit(d, item_features=F)
        out[f"AMR-b{bs}"] = lambda d, F, bs=bs: advrec.AMR(
            eps=0.1, reg_adv=1.0, batch_size=bs, pretrain_epochs=1, reg=0.01, **content).fit(d, item_features=F)
        out[f"ContentMF-b{bs}"] = lambda d, F, bs=bs: advrec.ContentMF(
            batch_size=bs, visual_bias=True, **content).fit(d, item_features=F)
    out["VBPR-sgd-b1"] = lambda d, F: advrec.VBPR(visual_factors=6, batch_size=1, optimizer="sgd",
                                                   **content).fit(d, item_features=F)
    out["SASRec"] = lambda d, F: advrec.SASRec(**seq).fit(d)
    out["SASRec-sync-lazy"] = lambda d, F: advrec.SASRec(sync=True, lazy_adam=True, **seq).fit(d)
    for perturb in ("paper", "output"):
        out[f"ASASRec-{perturb}"] = lambda d, F, perturb=perturb: advrec.ASASRec(
            eps=0.5, reg_adv=1.0, perturb=perturb, pretrain_epochs=1, **seq).fit(d)
    return out


def attack_digests(data, features) -> Dict[str, Any]:
    """The attack kernels (FGM normalisation and projection) on fixed inputs."""
    from advrec._engine import core

    rng = np.random.default_rng(7)
    out = {}
    for sign in (False, True):
        m = rng.standard_normal((50, 9)).astype(np.float32)
        m[3] = 0.0
        core.fgm_normalise_rows(m, 0.3, sign, 1)
        out[f"fgm_normalise_rows-sign{int(sign)}"] = hashlib.sha256(m.tobytes()).hexdigest()
    for linf in (False, True):
        m = rng.standard_normal((50, 9)).astype(np.float32)
        core.project_rows(m, 0.7, linf, 1)
        out[f"project_rows-linf{int(linf)}"] = hashlib.sha256(m.tobytes()).hexdigest()
    return out


def downstream_digests(models: Dict[str, Any], data, test) -> Dict[str, Any]:
    """What trained models feed: loss gradients (through an iterative attack), top-k lists and
    evaluation with both protocols, for one model of each engine family."""
    out = {}
    sampled = advrec.Sampled(n_negatives=20, seed=1)
    for name in ("BPRMF-adagrad-b1", "VBPR-b32", "AMR-b32", "ContentMF-b1", "SASRec", "ASASRec-output"):
        m = models[name]
        deltas = advrec.attacks.iterative_perturbation(m, data, eps=0.3, steps=3, seed=2, num_threads=1)
        h = hashlib.sha256()
        for k in sorted(deltas):
            h.update(k.encode())
            h.update(np.ascontiguousarray(deltas[k]).tobytes())
        out[f"{name}/iterative_attack"] = h.hexdigest()
        ids, scores = m.recommend(np.arange(data.n_users), k=7, exclude_seen=True, num_threads=1)
        out[f"{name}/recommend"] = hashlib.sha256(ids.tobytes() + scores.tobytes()).hexdigest()
        for proto in ("full", sampled):
            res = advrec.evaluate(m, data, test, k=(3, 10), metrics=("hr", "ndcg", "recall", "mrr", "auc"),
                                  protocol=proto, num_threads=1)
            h = hashlib.sha256()
            for k in sorted(res.per_user):
                h.update(k.encode())
                h.update(res.per_user[k].tobytes())
            out[f"{name}/evaluate-{'full' if proto == 'full' else 'sampled'}"] = h.hexdigest()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="write the checksums (JSON) here")
    ap.add_argument("--compare", help="compare with this JSON; exit 1 on any unexplained difference")
    ap.add_argument("--explained", help="JSON {group/name: reason} of intended differences")
    args = ap.parse_args(argv)
    data, test, features = synthetic_data()
    result: Dict[str, Any] = {"engine_variant": advrec._engine.core.variant, "models": {}}
    fitted = {}
    for name, fit in cases().items():
        fitted[name] = fit(data, features)
        result["models"][name] = _digest(fitted[name])
    result["attacks"] = attack_digests(data, features)
    result["downstream"] = downstream_digests(fitted, data, test)
    result["conditions"] = ("checksums of single-thread seeded training only: no timings, so the machine's load "
                            f"(load average {os.getloadavg()[0]:.1f} now) does not affect these values")
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    if args.compare:
        with open(args.compare) as fh:
            ref = json.load(fh)
        explained_path = args.explained or os.path.join(os.path.dirname(args.compare),
                                                        "engine_checksums_explained.json")
        explained = {}
        if os.path.exists(explained_path):
            with open(explained_path) as fh:
                explained = json.load(fh)["differences"]
        bad, known = [], []
        for group in ("models", "attacks", "downstream"):
            for name, want in ref[group].items():
                got = result[group].get(name)
                if got != want:
                    (known if f"{group}/{name}" in explained else bad).append(f"{group}/{name}")
        for name in known:
            print(f"differs as explained: {name}: {explained[name]}")
        for name in bad:
            print(f"DIFFERS: {name}")
        total = sum(len(ref[g]) for g in ("models", "attacks", "downstream"))
        print(f"{len(bad) + len(known)} of {total} checksums differ ({len(known)} explained)")
        return 1 if bad else 0
    if not args.out:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
