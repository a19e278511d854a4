"""Per-group loss (paper Figure 6): a model's mean token loss on held-out rows, per relevance group.
Explained in chapter 3, "Origins: which tokens the model learns".

Each target token ``y_t`` of a held-out row gets its Eq. 3 relevance ``r(y_t)`` (from the base
model, :func:`gdrt.objectives.relevance.reference_title_relevance`) and its group from the same
:class:`~gdrt.objectives.relevance.Grouping` GDRT trains with (group 1 = most relevant). The group
loss is ``L(g) = mean of -log P(y_t | x, y_<t)`` over all held-out target tokens in group ``g``
(tokens pooled over rows, not averaged per row): the held-out counterpart of Eq. 5's ``L(g)``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..objectives.gdrt import group_stats
from ..training.examples import build_examples, collate, logits_to_keep, shift_token_losses


@torch.inference_mode()
def group_losses(model, tokenizer, rows, catalog, preset, title_relevance, grouping, max_history: int = 10,
                 batch_size: int = 8) -> dict:
    """``{"group_loss": L[G] (NaN for a group with no token), "counts": n[G], "mean": overall mean}``.

    ``title_relevance``: ``{title: per-token r}``; ``grouping``: a fitted ``Grouping``. Batches are
    left-padded exactly as in training (:func:`gdrt.training.examples.collate`).
    """
    G = grouping.n_groups
    ex = build_examples(rows, catalog, preset, tokenizer, max_history,
                        token_group_of=lambda t: grouping.assign(title_relevance[t]))
    sums = torch.zeros(G, dtype=torch.float64)
    counts = torch.zeros(G, dtype=torch.float64)
    dev = next(model.parameters()).device
    for start in range(0, len(ex), batch_size):
        b = collate([{"input_ids": e.input_ids, "labels": e.labels, "token_groups": e.token_groups}
                     for e in ex[start : start + batch_size]], tokenizer.pad_token_id)
        out = model(input_ids=b["input_ids"].to(dev), attention_mask=b["attention_mask"].to(dev),
                    position_ids=b["position_ids"].to(dev), logits_to_keep=logits_to_keep(b["labels"]),
                    use_cache=False)
        nll, grp = shift_token_losses(out.logits, b["labels"].to(dev), b["token_groups"].to(dev))
        s, c = group_stats(nll, grp, G)
        sums += s.double().cpu()
        counts += c.double().cpu()
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = np.where(counts.numpy() > 0, sums.numpy() / counts.numpy(), np.nan)
    total = counts.sum().item()
    return {"group_loss": loss, "counts": counts.numpy().astype(np.int64),
            "mean": float(sums.sum().item() / total) if total else float("nan")}


def group_loss_table(results_by_model: dict):
    """Long table: model, group (1-based), tokens, mean loss (a DataFrame)."""
    import pandas as pd

    recs = []
    for name, r in results_by_model.items():
        for g, (loss, n) in enumerate(zip(r["group_loss"], r["counts"]), start=1):
            recs.append({"model": name, "group": g, "tokens": int(n), "loss": float(loss)})
    return pd.DataFrame(recs)


def weight_sensitivity(group_losses_by_G: dict, taus):
    """What GDRT's weights would be at given group losses, over a grid of G and tau (chapter 7).

    ``group_losses_by_G``: ``{G: L[G]}`` (NaN for a group without tokens, left out of the softmax as
    in Eq. 5). Returns a long table: ``G, tau, group`` (1-based), ``L(g)``, ``Q(g) = softmax(L/tau)``,
    and ``Q/uniform`` (the weight against the 1/G of plain group-balanced cross-entropy)."""
    import pandas as pd

    from ..objectives.gdrt import group_weights

    recs = []
    for G, losses in group_losses_by_G.items():
        loss = torch.as_tensor(np.asarray(losses, dtype=np.float64))
        present = ~torch.isnan(loss)
        for tau in taus:
            q = group_weights(torch.nan_to_num(loss, nan=0.0), present, float(tau))
            n = int(present.sum())
            for g in range(len(loss)):
                recs.append({"G": int(G), "tau": float(tau), "group": g + 1, "L(g)": float(loss[g]),
                             "Q(g)": float(q[g]), "Q/uniform": float(q[g]) * n})
    return pd.DataFrame(recs)
