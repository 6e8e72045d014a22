"""advrec.experiments: validation with clear errors, grid expansion, trials, local and Ray backends."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from advrec import experiments as E
from advrec.experiments import ExperimentError


def small(**over):
    cfg = {
        "name": "tiny",
        "dataset": {"source": "synthetic", "params": {"n_users": 150, "n_items": 80, "n_features": 0}},
        "split": {"method": "leave_one_out", "by": "time"},
        "models": {
            "BPR": {"class": "BPRMF", "params": {"factors": 8, "epochs": 3}},
            "AMF": {"class": "AMF", "init": "BPR", "params": {"factors": 8, "eps": 0.5, "epochs": 2}},
            "Pop": "ItemPop",
        },
        "evaluation": {"k": [5, 10], "metrics": ["hr", "ndcg"]},
        "attacks": {"methods": ["fgsm", "random"], "eps": [0.5, 1.0]},
        "seed": 0,
        "num_threads": 1,
    }
    cfg.update(over)
    return cfg


# ---- validation -----------------------------------------------------------------------------
@pytest.mark.parametrize("mutate, match", [
    (lambda c: c.update(modles={}), r"modles: unknown key 'modles'; allowed keys: name, description, dataset"),
    (lambda c: c["dataset"].update(source="imdb"), r"dataset.source: got 'imdb'; allowed values: synthetic, movielens"),
    (lambda c: c["dataset"]["params"].update(n_user=5), r"dataset.params.n_user: unknown parameter.*n_users"),
    (lambda c: c["dataset"].update(source="movielens"), r"dataset.path: .*required for source 'movielens'"),
    (lambda c: c["dataset"].update(features="genres"), r"dataset.features: MovieLens content features need source"),
    (lambda c: c["dataset"].update(features="colour"), r"dataset.features: got 'colour'; allowed values: genres, tags"),
    (lambda c: c["split"].update(method="kfold"), r"split.method: got 'kfold'; allowed values: leave_one_out, holdout"),
    (lambda c: c["split"].update(by="day"), r"split.by: got 'day'; allowed values: time, random"),
    (lambda c: c["models"]["BPR"].update({"class": "BPRM"}), r"models.BPR.class: got 'BPRM'; allowed values: BPRMF, AMF"),
    (lambda c: c["models"]["AMF"]["params"].update(epsilon=1), r"models.AMF.params.epsilon: unknown parameter for AMF; allowed: factors, eps"),
    (lambda c: c["models"]["AMF"]["params"].update(lr=-1.0), r"models.AMF.params: .*lr"),
    (lambda c: c["models"]["AMF"].update(init="MF"), r"models.AMF.init: must name another model of the experiment; allowed values: BPR, Pop"),
    (lambda c: c["models"]["BPR"].update(init="AMF"), r"models.BPR.init: models initialise each other in a cycle"),
    (lambda c: c["models"]["BPR"].update(optimiser="sgd"), r"models.BPR.optimiser: unknown key.*allowed keys: class, params, init"),
    (lambda c: c["evaluation"].update(metrics=["hr", "f1"]), r"evaluation.metrics\[1\]: got 'f1'; allowed values: hr, ndcg, recall"),
    (lambda c: c["evaluation"].update(k=[10, 0]), r"evaluation.k\[1\]: must be an integer >= 1"),
    (lambda c: c["evaluation"].update(protocol="sampled"), r"evaluation.protocol: got 'sampled'; allowed values: full, \{sampled: N\}"),
    (lambda c: c["attacks"].update(methods=["pgd"]), r"attacks.methods\[0\]: got 'pgd'; allowed values: fgsm, fgsm-sign, iterative, random"),
    (lambda c: c["attacks"].update(eps=[0.5, -1]), r"attacks.eps\[1\]: must be a number >= 0"),
    (lambda c: c["attacks"].update(eps=[]), r"attacks.eps: at least one budget"),
    (lambda c: c.update(seed="zero"), r"seed: must be an integer >= 0"),
    (lambda c: c.update(run={"backend": "dask"}), r"run.backend: got 'dask'; allowed values: local, ray"),
    (lambda c: c.update(grid={"models.AMF.params.eps": 0.5}), r"grid.models.AMF.params.eps: must be a non-empty list"),
    (lambda c: c.update(grid={"models.MF.params.eps": [0.5]}), r"grid.models.MF.params.eps: the path does not exist"),
    (lambda c: c.update(grid={"run.workers": [1, 2]}), r"grid.run.workers: cannot vary this key"),
    (lambda c: c.update(grid={"models.AMF.params.eps": [0.5, "big"]}), r"models.AMF.params: eps must be a number"),
    (lambda c: c.pop("models"), r"models: required key is missing"),
])
def test_validate_names_key_and_allowed_values(mutate, match):
    cfg = small()
    mutate(cfg)
    with pytest.raises(ExperimentError, match=match):
        E.validate(cfg)


def test_validate_fills_defaults_and_keeps_input():
    cfg = small()
    cfg.pop("split"), cfg.pop("evaluation"), cfg.pop("attacks")
    before = copy.deepcopy(cfg)
    out = E.validate(cfg)
    assert cfg == before
    assert out["split"] == {"method": "leave_one_out", "by": "time"}
    assert out["evaluation"]["k"] == [10] and out["attacks"]["methods"] == []
    assert out["run"]["backend"] == "local" and out["models"]["Pop"] == {"class": "ItemPop"}


def test_expand_grid_is_the_cartesian_product_in_order():
    trials = E.expand(small(grid={"seed": [0, 1], "models.AMF.params.eps": [0.25, 0.5, 1.0]}))
    assert len(trials) == 6
    assert [t["trial"] for t in trials] == list(range(6))
    assert [(t["seed"], t["models"]["AMF"]["params"]["eps"]) for t in trials] == [
        (0, 0.25), (0, 0.5), (0, 1.0), (1, 0.25), (1, 0.5), (1, 1.0)]
    assert trials[4]["grid_values"] == {"seed": 1, "models.AMF.params.eps": 0.5}
    assert all("grid" not in t and "run" not in t for t in trials)
    assert E.expand(small())[0]["grid_values"] == {}


def test_models_and_metrics_come_from_the_one_registry_and_the_evaluator(monkeypatch):
    import advrec
    from advrec.models.base import _REGISTRY

    assert set(E.MODEL_CLASSES) == set(_REGISTRY) | {"DUIF"}
    assert E.config.METRICS is advrec.evaluation.METRICS

    class TinyMF(advrec.BPRMF):  # a model registered elsewhere is usable by name, no edit here
        pass

    monkeypatch.setitem(_REGISTRY, "TinyMF", TinyMF)
    cfg = small(models={"T": {"class": "TinyMF", "params": {"factors": 4, "epochs": 1}}}, attacks={})
    assert E.validate(cfg)["models"]["T"]["class"] == "TinyMF"
    assert {r["model"] for r in E.run_trial(cfg)["rows"]} == {"T"}


def test_content_models_need_item_features():
    cfg = small(models={"V": {"class": "VBPR", "params": {"factors": 4, "epochs": 1}}}, attacks={})
    with pytest.raises(ExperimentError, match="VBPR needs item features"):
        E.run_trial(cfg)


# ---- trials ---------------------------------------------------------------------------------
def test_run_trial_rows_and_determinism():
    cfg = small()
    a = E.run_trial(cfg)
    rows = pd.DataFrame(a["rows"])
    assert set(rows.columns) >= {"trial", "seed", "model", "attack", "eps", "metric", "value", "drop"}
    # 2 attackable models x (clean + 2 attacks x 2 eps) x 4 metrics + ItemPop clean only x 4 metrics
    assert len(rows) == 2 * 5 * 4 + 4
    assert set(rows["metric"]) == {"hr@5", "hr@10", "ndcg@5", "ndcg@10"}
    assert set(rows.loc[rows.model == "Pop", "attack"]) == {"none"}
    assert rows["value"].between(0, 1).all()
    clean = rows[rows.attack == "none"]
    assert (clean["drop"] == 0).all()
    assert a["models"]["AMF"]["class"] == "AMF" and a["models"]["AMF"]["epochs"] == 3 + 2  # continues BPR
    b = E.run_trial(cfg)
    assert [r["value"] for r in a["rows"]] == [r["value"] for r in b["rows"]]   # bit-identical, 1 thread
    other = E.run_trial(small(seed=1))
    assert [r["value"] for r in other["rows"]] != [r["value"] for r in a["rows"]]


def test_models_are_fitted_after_the_model_they_start_from():
    cfg = small()
    cfg["models"] = {"AMF": cfg["models"]["AMF"], "BPR": cfg["models"]["BPR"]}
    rows = pd.DataFrame(E.run_trial(cfg)["rows"])
    assert list(dict.fromkeys(rows["model"])) == ["BPR", "AMF"]


def test_run_trial_refuses_an_unexpanded_grid():
    with pytest.raises(ExperimentError, match="expand"):
        E.run_trial(small(grid={"seed": [0, 1]}))


def test_run_trial_sampled_protocol_wiring():
    cfg = small(evaluation={"k": [5], "metrics": ["hr"], "protocol": {"sampled": {"n_negatives": 20}}},
                attacks={"methods": [], "eps": []})
    rows = pd.DataFrame(E.run_trial(cfg)["rows"])
    assert set(rows["metric"]) == {"hr@5"} and len(rows) == 3


def _values(table):
    cols = [c for c in table.columns if c != "fit_seconds"]
    return table[cols].sort_values(["trial", "model", "attack", "eps", "metric"]).reset_index(drop=True)


def test_local_pool_matches_in_process_and_writes_results(tmp_path):
    cfg = small(grid={"seed": [0, 1]})
    inline = E.run(cfg, backend="local", workers=1, out=tmp_path / "a")
    pool = E.run(cfg, backend="local", workers=2, out=tmp_path / "b")
    pd.testing.assert_frame_equal(_values(inline), _values(pool))
    for name in ("results.csv", "results.json", "config.json", "robustness.png", "metric_drop.png"):
        assert (tmp_path / "b" / name).stat().st_size > 0
    back = pd.read_csv(tmp_path / "b" / "results.csv")
    assert len(back) == len(pool) and set(back["seed"]) == {0, 1}
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert [r["trial"] for r in results] == [0, 1]
    summary = E.summary_table(pool)
    assert list(summary.index) == ["BPR", "AMF", "Pop"] and "fgsm ε=0.5 drop%" in summary.columns


def test_load_config_yaml_and_json(tmp_path):
    yaml = pytest.importorskip("yaml")
    p = tmp_path / "exp.yaml"
    p.write_text(yaml.safe_dump(small()))
    assert E.load_config(p)["models"]["Pop"] == "ItemPop"
    j = tmp_path / "exp2.json"
    cfg = small()
    cfg.pop("name")
    j.write_text(json.dumps(cfg))
    assert E.load_config(j)["name"] == "exp2"   # defaults to the file name
    bad = tmp_path / "exp.toml"
    bad.write_text("x = 1")
    with pytest.raises(ExperimentError, match="unsupported extension '.toml'; allowed: .yaml, .yml, .json"):
        E.load_config(bad)
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    with pytest.raises(ExperimentError, match="must hold a mapping"):
        E.load_config(lst)
    with pytest.raises(FileNotFoundError):
        E.load_config(tmp_path / "missing.yaml")


def test_ray_backend_gives_the_local_results(tmp_path):
    """A small sweep on a local Ray (the `test` extra installs ray[tune]; this must not skip)."""
    import ray

    cfg = small(grid={"seed": [0, 1]}, models={"BPR": {"class": "BPRMF", "params": {"factors": 8, "epochs": 3}}},
                attacks={"methods": ["fgsm"], "eps": [0.5]})
    local = E.run(cfg, backend="local", workers=1, out=tmp_path / "local")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = E.run(cfg, backend="ray", out=tmp_path / "ray")
    finally:
        if started:
            ray.shutdown()
    pd.testing.assert_frame_equal(_values(local), _values(remote))
    assert (tmp_path / "ray" / "results.csv").exists()


def test_summary_labels_grid_values_only_on_their_model():
    rows = []
    for trial, eps in enumerate((0.25, 0.5)):
        for model, v in (("BPR", 0.3), ("AMF", 0.3 + eps / 10)):
            rows.append({"trial": trial, "seed": 0, "models.AMF.params.eps": eps, "model": model, "attack": "none",
                         "eps": 0.0, "metric": "ndcg@10", "value": v, "drop": 0.0})
    summary = E.summary_table(pd.DataFrame(rows))
    assert list(summary.index) == ["BPR", "AMF eps=0.25", "AMF eps=0.5"]
    assert summary.loc["AMF eps=0.5", "ndcg@10"] == pytest.approx(0.35)


def test_relative_dataset_paths_follow_the_experiment_file(tmp_path):
    folder = tmp_path / "data" / "ml"
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4,1\n")
    exp = tmp_path / "exps" / "e.json"
    exp.parent.mkdir()
    exp.write_text(json.dumps({"dataset": {"source": "movielens", "path": "../data/ml"}, "models": {"P": "ItemPop"}}))
    cfg = E.load_config(exp)
    assert cfg["dataset"]["path"] == str(folder.resolve())
    E.validate(cfg)
    cfg["dataset"]["path"] = str(tmp_path / "nowhere")
    with pytest.raises(ExperimentError, match="dataset.path: .*does not exist"):
        E.validate(cfg)


@pytest.mark.parametrize("name", ["quick.yaml", "apr_sweep.yaml", "movielens.json"])
def test_example_experiment_files_are_valid(name):
    from pathlib import Path

    from conftest import require_data

    pytest.importorskip("yaml")
    path = Path(__file__).resolve().parents[2] / "examples" / name
    cfg = E.load_config(path)
    if cfg["dataset"]["source"] == "movielens":
        require_data("ml-latest-small")
    trials = E.expand(cfg)
    assert trials and all(t["name"] == path.stem for t in trials)
