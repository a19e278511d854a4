"""Evaluation: recommend with constrained beam search, score with NDCG/HIT and MGU/DGU, and write
``metrics.json``, ``predictions.jsonl`` and ``item_groups.json`` atomically.
Explained in chapter 5, "Evaluation"."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import __version__
from .decoding import build_trie, constrained_beam_search
from .io import write_json, write_jsonl
from .metrics import first_hit_rank, group_distribution, hit_at_k, mgu_dgu, ndcg_at_k, top1_group_share
from .training.examples import row_prompt

KS = (5, 10)


def recommend(model, tokenizer, rows, catalog, preset, num_beams=10, length_penalty=1.0, batch_size=8,
              max_history=10, trie=None, progress=True) -> list[dict]:
    """One prediction per row: ranked titles, their id lists and the search's final scores."""
    trie = trie or build_trie(tokenizer, catalog.titles)
    preds = []
    bar = tqdm(total=len(rows), desc="CBS", disable=not progress)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        prompts = [row_prompt(r, catalog, preset, max_history) for r in chunk]
        results = constrained_beam_search(model, tokenizer, prompts, trie, num_beams=num_beams,
                                          length_penalty=length_penalty, batch_size=batch_size)
        for i, (row, prompt, res) in enumerate(zip(chunk, prompts, results)):
            titles = [t for t, _ in res]
            preds.append({
                "row": start + i,
                "user_id": row.user_id,
                "target": row.target,
                "history": list(row.history[-max_history:]),
                "prompt": prompt,
                "item_ids": [list(catalog.title2ids.get(t, ())) for t in titles],
                "titles": titles,
                "scores": [float(s) for _, s in res],
            })
        bar.update(len(chunk))
    bar.close()
    return preds


def score_predictions(preds, item_group: dict[int, int] | None, n_groups: int = 5) -> dict:
    """Ranking and fairness metrics of a list of predictions (DESIGN.md section 5)."""
    entries = [[tuple(ids) for ids in p["item_ids"]] for p in preds]
    ranks = [first_hit_rank(e, p["target"]) for e, p in zip(entries, preds)]
    m = {"n_rows": len(preds), "invalid_predictions": sum(1 for e in entries for ids in e if not ids)}
    for k in KS:
        m[f"ndcg@{k}"] = ndcg_at_k(ranks, k)
        m[f"hit@{k}"] = hit_at_k(ranks, k)
    if item_group is not None:
        valid = [[ids for ids in e if ids] for e in entries]
        hist = [p["history"] for p in preds]
        for k in KS:
            m[f"mgu@{k}"], m[f"dgu@{k}"] = mgu_dgu(valid, hist, item_group, k, n_groups)
        m["top1_group_share"] = top1_group_share(valid, item_group, n_groups).tolist()
        m["target_group_share"] = group_distribution([[p["target"]] for p in preds], item_group, n_groups).tolist()
        m["history_group_share"] = group_distribution(hist, item_group, n_groups).tolist()
    return m


def evaluate(model, tokenizer, rows, catalog, preset, out_dir, item_groups=None, config=None,
             num_beams=10, length_penalty=1.0, batch_size=8, max_history=10, progress=True) -> dict:
    """Recommend for ``rows``, score, and write the results into ``out_dir`` (atomically).

    ``item_groups``: ``{item_id: {"group": g, "relevance": r}}`` from the fixed reference model.
    """
    out = Path(out_dir)
    t0 = time.perf_counter()
    preds = recommend(model, tokenizer, rows, catalog, preset, num_beams, length_penalty, batch_size,
                      max_history, progress=progress)
    seconds = time.perf_counter() - t0
    groups = {i: v["group"] for i, v in item_groups.items()} if item_groups else None
    metrics = score_predictions(preds, groups)
    write_jsonl(out / "predictions.jsonl", preds)
    if item_groups:
        write_json(out / "item_groups.json", {str(k): v for k, v in sorted(item_groups.items())})
    write_json(out / "config.json", {**(config or {}), "num_beams": num_beams, "length_penalty": length_penalty,
                                     "n_rows": len(rows), "gdrt_version": __version__})
    write_json(out / "timing.json", {"seconds": seconds, "seconds_per_prompt": seconds / max(1, len(rows))})
    write_json(out / "metrics.json", metrics)
    return metrics



def reference_item_groups(model_name, catalog, preset, cache_dir=None, n_groups=5, lm=None) -> dict:
    """Eq. 2 item groups from a fixed reference model (default: the untuned base model), cached:
    ``{item_id: {"group": 1..n_groups, "relevance": r}}``. Group 1 = most relevant."""
    from .metrics import assign_item_groups
    from .objectives.relevance import item_relevance, reference_title_relevance

    rel, _, _ = reference_title_relevance(model_name, catalog, preset, cache_dir, lm)
    r = item_relevance(rel, catalog)
    g = assign_item_groups(r, n_groups)
    return {i: {"group": int(g[i]), "relevance": float(r[i])} for i in sorted(r)}


def evaluate_run(run_dir, split="test_500", limit=None, num_beams=10, length_penalty=1.0, batch_size=8,
                 item_groups=None, progress=True, overwrite=False) -> tuple[dict, Path]:
    """Evaluate a finished training run's selected adapter on ``split`` (first ``limit`` rows);
    results go to ``RUN/eval-SPLIT[-LIMIT]/`` and are reused when already there."""
    from .data import get_preset, load_catalog, load_split
    from .io import read_json
    from .models.loading import load_model

    run_dir = Path(run_dir)
    cfg = read_json(run_dir / "config.json")
    out = run_dir / (f"eval-{split}" + (f"-{limit}" if limit else "") + f"-b{num_beams}-lp{length_penalty:g}")
    if (out / "metrics.json").exists() and not overwrite:
        return read_json(out / "metrics.json"), out
    preset = get_preset(cfg["dataset"])
    catalog = load_catalog(cfg["data_dir"])
    rows = load_split(cfg["data_dir"], split, catalog)[: limit or None]
    if item_groups is None:
        item_groups = reference_item_groups(cfg["model"], catalog, preset)
    lm = load_model(cfg["model"], adapter_path=run_dir / "best")
    # bf16 autocast where the run trained in bf16 (fast on CPUs with AMX, and on GPUs); rankings of
    # near-tied titles can differ from fp32, identically for every method of a profile.
    with torch.autocast(lm.model.device.type, dtype=torch.bfloat16, enabled=bool(cfg.get("bf16"))):
        m = evaluate(lm.model, lm.tokenizer, rows, catalog, preset, out, item_groups,
                     config={"run": str(run_dir), "split": split, "limit": limit, "model": cfg["model"],
                             "method": cfg["method"], "data_dir": cfg["data_dir"], "dataset": cfg["dataset"],
                             "bf16": bool(cfg.get("bf16"))},
                     num_beams=num_beams, length_penalty=length_penalty, batch_size=batch_size,
                     max_history=cfg["max_history"], progress=progress)
    return m, out
