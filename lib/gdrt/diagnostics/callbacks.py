"""Where the recommendations land, by item group (paper Figures 3, 4, 8, 9): shares of the top-1 and
top-K recommendations per Eq. 2 item group, read from saved predictions, and a training callback
that follows the top-1 share in group 1 while a model trains.
Explained in chapter 3, "Where the recommendations land" and "Over training".

Item groups are Eq. 2's (docs/design.md §5.2): items sorted by the base model's ``r(y)`` and cut
into equal-size groups, group 1 the most relevant to the task prompt alone. A recommendation entry
counts with the group of its first id (as in :mod:`gdrt.metrics.fairness`).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

from ..metrics import group_distribution, ndcg_at_k, first_hit_rank, top1_group_share


# ------------------------------------------------------------------------------ saved predictions
def load_predictions(eval_dir) -> list[dict]:
    """The ``predictions.jsonl`` an evaluation wrote (one dict per test row)."""
    with open(Path(eval_dir) / "predictions.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_item_groups(eval_dir) -> dict[int, int]:
    """``{item_id: group}`` (1-based) from an evaluation's ``item_groups.json``."""
    with open(Path(eval_dir) / "item_groups.json", encoding="utf-8") as f:
        return {int(k): int(v["group"]) for k, v in json.load(f).items()}


def _n_groups(item_group) -> int:
    return max(item_group.values())


def topk_group_share(preds, item_group: dict[int, int], k: int, n_groups: int | None = None) -> np.ndarray:
    """Share of each item group among the first ``k`` recommendations of all rows, pooled:
    ``GP_k(g) = #{entries in the top k of any row whose first id is in g} / #{such entries}``
    (``k = 1`` is the top-1 share of paper Fig. 3; empty entries are skipped)."""
    n_groups = n_groups or _n_groups(item_group)
    lists = [[ids[0] for ids in p["item_ids"][:k] if ids] for p in preds]
    return group_distribution(lists, item_group, n_groups)


def group_share_table(preds_by_model: dict, item_group: dict[int, int], ks=(1, 5, 10), reference: str | None = None):
    """One row per (model, top-K), plus the test targets' and the histories' shares (of the rows of
    ``reference``, default: the model with most rows); columns ``group 1..G`` and ``rows``."""
    import pandas as pd

    G = _n_groups(item_group)
    cols = [f"group {g}" for g in range(1, G + 1)]
    recs = []
    for name, preds in preds_by_model.items():
        for k in ks:
            recs.append({"source": name, "list": f"top-{k}", **dict(zip(cols, topk_group_share(preds, item_group, k, G))),
                         "rows": len(preds)})
    ref = preds_by_model[reference] if reference else max(preds_by_model.values(), key=len)
    recs.append({"source": "test targets", "list": "target",
                 **dict(zip(cols, group_distribution([[p["target"]] for p in ref], item_group, G))), "rows": len(ref)})
    recs.append({"source": "histories", "list": "history",
                 **dict(zip(cols, group_distribution([p["history"] for p in ref], item_group, G))), "rows": len(ref)})
    return pd.DataFrame(recs)


def share_numbers(table, ks=(1, 5, 10)) -> dict[str, float]:
    """Flat numbers of a :func:`group_share_table` for the text: ``MODEL_topK_g1`` (group-1 share of
    the top-K list), ``target_g1``, ``history_g1`` and ``MODEL_rows``."""
    out = {}
    for _, r in table.iterrows():
        if r["source"] == "test targets":
            out["target_g1"] = float(r["group 1"])
        elif r["source"] == "histories":
            out["history_g1"] = float(r["group 1"])
        else:
            out[f"{r['source']}_{r['list'].replace('-', '')}_g1"] = float(r["group 1"])
            out[f"{r['source']}_rows"] = int(r["rows"])
    return out


