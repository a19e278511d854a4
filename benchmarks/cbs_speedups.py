"""What the speed paths of our constrained beam search save (run by hand).

    python benchmarks/cbs_speedups.py --quick    # Office, fp32 and bf16, 4 prompts, 3 rounds
    python benchmarks/cbs_speedups.py            # full: Office and Game, 8 prompts, 5 rounds

The same search with its two tree-step speed paths on (the default) and off
(``gdrt.decoding.cbs.FAST_TREE_STEPS = False``: HF's own ``sdpa`` attention, which repeats the cached
keys and values for every query head sharing them, and the plain dynamic cache, which copies itself
whole to append a step), interleaved round by round on the same model, prompts and trie. The ranked
lists must be identical; the scores agree to float rounding. Writes ``benchmarks/results/cbs_speedups.json``.
"""

from __future__ import annotations

import argparse
import sys

import benchlib as bl
import torch
from cbs_vs_hf import DIRNAMES, catalog_path, compare, load, load_catalog, make_prompts, timed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bl.add_common_args(ap)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--datasets", default=None, help="default: office (quick), office,game (full)")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--prompts", type=int, default=None, help="default: 4 quick, 8 full")
    ap.add_argument("--beams", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--name", default="cbs_speedups")
    args = ap.parse_args(argv)
    started = bl.setup(args)
    datasets = args.datasets or ("office" if args.quick else "office,game")
    n_prompts = args.prompts or (4 if args.quick else 8)
    import gdrt.decoding.cbs as cbs
    from gdrt.decoding import build_trie, constrained_beam_search

    def search(fast, model, tok, prompts, trie):
        cbs.FAST_TREE_STEPS = fast
        try:
            return constrained_beam_search(model, tok, prompts, trie, num_beams=args.beams, batch_size=args.batch_size)
        finally:
            cbs.FAST_TREE_STEPS = True

    measurements, targets = [], []
    for dataset in [d.strip() for d in datasets.split(",") if d.strip()]:
        cpath = catalog_path(dataset)
        catalog = load_catalog(cpath)
        prompts = make_prompts(catalog, cpath, dataset, n_prompts, args.seed)
        for dname in [d.strip() for d in args.dtypes.split(",") if d.strip()]:
            dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dname]
            model, tok = load(args.model, prompts, catalog.titles, dtype, args.seed)
            model = model.to(args.device)
            trie = build_trie(tok, catalog.titles)
            peaks = {"fast": [], "plain": []}
            fns = {"fast": timed(lambda: search(True, model, tok, prompts, trie), peaks["fast"]),
                   "plain": timed(lambda: search(False, model, tok, prompts, trie), peaks["plain"])}
            search(True, model, tok, prompts[:1], trie)
            print(f"== {dataset} {dname}", file=sys.stderr, flush=True)
            times = bl.interleaved(fns, args.repeats, warmup=0)
            cmp = compare(fns["fast"].last, fns["plain"].last)
            n = len(prompts)
            row = {"dataset": dataset, "dtype": dname, "prompts": n, "titles": len(trie),
                   "fast_s_per_prompt": bl.median(times["fast"]) / n, "plain_s_per_prompt": bl.median(times["plain"]) / n,
                   "speedup": bl.paired_ratio(times["plain"], times["fast"]), "fast_rounds_s": times["fast"],
                   "plain_rounds_s": times["plain"], "fast_peak_mb": max(peaks["fast"]),
                   "plain_peak_mb": max(peaks["plain"]), **{k: cmp[k] for k in ("identical", "max_score_diff")}}
            measurements.append(row)
            name = DIRNAMES.get(dataset, dataset)
            targets.append(bl.target(
                f"speedup_{dataset}_{dname}", f"tree-step speed paths on vs off, {name}, {dname}",
                "speed-up (off / on)", row["speedup"], unit="x",
                note=f"{row['plain_s_per_prompt']:.2f} -> {row['fast_s_per_prompt']:.2f} s/prompt; peak "
                     f"{row['plain_peak_mb']:.0f} -> {row['fast_peak_mb']:.0f} MB"))
            targets.append(bl.target(
                f"identical_{dataset}_{dname}", f"same ranked lists with and without them, {name}, {dname}",
                "share of prompts with identical lists", cmp["identical"] / n, "==", 1.0,
                note=f"max score difference {cmp['max_score_diff']:.1e}"))
            model = None  # free it before the next load
    bl.print_table(measurements, ["dataset", "dtype", "prompts", "fast_s_per_prompt", "plain_s_per_prompt", "speedup",
                                  "identical", "max_score_diff", "fast_peak_mb", "plain_peak_mb"])
    bl.finish(args.name, "Constrained beam search: the tree-step speed paths on and off",
              "quick" if args.quick else "full", targets, measurements,
              settings={"model": args.model, "beams": args.beams, "batch_size": args.batch_size,
                        "repeats": args.repeats, "threads": torch.get_num_threads(), "device": args.device,
                        "prompts": n_prompts, "thread_note": args.thread_note},
              started=started, out_dir=args.out_dir)


if __name__ == "__main__":
    main()
