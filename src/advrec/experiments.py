"""Experiment files: a dataset, a split, models, metrics, attacks and seeds -> a tidy results table.

An experiment is a dict (read from YAML or JSON by :func:`load_config`)::

    name: apr-sweep
    dataset: {source: synthetic, params: {n_users: 1000, n_items: 500}}
    split: {method: leave_one_out, by: time}
    models:
      BPR-MF: {class: BPRMF, params: {factors: 32, epochs: 20}}
      AMF:    {class: AMF, init: BPR-MF, params: {eps: 0.5, reg_adv: 1.0, epochs: 20}}
    evaluation: {k: [10, 50], metrics: [hr, ndcg], protocol: full}
    attacks: {methods: [fgsm, random], eps: [0.5, 1.0]}
    seed: 0
    num_threads: 1
    grid:                                # every combination becomes one trial
      seed: [0, 1, 2]
      models.AMF.params.eps: [0.25, 0.5, 1.0]
    run: {backend: local, workers: 2}    # or backend: ray, address: "ray://head:10001"

:func:`expand` turns the grid into trial configs (plain dicts without ``grid``), :func:`run_trial`
runs one trial in the current process and returns a dict whose ``rows`` are tidy records
(``trial, seed, <grid keys>, model, attack, eps, metric, value, drop``), and :func:`run` runs them
all on a local process pool or on Ray Tune, writing ``results.csv``, ``results.json`` and plots.

Every trial passes its ``num_threads`` to the engine explicitly (models, evaluation, attacks): OpenMP
reads ``OMP_NUM_THREADS`` once per process, so a worker's environment alone cannot be relied on.
With ``num_threads: 1`` and fixed seeds a trial gives the same numbers on every backend.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

__all__ = ["ExperimentError", "load_config", "validate", "expand", "run_trial", "run", "write_results",
           "summary_table", "MODEL_CLASSES", "DATASET_SOURCES", "SPLIT_METHODS", "BACKENDS"]


class ExperimentError(ValueError):
    """An invalid experiment configuration; the message names the key and the allowed values."""


TOP_KEYS = ("name", "description", "dataset", "split", "models", "evaluation", "attacks", "seed", "num_threads",
            "grid", "run", "output")
DATASET_SOURCES = ("synthetic", "movielens", "fetch", "sasrec", "rating_split", "lightgcn")
DATASET_KEYS = ("source", "path", "name", "params", "features", "train", "test")
SPLIT_METHODS = ("leave_one_out", "holdout", "given")
SPLIT_KEYS = ("method", "by", "test_size", "drop_cold_items")
MODEL_CLASSES = ("BPRMF", "AMF", "ItemPop", "VBPR", "AMR", "DUIF", "ContentMF", "SASRec", "ASASRec")
MODEL_KEYS = ("class", "params", "init", "features")
EVAL_KEYS = ("k", "metrics", "protocol")
from .evaluation import METRICS  # noqa: E402  (the evaluator's list is the one source of metric names)
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
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, f"must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        _fail(path, f"must be an integer >= {minimum}, got {value!r}")
    return value


def _float_list(value, path) -> List[float]:
    vals = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for i, v in enumerate(vals):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            _fail(f"{path}[{i}]" if isinstance(value, (list, tuple)) else path,
                  f"must be a number >= 0, got {v!r}")
        out.append(float(v))
    return out


# ---- reading ------------------------------------------------------------------------------------
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


# ---- validation ---------------------------------------------------------------------------------
def _model_class(name: str):
    import advrec

    return getattr(advrec, name, None)


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
        from .datasets import synthetic

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
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not 0 < ts < 1:
            _fail("split.test_size", f"must be a number in (0, 1), got {ts!r}")


def _validate_models(models, num_threads) -> None:
    if not isinstance(models, Mapping) or not models:
        _fail("models", "must be a non-empty mapping of model name -> {class, params, init}; "
                        f"classes: {_allowed(MODEL_CLASSES)}")
    seen: List[str] = []
    for name, spec in models.items():
        path = f"models.{name}"
        if isinstance(spec, str):
            spec = {"class": spec}
        _check_keys(spec, MODEL_KEYS, path)
        cls_name = spec.get("class", name)
        if cls_name not in MODEL_CLASSES:
            _fail(f"{path}.class", f"got {cls_name!r}; allowed values: {_allowed(MODEL_CLASSES)}")
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
        if m not in METRICS:
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
    from .attacks import ATTACKS

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


def _get_path(config: Mapping, dotted: str):
    node: Any = config
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, Mapping) and isinstance(node.get(part), str) and parts[i - 1:i] == ["models"]:
            node[part] = {"class": node[part]}  # shorthand 'Name: Class' becomes a mapping
        if not isinstance(node, Mapping) or part not in node:
            return None, None
        node = node[part]
    if not isinstance(node, Mapping):
        return None, None
    return node, parts[-1]


def _validate_grid(config) -> None:
    grid = config.get("grid")
    if grid is None:
        return
    if not isinstance(grid, Mapping) or not grid:
        _fail("grid", "must be a non-empty mapping of dotted key -> list of values, e.g. "
                      "{seed: [0, 1], models.AMF.params.eps: [0.25, 0.5]}")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            _fail(f"grid.{key}", f"must be a non-empty list of values, got {values!r}")
        if key == "grid" or key.split(".")[0] not in TOP_KEYS or key.split(".")[0] in ("grid", "run", "output", "name"):
            allowed = [k for k in TOP_KEYS if k not in ("grid", "run", "output", "name", "description")]
            _fail(f"grid.{key}", f"cannot vary this key; grid keys start with one of: {_allowed(allowed)}")
        if "." in key:
            parent, _ = _get_path(config, key)
            if parent is None:
                _fail(f"grid.{key}", "the path does not exist in the experiment (write the section it "
                                     "points into, e.g. models.<name>.params: {})")


def validate(config: Mapping[str, Any]) -> Dict[str, Any]:
    """Checks an experiment and returns a normalised copy (defaults filled in).

    Every grid combination is checked too, so a bad value in a sweep fails before anything runs.

    Parameters
    ----------
    config : mapping
        The experiment (see the module docstring for its keys). Not modified.

    Returns
    -------
    dict
        A copy with ``split``, ``evaluation``, ``attacks``, ``seed``, ``num_threads`` and ``run``
        filled in and ``Name: Class`` model shorthands expanded.

    Raises
    ------
    ExperimentError
        Naming the offending key (dotted path) and the allowed keys or values.
    """
    if not isinstance(config, Mapping):
        raise ExperimentError(f"an experiment must be a mapping, got {type(config).__name__}")
    config = copy.deepcopy(dict(config))
    _check_keys(config, TOP_KEYS, "")
    for key in ("dataset", "models"):
        if key not in config:
            _fail(key, "required key is missing (an experiment needs: dataset, models)")
    for key, default in DEFAULTS.items():
        if key not in config or config[key] is None:
            config[key] = copy.deepcopy(default)
        elif isinstance(default, dict) and isinstance(config[key], Mapping):
            config[key] = {**copy.deepcopy(default), **config[key]}
    config.setdefault("name", "experiment")
    if not isinstance(config["name"], str) or not config["name"]:
        _fail("name", f"must be a non-empty string, got {config['name']!r}")
    if isinstance(config["models"], Mapping):  # shorthand 'Name: Class' -> {class: Class}
        config["models"] = {str(k): ({"class": v} if isinstance(v, str) else v) for k, v in config["models"].items()}
    _validate_run(config["run"])
    _validate_grid(config)
    for trial in _combinations(config):
        _validate_trial(trial)
    return config


def _validate_trial(trial: Mapping[str, Any]) -> None:
    _validate_dataset(trial["dataset"])
    _validate_split(trial["split"], trial["dataset"].get("source"))
    _int(trial["seed"], "seed")
    _int(trial["num_threads"], "num_threads")
    _validate_models(trial["models"], trial["num_threads"])
    _validate_evaluation(trial["evaluation"])
    _validate_attacks(trial["attacks"], trial["models"])


# ---- grid ---------------------------------------------------------------------------------------
def _combinations(config: Mapping[str, Any]) -> List[Dict[str, Any]]:
    grid = config.get("grid") or {}
    keys = list(grid)
    trials = []
    for values in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
        trial = copy.deepcopy({k: v for k, v in config.items() if k not in ("grid", "run", "output")})
        for key, value in zip(keys, values):
            if "." in key:
                parent, leaf = _get_path(trial, key)
                parent[leaf] = copy.deepcopy(value)
            else:
                trial[key] = copy.deepcopy(value)
        trial["grid_values"] = dict(zip(keys, values))
        trials.append(trial)
    return trials


def expand(config: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """One trial config per grid combination.

    Parameters
    ----------
    config : mapping
        The experiment; validated first.

    Returns
    -------
    list of dict
        In grid order (the last grid key varies fastest); a single trial without ``grid``. Each
        trial is the experiment with the grid values substituted, without ``grid``, ``run`` and
        ``output``, plus ``trial`` (its index) and ``grid_values`` (dotted key -> value).

    Raises
    ------
    ExperimentError
        As :func:`validate`.
    """
    config = validate(config)
    trials = _combinations(config)
    for i, trial in enumerate(trials):
        trial["trial"] = i
    return trials


# ---- one trial ----------------------------------------------------------------------------------
_DATA_CACHE: Dict[str, Any] = {}


def _load_data(ds: Mapping[str, Any], split: Mapping[str, Any], seed: int):
    key = json.dumps([ds, split, seed], sort_keys=True, default=str)
    if key in _DATA_CACHE:
        return _DATA_CACHE[key]
    from . import datasets
    from . import split as splits

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
    fit_sig = inspect.signature(model.fit).parameters
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
    from .robustness import robustness

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


# ---- backends -----------------------------------------------------------------------------------
def _worker_init(num_threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(max(1, num_threads))


def _run_local(trials, workers: int, show_progress: bool) -> List[Dict[str, Any]]:
    from tqdm.auto import tqdm

    threads = max(int(t.get("num_threads", 1)) or (os.cpu_count() or 1) for t in trials)
    if workers <= 0:
        workers = max(1, (os.cpu_count() or 1) // max(1, threads))
    workers = min(workers, len(trials))
    bar = tqdm(total=len(trials), desc="trials", unit="trial", disable=not show_progress, leave=False)
    results: List[Dict[str, Any]] = []
    try:
        if workers <= 1:
            for t in trials:  # one at a time in this process: no start-up cost
                results.append(run_trial(t, show_progress=show_progress))
                bar.update(1)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # 'spawn': fresh interpreters, so OMP_NUM_THREADS set by the initializer is read by a
            # new OpenMP runtime (a forked child inherits the parent's, and forking after OpenMP
            # has started is unsafe)
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                     initargs=(threads,)) as pool:
                futures = [pool.submit(run_trial, t) for t in trials]
                for fut in as_completed(futures):
                    results.append(fut.result())
                    bar.update(1)
    finally:
        bar.close()
    return sorted(results, key=lambda r: r["trial"])


def _ray_trainable(config, trials=None):
    try:
        from ray.tune import report
    except ImportError:  # Ray < 2.40: function trainables report through ray.train
        from ray.train import report

    trial = trials[config["trial_index"]]
    os.environ["OMP_NUM_THREADS"] = str(max(1, int(trial.get("num_threads", 1))))
    result = run_trial(trial)
    report({"result_json": json.dumps(result, default=_json_default)})


def _run_ray(trials, address: Optional[str], storage: Optional[str], show_progress: bool) -> List[Dict[str, Any]]:
    try:
        import ray
        from ray import tune
    except ImportError as exc:
        raise ImportError("the Ray backend needs Ray Tune: pip install 'advrec[tune]'") from exc
    if not ray.is_initialized():
        kwargs: Dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        ray.init(**kwargs)
    cpus = max(1, max(int(t.get("num_threads", 1)) for t in trials))
    trainable = tune.with_resources(tune.with_parameters(_ray_trainable, trials=trials), {"cpu": cpus})
    storage = storage or os.path.join(os.path.abspath("results"), "ray")
    try:
        RunConfig = tune.RunConfig
    except AttributeError:  # Ray < 2.40
        from ray.train import RunConfig
    tuner = tune.Tuner(
        trainable,
        param_space={"trial_index": tune.grid_search(list(range(len(trials))))},
        tune_config=tune.TuneConfig(num_samples=1),
        run_config=RunConfig(name=str(trials[0].get("name", "experiment")), storage_path=storage,
                             verbose=1 if show_progress else 0),
    )
    grid = tuner.fit()
    results = []
    for res in grid:
        if res.error is not None:
            raise RuntimeError(f"a Ray trial failed: {res.error}")
        results.append(json.loads(res.metrics["result_json"]))
    return sorted(results, key=lambda r: r["trial"])


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def run(config, backend: Optional[str] = None, out: Optional[os.PathLike] = None, workers: Optional[int] = None,
        address: Optional[str] = None, show_progress: bool = False, plots: bool = True):
    """Runs every trial of an experiment and writes the results.

    Parameters
    ----------
    config : dict, str or path
        An experiment (dict) or the path of a YAML/JSON experiment file.
    backend : {"local", "ray"}, optional
        Overrides ``run.backend``. ``"local"`` uses a process pool (one worker per
        ``cpu_count // num_threads``; in this process when there is one worker or one trial);
        ``"ray"`` runs a Ray Tune grid, each trial reserving ``num_threads`` CPUs.
    out : path, optional
        Output folder (default ``output`` in the file, else ``results/<name>``). Receives
        ``results.csv``, ``results.json``, ``config.json`` and, with attacks, ``robustness.png``
        and ``metric_drop.png``.
    workers : int, optional
        Local pool size (overrides ``run.workers``; 0 = automatic).
    address : str, optional
        Ray cluster address for ``ray.init(address=...)`` (overrides ``run.address``); without
        one, a local Ray is started unless one is already running.

    Returns
    -------
    pandas.DataFrame
        The tidy results (also in ``results.csv``).
    """
    import pandas as pd

    if not isinstance(config, Mapping):
        config = load_config(config)
    config = validate(config)
    trials = expand(config)
    run_cfg = config["run"]
    backend = backend or run_cfg.get("backend", "local")
    if backend not in BACKENDS:
        raise ExperimentError(f"backend: got {backend!r}; allowed values: {_allowed(BACKENDS)}")
    out_dir = Path(out or config.get("output") or Path("results") / config["name"])
    out_dir.mkdir(parents=True, exist_ok=True)
    if backend == "local":
        results = _run_local(trials, int(run_cfg.get("workers", 0) if workers is None else workers), show_progress)
    else:
        results = _run_ray(trials, address or run_cfg.get("address"), str((out_dir / "ray").resolve()), show_progress)
    table = pd.DataFrame([row for r in results for row in r["rows"]])
    write_results(table, results, config, out_dir, plots=plots)
    return table


def _labels(table):
    """A label per row combining the model with the grid values other than seed."""
    grid_cols = [c for c in table.columns if c not in ("trial", "seed", "model", "attack", "eps", "metric", "value",
                                                        "drop", "shift", "fit_seconds")]
    varying = [c for c in grid_cols if table[c].nunique(dropna=False) > 1]
    if not varying:
        return table["model"].astype(str)
    short = {c: c.split(".")[-1] for c in varying}

    def label(r):
        # a grid key under models.<name>. describes that model only
        own = [c for c in varying if not c.startswith("models.") or c.startswith(f"models.{r['model']}.")]
        return " ".join([str(r["model"])] + [f"{short[c]}={r[c]}" for c in own])

    return table.apply(label, axis=1)


def write_results(table, results, config, out_dir, plots: bool = True) -> Dict[str, Path]:
    """Writes the results of an experiment.

    Parameters
    ----------
    table : pandas.DataFrame
        The tidy rows of every trial.
    results : list of dict
        The :func:`run_trial` outputs (saved as ``results.json``).
    config : dict
        The validated experiment (saved as ``config.json``).
    out_dir : path
        Created if needed.
    plots : bool
        Also write ``robustness.png`` and ``metric_drop.png`` when the table has attacked rows
        (skipped with a warning when matplotlib is missing).

    Returns
    -------
    dict
        Kind (``csv``, ``json``, ``config``, ``robustness``, ``metric_drop``) -> written path.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "results.csv", "json": out_dir / "results.json", "config": out_dir / "config.json"}
    table.to_csv(paths["csv"], index=False)
    with open(paths["json"], "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1, default=_json_default)
    with open(paths["config"], "w", encoding="utf-8") as fh:
        json.dump(config, fh, indent=1, default=_json_default)
    if plots and len(table) and (table["attack"] != "none").any():
        try:
            import matplotlib

            matplotlib.use("Agg") if not _interactive_backend() else None
            import matplotlib.pyplot as plt
        except ImportError:
            import warnings

            warnings.warn("matplotlib is not installed: no plots written (pip install 'advrec[plot]')")
            return paths
        from . import plot

        labelled = table.copy()
        labelled["model"] = _labels(table)
        ax = plot.robustness_curve(labelled)
        ax.figure.tight_layout()
        paths["robustness"] = out_dir / "robustness.png"
        ax.figure.savefig(paths["robustness"], dpi=110)
        plt.close(ax.figure)
        ax = plot.metric_drop(labelled)
        ax.figure.tight_layout()
        paths["metric_drop"] = out_dir / "metric_drop.png"
        ax.figure.savefig(paths["metric_drop"], dpi=110)
        plt.close(ax.figure)
    return paths


def _interactive_backend() -> bool:
    import matplotlib

    return "inline" in matplotlib.get_backend().lower() or "ipympl" in matplotlib.get_backend().lower()


def summary_table(table, metric: Optional[str] = None):
    """A compact view of a results table.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy rows from :func:`run` (or :func:`advrec.robustness`).
    metric : str, optional
        The metric to show (default: the last NDCG in the table).

    Returns
    -------
    pandas.DataFrame
        One row per model (labelled with the grid values that concern it), the clean metric and
        its relative drop in percent under each attack and budget, averaged over seeds.
    """
    import pandas as pd

    if table.empty:
        return table
    df = table.copy()
    df["model"] = _labels(table)
    metrics = list(dict.fromkeys(df["metric"]))
    if metric is None:
        nd = [m for m in metrics if str(m).startswith("ndcg")]
        metric = nd[-1] if nd else metrics[0]
    df = df[df["metric"] == metric]
    order = list(dict.fromkeys(df["model"]))
    clean = df[df["attack"] == "none"].groupby("model", sort=False)["value"].mean().rename(metric)
    parts = [clean]
    att = df[df["attack"] != "none"]
    if len(att):
        drops = att.assign(col=att["attack"] + " ε=" + att["eps"].map(lambda e: f"{e:g}") + " drop%")
        pv = drops.pivot_table(index="model", columns="col", values="drop", aggfunc="mean", sort=False) * 100
        parts.append(pv)
    out = pd.concat(parts, axis=1).reindex(order)
    out.index.name = "model"
    return out
