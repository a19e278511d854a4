"""Determinism: the same config and seed give byte-identical results. Two trainings of one config
into two run roots (one of them checkpointing every step, which must not change anything), each
evaluated with ``evaluate_run``: ``metrics.json``, ``predictions.jsonl`` and the selected adapter are
equal byte for byte. Timings live apart (``timing.json``, the ``seconds`` fields) and are left out."""

from __future__ import annotations

import dataclasses
import json

import pytest
from helpers import one_thread




def _no_seconds(x):
    if isinstance(x, dict):
        return {k: _no_seconds(v) for k, v in x.items() if k not in ("seconds", "cache_hit")}
    if isinstance(x, list):
        return [_no_seconds(v) for v in x]
    return x


@pytest.mark.parametrize("method", ["gdrt"])
def test_same_config_and_seed_give_byte_identical_results(method, tmp_path, synth_dir, tiny_model_path):
    from gdrt.evaluation import evaluate_run
    from gdrt.training.runs import TrainConfig, train

    cfg = TrainConfig(data_dir=str(synth_dir), dataset="synthetic", model=tiny_model_path, adapter="lora",
                      method=method, n_train=24, n_valid=8, valid_split="valid", epochs=1, batch_size=8,
                      n_groups=3, tau=0.5, lr=1e-2, num_beams=3, eval_steps=1, save_steps=None)
    runs, evals = [], []
    for root, save_steps in (("one", None), ("two", 1)):
        with one_thread():
            run = train(dataclasses.replace(cfg, save_steps=save_steps), runs_root=tmp_path / root, progress=False)
            _, out = evaluate_run(run, "test", limit=12, num_beams=3, progress=False)
        runs.append(run)
        evals.append(out)
    assert runs[0].name == runs[1].name  # save_steps is not part of the run's identity
    for name in ("metrics.json", "predictions.jsonl", "item_groups.json"):
        a, b = [(e / name).read_bytes() for e in evals]
        assert a == b, name
    name = "best/adapter_model.safetensors"
    assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
    # grouping.json differs in cache_hit alone when the first run computed the relevance and the
    # second read it from the cache (which is itself a check: both give the same groups)
    logs = [_no_seconds(json.loads((r / "train_log.json").read_text())) for r in runs]
    assert logs[0] == logs[1]
    assert json.loads((evals[0] / "metrics.json").read_text())["n_rows"] == 12
