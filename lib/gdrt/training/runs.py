"""Training runs: the run directory keyed by the hash of its TrainConfig (config.py) (a chapter that
needs a trained model reuses it), validation NDCG@5 to keep the best adapter, and the logs.
Explained in chapter 5, "Training"."""

from __future__ import annotations

import dataclasses
import logging
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from transformers import PrinterCallback, TrainerCallback, TrainingArguments

from .. import __version__
from ..data import get_preset
from ..io import read_json, write_json
from .examples import ExampleDataset, build_examples, collate
from .config import RUN_FORMAT, TrainConfig  # noqa: F401  (re-exported)
from .trainer import GDRTTrainer

log = logging.getLogger(__name__)

def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def subset(rows, n, seed):
    if n is None or n >= len(rows):
        return list(rows)
    idx = np.random.default_rng(seed).permutation(len(rows))[:n]
    return [rows[i] for i in sorted(idx)]


class ValidationCallback(TrainerCallback):
    """Decode a validation subset with CBS and keep the adapter with the best NDCG@5 in ``best/``."""

    def __init__(self, run_dir, rows, catalog, preset, tokenizer, cfg: TrainConfig):
        self.run_dir, self.rows, self.catalog, self.preset = Path(run_dir), rows, catalog, preset
        self.tok, self.cfg = tokenizer, cfg
        self.best, self.history = -1.0, []
        from ..decoding import build_trie

        self.trie = build_trie(tokenizer, catalog.titles)

    def _validate(self, model, state):
        from ..evaluation import recommend, score_predictions

        was_training = model.training
        model.eval()
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.bf16 and not torch.cuda.is_available()):
            preds = recommend(model, self.tok, self.rows, self.catalog, self.preset, self.cfg.num_beams,
                              trie=self.trie, max_history=self.cfg.max_history, progress=False)
        m = score_predictions(preds, None)
        entry = {"step": state.global_step, "epoch": state.epoch, "ndcg@5": m["ndcg@5"], "hit@5": m["hit@5"],
                 "seconds": time.perf_counter() - t0}
        self.history.append(entry)
        if m["ndcg@5"] > self.best:
            self.best = m["ndcg@5"]
            tmp = self.run_dir / ".best.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            model.save_pretrained(tmp)
            write_json(tmp / "selection.json", entry)
            shutil.rmtree(self.run_dir / "best", ignore_errors=True)
            tmp.rename(self.run_dir / "best")
        log.info("validation %s", entry)
        if was_training:
            model.train()

    def on_log(self, args, state, control, logs=None, **kw):
        # a small progress file for watching a long run (atomic; not part of the results)
        write_json(self.run_dir / "progress.json", {"step": state.global_step, "max_steps": state.max_steps,
                                                   "logs": logs, "time": time.time()})

    def on_step_end(self, args, state, control, model=None, **kw):
        if self.cfg.eval_steps and state.global_step % self.cfg.eval_steps == 0:
            self._validate(model, state)

    def on_epoch_end(self, args, state, control, model=None, **kw):
        if not self.cfg.eval_steps:
            self._validate(model, state)


def _load_data(cfg: TrainConfig):
    from ..data import load_catalog, load_split

    catalog = load_catalog(cfg.data_dir)
    train = subset(load_split(cfg.data_dir, cfg.train_split, catalog), cfg.n_train, cfg.seed)
    valid = subset(load_split(cfg.data_dir, cfg.valid_split, catalog), cfg.n_valid, cfg.seed)
    return catalog, train, valid


