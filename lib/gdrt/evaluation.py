"""Evaluation: recommend with constrained beam search, score with NDCG/HIT and MGU/DGU, and write
``metrics.json``, ``predictions.jsonl`` and ``item_groups.json`` atomically.
Explained in chapter 5, "Evaluation"."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import __version__
from .decoding import build_trie, constrained_beam_search
from .io import read_json, write_json, write_jsonl
from .metrics import first_hit_rank, group_distribution, hit_at_k, mgu_dgu, ndcg_at_k, top1_group_share
from .training.examples import row_prompt

KS = (5, 10)
# Bumped when the evaluation procedure changes, so cached results of an older one are recomputed.
# 2: trained adapters merged into the NF4-dequantized base (QLoRA) and run in the training dtype.
# 3: Eq. 2 item groups average the title's own tokens (not the quotes and EOS).
EVAL_FORMAT = 3


def weights_note(cfg: dict) -> str:
    """How a run's model is evaluated, in words (recorded in the evaluation's config.json)."""
    base = "NF4 base dequantized" if cfg.get("adapter") == "qlora" else "full-precision base"
    return f"{base} + adapter merged, {'bf16' if cfg.get('bf16') else 'fp32'}"


def recommend(model, tokenizer, rows, catalog, preset, num_beams=10, length_penalty=1.0, batch_size=8,
              max_history=10, trie=None, progress=True, mask="after") -> list[dict]:
    """One prediction per row: ranked titles, their id lists and the search's final scores.
    ``mask``: where the trie restricts the scores (:func:`gdrt.decoding.constrained_beam_search`)."""
    trie = trie or build_trie(tokenizer, catalog.titles)
    preds = []
    bar = tqdm(total=len(rows), desc="CBS", disable=not progress)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        prompts = [row_prompt(r, catalog, preset, max_history) for r in chunk]
        results = constrained_beam_search(model, tokenizer, prompts, trie, num_beams=num_beams,
                                          length_penalty=length_penalty, batch_size=batch_size, mask=mask)
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
    """Ranking and fairness metrics of a list of predictions (docs/design.md §5)."""
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


def distributed_state():
    """The ``accelerate`` state of a multi-process run (``accelerate launch``, ``torchrun``: the launcher
    sets ``WORLD_SIZE``), its process group initialised (gloo on CPU, NCCL on GPUs); ``None`` in a plain
    single process."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())  # without cpu=True, CPU ranks stay unconnected
    return state if state.num_processes > 1 else None


def is_main_process() -> bool:
    """False only on the non-zero ranks of a multi-process run."""
    state = distributed_state()
    return state is None or state.is_main_process


