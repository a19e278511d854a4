"""Our constrained beam search against HF ``generate`` + ``prefix_allowed_tokens_fn`` (run by hand).

    python benchmarks/cbs_vs_hf.py                                   # tiny random model, Office catalog
    python benchmarks/cbs_vs_hf.py --model smollm2-135m --prompts 8  # the default real model
    python benchmarks/cbs_vs_hf.py --dtype bf16 --length-penalty 0

HF is called the way the reference codebases call it: one prompt per call (``--hf-batch`` to change),
``num_beams=B, num_return_sequences=B`` and a trie walk as ``prefix_allowed_tokens_fn`` (mask after
log-softmax). ``early_stopping`` defaults to HF's own default (False); never use True with a trie
(STACK.md: finished beams get -1e9, which still beats masked -inf tokens -> duplicates, missed
hypotheses). HF only lets a hypothesis finish from its top ``B`` of ``2B`` candidates and uses a
heuristic stop, so its lists may legitimately differ from ours (which are exact for ``B >= catalog``).

Prints one table: seconds per prompt of each, the ratio HF/ours, and how many ranked lists are
identical (titles and order), with the mean top-B overlap.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import random
import sys
import time
from pathlib import Path

import torch

DEFAULT_CATALOG = "/work/shared/datasets/Office/id2name4Rec.json"


def load_catalog(path: Path):
    from gdrt.data.catalog import Catalog

    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    return Catalog({int(k): v for k, v in raw.items()}, source=str(path))


def make_prompts(catalog, catalog_path: Path, dataset: str | None, n: int, seed: int) -> list[str]:
    """Prompts from the catalog's ``test_5000.csv`` (or ``test.csv``) histories when present, else
    random histories drawn from the catalog."""
    from gdrt.data.presets import get_preset
    from gdrt.data.prompts import build_prompt

    folder = catalog_path.parent
    try:
        preset = get_preset(dataset or folder.name)
    except KeyError:
        preset = get_preset("office")
    rng = random.Random(seed)
    histories = []
    for name in ("test_5000.csv", "test.csv"):
        f = folder / name
        if f.exists():
            with open(f, encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    ids = ast.literal_eval(row["item_ids"])[:-1]
                    hist = [catalog.title(i) for i in ids if i in catalog]
                    if hist:
                        histories.append(hist)
                    if len(histories) >= 50 * n:
                        break
            break
    if histories:
        histories = rng.sample(histories, min(n, len(histories)))
    while len(histories) < n:
        histories.append(rng.sample(catalog.titles, min(10, len(catalog.titles))))
    return [build_prompt(preset, h) for h in histories]


def load(model_name: str, prompts: list[str], titles: list[str], dtype: torch.dtype, seed: int):
    if model_name == "tiny":
        from gdrt.models.tiny import tiny_model, tiny_tokenizer

        tok = tiny_tokenizer(prompts + titles)
        model = tiny_model(tok, seed=seed).to(dtype)
        return model, tok
    if model_name.startswith("random:"):  # untrained model of a checkpoint's architecture (timing only)
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        folder = model_name.split(":", 1)[1]
        tok = AutoTokenizer.from_pretrained(folder)
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "left"
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder), dtype=dtype)
        return model.eval(), tok
    try:
        try:
            from gdrt.models import load_model
        except ImportError:
            from gdrt.models.loading import load_model
    except ImportError as e:
        sys.exit(f"--model {model_name}: gdrt.models.load_model is not available yet ({e}); use --model tiny")
    loaded = load_model(model_name, dtype=dtype)
    if isinstance(loaded, tuple):
        model, tok = loaded[0], loaded[1]
    else:
        model, tok = loaded.model, loaded.tokenizer
    model.eval()
    return model, tok


def hf_search(model, tok, prompts, trie, num_beams, length_penalty, early_stopping, batch):
    """HF beam search with a trie walk; per prompt the ranked (title, score) list."""
    from gdrt.data.prompts import encode_prompt

    eos = tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    B = min(num_beams, len(trie))  # HF refuses num_return_sequences > num_beams
    out_all = []
    for b in range(0, len(prompts), batch):
        enc = [encode_prompt(tok, p) for p in prompts[b : b + batch]]
        L = max(len(x) for x in enc)
        ids = torch.full((len(enc), L), pad, dtype=torch.long)
        att = torch.zeros((len(enc), L), dtype=torch.long)
        for r, x in enumerate(enc):
            ids[r, L - len(x) :] = torch.tensor(x)
            att[r, L - len(x) :] = 1
        dev = next(model.parameters()).device
        ids, att = ids.to(dev), att.to(dev)

        def allowed(batch_id, input_ids, L=L):
            node = trie.walk(input_ids[L:].tolist())
            if node < 0:
                return [pad]
            nxt = trie.allowed(node)
            return nxt if nxt else [eos]

        with torch.inference_mode():
            g = model.generate(
                input_ids=ids,
                attention_mask=att,
                num_beams=num_beams,
                num_return_sequences=B,
                max_new_tokens=trie.max_length,
                prefix_allowed_tokens_fn=allowed,
                length_penalty=length_penalty,
                early_stopping=early_stopping,
                do_sample=False,
                output_scores=True,
                return_dict_in_generate=True,
                pad_token_id=pad,
                eos_token_id=eos,
            )
        seqs, scores = g.sequences[:, L:].tolist(), g.sequences_scores.tolist()
        for r in range(len(enc)):
            lst = []
            for s, sc in zip(seqs[r * B : (r + 1) * B], scores[r * B : (r + 1) * B]):
                if eos in s:
                    s = s[: s.index(eos) + 1]
                e = trie.entry_of(s)
                lst.append((trie.titles[e] if e >= 0 else f"<outside catalog: {tok.decode(s)!r}>", sc))
            out_all.append(lst)
    return out_all


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="tiny", help="'tiny' (random 2-layer Llama), a load_model name (smollm2-135m), "
                    "or random:DIR (an untrained model with DIR's config and tokenizer: timing only)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-hf", action="store_true", help="time ours only")
    ap.add_argument("--catalog", default=DEFAULT_CATALOG, help="MSL id2name4Rec.json")
    ap.add_argument("--dataset", default=None, help="prompt preset (default: the catalog's folder name)")
    ap.add_argument("--titles", type=int, default=0, help="use only the first N distinct titles (0 = all)")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--beams", type=int, default=10)
    ap.add_argument("--length-penalty", type=float, default=1.0)
    ap.add_argument("--mask", default="after", choices=["after", "before"])
    ap.add_argument("--batch-size", type=int, default=8, help="prompts per forward in our search")
    ap.add_argument("--kv", default="tree,reorder", help="our KV sharing modes to time, comma-separated (tree, reorder, auto)")
    ap.add_argument("--hf-batch", type=int, default=1, help="prompts per HF generate call")
    ap.add_argument("--hf-early-stopping", default="false", choices=["false", "never", "true"])
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from gdrt.decoding import build_trie, constrained_beam_search

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    cpath = Path(args.catalog)
    catalog = load_catalog(cpath)
    titles = catalog.titles[: args.titles] if args.titles else catalog.titles
    prompts = make_prompts(catalog, cpath, args.dataset, args.prompts, args.seed)
    model, tok = load(args.model, prompts, titles, dtype, args.seed)
    model = model.to(args.device)

    t0 = time.perf_counter()
    trie = build_trie(tok, titles)
    t_trie = time.perf_counter() - t0
    es = {"false": False, "true": True, "never": "never"}[args.hf_early_stopping]

    # warm-up (first-call overheads), then time
    constrained_beam_search(model, tok, prompts[:1], trie, num_beams=args.beams, length_penalty=args.length_penalty)
    runs = {}
    for kv in [k.strip() for k in args.kv.split(",") if k.strip()]:
        t0 = time.perf_counter()
        res = constrained_beam_search(
            model, tok, prompts, trie, num_beams=args.beams, length_penalty=args.length_penalty,
            batch_size=args.batch_size, mask=args.mask, kv=kv,
        )
        runs[kv] = (res, (time.perf_counter() - t0) / len(prompts))
        print(f"ours kv={kv}: {runs[kv][1]:.3f} s/prompt", file=sys.stderr, flush=True)
    if args.no_hf:
        print(f"model={args.model} dtype={args.dtype} device={args.device} titles={len(trie)} prompts={len(prompts)}")
        for kv, (_, t_ours) in runs.items():
            print(f"| ours kv={kv} | {t_ours:.3f} s/prompt |")
        return
    t0 = time.perf_counter()
    hf = hf_search(model, tok, prompts, trie, args.beams, args.length_penalty, es, args.hf_batch)
    t_hf = (time.perf_counter() - t0) / len(prompts)

    print(
        f"model={args.model} dtype={args.dtype} device={args.device} threads={torch.get_num_threads()} titles={len(trie)} "
        f"trie_nodes={trie.n_nodes} (built in {t_trie:.2f} s) prompts={len(prompts)} "
        f"prompt_tokens~{sum(len(tok(p)['input_ids']) for p in prompts) / len(prompts):.0f} beams={args.beams} "
        f"length_penalty={args.length_penalty} mask={args.mask}"
    )
    hf_dups = sum(len({t for t, _ in b}) < len(b) for b in hf)
    hf_out = sum(any(t.startswith("<outside") for t, _ in b) for b in hf)
    print("| method | s/prompt | ratio HF/ours | ranked lists identical to HF |")
    print("|---|---|---|---|")
    first_diff = None
    for kv, (ours, t_ours) in runs.items():
        same = sum([t for t, _ in a] == [t for t, _ in b] for a, b in zip(ours, hf))
        overlap = sum(len({t for t, _ in a} & {t for t, _ in b}) / max(1, len(a)) for a, b in zip(ours, hf)) / len(prompts)
        dscore = max((abs(x - y) for a, b in zip(ours, hf) for (_, x), (_, y) in zip(a, b)), default=0.0)
        print(f"| ours kv={kv} (prefill once, {args.batch_size} prompts/forward) | {t_ours:.3f} | {t_hf / t_ours:.2f} | "
              f"{same}/{len(prompts)} (mean top-{args.beams} overlap {overlap:.2f}, max score diff {dscore:.1e}) |")
        if first_diff is None:
            first_diff = next((i for i, (a, b) in enumerate(zip(ours, hf)) if [t for t, _ in a] != [t for t, _ in b]), None)
            first_ours = ours
    print(f"| HF generate + prefix_allowed_tokens_fn ({args.hf_batch} prompt/call, early_stopping={es}) | {t_hf:.3f} | 1.00 | "
          f"duplicate lists {hf_dups}, lists leaving the catalog {hf_out} |")
    if first_diff is not None:
        a, b = first_ours[first_diff], hf[first_diff]
        print(f"first differing prompt #{first_diff}:")
        for i in range(max(len(a), len(b))):
            x = f"{a[i][1]:9.4f} {a[i][0][:45]!r}" if i < len(a) else ""
            y = f"{b[i][1]:9.4f} {b[i][0][:45]!r}" if i < len(b) else ""
            print(f"  {i:2d} ours {x:60s} | hf {y}")


if __name__ == "__main__":
    main()
