"""Feature-ablation attribution: ours (batched, shared prefix) against captum (run by hand).

    python benchmarks/attribution.py --quick     # 2 real Office rows, 2 rounds; history 5/10/30 on 1 row each
    python benchmarks/attribution.py             # full: 8 rows, 3 rounds; 2 rows per history length

Same model (SmolLM2-135M, fp32), same rows, same features (the task sentence, each history title, the
title's prefix token), same baseline (``remove``) and the same target (the log-probability of the
response tokens after the prefix). Ours: :func:`gdrt.diagnostics.attribution.feature_ablation` (the
intact input once, then every ablation in one batch that reuses its cached prefix). captum:
``LLMAttribution(FeatureAblation(model), tokenizer)`` with ``forward_in_tokens=False`` (one forward
of prompt + target per ablation), the features given as an :class:`InterpretableInput` over token
positions, so both sides ablate exactly the same tokens. The two run interleaved in one process.
History axis: 5, 10 and 30 history titles drawn at random from the Office catalog.
Writes ``benchmarks/results/attribution.json``.

Targets: ours >= 5x faster than captum, with equal values (here: to 1e-4 nats). Each
measurement also records ``bound``, captum's arithmetic over ours (``ablation_arithmetic``): on a CPU,
where time follows arithmetic, the most any exact prefix-sharing ablation can gain.
"""

from __future__ import annotations

import argparse
import random
import sys

import benchlib as bl
import numpy as np
import torch


def captum_input_class():
    from captum.attr import TextTokenInput

    class TokenFeatures(TextTokenInput):  # LLMAttribution accepts its own input classes only
        """Interpretable features = groups of token positions of one id sequence. An absent feature
        (0 in the perturbed tensor) has its tokens removed (``baseline="remove"``) or replaced by
        ``placeholder``. (Subclasses ``TextTokenInput``, whose per-token features have no grouping,
        and replaces all of its behaviour.)"""

        def __init__(self, ids, features, names, baseline="remove", placeholder=None):
            self.ids = torch.tensor([list(ids)], dtype=torch.long)
            self.features = [list(f) for f in features]
            self.values = list(names)
            self.n_itp_features = len(self.features)
            self.baseline, self.placeholder = baseline, placeholder
            self.inp_tensor, self.itp_tensor, self.itp_mask = self.ids, torch.ones((1, len(self.features))), None

        def to_tensor(self):
            return torch.ones((1, self.n_itp_features))

        def format_attr(self, itp_attr):
            return itp_attr

        def to_model_input(self, perturbed_tensor=None):
            if perturbed_tensor is None:
                return self.ids
            off = [f for f, on in zip(self.features, perturbed_tensor[0].tolist()) if on == 0]
            drop = {p for f in off for p in f}
            ids = self.ids[0].tolist()
            if self.baseline == "remove":
                ids = [t for i, t in enumerate(ids) if i not in drop]
            else:
                ids = [self.placeholder if i in drop else t for i, t in enumerate(ids)]
            return torch.tensor([ids], dtype=torch.long)

    return TokenFeatures


def captum_row(llm_attr, TokenFeatures, tok, row, catalog, preset, max_history):
    """captum's contributions for one row: {"task", "items", "prefix"}."""
    from gdrt.data.prompts import encode_response
    from gdrt.diagnostics import attribution as A
    from gdrt.training.examples import history_titles

    titles = history_titles(row, catalog, max_history)
    title = catalog.title(row.target)
    feats = A.prompt_features(tok, preset, titles)
    resp = encode_response(tok, title)
    k = A.prefix_index(tok, title)
    ids = feats.ids + resp[: k + 1]
    features = [feats.task, *feats.items, [len(feats.ids) + k]]
    names = ["task", *[f"item {j + 1}" for j in range(len(feats.items))], "prefix"]
    inp = TokenFeatures(ids, features, names)
    res = llm_attr.attribute(inp, target=torch.tensor(resp[k + 1:]), forward_in_tokens=False)
    a = res.seq_attr.tolist()
    return {"task": a[0], "items": a[1:-1], "prefix": a[-1]}


def max_diff(ours: list[dict], theirs: list[dict]) -> float:
    d = 0.0
    for a, b in zip(ours, theirs):
        d = max(d, abs(a["task"] - b["task"]), abs(a["prefix"] - b["prefix"]),
                *[abs(x - y) for x, y in zip(a["items"], b["items"])])
    return d


