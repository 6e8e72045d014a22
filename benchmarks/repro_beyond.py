"""Does adversarial training (APR -> AMF) or an attack change who gets recommended?

For each dataset and seed: BPR pre-training, then the same number of epochs of (a) more BPR
("MF-BPR") and (b) APR ("AMF", eps 0.5, lambda 1) from the same pre-trained model, as in
repro_apr.py. Both are evaluated clean and under FGM, the iterative attack and random noise
(eps 0.5 and 1.0) with accuracy (NDCG, Recall) and beyond-accuracy metrics (coverage, Gini,
entropy, EPC, EFD, ARP, APLT, PopRSP, PopREO) at K = 20 and 100, full ranking, every list metric
from the evaluator's single top-K pass.

Reported:
* clean AMF vs MF-BPR: mean +- sd over seeds of each model, the difference, a paired t-test over
  seeds, and per seed a paired t-test over users for the per-user metrics (EPC, EFD, ARP, APLT, NDCG);
* attacks: the shift (attacked - clean) per model, mean +- sd over seeds and a one-sample t-test;
* nothing is selected on test: epochs are fixed in advance (SETTINGS).

    nice -n 10 python benchmarks/repro_beyond.py --datasets ml-latest-small --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import advrec
from _common import write_result
from repro_apr import load  # the same datasets and splits as the APR reproduction

KS = (20, 100)
METRICS = ("ndcg", "recall", "coverage", "gini", "entropy", "epc", "efd", "arp", "aplt", "pop_rsp", "pop_reo")
PER_USER = ("ndcg", "epc", "efd", "arp", "aplt")
# Fewer epochs than repro_apr.py (which trains to a flat loss), enough for models far above ItemPop.
SETTINGS = {
    "ml-latest-small": dict(pretrain=200, continue_=100),
    "video": dict(pretrain=60, continue_=60),
    "gowalla": dict(pretrain=40, continue_=30),
}


def mean_sd(xs):
    xs = np.asarray(xs, dtype=float)
    return {"mean": float(xs.mean()), "sd": float(xs.std(ddof=1)) if xs.size > 1 else 0.0, "values": xs.tolist()}


def run_seed(name, train, test, seed, args):
    s = SETTINGS[name]
    common = dict(factors=64, lr=0.05, optimizer="adagrad", reg=0.0, num_threads=args.threads, seed=seed,
                  show_progress=False)
    t0 = time.perf_counter()
    bpr = advrec.BPRMF(epochs=s["pretrain"], **common).fit(train)
    bpr_more = advrec.BPRMF(epochs=s["continue_"], **common).fit(train, init=bpr)
    amf = advrec.AMF(epochs=s["continue_"], eps=0.5, reg_adv=1.0, **common).fit(train, init=bpr)
    fit_seconds = time.perf_counter() - t0
    models = {"MF-BPR": bpr_more, "AMF": amf}
    table = advrec.robustness(models, train, test, eps=tuple(args.eps), attacks=tuple(args.attacks), k=KS,
                              metrics=METRICS, seed=seed, num_threads=args.threads, show_progress=False)
    table["seed"] = seed
    per_user = {m: advrec.evaluate(model, train, test, k=KS, metrics=PER_USER, num_threads=args.threads)
                for m, model in models.items()}
    tests = {}
    for metric in per_user["AMF"].per_user:
        t = advrec.stats.paired_ttest(per_user["AMF"], per_user["MF-BPR"], metric)
        tests[metric] = {"mean_difference": t.mean_difference, "statistic": t.statistic, "pvalue": t.pvalue,
                         "n_users": t.n_users}
    pop = advrec.ItemPop().fit(train)
    itempop = advrec.evaluate(pop, train, test, k=KS, metrics=METRICS, num_threads=args.threads).summary
    return table, tests, itempop, fit_seconds


def summarize(tables, per_user_tests, itempop):
    from scipy import stats

    import pandas as pd

    table = pd.concat(tables, ignore_index=True)
    clean = table[table.attack == "none"].pivot_table(index=["seed", "metric"], columns="model", values="value")
    out_clean = {}
    for metric in dict.fromkeys(table.metric):
        sub = clean.xs(metric, level="metric")
        a, b = sub["AMF"].to_numpy(), sub["MF-BPR"].to_numpy()
        diff = a - b
        test = stats.ttest_rel(a, b) if a.size > 1 and np.any(diff != diff[0]) else None
        out_clean[metric] = {"MF-BPR": mean_sd(b), "AMF": mean_sd(a), "AMF_minus_BPR": mean_sd(diff),
                             "relative_change": float(diff.mean() / b.mean()) if b.mean() else float("nan"),
                             "paired_ttest_over_seeds_p": float(test.pvalue) if test is not None else None,
                             "ItemPop": mean_sd([ip[metric] for ip in itempop])}
    shifts = {}
    attacked = table[table.attack != "none"]
    for (model, attack, eps, metric), grp in attacked.groupby(["model", "attack", "eps", "metric"], sort=False):
        x = grp.sort_values("seed")["shift"].to_numpy()
        test = stats.ttest_1samp(x, 0.0) if x.size > 1 and np.std(x) > 0 else None
        shifts.setdefault(model, {}).setdefault(attack, {}).setdefault(f"{eps:g}", {})[metric] = {
            **mean_sd(x), "relative": float(grp["drop"].mean()) * -1.0,
            "ttest_vs_zero_p": float(test.pvalue) if test is not None else None}
    return table, out_clean, shifts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="ml-latest-small")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--eps", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--attacks", nargs="+", default=["fgsm", "iterative", "random"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tag", default="")
    ap.add_argument("--quick", action="store_true", help="2 + 2 epochs, to check the script runs")
    args = ap.parse_args()
    if args.quick:
        for s in SETTINGS.values():
            s.update(pretrain=2, continue_=2)
        args.tag = args.tag or "quick"
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for name in args.datasets.split(","):
        train, test = load(name)
        tables, per_user_tests, itempop, seconds = [], {}, [], []
        for seed in seeds:
            t0, cpu0 = time.perf_counter(), time.process_time()
            table, tests, ip, fit_s = run_seed(name, train, test, seed, args)
            tables.append(table)
            per_user_tests[seed] = tests
            itempop.append(ip)
            seconds.append({"wall": time.perf_counter() - t0, "cpu": time.process_time() - cpu0, "fit": fit_s,
                            "load_average": list(os.getloadavg())})
            c = table[(table.attack == "none")].pivot_table(index="metric", columns="model", values="value")
            print(f"[{name} seed {seed}] " + " | ".join(
                f"{m} BPR {c.loc[m, 'MF-BPR']:.4g} AMF {c.loc[m, 'AMF']:.4g}"
                for m in ("ndcg@20", "coverage@20", "gini@20", "arp@20", "aplt@20", "epc@20")), flush=True)
        table, clean, shifts = summarize(tables, per_user_tests, itempop)
        results[name] = {"settings": SETTINGS[name] | {"eps_train": 0.5, "reg_adv": 1.0, "factors": 64,
                                                       "lr": 0.05, "optimizer": "adagrad"},
                         "sizes": {"n_users": train.n_users, "n_items": train.n_items, "train": len(train),
                                   "test": len(test)},
                         "seeds": seeds, "clean": clean, "attack_shift": shifts,
                         "per_user_paired_ttests": per_user_tests, "seconds": seconds,
                         "table": table.to_dict(orient="records")}
        for metric in ("ndcg@20", "coverage@20", "gini@20", "entropy@20", "epc@20", "efd@20", "arp@20", "aplt@20",
                       "pop_rsp@20", "pop_reo@20", "coverage@100", "arp@100"):
            r = clean[metric]
            print(f"[{name}] {metric:13s} BPR {r['MF-BPR']['mean']:.4g}±{r['MF-BPR']['sd']:.2g}  "
                  f"AMF {r['AMF']['mean']:.4g}±{r['AMF']['sd']:.2g}  diff {r['AMF_minus_BPR']['mean']:+.4g} "
                  f"({100 * r['relative_change']:+.1f}%) p={r['paired_ttest_over_seeds_p']}", flush=True)
    write_result("repro_beyond" + (f"_{args.tag}" if args.tag else ""),
                 {"args": vars(args), "ks": list(KS), "metrics": list(METRICS), "datasets": results})


if __name__ == "__main__":
    main()