def decode_rows(model, tokenizer, rows, catalog, preset, cache_dir, item_group: dict[int, int], name: str = "",
                num_beams: int = 10, max_history: int = 10, bf16: bool = False) -> list[dict]:
    """Constrained beam search on ``rows`` with ``model`` (e.g. the untuned base model), evaluated and
    saved by :func:`gdrt.evaluation.evaluate` under ``cache_dir/decode-KEY/``; ``KEY`` hashes ``name``
    (say which model), the rows and the search settings, so a later call with the same inputs reuses
    it. ``item_group``: ``{id: group}``. Returns the predictions (as in ``predictions.jsonl``)."""
    import hashlib

    from ..evaluation import evaluate

    blob = json.dumps([str(name), getattr(preset, "name", str(preset)), num_beams, max_history, bool(bf16),
                       [[str(r.user_id), list(r.history), r.target] for r in rows]])
    out = Path(cache_dir) / f"decode-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"
    if not (out / "metrics.json").exists():
        groups = {int(i): {"group": int(g)} for i, g in item_group.items()}
        with torch.autocast(next(model.parameters()).device.type, dtype=torch.bfloat16, enabled=bool(bf16)):
            evaluate(model, tokenizer, rows, catalog, preset, out, groups, config={"model": str(name)},
                     num_beams=num_beams, max_history=max_history, progress=False)
    return load_predictions(out)


# ------------------------------------------------------------------------------- over training
class GroupShareCallback(TrainerCallback):
    """Every ``every_n_steps`` optimizer steps (and before the first), decode a fixed subset of rows
    with constrained beam search and record the share of top-1 recommendations in item group 1 and
    NDCG@5 (paper Figures 4 and 9).

    ``history``: ``[{"step", "epoch", "top1_group1_share", "top1_group_share" (all groups), "ndcg@5",
    "seconds"}]``. The model is put in eval mode for the decoding and restored after; with ``snapshot``
    (a :class:`gdrt.models.loading.InferenceSnapshot`) a dense merged copy is decoded instead. Add it to a
    :class:`gdrt.training.trainer.GDRTTrainer` with ``callbacks=[cb]`` (or ``trainer.add_callback``).
    """

    def __init__(self, rows, catalog, preset, tokenizer, item_group: dict[int, int], every_n_steps: int,
                 num_beams: int = 10, max_history: int = 10, bf16: bool = False, at_start: bool = True,
                 snapshot=None):
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        from ..decoding import build_trie

        self.rows, self.catalog, self.preset, self.tok = list(rows), catalog, preset, tokenizer
        self.item_group = {int(k): int(v) for k, v in item_group.items()}
        self.n_groups = _n_groups(self.item_group)
        self.every, self.num_beams, self.max_history = int(every_n_steps), int(num_beams), int(max_history)
        self.bf16, self.at_start, self.snapshot = bool(bf16), at_start, snapshot
        self.trie = build_trie(tokenizer, catalog.titles)
        self.history: list[dict] = []

    def measure(self, model, step: int, epoch: float | None = None) -> dict:
        from ..evaluation import recommend

        was_training = model.training
        model.eval()
        t0 = time.perf_counter()
        decoder = self.snapshot(model) if self.snapshot is not None else model
        use_bf16 = self.bf16 and self.snapshot is None and next(model.parameters()).device.type == "cpu"
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            preds = recommend(decoder, self.tok, self.rows, self.catalog, self.preset, self.num_beams,
                              trie=self.trie, max_history=self.max_history, progress=False)
        del decoder
        if was_training:
            model.train()
        entries = [[tuple(ids) for ids in p["item_ids"] if ids] for p in preds]
        share = top1_group_share(entries, self.item_group, self.n_groups)
        ranks = [first_hit_rank(e, p["target"]) for e, p in zip(entries, preds)]
        entry = {"step": int(step), "epoch": None if epoch is None else float(epoch),
                 "top1_group1_share": float(share[0]), "top1_group_share": share.tolist(),
                 "ndcg@5": float(ndcg_at_k(ranks, 5)), "seconds": time.perf_counter() - t0}
        self.history.append(entry)
        return entry

    def on_train_begin(self, args, state, control, model=None, **kw):
        if self.at_start and model is not None:
            self.measure(model, state.global_step, state.epoch)

    def on_step_end(self, args, state, control, model=None, **kw):
        if model is not None and state.global_step % self.every == 0:
            self.measure(model, state.global_step, state.epoch)

    def on_train_end(self, args, state, control, model=None, **kw):
        if model is not None and (not self.history or self.history[-1]["step"] != state.global_step):
            self.measure(model, state.global_step, state.epoch)


