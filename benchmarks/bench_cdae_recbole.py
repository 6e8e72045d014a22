"""CDAE epoch time: advrec (C++ engine) vs RecBole's CDAE (PyTorch CPU) on Amazon Video's training split.

RecBole runs in its own virtual environment (see bench_sasrec_recbole.py for how to create one;
``--recbole-python`` points at its interpreter), in a subprocess; so does every advrec run.

What one epoch is:

* RecBole 1.2.1's CDAE (read from its source): every user once, in batches of
  ``train_batch_size`` users; the input is the user's dense 0/1 row of all items (dropout =
  corruption), and the BCE loss is taken over ALL items (no negative sampling): O(I K) per user.
  Its training data is Video.train.rating with RecBole's own 98/1/1 random split (only training time
  is measured).
* advrec's CDAE follows the paper: the loss is taken over the user's items plus ``negatives`` sampled
  zeros per item. Two settings are timed: the paper's (negatives = 5) and a "dense-equivalent"
  one whose number of output entries per user equals the number of items on average
  (negatives = I / mean items per user - 1), so that both sides do comparable output work.

Same model otherwise: 64 hidden units, sigmoid hidden and output, cross-entropy, corruption 0.2;
RecBole: Adam lr 1e-3, batch 2048 users; advrec: AdaGrad, one step per user, Hogwild threads.
``--recbole-batches K`` times K RecBole batches (after 2 warm-up batches) and extrapolates to the
epoch. The JSON records load average and CPU time next to every wall time.

    python benchmarks/bench_cdae_recbole.py --recbole-python /tmp/recbole-venv/bin/python --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

RECBOLE_WORKER = r"""
import itertools, json, os, resource, sys, time
import torch
cfg = json.loads(sys.argv[1])
threads, epochs, max_batches = cfg.pop("threads"), cfg.pop("epochs"), cfg.pop("max_batches")
torch.set_num_threads(threads)
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.model.general_recommender import CDAE
from recbole.trainer import Trainer
from recbole.utils import init_seed
import recbole
config = Config(model="CDAE", dataset="video", config_dict=cfg)
init_seed(config["seed"], config["reproducibility"])
torch.set_num_threads(threads)
dataset = create_dataset(config)
train_data, _, _ = data_preparation(config, dataset)
model = CDAE(config, train_data._dataset).to("cpu")
trainer = Trainer(config, model)
times, cpu, loads = [], [], []
for e in range(epochs):
    loads.append(os.getloadavg())
    it = iter(train_data)
    if max_batches:
        trainer._train_epoch(itertools.islice(it, 2), e, show_progress=False)
        t, c = time.perf_counter(), time.process_time()
        trainer._train_epoch(itertools.islice(it, max_batches), e, show_progress=False)
        times.append((time.perf_counter() - t) / max_batches * len(train_data))
        cpu.append((time.process_time() - c) / max_batches * len(train_data))
    else:
        t, c = time.perf_counter(), time.process_time()
        trainer._train_epoch(it, e, show_progress=False)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
print("RESULT " + json.dumps({"epoch_seconds": times, "epoch_cpu_seconds": cpu, "loadavg": loads,
    "batches_per_epoch": len(train_data), "threads": torch.get_num_threads(),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "versions": {"recbole": recbole.__version__, "torch": torch.__version__}}))
