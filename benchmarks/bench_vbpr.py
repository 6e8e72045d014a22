"""VBPR training speed: advrec vs cornac's VBPR (PyTorch CPU), side by side.

Same data (ml-latest-small, leave-one-out by time: the training part), same MiniLM features
(D = 384), same sizes (ID factors 64, visual factors 64), same batch size (512), same thread count
(advrec num_threads, torch.set_num_threads). Epochs are interleaved (advrec, cornac, advrec, ...)
and the medians of the repeats are reported. cornac trains with Adam, advrec with Adagrad (the
papers' optimiser); the sampled-999 NDCG@10 of both after the same number of epochs is reported as a
sanity check that the faster epoch is not a worse one.

    pip install cornac     # brings torch
    python benchmarks/bench_vbpr.py [--repeats 3] [--threads 1,2] [--epochs 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import advrec
from _common import data_dir, median, write_result


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
    args = ap.parse_args()
    import cornac
    import torch

    folder = data_dir() / "ml-latest-small"
    data = advrec.datasets.load_movielens(folder)
    F = advrec.features.movielens_text_embeddings(folder, data)
    train, test = advrec.split.leave_one_out(data, by="time")
    ds = cornac_dataset(train, F)
    bs = args.batch_size
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        ours = advrec.VBPR(factors=64, visual_factors=64, batch_size=bs, num_threads=threads, epochs=1, seed=0,
                           show_progress=False).fit(train, item_features=F)
        t_ours, t_cornac = [], []
        for rep in range(args.repeats):
            start = time.perf_counter()
            ours.partial_fit(train, epochs=1)
            t_ours.append(time.perf_counter() - start)
            cm = cornac.models.VBPR(k=64, k2=64, n_epochs=0, batch_size=bs, verbose=False, seed=rep)
            start = time.perf_counter()
            cm.fit(ds)
            setup = time.perf_counter() - start
            cm = cornac.models.VBPR(k=64, k2=64, n_epochs=2, batch_size=bs, verbose=False, seed=rep)
            start = time.perf_counter()
            cm.fit(ds)
            t_cornac.append((time.perf_counter() - start - setup) / 2)
            print(f"threads={threads} rep={rep}: advrec {t_ours[-1]:.3f} s/epoch, cornac {t_cornac[-1]:.3f} s/epoch",
                  flush=True)
        row = dict(threads=threads, advrec_epoch_s=median(t_ours), cornac_epoch_s=median(t_cornac),
                   speedup=median(t_cornac) / median(t_ours), advrec_runs=t_ours, cornac_runs=t_cornac)
        rows.append(row)
        print(row, flush=True)

    # Quality check at equal epochs (threads = the last setting).
    proto = advrec.Sampled(n_negatives=999, seed=0)
    ours = advrec.VBPR(factors=64, visual_factors=64, batch_size=bs, num_threads=rows[-1]["threads"],
                       epochs=args.epochs, seed=0, show_progress=False).fit(train, item_features=F)
    cm = cornac.models.VBPR(k=64, k2=64, n_epochs=args.epochs, batch_size=bs, verbose=False, seed=0).fit(ds)
    U, V = cornac_factors(cm, ds, train, F)
    quality = {
        "epochs": args.epochs,
        "advrec_ndcg@10": advrec.evaluate(ours, train, test, k=10, metrics=("ndcg",), protocol=proto).summary["ndcg@10"],
        "cornac_ndcg@10": advrec.evaluate(_Scored(U, V, train.n_users, train.n_items), train, test, k=10,
                                          metrics=("ndcg",), protocol=proto).summary["ndcg@10"],
    }
    print(quality)
    write_result("vbpr_speed", {
        "data": "ml-latest-small (leave-one-out by time, training part: %d pairs)" % len(train),
        "features": "MiniLM text embeddings, D = 384",
        "settings": dict(factors=64, visual_factors=64, batch_size=bs, advrec_optimizer="adagrad",
                         cornac_optimizer="adam (its only option)", cornac_version=cornac.__version__,
                         torch_version=torch.__version__),
        "note": "2 cores shared with other sessions during the run: timings are noisy",
        "rows": rows, "quality": quality})


if __name__ == "__main__":
    main()
