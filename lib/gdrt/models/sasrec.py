"""SASRec (Kang and McAuley, 2018): the ID-based sequential recommender the LLM methods are compared
with (chapter 6, "A recommender that reads no text").

A causal Transformer over item-id embeddings: position ``i`` of a user's sequence predicts item
``i + 1``, scored against every item by a dot product with the (shared) item embeddings and trained
with full softmax cross-entropy over the catalog (the original samples one negative per position
and uses BCE; a full softmax is affordable for a catalog of a few thousand items). Padding (id 0) sits on the left, is masked as a key and zeroed after every
layer as in the original, so left padding does not change a sequence's scores; it is never recommended. It reads no text, so the language bias of chapter 3 cannot
touch it: its item-group shares show what the interaction data alone lead to.

Recommendations are turned into the LLM methods' format: the ranked ids are walked in order and
each new *title* becomes one entry holding all ids of that title, so the metrics of
:func:`gdrt.evaluation.score_predictions` credit both kinds of model the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn


@dataclass
class SASRecConfig:
    dim: int = 64
    layers: int = 2
    heads: int = 1
    dropout: float = 0.2
    max_len: int = 10       # history items seen (the LLM prompts hold at most 10 too)
    epochs: int = 40        # at most; the epoch with the best validation NDCG@10 is kept
    patience: int = 5       # stop after this many epochs without a better validation NDCG@10
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0

    def key(self) -> str:
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:12]


class SASRec(nn.Module):
    def __init__(self, n_items: int, cfg: SASRecConfig):
        super().__init__()
        self.cfg = cfg
        self.item = nn.Embedding(n_items + 1, cfg.dim, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_len, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(cfg.dim, cfg.heads, cfg.dim, cfg.dropout, batch_first=True, norm_first=True)
            for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(cfg.dim)
        for emb in (self.item, self.pos):  # small embeddings: the first logits are near uniform
            nn.init.normal_(emb.weight, std=0.02)
        with torch.no_grad():
            self.item.weight[0].zero_()
        causal = torch.triu(torch.full((cfg.max_len, cfg.max_len), float("-inf")), diagonal=1)
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """``seq`` ``[B, L]`` item indices (0 = padding, on the left), ``L <= max_len`` → hidden states ``[B, L, d]``."""
        n = seq.size(1)
        keep = (seq > 0).unsqueeze(-1).float()
        # a position sees the real items up to itself; a padding position sees only itself (no empty
        # softmax row), and its output is zeroed
        eye = torch.eye(n, dtype=torch.bool, device=seq.device)
        mask = self.causal[:n, :n].isinf() | (seq == 0).unsqueeze(1)
        mask = torch.where(mask & ~eye, float("-inf"), 0.0).repeat_interleave(self.cfg.heads, dim=0)
        h = self.item(seq) + self.pos.weight[self.cfg.max_len - n :]
        h = self.drop(h) * keep
        for block in self.blocks:
            h = block(h, src_mask=mask) * keep
        return self.norm(h)

    def scores(self, seq: torch.Tensor) -> torch.Tensor:
        """Scores of every item (index 1..n) after the last position: ``[B, n_items]``."""
        return self(seq)[:, -1] @ self.item.weight[1:].T


def _left_pad(seqs, n):
    out = torch.zeros(len(seqs), n, dtype=torch.long)
    for i, s in enumerate(seqs):
        s = list(s)[-n:]
        if s:
            out[i, n - len(s) :] = torch.tensor(s)
    return out


class ItemIndex:
    """Catalog ids <-> contiguous indices 1..n (0 = padding)."""

    def __init__(self, catalog):
        self.ids = sorted(catalog.id2title)
        self.index = {i: k + 1 for k, i in enumerate(self.ids)}

    def __len__(self):
        return len(self.ids)

    def encode(self, items):
        return [self.index[i] for i in items]


def recommend_sasrec(model: SASRec, rows, catalog, index: ItemIndex, k: int = 10, batch_size: int = 512) -> list[dict]:
    """Top-``k`` distinct titles per row, in the LLM methods' prediction format (see module docstring)."""
    model.eval()
    preds, width = [], min(len(index), 4 * k + 50)  # enough ids to find k distinct titles
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            seq = _left_pad([index.encode(r.history) for r in chunk], model.cfg.max_len)
            top = model.scores(seq).topk(width, dim=-1)
            for j, (row, ids, vals) in enumerate(zip(chunk, top.indices.tolist(), top.values.tolist())):
                titles, scores = [], []
                for i, v in zip(ids, vals):
                    t = catalog.title(index.ids[i])
                    if t.strip() and t not in titles:
                        titles.append(t)
                        scores.append(float(v))
                    if len(titles) == k:
                        break
                preds.append({"row": start + j, "user_id": row.user_id, "target": row.target,
                              "history": list(row.history[-model.cfg.max_len :]),
                              "item_ids": [list(catalog.title2ids[t]) for t in titles], "titles": titles,
                              "scores": scores})
    return preds


