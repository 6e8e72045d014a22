"""CFGAN (Chae et al., CIKM 2018) on real data against ItemPop and MF-BPR, several seeds, every epoch
count chosen on validation.

Split (``repro_apr.load``): ml-latest-small, leave-one-out by time with each user's second-latest
item as validation. Each model fits on ``train`` and stops on validation NDCG@10
(``fit(eval_set=, patience=)``, best epoch restored); test is full ranking over the items in
neither train nor validation, HR/NDCG@{10,20}. CFGAN uses its defaults (see advrec.CFGAN for how
they were set) updated by ``--cfgan`` (JSON keyword arguments; choose them on validation, e.g.
with ``cfgan_screen.py``, never on test); MF-BPR the repository's settings (64 factors, AdaGrad
0.05). Per seed a paired t-test over users (CFGAN vs each baseline); across seeds mean +- sd and a
paired t-test over the seeds' means (``_repro.compare``).

    nice -n 19 python benchmarks/repro_cfgan.py --seeds 0,1,2 [--cfgan '{"optimizer": "adagrad", "lr": 0.05}']

Seeds as separate processes, then merged:

    nice -n 19 python benchmarks/repro_cfgan.py --seeds 0 --tag s0   # likewise s1, s2
    python benchmarks/repro_cfgan.py --combine s0,s1,s2
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import advrec
from _common import write_result
from _repro import Clock, claim_from_seeds, combine_runs, describe, mean_sd
from repro_apr import load

KS = (10, 20)
MONITOR = "ndcg@10"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ml-latest-small")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cfgan-max-epochs", type=int, default=80)
    ap.add_argument("--cfgan", default="{}", help="CFGAN keyword arguments (JSON) over its defaults")
    ap.add_argument("--tag", default="", help="suffix of the JSON name (seeds run as separate processes)")
    ap.add_argument("--combine", default="", help="merge the JSON of these tags (comma-separated) and stop")
    args = ap.parse_args()
    prefix = f"repro_cfgan_{args.dataset}"
    if args.combine:
        merged = combine_runs(prefix, args.combine.split(","), "")
        for other in ("ItemPop", "MF-BPR"):
            print(describe("CFGAN", other, merged["claims"][f"CFGAN_vs_{other}"]))
        return
    cfgan_kwargs = json.loads(args.cfgan)
    clock = Clock()
    runs, tests = {"ItemPop": [], "MF-BPR": [], "CFGAN": []}, []
    for seed in (int(s) for s in args.seeds.split(",")):
        train, valid, train_full, test = load(args.dataset, seed)
        common = dict(num_threads=args.threads, seed=seed, show_progress=False)

        def select(every, patience):
            return dict(eval_set=(valid, 10), eval_every=every, patience=patience, eval_metrics=("ndcg",),
                        monitor=MONITOR)

        models = {
            "ItemPop": advrec.ItemPop().fit(train_full),
            "MF-BPR": advrec.BPRMF(factors=64, lr=0.05, optimizer="adagrad", epochs=400, **common).fit(
                train, **select(10, 3)),
            "CFGAN": advrec.CFGAN(**{"epochs": args.cfgan_max_epochs, **common, **cfgan_kwargs}).fit(
                train, **select(10, 2)),
        }
        res = {name: advrec.evaluate(m, train_full, test, k=KS, metrics=("hr", "ndcg"), num_threads=args.threads,
                                     show_progress=False) for name, m in models.items()}
        for name, m in models.items():
            runs[name].append({"seed": seed, **res[name].summary,
                               "best_epoch": getattr(m, "best_epoch_", None),
                               "best_validation": float(np.nan if getattr(m, "best_score_", None) is None
                                                        else m.best_score_)})
        per_seed = {"seed": seed}
        for other in ("ItemPop", "MF-BPR"):
            t = advrec.stats.paired_ttest(res["CFGAN"], res[other], MONITOR)
            per_seed[f"CFGAN_vs_{other}"] = {"mean_difference": t.mean_difference, "p_users": t.pvalue,
                                             "a": res["CFGAN"].summary[MONITOR], "b": res[other].summary[MONITOR],
                                             "relative": res["CFGAN"].summary[MONITOR] / res[other].summary[MONITOR] - 1,
                                             "t_users": t.statistic, "n_users": t.n_users}
        tests.append(per_seed)
        print(f"[seed {seed}] " + " | ".join(f"{n} ndcg@10 {res[n].summary['ndcg@10']:.4f} hr@10 "
                                             f"{res[n].summary['hr@10']:.4f}" for n in res) +
              f" | CFGAN best epoch {models['CFGAN'].best_epoch_}", flush=True)
        # Written after every seed, so a cut-off run leaves the seeds it finished.
        summary = {name: {m: mean_sd([r[m] for r in rs]) for m in ("hr@10", "ndcg@10", "hr@20", "ndcg@20")}
                   for name, rs in runs.items()}
        claims = {f"CFGAN_vs_{o}": claim_from_seeds(MONITOR, [t[f"CFGAN_vs_{o}"] for t in tests])
                  for o in ("ItemPop", "MF-BPR")}
        write_result(prefix + (f"_{args.tag}" if args.tag else ""),
                     {"args": vars(args), "cfgan_params": {k: v for k, v in models["CFGAN"].get_params().items()
                                                           if k not in ("show_progress",)},
                      "summary": summary, "claims": claims, "runs": runs, "paired_tests": tests,
                      "time": clock.report()})
    for name, row in summary.items():
        print(f"{name:8s} ndcg@10 {row['ndcg@10']['mean']:.4f} ± {row['ndcg@10']['sd']:.4f}  "
              f"hr@10 {row['hr@10']['mean']:.4f} ± {row['hr@10']['sd']:.4f}")
    for name, claim in claims.items():
        print(describe("CFGAN", name.split("_vs_")[1], claim))


if __name__ == "__main__":
    main()
