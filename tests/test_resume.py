"""Resume: ``python -m gdrt train`` killed with SIGKILL (in the middle of writing a checkpoint, and
after a complete one) and run again finishes with exactly the results of an uninterrupted run: the
loss log (loss, grad norm, learning rate per step), L(g)/Q(g), the validation history, the best-step
selection and the adapter's bytes. fp32 on CPU, one thread per process, tiny model, 8 steps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import one_thread

STEPS = 8
# at lr=1e-2, NDCG@5 on these 16 validation rows peaks at step 4 and falls after, so the selected
# adapter is not the last one and a lost "best" score would show (a later step would replace it)
CONFIG = dict(dataset="synthetic", adapter="lora", method="gdrt", n_train=32, n_valid=16, valid_split="valid",
              epochs=2, batch_size=8, n_groups=3, tau=0.5, lr=1e-2, num_beams=5, eval_steps=2,
              group_share_every=2, group_share_rows=4, group_share_beams=2, save_steps=2)


def _env(**hooks):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("GDRT_TEST_KILL_IN_SAVE", None)
    env.pop("GDRT_TEST_PAUSE_AFTER_SAVE", None)
    env.update({k: str(v) for k, v in hooks.items()})
    return env


def _cmd(cfg, root, *extra):
    return [sys.executable, "-m", "gdrt", "train", "--config", str(cfg), "--runs-root", str(root), *map(str, extra)]


def _run(cfg, root, *extra, **hooks):
    return subprocess.run(_cmd(cfg, root, *extra), capture_output=True, text=True, env=_env(**hooks), timeout=300)


def _no_seconds(entries):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in entries]


def results(run: Path) -> dict:
    """Everything a finished run's results consist of, without timings and cache bookkeeping."""
    from safetensors.torch import load_file

    log = json.loads((run / "train_log.json").read_text())
    final = json.loads((run / "final.json").read_text())
    grouping = {k: v for k, v in log["grouping"].items() if k not in ("cache", "cache_hit")}
    selection = json.loads((run / "best" / "selection.json").read_text())
    return {
        "loss": log["loss"], "groups": log["groups"], "grouping": grouping,
        "validation": _no_seconds(log["validation"]), "group_share": _no_seconds(log["group_share"]),
        "selection": _no_seconds([selection])[0], "steps": final["steps"], "best": final["best_ndcg@5"],
        "adapter_bytes": (run / "best" / "adapter_model.safetensors").read_bytes(),
        "adapter": {k: v.numpy().tobytes() for k, v in load_file(run / "best" / "adapter_model.safetensors").items()},
    }




