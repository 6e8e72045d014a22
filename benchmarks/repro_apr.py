"""Reproduces the APR paper's claims (He et al., SIGIR 2018) with advrec, over several seeds, with
every choice made on a validation split.

Protocol, per dataset and seed:

1. Split: ml-latest-small — ``leave_one_out(data, by="time", validation=True)``; Video (the SAO
   split) — its test file, and each user's last training item as validation; Gowalla (the LightGCN
   split) — its test file, and a seeded 10% per-user holdout of the training data as validation.
2. MF-BPR is pre-trained until validation NDCG@100 stops improving (``eval_set=``, ``patience=``;
   the best validation epoch is restored).
3. From that model, training continues (a) with BPR and (b) with APR (AMF) for each eps in
   ``--eps-grid`` (lambda = ``--reg-adv``), each until validation stops improving, each restored to
   its best validation epoch; AMF's eps is the one with the best validation NDCG@100.
4. Test (full ranking over items in neither train nor validation): HR/NDCG@{10,50,100}, once per
   selected model; per seed a paired t-test over users (AMF vs continued BPR), across seeds mean ±
   sd and a paired t-test on the per-seed means.
5. Robustness (APR Table 2 / Figure 1): relative NDCG@100 drop under FGM on the embeddings and
   under random noise of the same norm at eps = 0.5, per model.

Also recorded, labelled "test-selected": the best test NDCG@100 over the evaluated epochs of each
continued run (what selecting the epoch on test, as some released code does, would report).

    nice -n 10 python benchmarks/repro_apr.py --datasets ml-latest-small --seeds 3 [--threads 2] [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np

import advrec
from _common import data_dir, write_result
from _repro import (Clock, TestCurve, compare, describe, fmt, history_summary, mean_sd, pick_on_validation,
                    subsample_users)

KS = (10, 50, 100)
METRICS = ("hr", "ndcg")
MONITOR = "ndcg@100"

# Validation cadence per dataset: evaluate every `every` epochs, stop after `patience` evaluations
# without improvement, never run more than `max_pre` / `max_cont` epochs.
SETTINGS = {
    "ml-latest-small": dict(every=10, patience=5, max_pre=800, max_cont=400),
    "video": dict(every=5, patience=4, max_pre=300, max_cont=200),
    "gowalla": dict(every=10, patience=3, max_pre=400, max_cont=300),
}


def load(name: str, seed: int):
    """(train, valid, train_full, test): models fit on train, select on valid; test excludes
    train_full = train + valid."""
    root = data_dir()
    if name == "ml-latest-small":
        data = advrec.datasets.load_movielens(root / "ml-latest-small")
        train, valid, test = advrec.split.leave_one_out(data, by="time", validation=True)
        train_full, _ = advrec.split.leave_one_out(data, by="time")
        return train, valid, train_full, test
    if name == "video":
        train_full, test = advrec.datasets.load_rating_split(root / "amazon-video-sasrec" / "Video.train.rating",
                                                             root / "amazon-video-sasrec" / "Video.test.rating")
        train, valid = advrec.split.leave_one_out(train_full, by="time")
        return train, valid, train_full, test
    if name == "gowalla":
        train_full, test = advrec.datasets.load_lightgcn(root / "gowalla-lightgcn")
        train, valid = advrec.split.holdout(train_full, test_size=0.1, by="random", seed=seed)
        return train, valid, train_full, test
    raise ValueError(f"unknown dataset {name!r}")


def run_seed(name: str, seed: int, args) -> dict:
    s = dict(SETTINGS[name])
    if args.quick:
        s.update(every=2, patience=2, max_pre=6, max_cont=4)
    clock = Clock()
    train, valid, train_full, test = load(name, seed)
    valid = subsample_users(valid, args.val_users, seed)
    common = dict(factors=64, lr=args.lr, optimizer="adagrad", batch_size=args.batch_size,
                  num_threads=args.threads, seed=seed, show_progress=False)
    select = dict(eval_set=(valid, 100), eval_every=s["every"], patience=s["patience"], eval_metrics=METRICS,
                  monitor=MONITOR)

    bpr = advrec.BPRMF(epochs=s["max_pre"], **common).fit(train, **select)
    print(f"[{name} seed {seed}] BPR pre-trained: best validation epoch {bpr.best_epoch_} of "
          f"{len(bpr.history_)} ({MONITOR} {bpr.best_score_:.4f})", flush=True)

    curves = {}

    def continued(model_cls, key, **kw):
        def make():
            model = model_cls(epochs=s["max_cont"], **common, **kw)
            curve = TestCurve(model, train_full, test, MONITOR, every=s["every"]) if args.test_curve else None
            model.fit(train, init=bpr, callback=curve, **select)
            curves[key] = curve
            return model
        return make

    bpr_more = continued(advrec.BPRMF, "bpr")()
    grid = pick_on_validation({eps: continued(advrec.AMF, ("amf", eps), eps=eps, reg_adv=args.reg_adv)
                               for eps in args.eps_grid})
    amf = grid["model"]
    print(f"[{name} seed {seed}] validation {MONITOR}: BPR {bpr_more.best_score_:.4f} (epoch {bpr_more.best_epoch_}) "
          f"| AMF by eps {({k: round(v, 4) for k, v in grid['scores'].items()})} -> eps {grid['choice']}", flush=True)

    res = {"MF-BPR": advrec.evaluate(bpr_more, train_full, test, k=KS, metrics=METRICS),
           "AMF": advrec.evaluate(amf, train_full, test, k=KS, metrics=METRICS)}
    robust = advrec.robustness({"MF-BPR": bpr_more, "AMF": amf}, train_full, test, eps=(0.5,),
                               attacks=("fgsm", "random"), k=100, metrics=("ndcg",), seed=seed,
                               num_threads=args.threads, show_progress=False)
    drops = {f"{r.model}_{r.attack}": float(r.drop) for r in robust.itertuples() if r.attack != "none"}
    test_selected = {}
    if args.test_curve:
        test_selected = {"MF-BPR": curves["bpr"].best(), "AMF": curves[("amf", grid["choice"])].best()}
    return {
        "seed": seed, "settings": s, "chosen_eps": grid["choice"], "validation_by_eps": grid["scores"],
        "best_epochs": {"pretrain": bpr.best_epoch_, "MF-BPR": bpr_more.best_epoch_, "AMF": amf.best_epoch_},
        "epochs_run": {"pretrain": len(bpr.history_), "MF-BPR": len(bpr_more.history_), "AMF": len(amf.history_)},
        "sizes": {"train": len(train), "valid": len(valid), "test": len(test)},
        "test": {k: r.summary for k, r in res.items()}, "drops_at_0.5": drops,
        "test_selected_LABELLED": test_selected,
        "history": {"pretrain": history_summary(bpr), "MF-BPR": history_summary(bpr_more),
                    "AMF": history_summary(amf)},
        "time": clock.report(),
        "_results": res,
    }


def run_dataset(name: str, args) -> dict:
    clock = Clock()
    seeds = [run_seed(name, args.seed0 + i, args) for i in range(args.seeds)]
    results = [s.pop("_results") for s in seeds]
    claims = {m: compare([r["AMF"] for r in results], [r["MF-BPR"] for r in results], m)
              for m in ("ndcg@100", "hr@100", "ndcg@50", "hr@50", "ndcg@10")}
    robust = {key: mean_sd([s["drops_at_0.5"][key] for s in seeds]) for key in seeds[0]["drops_at_0.5"]}
    for m in ("ndcg@100", "hr@100"):
        print(f"[{name}] {describe('AMF', 'MF-BPR', claims[m])}", flush=True)
    print(f"[{name}] NDCG@100 drop at eps 0.5: BPR FGM {fmt(robust['MF-BPR_fgsm'], 3)} random "
          f"{fmt(robust['MF-BPR_random'], 3)} | AMF FGM {fmt(robust['AMF_fgsm'], 3)}", flush=True)
    out = {"claims_AMF_vs_continued_BPR": claims, "robustness_drop_ndcg@100_eps0.5": robust, "seeds": seeds,
           "time": clock.report()}
    if args.test_curve:
        out["test_selected_ndcg@100_LABELLED"] = {
            m: mean_sd([s["test_selected_LABELLED"][m][MONITOR] for s in seeds]) for m in ("MF-BPR", "AMF")}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="ml-latest-small", help="comma-separated: ml-latest-small,video,gowalla")
    ap.add_argument("--seeds", type=int, default=3, help="number of seeds (seed0, seed0 + 1, ...)")
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--eps-grid", type=lambda t: [float(x) for x in t.split(",")], default=[0.1, 0.5, 1.0],
                    help="AMF eps candidates, chosen on validation (the paper: 0.5)")
    ap.add_argument("--reg-adv", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-test-curve", dest="test_curve", action="store_false",
                    help="skip the labelled test-selected numbers (saves one test evaluation per validation)")
    ap.add_argument("--val-users", type=int, default=0,
                    help="select on the validation items of this many random users (0: all; cuts the cost of "
                         "every validation evaluation on Video / Gowalla)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--quick", action="store_true", help="a few epochs, to check the script runs")
    ap.add_argument("--combine", default="", help="comma-separated tags of finished runs over different seeds: "
                    "merge repro_apr_seeds_<tag>.json into repro_apr_seeds_<--tag>.json")
    args = ap.parse_args()
    if args.combine:
        from _repro import combine_runs

        merged = combine_runs("repro_apr_seeds", args.combine.split(","), args.tag)
        for name, d in merged["datasets"].items():
            for m in ("ndcg@100", "hr@100"):
                print(f"[{name}] {describe('AMF', 'MF-BPR', d['claims_AMF_vs_continued_BPR'][m])}")
        return
    clock = Clock()
    out = {name: run_dataset(name, args) for name in args.datasets.split(",")}
    suffix = ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else "")
    write_result("repro_apr_seeds" + suffix, {"args": vars(args), "datasets": out, "time": clock.report()})


if __name__ == "__main__":
    main()
