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

The package has one module per room: :mod:`.config` (reading, keys, checks of a trial),
:mod:`.grid` (defaults, sweeps, :func:`validate`, :func:`expand`), :mod:`.trial` (:func:`run_trial`),
:mod:`.backends` (:func:`run` on a process pool or Ray Tune) and :mod:`.results`
(:func:`write_results`, :func:`summary_table`).
"""

from __future__ import annotations

from .backends import run
from .config import BACKENDS, DATASET_SOURCES, SPLIT_METHODS, ExperimentError, load_config, model_classes
from .grid import expand, validate
from .results import summary_table, write_results
from .trial import run_trial

__all__ = ["ExperimentError", "load_config", "validate", "expand", "run_trial", "run", "write_results",
           "summary_table", "MODEL_CLASSES", "DATASET_SOURCES", "SPLIT_METHODS", "BACKENDS", "model_classes"]


def __getattr__(name):
    if name == "MODEL_CLASSES":  # read from the model registry when asked (every class registered by then)
        return model_classes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
