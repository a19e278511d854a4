"""The Trainer subclass: the only thing it changes is the loss (TRL style). SFT is the one-group case
of the same function, so both methods share one code path. Explained in chapter 5, "The loss"."""

from __future__ import annotations

import torch
from transformers import Trainer

from ..objectives.gdrt import gdrt_loss
from .examples import logits_to_keep, shift_token_losses


class GDRTTrainer(Trainer):
    """``method="sft"``: mean token cross-entropy over the global batch (one group).
    ``method="gdrt"``: Eq. 5, ``sum_g Q(g) L(g)`` with ``Q = softmax(L/tau)`` held constant.

    The group statistics are summed over processes before Q is computed, so several processes give
    the loss of one process seeing the whole global batch. ``group_log`` keeps L(g), Q(g) and the
    token counts of every training micro-batch (written to the run directory).

    Gradient accumulation: SFT divides by the token count of the whole accumulated global batch
    (``num_items_in_batch``), so it equals one large batch exactly. For GDRT each micro-batch is one
    "batch" of Eq. 5 (its own L and Q) and the micro-batch losses are averaged: choose the per-device
    batch as the batch of Eq. 5 (chapter 5 says so).
    """

    def __init__(self, *args, method: str = "sft", n_groups: int = 1, tau: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        if method not in ("sft", "gdrt"):
            raise ValueError(f"unknown method {method!r}; use 'sft' or 'gdrt'")
        self.method, self.tau = method, float(tau)
        self.n_groups = 1 if method == "sft" else int(n_groups)
        self.group_log: list[dict] = []
        self.loss_is_scaled_for_ga = True  # compute_loss below does the scaling itself

    def _all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        return self.accelerator.reduce(t, reduction="sum")

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        labels, groups = inputs.pop("labels"), inputs.pop("token_groups")
        outputs = model(**inputs, logits_to_keep=logits_to_keep(labels))
        nll, grp = shift_token_losses(outputs.logits, labels, groups)
        if self.method == "sft":
            grp = torch.where(grp >= 0, torch.zeros_like(grp), grp)
        reduce = self._all_reduce if self.accelerator.num_processes > 1 else None
        loss, info = gdrt_loss(nll, grp, self.n_groups, self.tau if self.method == "gdrt" else 1.0, reduce)
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