def train(cfg: TrainConfig, runs_root="runs", cache_dir=None, progress=True) -> Path:
    """Train (or reuse) the run for ``cfg``; returns its directory, which holds ``config.json``,
    ``best/`` (the selected adapter), ``train_log.json`` (loss, L(g), Q(g), validation curve) and
    ``final.json`` (written last: its presence marks a finished run)."""
    from ..models.loading import load_model
    from ..objectives.relevance import Grouping, reference_title_relevance, token_values

    run_dir = Path(runs_root) / cfg.run_name()
    if (run_dir / "final.json").exists():
        log.info("reusing finished run %s", run_dir)
        return run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", {**dataclasses.asdict(cfg), "gdrt_version": __version__})
    seed_everything(cfg.seed)
    preset = get_preset(cfg.dataset)
    catalog, train_rows, valid_rows = _load_data(cfg)
    t0 = time.perf_counter()
    token_group_of, grouping_info, relevance_seconds = None, None, 0.0
    if cfg.method == "gdrt":
        # Eq. 3 with the untuned base model (= the model being tuned at step 0, LoRA B = 0), cached.
        rel, path, hit = reference_title_relevance(cfg.model, catalog, preset, cache_dir)
        values = token_values(rel, catalog, train_rows)
        grouping = Grouping.fit(values, cfg.n_groups, cfg.grouping, cfg.seed)
        groups = {t: grouping.assign(v) for t, v in rel.items()}
        token_group_of = groups.__getitem__
        del rel
        relevance_seconds = time.perf_counter() - t0
        grouping_info = {**grouping.to_json(), "cache": str(path), "cache_hit": hit,
                         "tokens_per_group": np.bincount(grouping.assign(values), minlength=cfg.n_groups).tolist()}
        write_json(run_dir / "grouping.json", grouping_info)
    lm = load_model(cfg.model, adapter=cfg.adapter, dtype=torch.float32, lora_r=cfg.lora_r,
                    lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout)
    tok = lm.tokenizer
    examples = build_examples(train_rows, catalog, preset, tok, cfg.max_history, token_group_of)
    args = TrainingArguments(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.lr,
        warmup_steps=cfg.warmup_ratio,  # a float < 1 is a ratio of the total steps
        weight_decay=cfg.weight_decay,
        lr_scheduler_type="cosine",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cfg.bf16,
        use_cpu=not torch.cuda.is_available(),
        remove_unused_columns=False,
        average_tokens_across_devices=True,
        disable_tqdm=not progress,
        dataloader_num_workers=0,
    )
    callback = ValidationCallback(run_dir, valid_rows, catalog, preset, tok, cfg)
    callbacks, share = [callback], None
    if cfg.group_share_every:
        from ..diagnostics.callbacks import GroupShareCallback
        from ..evaluation import reference_item_groups

        item_group = {i: v["group"] for i, v in reference_item_groups(cfg.model, catalog, preset, cache_dir).items()}
        share = GroupShareCallback(valid_rows[: cfg.group_share_rows], catalog, preset, tok, item_group,
                                   cfg.group_share_every, num_beams=cfg.group_share_beams,
                                   max_history=cfg.max_history, bf16=cfg.bf16)
        callbacks.append(share)
    trainer = GDRTTrainer(
        model=lm.model, args=args, train_dataset=ExampleDataset(examples),
        data_collator=lambda b: collate(b, tok.pad_token_id), callbacks=callbacks,
        method=cfg.method, n_groups=cfg.n_groups, tau=cfg.tau,
    )
    trainer.remove_callback(PrinterCallback)  # the book shows curves, not a dict per step
    t1 = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - t1
    if not (run_dir / "best").exists():  # no validation happened (e.g. zero steps): keep the last adapter
        lm.model.save_pretrained(run_dir / "best")
    losses = [{"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h]
    write_json(run_dir / "train_log.json", {"loss": losses, "groups": trainer.group_log,
                                            "validation": callback.history, "grouping": grouping_info,
                                            "group_share": share.history if share else None})
    steps = trainer.state.global_step
    validation_seconds = sum(h["seconds"] for h in callback.history) + sum(
        h.get("seconds", 0.0) for h in (share.history if share else []))
    step_seconds = train_seconds - validation_seconds
    tokens = sum(len(e.input_ids) for e in examples) * cfg.epochs
    write_json(run_dir / "final.json", {
        "steps": steps, "n_train": len(train_rows), "n_valid": len(valid_rows), "best_ndcg@5": callback.best,
        "train_seconds": train_seconds, "validation_seconds": validation_seconds,
        "relevance_seconds": relevance_seconds, "seconds_per_step": step_seconds / max(1, steps),
        "tokens_per_second": tokens / max(step_seconds, 1e-9), "adapter": lm.adapter, "adapter_note": lm.note,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    })
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return run_dir


def load_run(run_dir):
    """The finished run's config, final stats and logs."""
    run_dir = Path(run_dir)
    return {"config": read_json(run_dir / "config.json"), "final": read_json(run_dir / "final.json"),
            "log": read_json(run_dir / "train_log.json")}
