"""How fast can this CPU train? Training configurations side by side, and the step against the
machine's measured matrix-multiply roofline.

    python benchmarks/train_speed.py --quick          # 2 rounds of 3 steps per configuration
    python benchmarks/train_speed.py --bf16           # also LoRA on bf16 weights (slow where bf16 is emulated)
    python benchmarks/train_speed.py --compile        # also LoRA under torch.compile (minutes of compiling)
    python benchmarks/train_speed.py --profile        # also where one LoRA step's time goes (torch.profiler)

The reference experiment's training: SmolLM2-135M, SFT, batch 8 rows of Book ``train_10000`` (10
history items, about 200 tokens a row), LoRA r=8 on q/k/v/o, through the project's ``GDRTTrainer``
and ``Trainer.train()`` (forward, loss at the response positions only, backward, AdamW). The
configurations take turns, round after round, on the same batches (first step of each round dropped):

* ``LoRA fp32``: full-precision frozen base, fp32 compute (the reference experiment's choice);
* ``QLoRA fp32``: 4-bit NF4 base (bitsandbytes), fp32 compute;
* ``LoRA bf16`` (``--bf16``): the base cast to bf16 weights, bf16 autocast;
* ``LoRA fp32 compile`` (``--compile``): ``torch.compile`` of the model.

Batches are of rows sorted by length (as ``group_by_length`` makes them); the padding share of random
batches of the same rows is computed from the token counts and reported (no timing needed).

The roofline: the floating-point work of a step, counted from the model's shapes, over the step's
time, against the best rate this machine's ``torch.matmul`` reaches at the model's matrix shapes
(measured in the same process, fp32; bf16 too with ``--bf16``). Work of a step: every token runs every
layer's linear maps (``2 x MACs``) and attention (``2 x 2 x heads x head_dim x keys``) forward; the
backward computes the gradient of every activation (the base is frozen: no weight gradients except
the small LoRA ones), about as much again; the output head runs only at the response positions,
forward and backward. So a step is about ``2 x forward`` (LoRA's own arithmetic, under 1%, is left out).
Writes ``benchmarks/results/train_speed.json``.
"""

from __future__ import annotations

import argparse
import sys
import time

import benchlib as bl
import numpy as np
import torch


def matmul_peak(dtype, shapes, repeats: int = 20) -> float:
    """The best GFLOP/s of ``torch.matmul`` over ``shapes`` ((m, k, n) triples) in ``dtype``."""
    best = 0.0
    for m, k, n in shapes:
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        for _ in range(3):
            a @ b
        t0 = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * m * k * n * repeats / (time.perf_counter() - t0) / 1e9)
    return best


def step_flops(config, batches) -> float:
    """Floating-point operations of one training step, averaged over ``batches`` (collated tensors)."""
    h, inter, nh = config.hidden_size, config.intermediate_size, config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", nh) or nh
    hd = getattr(config, "head_dim", None) or h // nh
    lin = h * nh * hd + 2 * h * kv * hd + nh * hd * h + 3 * h * inter  # MACs per token and layer
    out = []
    for b in batches:
        B, T = b["input_ids"].shape
        resp = int((b["labels"] != -100).sum(1).max()) + 1
        fwd = 2 * B * T * lin * config.num_hidden_layers               # linear maps
        fwd += 2 * 2 * nh * hd * B * T * (T + 1) / 2 * config.num_hidden_layers  # causal attention
        fwd += 2 * B * resp * h * config.vocab_size                    # head at the response positions
        out.append(2 * fwd)                                            # forward + activation gradients
    return float(np.mean(out))


