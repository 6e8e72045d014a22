"""Shared helpers of the benchmark scripts (not part of the package)."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def data_dir() -> Path:
    """The shared datasets: ADVREC_DATA_DIR, else ../shared/data next to the repository."""
    env = os.environ.get("ADVREC_DATA_DIR")
    path = Path(env) if env else HERE.parent.parent / "shared" / "data"
    if not path.is_dir():
        sys.exit(f"datasets not found at {path}; set ADVREC_DATA_DIR")
    return path


def machine() -> dict:
    import advrec
    from advrec._engine import core

    info = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "advrec": advrec.__version__, "engine_variant": core.variant}
    try:
        info["cpu"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                                            text=True).stdout.strip()
    except OSError:
        pass
    return info


def _cpu_seconds() -> float:
    """User + system time of this process and of its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


#: Every timing taken by :func:`timed` in this process, with its CPU time and the load around it;
#: :func:`write_result` attaches them, so no benchmark JSON lacks its conditions.
RUN_LOG: list = []


def timed(fn, threads: int | None = None, label: str | None = None):
    """Runs ``fn()`` once; returns ``(wall seconds, result)`` and logs wall and CPU time (all threads
    of this process and of the child processes it waited for, e.g. a compiled reference run by
    ``subprocess.run``) with the 1-minute load average before and after. ``threads``: the threads the
    run was meant to use; a run whose CPU time is below 0.7 x threads x wall is flagged
    ``starved`` (it did not get its cores: the machine was busy)."""
    load_before = os.getloadavg()[0]
    cpu0, start = _cpu_seconds(), time.perf_counter()
    out = fn()
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu0
    entry = {"label": label, "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
             "loadavg_before": round(load_before, 2), "loadavg_after": round(os.getloadavg()[0], 2)}
    if threads:
        entry["threads"] = threads
        entry["starved"] = bool(cpu < 0.7 * threads * wall)
        if entry["starved"]:
            print(f"warning: {label or 'run'} got {cpu / wall:.2f} cores of the {threads} asked for "
                  "(the machine is busy); its timing is not representative", file=sys.stderr)
    RUN_LOG.append(entry)
    return wall, out


def median(xs):
    return float(statistics.median(xs))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    conditions = {"loadavg_at_write": [round(x, 2) for x in os.getloadavg()]}
    if RUN_LOG:
        conditions["timings"] = list(RUN_LOG)
        conditions["max_loadavg_1min"] = max(max(e["loadavg_before"], e["loadavg_after"]) for e in RUN_LOG)
        conditions["starved_runs"] = sum(bool(e.get("starved")) for e in RUN_LOG)
    payload = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(),
               **payload, "conditions": conditions}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    print(f"wrote {path}")
    return path


def dot_model(user_factors, item_factors, train):
    """Fixed user and item vectors (another library's factors, or a part of a model's scores) in
    an advrec dot-product model, so that advrec.evaluate scores them like any fitted model."""
    import numpy as np

    import advrec

    out = advrec.EALS(factors=user_factors.shape[1], show_progress=False)
    out.n_users, out.n_items = train.n_users, train.n_items
    out.user_factors = np.ascontiguousarray(user_factors, np.float32)
    out.item_factors = np.ascontiguousarray(item_factors, np.float32)
    out._remember_train(train)
    return out
