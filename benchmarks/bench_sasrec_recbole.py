"""SASRec epoch time and peak memory: advrec (C++ engine) vs RecBole's SASRec (PyTorch CPU) on Amazon
Video, same hyper-parameters, 2 threads, interleaved repeats, medians.

RecBole is NOT a dependency of advrec and must not go into the shared site-packages (it pins old
packages); it runs in its own virtual environment, in a subprocess:

    python -m venv /tmp/recbole-venv
    /tmp/recbole-venv/bin/pip install torch==2.13.0            # CPU wheel
    /tmp/recbole-venv/bin/pip install --no-deps recbole==1.2.1
    /tmp/recbole-venv/bin/pip install "numpy<2" scipy pandas tqdm colorlog==4.7.2 colorama==0.4.4 \
        pyyaml tabulate texttable psutil scikit-learn tensorboard thop

    python benchmarks/bench_sasrec_recbole.py --epochs 2 --repeats 2 [--recbole-python PATH]

Every run (advrec or RecBole) is a fresh subprocess of this script (``--worker``), so each one's
peak RSS (``ru_maxrss``) is its own: data loading + model + one training run. RecBole's input is
written as atomic files into a temporary directory under /tmp (never into the repository) and the
RecBole subprocess runs with that directory as its working directory (it writes log/ and
saved/ folders there).

What one epoch is (read from RecBole 1.2.1's SequentialDataset.data_augmentation and
SASRec.calculate_loss):

* RecBole turns every training prefix into its own example: a user with items i1..in yields
  (i1 | i2), (i1 i2 | i3), ..., each a left-aligned, zero-padded list of MAX_ITEM_LIST_LENGTH = 50
  items; the last example of each user (target = last item) is the test set ("LS": "test_only"),
  so training targets = training items minus one per user. The loss is computed at the *last*
  position of each example only (``gather_indexes(output, item_seq_len - 1)``), with one uniformly
  sampled negative per example. RecBole's SASRec offers loss_type "BPR" or "CE" only (no BCE);
  "BPR" with one negative costs the same as BCE with one negative (two dot products per
  example), so it is used here.
* advrec trains one sequence per user (its most recent maxlen + 1 training items) and takes the
  loss at every position (BCE, one negative per position).

Both therefore see (almost) the same (prefix -> next item) targets per epoch: RecBole one
example per target, advrec one position per target (advrec drops targets older than the last 50 of
a user with > 51 training items). The JSON reports both counts, seconds per epoch and targets per
second. RecBole runs 50 transformer positions per target (the padded prefix), advrec about one:
that is the design difference being measured, not a difference in the hyper-parameters. The JSON
also gives throughput per *computed* transformer position (RecBole: examples x 50 padded positions;
advrec packs sequences without padding, one position per target) - the kernel-level comparison.

A full RecBole epoch takes minutes on 2 cores, so ``--recbole-batches K`` times K batches per epoch
(after 10 warm-up batches; batches are shuffled, all the same size) and extrapolates to the epoch's
batch count; ``--recbole-batches 0`` (default) times whole epochs.

Other differences (each noted in the JSON): RecBole's Transformer is post-LayerNorm with a
LayerNorm on the input embeddings, advrec's pre-LayerNorm as the SASRec paper; RecBole's Adam is
torch's (beta2 0.999), advrec's beta2 is 0.98; RecBole's negatives only avoid the target item,
advrec's avoid the user's history.
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

HYPER = dict(hidden=64, blocks=2, heads=1, maxlen=50, dropout=0.2, inner=64, batch=128, lr=0.001, act="relu")

RECBOLE_WORKER = r"""
import json, resource, sys, time
import torch
cfg_in = json.loads(sys.argv[1])
threads = cfg_in.pop("threads")
epochs = cfg_in.pop("epochs")
max_batches = cfg_in.pop("max_batches")
import itertools
torch.set_num_threads(threads)
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.model.sequential_recommender import SASRec
from recbole.trainer import Trainer
from recbole.utils import init_seed
import recbole
config = Config(model="SASRec", dataset="video", config_dict=cfg_in)
init_seed(config["seed"], config["reproducibility"])
torch.set_num_threads(threads)
t0 = time.perf_counter()
dataset = create_dataset(config)
train_data, valid_data, test_data = data_preparation(config, dataset)
prep = time.perf_counter() - t0
model = SASRec(config, train_data._dataset).to("cpu")
trainer = Trainer(config, model)
n_params = sum(p.numel() for p in model.parameters())
times, part = [], []
for e in range(epochs):
    if max_batches:
        # time batches [10, 10 + max_batches) of the epoch (after a short warm-up) and extrapolate
        it = iter(train_data)
        trainer._train_epoch(itertools.islice(it, 10), e, show_progress=False)
        t = time.perf_counter()
        loss = trainer._train_epoch(itertools.islice(it, max_batches), e, show_progress=False)
        dt = time.perf_counter() - t
        part.append(dt)
        times.append(dt / max_batches * len(train_data))
    else:
        t = time.perf_counter()
        loss = trainer._train_epoch(train_data, e, show_progress=False)
        times.append(time.perf_counter() - t)
