"""Where trials run: in this process or a local process pool, or on Ray Tune (:func:`run`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ..models.base import _json_default
from .config import BACKENDS, ExperimentError, _allowed, load_config
from .grid import expand, validate
from .results import write_results
from .trial import run_trial


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
