"""Experiment files: reading (:func:`load_config`), the keys and their allowed values, and the
checks of one trial's sections. Model classes come from the model registry and metric names from
the evaluator, so a new model or metric is usable here without editing this file."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence

from .._checks import is_int, is_number
from ..evaluation import METRICS

class ExperimentError(ValueError):
    """An invalid experiment configuration; the message names the key and the allowed values."""


TOP_KEYS = ("name", "description", "dataset", "split", "models", "evaluation", "attacks", "seed", "num_threads",
            "grid", "run", "output")
DATASET_SOURCES = ("synthetic", "movielens", "fetch", "sasrec", "rating_split", "lightgcn")
DATASET_KEYS = ("source", "path", "name", "params", "features", "train", "test")
SPLIT_METHODS = ("leave_one_out", "holdout", "given")
SPLIT_KEYS = ("method", "by", "test_size", "drop_cold_items")
MODEL_KEYS = ("class", "params", "init", "features")
EVAL_KEYS = ("k", "metrics", "protocol")
ATTACK_KEYS = ("methods", "eps")
RUN_KEYS = ("backend", "workers", "address")
BACKENDS = ("local", "ray")

DEFAULTS: Dict[str, Any] = {
    "split": {"method": "leave_one_out", "by": "time"},
    "evaluation": {"k": [10], "metrics": ["hr", "ndcg"], "protocol": "full"},
    "attacks": {"methods": [], "eps": []},
    "seed": 0,
    "num_threads": 1,
    "run": {"backend": "local", "workers": 0, "address": None},
}


def _fail(path: str, message: str):
    raise ExperimentError(f"{path}: {message}" if path else message)


def _allowed(values) -> str:
    return ", ".join(str(v) for v in values)


def _check_keys(section: Mapping, allowed: Sequence[str], path: str) -> None:
    if not isinstance(section, Mapping):
        _fail(path, f"must be a mapping with keys from {{{_allowed(allowed)}}}, got {type(section).__name__}")
    for key in section:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            _fail(where, f"unknown key {key!r}; allowed keys: {_allowed(allowed)}")


def _int(value, path, minimum=0) -> int:
    if not is_int(value) or value < minimum:
        _fail(path, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _float_list(value, path) -> List[float]:
    vals = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for i, v in enumerate(vals):
        if not is_number(v) or v < 0:
            _fail(f"{path}[{i}]" if isinstance(value, (list, tuple)) else path,
                  f"must be a number >= 0, got {v!r}")
        out.append(float(v))
    return out


def load_config(path) -> Dict[str, Any]:
    """Reads an experiment file (``.yaml``/``.yml`` needs PyYAML, ``.json`` the standard library).

    Parameters
    ----------
    path : str or path
        The experiment file.

    Returns
    -------
    dict
        The experiment, not yet validated; ``name`` defaults to the file name without extension,
        and relative dataset paths are made relative to the file's folder (``~`` and ``$VARS``
        expanded).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ExperimentError
        On an unsupported extension or a file that does not parse into a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"experiment file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    ext = path.suffix.lower()
    if ext in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("reading YAML experiment files needs PyYAML: pip install 'advrec[yaml]' "
                              "(or write the experiment as JSON)") from exc
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ExperimentError(f"{path}: not valid YAML: {exc}") from exc
    elif ext == ".json":
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExperimentError(f"{path}: not valid JSON: {exc}") from exc
    else:
        raise ExperimentError(f"{path}: unsupported extension {ext!r}; allowed: .yaml, .yml, .json")
    if not isinstance(config, dict):
        raise ExperimentError(f"{path}: the file must hold a mapping of experiment keys "
                              f"({_allowed(TOP_KEYS)}), got {type(config).__name__}")
    config.setdefault("name", path.stem)
    _resolve_paths(config, path.parent)
    return config


_PATH_KEYS = ("path", "train", "test")


def _resolve_paths(config: Dict[str, Any], base: Path) -> None:
    """Expands ``~`` and ``$VARS`` in dataset paths and makes relative ones relative to ``base``
    (the experiment file's folder)."""
    ds = config.get("dataset")
    if not isinstance(ds, dict):
        return
    for key in _PATH_KEYS:
        value = ds.get(key)
        if isinstance(value, str):
            expanded = Path(os.path.expanduser(os.path.expandvars(value)))
            ds[key] = str(expanded if expanded.is_absolute() else (base / expanded).resolve())


