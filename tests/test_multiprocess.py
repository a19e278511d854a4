"""The scripted entry under ``accelerate launch`` with 2 CPU processes (gloo), on the tiny model and the
synthetic data: training gives the loss curve and the group statistics of one process at the same
global batch, and evaluation writes the same predictions and metrics as one process.

On a CPU-only machine ``accelerate launch --cpu`` starts several processes only through MPI; the
torchrun launcher behind ``--multi_gpu`` starts them anywhere, and the code picks gloo when there is
no GPU (README, "Several processes"). Dropout is off (``lora_dropout=0``): the processes draw their own
masks, so with dropout the curves would differ by design, not by a bug. Every process runs one torch
thread, as does the single-process reference, so the arithmetic is the same.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gdrt.evaluation import shard_bounds

LOSS_TOL = 1e-5  # float32 sums over the same tokens in another order


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gdrt(processes: int, *args, cwd=None):
    """``python -m gdrt ARGS`` in one process, or under ``accelerate launch`` with ``processes``."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    if processes == 1:
        cmd = [sys.executable, "-m", "gdrt"]
    else:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_free_port()), "-m", "gdrt"]
    r = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


# --------------------------------------------------------------------------------- sharding rule
@pytest.mark.parametrize("n, batch, world", [(21, 4, 2), (8, 4, 2), (3, 4, 2), (0, 4, 2), (100, 8, 3), (17, 1, 4),
                                             (5, 8, 4)])
def test_shards_are_whole_batches_in_row_order(n, batch, world):
    bounds = [shard_bounds(n, batch, r, world) for r in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    for (lo, hi), (lo2, _) in zip(bounds, bounds[1:]):
        assert hi == lo2  # contiguous: concatenating in rank order restores the rows
    for lo, hi in bounds:
        assert lo <= hi and lo % batch == 0  # every shard starts on a single process's batch boundary
    sizes = [-(-(hi - lo) // batch) for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1  # batches spread evenly


# --------------------------------------------------------------------------------- training
def _train(tmp: Path, synth_dir, model, method, processes, batch, accum):
    cfg = tmp / f"{method}.json"
    cfg.write_text(json.dumps({
        "data_dir": str(synth_dir), "dataset": "synthetic", "model": model, "adapter": "lora", "method": method,
        "n_train": 32, "n_valid": 4, "valid_split": "valid", "num_beams": 3, "lora_dropout": 0.0, "epochs": 1,
        "lr": 3e-3, "n_groups": 3, "tau": 0.5}))
    root = tmp / f"runs-{method}-{processes}"
    r = gdrt(processes, "train", "--config", cfg, "--batch-size", batch, "--grad-accum", accum, "--runs-root", root)
    run = Path(r.stdout.strip().splitlines()[-1])
    return json.loads((run / "train_log.json").read_text())


def _step_groups(log):
    """The group statistics of each optimizer step (the first entry logged for it)."""
    out = {}
    for g in log["groups"]:
        out.setdefault(g["step"], g)
    return out


@pytest.mark.parametrize("method, batch, accum", [("sft", 4, 1), ("gdrt", 2, 2)])
def test_two_processes_train_like_one_at_the_same_global_batch(tmp_path, synth_dir, tiny_model_path, method, batch,
                                                               accum):
    """One process at batch 8 against two at ``batch`` x ``accum`` each (global batch 8 both ways). GDRT
    with accumulation takes the path where each window's group sums are all-reduced before Q."""
    one = _train(tmp_path, synth_dir, tiny_model_path, method, 1, 8, 1)
    two = _train(tmp_path, synth_dir, tiny_model_path, method, 2, batch, accum)
    a, b = [h["loss"] for h in one["loss"]], [h["loss"] for h in two["loss"]]
    assert len(a) == len(b) == 4  # 32 rows / global batch 8
    assert max(abs(x - y) for x, y in zip(a, b)) < LOSS_TOL, (a, b)
    assert len(set(a)) > 1  # it trained: the loss moved
    ga, gb = _step_groups(one), _step_groups(two)
    assert sorted(ga) == sorted(gb)
    for step in ga:  # L(g), Q(g) and token counts of the whole global batch, on every process
        assert ga[step]["counts"] == gb[step]["counts"]
        for key in ("group_loss", "weights"):
            for x, y in zip(ga[step][key], gb[step][key]):
                assert (x is None and y is None) or abs(x - y) < LOSS_TOL


# --------------------------------------------------------------------------------- evaluation
def test_two_processes_evaluate_like_one(tmp_path, synth_dir, tiny_model_path):
    """21 rows in batches of 4: process 0 decodes rows 0-11, process 1 rows 12-20; process 0 merges them
    in row order and writes byte-identical predictions and metrics."""
    common = ["evaluate", "--model", tiny_model_path, "--data-dir", synth_dir, "--dataset", "synthetic",
              "--split", "test", "--limit", 21, "--num-beams", 3, "--batch-size", 4]
    one = gdrt(1, *common, "--output-dir", tmp_path / "one")
    two = gdrt(2, *common, "--output-dir", tmp_path / "two")
    for name in ("predictions.jsonl", "metrics.json", "item_groups.json", "config.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    rows = [json.loads(line)["row"] for line in (tmp_path / "two" / "predictions.jsonl").read_text().splitlines()]
    assert rows == list(range(21))
    assert json.loads((tmp_path / "two" / "timing.json").read_text())["processes"] == 2
    assert json.loads((tmp_path / "one" / "timing.json").read_text())["processes"] == 1
    # only process 0 prints the summary line
    assert len([ln for ln in two.stdout.splitlines() if ln.startswith("{")]) == 1
    assert json.loads(one.stdout.strip().splitlines()[-1])["n_rows"] == 21
