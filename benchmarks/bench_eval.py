"""Full-ranking evaluation speed: advrec.evaluate vs NumPy (BLAS `U @ V.T` + argpartition), Gowalla.

Both compute Recall@20 and NDCG@20 over every Gowalla test user, masking training items, from the
same factors (a BPR-MF trained for a few epochs, so the score distribution is realistic). NumPy
works in user batches (a full users x items matrix would need 4.9 GB) and uses the same BLAS
threads. Runs are interleaved and repeated; medians are reported, with effective GFLOP/s
(2 * users * items * factors / seconds). The two results are checked to agree.

`--threads 1,2` sweeps thread counts (advrec at every count; NumPy at the largest, or at those in
`--numpy-threads`); the headline keys (`seconds_median`, `speedup_vs_numpy`, ...) are those of the
largest count, `thread_sweep` holds every count and `thread_speedup` the ratio of the smallest
count's time to each count's. The engine variant that ran is in `machine.engine_variant` and the
module path in `engine_module` (run with PYTHONPATH=src to measure a checkout).

    python benchmarks/bench_eval.py [--repeats 5] [--threads 1,2] [--numpy-threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np

import advrec
from _common import data_dir, median, peak_rss_mb, timed, write_result


def thread_list(text: str) -> list:
    return sorted({int(t) for t in str(text).split(",") if t.strip()})


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
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts, e.g. 1,2")
    ap.add_argument("--numpy-threads", default=None, help="thread counts at which NumPy runs (default: the largest)")
    ap.add_argument("--factors", type=int, default=64)
    args = ap.parse_args()
    sweep = thread_list(args.threads)
    numpy_threads = thread_list(args.numpy_threads) if args.numpy_threads else [sweep[-1]]
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None

    from advrec._engine import core
    print(f"engine: {core.variant} ({core.__file__})", flush=True)
    train, test = advrec.datasets.load_lightgcn(data_dir() / "gowalla-lightgcn")
    model = advrec.BPRMF(factors=args.factors, epochs=5, num_threads=sweep[-1], seed=0,
                         show_progress=False).fit(train)
    users = np.flatnonzero(np.diff(test.csr_arrays()[0]) > 0).astype(np.int32)
    U, V = model._scoring_factors(np.arange(train.n_users, dtype=np.int32))
    flops = 2.0 * users.size * train.n_items * U.shape[1]

    times = {t: {"advrec_recall_ndcg": [], "advrec_all_metrics_exact": []} for t in sweep}
    for t in numpy_threads:
        times.setdefault(t, {})["numpy"] = []
    results = {}
    for rep in range(args.repeats):
        for threads in sorted(times):
            tt = times[threads]
            if "advrec_recall_ndcg" in tt:
                t, res = timed(lambda: advrec.evaluate(model, train, test, k=20, metrics=("recall", "ndcg"),
                                                       num_threads=threads),
                               threads=threads, label=f"advrec_recall_ndcg@{threads}")
                tt["advrec_recall_ndcg"].append(t)
                results["advrec"] = res.summary
                t, res = timed(lambda: advrec.evaluate(model, train, test, k=20, metrics=advrec.evaluation.ACCURACY_METRICS,
                                                       num_threads=threads),
                               threads=threads, label=f"advrec_all_metrics_exact@{threads}")
                tt["advrec_all_metrics_exact"].append(t)
                results["advrec_all"] = res.summary
            if "numpy" in tt:
                if threadpool_limits is not None:
                    with threadpool_limits(limits=threads):
                        t, res = timed(lambda: numpy_recall_ndcg(U, V, train, test, users), threads=threads,
                                       label=f"numpy@{threads}")
                else:
                    t, res = timed(lambda: numpy_recall_ndcg(U, V, train, test, users), threads=threads,
                                   label=f"numpy@{threads}")
                tt["numpy"].append(t)
                results["numpy"] = {"recall@20": float(res[0]), "ndcg@20": float(res[1])}
            print(f"repeat {rep}, {threads} thread(s): " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in tt.items()),
                  flush=True)

    sweep_summary = {}
    for threads in sorted(times):
        med = {k: median(v) for k, v in times[threads].items()}
        entry = {"seconds_median": med, "seconds_all": times[threads],
                 "effective_gflops": {k: flops / v / 1e9 for k, v in med.items()}}
        if "numpy" in med and "advrec_recall_ndcg" in med:
            entry["speedup_vs_numpy"] = med["numpy"] / med["advrec_recall_ndcg"]
            entry["speedup_all_metrics_vs_numpy"] = med["numpy"] / med["advrec_all_metrics_exact"]
        sweep_summary[str(threads)] = entry
    head = sweep_summary[str(sweep[-1])]
    base = sweep_summary[str(sweep[0])]["seconds_median"]
    summary = {
        "users": int(users.size), "items": int(train.n_items), "factors": int(U.shape[1]), "threads": sweep[-1],
        "engine_module": core.__file__,
        "seconds_median": head["seconds_median"], "seconds_all": head["seconds_all"],
        "speedup_vs_numpy": head.get("speedup_vs_numpy"),
        "speedup_all_metrics_vs_numpy": head.get("speedup_all_metrics_vs_numpy"),
        "effective_gflops": head["effective_gflops"],
        "thread_sweep": sweep_summary,
        "thread_speedup": {str(t): {k: base[k] / sweep_summary[str(t)]["seconds_median"][k]
                                    for k in ("advrec_recall_ndcg", "advrec_all_metrics_exact")}
                           for t in sweep},
        "metrics": results,
        "peak_rss_mb_process": peak_rss_mb(),
    }
    agree = ("numpy" not in results
             or abs(results["advrec"]["recall@20"] - results["numpy"]["recall@20"]) < 1e-3)
    summary["numpy_agrees"] = bool(agree)
    for threads, entry in sweep_summary.items():
        for k, v in entry["seconds_median"].items():
            print(f"{threads} thread(s) {k:28s} {v:7.3f} s  {flops / v / 1e9:7.1f} effective GFLOP/s")
    if summary["speedup_vs_numpy"] is not None:
        print(f"speed-up vs NumPy at {sweep[-1]} threads: {summary['speedup_vs_numpy']:.1f}x (recall/ndcg@20), "
              f"{summary['speedup_all_metrics_vs_numpy']:.1f}x (all metrics, exact ranks); metrics agree: {agree}")
    for t, v in summary["thread_speedup"].items():
        print(f"speed-up {sweep[0]} -> {t} threads: " + ", ".join(f"{k} {x:.2f}x" for k, x in v.items()))
    write_result("eval_gowalla", summary)


if __name__ == "__main__":
    main()