def synthetic_rows(catalog, n, history, seed):
    """Rows whose history holds ``history`` random catalog items (for the history-length axis)."""
    from gdrt.data.msl import Row

    rng = random.Random(seed)
    ids = sorted(catalog.id2title)
    return [Row(user_id=f"bench{i}", history=tuple(rng.sample(ids, history)), target=rng.choice(ids), timestamp=0)
            for i in range(n)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bl.add_common_args(ap)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--rows", type=int, default=None, help="real rows (default: 2 quick, 8 full)")
    ap.add_argument("--history-lengths", default="5,10,30")
    ap.add_argument("--rows-per-length", type=int, default=None, help="default: 1 quick, 2 full")
    ap.add_argument("--name", default="attribution")
    args = ap.parse_args(argv)
    started = bl.setup(args)
    n_rows = args.rows or (2 if args.quick else 8)
    per_len = args.rows_per_length or (1 if args.quick else 2)
    from captum.attr import FeatureAblation, LLMAttribution

    from gdrt.data import get_preset, load_catalog, load_split
    from gdrt.diagnostics.attribution import ablation_arithmetic, ablation_inputs, feature_ablation
    from gdrt.models.loading import load_model
    from cbs_vs_hf import DATA

    preset = get_preset("office")
    catalog = load_catalog(DATA / "Office")
    test = load_split(DATA / "Office", "test_500", catalog)
    real = [r for r in test if len(r.history) >= 10][:n_rows]
    lm = load_model(args.model, dtype=torch.float32)
    model, tok = lm.model.to(args.device).eval(), lm.tokenizer
    llm_attr = LLMAttribution(FeatureAblation(model), tok)
    TokenFeatures = captum_input_class()

    def run_ours(rows, h):
        return [feature_ablation(model, tok, r, catalog, preset, baseline="remove", max_history=h) for r in rows]

    def arithmetic(rows, h):
        """captum's arithmetic over ours, summed over the rows: the most an exact ablation can gain."""
        work = [ablation_arithmetic(model, o, v, len(t))
                for o, v, t, *_ in (ablation_inputs(tok, r, catalog, preset, "remove", h) for r in rows)]
        return sum(w["per_forward"] for w in work) / sum(w["shared_prefix"] for w in work)

    def run_captum(rows, h):
        return [captum_row(llm_attr, TokenFeatures, tok, r, catalog, preset, h) for r in rows]

    points = [("real rows", 10, real)]
    points += [("history items", h, synthetic_rows(catalog, per_len, h, args.seed + h))
               for h in [int(x) for x in args.history_lengths.split(",") if x.strip()]]
    measurements, scaling = [], []
    for axis, h, rows in points:
        peaks = {"ours": [], "captum": []}
        out = {}

        def wrap(name, fn):
            def run():
                with bl.PeakMemory() as pm:
                    out[name] = fn()
                peaks[name].append(pm.cuda_peak_mb if pm.cuda_peak_mb is not None else pm.peak_mb)
            return run

        run_ours(rows[:1], h)  # warm-up
        print(f"== {axis}, history {h}: {len(rows)} rows", file=sys.stderr, flush=True)
        times = bl.interleaved({"ours": wrap("ours", lambda: run_ours(rows, h)),
                                "captum": wrap("captum", lambda: run_captum(rows, h))}, args.repeats, warmup=0)
        n = len(rows)
        features = np.mean([2 + len(r["items"]) for r in out["ours"]])
        row = {"axis": axis, "history": h, "rows": n, "features_per_row": float(features),
               "ours_s_per_row": bl.median(times["ours"]) / n, "captum_s_per_row": bl.median(times["captum"]) / n,
               "speedup": bl.paired_ratio(times["captum"], times["ours"]),
               "ours_rounds_s": times["ours"], "captum_rounds_s": times["captum"],
               "ours_peak_mb": max(peaks["ours"]), "captum_peak_mb": max(peaks["captum"]),
               "max_abs_diff": max_diff(out["ours"], out["captum"]), "bound": arithmetic(rows, h)}
        row["share_of_bound"] = row["speedup"] / row["bound"]
        measurements.append(row)
        if axis == "history items":
            scaling += [{"axis": "history items", "x": h, "series": "ours", "seconds": row["ours_s_per_row"],
                         "peak_mb": row["ours_peak_mb"]},
                        {"axis": "history items", "x": h, "series": "captum FeatureAblation",
                         "seconds": row["captum_s_per_row"], "peak_mb": row["captum_peak_mb"]}]
        print(f"   ours {row['ours_s_per_row']:.2f} s/row, captum {row['captum_s_per_row']:.2f}, x{row['speedup']:.2f} "
              f"(arithmetic bound x{row['bound']:.2f}), max diff {row['max_abs_diff']:.1e}", file=sys.stderr, flush=True)
    main_row = measurements[0]
    diff_all = max(m["max_abs_diff"] for m in measurements)
    targets = [
        bl.target("speedup_real", "attribution vs captum FeatureAblation, real Office rows (10 history items)",
                  "speed-up (captum s/row / ours)", main_row["speedup"], ">=", 5.0, "x",
                  note=f"ours {main_row['ours_s_per_row']:.2f} s/row, captum {main_row['captum_s_per_row']:.2f} s/row, "
                       f"{main_row['features_per_row']:.0f} features per row; peak {main_row['ours_peak_mb']:.0f} vs "
                       f"{main_row['captum_peak_mb']:.0f} MB"),
        bl.target("bound_real", "the most an exact ablation can gain here: captum's arithmetic over ours, real rows",
                  "arithmetic ratio (multiply-adds, from the model's config)", main_row["bound"], unit="x",
                  note=f"measured speed-up = {100 * main_row['share_of_bound']:.0f}% of it"),
        bl.target("equal_values", "attribution values equal captum's (all rows, all features)",
                  "largest |ours - captum| (nats)", diff_all, "<=", 1e-4),
    ]
    for m in measurements[1:]:
        targets.append(bl.target(f"speedup_h{m['history']}", f"attribution vs captum, {m['history']} history items",
                                 "speed-up (captum / ours)", m["speedup"], unit="x",
                                 note=f"ours {m['ours_s_per_row']:.2f} s/row, captum {m['captum_s_per_row']:.2f} s/row; "
                                      f"arithmetic bound {m['bound']:.2f}x"))
    bl.print_table(measurements, ["axis", "history", "rows", "features_per_row", "ours_s_per_row", "captum_s_per_row",
                                  "speedup", "bound", "share_of_bound", "max_abs_diff", "ours_peak_mb",
                                  "captum_peak_mb"])
    bl.finish(args.name, "Feature-ablation attribution: ours against captum FeatureAblation",
              "quick" if args.quick else "full", targets, measurements, scaling=scaling,
              settings={"model": args.model, "dtype": "fp32", "baseline": "remove", "repeats": args.repeats,
                        "threads": torch.get_num_threads(), "device": args.device, "rows": n_rows,
                        "rows_per_length": per_len, "thread_note": args.thread_note},
              started=started, out_dir=args.out_dir)


if __name__ == "__main__":
    main()
