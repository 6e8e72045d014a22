"""Cost of the beyond-accuracy metrics on top of accuracy-only full-ranking evaluation, Gowalla.

Times, in one process and interleaved (A, B, A, B, ...), ``advrec.evaluate`` with
(A) Recall/NDCG@K only, and (B) Recall/NDCG@K plus every beyond-accuracy metric that needs no item
features (EPC, EFD, ARP, APLT, ACLT, coverage, Gini, entropy, PopREO, PopRSP) computed from the same
top-K pass. Reports medians, the ratio B/A, per-run wall and process CPU time, and the load average
before and after (the machine is shared). The factors come from a short BPR-MF fit so the score
distribution is realistic.

    nice -n 10 python benchmarks/bench_eval_beyond.py [--repeats 7] [--threads 2] [--k 20]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import advrec
from _common import data_dir, median, write_result

BEYOND = ("epc", "efd", "arp", "aplt", "aclt", "coverage", "gini", "entropy", "pop_reo", "pop_rsp")


def run(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--k", type=int, nargs="+", default=[20])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--users", type=int, default=0,
                    help="evaluate a random subset of this many test users (0 = all): more, shorter repeats "
                         "when the machine is loaded")
    args = ap.parse_args()

    train, test = advrec.datasets.load_lightgcn(data_dir() / "gowalla-lightgcn")
    model = advrec.BPRMF(factors=args.factors, epochs=args.epochs, num_threads=args.threads, seed=0,
                         show_progress=False).fit(train)
    ks = tuple(args.k)
    subset = None
    if args.users:
        has_test = np.flatnonzero(np.diff(test.csr_arrays()[0]) > 0)
        subset = np.sort(np.random.default_rng(0).choice(has_test, size=min(args.users, has_test.size), replace=False))
    accuracy = ("recall", "ndcg")
    configs = {"accuracy_only": accuracy, "accuracy_plus_beyond": accuracy + BEYOND}
    # One warm-up of each (page faults, thread pool start-up) before timing.
    for metrics in configs.values():
        advrec.evaluate(model, train, test, k=ks, metrics=metrics, num_threads=args.threads, users=subset)

    load_before = os.getloadavg()
    wall = {name: [] for name in configs}
    cpu = {name: [] for name in configs}
    summaries = {}
    for rep in range(args.repeats):
        for name, metrics in configs.items():
            w, c, res = run(lambda: advrec.evaluate(model, train, test, k=ks, metrics=metrics,
                                                    num_threads=args.threads, users=subset))
            wall[name].append(w)
            cpu[name].append(c)
            summaries[name] = res.summary
        print(f"repeat {rep}: " + ", ".join(f"{n} {wall[n][-1]:.3f}s (cpu {cpu[n][-1]:.2f}s)" for n in configs),
              f"load {os.getloadavg()[0]:.2f}", flush=True)
    load_after = os.getloadavg()

    med = {n: median(v) for n, v in wall.items()}
    med_cpu = {n: median(v) for n, v in cpu.items()}
    # Paired per-repeat ratios are less sensitive to load drifting during the run than a ratio of medians.
    paired = [b / a for a, b in zip(wall["accuracy_only"], wall["accuracy_plus_beyond"])]
    same_accuracy = all(summaries["accuracy_only"][m] == summaries["accuracy_plus_beyond"][m]
                        for m in summaries["accuracy_only"])
    result = {
        "users": int(subset.size if subset is not None else np.count_nonzero(np.diff(test.csr_arrays()[0]) > 0)),
        "items": int(train.n_items), "epochs": args.epochs,
        "factors": args.factors, "threads": args.threads, "ks": list(ks), "repeats": args.repeats,
        "beyond_metrics": list(BEYOND),
        "seconds_median": med, "cpu_seconds_median": med_cpu, "seconds_all": wall, "cpu_seconds_all": cpu,
        "overhead_ratio_of_medians": med["accuracy_plus_beyond"] / med["accuracy_only"],
        "overhead_ratio_paired_median": median(paired),
        "overhead_ratio_cpu_medians": med_cpu["accuracy_plus_beyond"] / med_cpu["accuracy_only"],
        "overhead_ratio_cpu_minima": min(cpu["accuracy_plus_beyond"]) / min(cpu["accuracy_only"]),
        "target_ratio": 1.10,
        "accuracy_identical_with_and_without_lists": bool(same_accuracy),
        "load_average_before": list(load_before), "load_average_after": list(load_after),
        "metrics": summaries["accuracy_plus_beyond"],
    }
    print(f"accuracy only {med['accuracy_only']:.3f}s, with beyond-accuracy {med['accuracy_plus_beyond']:.3f}s: "
          f"x{result['overhead_ratio_of_medians']:.3f} (paired median x{result['overhead_ratio_paired_median']:.3f}, "
          f"cpu x{result['overhead_ratio_cpu_medians']:.3f}); accuracy identical: {same_accuracy}")
    write_result("eval_beyond_gowalla" + ("" if ks == (20,) else "_k" + "_".join(map(str, ks)))
                 + (f"_{args.users}users" if args.users else "") + f"_{args.threads}thread", result)


if __name__ == "__main__":
    main()
