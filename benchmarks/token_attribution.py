"""Per-token feature ablation: ours (the cached prefix shared, variants batched) against captum's
``FeatureAblation`` with one feature per token (run by hand).

    python benchmarks/token_attribution.py --quick    # 1 real Book test row, 2 rounds
    python benchmarks/token_attribution.py            # 3 rows, 3 rounds

Same model (SmolLM2-135M, fp32), same rows, same features (every token of the task sentence, every
token of the history titles, and the title's prefix token: chapter 3's primary view, all tokens, no
sampling), the same ``remove`` baseline and the same target (the log-probability of the response
after the prefix token). Ours: :func:`gdrt.diagnostics.attribution.token_ablation`. captum:
``LLMAttribution(FeatureAblation(model), tokenizer)``, ``forward_in_tokens=False`` (one forward of
prompt + target per ablated token), features given over token positions (the input class of
``benchmarks/attribution.py``). The two run interleaved in one process. ``bound`` is captum's
arithmetic over ours (:func:`gdrt.diagnostics.attribution.ablation_arithmetic`): on a CPU, whose time
follows its arithmetic, the most an exact ablation that reuses the unchanged prefix can gain.
Writes ``benchmarks/results/token_attribution.json``.
"""

from __future__ import annotations

import argparse
import sys

import benchlib as bl
import numpy as np
import torch


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bl.add_common_args(ap)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--rows", type=int, default=None, help="real rows (default: 1 quick, 3 full)")
    ap.add_argument("--name", default="token_attribution")
    args = ap.parse_args(argv)
    started = bl.setup(args)
    n_rows = args.rows or (1 if args.quick else 3)
    repeats = args.repeats or (2 if args.quick else 3)
    from attribution import captum_input_class
    from captum.attr import FeatureAblation, LLMAttribution

    from gdrt.data import get_preset, load_catalog, load_split
    from gdrt.data.locate import usable_dataset_dir
    from gdrt.diagnostics.attribution import (ablation_arithmetic, prompt_features, token_ablation,
                                              token_ablation_inputs)
    from gdrt.models.loading import load_model

    preset = get_preset("book")
    data_dir = usable_dataset_dir(preset)
    if data_dir is None:
        sys.exit("token_attribution: Book not found; set GDRT_DATA (see README)")
    catalog = load_catalog(data_dir)
    rows = [r for r in load_split(data_dir, "test_5000", catalog) if len(r.history) >= 10][:n_rows]
    lm = load_model(args.model, dtype=torch.float32)
    model, tok = lm.model.to(args.device).eval(), lm.tokenizer
    llm_attr = LLMAttribution(FeatureAblation(model), tok)
    TokenFeatures = captum_input_class()

    def inputs(row):
        return token_ablation_inputs(tok, row, catalog, preset, "remove", 10)

    def run_ours():
        return [token_ablation(model, tok, r, catalog, preset) for r in rows]

    def run_captum():
        out = []
        for r in rows:
            original, variants, target, kinds, item_of, resp, k, titles = inputs(r)
            prompt_len = len(original) - len(resp)
            f = prompt_features(tok, preset, titles)
            positions = list(f.task) + [p for pos in f.items for p in pos]
            feats = [[p] for p in positions] + [[prompt_len + k]]
            inp = TokenFeatures(original[: prompt_len + k + 1], feats, [str(i) for i in range(len(feats))])
            a = llm_attr.attribute(inp, target=torch.tensor(target), forward_in_tokens=False).seq_attr.tolist()
            out.append({"task": a[: len(f.task)], "interaction": a[len(f.task):-1], "prefix": a[-1]})
        return out

    out = {}
    times = bl.interleaved({"ours": lambda: out.__setitem__("ours", run_ours()),
                            "captum": lambda: out.__setitem__("captum", run_captum())}, repeats, warmup=0)
    diff = max(max(np.abs(np.subtract(o["task_tokens"], c["task"])).max(),
                   np.abs(np.subtract(o["interaction_tokens"], c["interaction"])).max(), abs(o["prefix"] - c["prefix"]))
               for o, c in zip(out["ours"], out["captum"]))
    work = [ablation_arithmetic(model, o, v, len(t)) for o, v, t, *_ in map(inputs, rows)]
    bound = sum(w["per_forward"] for w in work) / sum(w["shared_prefix"] for w in work)
    features = float(np.mean([len(o["task_tokens"]) + len(o["interaction_tokens"]) + 1 for o in out["ours"]]))
    speedup = bl.paired_ratio(times["captum"], times["ours"])
    m = {"rows": len(rows), "features_per_row": features, "ours_s_per_row": bl.median(times["ours"]) / len(rows),
         "captum_s_per_row": bl.median(times["captum"]) / len(rows), "speedup": speedup, "bound": bound,
         "share_of_bound": speedup / bound, "max_abs_diff": float(diff), "ours_rounds_s": times["ours"],
         "captum_rounds_s": times["captum"]}
    targets = [
        bl.target("speedup_tokens", "per-token attribution vs captum FeatureAblation (one feature per token), "
                  "real Book rows", "speed-up (captum s/row / ours)", speedup, ">=", 5.0, "x",
                  note=f"ours {m['ours_s_per_row']:.1f} s/row, captum {m['captum_s_per_row']:.1f} s/row, "
                       f"{features:.0f} features per row"),
        bl.target("bound_tokens", "the most an exact ablation can gain here: captum's arithmetic over ours",
                  "arithmetic ratio (multiply-adds, from the model's config)", bound, unit="x",
                  note=f"measured speed-up = {100 * m['share_of_bound']:.0f}% of it"),
        bl.target("equal_values_tokens", "per-token values equal captum's", "largest |ours - captum| (nats)", diff,
                  "<=", 1e-4),
    ]
    bl.finish(args.name, "Per-token attribution: ours against captum FeatureAblation", "quick" if args.quick else "full",
              targets, [m], settings={"model": args.model, "rows": len(rows), "repeats": repeats, "data": "Book test_5000",
                                      "threads": torch.get_num_threads(), "thread_note": args.thread_note},
              started=started, out_dir=args.out_dir)


if __name__ == "__main__":
    main()
