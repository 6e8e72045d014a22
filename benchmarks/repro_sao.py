"""SAO paper (Manotumruksa & Yilmaz, SIGIR 2020) Table 2, Amazon Video, with advrec.

Rows: ItemPop (MostPop), BPR-MF, AMF (APR), SASRec, ASASRec with the paper's perturbation
(``perturb="paper"``: every input position + target/negative output vectors) and with the released
code's (``perturb="output"``: per-item-row perturbation of output embeddings only). Data: the exact
SAO split (``Video.train.rating`` / ``Video.test.rating``; train keeps the reference sequence
order, test = each user's last item). Metrics: HR@10 / NDCG@10 with FULL ranking (every item the
user did not interact with in training) - the paper's protocol - and, labelled separately, the
sampled protocol of the SASRec paper (test item vs 100 sampled non-interacted items).

Also measured: Hogwild vs synchronous data-parallel SASRec training (epoch time and convergence
from the same initialisation, same threads), ASASRec / SASRec epoch-time ratio, peak RSS.

    python benchmarks/repro_sao.py [--sas-epochs 40] [--adv-epochs 10] [--threads 2] [--quick]

Run short configurations only on a shared machine; every timing is noisy there.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import advrec
from _common import data_dir, peak_rss_mb, write_result

# SAO Table 2, Video. Labelled "HR / NDCG" (DESIGN.md reads them as @10), but MostPop - which
# involves no training - gives exactly 0.0879 / 0.0248 here as full-ranking HR@100 / NDCG@100,
# and the released code evaluates its "all" mode at K = 100. So these are @100 figures.
PAPER = {
    "MostPop": (0.0879, 0.0248), "BPR": (0.2344, 0.0646), "APR": (0.2481, 0.0693),
    "SASRec": (0.3105, 0.0853), "ASASRec": (0.3356, 0.0974),
}


def load():
    root = data_dir() / "amazon-video-sasrec"
    return advrec.datasets.load_rating_split(root / "Video.train.rating", root / "Video.test.rating")


def scores(model, train, test, threads):
    full = advrec.evaluate(model, train, test, k=(10, 100), metrics=("hr", "ndcg"), num_threads=threads).summary
    sampled = advrec.evaluate(model, train, test, k=10, metrics=("hr", "ndcg"),
                              protocol=advrec.Sampled(n_negatives=100, seed=0), num_threads=threads).summary
    return {"full": {k: float(v) for k, v in full.items()},
            "sampled100": {k: float(v) for k, v in sampled.items()}}


def epoch_seconds(model, phase=None):
    xs = [h["seconds"] for h in model.history_ if phase is None or h.get("phase") == phase]
    return float(np.median(xs)) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bpr-epochs", type=int, default=20)
    ap.add_argument("--amf-epochs", type=int, default=5)
    ap.add_argument("--sas-epochs", type=int, default=40)
    ap.add_argument("--sas-lr", type=float, default=0.001)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--maxlen", type=int, default=50)
    ap.add_argument("--lazy-adam", action="store_true")
    ap.add_argument("--adv-epochs", type=int, default=10)
    ap.add_argument("--eps", default="0.5", help="comma list; one ASASRec per value and mode")
    ap.add_argument("--reg-adv", type=float, default=1.0)
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--mode-epochs", type=int, default=5, help="epochs of the Hogwild vs sync comparison")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: mf,adv,modes")
    ap.add_argument("--tag", default="", help="suffix of the result file (results/sao_<tag>.json)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.bpr_epochs, args.amf_epochs, args.sas_epochs, args.adv_epochs, args.mode_epochs = 2, 1, 2, 1, 1
        args.eval_every = 1
    skip = set(filter(None, args.skip.split(",")))
    T = args.threads
    train, test = load()
    out = {"args": vars(args), "paper_table2_video": PAPER,
           "sizes": {"n_users": train.n_users, "n_items": train.n_items, "train": len(train), "test": len(test)},
           "paper_table2_metric": "full-ranking HR@100 / NDCG@100 (MostPop reproduces it exactly; see PAPER)",
           "protocols": {"full": "rank every item not in the user's training data (SAO paper protocol)",
                         "sampled100": "test item vs 100 sampled non-interacted items (SASRec-paper style)"},
           "rows": {}}
    rows = out["rows"]

    def record(name, model, seconds, **extra):
        rows[name] = {**scores(model, train, test, T), "train_seconds": seconds, **extra}
        r = rows[name]
        print(f"{name:18s} full HR@10 {r['full']['hr@10']:.4f} NDCG@10 {r['full']['ndcg@10']:.4f} "
              f"HR@100 {r['full']['hr@100']:.4f} NDCG@100 {r['full']['ndcg@100']:.4f} | "
              f"sampled-100 HR@10 {r['sampled100']['hr@10']:.4f} NDCG@10 {r['sampled100']['ndcg@10']:.4f} "
              f"| {seconds:.1f}s", flush=True)

    t = time.perf_counter()
    pop = advrec.ItemPop().fit(train)
    record("ItemPop", pop, time.perf_counter() - t)

    if "mf" not in skip:
        mf = dict(factors=64, lr=0.05, optimizer="adagrad", batch_size=512, num_threads=T, seed=args.seed,
                  show_progress=False)
        t = time.perf_counter()
        bpr = advrec.BPRMF(epochs=args.bpr_epochs, **mf).fit(train)
        record("BPR", bpr, time.perf_counter() - t, epochs=args.bpr_epochs)
        t = time.perf_counter()
        amf = advrec.AMF(epochs=args.amf_epochs, eps=0.5, reg_adv=1.0, **mf).fit(train, init=bpr)
        record("AMF (APR)", amf, time.perf_counter() - t, epochs=f"{args.bpr_epochs}+{args.amf_epochs}")

    sas_kw = dict(factors=64, maxlen=args.maxlen, blocks=2, heads=1, dropout=args.dropout, lr=args.sas_lr,
                  batch_size=args.batch_size, lazy_adam=args.lazy_adam, num_threads=T, seed=args.seed,
                  show_progress=False)
    t = time.perf_counter()
    sas = advrec.SASRec(epochs=args.sas_epochs, **sas_kw).fit(train, validation=test, eval_every=args.eval_every,
                                                              eval_k=(10, 100))
    record("SASRec", sas, time.perf_counter() - t, epochs=args.sas_epochs, epoch_seconds=epoch_seconds(sas),
           curve=[{k: h[k] for k in h if k in ("epoch", "loss", "accuracy", "val_hr@10", "val_ndcg@10", "val_hr@100",
                                                       "val_ndcg@100")}
                  for h in sas.history_])

    if "adv" not in skip:
        # Same number of further epochs for plain SASRec and ASASRec, both from the same model.
        t = time.perf_counter()
        more = advrec.SASRec(epochs=args.adv_epochs, **sas_kw).fit(train, init=sas)
        record("SASRec (continued)", more, time.perf_counter() - t, epochs=f"{args.sas_epochs}+{args.adv_epochs}",
               epoch_seconds=epoch_seconds(more, "sasrec"))
        for mode, eps in [(m, float(e)) for e in args.eps.split(",") for m in ("paper", "output")]:
            t = time.perf_counter()
            adv = advrec.ASASRec(eps=eps, reg_adv=args.reg_adv, perturb=mode, epochs=args.adv_epochs,
                                 **sas_kw).fit(train, init=sas)
            name = f"ASASRec ({mode}, eps={eps:g})"
            record(name, adv, time.perf_counter() - t, epochs=f"{args.sas_epochs}+{args.adv_epochs}",
                   epoch_seconds=epoch_seconds(adv, "sao"),
                   curve=[{k: h[k] for k in h if k in ("epoch", "loss", "adv_loss", "accuracy")}
                          for h in adv.history_ if h["phase"] == "sao"])
            base = rows["SASRec (continued)"]
            rows[name]["gain_vs_continued_sasrec"] = {
                p: {m: (rows[name][p][m] - base[p][m]) / base[p][m] for m in base[p]} for p in ("full", "sampled100")}
            rows[name]["epoch_ratio_vs_sasrec"] = rows[name]["epoch_seconds"] / base["epoch_seconds"]
            full_adv = advrec.evaluate(adv, train, test, k=(10, 100), num_threads=T)
            full_more = advrec.evaluate(more, train, test, k=(10, 100), num_threads=T)
            rows[name]["paired_ttest_vs_continued_sasrec"] = {
                m: {"statistic": t_.statistic, "pvalue": t_.pvalue}
                for m in ("ndcg@10", "ndcg@100") for t_ in [advrec.stats.paired_ttest(full_adv, full_more, m)]}
            print(f"   paired t-test vs continued SASRec: "
                  + ", ".join(f"{m} p={v['pvalue']:.2g}" for m, v in rows[name]["paired_ttest_vs_continued_sasrec"].items()),
                  flush=True)

    if "modes" not in skip:
        # Hogwild vs synchronous data parallel, same initialisation (2 epochs of SASRec), same threads.
        start = advrec.SASRec(epochs=2, **dict(sas_kw, num_threads=1)).fit(train)
        out["hogwild_vs_sync"] = {}
        for name, sync in (("hogwild", False), ("sync", True)):
            m = advrec.SASRec(epochs=args.mode_epochs, sync=sync, **{k: v for k, v in sas_kw.items()}).fit(
                train, init=start)
            s = scores(m, train, test, T)
            out["hogwild_vs_sync"][name] = {"epoch_seconds_median": epoch_seconds(m),
                                            "loss": [h["loss"] for h in m.history_[2:]], **s}
            print(f"{name:8s} epoch {epoch_seconds(m):.2f}s loss {m.history_[-1]['loss']:.4f} "
                  f"full NDCG@10 {s['full']['ndcg@10']:.4f}", flush=True)

    out["peak_rss_mb"] = peak_rss_mb()
    path = write_result("sao" + ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else ""), out)
    print("wrote", path)


if __name__ == "__main__":
    main()
