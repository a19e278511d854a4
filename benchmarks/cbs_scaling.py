"""How the cost of constrained beam search grows with the catalog and the history (run by hand).

    python benchmarks/cbs_scaling.py --quick     # ours only, 2 prompts per point, 2 rounds
    python benchmarks/cbs_scaling.py             # full: ours and HF, 4 prompts per point, 3 rounds

Catalog axis: 1k, 10k and 50k titles drawn (seeded, nested: the 1k set is inside the 10k set) from the
union of the real catalogs under $GDRT_DATA (Office, Game, Toy, Book, Clothing: about 60k distinct
titles); the same Office test prompts at every size. History axis: prompts with 5, 10 and 30 history
titles drawn at random from the Office catalog (real histories hold at most 10), searched over the
Office catalog. Per point: seconds per prompt, peak memory (RSS above the level before the call),
trie build time and size; with ``--hf`` (default in the full size) HF ``generate`` with the trie too,
interleaved with ours. Writes ``benchmarks/results/cbs_scaling.json``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import benchlib as bl
import torch
from cbs_vs_hf import DIRNAMES, catalog_path, hf_search, load, load_catalog, make_prompts, timed


def union_titles(seed: int) -> list[str]:
    seen, out = set(), []
    for d in DIRNAMES:
        p = catalog_path(d)
        if p.exists():
            for t in load_catalog(p).titles:
                if t not in seen:
                    seen.add(t)
                    out.append(t)
    random.Random(seed).shuffle(out)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bl.add_common_args(ap)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--catalog-sizes", default="1000,10000,50000")
    ap.add_argument("--history-lengths", default="5,10,30")
    ap.add_argument("--prompts", type=int, default=None, help="prompts per point (default: 2 quick, 4 full)")
    ap.add_argument("--beams", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--hf", dest="hf", action="store_true", default=None, help="time HF generate too")
    ap.add_argument("--no-hf", dest="hf", action="store_false")
    ap.add_argument("--name", default="cbs_scaling")
    args = ap.parse_args(argv)
    started = bl.setup(args)
    hf = (not args.quick) if args.hf is None else args.hf
    n_prompts = args.prompts or (2 if args.quick else 4)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.dtype]
    from gdrt.decoding import build_trie, constrained_beam_search

    office = load_catalog(catalog_path("office"))
    pool = union_titles(args.seed)
    sizes = [int(x) for x in args.catalog_sizes.split(",") if x.strip()]
    hists = [int(x) for x in args.history_lengths.split(",") if x.strip()]
    base_prompts = make_prompts(office, catalog_path("office"), "office", n_prompts, args.seed)
    model, tok = load(args.model, base_prompts, office.titles, dtype, args.seed)
    model = model.to(args.device)

    points = [("catalog titles", n, pool[:n], base_prompts) for n in sizes]
    points += [("history items", h, office.titles,
                make_prompts(office, catalog_path("office"), "office", n_prompts, args.seed + h, history=h))
               for h in hists]
    measurements, scaling = [], []
    for axis, x, titles, prompts in points:
        if len(titles) < (x if axis == "catalog titles" else 1):
            print(f"skipping {axis}={x}: only {len(titles)} titles available", file=sys.stderr)
            continue
        rss0 = bl.rss_mb()
        t0 = time.perf_counter()
        trie = build_trie(tok, titles)
        t_trie = time.perf_counter() - t0
        trie_mb = bl.rss_mb() - rss0
        n_tok = [len(tok(p)["input_ids"]) for p in prompts]
        peaks = {"ours": [], "hf": []}
        fns = {"ours": timed(lambda: constrained_beam_search(model, tok, prompts, trie, num_beams=args.beams,
                                                             batch_size=args.batch_size), peaks["ours"])}
        if hf:
            fns["hf"] = timed(lambda: hf_search(model, tok, prompts, trie, args.beams, 1.0), peaks["hf"])
        constrained_beam_search(model, tok, prompts[:1], trie, num_beams=args.beams)  # warm-up
        print(f"== {axis} = {x}: {len(trie)} titles, {trie.n_nodes} nodes, prompts {min(n_tok)}-{max(n_tok)} tokens",
              file=sys.stderr, flush=True)
        times = bl.interleaved(fns, args.repeats, warmup=0)
        n = len(prompts)
        row = {"axis": axis, "x": x, "titles": len(trie), "trie_nodes": trie.n_nodes, "trie_seconds": t_trie,
               "trie_rss_mb": trie_mb, "prompts": n, "prompt_tokens_mean": sum(n_tok) / n,
               "ours_s_per_prompt": bl.median(times["ours"]) / n, "ours_rounds_s": times["ours"],
               "ours_peak_mb": max(peaks["ours"])}
        scaling.append({"axis": axis, "x": x, "series": "ours", "seconds": row["ours_s_per_prompt"],
                        "peak_mb": row["ours_peak_mb"]})
        if hf:
            row.update({"hf_s_per_prompt": bl.median(times["hf"]) / n, "hf_rounds_s": times["hf"],
                        "hf_peak_mb": max(peaks["hf"]), "speedup": bl.paired_ratio(times["hf"], times["ours"])})
            scaling.append({"axis": axis, "x": x, "series": "HF generate + trie", "seconds": row["hf_s_per_prompt"],
                            "peak_mb": row["hf_peak_mb"]})
        measurements.append(row)
        trie = None
    targets = []
    for axis in ("catalog titles", "history items"):
        rows = [m for m in measurements if m["axis"] == axis]
        if len(rows) >= 2:
            a, b = rows[0], rows[-1]
            targets.append(bl.target(
                f"growth_{axis.split()[0]}", f"CBS cost growth, {axis} {a['x']:,} -> {b['x']:,}",
                "s/prompt ratio (largest / smallest)", b["ours_s_per_prompt"] / a["ours_s_per_prompt"], unit="x",
                note=f"{a['ours_s_per_prompt']:.2f} -> {b['ours_s_per_prompt']:.2f} s/prompt; peak memory "
                     f"{a['ours_peak_mb']:.0f} -> {b['ours_peak_mb']:.0f} MB"))
    bl.print_table(measurements, ["axis", "x", "titles", "trie_nodes", "trie_seconds", "prompt_tokens_mean",
                                  "ours_s_per_prompt", "ours_peak_mb"] + (["hf_s_per_prompt", "speedup"] if hf else []))
    bl.finish(args.name, "Constrained beam search: cost against catalog size and history length",
              "quick" if args.quick else "full", targets, measurements, scaling=scaling,
              settings={"model": args.model, "dtype": args.dtype, "beams": args.beams, "batch_size": args.batch_size,
                        "repeats": args.repeats, "threads": torch.get_num_threads(), "device": args.device,
                        "prompts": n_prompts, "hf": hf, "union_titles": len(pool), "thread_note": args.thread_note},
              started=started, out_dir=args.out_dir)


if __name__ == "__main__":
    main()
