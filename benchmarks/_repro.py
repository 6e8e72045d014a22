"""Multi-seed reproduction helpers shared by the repro_* scripts (not part of the package).

Conventions every reproduction follows:

* hyper-parameters (eps, lambda) and epochs are chosen on a VALIDATION split, never on test:
  ``fit(..., eval_set=(valid, k), patience=...)`` restores the best validation epoch, and a grid
  is resolved by the best validation score (:func:`pick_on_validation`);
* the test set is evaluated once per selected model, with the validation interactions excluded
  from the candidates like the training ones (``train_full`` = train + valid);
* every claim is reported over seeds as mean ± sd, with a paired t-test over users per seed and a
  paired t-test across seeds on the per-seed means (:func:`compare`);
* a test-selected number (the best epoch by *test* metric, as some papers' code does) is shown only
  labelled as such (:class:`TestCurve`).
"""

from __future__ import annotations

import itertools
import math
import os
import resource
import time
from typing import Any, Callable, Dict, List, Sequence

import numpy as np

import advrec


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Clock:
    """Wall and CPU time since creation, with the load average at start and end."""

    def __init__(self):
        self.wall0, self.cpu0, self.load0 = time.perf_counter(), cpu_seconds(), os.getloadavg()

    def report(self) -> Dict[str, Any]:
        return {"wall_seconds": time.perf_counter() - self.wall0, "cpu_seconds": cpu_seconds() - self.cpu0,
                "loadavg_start": list(self.load0), "loadavg_end": list(os.getloadavg())}


def mean_sd(values: Sequence[float]) -> Dict[str, Any]:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else float("nan"), "n": int(v.size),
            "values": [float(x) for x in v]}


def fmt(stat: Dict[str, Any], digits: int = 4, pct: bool = False) -> str:
    scale, unit = (100.0, "%") if pct else (1.0, "")
    sd = stat["sd"]
    sd_txt = "n/a" if math.isnan(sd) else f"{scale * sd:.{digits}f}"
    return f"{scale * stat['mean']:.{digits}f} ± {sd_txt}{unit}"


def compare(results_a: Sequence, results_b: Sequence, metric: str) -> Dict[str, Any]:
    """A against B on ``metric``, one pair of :class:`advrec.EvaluationResult` per seed.

    Returns per-seed values, the paired t-test over users of every seed, mean ± sd of A, B and of
    the relative gain A/B - 1 across seeds, and a paired t-test across seeds on the per-seed means
    (NaN with fewer than two seeds).
    """
    per_seed = []
    for ra, rb in zip(results_a, results_b):
        t = advrec.stats.paired_ttest(ra, rb, metric)
        per_seed.append({"a": ra.summary[metric], "b": rb.summary[metric],
                         "relative": ra.summary[metric] / rb.summary[metric] - 1, "t_users": t.statistic,
                         "p_users": t.pvalue, "n_users": t.n_users})
    return claim_from_seeds(metric, per_seed)