def shard_bounds(n_rows: int, batch_size: int, rank: int, world: int) -> tuple[int, int]:
    """The contiguous rows ``[lo, hi)`` of process ``rank`` out of ``world``: whole batches of
    ``batch_size`` (the batches a single process would make), spread as evenly as possible. Every
    prompt then shares its forward passes with the same neighbours as in one process, so the
    predictions are the same, and concatenating the shards in rank order restores the row order."""
    n_batches = -(-n_rows // batch_size)
    lo_b, hi_b = rank * n_batches // world, (rank + 1) * n_batches // world
    return min(lo_b * batch_size, n_rows), min(hi_b * batch_size, n_rows)


PARTIAL = ".partial"  # inside an evaluation's folder: decoded chunks of an unfinished evaluation


def _rows_fingerprint(rows) -> str:
    blob = json.dumps([[str(r.user_id), list(r.history), int(r.target)] for r in rows])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def recommend_resumable(model, tokenizer, rows, catalog, preset, partial_dir, settings: dict, num_beams=10,
                        length_penalty=1.0, batch_size=8, max_history=10, progress=True, mask="after",
                        chunk_rows: int = 64, first_row: int = 0) -> list[dict]:
    """:func:`recommend` in chunks of ``chunk_rows`` rows (rounded up to whole batches), each written
    atomically to ``partial_dir/rows-START-END.jsonl`` as soon as it is decoded. A later call with the
    same ``settings`` (the model and search, recorded in ``partial_dir/settings.json`` with the rows'
    fingerprint) reads the chunks already there and decodes only the missing ones; other settings
    wipe the folder first. Chunks start at whole batches from the first row, so every prompt is
    decoded in the same batch as in one uninterrupted call and the result is identical to it.
    ``first_row`` offsets the ``row`` numbers (a shard of a multi-process run)."""
    import json


    partial_dir = Path(partial_dir)
    settings = {**settings, "rows": _rows_fingerprint(rows), "n_rows": len(rows), "first_row": first_row,
                "num_beams": num_beams, "length_penalty": length_penalty, "batch_size": batch_size,
                "max_history": max_history, "mask": mask}
    settings = json.loads(json.dumps(settings))  # as it reads back from disk
    stored = partial_dir / "settings.json"
    try:
        same = stored.exists() and read_json(stored) == settings
    except ValueError:
        same = False
    if not same:
        shutil.rmtree(partial_dir, ignore_errors=True)
        write_json(stored, settings)
    chunk_rows = max(batch_size, -(-chunk_rows // batch_size) * batch_size)
    trie = build_trie(tokenizer, catalog.titles)
    preds = []
    bar = tqdm(total=len(rows), desc="CBS", disable=not progress)
    for start in range(0, len(rows), chunk_rows):
        end = min(start + chunk_rows, len(rows))
        path = partial_dir / f"rows-{first_row + start:06d}-{first_row + end:06d}.jsonl"
        chunk = None
        if path.exists():
            try:
                with open(path, encoding="utf-8") as f:
                    chunk = [json.loads(line) for line in f if line.strip()]
            except ValueError:
                chunk = None
            if chunk is not None and len(chunk) != end - start:
                chunk = None
        if chunk is None:
            chunk = recommend(model, tokenizer, rows[start:end], catalog, preset, num_beams, length_penalty,
                              batch_size, max_history, trie=trie, progress=False, mask=mask)
            for p in chunk:
                p["row"] += first_row + start
            write_jsonl(path, chunk)
        preds.extend(chunk)
        bar.update(end - start)
    bar.close()
    return preds


def evaluate(model, tokenizer, rows, catalog, preset, out_dir, item_groups=None, config=None,
             num_beams=10, length_penalty=1.0, batch_size=8, max_history=10, progress=True, mask="after",
             chunk_rows: int = 64) -> dict:
    """Recommend for ``rows``, score, and write the results into ``out_dir`` (atomically).

    Decoding is resumable: rows are decoded ``chunk_rows`` at a time into ``out_dir/.partial/``
    (:func:`recommend_resumable`); an evaluation stopped part-way and started again with the same
    model and settings decodes only the chunks that are missing, and writes the same files as an
    uninterrupted one. The chunks are removed once the results are written.

    ``item_groups``: ``{item_id: {"group": g, "relevance": r}}`` from the fixed reference model.

    Under ``accelerate launch`` with several processes each process decodes its shard of the rows
    (:func:`shard_bounds`), the predictions are gathered, and process 0 scores them and writes the
    files, which equal a single process's (``timing.json`` records the process count); every process
    returns the metrics. Only process 0 needs ``item_groups``.
    """
    out = Path(out_dir)
    state = distributed_state()
    t0 = time.perf_counter()
    settings = {"config": config or {}, "eval_format": EVAL_FORMAT}
    if state is None:
        preds = recommend_resumable(model, tokenizer, rows, catalog, preset, out / PARTIAL, settings, num_beams,
                                    length_penalty, batch_size, max_history, progress, mask, chunk_rows)
    else:
        from accelerate.utils import broadcast_object_list, gather_object

        if state.device.type != "cpu" and next(model.parameters()).device != state.device:
            model = model.to(state.device)
        lo, hi = shard_bounds(len(rows), batch_size, state.process_index, state.num_processes)
        part = recommend_resumable(model, tokenizer, rows[lo:hi], catalog, preset,
                                   out / PARTIAL / f"rank-{state.process_index}-of-{state.num_processes}", settings,
                                   num_beams, length_penalty, batch_size, max_history,
                                   progress and state.is_main_process, mask, chunk_rows, first_row=lo)
        preds = gather_object(part)
        if not state.is_main_process:
            metrics = broadcast_object_list([None])[0]
            return metrics
    seconds = time.perf_counter() - t0
    groups = {i: v["group"] for i, v in item_groups.items()} if item_groups else None
    metrics = score_predictions(preds, groups)
    write_jsonl(out / "predictions.jsonl", preds)
    if item_groups:
        write_json(out / "item_groups.json", {str(k): v for k, v in sorted(item_groups.items())})
    write_json(out / "config.json", {**(config or {}), "num_beams": num_beams, "length_penalty": length_penalty,
                                     "mask": mask,
                                     "n_rows": len(rows), "gdrt_version": __version__})
    write_json(out / "timing.json", {"seconds": seconds, "seconds_per_prompt": seconds / max(1, len(rows)),
                                     "processes": 1 if state is None else state.num_processes})
    write_json(out / "metrics.json", metrics)
    shutil.rmtree(out / PARTIAL, ignore_errors=True)
    if state is not None:
        broadcast_object_list([metrics])
    return metrics



def reference_item_groups(model_name, catalog, preset, cache_dir=None, n_groups=5, lm=None,
                          tokens: str = "title") -> dict:
    """Eq. 2 item groups from a fixed reference model (default: the untuned base model), cached:
    ``{item_id: {"group": 1..n_groups, "relevance": r}}``. Group 1 = most relevant. ``tokens``:
    ``"title"`` averages over the title's own tokens (the default), ``"response"`` over every
    response token, quotes and EOS included (:func:`gdrt.objectives.relevance.item_relevance`)."""
    from .metrics import assign_item_groups
    from .models.loading import load_tokenizer
    from .objectives.relevance import ITEM_TOKENS, item_relevance, reference_title_relevance, title_masks

    if tokens not in ITEM_TOKENS:
        raise ValueError(f"tokens must be one of {ITEM_TOKENS}, got {tokens!r}")
    rel, _, _ = reference_title_relevance(model_name, catalog, preset, cache_dir, lm)
    masks = None
    if tokens == "title":
        tok = lm.tokenizer if lm is not None else load_tokenizer(model_name)
        masks = title_masks(tok, catalog.titles)
    r = item_relevance(rel, catalog, masks)
    g = assign_item_groups(r, n_groups)
    return {i: {"group": int(g[i]), "relevance": float(r[i])} for i in sorted(r)}


def evaluation_rows(rows, limit: int | None = None, sample_seed: int | None = None) -> list:
    """The rows an evaluation covers: all, the first ``limit``, or (``sample_seed``) a seeded uniform
    sample of ``limit`` rows kept in file order (a time-sorted test file's first rows are its oldest)."""
    if not limit:
        return list(rows)
    if sample_seed is None:
        return list(rows[:limit])
    from .training.runs import subset

    return subset(rows, limit, sample_seed)


def decode_mask(cfg: dict) -> str:
    """How a run's model is decoded: MSL runs (``token_loss="msl"``) with the log-softmax over the
    trie's allowed tokens (``"before"``), as they were trained; all others over the vocabulary."""
    return "before" if cfg.get("token_loss") == "msl" else "after"


def evaluate_run(run_dir, split="test_500", limit=None, num_beams=10, length_penalty=1.0, batch_size=8,
                 item_groups=None, progress=True, overwrite=False, sample_seed: int | None = None) -> tuple[dict, Path]:
    """Evaluate a finished training run's selected adapter on ``split`` (first ``limit`` rows, or with
    ``sample_seed`` a seeded sample of ``limit`` rows in file order, :func:`evaluation_rows`); results go to
    ``RUN/eval-SPLIT[-LIMIT][-sSEED]-bBEAMS-lpPENALTY[-mb]/`` (``-mb``: decoded with the mask before the
    softmax, :func:`decode_mask`) and are reused when already there. An evaluation that was stopped
    resumes from its decoded chunks (:func:`evaluate`)."""
    from .data import complete_dataset, get_preset, load_catalog, load_split
    from .models.loading import load_trained

    run_dir = Path(run_dir)
    cfg = read_json(run_dir / "config.json")
    mask = decode_mask(cfg)
    suffix = f"-b{num_beams}-lp{length_penalty:g}" + ("-mb" if mask == "before" else "")
    sampled = f"-s{sample_seed}" if sample_seed is not None and limit else ""
    out = run_dir / (f"eval-{split}" + (f"-{limit}" if limit else "") + sampled + suffix)
    if (out / "metrics.json").exists() and not overwrite:
        if read_json(out / "config.json").get("eval_format") == EVAL_FORMAT:
            return read_json(out / "metrics.json"), out
        # results of an older evaluation procedure (e.g. QLoRA adapters on the full-precision base):
        # recomputed, never mixed with current ones
    if limit and not sampled and is_main_process():
        m = _rescore_prefix(run_dir, split, limit, suffix, item_groups, out)
        if m is not None:
            return m, out
    preset = get_preset(cfg["dataset"])
    # a complete folder comes back unchanged; Book and Clothing are read from their derived folder,
    # whose catalog loader accepts Book's one empty title (the raw folder's strict reader refuses it)
    data_dir = complete_dataset(Path(cfg["data_dir"]))
    catalog = load_catalog(data_dir)
    rows = evaluation_rows(load_split(data_dir, split, catalog), limit, sample_seed)
    if item_groups is None and is_main_process():  # only process 0 scores (see evaluate)
        item_groups = reference_item_groups(cfg["model"], catalog, preset)
    lm = load_trained(run_dir)
    m = evaluate(lm.model, lm.tokenizer, rows, catalog, preset, out, item_groups,
                 config={"run": str(run_dir), "split": split, "limit": limit, "sample_seed": sample_seed, "model": cfg["model"],
                         "method": cfg["method"], "data_dir": cfg["data_dir"], "dataset": cfg["dataset"],
                         "weights": weights_note(cfg), "eval_format": EVAL_FORMAT},
                 num_beams=num_beams, length_penalty=length_penalty, batch_size=batch_size,
                 max_history=cfg["max_history"], progress=progress, mask=mask)
    return m, out


def _rescore_prefix(run_dir: Path, split, limit, suffix, item_groups, out) -> dict | None:
    """The first ``limit`` rows of an evaluation already on disk over more rows of the same split
    (same beams, length penalty and procedure), scored again and written to ``out``: no decoding.
    Rows are decoded in batches from the first row, so when ``limit`` is a multiple of the batch size
    these are exactly the predictions a ``limit``-row evaluation would make. ``None`` if there is none."""
    from .diagnostics.callbacks import load_predictions

    for cand in sorted(run_dir.glob(f"eval-{split}*{suffix}")):
        if cand == out or not (cand / "metrics.json").exists():
            continue
        c = read_json(cand / "config.json")
        if c.get("eval_format") != EVAL_FORMAT or c.get("n_rows", 0) < limit or c.get("split") != split:
            continue
        preds = load_predictions(cand)[:limit]
        if item_groups is None:
            item_groups = {int(k): v for k, v in read_json(cand / "item_groups.json").items()}
        groups = {i: v["group"] for i, v in item_groups.items()}
        metrics = score_predictions(preds, groups)
        write_jsonl(out / "predictions.jsonl", preds)
        write_json(out / "item_groups.json", {str(k): v for k, v in sorted(item_groups.items())})
        write_json(out / "config.json", {**c, "limit": limit, "n_rows": limit, "rescored_from": str(cand)})
        write_json(out / "timing.json", read_json(cand / "timing.json"))
        write_json(out / "metrics.json", metrics)
        return metrics
    return None
