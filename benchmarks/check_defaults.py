"""Do the design card's one-line calls give good models with the default settings? (issue 17)

Two checks, each over several seeds, against the clean model trained for the same total epochs:

* Amazon Video (the SAO split), full ranking @100: ``BPRMF(factors=64, epochs=120)`` vs
  ``AMF(factors=64, epochs=120).fit(train)`` (defaults: 60 BPR epochs, then 60 APR epochs at the
  paper's eps = 0.5);
* ml-latest-small, leave-one-out by time, full ranking @100: ``SASRec(factors=32, blocks=1,
  epochs=20)`` vs ``ASASRec(factors=32, blocks=1, epochs=20).fit(train)`` (defaults: 10 SASRec
  epochs, then 10 SAO epochs at eps = 0.1 x the median item-embedding norm).

With ``--old-defaults`` it also trains the previous defaults (no pre-training; ASASRec at the
absolute eps = 0.5), which collapsed. Per seed: a paired t-test over users; across seeds: a paired
t-test of the per-seed means. Nothing here is tuned: these are the library's defaults.

    python benchmarks/check_defaults.py --seeds 0,1,2 [--old-defaults] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy import stats as sps

import advrec
from _common import data_dir, write_result

K = 100
METRICS = ("hr", "ndcg")


def load(name):
    root = data_dir()
    if name == "video":
        return advrec.datasets.load_rating_split(root / "amazon-video-sasrec" / "Video.train.rating",
                                                 root / "amazon-video-sasrec" / "Video.test.rating")
    data = advrec.datasets.load_movielens(root / "ml-latest-small")
    return advrec.split.leave_one_out(data, by="time")


def cases(old: bool):
    """(dataset, name, factory(seed, threads)) with the clean model first in each dataset."""
    out = [
        ("video", "BPRMF", lambda s, t: advrec.BPRMF(factors=64, epochs=120, num_threads=t, seed=s, show_progress=False)),
        ("video", "AMF", lambda s, t: advrec.AMF(factors=64, epochs=120, num_threads=t, seed=s, show_progress=False)),
        ("ml-latest-small", "SASRec",
         lambda s, t: advrec.SASRec(factors=32, blocks=1, epochs=20, num_threads=t, seed=s, show_progress=False)),
        ("ml-latest-small", "ASASRec",
         lambda s, t: advrec.ASASRec(factors=32, blocks=1, epochs=20, num_threads=t, seed=s, show_progress=False)),
    ]
    if old:
        out += [
            ("video", "AMF (old defaults)",
             lambda s, t: advrec.AMF(factors=64, epochs=120, pretrain_epochs=0, num_threads=t, seed=s,
                                     show_progress=False)),
            ("ml-latest-small", "ASASRec (old defaults)",
             lambda s, t: advrec.ASASRec(factors=32, blocks=1, epochs=20, eps=0.5, pretrain_epochs=0, num_threads=t,
                                         seed=s, show_progress=False)),
        ]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--old-defaults", action="store_true")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    import warnings

    results = {}
    per_user = {}
    for dataset in ("video", "ml-latest-small"):
        train, test = load(dataset)
        for ds, name, make in cases(args.old_defaults):
            if ds != dataset:
                continue
            for seed in seeds:
                load_before = os.getloadavg()
                cpu0, t0 = time.process_time(), time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    model = make(seed, args.threads).fit(train)
                wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                res = advrec.evaluate(model, train, test, k=K, metrics=METRICS)
                per_user[(dataset, name, seed)] = res
                row = {k: float(v) for k, v in res.summary.items()}
                row.update(seconds=wall, cpu_seconds=cpu, load_before=load_before, load_after=os.getloadavg(),
                           collapsed=bool(getattr(model, "collapsed_", False)),
                           warnings=sorted({str(w.message)[:160] for w in caught}))
                results.setdefault(dataset, {}).setdefault(name, {})[str(seed)] = row
                print(f"{dataset:16s} {name:24s} seed {seed}: hr@{K} {row[f'hr@{K}']:.4f} "
                      f"ndcg@{K} {row[f'ndcg@{K}']:.4f} ({wall:.0f} s, load {load_before[0]:.1f})", flush=True)

    comparisons = []
    for dataset, clean, adv in (("video", "BPRMF", "AMF"), ("ml-latest-small", "SASRec", "ASASRec"),
                                ("video", "BPRMF", "AMF (old defaults)"),
                                ("ml-latest-small", "SASRec", "ASASRec (old defaults)")):
        if adv not in results.get(dataset, {}):
            continue
        for metric in (f"hr@{K}", f"ndcg@{K}"):
            a = np.array([results[dataset][clean][str(s)][metric] for s in seeds])
            b = np.array([results[dataset][adv][str(s)][metric] for s in seeds])
            per_seed_p = [float(advrec.stats.paired_ttest(per_user[(dataset, clean, s)],
                                                          per_user[(dataset, adv, s)], metric).pvalue)
                          for s in seeds]
            across = float(sps.ttest_rel(b, a).pvalue) if len(seeds) > 1 else float("nan")
            comparisons.append(dict(dataset=dataset, clean=clean, adversarial=adv, metric=metric,
                                    clean_mean=float(a.mean()), clean_sd=float(a.std(ddof=1)) if len(a) > 1 else 0.0,
                                    adv_mean=float(b.mean()), adv_sd=float(b.std(ddof=1)) if len(b) > 1 else 0.0,
                                    gain=float(b.mean() / a.mean() - 1.0), p_per_seed_over_users=per_seed_p,
                                    p_across_seeds=across))
            c = comparisons[-1]
            print(f"{dataset:16s} {adv:24s} vs {clean:7s} {metric:9s} {c['adv_mean']:.4f} ± {c['adv_sd']:.4f} vs "
                  f"{c['clean_mean']:.4f} ± {c['clean_sd']:.4f} ({c['gain']:+.1%}; p per seed "
                  f"{', '.join(f'{p:.2g}' for p in per_seed_p)}; across seeds {across:.2g})")
    write_result("defaults_check", {"seeds": seeds, "threads": args.threads, "k": K, "runs": results,
                                    "comparisons": comparisons,
                                    "conditions": "shared 2-core machine; other jobs running (see load averages)"})


if __name__ == "__main__":
    main()
