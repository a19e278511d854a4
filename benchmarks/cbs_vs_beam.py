"""The limit: our constrained beam search against plain, unconstrained beam search (run by hand).

    python benchmarks/cbs_vs_beam.py --quick     # Office, fp32, 4 prompts, 2 rounds
    python benchmarks/cbs_vs_beam.py             # full: Office and Game, fp32 and bf16, 8 prompts, 3 rounds

Plain beam search is HF ``generate(num_beams=B)`` with no constraint, on the same model, prompts, beams
and batches of prompts as ours (``--batch-size``), and the same number of decoding steps: for each batch
we count the forward passes our search makes (one prefill + T steps) and give HF exactly T new tokens
(``min_new_tokens = max_new_tokens = T``), so both sides run T steps. A constrained search cannot be
cheaper than the same search without the constraint, except by sharing work the plain one repeats (HF
prefills each prompt once per beam; ours once per prompt), so this ratio says what the trie, the
bookkeeping and the exact pruning cost on top of a beam search. Writes
``benchmarks/results/cbs_vs_beam.json``.

Target: ours <= 1.25x the plain search's time.
"""

from __future__ import annotations

import argparse
import sys

import benchlib as bl
import torch
from cbs_vs_hf import DIRNAMES, catalog_path, load, load_catalog, make_prompts, pad_left, timed


def count_steps(model, fn) -> int:
    """Forward passes of ``model`` made by ``fn()``."""
    n = [0]
    h = model.register_forward_pre_hook(lambda m, a, k: n.__setitem__(0, n[0] + 1), with_kwargs=True)
    try:
        fn()
    finally:
        h.remove()
    return n[0]


def plain_beam(model, tok, prompts, beams, steps, length_penalty):
    """HF beam search, unconstrained, exactly ``steps`` new tokens."""
    ids, att, L = pad_left(tok, prompts, next(model.parameters()).device)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    with torch.inference_mode():
        g = model.generate(input_ids=ids, attention_mask=att, num_beams=beams, num_return_sequences=beams,
                           max_new_tokens=steps, min_new_tokens=steps, length_penalty=length_penalty,
                           do_sample=False, pad_token_id=pad, eos_token_id=tok.eos_token_id)
    return g


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bl.add_common_args(ap)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--datasets", default=None, help="default: office (quick), office,game (full)")
    ap.add_argument("--dtypes", default=None, help="default: fp32 (quick), fp32,bf16 (full)")
    ap.add_argument("--prompts", type=int, default=None, help="prompts per catalog (default: 4 quick, 8 full)")
    ap.add_argument("--beams", type=int, default=10)
    ap.add_argument("--length-penalty", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=4, help="prompts per batch, both sides")
    ap.add_argument("--name", default="cbs_vs_beam")
    args = ap.parse_args(argv)
    started = bl.setup(args)
    datasets = args.datasets or ("office" if args.quick else "office,game")
    dtypes = args.dtypes or ("fp32" if args.quick else "fp32,bf16")
    n_prompts = args.prompts or (4 if args.quick else 8)
    from gdrt.decoding import build_trie, constrained_beam_search

    measurements, targets = [], []
    for dataset in [d.strip() for d in datasets.split(",") if d.strip()]:
        cpath = catalog_path(dataset)
        catalog = load_catalog(cpath)
        prompts = make_prompts(catalog, cpath, dataset, n_prompts, args.seed)
        for dname in [d.strip() for d in dtypes.split(",") if d.strip()]:
            dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dname]
            model, tok = load(args.model, prompts, catalog.titles, dtype, args.seed)
            model = model.to(args.device)
            trie = build_trie(tok, catalog.titles)
            # the batches ours makes (longest prompts first), each run on its own so that its steps are known
            n_tok = [len(tok(p)["input_ids"]) for p in prompts]
            order = sorted(range(len(prompts)), key=lambda i: -n_tok[i])
            batches = [[prompts[i] for i in order[b: b + args.batch_size]] for b in range(0, len(order), args.batch_size)]

            def ours_batch(b):
                return constrained_beam_search(model, tok, b, trie, num_beams=args.beams,
                                               length_penalty=args.length_penalty, batch_size=len(b))

            steps = [count_steps(model, lambda b=b: ours_batch(b)) - 1 for b in batches]
            print(f"== {dataset} {dname}: batches of {args.batch_size}, decoding steps {steps}", file=sys.stderr,
                  flush=True)
            peaks = {"ours": [], "plain": []}
            ours_fn = timed(lambda: [ours_batch(b) for b in batches], peaks["ours"])
            plain_fn = timed(lambda: [plain_beam(model, tok, b, args.beams, t, args.length_penalty)
                                      for b, t in zip(batches, steps)], peaks["plain"])
            plain_beam(model, tok, batches[-1][:1], args.beams, 2, args.length_penalty)  # warm-up
            times = bl.interleaved({"ours": ours_fn, "plain": plain_fn}, args.repeats, warmup=0,
                                   sync=torch.cuda.synchronize if args.device.startswith("cuda") else None)
            n = len(prompts)
            row = {"dataset": dataset, "dtype": dname, "model": args.model, "titles": len(trie), "prompts": n,
                   "prompt_tokens_mean": sum(n_tok) / n, "beams": args.beams, "batch_size": args.batch_size,
                   "steps_per_batch": steps, "trie_max_length": trie.max_length,
                   "ours_s_per_prompt": bl.median(times["ours"]) / n,
                   "plain_s_per_prompt": bl.median(times["plain"]) / n,
                   "ratio": bl.paired_ratio(times["ours"], times["plain"]),
                   "ours_rounds_s": times["ours"], "plain_rounds_s": times["plain"],
                   "ours_peak_mb": max(peaks["ours"]), "plain_peak_mb": max(peaks["plain"])}
            measurements.append(row)
            targets.append(bl.target(
                f"limit_{dataset}_{dname}", f"CBS vs plain beam search, {DIRNAMES.get(dataset, dataset)}, {dname}",
                "time ratio (ours / plain HF beam search)", row["ratio"], "<=", 1.25, "x",
                note=f"ours {row['ours_s_per_prompt']:.2f} s/prompt, plain {row['plain_s_per_prompt']:.2f} s/prompt, "
                     f"{args.beams} beams, steps {steps}; peak {row['ours_peak_mb']:.0f} vs {row['plain_peak_mb']:.0f} MB"))
            print(f"   ours {row['ours_s_per_prompt']:.2f} s/prompt, plain {row['plain_s_per_prompt']:.2f}, "
                  f"ratio {row['ratio']:.2f}", file=sys.stderr, flush=True)
            model = None  # free it before the next load
    bl.print_table(measurements, ["dataset", "dtype", "prompts", "prompt_tokens_mean", "steps_per_batch",
                                  "ours_s_per_prompt", "plain_s_per_prompt", "ratio", "ours_peak_mb", "plain_peak_mb"])
    bl.finish(args.name, "The limit: constrained beam search against plain beam search (same beams and steps)",
              "quick" if args.quick else "full", targets, measurements,
              settings={"model": args.model, "beams": args.beams, "length_penalty": args.length_penalty,
                        "batch_size": args.batch_size, "repeats": args.repeats, "threads": torch.get_num_threads(),
                        "device": args.device, "prompts": n_prompts, "thread_note": args.thread_note},
              started=started, out_dir=args.out_dir)


if __name__ == "__main__":
    main()