def train_sasrec(train_rows, valid_rows, catalog, cfg: SASRecConfig, progress=None):
    """Train on every position of every training sequence (history + target); keep the epoch with the
    best validation NDCG@10. Returns ``(model, index, history)`` where ``history`` lists per epoch
    the mean training loss, validation NDCG@10 and seconds."""
    torch.manual_seed(cfg.seed)
    # Denormal floats (below about 1e-38) appear after some epochs and make CPU steps many times slower
    # (measured on Book's train.csv, 2 cores: 14-18 s per epoch for 14 epochs, then 140-200 s). Flushed
    # to zero they are far below anything that moves a score. Set for training only (torch's default
    # is off).
    flush = torch.set_flush_denormal(True)
    try:
        return _train_sasrec(train_rows, valid_rows, catalog, cfg, progress)
    finally:
        if flush:
            torch.set_flush_denormal(False)


def _train_sasrec(train_rows, valid_rows, catalog, cfg: SASRecConfig, progress=None):
    from ..evaluation import score_predictions

    index = ItemIndex(catalog)
    model = SASRec(len(index), cfg)
    seqs = _left_pad([index.encode([*r.history, r.target]) for r in train_rows], cfg.max_len + 1)
    inputs, labels = seqs[:, :-1], seqs[:, 1:]
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed)
    best, best_state, history, bad = -1.0, None, [], 0
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        model.train()
        total, count = 0.0, 0
        for b in torch.randperm(len(inputs), generator=g).split(cfg.batch_size):
            h = model(inputs[b])
            mask = labels[b] > 0
            logits = h[mask] @ model.item.weight[1:].T
            loss = nn.functional.cross_entropy(logits, labels[b][mask] - 1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + loss.item() * int(mask.sum()), count + int(mask.sum())
        ndcg = score_predictions(recommend_sasrec(model, valid_rows, catalog, index), None)["ndcg@10"]
        history.append({"epoch": epoch + 1, "loss": total / max(1, count), "valid_ndcg@10": ndcg,
                        "seconds": time.perf_counter() - t0})
        if progress:
            progress(history[-1])
        if ndcg > best:
            best, bad = ndcg, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    model.load_state_dict(best_state)
    return model, index, history


def run_sasrec(train_rows, valid_rows, test_rows, catalog, item_group, out_dir, cfg: SASRecConfig | None = None,
               overwrite=False) -> dict:
    """Train, recommend for ``test_rows`` and score; results in ``out_dir`` (``metrics.json``,
    ``predictions.jsonl``, ``train_log.json``, ``config.json``), reused when already there."""
    from ..evaluation import score_predictions
    from ..io import read_json, write_json, write_jsonl

    cfg = cfg or SASRecConfig()
    out = Path(out_dir)
    if (out / "metrics.json").exists() and not overwrite:
        return {"metrics": read_json(out / "metrics.json"), "log": read_json(out / "train_log.json"),
                "dir": out, "status": "reused"}
    t0 = time.perf_counter()
    model, index, history = train_sasrec(train_rows, valid_rows, catalog, cfg)
    train_seconds = time.perf_counter() - t0
    preds = recommend_sasrec(model, test_rows, catalog, index)
    metrics = score_predictions(preds, item_group)
    write_jsonl(out / "predictions.jsonl", preds)
    write_json(out / "config.json", {**dataclasses.asdict(cfg), "n_train": len(train_rows), "n_valid": len(valid_rows),
                                     "n_test": len(test_rows), "n_items": len(index),
                                     "parameters": int(sum(p.numel() for p in model.parameters()))})
    log = {"epochs": history, "train_seconds": train_seconds,
           "best_epoch": int(np.argmax([h["valid_ndcg@10"] for h in history])) + 1}
    write_json(out / "train_log.json", log)
    write_json(out / "metrics.json", metrics)
    return {"metrics": metrics, "log": log, "dir": out, "status": "trained"}
