"""Training runs: the run directory keyed by the hash of its TrainConfig (config.py) (a chapter that
needs a trained model reuses it), validation NDCG@5 to keep the best adapter, and the logs.
Explained in chapter 5, "Training"."""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import PrinterCallback, TrainerCallback, TrainingArguments

from .. import __version__
from ..data import get_preset
from ..errors import GDRTInputError
from ..io import read_json, write_json, write_jsonl
from .examples import ExampleDataset, build_examples, collate
from .config import NOT_IN_KEY, RUN_FORMAT, TrainConfig  # noqa: F401  (re-exported)
from .trainer import GDRTTrainer, checkpoint_step, latest_complete_checkpoint

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
    """Decode a validation subset with CBS and keep the adapter with the best NDCG@5 in ``best/``. Each
    validation's ranked lists go to ``validation/step-N.jsonl`` (row, target, item_ids), so the item
    groups' shares over training (paper Fig. 4, 9) can be read for any item grouping without decoding
    again."""

    def __init__(self, run_dir, rows, catalog, preset, tokenizer, cfg: TrainConfig, trie, snapshot=None):
        self.run_dir, self.rows, self.catalog, self.preset = Path(run_dir), rows, catalog, preset
        self.tok, self.cfg, self.trie, self.snapshot = tokenizer, cfg, trie, snapshot
        self.best, self.history = -1.0, []

    def _validate(self, model, state):
        from ..evaluation import decode_mask, recommend, score_predictions

        was_training = model.training
        model.eval()
        t0 = time.perf_counter()
        # decode a dense merged snapshot where one is given (CPU), else the model itself (bf16 autocast)
        decoder = self.snapshot(model) if self.snapshot is not None else model
        autocast = self.cfg.bf16 and self.snapshot is None and not torch.cuda.is_available()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            preds = recommend(decoder, self.tok, self.rows, self.catalog, self.preset, self.cfg.num_beams,
                              trie=self.trie, max_history=self.cfg.max_history, progress=False,
                              mask=decode_mask({"token_loss": self.cfg.token_loss}))
        del decoder
        m = score_predictions(preds, None)
        entry = {"step": state.global_step, "epoch": state.epoch, "ndcg@5": m["ndcg@5"], "hit@5": m["hit@5"],
                 "seconds": time.perf_counter() - t0}
        self.history.append(entry)
        if state.is_world_process_zero:  # the lists themselves, for the group shares over training
            write_jsonl(self.run_dir / "validation" / f"step-{state.global_step:06d}.jsonl",
                        [{"row": p["row"], "target": p["target"], "item_ids": p["item_ids"]} for p in preds])
        if m["ndcg@5"] > self.best:
            self.best = m["ndcg@5"]  # every process keeps the same bookkeeping; process 0 writes best/
            if state.is_world_process_zero:
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
        if state.is_world_process_zero:
            write_json(self.run_dir / "progress.json", {"step": state.global_step, "max_steps": state.max_steps,
                                                       "logs": logs, "time": time.time()})

    def on_step_end(self, args, state, control, model=None, **kw):
        if self.cfg.eval_steps:
            due = state.global_step % self.cfg.eval_steps == 0
        else:  # the last step of an epoch (state.epoch is then exactly a whole number) or of the run;
            # done here, not in on_epoch_end, so that it comes before that step's checkpoint
            due = float(state.epoch).is_integer() or state.global_step >= state.max_steps
        if due:
            self._validate(model, state)

    def state_dict(self) -> dict:
        return {"best": self.best, "history": self.history}

    def load_state_dict(self, d: dict) -> None:
        self.best, self.history = float(d["best"]), list(d["history"])


def _load_data(cfg: TrainConfig):
    """The catalog and the seeded train / valid subsets; a dataset that ships no valid split (Book,
    Clothing) is read from its derived folder (:func:`gdrt.data.complete_dataset`)."""
    from ..data import complete_dataset, load_catalog, load_split

    data_dir = complete_dataset(cfg.data_dir)
    catalog = load_catalog(data_dir)
    train = subset(load_split(data_dir, cfg.train_split, catalog), cfg.n_train, cfg.seed)
    valid = subset(load_split(data_dir, cfg.valid_split, catalog), cfg.n_valid, cfg.seed)
    return catalog, train, valid


