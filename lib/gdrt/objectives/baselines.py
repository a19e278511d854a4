"""The baselines' token losses, as pure functions (chapter 6, "Baselines").

* **MSL** (Wang et al., 2025) — masked softmax loss: the softmax of each target token runs over the
  tokens the catalog's trie allows after the title prefix, not over the whole vocabulary:
  ``loss_t = -z_t[y_t] + log sum_{v in A(y_<t)} exp(z_t[v])``. A token the trie forces (one child)
  costs nothing; the model is not taught to push away titles that do not exist.
* **Reweight** (IFairLRS, Jiang et al., 2024, in-learning) — every training example is weighted by
  the item group of its target, ``w(g) = GH(g) / GT(g)``: the share of group g among the training
  histories' items over its share among the training targets. Groups that targets over-represent
  (compared with what users interacted with) are down-weighted.
"""

from __future__ import annotations

import numpy as np
import torch


def masked_token_nll(logits: torch.Tensor, targets: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """MSL's per-token loss: ``logsumexp(logits[allowed]) - logits[target]``.

    ``logits`` ``[..., V]``; ``targets`` ``[...]`` (any value where nothing is allowed: padding);
    ``allowed`` ``[..., K]`` token ids, ``-1`` = no token (padding of the list). A position with no
    allowed token (padding) gets loss 0 and no gradient. The target must be among its allowed ids
    (a trie built from the training titles guarantees it); it is checked.
    """
    logits = logits.float()
    has = (allowed >= 0).any(-1)
    idx = allowed.clamp_min(0)
    z = logits.gather(-1, idx).masked_fill(allowed < 0, float("-inf"))
    z = torch.where(has.unsqueeze(-1), z, torch.zeros_like(z))  # finite everywhere: no NaN gradient
    tgt = targets.clamp_min(0)
    if bool(((allowed == tgt.unsqueeze(-1)).any(-1) | ~has).logical_not().any()):
        raise ValueError("a target token is not among the tokens the trie allows at its position")
    z_target = logits.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    nll = torch.logsumexp(z, dim=-1) - z_target
    return torch.where(has, nll, torch.zeros_like(nll))


def allowed_after_prefixes(trie, ids) -> list[list[int]]:
    """For a title's response ids (one trie path), the allowed token ids at each position:
    ``A(y_<t)`` for t = 0..len-1 (the children of the node the prefix reaches)."""
    node, out = 0, []
    for tok in ids:
        out.append(list(trie.allowed(node)))
        node = trie.child(node, int(tok))
        if node < 0:
            raise ValueError(f"token ids {list(ids)} leave the trie: not a catalog title")
    return out


def row_groups(rows, item_group: dict[int, int], max_history: int = 10) -> tuple[list[int], list[int]]:
    """The item groups of every history item (the last ``max_history`` of each row, as the prompt
    shows them) and of every target of ``rows``: the inputs of :func:`ifair_group_weights`."""
    return ([item_group[i] for r in rows for i in r.history[-max_history:]], [item_group[r.target] for r in rows])


def group_shares(history_groups, target_groups, n_groups: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """``(GH, GT)``: the share of each item group (1..n) among the history items and among the targets."""
    gh = np.bincount(np.asarray(history_groups, dtype=np.int64) - 1, minlength=n_groups)[:n_groups]
    gt = np.bincount(np.asarray(target_groups, dtype=np.int64) - 1, minlength=n_groups)[:n_groups]
    if gh.sum() == 0 or gt.sum() == 0:
        raise ValueError("reweighting needs at least one history item and one target")
    return gh / gh.sum(), gt / gt.sum()


def ifair_group_weights(history_groups, target_groups, n_groups: int = 5) -> np.ndarray:
    """IFairLRS's sample weights per item group: ``w(g) = GH(g) / GT(g)`` (:func:`group_shares`).

    ``history_groups``: the groups (1..n) of every history item of every training row;
    ``target_groups``: the group of every training target. A group with no target gets weight 0
    (no example carries it). Returns ``w[n_groups]`` (index 0 = group 1)."""
    gh, gt = group_shares(history_groups, target_groups, n_groups)
    return np.where(gt > 0, gh / np.where(gt > 0, gt, 1.0), 0.0)
