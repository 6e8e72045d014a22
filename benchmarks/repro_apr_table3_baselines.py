"""APR Table 3 baseline rows (CDAE, IRGAN; CFGAN as an extra row) next to ItemPop and MF-BPR, multi-seed.

The APR paper (Table 3, Gowalla) reports HR@100: ItemPop 0.1560, MF-BPR 0.5072, CDAE 0.5483,
IRGAN 0.5180. We run on the splits we have (Video: the SAO split; Gowalla: the LightGCN 80/20
split, not the APR paper's leave-one-out split), full ranking over every item not in the user's
training data, HR/NDCG@{50,100}. Every model trains for a FIXED number of epochs given below (no
selection on test, no early stopping); IRGAN starts from the MF-BPR model of the same seed (the
paper pre-trains its players). Hyper-parameters are the models' defaults unless listed: none was
tuned on the test data, and none was tuned much at all (time) - read the rows as "our
implementations at default settings", not as tuned baselines.

For each seed the script also runs a paired t-test of each model against MF-BPR on per-user
NDCG@100 (advrec.stats.paired_ttest). The JSON records load average and CPU time per model.

    nice -n 10 python benchmarks/repro_apr_table3_baselines.py --datasets video --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import advrec
from _common import write_result
from repro_apr import load  # the same dataset loaders (video, gowalla, ml-latest-small)

KS = (50, 100)
METRICS = ("hr", "ndcg")

EPOCHS = {
    "video": dict(bpr=60, cdae=30, irgan=1, cfgan=10),
    "gowalla": dict(bpr=80, cdae=20, irgan=2, cfgan=5),
}


def run(name, models, seeds, threads, quick):
    train, test = load(name)
    ep = EPOCHS[name] if not quick else dict(bpr=3, cdae=3, irgan=1, cfgan=1)
    rows = {}
    per_user = {}
    for seed in seeds:
        common = dict(num_threads=threads, seed=seed, show_progress=False)
        fitted = {}

        def timed_fit(label, make):
            load0 = os.getloadavg()
            cpu0, t0 = time.process_time(), time.perf_counter()
            model = make()
            wall = time.perf_counter() - t0
            res = advrec.evaluate(model, train, test, k=KS, metrics=METRICS, show_progress=False)
            rows.setdefault(label, []).append({"seed": seed, **{k: float(v) for k, v in res.summary.items()},
                                               "fit_seconds": wall, "cpu_seconds": time.process_time() - cpu0,
                                               "loadavg_before": load0, "loadavg_after": os.getloadavg()})
            per_user[(label, seed)] = res
            fitted[label] = model
            print(f"{name} seed {seed} {label}: " + ", ".join(f"{k} {v:.4f}" for k, v in res.summary.items()) +
                  f" ({wall:.0f} s)", flush=True)

        if seed == seeds[0]:
            timed_fit("ItemPop", lambda: advrec.ItemPop().fit(train))
        timed_fit("MF-BPR", lambda: advrec.BPRMF(factors=64, epochs=ep["bpr"], **common).fit(train))
        if "cdae" in models:
            timed_fit("CDAE", lambda: advrec.CDAE(factors=64, epochs=ep["cdae"], **common).fit(train))
        if "irgan" in models:
            timed_fit("IRGAN", lambda: advrec.IRGAN(factors=64, epochs=ep["irgan"], **common).fit(
                train, init=fitted["MF-BPR"]))
        if "cfgan" in models:
            timed_fit("CFGAN", lambda: advrec.CFGAN(hidden=64, epochs=ep["cfgan"], **common).fit(train))
        for label in fitted:
            if label in ("MF-BPR", "ItemPop"):
                continue
            t = advrec.stats.paired_ttest(per_user[(label, seed)], per_user[("MF-BPR", seed)], "ndcg@100")
            rows[label][-1]["ttest_vs_mfbpr_ndcg@100"] = {"statistic": t.statistic, "pvalue": t.pvalue,
                                                          "mean_difference": t.mean_difference,
                                                          "n_users": t.n_users}
    summary = {}
    for label, rs in rows.items():
        summary[label] = {m: {"mean": float(np.mean([r[m] for r in rs])), "sd": float(np.std([r[m] for r in rs], ddof=1))
                              if len(rs) > 1 else 0.0, "n_seeds": len(rs)}
                          for m in (f"{a}@{k}" for a in METRICS for k in KS)}
    return {"epochs": ep, "n_users": train.n_users, "n_items": train.n_items, "train_pairs": len(train),
            "summary": summary, "runs": rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="video")
    ap.add_argument("--models", default="cdae,irgan")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    out = {}
    for name in args.datasets.split(","):
        out[name] = run(name, models, seeds, args.threads, args.quick)
    write_result("repro_apr_table3_baselines" + ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else ""),
                 {"args": vars(args), "datasets": out})


if __name__ == "__main__":
    main()