print("RESULT " + json.dumps({
    "epoch_seconds": times, "extrapolated_from_batches": max_batches or None, "timed_seconds": part, "prep_seconds": prep, "last_loss": float(loss if not isinstance(loss, tuple) else sum(loss)),
    "train_examples": len(train_data._dataset), "batches_per_epoch": len(train_data),
    "threads": torch.get_num_threads(), "n_params": n_params,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    "versions": {"recbole": recbole.__version__, "torch": torch.__version__,
                 "numpy": __import__("numpy").__version__, "pandas": __import__("pandas").__version__}}))
"""


def data_root() -> Path:
    env = os.environ.get("ADVREC_DATA_DIR")
    root = Path(env) if env else HERE.parent.parent / "shared" / "data"
    path = root / "amazon-video-sasrec"
    if not path.is_dir():
        sys.exit(f"dataset not found at {path}; set ADVREC_DATA_DIR")
    return path


def write_atomic(tmp: Path) -> Path:
    """Video.txt -> RecBole atomic file tmp/video/video.inter (timestamp = line number, so each
    user's order is the file order)."""
    d = tmp / "video"
    d.mkdir(parents=True, exist_ok=True)
    with open(data_root() / "Video.txt") as src, open(d / "video.inter", "w") as out:
        out.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for i, line in enumerate(src):
            u, it = line.split()
            out.write(f"{u}\t{it}\t{i}\n")
    return tmp


def recbole_config(tmp: Path, epochs: int, threads: int, seed: int, max_batches: int = 0) -> dict:
    h = HYPER
    return {
        "data_path": str(tmp), "checkpoint_dir": str(tmp / "saved"), "device": "cpu", "use_gpu": False,
        "seed": seed, "reproducibility": False, "show_progress": False, "state": "ERROR",
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id", "TIME_FIELD": "timestamp",
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": h["maxlen"], "hidden_size": h["hidden"], "inner_size": h["inner"],
        "n_layers": h["blocks"], "n_heads": h["heads"], "hidden_dropout_prob": h["dropout"],
        "attn_dropout_prob": h["dropout"], "hidden_act": h["act"], "loss_type": "BPR",
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1, "alpha": 1.0, "dynamic": False,
                                  "candidate_num": 0},
        "eval_args": {"split": {"LS": "test_only"}, "order": "TO", "group_by": "user", "mode": "full"},
        "train_batch_size": h["batch"], "learning_rate": h["lr"], "weight_decay": 0.0, "learner": "adam",
        "epochs": epochs, "threads": threads, "max_batches": max_batches,
    }