def model_classes():
    """Model class names an experiment may use: the model registry (:func:`advrec.load`'s), aliases
    included."""
    return tuple(_registry())


def _registry():
    from ..models.base import model_classes as registry

    return registry()


def _model_class(name: str):
    return _registry().get(name)


def _validate_dataset(ds) -> None:
    _check_keys(ds, DATASET_KEYS, "dataset")
    source = ds.get("source")
    if source not in DATASET_SOURCES:
        _fail("dataset.source", f"got {source!r}; allowed values: {_allowed(DATASET_SOURCES)}")
    if source in ("movielens", "sasrec", "lightgcn") and not isinstance(ds.get("path"), str):
        _fail("dataset.path", f"a folder or file path (string) is required for source {source!r}")
    if source == "rating_split":
        for key in ("train", "test"):
            if not isinstance(ds.get(key), str):
                _fail(f"dataset.{key}", "a '.rating' file path (string) is required for source 'rating_split'")
    for key in _PATH_KEYS:
        if isinstance(ds.get(key), str) and not os.path.exists(ds[key]):
            _fail(f"dataset.{key}", f"{ds[key]!r} does not exist (relative paths in an experiment file are relative "
                                   "to the file's folder; $VARS and ~ are expanded)")
    if source == "fetch" and not isinstance(ds.get("name"), str):
        _fail("dataset.name", "a dataset name such as 'ml-latest-small' is required for source 'fetch'")
    params = ds.get("params", {})
    if not isinstance(params, Mapping):
        _fail("dataset.params", f"must be a mapping, got {type(params).__name__}")
    if source == "synthetic":
        from ..datasets import synthetic

        allowed = [p for p in inspect.signature(synthetic).parameters if p not in ("return_factors",)]
        for key in params:
            if key not in allowed:
                _fail(f"dataset.params.{key}", f"unknown parameter for synthetic(); allowed: {_allowed(allowed)}")
    features = ds.get("features")
    if features is not None:
        if features not in ("genres", "tags", "genome"):
            _fail("dataset.features", f"got {features!r}; allowed values: genres, tags, genome")
        if source not in ("movielens", "fetch"):
            _fail("dataset.features", f"MovieLens content features need source movielens or fetch, not {source!r} "
                                      "(synthetic data carries its own item features)")


def _validate_split(split, source) -> None:
    _check_keys(split, SPLIT_KEYS, "split")
    method = split.get("method", "leave_one_out")
    if method not in SPLIT_METHODS:
        _fail("split.method", f"got {method!r}; allowed values: {_allowed(SPLIT_METHODS)}")
    presplit = source in ("rating_split", "lightgcn")
    if presplit and method != "given":
        _fail("split.method", f"source {source!r} comes split already; use 'given'")
    if method == "given" and not presplit:
        _fail("split.method", "'given' needs a pre-split source (rating_split or lightgcn); "
                              "allowed here: leave_one_out, holdout")
    by = split.get("by")
    if by is not None:
        allowed = ("time", "random")
        if by not in allowed:
            _fail("split.by", f"got {by!r}; allowed values: {_allowed(allowed)}")
    if "test_size" in split:
        ts = split["test_size"]
        if method != "holdout":
            _fail("split.test_size", "only used with method 'holdout'")
        if not is_number(ts) or not 0 < ts < 1:
            _fail("split.test_size", f"must be a number in (0, 1), got {ts!r}")


def _validate_models(models, num_threads) -> None:
    if not isinstance(models, Mapping) or not models:
        _fail("models", "must be a non-empty mapping of model name -> {class, params, init}; "
                        f"classes: {_allowed(model_classes())}")
    seen: List[str] = []
    for name, spec in models.items():
        path = f"models.{name}"
        if isinstance(spec, str):
            spec = {"class": spec}
        _check_keys(spec, MODEL_KEYS, path)
        cls_name = spec.get("class", name)
        if cls_name not in model_classes():
            _fail(f"{path}.class", f"got {cls_name!r}; allowed values: {_allowed(model_classes())}")
        cls = _model_class(cls_name)
        if cls is None:
            _fail(f"{path}.class", f"{cls_name} is not available in this build of advrec")
        params = spec.get("params", {}) or {}
        if not isinstance(params, Mapping):
            _fail(f"{path}.params", f"must be a mapping of {cls_name} parameters, got {type(params).__name__}")
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
        for key in params:
            if key not in allowed:
                _fail(f"{path}.params.{key}", f"unknown parameter for {cls_name}; allowed: {_allowed(allowed) or '(none)'}")
        try:
            model = cls(**params)
            if hasattr(model, "_validate_hyper"):
                model._validate_hyper()
        except (TypeError, ValueError) as exc:
            _fail(f"{path}.params", str(exc))
        seen.append(str(name))
    for name, spec in models.items():
        init = spec.get("init") if isinstance(spec, Mapping) else None
        others = [str(n) for n in models if n != name]
        if init is not None and init not in others:
            _fail(f"models.{name}.init", f"must name another model of the experiment; allowed values: "
                                         f"{_allowed(others) or '(none)'}")
    _fit_order(models)


