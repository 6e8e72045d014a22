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


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median(xs):
    return float(statistics.median(xs))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    print(f"wrote {path}")
    return path
