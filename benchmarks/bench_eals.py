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

On a shared machine, time the two sides in separate short pieces (each while the machine's other
jobs are paused), then combine them:

    python benchmarks/bench_eals.py --only implicit_als --repeats 3
    python benchmarks/bench_eals.py --only advrec_eals --repeats 3
    python benchmarks/bench_eals.py --combine

Every run goes through ``_common.timed`` (wall and CPU time, load before/after, ``starved`` flag).
The engine build is recorded (``machine.engine_variant``: a ``pip install`` on an AVX2 CPU loads
the avx2 build; a development build is the portable baseline).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import advrec
from _common import RESULTS, RUN_LOG, data_dir, dot_model, median, peak_rss_mb, timed, write_result

NAME = "eals_vs_implicit_gowalla"


def _run(fn, threads, label):
    _, out = timed(fn, threads=threads, label=label)
    e = RUN_LOG[-1]
    return {"seconds": e["wall_s"], "cpu_seconds": e["cpu_s"], "loadavg_before": e["loadavg_before"],
            "loadavg_after": e["loadavg_after"], "starved": e.get("starved")}, out


def _table(runs, quality, iterations):
    table = {}
    for name, recs in runs.items():
        t = median([x["seconds"] for x in recs])
        table[name] = {"seconds_median": t, "seconds_per_iteration": t / iterations,
                       "cpu_seconds_median": median([x["cpu_seconds"] for x in recs]), "runs": recs,
                       **quality.get(name, {})}
    if "implicit_als" in table:
        base, base_cpu = table["implicit_als"]["seconds_median"], table["implicit_als"]["cpu_seconds_median"]
        for name in table:
            table[name]["speedup_vs_implicit"] = base / table[name]["seconds_median"]
            table[name]["cpu_speedup_vs_implicit"] = base_cpu / table[name]["cpu_seconds_median"]
    return table


def _combine():
    """Merges the --only pieces into eals_vs_implicit_gowalla.json (speed-ups from the medians)."""
    parts = [json.loads((RESULTS / f"{NAME}_{w}.json").read_text()) for w in ("implicit_als", "advrec_eals")]
    runs = {k: v["runs"] for p in parts for k, v in p["results"].items()}
    quality = {k: {m: v[m] for m in v if "@" in m} for p in parts for k, v in p["results"].items()}
    table = _table(runs, quality, parts[0]["settings"]["iterations"])
    for name, row in table.items():
        print(f"{name:14s} {row['seconds_median']:7.2f}s wall, {row['cpu_seconds_median']:.2f}s CPU  "
              f"x{row['speedup_vs_implicit']:.2f} wall, x{row['cpu_speedup_vs_implicit']:.2f} CPU")
    write_result(NAME, {"settings": parts[0]["settings"], "combined_from": [p["benchmark"] for p in parts],
                        "machines": [p["machine"] for p in parts], "conditions": [p.get("conditions") for p in parts],
                        "results": table})


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
    ap.add_argument("--only", choices=("implicit_als", "advrec_eals"), help="time one side (a short piece)")
    ap.add_argument("--combine", action="store_true", help="merge the two --only results")
    args = ap.parse_args()
    if args.combine:
        _combine()
        return

    import implicit
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    train, test = advrec.datasets.load_lightgcn(data_dir() / "gowalla-lightgcn")
    X = train.to_csr().astype(np.float32)

    def run_implicit(seed):
        # implicit's own advice: its threads, not BLAS's (the model is built inside the limit too,
        # so its BLAS-threads check sees the setting the fit runs with)
        with threadpool_limits(1, "blas"):
            m = AlternatingLeastSquares(factors=args.factors, regularization=args.reg, alpha=args.implicit_alpha,
                                        iterations=args.iterations, use_cg=not args.implicit_cholesky,
                                        num_threads=args.threads, random_state=seed, calculate_training_loss=False)
            m.fit(X, show_progress=False)
        return m

    def run_advrec(seed):
        return advrec.EALS(factors=args.factors, reg=args.reg, c0=args.c0, alpha=args.alpha, epochs=args.iterations,
                           compute_loss=False, num_threads=args.threads, seed=seed, show_progress=False).fit(train)

    sides = (("implicit_als", run_implicit), ("advrec_eals", run_advrec))
    if args.only:
        sides = tuple(x for x in sides if x[0] == args.only)
    runs = {name: [] for name, _ in sides}
    quality = {}
    for r in range(args.repeats):
        for name, fn in sides:
            rec, m = _run(lambda: fn(r), args.threads, name)
            runs[name].append(rec)
            if r == 0:
                model = dot_model(m.user_factors, m.item_factors, train) if name == "implicit_als" else m
                quality[name] = _quality(model, train, test)
            print(f"repeat {r} {name}: {rec['seconds']:.2f}s wall, {rec['cpu_seconds']:.2f}s CPU, "
                  f"load {rec['loadavg_before']:.1f}", flush=True)

    table = _table(runs, quality, args.iterations)
    for name, row in table.items():
        print(f"{name:14s} {row['seconds_median']:7.2f}s ({row['seconds_per_iteration']:.3f}s/it) "
              f"CPU {row['cpu_seconds_median']:.2f}s  recall@20 {row['recall@20']:.4f}  ndcg@20 {row['ndcg@20']:.4f}")
    write_result(NAME + (f"_{args.only}" if args.only else ""), {
        "settings": vars(args) | {"implicit_version": implicit.__version__, "nnz": int(len(train)),
                                   "n_users": int(train.n_users), "n_items": int(train.n_items),
                                   "note": "implicit = iALS (uniform missing weights, CG or Cholesky per row); "
                                           "advrec = eALS (popularity-weighted missing data, coordinate updates)"},
        "results": table, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
