"""The scripted entry, ``python -m gdrt``, on the tiny model: train, evaluate, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def gdrt(*args, cwd=None):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "gdrt", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, synth_dir, tiny_model_path):
    root = tmp_path_factory.mktemp("cli")
    cfg = root / "sft.json"
    cfg.write_text(json.dumps({"data_dir": str(synth_dir), "dataset": "synthetic", "model": tiny_model_path,
                               "adapter": "lora", "method": "sft", "n_train": 16, "n_valid": 4,
                               "valid_split": "valid", "num_beams": 3}))
    r = gdrt("train", "--config", cfg, "--epochs", "1", "--batch-size", "8", "--runs-root", root / "runs")
    assert r.returncode == 0, r.stderr[-2000:]
    return root, r.stdout.strip().splitlines()[-1]


def test_train_writes_a_finished_run_with_the_overrides(trained):
    _, run = trained
    cfg = json.loads(open(os.path.join(run, "config.json")).read())
    assert cfg["epochs"] == 1.0 and cfg["batch_size"] == 8 and cfg["method"] == "sft"
    assert json.loads(open(os.path.join(run, "final.json")).read())["steps"] == 2


def test_evaluate_a_run(trained):
    _, run = trained
    r = gdrt("evaluate", "--run", run, "--split", "test", "--limit", "5", "--num-beams", "3")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["n_rows"] == 5 and 0 <= out["ndcg@10"] <= 1
    assert os.path.exists(os.path.join(out["output_dir"], "predictions.jsonl"))


def test_evaluate_a_model_on_a_data_dir_refuses_to_overwrite(tmp_path, synth_dir, tiny_model_path):
    args = ["evaluate", "--model", tiny_model_path, "--data-dir", synth_dir, "--dataset", "synthetic",
            "--split", "test", "--limit", "3", "--num-beams", "2", "--output-dir", tmp_path / "out"]
    r = gdrt(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["n_rows"] == 3
    again = gdrt(*args)
    assert again.returncode == 1
    assert "results already exist; pass --overwrite" in again.stderr
    assert gdrt(*args, "--overwrite").returncode == 0


@pytest.mark.parametrize("content, extra, message", [
    (None, [], "config file not found"),
    ("{not json", [], "invalid JSON"),
    ("[1, 2]", [], "must be a JSON object"),
    ('{"data_dir": "x", "taux": 1}', [], "unknown config key(s) taux"),
    ('{"data_dir": "x", "tau": -0.5}', [], "tau must be > 0"),
    ('{"data_dir": "x"}', ["--nonsense", "1"], "unknown option --nonsense"),
])
def test_bad_configs_give_one_line_errors(tmp_path, content, extra, message):
    cfg = tmp_path / "c.json"
    if content is not None:
        cfg.write_text(content)
    r = gdrt("train", "--config", cfg, *extra)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(cfg) in lines[0], r.stderr


def test_missing_data_dir_is_one_line(tmp_path, tiny_model_path):
    r = gdrt("evaluate", "--model", tiny_model_path, "--data-dir", tmp_path / "nope", "--dataset", "office",
             "--split", "test", "--output-dir", tmp_path / "o")
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "nope" in r.stderr
