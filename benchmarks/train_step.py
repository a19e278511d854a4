"""Training cost: GDRT against SFT, the relevance pre-pass against an SFT epoch, QLoRA against LoRA.

    python benchmarks/train_step.py --quick      # 3 rounds of 3 steps per trainer (first step of each dropped)
    python benchmarks/train_step.py              # full: 5 rounds of 5 steps

The book's `cpu` training setting: SmolLM2-135M, batch 8 rows of Office ``train_10000`` (10 history
items), LoRA r=8 on q/k/v/o, bf16 autocast (``--no-bf16`` for fp32), through the project's own
``GDRTTrainer`` and ``Trainer.train()``, so a step is what a training run pays (forward, loss,
backward, AdamW, scheduler). Three trainers take turns, round after round, on the same batches:
SFT on the 4-bit QLoRA model, GDRT (G=5, tau=0.5) on the same model, SFT on a LoRA model with a
full-precision base. A step's time runs from ``on_step_begin`` to ``on_step_end``; the first step of
every round is dropped (optimizer set-up). Peak memory: resident memory above the level before each
round (CUDA: ``max_memory_allocated``); model memory: ``get_memory_footprint()``.

The relevance pre-pass (paper Eq. 3 over every catalog title, what GDRT needs before training) runs
once, uncached, between the first and second round; it is compared with one SFT epoch over all of
``train_10000`` (steps x the measured median seconds per step, the epoch itself would take hours
here) and with one epoch of the `cpu` profile's subset. Writes ``benchmarks/results/train_step.json``.

Targets: GDRT <= 1.03x SFT per optimizer step at the same batch; the relevance pre-pass
<= 0.3x one SFT epoch; QLoRA against LoRA: time and peak memory reported.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time

import benchlib as bl
import torch


def make_trainer(model, tok, examples, method, steps, args, callback):
    from transformers import PrinterCallback, TrainingArguments

    from gdrt.training.examples import ExampleDataset, collate
    from gdrt.training.trainer import GDRTTrainer

    targs = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="gdrt-bench-"), per_device_train_batch_size=args.batch_size,
        max_steps=steps, learning_rate=5e-4, warmup_steps=0, lr_scheduler_type="constant", logging_steps=1,
        save_strategy="no", report_to=[], seed=args.seed, data_seed=args.seed, bf16=args.bf16,
        use_cpu=not torch.cuda.is_available(), remove_unused_columns=False, disable_tqdm=True,
        dataloader_num_workers=0, torch_compile=getattr(args, "compile", False),
    )
    tr = GDRTTrainer(model=model, args=targs, train_dataset=ExampleDataset(examples),
                     data_collator=lambda b: collate(b, tok.pad_token_id), callbacks=[callback],
                     method=method, n_groups=5, tau=0.5)
    tr.remove_callback(PrinterCallback)
    return tr


def step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times, self._t0 = [], None

        def on_step_begin(self, args, state, control, **kw):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self._t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self._t0)

    return StepTimer()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bl.add_common_args(ap)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=None, help="steps per round (default: 3 quick, 5 full)")
    ap.add_argument("--bf16", dest="bf16", action="store_true", default=True)
    ap.add_argument("--no-bf16", dest="bf16", action="store_false")
    ap.add_argument("--name", default="train_step")
    args = ap.parse_args(argv)
    started = bl.setup(args)
    steps = args.steps or (3 if args.quick else 5)
    from gdrt.book import PROFILES
    from gdrt.data import get_preset, load_catalog, load_split
    from gdrt.models.loading import load_model
    from gdrt.objectives.relevance import Grouping, reference_title_relevance, token_values
    from gdrt.training.examples import build_examples
    from cbs_vs_hf import DATA

    preset = get_preset("office")
    catalog = load_catalog(DATA / "Office")
    train_rows = load_split(DATA / "Office", "train_10000", catalog)
    need = args.batch_size * steps * args.repeats
    rows = train_rows[:need]
    # token groups from the cached relevance (the uncached pass is timed below)
    rel, _, _ = reference_title_relevance(args.model, catalog, preset)
    grouping = Grouping.fit(token_values(rel, catalog, rows), 5, "kmeans", args.seed)
    groups = {t: grouping.assign(v) for t, v in rel.items()}
    models = {}
    for adapter in ("qlora", "lora"):
        lm = load_model(args.model, adapter=adapter, dtype=torch.float32)
        models[adapter] = lm
    tok = models["qlora"].tokenizer
    examples = build_examples(rows, catalog, preset, tok, 10, groups.__getitem__)
    tokens_per_step = sum(len(e.input_ids) for e in examples) / len(examples) * args.batch_size
    footprint = {a: models[a].model.get_memory_footprint() / 2**20 for a in models}
    notes = {a: models[a].note for a in models}
    trainers = {"SFT (QLoRA)": ("qlora", "sft"), "GDRT (QLoRA)": ("qlora", "gdrt"), "SFT (LoRA)": ("lora", "sft")}
    per_step = {k: [] for k in trainers}   # median step time of each round
    peaks = {k: [] for k in trainers}
    relevance_seconds, relevance_peak = None, None
    for r in range(args.repeats):
        names = list(trainers) if r % 2 == 0 else list(trainers)[::-1]
        for name in names:
            adapter, method = trainers[name]
            timer = step_timer()
            tr = make_trainer(models[adapter].model, tok, examples[r * steps * args.batch_size:], method, steps, args,
                              timer)
            with bl.PeakMemory() as pm:
                tr.train()
            peaks[name].append(pm.cuda_peak_mb if pm.cuda_peak_mb is not None else pm.peak_mb)
            t = timer.times[1:] if len(timer.times) > 1 else timer.times
            per_step[name].append(bl.median(t))
            print(f"  round {r + 1}/{args.repeats} {name}: {per_step[name][-1]:.3f} s/step "
                  f"({', '.join(f'{x:.2f}' for x in timer.times)})", file=sys.stderr, flush=True)
            del tr
        if r == 0:  # the uncached relevance pass, once, between rounds
            with tempfile.TemporaryDirectory(prefix="gdrt-bench-rel-") as d, bl.PeakMemory() as pm:
                t0 = time.perf_counter()
                reference_title_relevance(args.model, catalog, preset, cache_dir=d)
                relevance_seconds = time.perf_counter() - t0
            relevance_peak = pm.cuda_peak_mb if pm.cuda_peak_mb is not None else pm.peak_mb
            print(f"  relevance pass over {catalog.n_titles} titles: {relevance_seconds:.1f} s", file=sys.stderr,
                  flush=True)

    sft, gdrt, lora = (per_step[k] for k in trainers)
    sft_s, gdrt_s, lora_s = bl.median(sft), bl.median(gdrt), bl.median(lora)
    epoch_steps = math.ceil(len(train_rows) / args.batch_size)
    cpu_steps = math.ceil(PROFILES["cpu"]["n_train"] / args.batch_size)
    m = {"model": args.model, "batch_size": args.batch_size, "bf16": args.bf16, "tokens_per_step": tokens_per_step,
         "steps_per_round": steps, "rounds": args.repeats, "s_per_step": {k: bl.median(v) for k, v in per_step.items()},
         "rounds_s_per_step": per_step, "peak_mb": {k: max(v) for k, v in peaks.items()},
         "model_footprint_mb": {"qlora": footprint["qlora"], "lora": footprint["lora"]}, "adapter_notes": notes,
         "gdrt_over_sft": bl.paired_ratio(gdrt, sft), "qlora_over_lora": bl.paired_ratio(sft, lora),
         "relevance_seconds": relevance_seconds, "relevance_titles": catalog.n_titles, "relevance_peak_mb": relevance_peak,
         "train_rows": len(train_rows), "epoch_steps": epoch_steps, "epoch_seconds_est": epoch_steps * sft_s,
         "cpu_profile_epoch_steps": cpu_steps, "cpu_profile_epoch_seconds_est": cpu_steps * sft_s}
    m["relevance_over_epoch"] = relevance_seconds / m["epoch_seconds_est"]
    m["relevance_over_cpu_epoch"] = relevance_seconds / m["cpu_profile_epoch_seconds_est"]
    targets = [
        bl.target("gdrt_over_sft", "GDRT vs SFT, seconds per optimizer step (QLoRA, same batches)",
                  "time ratio (GDRT / SFT)", m["gdrt_over_sft"], "<=", 1.03, "x",
                  note=f"SFT {sft_s:.2f} s/step, GDRT {gdrt_s:.2f} s/step, batch {args.batch_size}, "
                       f"{tokens_per_step:.0f} tokens/step"),
        bl.target("relevance_over_epoch", "relevance pre-pass vs one SFT epoch over train_10000",
                  "time ratio (pre-pass / epoch)", m["relevance_over_epoch"], "<=", 0.3, "x",
                  note=f"pre-pass {relevance_seconds:.0f} s over {catalog.n_titles} titles; epoch = {epoch_steps} steps x "
                       f"{sft_s:.2f} s = {m['epoch_seconds_est']:.0f} s (estimated from the measured step)"),
        bl.target("relevance_over_cpu_epoch", "relevance pre-pass vs one SFT epoch of the cpu profile (256 rows)",
                  "time ratio (pre-pass / epoch)", m["relevance_over_cpu_epoch"], unit="x",
                  note=f"epoch = {cpu_steps} steps x {sft_s:.2f} s = {m['cpu_profile_epoch_seconds_est']:.0f} s"),
        bl.target("qlora_over_lora_time", "QLoRA (4-bit) vs LoRA, seconds per step", "time ratio (QLoRA / LoRA)",
                  m["qlora_over_lora"], unit="x", note=f"QLoRA {sft_s:.2f} s/step, LoRA {lora_s:.2f} s/step"),
        bl.target("qlora_over_lora_memory", "QLoRA (4-bit) vs LoRA, peak memory during training",
                  "peak ratio (QLoRA / LoRA)", m["peak_mb"]["SFT (QLoRA)"] / max(1e-9, m["peak_mb"]["SFT (LoRA)"]),
                  unit="x", note=f"peak above the start of a round: QLoRA {m['peak_mb']['SFT (QLoRA)']:.0f} MB, LoRA "
                                 f"{m['peak_mb']['SFT (LoRA)']:.0f} MB; model weights {footprint['qlora']:.0f} vs "
                                 f"{footprint['lora']:.0f} MB"),
    ]
    bl.print_table([{"trainer": k, "s/step": m["s_per_step"][k], "peak MB": m["peak_mb"][k]} for k in trainers])
    bl.finish(args.name, "Training: GDRT against SFT, relevance pre-pass, QLoRA against LoRA",
              "quick" if args.quick else "full", targets, [m],
              settings={"model": args.model, "batch_size": args.batch_size, "bf16": args.bf16, "steps": steps,
                        "repeats": args.repeats, "threads": torch.get_num_threads(), "device": args.device,
                        "lora": "r=8, alpha=16, q/k/v/o", "gdrt": "G=5 k-means, tau=0.5",
                        "thread_note": args.thread_note},
              started=started, out_dir=args.out_dir)


if __name__ == "__main__":
    main()
