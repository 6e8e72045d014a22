"""Poisoning benchmark on ml-latest-small: attack success (target HR@50, mean rank) by attack, fake
fraction and victim over seeds, detection F1, remove-and-retrain, and the time of one point.

    nice -n 10 python benchmarks/bench_poisoning.py                # the whole grid, 3 seeds
    nice -n 10 python benchmarks/bench_poisoning.py --point        # one point: inject 1%, BPR-MF
    python benchmarks/bench_poisoning.py --quick                   # a smoke run (1 seed, 2 attacks)

Writes benchmarks/results/poisoning_ml.json (grid) or poisoning_point_ml.json (one point), with the
load average and CPU time beside every wall time (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from _common import data_dir, write_result


def load():
    import advrec

    data = advrec.datasets.load_movielens(data_dir() / "ml-latest-small")
    train, _test = advrec.split.leave_one_out(data, by="time")
    return train


def one_point(repeats: int):
    """Inject 1% bandwagon, warm-start BPR-MF for 10 epochs, target metrics (2 threads)."""
    import advrec
    from advrec import poisoning as P

    train = load()
    clean = advrec.BPRMF(factors=64, epochs=50, num_threads=2, show_progress=False, seed=0).fit(train)
    targets = P.draw_targets(train, 5, seed=0)
    runs = []
    for r in range(repeats):
        load_before = os.getloadavg()
        t, c = time.perf_counter(), time.process_time()
        poisoned, fake = P.inject(train, "bandwagon", targets, n_fake=0.01, seed=r)
        model = P.retrain(clean, poisoned, 10, seed=r)
        res = P.target_metrics(model, poisoned, targets, k=50, users=np.arange(train.n_users), num_threads=2)
        runs.append({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c,
                     "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "hr@50": res["hr@50"],
                     "rank": res["rank"]})
    sec = sorted(r["seconds"] for r in runs)
    write_result("poisoning_point_ml", {
        "what": "one poisoning point on ml-latest-small: inject 1% bandwagon fake users (6), warm-started "
                "BPR-MF (64 factors) retraining for 10 epochs, exact target metrics (5 targets, HR@50) over the "
                "610 real users; 2 engine threads",
        "median_seconds": sec[len(sec) // 2], "median_cpu_seconds": sorted(r["cpu_seconds"] for r in runs)[len(runs) // 2],
        "runs": runs})


def grid(args):
    from advrec import poisoning as P

    train = load()
    load_before = os.getloadavg()
    t, c = time.perf_counter(), time.process_time()
    table = P.benchmark(train, attacks=tuple(args.attacks), fractions=tuple(args.fractions),
                        victims=tuple(args.victims), seeds=tuple(range(args.seeds)), retrain_epochs=args.retrain_epochs,
                        detectors=("pca", "degsim"), remove_and_retrain=("BPRMF",) if "BPRMF" in args.victims else (),
                        workers=args.workers, num_threads=1, show_progress=True)
    wall, cpu_parent = time.perf_counter() - t, time.process_time() - c
    load_after = os.getloadavg()
    # the headline comparisons: every attack against random, and pga against every heuristic, at 1%
    tests = []
    for victim in args.victims:
        for metric in ("hr@50", "rank"):
            for a in args.attacks:
                for b in args.attacks:
                    if a == b or not ((b == "random") or (a == "pga")):
                        continue
                    if "sequential" in (a, b) and victim not in ("SASRec", "ASASRec"):
                        continue
                    for f in args.fractions:
                        try:
                            tests.append(P.paired_across_seeds(table, a, b, metric, victim, f))
                        except ValueError:
                            pass
    summary = (table[table.attack != "none"].groupby(["victim", "attack", "fraction", "metric"])["value"]
               .agg(["mean", "std", "count"]).reset_index())
    clean = (table[table.attack == "none"].groupby(["victim", "metric"])["value"].agg(["mean", "std"]).reset_index())
    point = table[(table.victim == "BPRMF") & np.isclose(table.fraction, 0.01) & (table.metric == "hr@50")]
    write_result(args.out, {
        "what": "poisoning grid on ml-latest-small (leave-one-out by time, train part): attacks x fake fraction x "
                "victims x seeds; 5 targets per seed drawn below the median popularity; victims fitted once per seed "
                "on clean data, then warm-started for retrain_epochs on poisoned data (clean reference: the same "
                "continuation on clean data); target metrics exact with pessimistic ties over the real users; "
                "detectors scored with a label-free robust z > 3 rule; one engine thread per worker process",
        "command": "nice -n 10 python benchmarks/bench_poisoning.py " + " ".join(args.argv),
        "settings": {"attacks": args.attacks, "fractions": args.fractions, "victims": args.victims,
                     "seeds": args.seeds, "retrain_epochs": args.retrain_epochs, "workers": args.workers},
        "wall_seconds": wall, "parent_cpu_seconds": cpu_parent,
        "worker_cpu_seconds_in_points": float(table.drop_duplicates(["seed", "attack", "fraction", "victim"])
                                              ["cpu_seconds"].sum(skipna=True)),
        "worker_setup_cpu_seconds": float(table.drop_duplicates(["seed"])["setup_cpu_seconds"].sum()),
        "loadavg_before": load_before, "loadavg_after": load_after,
        "bprmf_point_at_1pct": {"median_seconds": float(point["seconds"].median()),
                                "median_cpu_seconds": float(point["cpu_seconds"].median())},
        "clean": clean.to_dict(orient="records"),
        "summary": summary.to_dict(orient="records"),
        "paired_tests_across_seeds": tests,
        "rows_columns": [c for c in table.columns if c != "targets"],
        "rows": table.drop(columns=["targets"]).to_numpy().tolist(),
    })


def main():
    import sys

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--point", action="store_true", help="time one point instead of the grid")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="1 seed, random + bandwagon, BPR-MF and ItemPop")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--retrain-epochs", dest="retrain_epochs", type=int, default=10)
    p.add_argument("--attacks", nargs="+", default=["random", "popular", "bandwagon", "segment", "pga", "sequential"])
    p.add_argument("--fractions", nargs="+", type=float, default=[0.005, 0.01, 0.03, 0.05])
    p.add_argument("--victims", nargs="+", default=["ItemPop", "BPRMF", "AMF", "SASRec", "ASASRec"])
    p.add_argument("--out", default="poisoning_ml")
    args = p.parse_args()
    args.argv = sys.argv[1:]
    if args.point:
        return one_point(args.repeats)
    if args.quick:
        args.seeds, args.attacks, args.victims, args.fractions = 1, ["random", "bandwagon"], ["ItemPop", "BPRMF"], [0.01]
        args.out = "poisoning_ml_quick"
    grid(args)


if __name__ == "__main__":
    main()
