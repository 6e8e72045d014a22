"""Plots for training histories and robustness tables (needs matplotlib: ``pip install advrec[plot]``).

matplotlib is imported only when a function here is called, so ``import advrec`` stays light.
Every function draws on ``ax`` (a new figure when omitted) and returns the Axes, so plots compose::

    import advrec.plot
    table = advrec.robustness({"BPR-MF": bpr, "AMF": amf}, train, test, eps=(0.25, 0.5, 1.0))
    ax = advrec.plot.robustness_curve(table, metric="ndcg@100")
    ax.figure.savefig("robustness.png")
"""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional, Sequence, Union

__all__ = ["training_curves", "robustness_curve", "metric_drop", "accuracy_vs_popularity"]

_TABLE_COLUMNS = ("model", "attack", "eps", "metric", "value", "drop")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("advrec.plot needs matplotlib: pip install 'advrec[plot]'") from exc
    return plt


def _new_ax(ax, figsize=(6.0, 4.0)):
    if ax is not None:
        return ax
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize)
    return ax


def _history_records(history) -> List[Mapping[str, Any]]:
    """Accepts a model (its ``history_``), a list of per-epoch dicts, or a DataFrame."""
    if hasattr(history, "history_") and not isinstance(history, (list, tuple)):
        history = history.history_
    if hasattr(history, "to_dict") and hasattr(history, "columns"):
        history = history.to_dict("records")
    if not isinstance(history, (list, tuple)):
        raise TypeError("history must be a fitted model, a list of per-epoch dicts (model.history_) or a "
                        f"DataFrame, got {type(history).__name__}")
    for rec in history:
        if not isinstance(rec, Mapping):
            raise TypeError(f"history entries must be dicts, got {type(rec).__name__}")
    if not history:
        raise ValueError("history is empty: fit the model first")
    return list(history)


