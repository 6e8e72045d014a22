"""CPU seconds per SASRec / ASASRec epoch on Video (one thread; CPU time, not wall time, so that
other jobs on a shared machine disturb it less). Minimum over the interleaved repeats; wall time,
CPU time and load of every run are kept in ``results/sasrec_epoch_video.json``.

    python benchmarks/bench_sasrec_epoch.py [--repeats 2]
"""

import argparse

import advrec
from _common import RUN_LOG, data_dir, timed, write_result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    root = data_dir() / "amazon-video-sasrec"
    train, _ = advrec.datasets.load_rating_split(root / "Video.train.rating", root / "Video.test.rating")
    kw = dict(factors=64, maxlen=50, num_threads=1, lr=0.003, lazy_adam=True, show_progress=False)
    base = advrec.SASRec(epochs=1, **kw).fit(train)
    makers = {
        "sasrec": lambda: advrec.SASRec(epochs=1, **kw),
        "asasrec_paper": lambda: advrec.ASASRec(eps=0.25, perturb="paper", epochs=1, **kw),
        "asasrec_output": lambda: advrec.ASASRec(eps=0.25, perturb="output", epochs=1, **kw),
        "sasrec_dense_adam": lambda: advrec.SASRec(epochs=1, **dict(kw, lazy_adam=False)),
    }
    res = {}
    for _ in range(args.repeats):
        for name, make in makers.items():
            timed(lambda: make().fit(train, init=base), threads=1, label=name)
            res.setdefault(name, []).append(RUN_LOG[-1]["cpu_s"])
    best = {k: min(v) for k, v in res.items()}
    for k, v in best.items():
        print(f"{k:18s} {v:.2f} CPU s/epoch  ({v / best['sasrec']:.2f}x SASRec)")
    write_result("sasrec_epoch_video", {"settings": vars(args) | kw, "cpu_seconds_per_epoch": res,
                                        "cpu_seconds_min": best,
                                        "ratio_to_sasrec": {k: v / best["sasrec"] for k, v in best.items()}})


if __name__ == "__main__":
    main()
