"""BPR-MF training throughput and quality on Gowalla: advrec vs implicit vs the machine's ceiling.

Three trainers run side by side, interleaved, in one process run, at every thread count:

* ``ref_bpr`` -- ``benchmarks/ref_bpr.cpp``, a minimal Hogwild BPR loop written for speed only
  (uniform pair, uniform negative checked against the user's items by binary search, plain SGD, no
  loss, rows on cache lines and huge pages, a prefetch pipeline), compiled here with
  ``g++ -O3 -march=native``: the ceiling advrec is a fraction of; ``ref_bpr_nocheck`` is the same
  loop without the membership check (its negatives may be positives): the bound set by the memory
  traffic of the three rows alone;
* ``implicit`` -- implicit 0.7's CPU BPR (``verify_negative_samples=True``: the same check);
* ``advrec`` -- ``advrec.BPRMF`` with SGD (the like-for-like row) and with Adagrad (the papers'
  optimiser), and with ``negatives="popularity"`` (implicit's negative distribution).

Equal work: every trainer draws one triple per training pair per epoch, for the same number of
epochs, factors (implicit's learned item bias is matched by ``use_bias=True``), learning rate and
regularisation. Times are whole ``fit`` calls (wall and CPU); medians over the repeats. Quality
is Recall/NDCG@20 by one code path (``advrec.evaluate``, full ranking) from the first repeat.

    python benchmarks/bench_bpr.py [--epochs 20] [--repeats 3] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import advrec
from _common import HERE, data_dir, median, peak_rss_mb, timed, write_result


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


def build_reference(workdir: Path) -> Path:
    """Compiles ref_bpr.cpp with the system compiler for this CPU."""
    exe = workdir / "ref_bpr"
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        raise SystemExit("no C++ compiler found for benchmarks/ref_bpr.cpp")
    subprocess.run([cxx, "-O3", "-march=native", "-fopenmp", str(HERE / "ref_bpr.cpp"), "-o", str(exe)], check=True)
    return exe


def write_csr(train, path: Path) -> None:
    indptr, indices = train.csr_arrays()
    with open(path, "wb") as f:
        np.array([train.n_users, train.n_items], np.int64).tofile(f)
        indptr.astype(np.int64).tofile(f)
        indices.astype(np.int32).tofile(f)


def run_reference(exe, csr_path, args, threads, check=True):
    """One ref_bpr run (logged by timed(), whose CPU time includes the child's); returns the loop's
    own clock, which excludes reading the file and allocating: the training time proper."""
    cmd = [str(exe), str(csr_path), str(args.epochs), str(threads), str(args.factors), str(args.lr), str(args.reg),
           "check" if check else "nocheck"]
    _, out = timed(lambda: subprocess.run(cmd, check=True, capture_output=True, text=True).stdout, threads=threads,
                   label=f"ref_bpr{'' if check else '_nocheck'}/{threads}")
    result = json.loads(out)
    if not result["finite"]:
        raise SystemExit("ref_bpr diverged")
    return result["seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--reg", type=float, default=0.0001)
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    args = ap.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]

    from implicit.cpu.bpr import BayesianPersonalizedRanking

    train, test = advrec.datasets.load_lightgcn(data_dir() / "gowalla-lightgcn")
    X = train.to_csr().astype(np.float32)
    samples = len(train) * args.epochs
    workdir = Path(tempfile.mkdtemp(prefix="advrec_ref_bpr_"))
    exe = build_reference(workdir)
    csr_path = workdir / "train.csr"
    write_csr(train, csr_path)

    def implicit_fit(seed, threads):
        m = BayesianPersonalizedRanking(factors=args.factors, learning_rate=args.lr, regularization=args.reg,
                                        iterations=args.epochs, num_threads=threads, verify_negative_samples=True,
                                        random_state=seed)
        m.fit(X, show_progress=False)
        return m

    def advrec_fit(seed, threads, optimizer, negatives="uniform"):
        return advrec.BPRMF(factors=args.factors, lr=args.lr, reg=args.reg, optimizer=optimizer, use_bias=True,
                            epochs=args.epochs, num_threads=threads, seed=seed, negatives=negatives,
                            show_progress=False).fit(train)

    trainers = {
        "implicit": lambda seed, t: implicit_fit(seed, t),
        "advrec_sgd": lambda seed, t: advrec_fit(seed, t, "sgd"),
        "advrec_adagrad": lambda seed, t: advrec_fit(seed, t, "adagrad"),
        "advrec_sgd_popularity": lambda seed, t: advrec_fit(seed, t, "sgd", "popularity"),
    }
    refs = ["ref_bpr", "ref_bpr_nocheck"]
    seconds = {(name, t): [] for t in thread_counts for name in [*refs, *trainers]}
    quality = {}
    for r in range(args.repeats):
        for t in thread_counts:
            seconds[("ref_bpr", t)].append(run_reference(exe, csr_path, args, t))
            seconds[("ref_bpr_nocheck", t)].append(run_reference(exe, csr_path, args, t, check=False))
            for name, fit in trainers.items():
                wall, model = timed(lambda: fit(r, t), threads=t, label=f"{name}/{t}")
                seconds[(name, t)].append(wall)
                if r == 0 and t == thread_counts[-1]:
                    frozen = _Frozen.from_implicit(model, train) if name == "implicit" else model
                    quality[name] = _quality(frozen, train, test)
            print(f"repeat {r}, {t} thread(s): " + ", ".join(f"{n} {v[-1]:.2f}s" for (n, tt), v in seconds.items()
                                                            if tt == t), flush=True)
    shutil.rmtree(workdir, ignore_errors=True)

    table = {}
    for t in thread_counts:
        row = {}
        for name in [*refs, *trainers]:
            s = median(seconds[(name, t)])
            row[name] = {"seconds_median": s, "seconds_all": seconds[(name, t)], "samples_per_s": samples / s,
                         **quality.get(name, {})}
        for name in row:
            row[name]["speedup_vs_implicit"] = row[name]["samples_per_s"] / row["implicit"]["samples_per_s"]
            row[name]["fraction_of_ref_bpr"] = row[name]["samples_per_s"] / row["ref_bpr"]["samples_per_s"]
            row[name]["fraction_of_ref_bpr_nocheck"] = (row[name]["samples_per_s"]
                                                        / row["ref_bpr_nocheck"]["samples_per_s"])
        table[str(t)] = row
        for name, v in row.items():
            q = f"  recall@20 {v['recall@20']:.4f}" if "recall@20" in v else ""
            print(f"{t}T {name:22s} {v['seconds_median']:7.2f}s  {v['samples_per_s'] / 1e6:6.2f} M/s  "
                  f"x{v['speedup_vs_implicit']:.2f} implicit  {100 * v['fraction_of_ref_bpr']:5.1f}% of ref "
                  f"{100 * v['fraction_of_ref_bpr_nocheck']:5.1f}% of the unchecked bound{q}")
    write_result("bpr_vs_implicit_gowalla" + (f"_{args.tag}" if args.tag else ""), {
        "settings": vars(args) | {"samples_per_run": samples, "implicit_version": __import__("implicit").__version__,
                                   "note": "implicit factors=F learns F+1 columns (item bias); advrec use_bias=True; "
                                           "ref_bpr has no bias and times its training loop only (no set-up)"},
        "results": table, "peak_rss_mb": peak_rss_mb()})


def _quality(model, train, test):
    res = advrec.evaluate(model, train, test, k=20, metrics=("recall", "ndcg"), show_progress=False)
    return {k: float(v) for k, v in res.summary.items()}


if __name__ == "__main__":
    main()
