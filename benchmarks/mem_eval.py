"""Peak memory of full-ranking evaluation on Gowalla, in a fresh process per step.

Prints the process's peak RSS after loading the data and fitting a BPR-MF (the baseline), and after
`advrec.evaluate` on top of it; the difference is evaluation's own working memory, which must not
grow with users x items (a dense score matrix would be 29,858 x 40,981 x 4 B = 4.9 GB).

    python benchmarks/mem_eval.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

from _common import data_dir, timed, write_result

CHILD = r"""
import json, resource, sys, numpy as np, advrec
train, test = advrec.datasets.load_lightgcn(sys.argv[1])
model = advrec.BPRMF(factors=64, epochs=1, num_threads=2, seed=0, show_progress=False).fit(train)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if sys.argv[2] == "evaluate":
    advrec.evaluate(model, train, test, k=20, metrics=sys.argv[3].split(","), num_threads=2)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
params = (model.user_factors.nbytes + model.item_factors.nbytes) / 2**20
data = sum(a.nbytes for a in (*train.csr_arrays(), *test.csr_arrays())) / 2**20
print(json.dumps({"rss_after_fit_mb": base, "peak_rss_mb": peak, "parameters_mb": params, "csr_data_mb": data}))
"""


def main():
    folder = str(data_dir() / "gowalla-lightgcn")
    out = {}
    for label, args in (("fit_only", ["none", ""]), ("evaluate_recall_ndcg", ["evaluate", "recall,ndcg"]),
                        ("evaluate_all_metrics", ["evaluate", "hr,ndcg,recall,precision,mrr,map,auc"])):
        _, res = timed(lambda: subprocess.run([sys.executable, "-c", CHILD, folder, *args], capture_output=True,
                                              text=True, check=True), threads=2, label=label)
        out[label] = json.loads(res.stdout.strip().splitlines()[-1])
        print(label, out[label])
    out["evaluation_extra_mb"] = out["evaluate_recall_ndcg"]["peak_rss_mb"] - out["fit_only"]["peak_rss_mb"]
    out["evaluation_extra_mb_all_metrics"] = out["evaluate_all_metrics"]["peak_rss_mb"] - out["fit_only"]["peak_rss_mb"]
    out["dense_score_matrix_mb"] = 29858 * 40981 * 4 / 2**20
    print(f"evaluation adds {out['evaluation_extra_mb']:.0f} MB (all metrics: {out['evaluation_extra_mb_all_metrics']:.0f} MB); "
          f"a dense score matrix would be {out['dense_score_matrix_mb']:.0f} MB")
    write_result("eval_memory_gowalla", out)


if __name__ == "__main__":
    main()