def training_curves(history, metrics: Union[str, Sequence[str]] = ("loss",), mark_epoch=None, ax=None):
    """Per-epoch training figures, one line per metric.

    Parameters
    ----------
    history : model, list of dict or pandas.DataFrame
        ``model.history_`` (or the model itself): one dict per epoch with an ``epoch`` key.
    metrics : str or sequence of str
        Keys to plot, e.g. ``"loss"``, ``"adv_loss"``, ``"accuracy"`` or validation figures such as
        ``"val_ndcg@10"`` (present only on evaluated epochs; those are drawn with markers).
    mark_epoch : int, sequence of int, False or None
        Epochs after which to draw a vertical marker (e.g. where adversarial training starts).
        ``None`` marks every change of the ``phase`` field automatically (BPR -> APR); ``False``
        draws no marker.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    records = _history_records(history)
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise ValueError("metrics is empty: name at least one history key, e.g. 'loss'")
    available = sorted({k for rec in records for k in rec})
    missing = [m for m in names if not any(m in rec for rec in records)]
    if missing:
        raise ValueError(f"metrics {missing} are not in the history; available: {available}")
    ax = _new_ax(ax)
    epochs_all = [rec.get("epoch", i + 1) for i, rec in enumerate(records)]
    for name in names:
        pts = [(e, rec[name]) for e, rec in zip(epochs_all, records) if rec.get(name) is not None]
        xs, ys = zip(*pts)
        sparse = len(pts) < len(records)
        ax.plot(xs, ys, marker="o" if sparse else None, markersize=4, label=name)
    marks: List[float] = []
    if mark_epoch is None:
        phases = [rec.get("phase") for rec in records]
        for i in range(1, len(records)):
            if phases[i] != phases[i - 1]:
                marks.append(epochs_all[i - 1] + 0.5)
                label = f"{phases[i]} starts" if phases[i] else "phase change"
                ax.axvline(marks[-1], color="0.4", linestyle="--", linewidth=1, label=label)
    elif mark_epoch is not False:
        epochs = [mark_epoch] if isinstance(mark_epoch, (int, float)) else list(mark_epoch)
        for e in epochs:
            ax.axvline(float(e) + 0.5, color="0.4", linestyle="--", linewidth=1, label=f"after epoch {e}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(names[0] if len(names) == 1 else "value")
    ax.set_title("training curves")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def _check_table(table, hue: Optional[str] = None):
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame from advrec.robustness, got {type(table).__name__}")
    missing = [c for c in _TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing}; expected the advrec.robustness columns {list(_TABLE_COLUMNS)}")
    if table.empty:
        raise ValueError("table is empty")
    if hue is not None and hue not in table.columns:
        raise ValueError(f"hue={hue!r} is not a column of the table; columns: {list(table.columns)}")
    return table


def _pick_metric(table, metric: Optional[str]) -> str:
    metrics = list(dict.fromkeys(table["metric"]))
    if metric is None:
        # NDCG is the headline metric of the papers; otherwise the first one listed
        ndcg = [m for m in metrics if str(m).startswith("ndcg")]
        return ndcg[-1] if ndcg else metrics[0]
    if metric not in metrics:
        raise ValueError(f"metric {metric!r} is not in the table; choose from {metrics}")
    return metric


_STYLES = ["-", "--", ":", "-."]
_MARKERS = ["o", "s", "^", "D", "v", "P"]


def robustness_curve(table, x: str = "eps", hue: str = "model", ax=None, metric: Optional[str] = None,
                     y: str = "value", attacks: Optional[Sequence[str]] = None):
    """Metric against attack budget, one line per ``hue`` value (and line style per attack).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`advrec.robustness` (columns ``model, attack, eps, metric, value, drop``),
        possibly concatenated over several calls or runs. Rows with ``attack == "none"`` are the
        clean models and start every curve at ``eps = 0``.
    x : str, default "eps"
        Column on the x axis.
    hue : str, default "model"
        Column whose values get one colour each.
    ax : matplotlib Axes, optional
    metric : str, optional
        Which metric to draw (e.g. ``"ndcg@100"``); default: the last NDCG in the table.
    y : {"value", "drop"}
        Draw the metric itself or its relative drop (in percent).
    attacks : sequence of str, optional
        Attacks to draw (default: all in the table); each gets its own line style.

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = _check_table(table)
    for name, col in (("x", x), ("hue", hue)):
        if col not in table.columns:
            raise ValueError(f"{name}={col!r} is not a column of the table; columns: {list(table.columns)}")
    if y not in ("value", "drop"):
        raise ValueError(f"y must be 'value' or 'drop', got {y!r}")
    metric = _pick_metric(table, metric)
    sub = table[table["metric"] == metric]
    all_attacks = [a for a in dict.fromkeys(sub["attack"]) if a != "none"]
    if attacks is None:
        attacks = all_attacks
    else:
        unknown = [a for a in attacks if a not in all_attacks]
        if unknown:
            raise ValueError(f"attacks {unknown} are not in the table; choose from {all_attacks}")
    ax = _new_ax(ax)
    plt = _pyplot()
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
    scale = 100.0 if y == "drop" else 1.0
    hues = list(dict.fromkeys(sub[hue]))
    for hi, h in enumerate(hues):
        part = sub[sub[hue] == h]
        clean = part[part["attack"] == "none"]
        clean_pt = None
        if len(clean):
            clean_pt = (float(clean[x].mean()) if x != "eps" else 0.0, float(clean[y].mean()) * scale)
        own = [a for a in attacks if (part["attack"] == a).any()]
        if not own:  # a model that was not attacked (e.g. ItemPop): its clean point only
            if clean_pt is not None:
                ax.plot([clean_pt[0]], [clean_pt[1]], linestyle="none", marker=_MARKERS[hi % len(_MARKERS)],
                        color=colors[hi % len(colors)], label=f"{h} (not attacked)")
            continue
        for attack in own:
            ai = list(attacks).index(attack)
            agg = part[part["attack"] == attack].groupby(x, sort=True)[y].mean()
            xs = [float(v) for v in agg.index]
            ys = [float(v) * scale for v in agg.values]
            if clean_pt is not None:
                xs, ys = [clean_pt[0]] + xs, [clean_pt[1]] + ys
            label = f"{h}" if len(attacks) <= 1 else f"{h} / {attack}"
            ax.plot(xs, ys, linestyle=_STYLES[ai % len(_STYLES)], marker=_MARKERS[hi % len(_MARKERS)],
                    color=colors[hi % len(colors)], label=label)
    ax.set_xlabel("attack budget ε (per-vector norm)" if x == "eps" else x)
    ax.set_ylabel(f"{metric} drop (%)" if y == "drop" else metric)
    ax.set_title(f"robustness: {metric} under " + (", ".join(attacks) if attacks else "no attack"))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def metric_drop(table, ax=None, metric: Optional[str] = None, hue: str = "model",
                attacks: Optional[Sequence[str]] = None, eps: Optional[Iterable[float]] = None):
    """Grouped bars of the relative metric drop (percent), one group per (attack, ε), one bar per model.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`advrec.robustness`.
    ax : matplotlib Axes, optional
    metric : str, optional
        Which metric (default: the last NDCG in the table).
    hue : str, default "model"
        Column whose values become the bars of each group.
    attacks : sequence of str, optional
        Attacks to show (default: all).
    eps : iterable of float, optional
        Budgets to show (default: all).

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = _check_table(table, hue)
    metric = _pick_metric(table, metric)
    sub = table[(table["metric"] == metric) & (table["attack"] != "none")]
    if attacks is not None:
        unknown = [a for a in attacks if a not in set(sub["attack"])]
        if unknown:
            raise ValueError(f"attacks {unknown} are not in the table; choose from {sorted(set(sub['attack']))}")
        sub = sub[sub["attack"].isin(list(attacks))]
    if eps is not None:
        wanted = [float(e) for e in eps]
        sub = sub[sub["eps"].astype(float).isin(wanted)]
    if sub.empty:
        raise ValueError("no attacked rows left to draw (check attacks= and eps=)")
    agg = sub.groupby(["attack", "eps", hue], sort=False)["drop"].mean() * 100.0
    groups = list(dict.fromkeys((a, e) for a, e, _ in agg.index))
    hues = list(dict.fromkeys(h for _, _, h in agg.index))
    ax = _new_ax(ax, figsize=(max(6.0, 1.1 * len(groups) + 2), 4.0))
    width = 0.8 / max(1, len(hues))
    for hi, h in enumerate(hues):
        xs, hs = [], []
        for gi, (a, e) in enumerate(groups):
            if (a, e, h) in agg.index:
                xs.append(gi - 0.4 + width * (hi + 0.5))
                hs.append(float(agg[(a, e, h)]))
        bars = ax.bar(xs, hs, width=width, label=str(h), color=f"C{hi % 10}")
        ax.bar_label(bars, fmt="%.1f", fontsize="x-small", padding=1)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{a}\nε={e:g}" for a, e in groups], fontsize="small")
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel("attack")
    ax.set_ylabel(f"{metric} drop (%)")
    ax.set_title(f"relative drop of {metric} under attack (lower is more robust)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def accuracy_vs_popularity(table, accuracy: Optional[str] = None, bias: Optional[str] = None, hue: str = "model",
                           ax=None, attacks: Optional[Sequence[str]] = None):
    """Accuracy against popularity bias: one point per (model, attack, ε), arrows from each clean model.

    Shows in one picture what adversarial training (compare the clean points of e.g. BPR-MF and
    AMF) and attacks (the arrows leaving each clean point) do to accuracy and to how popular the
    recommended items are.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`advrec.robustness` with an accuracy metric and a popularity metric among
        its ``metric`` values (e.g. ``metrics=("ndcg", "arp")``), possibly concatenated over seeds
        (points are means over repeated rows).
    accuracy : str, optional
        The y metric (default: the last NDCG in the table).
    bias : str, optional
        The x metric (default: the first of ARP, APLT, Gini, PopRSP found in the table).
    hue : str, default "model"
        Column whose values get one colour each.
    ax : matplotlib Axes, optional
    attacks : sequence of str, optional
        Attacks to draw (default: all); each gets its own marker.

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = _check_table(table, hue)
    metrics = list(dict.fromkeys(table["metric"]))
    accuracy = _pick_metric(table, accuracy)
    if bias is None:
        prefixes = ("arp@", "aplt@", "gini@", "pop_rsp@")
        found = [m for p in prefixes for m in metrics if str(m).startswith(p)]
        if not found:
            raise ValueError(f"the table has no popularity metric (arp, aplt, gini, pop_rsp); it has {metrics}. "
                             "Pass metrics=(..., 'arp') to advrec.robustness")
        bias = found[0]
    elif bias not in metrics:
        raise ValueError(f"metric {bias!r} is not in the table; choose from {metrics}")
    keys = [hue, "attack", "eps"]
    wide = (table[table["metric"].isin([accuracy, bias])]
            .groupby(keys + ["metric"], sort=False)["value"].mean().unstack("metric"))
    wide = wide.dropna(subset=[accuracy, bias])
    all_attacks = [a for a in dict.fromkeys(wide.index.get_level_values("attack")) if a != "none"]
    if attacks is not None:
        unknown = [a for a in attacks if a not in all_attacks]
        if unknown:
            raise ValueError(f"attacks {unknown} are not in the table; choose from {all_attacks}")
        all_attacks = list(attacks)
    ax = _new_ax(ax)
    plt = _pyplot()
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0", "C1", "C2", "C3"])
    for hi, h in enumerate(dict.fromkeys(wide.index.get_level_values(hue))):
        color = colors[hi % len(colors)]
        part = wide.xs(h, level=hue)
        clean = part.xs("none", level="attack") if "none" in part.index.get_level_values("attack") else None
        if clean is not None:
            x0, y0 = float(clean[bias].iloc[0]), float(clean[accuracy].iloc[0])
            ax.plot([x0], [y0], linestyle="none", marker="*", markersize=13, color=color, label=f"{h} (clean)")
        for ai, attack in enumerate(all_attacks):
            if attack not in part.index.get_level_values("attack"):
                continue
            pts = part.xs(attack, level="attack").sort_index()
            xs, ys = pts[bias].to_numpy(float), pts[accuracy].to_numpy(float)
            marker = _MARKERS[(ai + 1) % len(_MARKERS)]
            ax.plot(xs, ys, linestyle=_STYLES[ai % len(_STYLES)], marker=marker, color=color, alpha=0.85,
                    label=f"{h} / {attack}")
            if clean is not None and xs.size:
                ax.annotate("", xy=(xs[0], ys[0]), xytext=(x0, y0),
                            arrowprops=dict(arrowstyle="->", color=color, alpha=0.6))
            for x, y, e in zip(xs, ys, pts.index):
                ax.annotate(f"ε={float(e):g}", (x, y), fontsize="x-small", xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"{bias} (popularity bias; higher = more popular items)" if not bias.startswith("gini")
                  else f"{bias} (exposure concentration)")
    ax.set_ylabel(accuracy)
    ax.set_title(f"{accuracy} vs {bias}: clean, attacked and adversarially trained models")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="x-small")
    return ax
