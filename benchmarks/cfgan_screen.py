"""CFGAN on real data: a validation-only screen of hyper-parameters, with the diagnostic that
explains where its ranking comes from.

ml-latest-small, the split of ``repro_cfgan.py`` (leave-one-out by time, each user's second-latest
item as validation; test is never loaded into a metric here). For every configuration (JSON keyword
arguments over advrec.CFGAN's defaults) the model trains in chunks of ``--every`` epochs and after
each chunk reports on VALIDATION:

* ``full``: NDCG@10 of CFGAN's scores;
* ``common_only``: NDCG@10 when every user is scored with the mean user representation, i.e. the
  user-independent part of the scores (a learned popularity ranking);
* ``personal_var_share``: the variance of the scores across users (per item, averaged) over their
  variance across items (per user, averaged): 0 when the generator outputs one vector for all.

    nice -n 19 python benchmarks/cfgan_screen.py --configs '[{}, {"optimizer": "adagrad", "lr": 0.05}]'
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import advrec
from _common import dot_model, write_result
from repro_apr import load


def _ndcg(model, train, valid):
    return advrec.evaluate(model, train, valid, k=10, metrics=("ndcg",), show_progress=False,
                           num_threads=1).summary["ndcg@10"]


def diagnose(model, train, valid):
    U, V = model._scoring_factors(np.arange(train.n_users))
    S = U @ V.T
    share = float(S.var(axis=0).mean() / S.var(axis=1).mean())
    common = np.repeat(U.mean(axis=0, keepdims=True), U.shape[0], axis=0)
    return {"full": _ndcg(model, train, valid), "common_only": _ndcg(dot_model(common, V, train), train, valid),
            "personal_var_share": share}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="[{}]", help="JSON list of CFGAN keyword arguments")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    train, valid, _, _ = load("ml-latest-small", args.seed)
    out = {"args": vars(args), "itempop_valid_ndcg@10": _ndcg(advrec.ItemPop().fit(train), train, valid),
           "curves": []}
    for kw in json.loads(args.configs):
        curve, model = [], None
        for epoch in range(args.every, args.epochs + 1, args.every):
            t = time.process_time()
            fresh = advrec.CFGAN(**{"epochs": args.every, "num_threads": 1, "seed": args.seed, "show_progress": False,
                                    **kw})
            model = fresh.fit(train, init=model) if model is not None else fresh.fit(train)
            h = model.history_[-1]
            row = {"epoch": epoch, "cpu_s": time.process_time() - t, **diagnose(model, train, valid),
                   "d_accuracy": h.get("d_accuracy"), "g_fooled": h.get("g_fooled")}
            curve.append(row)
            print(json.dumps({"config": kw, **row}), flush=True)
        out["curves"].append({"config": kw, "curve": curve,
                              "best_full": max(r["full"] for r in curve)})
        write_result("cfgan_screen_ml-latest-small" + (f"_{args.tag}" if args.tag else ""), out)


if __name__ == "__main__":
    main()