def train_here(cfg, root, *extra):
    """``gdrt train`` in this process (its imports are paid once): (exit code, stdout, stderr)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from gdrt.cli import main

    out, err = io.StringIO(), io.StringIO()
    with one_thread(), redirect_stdout(out), redirect_stderr(err):
        rc = main(["train", "--config", str(cfg), "--runs-root", str(root), *map(str, extra)])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synth_dir, tiny_model_path):
    """An uninterrupted run (root A, in this process) and, beside it, a run (root B, subprocesses)
    killed while writing its checkpoint at step 4, run again and killed (from outside) right after its
    complete checkpoint at step 6, and run a third time to the end."""
    root = tmp_path_factory.mktemp("resume")
    cfg = root / "tiny.json"
    cfg.write_text(json.dumps({"data_dir": str(synth_dir), "model": tiny_model_path, **CONFIG}))
    t0 = time.perf_counter()
    first = subprocess.Popen(_cmd(cfg, root / "B"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env(GDRT_TEST_KILL_IN_SAVE=4))
    rc, out, err = train_here(cfg, root / "A")
    assert rc == 0, err[-2000:]
    _, err1 = first.communicate(timeout=300)
    attempts = {"first": subprocess.CompletedProcess(first.args, first.returncode, "", err1)}
    run_a = Path(out.strip().splitlines()[-1])
    run_b = root / "B" / run_a.name
    assert first.returncode == -signal.SIGKILL, err1[-2000:]
    attempts["first_state"] = {
        "checkpoints": sorted(p.name for p in (run_b / "checkpoints").iterdir()),
        "complete": sorted(p.parent.name for p in (run_b / "checkpoints").glob("*/gdrt_complete.json")),
        "ckpt4": sorted(p.name for p in (run_b / "checkpoints" / "checkpoint-4").iterdir()),
        "best_step": json.loads((run_b / "best" / "selection.json").read_text())["step"],
        "final": (run_b / "final.json").exists(),
    }

    second = subprocess.Popen(_cmd(cfg, root / "B"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(GDRT_TEST_PAUSE_AFTER_SAVE=6))
    marker = run_b / "checkpoints" / "checkpoint-6" / "gdrt_complete.json"
    deadline = time.monotonic() + 240
    while not marker.exists() and second.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    second.send_signal(signal.SIGKILL)
    _, err2 = second.communicate(timeout=60)
    attempts["second"] = subprocess.CompletedProcess(second.args, second.returncode, "", err2)
    attempts["second_state"] = {"checkpoints": sorted(p.name for p in (run_b / "checkpoints").iterdir()),
                                "final": (run_b / "final.json").exists()}
    attempts["third"] = _run(cfg, root / "B")
    attempts["seconds"] = time.perf_counter() - t0
    return {"cfg": cfg, "root": root, "A": run_a, "B": run_b, **attempts}


def test_a_kill_while_writing_a_checkpoint_leaves_it_incomplete(runs):
    s = runs["first_state"]
    assert s["checkpoints"] == ["checkpoint-2", "checkpoint-4"] and s["complete"] == ["checkpoint-2"]
    assert "adapter_model.safetensors" in s["ckpt4"] and "optimizer.pt" not in s["ckpt4"]  # cut off mid-write
    assert "gdrt_complete.json" not in s["ckpt4"]
    assert s["best_step"] == 4 and not s["final"]  # best/ had moved past the last complete checkpoint


def test_the_next_attempts_resume_from_the_last_complete_checkpoint(runs):
    assert runs["second"].returncode == -signal.SIGKILL
    assert "from its checkpoint at step 2" in runs["second"].stderr  # checkpoint-4 skipped (and deleted)
    # killed right after checkpoint-6's marker: checkpoint-4 may not have been deleted yet
    assert runs["second_state"]["checkpoints"][-1] == "checkpoint-6" and not runs["second_state"]["final"]
    third = runs["third"]
    assert third.returncode == 0, third.stderr[-2000:]
    assert "gdrt train: resumed from checkpoint step 6 of 8" in third.stderr
    assert Path(third.stdout.strip().splitlines()[-1]) == runs["B"]
    final = json.loads((runs["B"] / "final.json").read_text())
    assert final["resumed_from"] == [2, 6] and final["steps"] == STEPS
    assert not (runs["B"] / "checkpoints").exists()


def test_the_resumed_run_equals_the_uninterrupted_one_bit_for_bit(runs):
    a, b = results(runs["A"]), results(runs["B"])
    assert json.loads((runs["A"] / "final.json").read_text())["resumed_from"] == []
    assert [h["step"] for h in a["loss"]] == list(range(1, STEPS + 1))
    assert [h["step"] for h in a["validation"]] == [2, 4, 6, 8]
    assert a["selection"]["step"] == 4 < STEPS  # the selected adapter is not the last one
    for key in a:
        assert a[key] == b[key], key  # exact: floats compared with ==, the adapter byte for byte


def test_a_finished_run_is_reused_and_overwrite_retrains(runs, capsys):
    from gdrt.cli import main

    stamp = (runs["B"] / "final.json").stat().st_mtime_ns
    assert main(["train", "--config", str(runs["cfg"]), "--runs-root", str(runs["root"] / "B")]) == 0
    out, err = capsys.readouterr()
    assert f"gdrt train: reused the finished run at {runs['B']}" in err and "--overwrite" in err
    assert out.strip() == str(runs["B"]) and (runs["B"] / "final.json").stat().st_mtime_ns == stamp

    rc, _, err = train_here(runs["cfg"], runs["root"] / "B", "--overwrite")
    assert rc == 0, err[-2000:]
    assert "gdrt train: trained from scratch" in err
    assert (runs["B"] / "final.json").stat().st_mtime_ns != stamp
    assert json.loads((runs["B"] / "final.json").read_text())["resumed_from"] == []
    assert not list((runs["root"] / "B").glob(".*replaced*"))  # the old run, moved aside, is deleted
    assert results(runs["B"]) == results(runs["A"])


def test_a_run_directory_with_another_config_is_refused(runs, capsys):
    from gdrt.cli import main

    path = runs["A"] / "config.json"
    stored = json.loads(path.read_text())
    path.write_text(json.dumps({**stored, "lr": 0.5, "save_steps": 7}))  # save_steps alone would not count
    try:
        assert main(["train", "--config", str(runs["cfg"]), "--runs-root", str(runs["root"] / "A")]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "holds a different training config (lr differ)" in err[0] and str(path) in err[0]
        path.write_text(json.dumps({**stored, "save_steps": 7}))
        assert main(["train", "--config", str(runs["cfg"]), "--runs-root", str(runs["root"] / "A")]) == 0
        assert "reused the finished run" in capsys.readouterr().err
    finally:
        path.write_text(json.dumps(stored))


def test_incomplete_checkpoints_are_never_picked(tmp_path):
    from gdrt.training.trainer import latest_complete_checkpoint

    ck = tmp_path / "checkpoints"
    for step, marker in ((2, {"step": 2}), (4, {"step": 4}), (6, None), (8, "{trunc")):
        d = ck / f"checkpoint-{step}"
        d.mkdir(parents=True)
        (d / "adapter_model.safetensors").write_bytes(b"x")
        if marker is not None:
            (d / "gdrt_complete.json").write_text(marker if isinstance(marker, str) else json.dumps(marker))
    (ck / "checkpoint-10").mkdir()  # empty: the Trainer had just made it
    assert latest_complete_checkpoint(ck, remove_incomplete=False) == ck / "checkpoint-4"
    assert latest_complete_checkpoint(ck) == ck / "checkpoint-4"
    assert sorted(p.name for p in ck.iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert latest_complete_checkpoint(tmp_path / "none") is None


def test_save_steps_is_not_part_of_the_run_identity(synth_dir):
    from gdrt.training.config import TrainConfig

    a = TrainConfig(data_dir=str(synth_dir), save_steps=None)
    assert a.key() == TrainConfig(data_dir=str(synth_dir), save_steps=3).key() == TrainConfig(data_dir=str(synth_dir)).key()
    assert a.key() != TrainConfig(data_dir=str(synth_dir), lr=1e-3).key()
