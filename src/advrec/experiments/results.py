"""Writing and summarising results: ``results.csv``, ``results.json``, ``config.json``, plots
(:func:`write_results`) and a compact table (:func:`summary_table`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional

from ..models.base import _json_default


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
        from .. import plot

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
