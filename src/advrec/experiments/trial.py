"""One trial in this process: load and split the data, fit the models in order, evaluate each
clean and under every attack and budget (:func:`run_trial`)."""

from __future__ import annotations

import inspect
import json
import time
from typing import Any, Dict, List, Mapping

from .config import DEFAULTS, ExperimentError, _fit_order, _float_list, _model_class
from .grid import expand

_DATA_CACHE: Dict[str, Any] = {}


def _load_data(ds: Mapping[str, Any], split: Mapping[str, Any], seed: int):
    key = json.dumps([ds, split, seed], sort_keys=True, default=str)
    if key in _DATA_CACHE:
        return _DATA_CACHE[key]
    from .. import datasets
    from .. import split as splits

    source = ds["source"]
    params = dict(ds.get("params", {}) or {})
    folder = None
    if source == "synthetic":
        params.setdefault("seed", seed)
        data = datasets.synthetic(**params)
    elif source in ("movielens", "fetch"):
        folder = ds["path"] if source == "movielens" else datasets.fetch(ds["name"])
        data = datasets.load_movielens(folder, **params)
    elif source == "sasrec":
        data = datasets.load_sasrec(ds["path"], **params)
    elif source == "rating_split":
        train, test = datasets.load_rating_split(ds["train"], ds["test"], **params)
    else:  # lightgcn
        train, test = datasets.load_lightgcn(ds["path"], **params)
    features = None
    if source in ("rating_split", "lightgcn"):
        pass
    else:
        if ds.get("features"):
            kinds = ds["features"]
            features = datasets.movielens_item_features(folder, data, kind=kinds)
        method = split.get("method", "leave_one_out")
        kwargs = {k: v for k, v in split.items() if k != "method"}
        if method == "leave_one_out":
            train, test = splits.leave_one_out(data, seed=seed, **kwargs)
        else:
            train, test = splits.holdout(data, seed=seed, **kwargs)
    if features is None:
        features = getattr(train, "item_features", None)
    _DATA_CACHE.clear()  # keep one dataset per process: trials of a sweep usually share it
    _DATA_CACHE[key] = (train, test, features)
    return train, test, features


def _protocol(ev: Mapping[str, Any], seed: int):
    protocol = ev.get("protocol", "full")
    if protocol == "full":
        return "full"
    import advrec

    s = protocol["sampled"]
    if isinstance(s, int):
        return advrec.Sampled(n_negatives=s, seed=seed)
    return advrec.Sampled(n_negatives=s.get("n_negatives", 100), seed=s.get("seed", seed))


def _fit_model(cls, spec, train, features, fitted, seed, num_threads, show_progress):
    params = dict(spec.get("params", {}) or {})
    sig = inspect.signature(cls.__init__).parameters
    if "seed" in sig:
        params.setdefault("seed", seed)
    if "num_threads" in sig:
        params.setdefault("num_threads", num_threads)
    if "show_progress" in sig:
        params.setdefault("show_progress", show_progress)
    model = cls(**params)
    fit_kwargs: Dict[str, Any] = {}
    # the model-specific inputs of fit (EpochTrained._fit_inputs): item_features for content models
    hook = getattr(model, "_fit_inputs", None)
    fit_sig = inspect.signature(hook).parameters if hook is not None else {}
    if spec.get("init") is not None:
        fit_kwargs["init"] = fitted[spec["init"]]
    if "item_features" in fit_sig:  # content models (VBPR, AMR, ...)
        if features is None:
            raise ExperimentError(f"{spec.get('class')} needs item features: use a dataset with item_features "
                                  "(synthetic) or set dataset.features (movielens)")
        fit_kwargs["item_features"] = features
    start = time.perf_counter()
    model.fit(train, **fit_kwargs)
    return model, time.perf_counter() - start


def run_trial(config: Mapping[str, Any], show_progress: bool = False) -> Dict[str, Any]:
    """Runs one trial in this process: load and split the data, fit the models in order, evaluate
    each clean and under every attack and budget.

    Parameters
    ----------
    config : dict
        A trial from :func:`expand`, or any experiment without a ``grid`` (validated here).
    show_progress : bool
        Progress bars for fitting and the robustness sweep.

    Returns
    -------
    dict
        ``trial`` (index), ``name``, ``seed``, ``num_threads``, ``grid_values``, ``seconds``,
        ``models`` (name -> ``{"class", "fit_seconds", "epochs"}``) and ``rows``: a list of tidy
        records with keys ``trial, seed, <grid keys>, model, attack, eps, metric, value, drop``.
    """
    from ..robustness import robustness

    config = dict(config)
    if "grid_values" not in config:
        if config.get("grid"):
            raise ExperimentError("run_trial runs one trial; expand the grid first with advrec.experiments.expand")
        config = dict(expand(config)[0])
    start = time.perf_counter()
    seed = int(config.get("seed", 0))
    nt = int(config.get("num_threads", 1))
    train, test, features = _load_data(config["dataset"], config.get("split", {}), seed)
    ev = config.get("evaluation", DEFAULTS["evaluation"])
    att = config.get("attacks", DEFAULTS["attacks"])
    ks = ev.get("k", [10])
    ks = tuple(ks) if isinstance(ks, list) else (ks,)
    metrics = ev.get("metrics", ["hr", "ndcg"])
    metrics = tuple(metrics) if isinstance(metrics, list) else (metrics,)
    methods = att.get("methods", []) or []
    methods = tuple(methods if isinstance(methods, list) else [methods])
    eps = tuple(_float_list(att.get("eps", []), "attacks.eps"))
    protocol = _protocol(ev, seed)
    fitted: Dict[str, Any] = {}
    info: Dict[str, Any] = {}
    rows: List[Dict[str, Any]] = []
    grid_values = dict(config.get("grid_values", {}))
    base = {"trial": config.get("trial", 0), **grid_values, "seed": seed}
    for name in _fit_order(config["models"]):
        spec = config["models"][name]
        spec = {"class": spec} if isinstance(spec, str) else spec
        spec = {**spec, "class": spec.get("class", name)}
        cls = _model_class(spec["class"])
        model, secs = _fit_model(cls, spec, train, features, fitted, seed, nt, show_progress)
        fitted[name] = model
        info[name] = {"class": spec["class"], "fit_seconds": secs, "epochs": len(getattr(model, "history_", []) or [])}
        attackable = hasattr(model, "_perturbable") and bool(methods)
        table = robustness({name: model}, train, test, eps=eps if attackable else (),
                           attacks=methods if attackable else (), k=ks, metrics=metrics, protocol=protocol,
                           seed=seed, num_threads=nt, show_progress=show_progress)
        for rec in table.to_dict("records"):
            rows.append({**base, **rec, "fit_seconds": secs})
    return {"trial": config.get("trial", 0), "name": config.get("name", "experiment"), "seed": seed,
            "num_threads": nt, "grid_values": grid_values, "seconds": time.perf_counter() - start,
            "models": info, "rows": rows}
