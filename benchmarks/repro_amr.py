"""Reproduces the AMR paper's comparison (Tang et al., TKDE 2019) with advrec, over several seeds,
with every choice made on a validation split.

Data: ml-latest-small, ``leave_one_out(data, by="time", validation=True)``. Content features: the
movie's multi-hot genres (L2-normalised rows) next to its user-tag TF-IDF
(``advrec.datasets.movielens_item_features``; 19 + 541 columns). The MiniLM text embeddings of the
earlier single-seed run need ``sentence-transformers`` (``--features text``).

Pipeline per seed (:func:`amr_pipeline`, shared with ``amr_synthetic.py``):

1. MF-BPR until validation stops improving (best validation epoch restored);
2. the eq. 4 model (``VBPR(shared_user=True, item_bias=False, visual_bias=False)``) pre-trained
   from MF's embeddings until validation stops improving (the paper's initialisation);
3. from it, (a) continued VBPR (eq. 4) and (b) AMR for every (eps, lambda) of the grid (the paper:
   eps 0.1-1, lambda 0.1-1), each until validation stops improving; AMR's (eps, lambda) is the one
   with the best validation score, the grid extended past a boundary optimum as the paper does
   (``extend_on_boundary``). The VBPR row is whichever of the pre-trained and the continued
   VBPR scores higher on validation (a continued fit selects among its own epochs only).

Selection monitors full-ranking NDCG@100 on validation (one held-out item per user: @10 would
select on a handful of hits; 999 sampled negatives of ~9.7k items rank about like @100 of all).
Test: the AMR protocol (999 sampled negatives, HR/NDCG@10) and full ranking; paired t-test over
users per seed, mean ± sd and a paired t-test across seeds; robustness = relative NDCG@10 drop
(sampled-999) under FGM on the item features at eps = 0.1 (AMR Table 3), and random noise.

    nice -n 10 python benchmarks/repro_amr.py --seeds 3 [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np

import advrec
from _common import data_dir, write_result
from _repro import Clock, compare, describe, extend_on_boundary, fmt, history_summary, mean_sd, pick_on_validation

MONITOR = "ndcg@100"
KS = (5, 10, 20, 100)  # the AMR paper's Table 2 cut-offs, and @100 for the selection metric
TABLE2_ORDER = ("ItemPop", "MF-eALS", "MF-BPR", "DUIF", "VBPR (eq. 4)", "AMR")  # the paper's row order
# MF-eALS's (c0, reg) grid. Its optimum fell on the boundary of every fixed grid tried
# ({64, 512} x {0.01, 1}, then {64, 512, 4096} x {0.01, 1, 10}), so the search extends the grid
# past a boundary optimum, as the AMR paper does for its own grids (``extend_on_boundary``).
EALS_AXES = {"c0": [64.0, 512.0, 4096.0], "reg": [0.01, 1.0, 10.0]}
EQ4 = dict(shared_user=True, item_bias=False, visual_bias=False)


def amr_pipeline(train, valid, train_full, test, F, seed: int, *, threads: int, eps_grid, lambda_grid, every: int,
                 patience: int,
                 max_mf: int, max_pre: int, max_cont: int, protocols, attack_eps: float = 0.1,
                 label: str = "", table2: bool = False) -> dict:
    """MF -> eq. 4 VBPR pre-training -> continued VBPR vs AMR ((eps, lambda) from ``eps_grid`` x
    ``lambda_grid``, extended past a boundary optimum, chosen on validation).

    With ``table2`` the AMR paper's other Table 2 rows (ItemPop, MF-eALS, DUIF) are fitted on the
    same split, selected on the same validation and tested with the same protocols.

    Returns per-protocol test results (``_results``: name -> protocol -> EvaluationResult), the
    choices, best epochs, robustness drops and timing."""
    clock = Clock()
    common = dict(factors=64, lr=0.05, optimizer="adagrad", num_threads=threads, seed=seed, show_progress=False)
    select = dict(eval_set=(valid, (10, 100)), eval_every=every, patience=patience, monitor=MONITOR)
    mf = advrec.BPRMF(epochs=max_mf, **common).fit(train, **select)
    pre = advrec.VBPR(epochs=max_pre, batch_size=512, **EQ4, **common).fit(train, item_features=F, init=mf, **select)
    continued = advrec.VBPR(epochs=max_cont, batch_size=512, **EQ4, **common).fit(train, init=pre, **select)
    # The VBPR row is VBPR at its validation optimum: the continued run only counts its own epochs,
    # so when pre-training already stopped at the optimum every continued epoch scores below it.
    vbpr = continued if continued.best_score_ > pre.best_score_ else pre
    picked = extend_on_boundary(
        {"eps": eps_grid, "reg_adv": lambda_grid},
        lambda eps, lam: advrec.AMR(eps=eps, reg_adv=lam, epochs=max_cont, batch_size=512, **common).fit(
            train, init=pre, **select))
    amr = picked["model"]
    print(f"{label} validation {MONITOR}: MF {mf.best_score_:.4f} (ep {mf.best_epoch_}) | VBPR-eq4 pre "
          f"{pre.best_score_:.4f} (ep {pre.best_epoch_}) cont {continued.best_score_:.4f} (ep {continued.best_epoch_}) | AMR "
          f"{ {k: round(v, 4) for k, v in picked['scores'].items()} } -> {picked['choice']}", flush=True)
    models = {"MF-BPR": mf, "VBPR (eq. 4)": vbpr, "AMR": amr}
    extra_choices = {}
    if table2:
        extra, extra_choices = table2_baselines(train, valid, F, seed, mf=mf, threads=threads, select=select,
                                                common=common, max_epochs=max_mf, label=label)
        models = {**extra, **models}
    results = {name: {p: advrec.evaluate(m, train_full, test, k=KS, metrics=("hr", "ndcg"), protocol=proto,
                                         num_threads=threads)
                      for p, proto in protocols.items()} for name, m in models.items()}
    first = next(iter(protocols))
    robust = advrec.robustness({"VBPR (eq. 4)": vbpr, "AMR": amr}, train_full, test, eps=(attack_eps,),
                               attacks=("fgsm", "random"), k=10, metrics=("ndcg",), protocol=protocols[first],
                               seed=seed, num_threads=threads, show_progress=False)
    return {
        "seed": seed, "chosen_eps_lambda": list(picked["choice"]),
        "validation_by_eps_lambda": {f"{e},{l}": v for (e, l), v in picked["scores"].items()},
        "best_epochs": {"MF-BPR": mf.best_epoch_, "VBPR pre-training": pre.best_epoch_,
                        "VBPR (eq. 4) continued": continued.best_epoch_, "AMR": amr.best_epoch_},
        "vbpr_row": "continued" if vbpr is continued else "pre-training",
        "validation": {"VBPR pre-training": pre.best_score_, "VBPR (eq. 4) continued": continued.best_score_,
                       "AMR": amr.best_score_},
        **({"table2_choices": extra_choices} if table2 else {}),
        "test": {name: {p: r.summary for p, r in per.items()} for name, per in results.items()},
        f"drops_ndcg@10_{first}_eps{attack_eps}": {f"{r.model}_{r.attack}": float(r.drop)
                                                   for r in robust.itertuples() if r.attack != "none"},
        "history": {"VBPR (eq. 4)": history_summary(vbpr), "AMR": history_summary(amr)},
        "time": clock.report(),
        "_results": results,
    }


def table2_baselines(train, valid, F, seed: int, *, mf, threads: int, select: dict, common: dict, max_epochs: int,
                     label: str = ""):
    """AMR Table 2's rows besides MF-BPR, VBPR and AMR, each selected on the same validation split.

    MF-eALS: (c0, reg) from ``EALS_AXES``, extended past a boundary optimum; iterations with early stopping. DUIF (content-only
    item vectors E f_i, BPR loss, mini-batch AdaGrad 512 as the paper optimises it): the paper
    trained it from scratch and from MF's user embeddings and kept the better; here validation
    chooses between the two."""
    eals_select = {**select, "eval_every": 1, "patience": 2}
    eals = extend_on_boundary(EALS_AXES, lambda c0, reg: advrec.EALS(
        factors=64, c0=c0, reg=reg, epochs=30, compute_loss=False, num_threads=threads, seed=seed,
        show_progress=False).fit(train, **eals_select))
    duif = pick_on_validation({
        start: (lambda start=start: advrec.DUIF(epochs=max_epochs, batch_size=512, **common).fit(
            train, item_features=F, init=mf if start == "MF users" else None, **select))
        for start in ("scratch", "MF users")})
    choices = {"MF-eALS (c0, reg)": list(eals["choice"]), "MF-eALS iterations": eals["model"].best_epoch_,
               "MF-eALS validation by (c0, reg)": {f"{c},{r}": v for (c, r), v in eals["scores"].items()},
               "DUIF start": duif["choice"], "DUIF epochs": duif["model"].best_epoch_,
               "DUIF validation by start": duif["scores"]}
    print(f"{label} validation {MONITOR}: eALS {eals['scores']} -> {eals['choice']} | DUIF {duif['scores']} -> "
          f"{duif['choice']} (ep {duif['model'].best_epoch_})", flush=True)
    return {"ItemPop": advrec.ItemPop().fit(train), "MF-eALS": eals["model"], "DUIF": duif["model"]}, choices


def table2_summary(seeds_results, protocol: str) -> dict:
    """mean +- sd of every Table 2 row over seeds, and each row against AMR (paired over users per
    seed, over the seeds' means across seeds), as the paper's RI column compares AMR with each row."""
    rows = [n for n in TABLE2_ORDER if n in seeds_results[0]]
    metrics = [f"{m}@{k}" for m in ("hr", "ndcg") for k in (5, 10, 20)]
    out = {}
    for name in rows:
        per = [r[name][protocol] for r in seeds_results]
        out[name] = {m: mean_sd([r.summary[m] for r in per]) for m in metrics}
        if name != "AMR":
            out[name]["AMR_vs_this_ndcg@10"] = compare([r["AMR"][protocol] for r in seeds_results], per, "ndcg@10")
    return out


def summarize(seeds, protocols, label: str = "") -> dict:
    """Claims across seeds: AMR vs continued VBPR (eq. 4), and both vs MF-BPR."""
    res = [s.pop("_results") for s in seeds]
    claims = {}
    for p in protocols:
        claims[p] = {m: compare([r["AMR"][p] for r in res], [r["VBPR (eq. 4)"][p] for r in res], m)
                     for m in ("ndcg@10", "hr@10", "ndcg@100")}
        claims[p]["VBPR_vs_MF_ndcg@10"] = compare([r["VBPR (eq. 4)"][p] for r in res], [r["MF-BPR"][p] for r in res],
                                                  "ndcg@10")
        print(f"{label} [{p}] {describe('AMR', 'VBPR-eq4', claims[p]['ndcg@10'])}", flush=True)
    tables = {p: table2_summary(res, p) for p in protocols} if "ItemPop" in res[0] else {}
    drop_key = next(k for k in seeds[0] if k.startswith("drops_"))
    drops = {k: mean_sd([s[drop_key][k] for s in seeds]) for k in seeds[0][drop_key]}
    print(f"{label} {drop_key}: " + " | ".join(f"{k} {fmt(v, 3)}" for k, v in drops.items()), flush=True)
    return {"claims_AMR_vs_VBPR_eq4": claims, drop_key: drops, **({"table2": tables} if tables else {})}


def features(folder, data, kind: str, max_tags: int = 0) -> np.ndarray:
    if kind == "text":
        return advrec.features.movielens_text_embeddings(folder, data)
    genres = advrec.datasets.movielens_item_features(folder, data, kind="genres")
    norms = np.linalg.norm(genres, axis=1, keepdims=True)
    genres = genres / np.where(norms > 0, norms, 1)
    tags = advrec.datasets.movielens_item_features(folder, data, kind="tags", max_features=max_tags or None)
    return np.ascontiguousarray(np.hstack([genres, tags]), dtype=np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--features", choices=("genres+tags", "text"), default="genres+tags")
    ap.add_argument("--eps-grid", type=lambda t: [float(x) for x in t.split(",")], default=[0.1, 0.5, 1.0])
    ap.add_argument("--lambda-grid", type=lambda t: [float(x) for x in t.split(",")], default=[1.0])
    ap.add_argument("--max-tags", type=int, default=0, help="keep at most this many tag columns (0: all)")
    ap.add_argument("--cadence", default="", help="every,patience,max_mf,max_pre,max_cont (validation schedule)")
    ap.add_argument("--no-table2", action="store_true", help="skip the Table 2 rows ItemPop, MF-eALS and DUIF")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tag", default="")
    ap.add_argument("--combine", default="", help="comma-separated tags of finished runs over different seeds: "
                    "merge their JSONs into one summary (repro_amr_seeds_<tag>.json -> --tag)")
    args = ap.parse_args()
    if args.combine:
        return combine(args)
    clock = Clock()
    folder = data_dir() / "ml-latest-small"
    data = advrec.datasets.load_movielens(folder)
    F = features(folder, data, args.features, args.max_tags)
    train, valid, test = advrec.split.leave_one_out(data, by="time", validation=True)
    train_full, _ = advrec.split.leave_one_out(data, by="time")
    protocols = {"sampled999": advrec.Sampled(n_negatives=999, seed=0), "full": "full"}
    cadence = dict(every=2, patience=2, max_mf=6, max_pre=4, max_cont=4) if args.quick else \
        dict(every=5, patience=4, max_mf=400, max_pre=200, max_cont=200)
    if args.cadence and not args.quick:
        cadence = dict(zip(("every", "patience", "max_mf", "max_pre", "max_cont"), map(int, args.cadence.split(","))))
    seeds = [amr_pipeline(train, valid, train_full, test, F, args.seed0 + i, threads=args.threads,
                          eps_grid=args.eps_grid, lambda_grid=args.lambda_grid, protocols=protocols,
                          label=f"[seed {args.seed0 + i}]", table2=not args.no_table2, **cadence)
             for i in range(args.seeds)]
    summary = summarize(seeds, protocols)
    for p, table in summary.get("table2", {}).items():
        print(markdown_table2(table, p))
    payload = {"data": "ml-latest-small, leave_one_out(by='time', validation=True)", "features": args.features,
               "feature_dim": int(F.shape[1]), "args": vars(args), "cadence": cadence, **summary, "seeds": seeds,
               "time": clock.report()}
    write_result("repro_amr_seeds" + ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else ""), payload)


def combine(args) -> None:
    """One summary from runs over different seeds (e.g. run as parallel processes)."""
    from _repro import combine_runs

    merged = combine_runs("repro_amr_seeds", args.combine.split(","), args.tag)
    for p, c in merged["claims_AMR_vs_VBPR_eq4"].items():
        print(f"[{p}] " + describe("AMR", "VBPR-eq4", c["ndcg@10"]))
    for p, table in merged.get("table2", {}).items():
        print(markdown_table2(table, p))


def markdown_table2(table: dict, protocol: str) -> str:
    """The README's Table 2: rows in the paper's order, mean +- sd, AMR's NDCG@10 gain over each row."""
    metrics = [f"{m}@{k}" for m in ("hr", "ndcg") for k in (5, 10, 20)]
    lines = [f"{protocol}:", "", "| model | " + " | ".join(m.upper() for m in metrics)
             + " | AMR vs this row, NDCG@10 (p across seeds; over users per seed) |", "|---" * (len(metrics) + 2) + "|"]
    for name, row in table.items():
        cmp = row.get("AMR_vs_this_ndcg@10")
        vs = (f"{fmt(cmp['relative'], 1, pct=True)} ({cmp['p_across_seeds']:.2g}; "
              + ", ".join(f"{p:.2g}" for p in cmp["p_users_per_seed"]) + ")") if cmp else ""
        lines.append(f"| {name} | " + " | ".join(fmt(row[m]) for m in metrics) + f" | {vs} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
