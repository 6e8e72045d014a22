"""BPR-MF training throughput and quality: advrec vs implicit (CPU), side by side on Gowalla.

Same data (the LightGCN Gowalla split), factors, threads, epochs and learning rate; both run
plain SGD with an item bias (implicit's model); runs interleaved, repeated, medians reported.
Quality is Recall@20 / NDCG@20 from one evaluation code path (advrec.evaluate, full ranking).

    python benchmarks/bench_bpr.py [--epochs 30] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np

import advrec
from _common import data_dir, median, peak_rss_mb, timed, write_result


class _Frozen(advrec.BPRMF):
    """Wraps implicit's factors so that both libraries are evaluated by the same code."""

    @classmethod
    def from_implicit(cls, model, train):
        out = cls(factors=model.user_factors.shape[1], show_progress=False)
        out.n_users, out.n_items = train.n_users, train.n_items
        out.user_factors = np.ascontiguousarray(model.user_factors, np.float32)
        out.item_factors = np.ascontiguousarray(model.item_factors, np.float32)
        out.item_bias = None
        out._remember_train(train)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--reg", type=float, default=0.0001)
    args = ap.parse_args()

    from implicit.cpu.bpr import BayesianPersonalizedRanking

    train, test = advrec.datasets.load_lightgcn(data_dir() / "gowalla-lightgcn")
    X = train.to_csr().astype(np.float32)
    samples = len(train) * args.epochs
    runs = {"implicit": [], "advrec_sgd": [], "advrec_adagrad": []}
    quality = {}

    def run_implicit(seed):
        m = BayesianPersonalizedRanking(factors=args.factors, learning_rate=args.lr, regularization=args.reg,
                                        iterations=args.epochs, num_threads=args.threads,
                                        verify_negative_samples=True, random_state=seed)
        m.fit(X, show_progress=False)
        return m

    def run_advrec(seed, optimizer):
        return advrec.BPRMF(factors=args.factors, lr=args.lr, reg=args.reg, optimizer=optimizer, use_bias=True,
                            epochs=args.epochs, num_threads=args.threads, seed=seed, show_progress=False).fit(train)

    for r in range(args.repeats):
        t, m = timed(lambda: run_implicit(r))
        runs["implicit"].append(t)
        if r == 0:
            quality["implicit"] = _quality(_Frozen.from_implicit(m, train), train, test)
        for opt in ("sgd", "adagrad"):
            t, m = timed(lambda: run_advrec(r, opt))
            runs[f"advrec_{opt}"].append(t)
            if r == 0:
                quality[f"advrec_{opt}"] = _quality(m, train, test)
        print(f"repeat {r}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items()), flush=True)

    table = {}
    for name, times in runs.items():
        t = median(times)
        table[name] = {"seconds_median": t, "seconds_all": times, "samples_per_s": samples / t, **quality[name]}
    base = table["implicit"]["samples_per_s"]
    for name in table:
        table[name]["speedup_vs_implicit"] = table[name]["samples_per_s"] / base
    for name, row in table.items():
        print(f"{name:16s} {row['seconds_median']:7.2f}s  {row['samples_per_s'] / 1e6:6.2f} M samples/s  "
              f"x{row['speedup_vs_implicit']:.2f}  recall@20 {row['recall@20']:.4f}  ndcg@20 {row['ndcg@20']:.4f}")
    write_result("bpr_vs_implicit_gowalla", {
        "settings": vars(args) | {"samples_per_run": samples, "implicit_version": __import__("implicit").__version__,
                                   "note": "implicit factors=F learns F+1 columns (item bias); advrec use_bias=True"},
        "results": table, "peak_rss_mb": peak_rss_mb()})


def _quality(model, train, test):
    res = advrec.evaluate(model, train, test, k=20, metrics=("recall", "ndcg"), show_progress=False)
    return {k: float(v) for k, v in res.summary.items()}


if __name__ == "__main__":
    main()
