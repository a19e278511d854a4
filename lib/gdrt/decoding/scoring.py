"""Teacher-forced log-probabilities of responses.

* :func:`continuation_logprobs`: many continuations of ONE prompt. The prompt is prefilled once and
  its KV cache reused for every batch of continuations — the relevance scores of paper Eq. 2/3 (the
  same auxiliary-only prompt for every title) and the exhaustive check of constrained beam search.
* :func:`sequence_logprobs`: (prompt, response) pairs with different prompts, plain batched teacher
  forcing with padding.

Both return, per item, a float32 tensor of per-token ``log P(c_t | prompt, c_<t)`` (log-softmax over
the full vocabulary, computed in float32 whatever the model's dtype), on the CPU.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence

import torch


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _supports_logits_to_keep(model) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT passes kwargs through
    try:
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


def _pad_id(model) -> int:
    pad = getattr(model.config, "pad_token_id", None)
    if pad is None:
        eos = getattr(model.config, "eos_token_id", None)
        pad = eos[0] if isinstance(eos, (list, tuple)) else eos
    return int(pad) if pad is not None else 0


@torch.inference_mode()
def continuation_logprobs(
    model, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]], batch_size: int = 64
) -> list[torch.Tensor]:
    """Per-token log-probs of each continuation after ``prompt_ids``.

    The prompt is run once (batch 1); each batch of continuations (right-padded, longest first)
    reuses a copy of its KV cache expanded to the batch. An empty continuation gives an empty tensor.
    """
    if len(prompt_ids) == 0:
        raise ValueError("continuation_logprobs needs a non-empty prompt")
    device = _device(model)
    kw = {"logits_to_keep": 1} if _supports_logits_to_keep(model) else {}
    prompt = torch.tensor([list(prompt_ids)], dtype=torch.long, device=device)
    out = model(input_ids=prompt, attention_mask=torch.ones_like(prompt), use_cache=True, **kw)
    prefill_cache = out.cache if hasattr(out, "cache") else out.past_key_values
    first_logp = torch.log_softmax(out.logits[0, -1].float(), dim=-1)  # (V,)
    L = prompt.shape[1]

    results: list[torch.Tensor | None] = [None] * len(continuations)
    order = sorted(range(len(continuations)), key=lambda i: -len(continuations[i]))
    pad = _pad_id(model)
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        conts = [list(continuations[i]) for i in idx]
        T = max(len(c) for c in conts)
        if T == 0:
            for i in idx:
                results[i] = torch.zeros(0)
            continue
        n = len(idx)
        ids = torch.full((n, T), pad, dtype=torch.long)
        for r, c in enumerate(conts):
            ids[r, : len(c)] = torch.tensor(c, dtype=torch.long)
        ids = ids.to(device)
        # token 0 is scored by the prompt's last position; tokens 1.. by a forward over c[:-1]
        logp = first_logp[ids[:, 0]].unsqueeze(1)  # (n, 1)
        if T > 1:
            cache = copy.deepcopy(prefill_cache)
            cache.reorder_cache(torch.zeros(n, dtype=torch.long, device=device))
            inp = ids[:, : T - 1]
            mask = torch.ones((n, L + T - 1), dtype=torch.long, device=device)
            pos = torch.arange(L, L + T - 1, device=device).unsqueeze(0).expand(n, -1)
            logits = model(input_ids=inp, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True).logits
            lp = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            logp = torch.cat([logp, lp], dim=1)
            del cache
        logp = logp.cpu()
        for r, (i, c) in enumerate(zip(idx, conts)):
            results[i] = logp[r, : len(c)].clone()
    return results  # type: ignore[return-value]


@torch.inference_mode()
def sequence_logprobs(
    model, pairs: Sequence[tuple[Sequence[int], Sequence[int]]], batch_size: int = 8
) -> list[torch.Tensor]:
    """Per-token log-probs of each ``response`` given its ``prompt``, for ``(prompt_ids, response_ids)`` pairs.

    Plain teacher forcing: ``prompt + response`` right-padded (pads come after every real token, so a
    causal model's real positions are unaffected), longest first, ``batch_size`` pairs per forward.
    """
    device = _device(model)
    pad = _pad_id(model)
    results: list[torch.Tensor | None] = [None] * len(pairs)
    lengths = [len(p) + len(r) for p, r in pairs]
    order = sorted(range(len(pairs)), key=lambda i: -lengths[i])
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        for i in idx:
            if len(pairs[i][0]) == 0:
                raise ValueError("sequence_logprobs needs a non-empty prompt in every pair")
        T = max(lengths[i] for i in idx)
        n = len(idx)
        ids = torch.full((n, T), pad, dtype=torch.long)
        mask = torch.zeros((n, T), dtype=torch.long)
        for r, i in enumerate(idx):
            seq = list(pairs[i][0]) + list(pairs[i][1])
            ids[r, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[r, : len(seq)] = 1
        ids, mask = ids.to(device), mask.to(device)
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits  # (n, T, V)
        for r, i in enumerate(idx):
            p, resp = len(pairs[i][0]), len(pairs[i][1])
            if resp == 0:
                results[i] = torch.zeros(0)
                continue
            lg = logits[r, p - 1 : p + resp - 1].float()
            lp = torch.log_softmax(lg, dim=-1).gather(-1, ids[r, p : p + resp].unsqueeze(-1)).squeeze(-1)
            results[i] = lp.cpu()
    return results  # type: ignore[return-value]


def exhaustive_ranking(
    model, tokenizer, prompt: str, trie, length_penalty: float = 1.0, batch_size: int = 64
) -> list[tuple[str, float]]:
    """Every trie entry scored by teacher forcing, best first: the exact answer that constrained beam
    search with ``num_beams >= len(trie)`` and ``mask="after"`` must reproduce.

    Score = ``sum_t log P(y_t | prompt, y_<t) / len(y) ** length_penalty`` (the HF convention).
    """
    from gdrt.data.prompts import encode_prompt

    lps = continuation_logprobs(model, encode_prompt(tokenizer, prompt), trie.sequences, batch_size=batch_size)
    scored = [
        (trie.titles[i], float(lp.double().sum()) / (len(lp) ** length_penalty)) for i, lp in enumerate(lps)
    ]
    return sorted(scored, key=lambda x: -x[1])
