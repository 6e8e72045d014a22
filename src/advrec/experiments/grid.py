"""The experiment as a whole: defaults filled in (:func:`validate`), the grid of values to sweep,
and its expansion into one config per trial (:func:`expand`)."""

from __future__ import annotations

import copy
import itertools
from typing import Any, Dict, List, Mapping

from .config import DEFAULTS, TOP_KEYS, ExperimentError, _allowed, _check_keys, _fail, _validate_run, _validate_trial


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
