"""The Trainer subclass: what it changes is the loss (TRL style). SFT is the one-group case of the
same function, so both methods share one code path. Explained in chapter 5, "The loss"."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import torch
from transformers import Trainer

from ..io import write_json
from ..objectives.gdrt import gdrt_loss, group_stats, group_weights
from .examples import logits_to_keep, shift_token_losses

# A checkpoint is ``checkpoint-N/`` as the Trainer writes it (adapter, optimizer, scheduler, RNG states,
# trainer_state.json) plus GDRT_STATE (the state the Trainer does not know: group_log and the
# callbacks' state) and, written last after every file is fsynced, CHECKPOINT_DONE. The Trainer's own
# writing is not atomic; a folder without CHECKPOINT_DONE was cut off mid-write and is never loaded.
GDRT_STATE = "gdrt_state.json"
CHECKPOINT_DONE = "gdrt_complete.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_step(path) -> int | None:
    m = _CHECKPOINT.match(Path(path).name)
    return int(m.group(1)) if m else None


def latest_complete_checkpoint(folder, remove_incomplete: bool = True) -> Path | None:
    """The complete checkpoint with the highest step in ``folder`` (None if there is none). With
    ``remove_incomplete``, checkpoints cut off mid-write (no CHECKPOINT_DONE, or one that does not
    parse) and stray temporary folders are deleted."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    complete = []
    for p in folder.iterdir():
        step = checkpoint_step(p)
        ok = False
        if step is not None and p.is_dir() and (p / CHECKPOINT_DONE).is_file():
            try:
                with open(p / CHECKPOINT_DONE, encoding="utf-8") as f:
                    ok = json.load(f).get("step") == step
            except (OSError, ValueError, AttributeError):
                ok = False
        if ok:
            complete.append((step, p))
        elif remove_incomplete and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    return max(complete)[1] if complete else None


