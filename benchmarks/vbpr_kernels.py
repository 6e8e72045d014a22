"""Hogwild per-triple updates vs per-thread mini-batches for VBPR/AMR: speed AND convergence.

Same data (ml-latest-small, leave-one-out by time, MiniLM text features, D = 384), K = 64, Adagrad
lr 0.05. For each kernel: epoch time at 1 and 2 threads (median over epochs) and validation NDCG@10
(999 sampled negatives) after a fixed number of epochs.

    python benchmarks/vbpr_kernels.py [--epochs 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import advrec
from _common import data_dir, median, timed, write_result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batches", default="1,64,512")
    args = ap.parse_args()
    folder = data_dir() / "ml-latest-small"
    data = advrec.datasets.load_movielens(folder)
    F = advrec.features.movielens_text_embeddings(folder, data)
    train, test = advrec.split.leave_one_out(data, by="time")
    proto = advrec.Sampled(n_negatives=999, seed=0)
    rows = []
    for model_name in ("VBPR", "AMR"):
        for bs in [int(b) for b in args.batches.split(",")]:
            for threads in (1, 2):
                kw = dict(factors=64, lr=0.05, batch_size=bs, num_threads=threads, seed=0, show_progress=False)
                label = f"{model_name} batch {bs}, {threads} thread(s)"
                if model_name == "VBPR":
                    m = advrec.VBPR(epochs=args.epochs, **kw)
                    timed(lambda: m.fit(train, item_features=F), threads=threads, label=label)
                    times = [h["seconds"] for h in m.history_]
                else:
                    pre = advrec.VBPR(shared_user=True, item_bias=False, visual_bias=False, epochs=args.epochs, **kw)
                    pre.fit(train, item_features=F)
                    m = advrec.AMR(eps=0.1, epochs=args.epochs, **kw)
                    timed(lambda: m.fit(train, init=pre), threads=threads, label=label)
                    times = [h["seconds"] for h in m.history_ if h["phase"] == "amr"]
                res = advrec.evaluate(m, train, test, k=(10,), metrics=("hr", "ndcg"), protocol=proto).summary
                row = dict(model=model_name, batch_size=bs, threads=threads, epoch_seconds=median(times),
                           samples_per_second=len(train) / median(times), epochs=args.epochs,
                           final_loss=m.history_[-1]["loss"], **res)
                print(row, flush=True)
                rows.append(row)
    write_result("vbpr_kernels", {"data": "ml-latest-small leave-one-out by time, MiniLM features (384)",
                                  "protocol": "sampled 999", "rows": rows})


if __name__ == "__main__":
    main()
