"""A/B timing of two builds of the engine on the workloads of bench_bpr.py, bench_amf_epoch.py,
bench_sasrec_epoch.py and bench_eval.py (small epoch counts, one thread), interleaved.

Each round starts one process per build (order alternating between rounds); a process loads the
data once and times every workload with its CPU time (one thread: CPU time is the work done, and
is much less sensitive than wall time to other processes sharing the machine). The ratio reported
is new / old of the per-workload medians; the load average is recorded at every round.

    python benchmarks/ab_engine.py --old /path/to/old/checkout --new . [--rounds 5]

Each checkout must have its extension built next to its sources (scripts/dev-build.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

WORKER = r'''
import json, sys, time
import numpy as np
import advrec
from pathlib import Path
root = Path(sys.argv[1])
gow, _ = advrec.datasets.load_lightgcn(root / "gowalla-lightgcn")
_, gow_test = advrec.datasets.load_lightgcn(root / "gowalla-lightgcn")
vid = root / "amazon-video-sasrec"
video, _ = advrec.datasets.load_rating_split(vid / "Video.train.rating", vid / "Video.test.rating")
out = {}
def cpu(name, fn):
    t0, w0 = time.process_time(), time.perf_counter()
    r = fn()
    out[name] = {"cpu": time.process_time() - t0, "wall": time.perf_counter() - w0}
    return r
common = dict(factors=64, num_threads=1, show_progress=False, seed=0)
start = advrec.BPRMF(epochs=1, **common).fit(gow)
cpu("bpr_sgd_epoch", lambda: advrec.BPRMF(epochs=1, optimizer="sgd", use_bias=True, lr=0.05, reg=1e-4, **common).fit(gow))
cpu("bpr_adagrad_epoch", lambda: advrec.BPRMF(epochs=1, use_bias=True, reg=1e-4, **common).fit(gow))
cpu("amf_epoch", lambda: advrec.AMF(epochs=1, eps=0.5, reg_adv=1.0, **common).fit(gow, init=start))
cpu("amf_batch512_epoch", lambda: advrec.AMF(epochs=1, eps=0.5, reg_adv=1.0, batch_size=512, **common).fit(gow, init=start))
cpu("eval_full_recall_ndcg", lambda: advrec.evaluate(start, gow, gow_test, k=20, metrics=("recall", "ndcg"), num_threads=1))
kw = dict(factors=50, maxlen=50, blocks=2, heads=1, dropout=0.5, lr=0.001, batch_size=128, lazy_adam=True,
          num_threads=1, seed=0, show_progress=False)
cpu("sasrec_epoch", lambda: advrec.SASRec(epochs=1, **kw).fit(video))
cpu("asasrec_paper_epoch", lambda: advrec.ASASRec(eps=0.25, perturb="paper", epochs=1, **kw).fit(video))
cpu("asasrec_output_epoch", lambda: advrec.ASASRec(eps=0.25, perturb="output", epochs=1, **kw).fit(video))
print(json.dumps(out))
'''


def run(checkout: str, data: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.abspath(checkout), "src"), OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-c", WORKER, data], env=env, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--data", default=os.environ.get("ADVREC_DATA_DIR", "/work/shared/data"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "ab_engine.json"))
    args = ap.parse_args()
    rounds = []
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        rec = {"loadavg_before": os.getloadavg()}
        for which in order:
            rec[which] = run(getattr(args, which), args.data)
        rec["loadavg_after"] = os.getloadavg()
        rounds.append(rec)
        print(f"round {r}: load {rec['loadavg_before'][0]:.1f} " +
              ", ".join(f"{k} {rec['new'][k]['cpu'] / rec['old'][k]['cpu']:.3f}" for k in rec["old"]), flush=True)
    import statistics

    summary = {}
    for k in rounds[0]["old"]:
        old = [x["old"][k]["cpu"] for x in rounds]
        new = [x["new"][k]["cpu"] for x in rounds]
        summary[k] = {"old_cpu_median": statistics.median(old), "new_cpu_median": statistics.median(new),
                      "ratio_new_over_old": statistics.median(new) / statistics.median(old),
                      "paired_ratios": [n / o for n, o in zip(new, old)]}
    payload = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new), "rounds": rounds,
               "summary": summary, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with open(args.out, "w") as fh:
        json.dump(payload, fh, indent=2)
    for k, v in summary.items():
        print(f"{k}: new/old = {v['ratio_new_over_old']:.3f} (old {v['old_cpu_median']:.2f}s, "
              f"new {v['new_cpu_median']:.2f}s CPU)")


if __name__ == "__main__":
    main()