def trace_table(traces: dict):
    """Per method: number of points, first and last step, and the top-1 group-1 share at the start,
    at the end and at its highest (a DataFrame, one column per method)."""
    import pandas as pd

    return pd.DataFrame({name: {"points": len(t), "first step": t[0]["step"], "last step": t[-1]["step"],
                                "group-1 share at start": t[0]["top1_group1_share"],
                                "at the end": t[-1]["top1_group1_share"],
                                "highest": max(h["top1_group1_share"] for h in t)} for name, t in traces.items()})


def every_n_steps(n_train: int, batch_size: int, epochs: float, n_points: int = 8, grad_accum: int = 1) -> int:
    """The step interval that gives about ``n_points`` measurements over a run of this size."""
    steps = math.ceil(math.ceil(n_train / batch_size) / grad_accum * epochs)
    return max(1, math.ceil(steps / max(1, n_points)))


def _extra_callback(cb):
    """Context manager: while open, every GDRTTrainer that :func:`gdrt.training.runs.train` builds
    also gets ``cb`` (an interim bridge until TrainConfig carries the option itself)."""
    from contextlib import contextmanager

    from ..training import runs

    @contextmanager
    def patched():
        orig = runs.GDRTTrainer

        class Traced(orig):
            def __init__(self, *a, callbacks=None, **kw):
                super().__init__(*a, callbacks=[*(callbacks or []), cb], **kw)

        runs.GDRTTrainer = Traced
        try:
            yield
        finally:
            runs.GDRTTrainer = orig

    return patched()


def group_share_trace(tc, runs_root, rows, item_group: dict[int, int], n_points: int = 8, num_beams: int = 5) -> list[dict]:
    """The top-1 group-1 share and NDCG@5 over training for the run ``tc`` (a TrainConfig).

    If the run's ``train_log.json`` already holds a ``"group_share"`` trace (training wired with
    :class:`GroupShareCallback`), that is returned. Otherwise the same run is trained again under
    ``runs_root/traced/`` with the callback added (reused on later calls) — so the curves come from
    a run identical in every setting to the cached one, measured as it trains.
    """
    from ..io import read_json, write_json
    from ..models.loading import load_tokenizer
    from ..training.runs import train

    for root in (Path(runs_root), Path(runs_root) / "traced"):
        log = root / tc.run_name() / "train_log.json"
        if log.exists() and read_json(log).get("group_share"):
            return read_json(log)["group_share"]
    import shutil

    from ..data import get_preset
    from ..training.runs import _load_data

    catalog, train_rows, _ = _load_data(tc)
    every = every_n_steps(len(train_rows), tc.batch_size, tc.epochs, n_points, tc.grad_accum)
    cb = GroupShareCallback(rows, catalog, get_preset(tc.dataset), load_tokenizer(tc.model), item_group, every,
                            num_beams=num_beams, max_history=tc.max_history, bf16=tc.bf16)
    root = Path(runs_root) / "traced"
    shutil.rmtree(root / tc.run_name(), ignore_errors=True)  # a run there without its trace is incomplete
    with _extra_callback(cb):
        run_dir = train(tc, runs_root=root, progress=False)
    log = read_json(run_dir / "train_log.json")
    log["group_share"] = cb.history
    log["group_share_setup"] = {"rows": len(rows), "every_n_steps": every, "num_beams": num_beams}
    write_json(run_dir / "train_log.json", log)
    return cb.history
