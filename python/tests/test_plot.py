"""advrec.plot: rendered headless (Agg) to PNG; images non-empty, axes labelled, errors clear."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from advrec import plot  # noqa: E402


def _table():
    rows = []
    for model, clean, slope in (("BPR-MF", 0.30, 0.20), ("AMF", 0.32, 0.08)):
        for metric, scale in (("hr@10", 1.5), ("ndcg@10", 1.0)):
            c = clean * scale
            rows.append({"model": model, "attack": "none", "eps": 0.0, "metric": metric, "value": c, "drop": 0.0})
            for attack, f in (("fgsm", 1.0), ("random", 0.2)):
                for eps in (0.5, 1.0):
                    v = c * (1 - slope * f * eps)
                    rows.append({"model": model, "attack": attack, "eps": eps, "metric": metric, "value": v,
                                 "drop": (c - v) / c})
    return pd.DataFrame(rows)


def _history():
    h = [{"epoch": e, "phase": "bpr", "loss": 1.0 / e, "accuracy": 0.5 + 0.04 * e} for e in range(1, 6)]
    h += [{"epoch": e, "phase": "apr", "loss": 0.2 - 0.01 * e, "adv_loss": 0.5, "accuracy": 0.8} for e in range(6, 11)]
    for rec in h:
        if rec["epoch"] % 2 == 0:
            rec["val_ndcg@10"] = 0.1 + 0.01 * rec["epoch"]
    return h


def _png_ok(ax, path):
    ax.figure.savefig(path, dpi=60)
    plt.close(ax.figure)
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    # something was drawn: the image is not a single flat colour
    assert float(np.std(img[..., :3])) > 0.01


def test_training_curves_marks_phase_change(tmp_path):
    ax = plot.training_curves(_history(), ["loss", "val_ndcg@10"])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "loss" in labels and "val_ndcg@10" in labels and "apr starts" in labels
    vlines = [l for l in ax.get_lines() if l.get_label() == "apr starts"]
    assert vlines and vlines[0].get_xdata()[0] == pytest.approx(5.5)   # between epoch 5 and 6
    # validation figures exist only on evaluated epochs: 5 points, not 10
    val = [l for l in ax.get_lines() if l.get_label() == "val_ndcg@10"][0]
    assert len(val.get_xdata()) == 5
    _png_ok(ax, tmp_path / "curves.png")


def test_training_curves_explicit_or_no_mark_and_given_ax(tmp_path):
    fig, ax0 = plt.subplots()
    ax = plot.training_curves(_history(), "accuracy", mark_epoch=3, ax=ax0)
    assert ax is ax0 and ax.get_ylabel() == "accuracy"
    assert [l.get_xdata()[0] for l in ax.get_lines() if l.get_label() == "after epoch 3"] == [3.5]
    plt.close(fig)
    ax = plot.training_curves(_history(), "loss", mark_epoch=False)
    assert len(ax.get_lines()) == 1
    _png_ok(ax, tmp_path / "c2.png")


def test_training_curves_accepts_a_model_like_object():
    class M:
        history_ = _history()

    ax = plot.training_curves(M(), "loss")
    assert len(ax.get_lines()[0].get_xdata()) == 10
    plt.close(ax.figure)


def test_training_curves_errors():
    with pytest.raises(ValueError, match="not in the history.*available"):
        plot.training_curves(_history(), "ndcg")
    with pytest.raises(ValueError, match="empty"):
        plot.training_curves([], "loss")
    with pytest.raises(TypeError, match="history"):
        plot.training_curves(42, "loss")
    with pytest.raises(ValueError, match="metrics is empty"):
        plot.training_curves(_history(), [])


def test_robustness_curve(tmp_path):
    ax = plot.robustness_curve(_table())
    assert ax.get_ylabel() == "ndcg@10" and "ε" in ax.get_xlabel()
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert set(lines) == {"BPR-MF / fgsm", "BPR-MF / random", "AMF / fgsm", "AMF / random"}
    # every curve starts at the clean model (eps 0) and follows the table
    x, y = lines["BPR-MF / fgsm"].get_data()
    assert list(x) == [0.0, 0.5, 1.0]
    assert y[0] == pytest.approx(0.30) and y[2] == pytest.approx(0.30 * 0.8)
    _png_ok(ax, tmp_path / "rob.png")


def test_robustness_curve_drop_and_metric_choice(tmp_path):
    ax = plot.robustness_curve(_table(), metric="hr@10", y="drop", attacks=["fgsm"])
    assert ax.get_ylabel() == "hr@10 drop (%)"
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert set(lines) == {"BPR-MF", "AMF"}
    assert lines["AMF"].get_ydata()[-1] == pytest.approx(8.0)
    _png_ok(ax, tmp_path / "rob2.png")


def test_robustness_curve_unattacked_model_is_a_point():
    t = pd.concat([_table(), pd.DataFrame([{"model": "Pop", "attack": "none", "eps": 0.0, "metric": "ndcg@10",
                                             "value": 0.1, "drop": 0.0}])])
    ax = plot.robustness_curve(t)
    assert "Pop (not attacked)" in [l.get_label() for l in ax.get_lines()]
    plt.close(ax.figure)


def test_robustness_curve_errors():
    with pytest.raises(ValueError, match="metric 'mrr@5' is not in the table"):
        plot.robustness_curve(_table(), metric="mrr@5")
    with pytest.raises(ValueError, match="lacks columns"):
        plot.robustness_curve(_table().drop(columns=["drop"]))
    with pytest.raises(TypeError, match="DataFrame"):
        plot.robustness_curve([1, 2])
    with pytest.raises(ValueError, match="hue='seed' is not a column"):
        plot.robustness_curve(_table(), hue="seed")
    with pytest.raises(ValueError, match="attacks"):
        plot.robustness_curve(_table(), attacks=["pgd"])


def test_metric_drop(tmp_path):
    ax = plot.metric_drop(_table())
    assert ax.get_ylabel() == "ndcg@10 drop (%)" and ax.get_xlabel() == "attack"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["fgsm\nε=0.5", "fgsm\nε=1", "random\nε=0.5", "random\nε=1"]
    heights = {}
    for container, label in zip(ax.containers, ["BPR-MF", "AMF"]):
        heights[label] = [r.get_height() for r in container]
    assert heights["BPR-MF"][1] == pytest.approx(20.0) and heights["AMF"][1] == pytest.approx(8.0)
    _png_ok(ax, tmp_path / "drop.png")


def test_metric_drop_filters_and_errors():
    ax = plot.metric_drop(_table(), attacks=["fgsm"], eps=[1.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fgsm\nε=1"]
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="no attacked rows"):
        plot.metric_drop(_table(), eps=[7.0])
    with pytest.raises(ValueError, match="attacks"):
        plot.metric_drop(_table(), attacks=["pgd"])


def test_matplotlib_is_imported_lazily():
    code = "import sys, advrec, advrec.plot; assert 'matplotlib' not in sys.modules, 'eager import'"
    subprocess.run([sys.executable, "-c", code], check=True)


def _bias_table():
    rows = []
    for seed in (0, 1):
        for model, acc, arp in (("BPR-MF", 0.30, 50.0), ("AMF", 0.33, 60.0)):
            for attack, eps, d_acc, d_arp in (("none", 0.0, 0, 0), ("fgsm", 0.5, -0.05, 5.0), ("fgsm", 1.0, -0.1, 9.0)):
                for metric, v in (("ndcg@20", acc + d_acc + 0.01 * seed), ("arp@20", arp + d_arp)):
                    rows.append({"model": model, "attack": attack, "eps": eps, "metric": metric, "value": v,
                                 "drop": 0.0, "shift": 0.0, "seed": seed})
    return pd.DataFrame(rows)


def test_accuracy_vs_popularity(tmp_path):
    ax = plot.accuracy_vs_popularity(_bias_table())
    assert ax.get_xlabel().startswith("arp@20") and ax.get_ylabel() == "ndcg@20"
    # one clean star per model and one line per (model, attack); points are means over seeds
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"BPR-MF (clean)", "AMF (clean)", "BPR-MF / fgsm", "AMF / fgsm"}
    np.testing.assert_allclose(lines["AMF (clean)"].get_ydata(), [0.335])
    np.testing.assert_allclose(lines["BPR-MF / fgsm"].get_xdata(), [55.0, 59.0])
    path = tmp_path / "bias.png"
    ax.figure.savefig(path)
    assert mpimg.imread(path).size > 0
    plt.close(ax.figure)


def test_accuracy_vs_popularity_errors():
    table = _bias_table()
    with pytest.raises(ValueError, match="no popularity metric"):
        plot.accuracy_vs_popularity(table[table.metric == "ndcg@20"])
    with pytest.raises(ValueError, match="not in the table"):
        plot.accuracy_vs_popularity(table, bias="gini@20")
    with pytest.raises(ValueError, match="attacks"):
        plot.accuracy_vs_popularity(table, attacks=("random",))
