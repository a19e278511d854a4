"""Constrained beam search (CBS) over the catalog trie (DESIGN.md section 4).

How it works (explained in chapter 1, "Constrained beam search"):

* Several prompts share one forward pass (left padding, with the attention mask and position ids
  that padding needs). Each prompt is prefilled ONCE; its KV cache row is then gathered for every
  live beam (``Cache.reorder_cache``), which is also how beams are re-ordered at each step. The cache
  only ever holds live beams: finished or pruned beams leave the batch.
* Each live beam is a row with a trie node, a cumulative log-prob and its prompt. One step expands
  every row along the CSR edges of its node at once (no Python loop over beams or tokens):
  candidates = (row, allowed token, child node).
* A candidate's log-prob is the model's log-softmax over the full vocabulary at that token
  (``mask="after"``, what HF ``prefix_allowed_tokens_fn`` gives), or the log-softmax over the allowed
  tokens only (``mask="before"``: the scores then form a proper distribution over the catalog).
* A candidate reaching the end of a path (EOS, a leaf) is a finished hypothesis with score
  ``sum_logprob / length ** length_penalty`` (length = generated tokens, EOS included: the HF
  convention; ``length_penalty=0`` gives the plain sum). The best ``num_beams`` finished are kept per
  prompt. Candidates whose node has children compete for the ``num_beams`` live slots by cumulative
  log-prob.
* Stopping: when no live beam remains. With ``length_penalty <= 0`` the final score can only go down
  as a hypothesis grows, so a live beam that cannot beat the worst of ``num_beams`` kept finished
  hypotheses is dropped (an exact bound, results unchanged); with ``length_penalty > 0`` no such bound
  exists and the search runs until the trie is exhausted.

Distinct trie paths give distinct nodes, so the results never repeat a title and never leave the
catalog; there are ``min(num_beams, len(trie))`` of them unless every path has been explored.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch

from .trie import Trie


def _ragged_topk(group: torch.Tensor, score: torch.Tensor, k: int, n_groups: int) -> torch.Tensor:
    """Indices of the ``k`` best scores of each group, ordered by group, then score (descending).

    Ties keep the original order (stable sorts), so earlier elements win.
    """
    if group.numel() == 0:
        return group
    order = torch.argsort(score, descending=True, stable=True)
    order = order[torch.argsort(group[order], stable=True)]
    g = group[order]
    counts = torch.bincount(g, minlength=n_groups)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(g.numel(), device=g.device) - starts[g]
    return order[rank < k]


def _first_device(model) -> torch.device:
    return next(model.parameters()).device


def _cache_of(out):
    return out.cache if hasattr(out, "cache") else out.past_key_values


@torch.inference_mode()
def constrained_beam_search(
    model,
    tokenizer,
    prompts: Sequence[str],
    trie: Trie,
    num_beams: int = 10,
    length_penalty: float = 1.0,
    batch_size: int = 8,
    mask: str = "after",
) -> list[list[tuple[str, float]]]:
    """Per prompt, up to ``min(num_beams, len(trie))`` distinct catalog titles with their final scores,
    best first.

    ``prompts`` are full model inputs (``gdrt.data.prompts.build_prompt``), tokenised with
    ``encode_prompt``; ``trie`` comes from :func:`gdrt.decoding.trie.build_trie`. ``batch_size`` prompts
    share a forward pass (``batch_size * num_beams`` rows at most). Titles sharing one token path
    are returned once, under ``trie.titles[entry]`` (see :meth:`Trie.aliases`).
    """
    from gdrt.data.prompts import encode_prompt

    if mask not in ("after", "before"):
        raise ValueError(f"mask must be 'after' or 'before', not {mask!r}")
    if num_beams < 1 or batch_size < 1:
        raise ValueError("num_beams and batch_size must be >= 1")
    device = _first_device(model)
    if trie.indptr.device != device:
        trie.to(device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    use_ltk = "logits_to_keep" in inspect.signature(model.forward).parameters

    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    # longest first: prompts of similar length share a batch (less padding); results are per prompt
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    results: list[list[tuple[str, float]] | None] = [None] * len(prompts)
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        out = _search_batch(
            model, [encoded[i] for i in idx], trie, num_beams, length_penalty, mask, pad_id, device, use_ltk
        )
        for i, r in zip(idx, out):
            results[i] = r
    return results  # type: ignore[return-value]


def _search_batch(model, batch_ids, trie, B, length_penalty, mask, pad_id, device, use_ltk):
    P = len(batch_ids)
    L = max(len(x) for x in batch_ids)
    if min(len(x) for x in batch_ids) == 0:
        raise ValueError("empty prompt")
    ids = torch.full((P, L), pad_id, dtype=torch.long)
    pmask = torch.zeros((P, L), dtype=torch.long)
    for r, x in enumerate(batch_ids):  # left padding
        ids[r, L - len(x) :] = torch.tensor(x, dtype=torch.long)
        pmask[r, L - len(x) :] = 1
    ids, pmask = ids.to(device), pmask.to(device)
    plen = pmask.sum(1)  # real prompt lengths: the position of the first generated token
    pos = (pmask.cumsum(1) - 1).clamp(min=0)

    kw = {"logits_to_keep": 1} if use_ltk else {}
    out = model(input_ids=ids, attention_mask=pmask, position_ids=pos, use_cache=True, **kw)
    cache = _cache_of(out)
    logits = out.logits[:, -1].float()  # (rows, V)

    indptr, tokens, children, terminal = trie.indptr, trie.tokens, trie.children, trie.terminal
    # live rows (one per beam); the cache batch is aligned with them
    row_prompt = torch.arange(P, device=device)
    row_node = torch.zeros(P, dtype=torch.long, device=device)
    row_score = torch.zeros(P, dtype=torch.float32, device=device)
    # finished hypotheses, ragged, sorted by prompt then final score
    fin_prompt = torch.zeros(0, dtype=torch.long, device=device)
    fin_score = torch.zeros(0, dtype=torch.float32, device=device)
    fin_entry = torch.zeros(0, dtype=torch.long, device=device)
    bound_exact = length_penalty <= 0

    t = 0  # tokens generated so far
    while True:
        R = row_node.numel()
        # ---- expand every row along its node's edges (CSR gather)
        start = indptr[row_node]
        cnt = indptr[row_node + 1] - start
        cand_row = torch.repeat_interleave(torch.arange(R, device=device), cnt)
        offs = torch.arange(cand_row.numel(), device=device) - (torch.cumsum(cnt, 0) - cnt)[cand_row]
        edge = start[cand_row] + offs
        tok, child = tokens[edge], children[edge]
        raw = logits[cand_row, tok]
        if mask == "after":
            lp = raw - torch.logsumexp(logits, dim=-1)[cand_row]
        else:  # log-softmax over the allowed tokens of each row
            mx = torch.full((R,), float("-inf"), device=device).scatter_reduce(0, cand_row, raw, "amax")
            ssum = torch.zeros(R, device=device).index_add_(0, cand_row, torch.exp(raw - mx[cand_row]))
            lp = raw - (mx + torch.log(ssum))[cand_row]
        cum = row_score[cand_row] + lp
        cand_prompt = row_prompt[cand_row]
        length = t + 1

        # ---- finished: candidates ending a path
        term = terminal[child]
        is_fin = term >= 0
        if bool(is_fin.any()):
            new_score = cum[is_fin] / (length**length_penalty)
            all_prompt = torch.cat([fin_prompt, cand_prompt[is_fin]])
            all_score = torch.cat([fin_score, new_score])
            all_entry = torch.cat([fin_entry, term[is_fin]])
            keep = _ragged_topk(all_prompt, all_score, B, P)
            fin_prompt, fin_score, fin_entry = all_prompt[keep], all_score[keep], all_entry[keep]

        # ---- live: candidates whose node has children
        is_live = indptr[child + 1] > indptr[child]
        if bound_exact and fin_prompt.numel() >= B:
            counts = torch.bincount(fin_prompt, minlength=P)
            worst = torch.full((P,), float("-inf"), device=device)
            worst = worst.scatter_reduce(0, fin_prompt, fin_score, "amin")
            worst = torch.where(counts >= B, worst, torch.full_like(worst, float("-inf")))
            # any later finish has length >= t + 2 and a sum <= cum <= 0
            best_possible = cum * float((length + 1) ** (-length_penalty))
            is_live = is_live & (best_possible > worst[cand_prompt])
        live = is_live.nonzero().squeeze(1)
        if live.numel() == 0:
            break
        sel = live[_ragged_topk(cand_prompt[live], cum[live], B, P)]
        parent = cand_row[sel]
        row_prompt, row_node, row_score = cand_prompt[sel], child[sel], cum[sel]
        new_tok = tok[sel]

        # ---- one decoding step for the surviving rows
        cache.reorder_cache(parent)
        t += 1
        n = row_node.numel()
        attn = torch.cat([pmask[row_prompt], torch.ones((n, t), dtype=torch.long, device=device)], dim=1)
        step_pos = (plen[row_prompt] + (t - 1)).unsqueeze(1)
        out = model(
            input_ids=new_tok.unsqueeze(1), attention_mask=attn, position_ids=step_pos, cache=cache, use_cache=True
        )
        cache = _cache_of(out)
        logits = out.logits[:, -1].float()

    fp, fs, fe = fin_prompt.tolist(), fin_score.tolist(), fin_entry.tolist()
    res: list[list[tuple[str, float]]] = [[] for _ in range(P)]
    for p, s, e in zip(fp, fs, fe):
        res[p].append((trie.titles[e], s))
    return res