def claim_from_seeds(metric: str, per_seed: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The across-seed summary of :func:`compare` from its per-seed records (also used to merge
    seeds run in separate processes)."""
    from scipy import stats

    a = [s["a"] for s in per_seed]
    b = [s["b"] for s in per_seed]
    across = float("nan")
    if len(a) >= 2 and np.any(np.asarray(a) != np.asarray(b)):
        across = float(stats.ttest_rel(a, b).pvalue)
    return {"metric": metric, "a": mean_sd(a), "b": mean_sd(b),
            "relative": mean_sd([s["relative"] for s in per_seed]), "p_across_seeds": across,
            "p_users_per_seed": [s["p_users"] for s in per_seed], "per_seed": per_seed}


def merge_claims(parts: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Merges nested claim dicts (same keys, each from a run over different seeds) into one."""
    first = parts[0]
    if isinstance(first, dict) and "per_seed" in first and "metric" in first:
        return claim_from_seeds(first["metric"], [s for p in parts for s in p["per_seed"]])
    if isinstance(first, dict) and "values" in first and "mean" in first:
        return mean_sd([v for p in parts for v in p["values"]])
    if isinstance(first, dict):
        return {k: merge_claims([p[k] for p in parts]) for k in first if all(k in p for p in parts)}
    if isinstance(first, list) and all(isinstance(p, list) and all(isinstance(x, dict) for x in p) for p in parts):
        return [x for p in parts for x in p]  # per-seed records: concatenated
    return first if all(p == first for p in parts) else list(parts)


def combine_runs(prefix: str, tags: Sequence[str], out_tag: str) -> Dict[str, Any]:
    """Merges ``results/<prefix>_<tag>.json`` of runs over different seeds (e.g. run as parallel
    processes) into ``results/<prefix>_<out_tag>.json``: claims and mean ± sd recomputed over all
    seeds, per-seed records concatenated."""
    import json

    from _common import RESULTS, write_result

    names = [f"{prefix}_{t}.json" for t in tags]
    parts = [json.loads((RESULTS / n).read_text()) for n in names]
    for p in parts:
        for key in ("benchmark", "date", "machine"):
            p.pop(key, None)
    merged = merge_claims(parts)
    merged["combined_from"] = names
    write_result(f"{prefix}_{out_tag}" if out_tag else prefix, merged)
    return merged


def describe(name_a: str, name_b: str, cmp: Dict[str, Any]) -> str:
    ps = ", ".join(f"{p:.2g}" for p in cmp["p_users_per_seed"])
    return (f"{cmp['metric']}: {name_a} {fmt(cmp['a'])} vs {name_b} {fmt(cmp['b'])} | gain "
            f"{fmt(cmp['relative'], 1, pct=True)} | p(seeds) {cmp['p_across_seeds']:.2g} | p(users, per seed) {ps}")


class TestCurve:
    """A fit callback that also evaluates on TEST every ``every`` epochs, only to report the
    test-selected number some papers' code reports (labelled as such); it never steers training."""

    def __init__(self, model, train_full, test, metric: str, every: int = 1):
        self.model, self.train_full, self.test, self.metric, self.every = model, train_full, test, metric, every
        name, k = metric.split("@")
        self.k, self.name = int(k), name
        self.curve: List[Dict[str, float]] = []

    def __call__(self, epoch: int, figures: Dict[str, Any]):
        if epoch % self.every == 0:
            res = advrec.evaluate(self.model, self.train_full, self.test, k=self.k, metrics=(self.name,))
            self.curve.append({"epoch": epoch, self.metric: res.summary[self.metric]})
        return None

    def best(self) -> Dict[str, float]:
        return max(self.curve, key=lambda c: c[self.metric]) if self.curve else {}


def subsample_users(data, n_users: int, seed: int):
    """The interactions of ``n_users`` users drawn at random (seeded) from those present in ``data``
    (all of them when ``n_users`` is 0 or not smaller). Validation on a user sample costs a fraction
    of a full evaluation and is still selection on validation (the sample never touches test)."""
    present = np.flatnonzero(data.user_counts() > 0)
    if n_users <= 0 or n_users >= present.size:
        return data
    chosen = np.random.default_rng(seed).choice(present, size=n_users, replace=False)
    mask = np.zeros(data.n_users, dtype=bool)
    mask[chosen] = True
    return data._subset(mask[data.users])


def pick_on_validation(candidates: Dict[Any, Callable[[], Any]]) -> Dict[str, Any]:
    """Fits every candidate (a thunk returning a model fitted with ``eval_set=``) and keeps the one
    with the best ``best_score_`` on validation. Returns ``{"choice", "model", "scores"}``."""
    scores, best_key, best_model = {}, None, None
    for key, make in candidates.items():
        model = make()
        scores[key] = float(model.best_score_)
        if best_key is None or scores[key] > scores[best_key]:
            if best_model is not None:
                del best_model
            best_key, best_model = key, model
    return {"choice": best_key, "model": best_model, "scores": scores}


def extend_on_boundary(axes: dict, fit, max_steps: int = 4) -> dict:
    """Grid search on validation that does not stop at its boundary. ``axes``: name -> positive
    values. The full grid is fitted; while the best point sits at an axis's lowest or highest value
    (axes with one value are fixed), the axis gains one value further out at the ratio of its two
    outermost values, and the new line of points through the best point (other axes at their best
    values) is fitted, at most ``max_steps`` times, until the new points do not improve.
    Returns :func:`pick_on_validation`'s dict over every point fitted (keys in ``axes`` order)."""
    names = list(axes)
    values = {n: sorted(axes[n]) for n in names}
    thunks = {pt: (lambda pt=pt: fit(*pt)) for pt in itertools.product(*(values[n] for n in names))}
    picked = pick_on_validation(thunks)
    for _ in range(max_steps):
        best = dict(zip(names, picked["choice"]))
        new = {}
        for n in names:
            vs = values[n]
            if len(vs) < 2:
                continue
            out = vs[-1] * vs[-1] / vs[-2] if best[n] == vs[-1] else vs[0] * vs[0] / vs[1] if best[n] == vs[0] else None
            if out is not None:
                values[n] = sorted(vs + [out])
                pt = tuple(out if m == n else best[m] for m in names)
                new[pt] = lambda pt=pt: fit(*pt)
        if not new:
            break
        more = pick_on_validation(new)
        scores = {**picked["scores"], **more["scores"]}
        if more["scores"][more["choice"]] > picked["scores"][picked["choice"]]:
            picked = {"choice": more["choice"], "model": more["model"], "scores": scores}
        else:
            picked = {**picked, "scores": scores}
            break
    return picked


def history_summary(model) -> List[Dict[str, Any]]:
    """The evaluated epochs of a model's history (epoch, phase, loss and validation figures)."""
    keep = ("epoch", "phase", "loss", "adv_loss")
    return [{k: v for k, v in h.items() if k in keep or k.startswith("val_")} for h in model.history_
            if any(k.startswith("val_") for k in h)]
