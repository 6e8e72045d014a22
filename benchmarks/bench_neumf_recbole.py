"""NeuMF epoch time: advrec (C++ engine) vs RecBole's NeuMF (PyTorch CPU) on ml-latest-small, same
architecture, negatives and instances per optimiser step, interleaved repeats, medians; each run in
its own subprocess (RecBole in its own virtual environment: see bench_sasrec_recbole.py for how to
create one; it is never installed into the shared site-packages).

Matched: GMF embeddings 8, MLP embeddings 16 per side, hidden layers [16, 8], no dropout, log loss
(RecBole: BCE on sigmoid outputs), 4 uniform negatives per positive, Adam lr 0.001, 1280 instances
per step (RecBole: train_batch_size 256 positives, each with its 4 negatives), no pre-training.
Different: RecBole trains on its 80% random split of the ratings, advrec on all but each user's
latest interaction, so the JSON reports instances per second as well as seconds per epoch.

    python benchmarks/bench_neumf_recbole.py --epochs 2 --repeats 2 --recbole-python /tmp/recbole-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HYPER = dict(gmf=8, mlp=16, hidden=[16, 8], negatives=4, lr=0.001, positives_per_batch=256)

RECBOLE_WORKER = r"""
import json, os, resource, sys, time
import torch
cfg_in = json.loads(sys.argv[1])
threads = cfg_in.pop("threads"); epochs = cfg_in.pop("epochs")
torch.set_num_threads(threads)
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.model.general_recommender import NeuMF
from recbole.trainer import Trainer
from recbole.utils import init_seed
import recbole
config = Config(model="NeuMF", dataset="ml", config_dict=cfg_in)
init_seed(config["seed"], config["reproducibility"])
torch.set_num_threads(threads)
dataset = create_dataset(config)
train_data, valid_data, test_data = data_preparation(config, dataset)
model = NeuMF(config, train_data._dataset).to("cpu")
trainer = Trainer(config, model)
times, cpu, loads = [], [], []
for e in range(epochs):
    loads.append(os.getloadavg()[0]); c = time.process_time(); t = time.perf_counter()
    loss = trainer._train_epoch(train_data, e, show_progress=False)
    times.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
positives = len(train_data._dataset)
print("RESULT " + json.dumps({"epoch_seconds": times, "epoch_cpu_seconds": cpu, "loadavg": loads,
    "instances_per_epoch": positives * (1 + cfg_in["train_neg_sample_args"]["sample_num"]),
    "last_loss": float(loss), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "versions": {"recbole": recbole.__version__, "torch": torch.__version__}}))
