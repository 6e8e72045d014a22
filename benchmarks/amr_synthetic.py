"""Controlled experiment: when does AMR beat VBPR? Preference driven by item features that are
observed with growing noise.

Data: ``advrec.datasets.synthetic`` plants user and item factors P, Q; interactions are sampled
from ``softmax(affinity * P Q^T / sqrt(f) + popularity bias)``; each item's content features are
``Q W / sqrt(f) + feature_noise * N(0, 1)`` — a linear view of exactly the item factors that drive
preference, observed with noise of standard deviation ``feature_noise`` (signal has unit scale).
Sparse data (few interactions per item) makes the content part matter.

For every noise level and seed (a new data set and new model initialisation per seed), the AMR
pipeline of ``repro_amr.py`` runs unchanged: MF-BPR, eq. 4 VBPR pre-trained from it, then continued
VBPR vs AMR with (eps, lambda) chosen on validation, every stage stopped and restored on validation
(``leave_one_out(by="time", validation=True)``). Test: full ranking NDCG@10 / HR@10 (and @100),
AMR vs VBPR (eq. 4) with a paired t-test over users per seed and across seeds.

    nice -n 10 python benchmarks/amr_synthetic.py --seeds 3 --noise 0,1,2,4 [--quick]
"""

from __future__ import annotations

import argparse

import advrec
from _common import write_result
from _repro import Clock, fmt
from repro_amr import amr_pipeline, summarize


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--noise", type=lambda t: [float(x) for x in t.split(",")], default=[0.0, 1.0, 2.0, 4.0])
    ap.add_argument("--users", type=int, default=1500)
    ap.add_argument("--items", type=int, default=1500)
    ap.add_argument("--density", type=float, default=0.01)
    ap.add_argument("--n-features", type=int, default=32)
    ap.add_argument("--eps-grid", type=lambda t: [float(x) for x in t.split(",")], default=[0.1, 0.5, 1.0, 2.0, 4.0])
    ap.add_argument("--lambda-grid", type=lambda t: [float(x) for x in t.split(",")], default=[1.0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    clock = Clock()
    cadence = dict(every=2, patience=2, max_mf=6, max_pre=4, max_cont=4) if args.quick else \
        dict(every=5, patience=3, max_mf=300, max_pre=150, max_cont=150)
    protocols = {"full": "full"}
    levels = {}
    for noise in args.noise:
        seeds = []
        for i in range(args.seeds):
            seed = args.seed0 + i
            data = advrec.datasets.synthetic(n_users=args.users, n_items=args.items, density=args.density,
                                             n_features=args.n_features, feature_noise=noise, seed=seed)
            train, valid, test = advrec.split.leave_one_out(data, by="time", validation=True)
            train_full, _ = advrec.split.leave_one_out(data, by="time")
            seeds.append(amr_pipeline(train, valid, train_full, test, data.item_features, seed, threads=args.threads,
                                      eps_grid=args.eps_grid, lambda_grid=args.lambda_grid, protocols=protocols,
                                      label=f"[noise {noise} seed {seed}]", **cadence))
        levels[str(noise)] = {**summarize(seeds, protocols, label=f"[noise {noise}]"), "seeds": seeds}
    print("\nnoise | NDCG@10 VBPR (eq. 4) | NDCG@10 AMR | gain | p (across seeds) | p (users, per seed)")
    for noise, lv in levels.items():
        c = lv["claims_AMR_vs_VBPR_eq4"]["full"]["ndcg@10"]
        print(f"{noise} | {fmt(c['b'])} | {fmt(c['a'])} | {fmt(c['relative'], 1, pct=True)} | "
              f"{c['p_across_seeds']:.2g} | {', '.join(f'{p:.2g}' for p in c['p_users_per_seed'])}")
    payload = {"data": dict(generator="advrec.datasets.synthetic", users=args.users, items=args.items,
                            density=args.density, n_features=args.n_features),
               "args": vars(args), "cadence": cadence, "levels": levels, "time": clock.report()}
    write_result("amr_synthetic" + ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else ""), payload)


if __name__ == "__main__":
    main()