"""


def data_root() -> Path:
    env = os.environ.get("ADVREC_DATA_DIR")
    root = Path(env) if env else HERE.parent.parent / "shared" / "data"
    path = root / "amazon-video-sasrec"
    if not path.is_dir():
        sys.exit(f"dataset not found at {path}; set ADVREC_DATA_DIR")
    return path


def write_atomic(tmp: Path) -> None:
    d = tmp / "video"
    d.mkdir(parents=True, exist_ok=True)
    with open(data_root() / "Video.train.rating") as src, open(d / "video.inter", "w") as out:
        out.write("user_id:token\titem_id:token\n")
        for line in src:
            u, i = line.split()[:2]
            out.write(f"{u}\t{i}\n")


def run_recbole(python: str, tmp: Path, epochs: int, threads: int, seed: int, max_batches: int) -> dict:
    cfg = {"data_path": str(tmp), "checkpoint_dir": str(tmp / "saved"), "device": "cpu", "use_gpu": False,
           "seed": seed, "reproducibility": False, "show_progress": False, "state": "ERROR",
           "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "load_col": {"inter": ["user_id", "item_id"]},
           "embedding_size": 64, "hid_activation": "sigmoid", "out_activation": "sigmoid", "loss_type": "BCE",
           "corruption_ratio": 0.2, "reg_weight_1": 0.0, "reg_weight_2": 0.0, "learner": "adam",
           "learning_rate": 0.001, "train_batch_size": 2048, "train_neg_sample_args": None,
           "eval_args": {"split": {"RS": [0.98, 0.01, 0.01]}, "order": "RO", "group_by": "user", "mode": "full"},
           "threads": threads, "epochs": epochs, "max_batches": max_batches}
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.pop("PYTHONPATH", None)
    p = subprocess.run([python, "-c", RECBOLE_WORKER, json.dumps(cfg)], cwd=tmp, env=env, capture_output=True,
                       text=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    if p.returncode or not lines:
        sys.exit(f"RecBole worker failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}")
    return json.loads(lines[-1][7:])


def advrec_worker(epochs: int, threads: int, seed: int, negatives: int) -> None:
    import resource

    import numpy as np

    import advrec
    from advrec._engine import core

    root = data_root()
    train, _ = advrec.datasets.load_rating_split(root / "Video.train.rating", root / "Video.test.rating")
    if negatives < 0:  # dense-equivalent: as many output entries per user as items, on average
        negatives = max(1, int(round(train.n_items / (len(train) / train.n_users))) - 1)
    m = advrec.CDAE(factors=64, corruption=0.2, negatives=negatives, epochs=0, num_threads=threads, seed=seed,
                    show_progress=False).fit(train)
    times, cpu, loads = [], [], []
    for _ in range(epochs):
        loads.append(os.getloadavg())
        t, c = time.perf_counter(), time.process_time()
        m.partial_fit(train, epochs=1)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print("RESULT " + json.dumps({"epoch_seconds": times, "epoch_cpu_seconds": cpu, "loadavg": loads,
                                  "negatives": negatives, "threads": threads, "engine_variant": core.variant,
                                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                                  "versions": {"advrec": advrec.__version__, "numpy": np.__version__}}))


def run_advrec(epochs: int, threads: int, seed: int, negatives: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.setdefault("PYTHONPATH", str(HERE.parent / "src"))
    p = subprocess.run([sys.executable, __file__, "--worker", "--epochs", str(epochs), "--threads", str(threads),
                        "--seed", str(seed), "--negatives", str(negatives)], env=env, capture_output=True, text=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    if p.returncode or not lines:
        sys.exit(f"advrec worker failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}")
    return json.loads(lines[-1][7:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--negatives", type=int, default=5)
    ap.add_argument("--recbole-python", default="/tmp/recbole-venv/bin/python")
    ap.add_argument("--recbole-batches", type=int, default=4)
    ap.add_argument("--dense", action="store_true",
                    help="also time the dense-equivalent advrec setting (slow: O(I K) sampled outputs per user)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        advrec_worker(args.epochs, args.threads, args.seed, args.negatives)
        return
    if not Path(args.recbole_python).exists():
        sys.exit(f"{args.recbole_python} not found; create the RecBole venv (see bench_sasrec_recbole.py)")
    sys.path.insert(0, str(HERE))
    from _common import median, write_result

    runs = {"advrec_paper": [], "recbole": []}
    if args.dense:
        runs = {"advrec_paper": [], "advrec_dense_equivalent": [], "recbole": []}
    with tempfile.TemporaryDirectory(prefix="recbole-cdae-", dir="/tmp") as tmpname:
        tmp = Path(tmpname)
        write_atomic(tmp)
        for r in range(args.repeats):  # interleaved
            for name in runs:
                if name == "recbole":
                    out = run_recbole(args.recbole_python, tmp, args.epochs, args.threads, args.seed + r,
                                      args.recbole_batches)
                else:
                    neg = args.negatives if name == "advrec_paper" else -1
                    out = run_advrec(args.epochs, args.threads, args.seed + r, neg)
                runs[name].append(out)
                print(f"repeat {r} {name:24s} epoch s {[round(t, 2) for t in out['epoch_seconds']]} "
                      f"load {out['loadavg'][0][0]:.1f}", flush=True)
    summary = {name: {"median_epoch_seconds": median([t for r in rs for t in r["epoch_seconds"]]),
                      "median_epoch_cpu_seconds": median([t for r in rs for t in r["epoch_cpu_seconds"]])}
               for name, rs in runs.items()}
    rb = summary["recbole"]["median_epoch_seconds"]
    speed = {name: rb / s["median_epoch_seconds"] for name, s in summary.items() if name != "recbole"}
    for name, s in summary.items():
        print(f"{name:24s} {s['median_epoch_seconds']:8.2f} s/epoch (cpu {s['median_epoch_cpu_seconds']:.2f} s)")
    print("speed-up vs RecBole per epoch:", {k: round(v, 1) for k, v in speed.items()})
    write_result("cdae_vs_recbole" + (f"_{args.tag}" if args.tag else ""), {
        "command": "python benchmarks/bench_cdae_recbole.py " + " ".join(sys.argv[1:]),
        "dataset": "amazon-video-sasrec Video.train.rating", "epochs": args.epochs, "repeats": args.repeats,
        "threads": args.threads, "recbole_batches_timed": args.recbole_batches or "full epoch",
        "work_per_user": {"recbole": "dense: all items in the loss, dense input row",
                          "advrec_paper": f"|O_u| * (1 + {args.negatives}) output entries, sparse input",
                          "advrec_dense_equivalent": "about n_items output entries (sampled), sparse input"},
        "optimiser": {"recbole": "Adam lr 1e-3, 2048 users per batch (torch intra-op threads)",
                      "advrec": "AdaGrad lr 0.1, one step per user (Hogwild threads)"},
        "summary": summary, "speedup_vs_recbole": speed, "runs": runs,
    })


if __name__ == "__main__":
    main()