def _fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder`` (and the folders themselves) to disk."""
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(root)


def _fsync_dir(path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _test_hook(name: str, step: int) -> bool:
    """Test hooks (tests/test_resume.py): ``GDRT_TEST_KILL_IN_SAVE=N`` SIGKILLs the process in the
    middle of writing checkpoint N; ``GDRT_TEST_PAUSE_AFTER_SAVE=N`` sleeps after checkpoint N is
    complete, for an outside SIGKILL. Unset in normal use."""
    return os.environ.get(name, "") == str(step)


class GDRTTrainer(Trainer):
    """``method="sft"``: mean token cross-entropy over the global batch (one group).
    ``method="gdrt"``: Eq. 5, ``sum_g Q(g) L(g)`` with ``Q = softmax(L/tau)`` held constant.

    The batch of Eq. 5 is the optimizer step's whole global batch, whatever its split:

    - across processes, the group statistics are summed (all-reduce) before Q is computed;
    - under gradient accumulation, SFT divides by the token count of the whole accumulated batch
      (``num_items_in_batch``); GDRT needs every micro-batch's group losses before the first
      backward, so one no-grad forward over the step's micro-batches computes Q and the group token
      counts first (``_window_stats``; it costs one extra forward per example, only when
      ``gradient_accumulation_steps > 1``). Each micro-batch then contributes
      ``sum_g Q(g) * its_sum(g) / N(g)``, and the contributions add up to Eq. 5 on the whole batch.

    ``group_log`` keeps L(g), Q(g) and the token counts of every training micro-batch (or window).
    """

    def __init__(self, *args, method: str = "sft", n_groups: int = 1, tau: float = 1.0, checkpoint_state=None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        # checkpoint_state(checkpoint_dir) -> dict: more JSON state written into each checkpoint
        self.checkpoint_state = checkpoint_state
        if method not in ("sft", "gdrt"):
            raise ValueError(f"unknown method {method!r}; use 'sft' or 'gdrt'")
        self.method, self.tau = method, float(tau)
        self.n_groups = 1 if method == "sft" else int(n_groups)
        self.group_log: list[dict] = []
        self.loss_is_scaled_for_ga = True  # compute_loss below does the scaling itself
        self._window_stats = None

    def _all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        return self.accelerator.reduce(t, reduction="sum")

    def _reduce(self):
        return self._all_reduce if self.accelerator.num_processes > 1 else None

    def _token_losses(self, model, inputs):
        """Per-token losses and groups. A batch may carry ``allowed`` (MSL: the softmax runs over the
        trie's allowed ids) and ``example_weights`` (Reweight: each token's loss times its example's
        weight); the aggregation below is the same for all."""
        inputs = dict(inputs)
        labels, groups = inputs.pop("labels"), inputs.pop("token_groups")
        weights, allowed = inputs.pop("example_weights", None), inputs.pop("allowed", None)
        outputs = model(**inputs, logits_to_keep=logits_to_keep(labels))
        nll, grp = shift_token_losses(outputs.logits, labels, groups, allowed)
        if weights is not None:  # nll is [B * positions], row by row
            nll = nll * weights.to(nll.dtype).repeat_interleave(nll.numel() // weights.numel())
        if self.method == "sft":
            grp = torch.where(grp >= 0, torch.zeros_like(grp), grp)
        return nll, grp, outputs

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        batches, num_items = super().get_batch_samples(epoch_iterator, num_batches, device)
        self._window_stats = None
        if self.method == "gdrt" and len(batches) > 1:
            model = self.model
            was_training = model.training
            model.eval()  # dropout off: the statistics pass sees what the training forward sees
            G = self.n_groups
            stats = torch.zeros(2 * G, device=self.args.device)
            with torch.no_grad():
                for b in batches:
                    b = self._prepare_inputs(b)
                    nll, grp, _ = self._token_losses(model, b)
                    s, c = group_stats(nll, grp, G)
                    stats += torch.cat([s, c])
            if was_training:
                model.train()
            if self.accelerator.num_processes > 1:
                stats = self._all_reduce(stats)
            sums, counts = stats[:G], stats[G:]
            present = counts > 0
            group_loss = torch.where(present, sums / counts.clamp_min(1), torch.full_like(sums, float("nan")))
            q = group_weights(torch.nan_to_num(group_loss, nan=0.0), present, self.tau)
            self._window_stats = {"group_loss": group_loss, "weights": q, "counts": counts}
        return batches, num_items

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        nll, grp, outputs = self._token_losses(model, inputs)
        tau = self.tau if self.method == "gdrt" else 1.0
        if model.training and self._window_stats is not None:
            info = self._window_stats
            sums, _ = group_stats(nll, grp, self.n_groups)
            loss = self.accelerator.num_processes * (info["weights"] * sums / info["counts"].clamp_min(1)).sum()
        else:
            loss, info = gdrt_loss(nll, grp, self.n_groups, tau, self._reduce())
            if self.method == "sft" and num_items_in_batch is not None:
                loss = self.accelerator.num_processes * nll[grp >= 0].sum() / num_items_in_batch
            elif model.training:
                loss = loss / self.current_gradient_accumulation_steps
        if model.training:
            self.group_log.append(
                {
                    "step": self.state.global_step,
                    "group_loss": [None if v != v else round(float(v), 6) for v in info["group_loss"].tolist()],
                    "weights": [round(float(v), 6) for v in info["weights"].tolist()],
                    "counts": [int(v) for v in info["counts"].tolist()],
                }
            )
        return (loss, outputs) if return_outputs else loss

    # ------------------------------------------------------------------------------ checkpoints
    def _save_optimizer_and_scheduler(self, output_dir):
        if _test_hook("GDRT_TEST_KILL_IN_SAVE", self.state.global_step):  # the adapter is written, the rest not
            os.kill(os.getpid(), signal.SIGKILL)
        super()._save_optimizer_and_scheduler(output_dir)

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if not self.args.should_save:
            return
        step = self.state.global_step
        out = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{step}"
        extra = self.checkpoint_state(out) if self.checkpoint_state is not None else {}
        write_json(out / GDRT_STATE, {"step": step, "group_log": self.group_log, **extra}, indent=None)
        _fsync_tree(out)
        write_json(out / CHECKPOINT_DONE, {"step": step})  # last: the checkpoint is complete
        _fsync_dir(out.parent)
        for other in out.parent.iterdir():  # the newest complete checkpoint is all a resume needs
            if other != out and checkpoint_step(other) is not None:
                shutil.rmtree(other, ignore_errors=True)
        if _test_hook("GDRT_TEST_PAUSE_AFTER_SAVE", step):
            time.sleep(120)

    def load_checkpoint_state(self, checkpoint) -> dict:
        """Restore ``group_log`` from a checkpoint; returns its whole GDRT_STATE dict."""
        with open(Path(checkpoint) / GDRT_STATE, encoding="utf-8") as f:
            state = json.load(f)
        self.group_log = list(state["group_log"])
        return state
