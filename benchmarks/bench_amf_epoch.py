"""AMF (APR) epoch cost relative to a BPR-MF epoch, Gowalla, same engine, data and threads.

Both continue from the same BPR-MF model (2 epochs), interleaved over seeds; medians of the
per-epoch times that `history_` records. Target: an AMF epoch <= 2x a BPR epoch (papers: ~3x).

    python benchmarks/bench_amf_epoch.py [--repeats 3] [--threads 2] [--optimizer adagrad]
"""

from __future__ import annotations

import argparse

import numpy as np

import advrec
from _common import data_dir, write_result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--optimizer", default="adagrad")
    args = ap.parse_args()
    train, _ = advrec.datasets.load_lightgcn(data_dir() / "gowalla-lightgcn")
    common = dict(factors=64, optimizer=args.optimizer, num_threads=args.threads, show_progress=False)
    start = advrec.BPRMF(epochs=2, seed=0, **common).fit(train)
    bpr, amf = [], []
    for seed in range(args.repeats):
        b = advrec.BPRMF(epochs=args.epochs, seed=seed, **common).fit(train, init=start)
        bpr += [h["seconds"] for h in b.history_[-args.epochs:]]
        a = advrec.AMF(epochs=args.epochs, eps=0.5, reg_adv=1.0, seed=seed, **common).fit(train, init=start)
        amf += [h["seconds"] for h in a.history_[-args.epochs:]]
    out = {"settings": vars(args), "bpr_epoch_seconds": bpr, "amf_epoch_seconds": amf,
           "bpr_median": float(np.median(bpr)), "amf_median": float(np.median(amf)),
           "amf_over_bpr": float(np.median(amf) / np.median(bpr))}
    print(f"BPR {out['bpr_median']:.3f} s/epoch, AMF {out['amf_median']:.3f} s/epoch: {out['amf_over_bpr']:.2f}x")
    write_result("amf_epoch_gowalla", out)


if __name__ == "__main__":
    main()
