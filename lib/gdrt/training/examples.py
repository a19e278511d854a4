"""Training examples: the prompt + response tokens, labels on the response only, and each target
token's GDRT group. Explained in chapter 5, "Examples"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.prompts import build_prompt, encode_prompt, encode_response

IGNORE = -100


def history_titles(row, catalog, max_history: int = 10) -> list[str]:
    return [catalog.title(i) for i in row.history[-max_history:]]


def row_prompt(row, catalog, preset, max_history: int = 10) -> str:
    """The exact model input for a row (training and inference share it)."""
    return build_prompt(preset, history_titles(row, catalog, max_history))


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    token_groups: list[int]
    title: str
    weight: float | None = None              # Reweight: the example's weight (None: 1, not sent)
    allowed: list[list[int]] | None = None   # MSL: the trie's allowed ids at each response token


def build_examples(rows, catalog, preset, tokenizer, max_history=10, token_group_of=None, weight_of=None,
                   trie=None) -> list[Example]:
    """One example per row. ``token_group_of(title) -> array`` gives each response token's group
    (GDRT); without it every response token is in group 0 (SFT = one group). ``weight_of(row)``
    gives the example's weight (Reweight); ``trie`` adds each response token's allowed ids (MSL)."""
    from ..objectives.baselines import allowed_after_prefixes

    out = []
    for row in rows:
        title = catalog.title(row.target)
        p = encode_prompt(tokenizer, row_prompt(row, catalog, preset, max_history))
        r = encode_response(tokenizer, title)
        g = token_group_of(title) if token_group_of else np.zeros(len(r), dtype=np.int64)
        if len(g) != len(r):
            raise ValueError(f"group array for {title!r} has {len(g)} entries, response has {len(r)} tokens")
        out.append(Example(p + r, [IGNORE] * len(p) + r, [-1] * len(p) + [int(x) for x in g], title,
                           None if weight_of is None else float(weight_of(row)),
                           None if trie is None else allowed_after_prefixes(trie, r)))
    return out


class ExampleDataset(torch.utils.data.Dataset):
    def __init__(self, examples):
        self.examples = examples

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, i):
        e = self.examples[i]
        item = {"input_ids": e.input_ids, "labels": e.labels, "token_groups": e.token_groups}
        if e.weight is not None:
            item["weight"] = e.weight
        if e.allowed is not None:
            item["allowed"] = e.allowed
        return item


def collate(batch, pad_id: int):
    """Left-pad a list of examples into tensors (labels -100 and groups -1 on padding), with the
    position ids left padding needs. Left padding puts every response at the end of its row, so the
    loss only needs the logits of the last ``max response length + 1`` positions.

    Optional keys: ``weight`` (Reweight) becomes ``example_weights`` ``[B]``; ``allowed`` (MSL) becomes ``[B, R, K]`` over the last ``R`` = longest
    response positions, aligned with the labels there, ``-1`` where nothing is listed."""
    n = max(len(b["input_ids"]) for b in batch)

    def pad(key, value):
        return torch.tensor([[value] * (n - len(b[key])) + b[key] for b in batch], dtype=torch.long)

    mask = torch.tensor([[0] * (n - len(b["input_ids"])) + [1] * len(b["input_ids"]) for b in batch])
    out = {"input_ids": pad("input_ids", pad_id), "attention_mask": mask,
           "position_ids": (mask.cumsum(-1) - 1).clamp_min(0),
           "labels": pad("labels", IGNORE), "token_groups": pad("token_groups", -1)}
    if "weight" in batch[0]:
        out["example_weights"] = torch.tensor([b["weight"] for b in batch], dtype=torch.float32)
    if "allowed" in batch[0]:
        r = max(len(b["allowed"]) for b in batch)
        k = max(len(a) for b in batch for a in b["allowed"])
        allowed = torch.full((len(batch), r, k), -1, dtype=torch.long)
        for i, b in enumerate(batch):
            for j, a in enumerate(b["allowed"]):
                allowed[i, r - len(b["allowed"]) + j, : len(a)] = torch.tensor(a, dtype=torch.long)
        out["allowed"] = allowed
    return out


def logits_to_keep(labels: torch.Tensor) -> int:
    """How many final positions' logits the loss needs with left padding: responses + 1."""
    return int((labels != IGNORE).sum(1).max().item()) + 1


def shift_token_losses(logits: torch.Tensor, labels: torch.Tensor, token_groups: torch.Tensor,
                       allowed: torch.Tensor | None = None):
    """Per-token NLL of next-token prediction, flattened, with each token's group (-1 = not a target).
    ``logits`` may cover only the last ``k`` positions (``logits_to_keep``); labels are aligned to them.
    With ``allowed`` (MSL, from :func:`collate`) the softmax of each target token runs over its allowed
    ids only (:func:`gdrt.objectives.baselines.masked_token_nll`)."""
    k = logits.size(1)
    logits = logits[:, :-1].float()
    tgt = labels[:, labels.size(1) - k + 1 :]
    grp = token_groups[:, token_groups.size(1) - k + 1 :].clone()
    grp[tgt == IGNORE] = -1
    if allowed is None:
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), tgt.reshape(-1).clamp_min(0), reduction="none"
        )
    else:
        from ..objectives.baselines import masked_token_nll

        a = torch.full((*tgt.shape, allowed.size(-1)), -1, dtype=torch.long, device=allowed.device)
        r = min(allowed.size(1), tgt.size(1))
        a[:, tgt.size(1) - r :] = allowed[:, allowed.size(1) - r :]
        a[tgt == IGNORE] = -1
        nll = masked_token_nll(logits, tgt, a).reshape(-1)
    return nll, grp.reshape(-1)
