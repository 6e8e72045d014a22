"""Full-ranking evaluation speed: advrec.evaluate vs NumPy (BLAS `U @ V.T` + argpartition), Gowalla.

Both compute Recall@20 and NDCG@20 over every Gowalla test user, masking training items, from the
same factors (a BPR-MF trained for a few epochs, so the score distribution is realistic). NumPy
works in user batches (a full users x items matrix would need 4.9 GB) and uses the same BLAS
threads. Runs are interleaved and repeated; medians are reported, with effective GFLOP/s
(2 * users * items * factors / seconds). The two results are checked to agree.

    python benchmarks/bench_eval.py [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np

import advrec
from _common import data_dir, median, peak_rss_mb, timed, write_result


def numpy_recall_ndcg(U, V, train, test, users, k=20, batch=1024):
    tr_ptr, tr_idx = train.csr_arrays()
    te_ptr, te_idx = test.csr_arrays()
    recall = np.empty(users.size)
    ndcg = np.empty(users.size)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for start in range(0, users.size, batch):
        ub = users[start:start + batch]
        S = U[ub] @ V.T
        for r, u in enumerate(ub):
            S[r, tr_idx[tr_ptr[u]:tr_ptr[u + 1]]] = -np.inf
        top = np.argpartition(-S, k, axis=1)[:, :k]
        order = np.take_along_axis(S, top, axis=1).argsort(axis=1)[:, ::-1]
        top = np.take_along_axis(top, order, axis=1)
        for r, u in enumerate(ub):
            tests = te_idx[te_ptr[u]:te_ptr[u + 1]]
            hit = np.isin(top[r], tests)
            recall[start + r] = hit.sum() / tests.size
            ndcg[start + r] = (hit * discounts).sum() / discounts[:min(tests.size, k)].sum()
    return recall.mean(), ndcg.mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--factors", type=int, default=64)
    args = ap.parse_args()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None

    train, test = advrec.datasets.load_lightgcn(data_dir() / "gowalla-lightgcn")
    model = advrec.BPRMF(factors=args.factors, epochs=5, num_threads=args.threads, seed=0,
                         show_progress=False).fit(train)
    users = np.flatnonzero(np.diff(test.csr_arrays()[0]) > 0).astype(np.int32)
    U, V = model._scoring_factors(np.arange(train.n_users, dtype=np.int32))
    flops = 2.0 * users.size * train.n_items * U.shape[1]

    times = {"advrec_recall_ndcg": [], "advrec_all_metrics_exact": [], "numpy": []}
    results = {}
    for rep in range(args.repeats):
        t, res = timed(lambda: advrec.evaluate(model, train, test, k=20, metrics=("recall", "ndcg"),
                                               num_threads=args.threads))
        times["advrec_recall_ndcg"].append(t)
        results["advrec"] = res.summary
        t, res = timed(lambda: advrec.evaluate(model, train, test, k=20, metrics=advrec.evaluation.METRICS,
                                               num_threads=args.threads))
        times["advrec_all_metrics_exact"].append(t)
        results["advrec_all"] = res.summary
        if threadpool_limits is not None:
            with threadpool_limits(limits=args.threads):
                t, res = timed(lambda: numpy_recall_ndcg(U, V, train, test, users))
        else:
            t, res = timed(lambda: numpy_recall_ndcg(U, V, train, test, users))
        times["numpy"].append(t)
        results["numpy"] = {"recall@20": float(res[0]), "ndcg@20": float(res[1])}
        print(f"repeat {rep}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)

    med = {k: median(v) for k, v in times.items()}
    summary = {
        "users": int(users.size), "items": int(train.n_items), "factors": int(U.shape[1]), "threads": args.threads,
        "seconds_median": med, "seconds_all": times,
        "speedup_vs_numpy": med["numpy"] / med["advrec_recall_ndcg"],
        "speedup_all_metrics_vs_numpy": med["numpy"] / med["advrec_all_metrics_exact"],
        "effective_gflops": {k: flops / v / 1e9 for k, v in med.items()},
        "metrics": results,
        "peak_rss_mb_process": peak_rss_mb(),
    }
    agree = abs(results["advrec"]["recall@20"] - results["numpy"]["recall@20"]) < 1e-3
    summary["numpy_agrees"] = bool(agree)
    for k, v in med.items():
        print(f"{k:28s} {v:7.2f} s  {flops / v / 1e9:7.1f} effective GFLOP/s")
    print(f"speed-up vs NumPy: {summary['speedup_vs_numpy']:.1f}x (recall/ndcg@20), "
          f"{summary['speedup_all_metrics_vs_numpy']:.1f}x (all metrics, exact ranks); metrics agree: {agree}")
    write_result("eval_gowalla", summary)


if __name__ == "__main__":
    main()