@dataclass
class TrainResult:
    """What :func:`train_run` did: ``status`` is ``"reused"`` (a finished run was there), ``"resumed"``
    (from the checkpoint at step ``resumed_from``) or ``"trained"`` (from scratch); ``note`` says so in
    one line, for a chapter or the command line to show."""

    run_dir: Path
    status: str
    resumed_from: int | None = None
    note: str = ""


def _identity(cfg: TrainConfig) -> dict:
    d = dataclasses.asdict(cfg)
    d["data_dir"] = str(Path(cfg.data_dir).resolve())
    for k in NOT_IN_KEY:
        d.pop(k, None)
    return d


def check_run_config(run_dir, cfg: TrainConfig) -> None:
    """Refuse (one-line :class:`GDRTInputError`) a run directory whose ``config.json`` is not ``cfg``
    (a hash collision, or an edit by hand); fields outside the key (``save_steps``) may differ."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return
    want = _identity(cfg)
    try:
        stored = {k: v for k, v in read_json(path).items() if k != "gdrt_version"}
        have = _identity(TrainConfig.from_dict(stored, source=str(path)))
        if not Path(stored["data_dir"]).is_absolute():  # relative to a working directory unknown here;
            have["data_dir"] = want["data_dir"]          # the directory's key holds it resolved
        differ = sorted(k for k in want if have.get(k) != want[k])
    except (OSError, ValueError, TypeError, AttributeError) as e:
        differ = [f"unreadable: {str(e).splitlines()[0] if str(e) else type(e).__name__}"]
    if differ:
        raise GDRTInputError(path, "this run directory holds a different training config (" + ", ".join(differ)
                             + " differ); move it away, or retrain from scratch with --overwrite")


def _link_tree(src: Path, dst: Path) -> None:
    """Copy a folder, as hard links where the filesystem allows (its files are never changed in place)."""
    def link(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dst, copy_function=link)


def _restore_best(run_dir: Path, checkpoint: Path) -> None:
    """Put back ``best/`` as it was when ``checkpoint`` was written (a later one may be on disk)."""
    src, tmp, best = checkpoint / "gdrt" / "best", run_dir / ".best.tmp", run_dir / "best"
    shutil.rmtree(tmp, ignore_errors=True)
    if src.is_dir():
        shutil.copytree(src, tmp)
        shutil.rmtree(best, ignore_errors=True)
        tmp.rename(best)
    else:
        shutil.rmtree(best, ignore_errors=True)


def _clear_partial(run_dir: Path) -> None:
    """Before training in a run directory: drop what an unfinished attempt left that the new attempt
    would not overwrite (evaluations of a non-final adapter, a half-written best/)."""
    shutil.rmtree(run_dir / ".best.tmp", ignore_errors=True)
    for p in run_dir.glob("eval-*"):
        shutil.rmtree(p, ignore_errors=True)


def train(cfg: TrainConfig, runs_root="runs", cache_dir=None, progress=True, overwrite=False) -> Path:
    """Train (or reuse, or resume) the run for ``cfg``; returns its directory (see :func:`train_run`)."""
    return train_run(cfg, runs_root, cache_dir, progress, overwrite).run_dir


def train_run(cfg: TrainConfig, runs_root="runs", cache_dir=None, progress=True, overwrite=False) -> TrainResult:
    """Train the run for ``cfg`` in ``RUNS_ROOT/METHOD-DATASET-KEY/`` (KEY: the config's hash), which
    holds ``config.json``, ``best/`` (the selected adapter), ``train_log.json`` (loss, L(g), Q(g),
    validation curve) and ``final.json`` (written last: its presence marks a finished run).

    - a finished run there is reused (``overwrite=True``: moved aside at once, and deleted once the
      new run has finished);
    - an unfinished one resumes from its newest complete checkpoint (``checkpoints/checkpoint-N``,
      written every ``cfg.save_steps`` optimizer steps; one cut off mid-write is deleted, never
      loaded), with the Trainer's state (adapter, optimizer, scheduler, RNG, data position, log) and
      ours (group_log, the validation history and best score, ``best/``, the group-share trace);
    - a run directory whose config.json is another config is refused (one-line error).
    """
    from ..decoding import build_trie
    from ..models.loading import InferenceSnapshot, load_model
    from ..objectives.relevance import Grouping, reference_title_relevance, token_values

    run_dir = Path(runs_root) / cfg.run_name()
    aside = None
    if overwrite and run_dir.exists():
        aside = run_dir.with_name(f".{run_dir.name}.replaced-{int(time.time())}-{os.getpid()}")
        os.replace(run_dir, aside)  # atomic: from here on the run directory is a new one
        log.info("moved the old run %s aside to %s (deleted once the new run finishes)", run_dir, aside)
    check_run_config(run_dir, cfg)
    if (run_dir / "final.json").exists():
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # left if killed right after final.json
        note = f"reused the finished run at {run_dir}"
        log.info(note)
        return TrainResult(run_dir, "reused", None, note)
    catalog, train_rows, valid_rows = _load_data(cfg)  # bad data fails here, before a run folder exists
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "config.json").exists():
        write_json(run_dir / "config.json", {**dataclasses.asdict(cfg), "gdrt_version": __version__})
    _clear_partial(run_dir)
    checkpoint = latest_complete_checkpoint(run_dir / "checkpoints")  # deletes any cut off mid-write
    resumed_from = checkpoint_step(checkpoint) if checkpoint else None
    if checkpoint is None:
        shutil.rmtree(run_dir / "best", ignore_errors=True)  # from an attempt killed before its first checkpoint
        log.info("training %s from scratch", run_dir)
    else:
        log.info("resuming %s from its checkpoint at step %d", run_dir, resumed_from)
    seed_everything(cfg.seed)
    preset = get_preset(cfg.dataset)
    t0 = time.perf_counter()
    token_group_of, grouping_info, relevance_seconds = None, None, 0.0
    if cfg.method == "gdrt":
        # Eq. 3 with the untuned base model (= the model being tuned at step 0, LoRA B = 0), cached.
        # The grouping is a function of the cached relevance and the seed, so a resumed run refits the same.
        rel, path, hit = reference_title_relevance(cfg.model, catalog, preset, cache_dir)
        if checkpoint is not None and (run_dir / "grouping.json").exists():
            hit = read_json(run_dir / "grouping.json").get("cache_hit", hit)  # as the run's first attempt found it
        values = token_values(rel, catalog, train_rows)
        grouping = Grouping.fit(values, cfg.n_groups, cfg.grouping, cfg.seed)
        groups = {t: grouping.assign(v) for t, v in rel.items()}
        token_group_of = groups.__getitem__
        del rel
        relevance_seconds = time.perf_counter() - t0
        grouping_info = {**grouping.to_json(), "cache": str(path), "cache_hit": hit,
                         "tokens_per_group": np.bincount(grouping.assign(values), minlength=cfg.n_groups).tolist()}
        write_json(run_dir / "grouping.json", grouping_info)
    weight_of = None
    if cfg.method == "reweight":  # IFairLRS: example weight GH(g)/GT(g) of its target's Eq. 2 item group
        from ..evaluation import reference_item_groups
        from ..objectives.baselines import ifair_group_weights, row_groups

        item_group = {i: v["group"] for i, v in reference_item_groups(cfg.model, catalog, preset, cache_dir).items()}
        w = ifair_group_weights(*row_groups(train_rows, item_group, cfg.max_history))
        weight_of = lambda row: w[item_group[row.target] - 1]  # noqa: E731
        write_json(run_dir / "reweight.json", {"group_weights": w.tolist(), "groups": "Eq. 2, base model"})
    # on a GPU, bf16 runs keep the base weights and the compute in bf16 (half the memory of fp32);
    # on a CPU the weights stay fp32 and bf16 is autocast where the CPU computes it natively
    dtype = torch.bfloat16 if cfg.bf16 and torch.cuda.is_available() else torch.float32
    lm = load_model(cfg.model, adapter=cfg.adapter, dtype=dtype, lora_r=cfg.lora_r,
                    lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout)
    tok = lm.tokenizer
    trie = build_trie(tok, catalog.titles)  # validation decodes along it; MSL's softmax runs over its children
    examples = build_examples(train_rows, catalog, preset, tok, cfg.max_history, token_group_of, weight_of,
                              trie if cfg.token_loss == "msl" else None)
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
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or 500,
        save_total_limit=None,  # GDRTTrainer keeps the newest complete checkpoint itself
        report_to=[],
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cfg.bf16,
        use_cpu=not torch.cuda.is_available(),
        remove_unused_columns=False,
        average_tokens_across_devices=True,
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        gradient_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
    )
    # On a CPU, decoding during training runs on a dense merged snapshot (about twice as fast as the
    # 4-bit model with its LoRA branch under autocast); on a GPU the model itself is decoded.
    snapshot = None if torch.cuda.is_available() else InferenceSnapshot(cfg.model, lm.adapter, cfg.bf16)
    callback = ValidationCallback(run_dir, valid_rows, catalog, preset, tok, cfg, trie, snapshot)
    callbacks, share = [callback], None
    if cfg.group_share_every:
        from ..diagnostics.callbacks import GroupShareCallback
        from ..evaluation import reference_item_groups

        item_group = {i: v["group"] for i, v in reference_item_groups(cfg.model, catalog, preset, cache_dir).items()}
        share = GroupShareCallback(valid_rows[: cfg.group_share_rows], catalog, preset, tok, item_group,
                                   cfg.group_share_every, num_beams=cfg.group_share_beams,
                                   max_history=cfg.max_history, bf16=cfg.bf16, snapshot=snapshot)
        callbacks.append(share)
    # the state outside the Trainer's, saved in every checkpoint; train_seconds adds up the attempts
    # (the work lost after a run's last checkpoint is not counted)
    attempts = {"train_seconds": 0.0, "resumed_from": [], "t1": None}

    def checkpoint_state(ckpt: Path) -> dict:
        if (run_dir / "best").is_dir():
            _link_tree(run_dir / "best", ckpt / "gdrt" / "best")  # in a subfolder: the Trainer would load it
        return {"validation": callback.state_dict(), "group_share": share.history if share else None,
                "train_seconds": attempts["train_seconds"] + time.perf_counter() - attempts["t1"],
                "resumed_from": attempts["resumed_from"]}

    trainer = GDRTTrainer(
        model=lm.model, args=args, train_dataset=ExampleDataset(examples),
        data_collator=lambda b: collate(b, tok.pad_token_id), callbacks=callbacks,
        method="sft" if cfg.method == "reweight" else cfg.method, n_groups=cfg.n_groups, tau=cfg.tau, checkpoint_state=checkpoint_state,
    )
    trainer.remove_callback(PrinterCallback)  # the book shows curves, not a dict per step
    if checkpoint is not None:
        st = trainer.load_checkpoint_state(checkpoint)
        callback.load_state_dict(st["validation"])
        if share is not None:
            share.history = list(st.get("group_share") or [])
            share.at_start = False  # its step-0 measurement is in the restored history
        attempts["train_seconds"] = float(st.get("train_seconds", 0.0))
        attempts["resumed_from"] = [*st.get("resumed_from", []), resumed_from]
        _restore_best(run_dir, checkpoint)
    t1 = attempts["t1"] = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
    train_seconds = attempts["train_seconds"] + time.perf_counter() - t1
    steps = trainer.state.global_step
    if not trainer.is_world_process_zero():  # under several processes, process 0 writes the results
        trainer.accelerator.wait_for_everyone()
        return TrainResult(run_dir, "trained" if resumed_from is None else "resumed", resumed_from,
                           f"process {trainer.args.process_index} of a multi-process run: {run_dir}")
    if not (run_dir / "best").exists():  # no validation happened (e.g. zero steps): keep the last adapter
        lm.model.save_pretrained(run_dir / "best")
    losses = [{k: h[k] for k in ("step", "loss", "grad_norm", "learning_rate") if k in h}
              for h in trainer.state.log_history if "loss" in h]
    write_json(run_dir / "train_log.json", {"loss": losses, "groups": trainer.group_log,
                                            "validation": callback.history, "grouping": grouping_info,
                                            "group_share": share.history if share else None})
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
        "resumed_from": attempts["resumed_from"],
    })
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    for old in run_dir.parent.glob(f".{run_dir.name}.replaced-*"):  # what --overwrite moved aside
        shutil.rmtree(old, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()  # the other processes return once final.json exists
    if resumed_from is None:
        note = f"trained from scratch: {run_dir}"
        return TrainResult(run_dir, "trained", None, note)
    note = f"resumed from checkpoint step {resumed_from} of {steps} and finished: {run_dir}"
    return TrainResult(run_dir, "resumed", resumed_from, note)


def load_run(run_dir):
    """The finished run's config, final stats and logs."""
    run_dir = Path(run_dir)
    return {"config": read_json(run_dir / "config.json"), "final": read_json(run_dir / "final.json"),
            "log": read_json(run_dir / "train_log.json")}