def profile_step(model, tok, examples, args, top: int = 10) -> list[dict]:
    """One LoRA fp32 training step under ``torch.profiler``: the operators with the most self CPU
    time, each with its share of the step, and the matrix products' share in all."""
    from torch.profiler import ProfilerActivity, profile
    from train_step import make_trainer, step_timer

    targs = argparse.Namespace(batch_size=args.batch_size, bf16=False, seed=args.seed, compile=False)
    make_trainer(model, tok, examples, "sft", 1, targs, step_timer()).train()  # warm-up
    tr = make_trainer(model, tok, examples, "sft", 1, targs, step_timer())
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        tr.train()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    matmul = sum(e.self_cpu_time_total for e in events if e.key in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul"))
    rows = [{"op": e.key, "share": e.self_cpu_time_total / total, "calls": e.count}
            for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]]
    return rows + [{"op": "(all matrix products)", "share": matmul / total, "calls": None}]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bl.add_common_args(ap)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=None, help="steps per round (default: 3 quick, 5 full)")
    ap.add_argument("--bf16", action="store_true", help="also LoRA on bf16 weights")
    ap.add_argument("--compile", action="store_true", help="also LoRA fp32 under torch.compile")
    ap.add_argument("--profile", action="store_true", help="also profile one LoRA fp32 step (torch.profiler)")
    ap.add_argument("--name", default="train_speed")
    args = ap.parse_args(argv)
    started = bl.setup(args)
    steps = args.steps or 3
    repeats = args.repeats or (2 if args.quick else 3)
    from train_step import make_trainer, step_timer

    from gdrt.data import get_preset, load_catalog, load_split
    from gdrt.data.locate import usable_dataset_dir
    from gdrt.models.loading import load_model
    from gdrt.training.examples import build_examples, collate

    preset = get_preset("book")
    data_dir = usable_dataset_dir(preset)
    if data_dir is None:
        sys.exit("train_speed: Book not found; set GDRT_DATA (see README)")
    catalog = load_catalog(data_dir)
    rows = load_split(data_dir, "train_10000", catalog)[:1000]
    configs = {"LoRA fp32": ("lora", False, False), "QLoRA fp32": ("qlora", False, False)}
    if args.bf16:
        configs["LoRA bf16"] = ("lora", True, False)
    if args.compile:
        configs["LoRA fp32 compile"] = ("lora", False, True)
    models = {}
    for name, (adapter, bf16, compiled) in configs.items():
        lm = load_model(args.model, adapter=adapter, dtype=torch.float32)
        if bf16:
            lm.model = lm.model.to(torch.bfloat16)
            for p in lm.model.parameters():
                if p.requires_grad:
                    p.data = p.data.float()  # the adapter trains in fp32, the frozen base is bf16
        models[name] = lm
    tok = next(iter(models.values())).tokenizer
    examples = build_examples(rows, catalog, preset, tok, 10)
    lengths = np.array([len(e.input_ids) for e in examples])
    rng = np.random.default_rng(args.seed)

    def padding(order):
        tot = pad = 0
        for i in range(0, len(order) - args.batch_size + 1, args.batch_size):
            b = lengths[order[i:i + args.batch_size]]
            tot += b.max() * len(b)
            pad += b.max() * len(b) - b.sum()
        return pad / tot

    pad_random, pad_sorted = padding(rng.permutation(len(lengths))), padding(np.argsort(lengths, kind="stable"))
    # timed batches: rows of the middle of the length distribution, sorted (as group_by_length makes them)
    need = args.batch_size * steps * repeats
    middle = np.argsort(lengths, kind="stable")[len(lengths) // 2 - need // 2:][:need]
    timed = [examples[i] for i in middle]
    cfg = next(iter(models.values())).model.config
    per_round = [collate([{"input_ids": e.input_ids, "labels": e.labels, "token_groups": e.token_groups}
                          for e in timed[i:i + args.batch_size]], tok.pad_token_id)
                 for i in range(0, len(timed), args.batch_size)]
    flops = step_flops(cfg, per_round)
    tokens_per_step = float(np.mean([b["input_ids"].numel() for b in per_round]))
    per_step = {k: [] for k in configs}
    for r in range(repeats):
        names = list(configs) if r % 2 == 0 else list(configs)[::-1]
        for name in names:
            adapter, bf16, compiled = configs[name]
            timer = step_timer()
            targs = argparse.Namespace(batch_size=args.batch_size, bf16=bf16, seed=args.seed, compile=compiled)
            tr = make_trainer(models[name].model, tok, timed[r * steps * args.batch_size:], "sft", steps, targs, timer)
            tr.train()
            t = timer.times[1:] if len(timer.times) > 1 else timer.times
            per_step[name].append(bl.median(t))
            print(f"  round {r + 1}/{repeats} {name}: {per_step[name][-1]:.2f} s/step "
                  f"({', '.join(f'{x:.2f}' for x in timer.times)})", file=sys.stderr, flush=True)
    breakdown = profile_step(models["LoRA fp32"].model, tok, timed, args) if args.profile else []
    shapes = [(int(tokens_per_step), cfg.hidden_size, cfg.intermediate_size),
              (int(tokens_per_step), cfg.hidden_size, cfg.hidden_size),
              (int(tokens_per_step), cfg.intermediate_size, cfg.hidden_size)]
    peak = {"fp32": matmul_peak(torch.float32, shapes)}
    if args.bf16:
        peak["bf16"] = matmul_peak(torch.bfloat16, shapes)
    s = {k: bl.median(v) for k, v in per_step.items()}
    best = min(s, key=s.get)
    achieved = {k: flops / v / 1e9 for k, v in s.items()}
    m = {"model": args.model, "batch_size": args.batch_size, "tokens_per_step": tokens_per_step,
         "step_gflop": flops / 1e9, "s_per_step": s, "rounds_s_per_step": per_step,
         "tokens_per_second": {k: tokens_per_step / v for k, v in s.items()}, "achieved_gflops": achieved,
         "matmul_peak_gflops": peak, "padding_share_random": pad_random, "padding_share_sorted": pad_sorted,
         "fastest": best, "profile": breakdown}
    targets = [
        bl.target("qlora_over_lora", "QLoRA vs LoRA per step, both fp32 (same batches)", "time ratio (QLoRA / LoRA)",
                  bl.paired_ratio(per_step["QLoRA fp32"], per_step["LoRA fp32"]), unit="x",
                  note=f"QLoRA {s['QLoRA fp32']:.2f} s/step, LoRA {s['LoRA fp32']:.2f} s/step"),
        bl.target("roofline_fraction", f"{best}: achieved arithmetic rate vs the machine's matmul peak",
                  "fraction of peak", achieved[best] / peak["bf16" if configs[best][1] else "fp32"], unit="",
                  note=f"{flops / 1e9:.0f} GFLOP per step / {s[best]:.2f} s = {achieved[best]:.0f} GFLOP/s; matmul "
                       f"peak at the model's shapes {peak['fp32']:.0f} GFLOP/s fp32"),
        bl.target("padding_saved", "batches of similar lengths vs random batches: padding share of the tokens",
                  "padding share (random batches)", pad_random, unit="",
                  note=f"random batches {pad_random:.1%} padding, length-sorted {pad_sorted:.2%}"),
    ]
    for name in configs:
        if name not in ("LoRA fp32", "QLoRA fp32"):
            targets.append(bl.target(f"{name.replace(' ', '_').lower()}_over_lora_fp32", f"{name} vs LoRA fp32 per step",
                                     "time ratio", bl.paired_ratio(per_step[name], per_step["LoRA fp32"]), unit="x"))
    bl.print_table([{"configuration": k, "s/step": s[k], "tokens/s": m["tokens_per_second"][k],
                     "GFLOP/s": achieved[k]} for k in configs])
    bl.finish(args.name, "Training speed on this CPU: LoRA, QLoRA, bf16, compile, and the roofline",
              "quick" if args.quick else "full", targets, [m],
              settings={"model": args.model, "batch_size": args.batch_size, "steps": steps, "repeats": repeats,
                        "threads": torch.get_num_threads(), "configs": list(configs), "data": "Book train_10000",
                        "thread_note": args.thread_note},
              started=started, out_dir=args.out_dir)


if __name__ == "__main__":
    main()
