"""AMF (APR) epoch cost relative to a BPR-MF epoch, Gowalla, same engine, data and threads.

Both continue from the same BPR-MF model (2 epochs), interleaved over seeds; medians of the
per-epoch times that `history_` records; each fit's wall and CPU time and the load around it are
logged in the JSON (`conditions`). Target (issue 14): an AMF epoch <= 1.3x a BPR epoch.

    python benchmarks/bench_amf_epoch.py [--repeats 3] [--threads 1,2] [--optimizer adagrad]
"""

from __future__ import annotations

import argparse

import numpy as np

import advrec
from _common import data_dir, timed, write_result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--optimizer", default="adagrad")
    args = ap.parse_args()
    train, _ = advrec.datasets.load_lightgcn(data_dir() / "gowalla-lightgcn")
    rows = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        common = dict(factors=64, optimizer=args.optimizer, num_threads=threads, show_progress=False)
        start = advrec.BPRMF(epochs=2, seed=0, **common).fit(train)
        bpr, amf = [], []
        for seed in range(args.repeats):
            _, b = timed(lambda: advrec.BPRMF(epochs=args.epochs, seed=seed, **common).fit(train, init=start),
                         threads=threads, label=f"bpr/{threads}")
            bpr += [h["seconds"] for h in b.history_[-args.epochs:]]
            _, a = timed(lambda: advrec.AMF(epochs=args.epochs, eps=0.5, reg_adv=1.0, seed=seed, **common)
                         .fit(train, init=start), threads=threads, label=f"amf/{threads}")
            amf += [h["seconds"] for h in a.history_[-args.epochs:]]
        rows[str(threads)] = {"bpr_epoch_seconds": bpr, "amf_epoch_seconds": amf,
                              "bpr_median": float(np.median(bpr)), "amf_median": float(np.median(amf)),
                              "amf_over_bpr": float(np.median(amf) / np.median(bpr))}
        r = rows[str(threads)]
        print(f"{threads} thread(s): BPR {r['bpr_median']:.3f} s/epoch, AMF {r['amf_median']:.3f} s/epoch: "
              f"{r['amf_over_bpr']:.2f}x")
    write_result("amf_epoch_gowalla", {"settings": vars(args), "results": rows})


if __name__ == "__main__":
    main()
