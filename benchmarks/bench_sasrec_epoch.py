"""CPU seconds per SASRec / ASASRec epoch on Video (one thread; CPU time, not wall time, so that
other jobs on a shared machine disturb it less). Minimum over 2 interleaved repeats.

    python benchmarks/bench_sasrec_epoch.py
"""

import resource

import advrec
from _common import data_dir


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
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
    for _ in range(2):
        for name, make in makers.items():
            c = cpu()
            make().fit(train, init=base)
            res.setdefault(name, []).append(cpu() - c)
    best = {k: min(v) for k, v in res.items()}
    for k, v in best.items():
        print(f"{k:18s} {v:.2f} CPU s/epoch  ({v / best['sasrec']:.2f}x SASRec)")


if __name__ == "__main__":
    main()
