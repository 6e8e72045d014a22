"""The poisoning benchmark: attacks x fake fraction x victims x seeds, warm-started retraining.

Protocol per seed (nothing is selected on evaluation data):

1. targets: ``n_targets`` items drawn (with the seed) from the items below the median training
   popularity - a different set for every seed;
2. every victim is fitted once on the clean data (``clean_epochs``; AMF starts from the BPR-MF,
   ASASRec from the SASRec, as the papers do);
3. the clean reference of a victim is its continuation for ``retrain_epochs`` on the clean data;
   the poisoned point is the same continuation on the poisoned data (:func:`retrain`), so a
   difference is due to the fake users, not to the extra epochs;
4. target metrics (:func:`target_metrics`, exact, pessimistic ties) over the real users, clean and
   poisoned; optionally detection (P/R/F1 of each detector, label-free rule) and remove-and-retrain
   (the victim continued on the data without the flagged users).

The optimised attack (``"pga"``) uses the attacker's own surrogate BPR-MF (32 factors, its own seed,
fitted on the clean data once per seed): the attacker knows the data, not the victim.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from .detection import DETECTORS, detection_scores, flag_outliers, remove_users
from .inject import as_interactions, inject
from .metrics import target_metrics
from .victims import retrain

__all__ = ["benchmark", "draw_targets", "paired_across_seeds", "VICTIMS"]

VICTIMS = ("ItemPop", "BPRMF", "AMF", "SASRec", "ASASRec")
_SEQUENTIAL = ("SASRec", "ASASRec")
_METRICS = ("hr", "ndcg", "rank", "score")

_DEFAULT_PARAMS: Dict[str, Dict[str, Any]] = {
    "BPRMF": dict(factors=64, epochs=50),
    "AMF": dict(factors=64, eps=0.5, reg_adv=1.0, epochs=20),
    "SASRec": dict(factors=32, maxlen=50, blocks=1, dropout=0.2, epochs=30),
    # ASASRec: the engine's default budget, relative to the item-embedding norms (issue 17)
    "ASASRec": dict(factors=32, maxlen=50, blocks=1, dropout=0.2, reg_adv=1.0, epochs=10),
}


def draw_targets(train, n_targets: int = 5, seed: int = 0) -> np.ndarray:
    """``n_targets`` distinct items drawn uniformly, with ``seed``, from the items whose training
    popularity is below the median popularity of the items that have any interaction."""
    pop = as_interactions(train).item_counts()
    median = np.median(pop[pop > 0])
    pool = np.flatnonzero(pop < median)
    if pool.size < n_targets:
        pool = np.flatnonzero(pop <= median)
    if pool.size < n_targets:
        raise ValueError(f"only {pool.size} items are below the median popularity; cannot draw {n_targets} targets")
    rng = np.random.default_rng([int(seed), 0x7A6])
    return np.sort(rng.choice(pool, size=int(n_targets), replace=False)).astype(np.int32)


def _fit_victims(train, victims: Sequence[str], params: Mapping[str, Mapping[str, Any]], seed: int,
                 num_threads: int) -> Dict[str, Any]:
    import advrec

    common = dict(seed=int(seed), num_threads=int(num_threads), show_progress=False)
    fitted: Dict[str, Any] = {}
    for name in victims:
        if name == "ItemPop":
            fitted[name] = advrec.ItemPop().fit(train)
            continue
        cfg = {**_DEFAULT_PARAMS[name], **params.get(name, {}), **common}
        if name == "BPRMF":
            fitted[name] = advrec.BPRMF(**cfg).fit(train)
        elif name == "AMF":
            base = fitted.get("BPRMF") or advrec.BPRMF(**{**_DEFAULT_PARAMS["BPRMF"], **params.get("BPRMF", {}),
                                                           **common}).fit(train)
            fitted[name] = advrec.AMF(**cfg).fit(train, init=base)
        elif name == "SASRec":
            fitted[name] = advrec.SASRec(**cfg).fit(train)
        elif name == "ASASRec":
            base = fitted.get("SASRec") or advrec.SASRec(**{**_DEFAULT_PARAMS["SASRec"], **params.get("SASRec", {}),
                                                             **common}).fit(train)
            fitted[name] = advrec.ASASRec(**cfg).fit(train, init=base)
    return fitted


def _metric_rows(res, base: Dict[str, Any], k: int, clean=None) -> List[Dict[str, Any]]:
    rows = []
    for m in _METRICS:
        name = m if m in ("rank", "score") else f"{m}@{k}"
        row = {**base, "metric": name, "value": res.summary[name]}
        if clean is not None:
            row["clean"] = clean.summary[name]
        rows.append(row)
    return rows


def _run_seed(task: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """One seed of the grid (a picklable unit of work for the process pool)."""
    import advrec

    train = task["train"]
    seed = int(task["seed"])
    k = int(task["k"])
    threads = int(task["num_threads"])
    targets = draw_targets(train, task["n_targets"], seed)
    real = np.arange(train.n_users, dtype=np.int32)
    t0, c0 = time.perf_counter(), time.process_time()
    victims = _fit_victims(train, task["victims"], task["victim_params"], seed, threads)
    surrogate = None
    if "pga" in task["attacks"]:
        surrogate = advrec.BPRMF(factors=32, epochs=30, seed=seed + 1000, num_threads=threads,
                                 show_progress=False).fit(train)
    rows: List[Dict[str, Any]] = []
    base_info = {"seed": seed, "targets": " ".join(map(str, targets.tolist()))}
    clean_res = {}
    for name, model in victims.items():
        ref = retrain(model, train, task["retrain_epochs"], seed=seed)
        clean_res[name] = target_metrics(ref, train, targets, k=k, num_threads=threads)
        rows += _metric_rows(clean_res[name], {**base_info, "attack": "none", "fraction": 0.0, "n_fake": 0,
                                                "victim": name, "seconds": np.nan, "cpu_seconds": np.nan},
                             k, clean=clean_res[name])
    setup = (time.perf_counter() - t0, time.process_time() - c0)
    for attack in task["attacks"]:
        for fraction in task["fractions"]:
            ts, cs = time.perf_counter(), time.process_time()
            extra = {"surrogate": surrogate, "num_threads": threads} if attack == "pga" else {}
            poisoned, fake = inject(train, attack, targets, n_fake=float(fraction), profile_size=task["profile_size"],
                                    seed=seed, **extra)
            inject_s = (time.perf_counter() - ts, time.process_time() - cs)
            info = {**base_info, "attack": attack, "fraction": float(fraction), "n_fake": int(fake.size)}
            for det in task["detectors"]:
                ds, dc = time.perf_counter(), time.process_time()
                flagged = flag_outliers(DETECTORS[det](poisoned))
                sc = detection_scores(flagged, fake)
                for m in ("precision", "recall", "f1"):
                    rows.append({**info, "victim": f"detector:{det}", "metric": m, "value": sc[m], "clean": np.nan,
                                 "seconds": time.perf_counter() - ds, "cpu_seconds": time.process_time() - dc})
                if task["remove_and_retrain"]:
                    cleaned = remove_users(poisoned, flagged)
                    kept = np.setdiff1d(real, flagged).astype(np.int32)
                    for name in task["remove_and_retrain"]:
                        if attack == "sequential" and name not in _SEQUENTIAL:
                            continue
                        model = retrain(victims[name], cleaned, task["retrain_epochs"], seed=seed)
                        res = target_metrics(model, cleaned, targets, k=k, users=kept, num_threads=threads)
                        rows += _metric_rows(res, {**info, "victim": f"{name}+remove:{det}", "seconds": np.nan,
                                                   "cpu_seconds": np.nan}, k, clean=clean_res[name])
            for name, model in victims.items():
                if attack == "sequential" and name not in _SEQUENTIAL:
                    continue  # the order of a profile only matters to sequence models
                vs, vc = time.perf_counter(), time.process_time()
                attacked = retrain(model, poisoned, task["retrain_epochs"], seed=seed)
                res = target_metrics(attacked, poisoned, targets, k=k, users=real, num_threads=threads)
                # the time of one benchmark point: inject + warm-started retraining + target metrics
                sec = inject_s[0] + time.perf_counter() - vs
                cpu = inject_s[1] + time.process_time() - vc
                rows += _metric_rows(res, {**info, "victim": name, "seconds": sec, "cpu_seconds": cpu}, k,
                                     clean=clean_res[name])
    for r in rows:
        r["setup_seconds"], r["setup_cpu_seconds"] = setup
    return rows


def _worker_init(num_threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(max(1, num_threads))


def benchmark(train, attacks: Sequence[str] = ("random", "popular", "bandwagon", "segment", "pga", "sequential"),
              fractions: Sequence[float] = (0.005, 0.01, 0.03, 0.05), victims: Sequence[str] = VICTIMS,
              seeds: Sequence[int] = (0, 1, 2), n_targets: int = 5, k: int = 50, profile_size: Optional[int] = None,
              retrain_epochs: int = 10, victim_params: Optional[Mapping[str, Mapping[str, Any]]] = None,
              detectors: Sequence[str] = (), remove_and_retrain: Sequence[str] = (), workers: int = 1,
              num_threads: int = 1, show_progress: bool = False):
    """Runs the poisoning grid and returns a tidy table.

    Parameters
    ----------
    train : advrec.Interactions
        Clean training data (the real users).
    attacks : sequence of str
        Attack names of :func:`inject` (``"sequential"`` is run against SASRec/ASASRec only).
    fractions : sequence of float
        Fake users as fractions of the real users.
    victims : sequence of str
        From :data:`VICTIMS`.
    seeds : sequence of int
        One set of targets, clean victims and injections per seed.
    n_targets, k, profile_size
        Targets per seed (:func:`draw_targets`), the cut-off of HR/NDCG, and fake profile length.
    retrain_epochs : int
        Warm-started epochs on the poisoned (and, for the reference, clean) data.
    victim_params : dict, optional
        ``victim -> parameters`` overriding the defaults (``epochs`` is the clean training).
    detectors : sequence of str
        Detectors (``"pca"``, ``"degsim"``) scored at every point (rows ``victim="detector:<name>"``).
    remove_and_retrain : sequence of str
        Victims continued on the data without the users each detector flagged
        (rows ``victim="<victim>+remove:<detector>"``).
    workers : int
        Processes (one seed per task); 1 runs in this process.
    num_threads : int
        Engine threads per process.

    Returns
    -------
    pandas.DataFrame
        Columns ``seed, targets, attack, fraction, n_fake, victim, metric, value, clean, seconds,
        cpu_seconds, setup_seconds, setup_cpu_seconds``; ``clean`` is the victim's clean-reference
        value (``attack == "none"`` rows are the references themselves), ``seconds`` the wall time
        of the point (inject, warm-started retraining, target metrics).
    """
    import pandas as pd

    train = as_interactions(train)
    unknown = [v for v in victims if v not in VICTIMS]
    if unknown:
        raise ValueError(f"unknown victim(s) {unknown}; choose from {list(VICTIMS)}")
    for f in fractions:
        if isinstance(f, bool) or not 0.0 < float(f) <= 1.0:
            raise ValueError(f"fractions must be in (0, 1], got {f!r}")
    bad = [d for d in detectors if d not in DETECTORS]
    if bad:
        raise ValueError(f"unknown detector(s) {bad}; choose from {sorted(DETECTORS)}")
    bad = [v for v in remove_and_retrain if v not in victims]
    if bad:
        raise ValueError(f"remove_and_retrain victims {bad} must be among victims")
    if remove_and_retrain and not detectors:
        raise ValueError("remove_and_retrain needs at least one detector")
    from .inject import ATTACKS

    names = sorted(ATTACKS) + ["pga"]
    bad = [a for a in attacks if a not in names]
    if bad:
        raise ValueError(f"unknown attack(s) {bad}; choose from {names}")
    tasks = [{"train": train, "seed": int(s), "attacks": tuple(attacks), "fractions": tuple(fractions),
              "victims": tuple(victims), "n_targets": int(n_targets), "k": int(k), "profile_size": profile_size,
              "retrain_epochs": int(retrain_epochs), "victim_params": dict(victim_params or {}),
              "detectors": tuple(detectors), "remove_and_retrain": tuple(remove_and_retrain),
              "num_threads": int(num_threads)} for s in seeds]
    from tqdm.auto import tqdm

    rows: List[Dict[str, Any]] = []
    bar = tqdm(total=len(tasks), desc="poisoning seeds", disable=not show_progress, leave=False)
    try:
        if workers <= 1 or len(tasks) == 1:
            for t in tasks:
                rows += _run_seed(t)
                bar.update(1)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # spawn: a fresh OpenMP runtime per worker reads OMP_NUM_THREADS (see advrec.experiments)
            with ProcessPoolExecutor(max_workers=min(int(workers), len(tasks)), mp_context=mp.get_context("spawn"),
                                     initializer=_worker_init, initargs=(int(num_threads),)) as pool:
                for part in pool.map(_run_seed, tasks):
                    rows += part
                    bar.update(1)
    finally:
        bar.close()
    return pd.DataFrame(rows)


def paired_across_seeds(table, a: str, b: str, metric: str, victim: str, fraction: float):
    """Paired t-test of attack ``a`` against attack ``b`` over the seeds (one value per seed: the
    mean over real users and targets) for one victim and fraction. Returns a dict with the mean
    difference, the t statistic and the p-value (NaN with fewer than 2 common seeds or no variance)."""
    from scipy import stats

    sub = table[(table["victim"] == victim) & (table["metric"] == metric) & np.isclose(table["fraction"], fraction)]
    xa = sub[sub["attack"] == a].set_index("seed")["value"]
    xb = sub[sub["attack"] == b].set_index("seed")["value"]
    common = xa.index.intersection(xb.index)
    if len(common) == 0:
        raise ValueError(f"no seed has both {a!r} and {b!r} for victim {victim!r}, {metric!r}, fraction {fraction}")
    diff = (xa[common] - xb[common]).to_numpy()
    out = {"a": a, "b": b, "victim": victim, "metric": metric, "fraction": float(fraction), "seeds": int(len(common)),
           "mean_a": float(xa[common].mean()), "mean_b": float(xb[common].mean()),
           "mean_difference": float(diff.mean()),
           "statistic": float("nan"), "pvalue": float("nan")}
    if len(common) >= 2 and np.any(diff != diff[0]):
        res = stats.ttest_rel(xa[common].to_numpy(), xb[common].to_numpy())
        out["statistic"], out["pvalue"] = float(res.statistic), float(res.pvalue)
    return out
