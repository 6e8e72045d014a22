"""The advrec command line: demo, run (good and bad experiment files), info."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from advrec.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _advrec_path():
    """The subprocess must run the advrec this test imports (the checkout's src in a development
    run, the installed package otherwise)."""
    import advrec

    parent = Path(advrec.__file__).resolve().parents[1]
    return [str(parent)] if parent == (ROOT / "src").resolve() else []


def _exp(**over):
    cfg = {
        "name": "cli",
        "dataset": {"source": "synthetic", "params": {"n_users": 120, "n_items": 60, "n_features": 0}},
        "models": {"BPR": {"class": "BPRMF", "params": {"factors": 8, "epochs": 2}},
                   "AMF": {"class": "AMF", "init": "BPR", "params": {"factors": 8, "epochs": 2}}},
        "evaluation": {"k": [10], "metrics": ["hr", "ndcg"]},
        "attacks": {"methods": ["fgsm", "random"], "eps": [0.5]},
        "num_threads": 1,
    }
    cfg.update(over)
    return cfg


def _cli(*args, cwd=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(_advrec_path() + [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, "-m", "advrec", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    proc = _cli("demo", "--epochs", "8", "--adv-epochs", "8", "--threads", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "clean test metrics" in text and "BPR-MF" in text and "AMF" in text and "FGM ε=0.5" in text
    # not a terminal: no progress bars in the captured stderr
    assert "epoch/s" not in proc.stderr and "it/s" not in proc.stderr
    table = pd.read_csv(out / "robustness.csv")
    assert set(table["model"]) == {"BPR-MF", "AMF"} and set(table["attack"]) == {"none", "fgsm", "random"}
    assert sorted(set(table["eps"])) == [0.0, 0.25, 0.5, 1.0]
    assert (out / "robustness.png").stat().st_size > 10_000


def test_demo_on_a_movielens_folder(tmp_path):
    # a tiny MovieLens-format folder (ratings.csv with header)
    folder = tmp_path / "ml"
    folder.mkdir()
    rows = ["userId,movieId,rating,timestamp"]
    for u in range(1, 41):
        for j in range(12):
            rows.append(f"{u},{(u * 7 + j * 3) % 50 + 1},4.0,{1000 + j}")
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    code = main(["demo", "--data", str(folder), "--epochs", "2", "--adv-epochs", "2", "--threads", "1",
                 "--eps", "0.5", "--no-plot", "--out", str(tmp_path / "o")])
    assert code == 0
    table = pd.read_csv(tmp_path / "o" / "robustness.csv")
    assert sorted(set(table["eps"])) == [0.0, 0.5]
    assert not (tmp_path / "o" / "robustness.png").exists()


def test_run_json_experiment(tmp_path, capsys):
    f = tmp_path / "exp.json"
    f.write_text(json.dumps(_exp(grid={"seed": [0, 1]})))
    code = main(["run", str(f), "--out", str(tmp_path / "res"), "--workers", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "2 trial(s) on the local backend" in out and "fgsm ε=0.5 drop%" in out
    table = pd.read_csv(tmp_path / "res" / "results.csv")
    assert set(table["seed"]) == {0, 1} and set(table["model"]) == {"BPR", "AMF"}
    assert (tmp_path / "res" / "robustness.png").exists()


def test_run_yaml_dry_run(tmp_path, capsys):
    yaml = pytest.importorskip("yaml")
    f = tmp_path / "exp.yaml"
    f.write_text(yaml.safe_dump(_exp(grid={"models.AMF.params.eps": [0.25, 0.5]})))
    assert main(["run", str(f), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "valid; 2 trial(s)" in out and "models.AMF.params.eps=0.25" in out


@pytest.mark.parametrize("content, suffix, message", [
    ({"dataset": {"source": "synthetic"}, "models": {"M": {"class": "BPRMF"}}, "atacks": {}}, ".json",
     "atacks: unknown key 'atacks'; allowed keys: name, description, dataset, split, models"),
    ({"dataset": {"source": "netflix"}, "models": {"M": "BPRMF"}}, ".json",
     "dataset.source: got 'netflix'; allowed values: synthetic, movielens, fetch, sasrec, rating_split, lightgcn"),
    ({"dataset": {"source": "synthetic"}, "models": {"M": {"class": "BPRMF", "params": {"factor": 8}}}}, ".json",
     "models.M.params.factor: unknown parameter for BPRMF; allowed: factors"),
    ({"dataset": {"source": "synthetic"}, "models": {"M": "BPRMF"}, "evaluation": {"metrics": ["hit"]}}, ".json",
     "evaluation.metrics[0]: got 'hit'; allowed values: hr, ndcg"),
    ("{not json", ".json", "not valid JSON"),
    ("models: [unclosed", ".yaml", "not valid YAML"),
    ("name = 'x'", ".toml", "unsupported extension '.toml'; allowed: .yaml, .yml, .json"),
])
def test_run_bad_experiment_files(tmp_path, capsys, content, suffix, message):
    f = tmp_path / f"bad{suffix}"
    f.write_text(content if isinstance(content, str) else json.dumps(content))
    code = main(["run", str(f)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("advrec: error:") and message in err


def test_run_missing_file_and_bad_backend(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    f = tmp_path / "e.json"
    f.write_text(json.dumps(_exp()))
    with pytest.raises(SystemExit) as exc:
        main(["run", str(f), "--backend", "dask"])
    assert exc.value.code == 2
    assert "invalid choice: 'dask'" in capsys.readouterr().err


def test_info(capsys):
    from advrec import __version__
    from advrec._engine import core

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"advrec {__version__}" in out
    assert f"instruction set: {core.variant}" in out
    assert f"threads: {core.max_threads()}" in out


def test_entry_point_help():
    proc = _cli("--help")
    assert proc.returncode == 0 and "demo" in proc.stdout and "run" in proc.stdout and "info" in proc.stdout