def run_recbole(python: str, tmp: Path, epochs: int, threads: int, seed: int, max_batches: int = 0) -> dict:
    cfg = recbole_config(tmp, epochs, threads, seed, max_batches)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.pop("PYTHONPATH", None)
    p = subprocess.run([python, "-c", RECBOLE_WORKER, json.dumps(cfg)], cwd=tmp, env=env, capture_output=True,
                       text=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    if p.returncode or not lines:
        sys.exit(f"RecBole worker failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}")
    return json.loads(lines[-1][7:])


def advrec_worker(epochs: int, threads: int, seed: int) -> None:
    import numpy as np

    import advrec

    root = data_root()
    t0 = time.perf_counter()
    train, _ = advrec.datasets.load_rating_split(root / "Video.train.rating", root / "Video.test.rating")
    indptr, _ = train.sequences()
    lengths = np.diff(indptr)
    prep = time.perf_counter() - t0
    h = HYPER
    m = advrec.SASRec(factors=h["hidden"], maxlen=h["maxlen"], blocks=h["blocks"], heads=h["heads"],
                      dropout=h["dropout"], lr=h["lr"], batch_size=h["batch"], epochs=epochs, num_threads=threads,
                      seed=seed, show_progress=False)
    m.fit(train)
    times = [r["seconds"] for r in m.history_]
    assert [r["positions"] for r in m.history_][:1] in ([], [int(np.minimum(np.maximum(lengths - 1, 0), h["maxlen"]).sum())])
    print("RESULT " + json.dumps({
        "epoch_seconds": times, "prep_seconds": prep,
        "train_sequences": int((lengths >= 2).sum()),
        "train_targets": int(np.minimum(np.maximum(lengths - 1, 0), h["maxlen"]).sum()),
        "train_targets_uncapped": int(np.maximum(lengths - 1, 0).sum()),
        "threads": threads, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "versions": {"advrec": advrec.__version__, "numpy": np.__version__}}))


def run_advrec(epochs: int, threads: int, seed: int) -> dict:
    src = str(HERE.parent / "src")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
    p = subprocess.run([sys.executable, __file__, "--worker", "advrec", "--epochs", str(epochs), "--threads",
                        str(threads), "--seed", str(seed)], env=env, capture_output=True, text=True)
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
    ap.add_argument("--recbole-python", default="/tmp/recbole-venv/bin/python")
    ap.add_argument("--recbole-batches", type=int, default=0,
                    help="time only this many RecBole batches per epoch (after 10 warm-up batches) and "
                         "extrapolate to the full epoch; 0 = whole epochs (about 9 min each on 2 cores)")
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    ap.add_argument("--worker", choices=["advrec"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "advrec":
        advrec_worker(args.epochs, args.threads, args.seed)
        return
    if not Path(args.recbole_python).exists():
        sys.exit(f"{args.recbole_python} not found; create the RecBole venv as the module docstring says")

    sys.path.insert(0, str(HERE))
    from _common import median, write_result

    runs = {"advrec": [], "recbole": []}
    with tempfile.TemporaryDirectory(prefix="recbole-video-", dir="/tmp") as tmpname:
        tmp = write_atomic(Path(tmpname))
        for r in range(args.repeats):
            for name in ("advrec", "recbole"):
                if name == "advrec":
                    out = run_advrec(args.epochs, args.threads, args.seed + r)
                else:
                    out = run_recbole(args.recbole_python, tmp, args.epochs, args.threads, args.seed + r,
                                      args.recbole_batches)
                runs[name].append(out)
                print(f"repeat {r} {name:8s} epoch s {[round(t, 2) for t in out['epoch_seconds']]} "
                      f"peak RSS {out['peak_rss_mb']:.0f} MB", flush=True)

    summary = {}
    for name, rs in runs.items():
        secs = [t for r in rs for t in r["epoch_seconds"]]
        targets = rs[0]["train_targets"] if name == "advrec" else rs[0]["train_examples"]
        # transformer positions actually computed: RecBole pads every example to maxlen; advrec packs
        # each user's sequence without padding (one position per target)
        computed = targets if name == "advrec" else targets * HYPER["maxlen"]
        summary[name] = {"median_epoch_seconds": median(secs), "min_epoch_seconds": min(secs),
                         "targets_per_epoch": targets, "targets_per_second": targets / median(secs),
                         "computed_positions_per_epoch": computed,
                         "computed_positions_per_second": computed / median(secs),
                         "median_peak_rss_mb": median([r["peak_rss_mb"] for r in rs])}
    a, b = summary["advrec"], summary["recbole"]
    speed = {"epoch_speedup": b["median_epoch_seconds"] / a["median_epoch_seconds"],
             "per_target_speedup": a["targets_per_second"] / b["targets_per_second"],
             "per_computed_position_speedup": a["computed_positions_per_second"] / b["computed_positions_per_second"]}
    for name, s in summary.items():
        print(f"{name:8s} {s['median_epoch_seconds']:8.2f} s/epoch  {s['targets_per_second']:10.0f} targets/s  "
              f"{s['targets_per_epoch']} targets/epoch  peak RSS {s['median_peak_rss_mb']:.0f} MB")
    print(f"advrec is {speed['epoch_speedup']:.1f}x faster per epoch, {speed['per_target_speedup']:.1f}x per target, "
          f"{speed['per_computed_position_speedup']:.1f}x per computed (padded) transformer position")
    write_result("sasrec_vs_recbole" + (f"_{args.tag}" if args.tag else ""), {
        "command": "python benchmarks/bench_sasrec_recbole.py " + " ".join(sys.argv[1:]),
        "dataset": "amazon-video-sasrec (Video.txt for RecBole with LS test_only; Video.train.rating for advrec)",
        "hyper": HYPER, "epochs": args.epochs, "recbole_batches_timed": args.recbole_batches or "full epoch", "repeats": args.repeats, "threads": args.threads,
        "loss": {"advrec": "BCE, one negative per position (never in history), every position of the sequence",
                 "recbole": "BPR (RecBole SASRec has no BCE), one uniform negative per example, last position only; "
                            "one example per training prefix, padded to 50"},
        "differences": ["RecBole post-LN Transformer + LayerNorm on input embeddings; advrec pre-LN",
                        "Adam beta2: torch default 0.999 (RecBole) vs 0.98 (advrec)",
                        "advrec: dense Adam (lazy_adam=False), Hogwild threads; RecBole: torch intra-op threads",
                        "peak RSS = ru_maxrss of each run's own process, including data loading and "
                        "(RecBole) its dataset preprocessing"],
        "summary": summary, "speedup": speed, "runs": runs,
        "versions": {"recbole_side": runs["recbole"][0]["versions"], "advrec_side": runs["advrec"][0]["versions"]},
    })


if __name__ == "__main__":
    main()