"""


def data_root() -> Path:
    env = os.environ.get("ADVREC_DATA_DIR")
    path = (Path(env) if env else HERE.parent.parent / "shared" / "data") / "ml-latest-small"
    if not path.is_dir():
        sys.exit(f"dataset not found at {path}; set ADVREC_DATA_DIR")
    return path


def write_atomic(tmp: Path) -> None:
    d = tmp / "ml"
    d.mkdir(parents=True, exist_ok=True)
    with open(data_root() / "ratings.csv") as src, open(d / "ml.inter", "w") as out:
        out.write("user_id:token\titem_id:token\ttimestamp:float\n")
        next(src)
        for line in src:
            u, i, _, t = line.strip().split(",")
            out.write(f"{u}\t{i}\t{t}\n")


def recbole_config(tmp: Path, epochs: int, threads: int, seed: int) -> dict:
    h = HYPER
    return {
        "data_path": str(tmp), "checkpoint_dir": str(tmp / "saved"), "device": "cpu", "use_gpu": False,
        "seed": seed, "reproducibility": False, "show_progress": False, "state": "ERROR",
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "mf_embedding_size": h["gmf"], "mlp_embedding_size": h["mlp"], "mlp_hidden_size": h["hidden"],
        "dropout_prob": 0.0, "mf_train": True, "mlp_train": True, "use_pretrain": False,
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": h["negatives"], "alpha": 1.0,
                                  "dynamic": False, "candidate_num": 0},
        "train_batch_size": h["positives_per_batch"], "learning_rate": h["lr"], "weight_decay": 0.0,
        "learner": "adam", "epochs": epochs, "threads": threads,
    }


def advrec_worker(epochs: int, threads: int, seed: int) -> None:
    import advrec

    data = advrec.datasets.load_movielens(data_root())
    train, _ = advrec.split.leave_one_out(data, by="time")
    h = HYPER
    m = advrec.NeuMF(factors=h["gmf"], mlp_layers=(2 * h["mlp"], *h["hidden"]), negatives=h["negatives"], lr=h["lr"],
                     batch_size=h["positives_per_batch"] * (1 + h["negatives"]), pretrain_epochs=0, epochs=0,
                     num_threads=threads, seed=seed, show_progress=False).fit(train)
    times, cpu, loads = [], [], []
    for _ in range(epochs):
        loads.append(os.getloadavg()[0])
        c, t = time.process_time(), time.perf_counter()
        m.partial_fit(train, epochs=1)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print("RESULT " + json.dumps({"epoch_seconds": times, "epoch_cpu_seconds": cpu, "loadavg": loads,
                                  "instances_per_epoch": len(train) * (1 + h["negatives"]),
                                  "last_loss": m.history_[-1]["loss"],
                                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                                  "versions": {"advrec": advrec.__version__}}))


def run(cmd, env, cwd=None) -> dict:
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    if p.returncode or not lines:
        sys.exit(f"worker failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}")
    return json.loads(lines[-1][7:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recbole-python", default="/tmp/recbole-venv/bin/python")
    ap.add_argument("--worker", choices=["advrec"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "advrec":
        advrec_worker(args.epochs, args.threads, args.seed)
        return
    if not Path(args.recbole_python).exists():
        sys.exit(f"{args.recbole_python} not found; create the RecBole venv (see bench_sasrec_recbole.py)")
    sys.path.insert(0, str(HERE))
    from _common import median, write_result

    env_t = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    env_a = dict(env_t, PYTHONPATH=os.pathsep.join(filter(None, [str(HERE.parent / "src"), os.environ.get("PYTHONPATH")])))
    env_r = dict(env_t)
    env_r.pop("PYTHONPATH", None)
    runs = {"advrec": [], "recbole": []}
    with tempfile.TemporaryDirectory(prefix="recbole-ml-", dir="/tmp") as tmpname:
        tmp = Path(tmpname)
        write_atomic(tmp)
        for r in range(args.repeats):
            runs["advrec"].append(run([sys.executable, __file__, "--worker", "advrec", "--epochs", str(args.epochs),
                                       "--threads", str(args.threads), "--seed", str(args.seed + r)], env_a))
            cfg = recbole_config(tmp, args.epochs, args.threads, args.seed + r)
            runs["recbole"].append(run([args.recbole_python, "-c", RECBOLE_WORKER, json.dumps(cfg)], env_r, cwd=tmp))
            for name in runs:
                print(f"repeat {r} {name:8s} epoch s {[round(t, 2) for t in runs[name][-1]['epoch_seconds']]}", flush=True)
    summary = {}
    for name, rs in runs.items():
        secs = [t for x in rs for t in x["epoch_seconds"]]
        summary[name] = {"median_epoch_seconds": median(secs),
                         "median_epoch_cpu_seconds": median([t for x in rs for t in x["epoch_cpu_seconds"]]),
                         "instances_per_epoch": rs[0]["instances_per_epoch"],
                         "instances_per_second": rs[0]["instances_per_epoch"] / median(secs)}
    speed = {"epoch_speedup": summary["recbole"]["median_epoch_seconds"] / summary["advrec"]["median_epoch_seconds"],
             "per_instance_speedup": summary["advrec"]["instances_per_second"] / summary["recbole"]["instances_per_second"]}
    print(json.dumps(summary, indent=1), speed)
    write_result("neumf_vs_recbole_ml", {"command": "python benchmarks/bench_neumf_recbole.py " + " ".join(sys.argv[1:]),
                                         "hyper": HYPER, "summary": summary, "speedup": speed, "runs": runs})


if __name__ == "__main__":
    main()