def _fit_order(models: Mapping[str, Any]) -> List[str]:
    """Model names in file order, except that a model comes after the model it starts from."""
    order: List[str] = []
    visiting: List[str] = []

    def visit(name):
        if name in order:
            return
        if name in visiting:
            _fail(f"models.{name}.init", "models initialise each other in a cycle: " + " -> ".join(visiting + [name]))
        visiting.append(name)
        spec = models[name]
        init = spec.get("init") if isinstance(spec, Mapping) else None
        if init is not None:
            visit(init)
        visiting.pop()
        order.append(name)

    for name in models:
        visit(name)
    return order


def _validate_evaluation(ev) -> None:
    _check_keys(ev, EVAL_KEYS, "evaluation")
    ks = ev.get("k", [10])
    for i, k in enumerate(ks if isinstance(ks, list) else [ks]):
        _int(k, f"evaluation.k[{i}]" if isinstance(ks, list) else "evaluation.k", 1)
    metrics = ev.get("metrics", ["hr", "ndcg"])
    for i, m in enumerate(metrics if isinstance(metrics, list) else [metrics]):
        if m not in METRICS:  # the evaluator's list
            _fail(f"evaluation.metrics[{i}]", f"got {m!r}; allowed values: {_allowed(METRICS)}")
    protocol = ev.get("protocol", "full")
    if protocol == "full":
        return
    if isinstance(protocol, Mapping) and set(protocol) == {"sampled"}:
        s = protocol["sampled"]
        if isinstance(s, int) and not isinstance(s, bool):
            _int(s, "evaluation.protocol.sampled", 1)
            return
        if isinstance(s, Mapping):
            _check_keys(s, ("n_negatives", "seed"), "evaluation.protocol.sampled")
            _int(s.get("n_negatives", 100), "evaluation.protocol.sampled.n_negatives", 1)
            if "seed" in s:
                _int(s["seed"], "evaluation.protocol.sampled.seed")
            return
    _fail("evaluation.protocol", f"got {protocol!r}; allowed values: full, {{sampled: N}}, "
                                 "{sampled: {n_negatives: N, seed: S}}")


def _validate_attacks(att, models) -> None:
    from ..attacks import ATTACKS

    _check_keys(att, ATTACK_KEYS, "attacks")
    methods = att.get("methods", [])
    methods = methods if isinstance(methods, list) else [methods]
    for i, m in enumerate(methods):
        if m not in ATTACKS:
            _fail(f"attacks.methods[{i}]", f"got {m!r}; allowed values: {_allowed(sorted(ATTACKS))}")
    eps = _float_list(att.get("eps", []), "attacks.eps")
    if methods and not eps:
        _fail("attacks.eps", "at least one budget is needed when attacks.methods is set")


def _validate_run(run) -> None:
    _check_keys(run, RUN_KEYS, "run")
    backend = run.get("backend", "local")
    if backend not in BACKENDS:
        _fail("run.backend", f"got {backend!r}; allowed values: {_allowed(BACKENDS)}")
    _int(run.get("workers", 0) or 0, "run.workers")
    address = run.get("address")
    if address is not None and not isinstance(address, str):
        _fail("run.address", f"must be a string such as 'auto' or 'ray://host:10001', got {address!r}")


def _validate_trial(trial: Mapping[str, Any]) -> None:
    _validate_dataset(trial["dataset"])
    _validate_split(trial["split"], trial["dataset"].get("source"))
    _int(trial["seed"], "seed")
    _int(trial["num_threads"], "num_threads")
    _validate_models(trial["models"], trial["num_threads"])
    _validate_evaluation(trial["evaluation"])
    _validate_attacks(trial["attacks"], trial["models"])


# ---- grid ---------------------------------------------------------------------------------------
