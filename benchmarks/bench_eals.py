"""MF-eALS whole-solve time: advrec's EALS vs implicit's ALS (CPU), side by side on Gowalla.

Same data (the LightGCN Gowalla split), factors, iterations and threads; runs interleaved, repeated,
medians reported, with the load average and the process CPU time of every run (the machine is
shared). Quality is Recall@20 / NDCG@20 from one evaluation code path (advrec.evaluate, full
ranking).

The two solve different objectives, which is the point of eALS: implicit's ALS is iALS (Hu et al.
2008: every missing entry weighs 1, observed entries 1 + alpha) solved per row by conjugate
gradient (3 steps, its default) or Cholesky (--implicit-cholesky); advrec's EALS weighs missing
entries by item popularity and updates coordinates exactly (He et al. 2016). Both cost
O(|R| d + (|U| + |I|) d^2)-ish per iteration; the comparison is "one full training run of the
library's ALS at matched factors / iterations / threads".

    python benchmarks/bench_eals.py [--iterations 15] [--repeats 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import advrec
from _common import data_dir, median, peak_rss_mb, write_result


def _run(fn):
    load = os.getloadavg()
    cpu0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0,
            "loadavg_before": list(load), "loadavg_after": list(os.getloadavg())}, out


def _frozen(user_factors, item_factors, train):
    """implicit's factors in an EALS shell, so both are evaluated by the same code."""
    out = advrec.EALS(factors=user_factors.shape[1], show_progress=False)
    out.n_users, out.n_items = train.n_users, train.n_items
    out.user_factors = np.ascontiguousarray(user_factors, np.float32)
    out.item_factors = np.ascontiguousarray(item_factors, np.float32)
    out._remember_train(train)
    return out


def _quality(model, train, test):
    res = advrec.evaluate(model, train, test, k=20, metrics=("recall", "ndcg"), show_progress=False)
    return {k: float(v) for k, v in res.summary.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--reg", type=float, default=0.01)
    ap.add_argument("--c0", type=float, default=512.0)
    ap.add_argument("--alpha", type=float, default=0.4)
    ap.add_argument("--implicit-alpha", type=float, default=1.0)
    ap.add_argument("--implicit-cholesky", action="store_true")
    args = ap.parse_args()

    import implicit
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    train, test = advrec.datasets.load_lightgcn(data_dir() / "gowalla-lightgcn")
    X = train.to_csr().astype(np.float32)

    def run_implicit(seed):
        m = AlternatingLeastSquares(factors=args.factors, regularization=args.reg, alpha=args.implicit_alpha,
                                    iterations=args.iterations, use_cg=not args.implicit_cholesky,
                                    num_threads=args.threads, random_state=seed, calculate_training_loss=False)
        with threadpool_limits(1, "blas"):  # implicit's own advice: its threads, not BLAS's
            m.fit(X, show_progress=False)
        return m

    def run_advrec(seed):
        return advrec.EALS(factors=args.factors, reg=args.reg, c0=args.c0, alpha=args.alpha, epochs=args.iterations,
                           compute_loss=False, num_threads=args.threads, seed=seed, show_progress=False).fit(train)

    runs = {"implicit_als": [], "advrec_eals": []}
    quality = {}
    for r in range(args.repeats):
        for name, fn in (("implicit_als", run_implicit), ("advrec_eals", run_advrec)):
            rec, m = _run(lambda: fn(r))
            runs[name].append(rec)
            if r == 0:
                model = _frozen(m.user_factors, m.item_factors, train) if name == "implicit_als" else m
                quality[name] = _quality(model, train, test)
            print(f"repeat {r} {name}: {rec['seconds']:.2f}s wall, {rec['cpu_seconds']:.2f}s CPU, "
                  f"load {rec['loadavg_before'][0]:.1f}", flush=True)

    table = {}
    for name, recs in runs.items():
        t = median([x["seconds"] for x in recs])
        table[name] = {"seconds_median": t, "seconds_per_iteration": t / args.iterations,
                       "cpu_seconds_median": median([x["cpu_seconds"] for x in recs]), "runs": recs,
                       **quality[name]}
    base = table["implicit_als"]["seconds_median"]
    for name in table:
        table[name]["speedup_vs_implicit"] = base / table[name]["seconds_median"]
    for name, row in table.items():
        print(f"{name:14s} {row['seconds_median']:7.2f}s ({row['seconds_per_iteration']:.3f}s/it) "
              f"x{row['speedup_vs_implicit']:.2f}  recall@20 {row['recall@20']:.4f}  ndcg@20 {row['ndcg@20']:.4f}")
    write_result("eals_vs_implicit_gowalla", {
        "settings": vars(args) | {"implicit_version": implicit.__version__, "nnz": int(len(train)),
                                   "n_users": int(train.n_users), "n_items": int(train.n_items),
                                   "note": "implicit = iALS (uniform missing weights, CG or Cholesky per row); "
                                           "advrec = eALS (popularity-weighted missing data, coordinate updates)"},
        "results": table, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
