"""Feature ablation attribution (paper §2.2, Figures 2 and 7): how much does the target title's
log-probability owe to the task description, to the user's history, and to the title's own prefix?
Explained in chapter 3, "How much the model leans on each feature".

Definitions (docs/design.md §6):

* **Features.** In the prompt ``x`` of a row (docs/design.md §3): the *task* feature is the
  instruction sentence (``gdrt.data.prompts.instruction``); *item j* is the text of the j-th history
  title (between its quotes). In the response ``y = '"Title"' + EOS``: the *prefix* feature is the
  first response token that carries a character of the title (the token after the opening quote, or
  the opening quote itself where the tokenizer merges it with the title's first characters).
  A token belongs to a feature when its character span in the real tokenisation of the prompt
  overlaps the feature's characters; the spans come from building the prompt from its pieces, never
  from the token strings.
* **Target.** ``S(x, y) = sum_{t > k} log P(y_t | x, y_<t)``, the log-probability of the response
  tokens *after* the prefix token ``y_k`` (the rest of the title, the closing quote and EOS). The same
  span is scored for every feature, so the three contributions are in the same units and comparable.
* **Contribution** of a feature ``f``: ``c_f = S(x, y) - S(x with f ablated, y)`` (the drop when
  the feature is replaced by its baseline; positive: the feature makes the target more likely).
  ``interaction = sum_j c_item_j`` (signed) and ``interaction_abs = sum_j |c_item_j|``.
* **Baselines.** ``"remove"``: the feature's tokens are deleted (a removed history title leaves its
  quotes behind, like an empty title; a removed prefix token closes the gap). ``"placeholder"``: each
  of the feature's tokens is replaced by one placeholder token (default: the tokenizer's unknown
  token, else its pad token), so the sequence keeps its length and positions.

The intact input runs once and keeps its KV cache; all its ablated variants (task, one per history
item, prefix) then run in ONE batch that reuses the cached tokens before each variant's ablated
feature (a 4-D attention mask over packed rows), so only the rest of each variant is computed
(:func:`ablation_logprobs`; with long prompts, where that batch's masked attention would dominate,
each variant runs alone over the cache cropped to its shared prefix instead). The values equal captum's ``FeatureAblation`` with the same feature
masks and baseline (tests/test_diagnostics.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.prompts import build_prompt, encode_prompt, encode_response, history_text, instruction, prefix_index
from ..training.examples import history_titles

BASELINES = ("remove", "placeholder")


# ----------------------------------------------------------------------------------------- spans
@dataclass
class PromptFeatures:
    """A prompt's token ids and the token positions of its features."""

    ids: list[int]
    task: list[int]              # positions of the instruction sentence's tokens
    items: list[list[int]]       # per history title (oldest first), its tokens' positions
    prompt: str


def _overlap_assign(offsets, spans) -> list[list[int]]:
    """For each character span ``(s, e)``, the token positions whose ``(a, b)`` overlaps it. A token
    overlapping several spans goes to the one it overlaps most (ties: the first)."""
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    sp = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    overlap = np.minimum(off[:, None, 1], sp[None, :, 1]) - np.maximum(off[:, None, 0], sp[None, :, 0])
    best = overlap.argmax(1)
    has = overlap.max(1) > 0 if len(sp) else np.zeros(len(off), dtype=bool)
    return [np.flatnonzero(has & (best == f)).tolist() for f in range(len(sp))]


def prompt_features(tokenizer, preset, titles) -> PromptFeatures:
    """Tokenise ``build_prompt(preset, titles)`` exactly as training does and locate the features.

    Character spans come from the pieces the prompt is built of (the instruction sentence, the
    history line, each quoted title); token positions from the tokenizer's offset mapping.
    """
    titles = list(titles)
    prompt = build_prompt(preset, titles)
    instr, hist = instruction(preset), history_text(preset, titles)
    i0 = prompt.index(instr)          # the first occurrence: the instruction section
    h0 = prompt.rindex(hist)          # the input line, the last piece before "### Response:"
    spans = [(i0, i0 + len(instr))]
    pos = h0 + len(history_text(preset, []))
    for t in titles:
        start = pos + 1               # after the opening quote
        spans.append((start, start + len(t)))
        pos = start + len(t) + 1 + 2  # closing quote, then ", "
    for (s, e), piece in zip(spans, [instr, *titles]):
        if prompt[s:e] != piece:  # pragma: no cover - the template changed under us
            raise ValueError(f"prompt pieces out of sync with the template: {piece!r}")
    enc = tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    if ids != encode_prompt(tokenizer, prompt):  # pragma: no cover - defensive
        raise ValueError("offset tokenisation differs from encode_prompt")
    groups = _overlap_assign(enc["offset_mapping"], spans)
    return PromptFeatures(ids=ids, task=groups[0], items=groups[1:], prompt=prompt)


def placeholder_id(tokenizer) -> int:
    """The default placeholder token: the unknown token, else the pad token."""
    for t in (tokenizer.unk_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id):
        if t is not None:
            return int(t)
    raise ValueError("the tokenizer has no unk, pad or eos token to use as a placeholder")  # pragma: no cover


def ablate(ids, positions, baseline: str, placeholder: int | None = None) -> list[int]:
    """``ids`` with the tokens at ``positions`` removed (``"remove"``) or replaced by ``placeholder``."""
    drop = set(positions)
    if baseline == "remove":
        return [t for i, t in enumerate(ids) if i not in drop]
    if baseline == "placeholder":
        if placeholder is None:
            raise ValueError("baseline='placeholder' needs a placeholder token id")
        return [placeholder if i in drop else t for i, t in enumerate(ids)]
    raise ValueError(f"unknown baseline {baseline!r}; use one of {BASELINES}")


# --------------------------------------------------------------------------------------- scoring
def _device(model) -> torch.device:
    return next(model.parameters()).device


def _pad_id(tokenizer) -> int:
    return int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)


@torch.inference_mode()
def batch_suffix_logprob(model, sequences, target, pad_id: int = 0) -> np.ndarray:
    """``sum_t log P(target_t | ...)`` where ``target`` is the last ``m`` tokens of every sequence,
    for all ``sequences`` in ONE forward pass: left padding, explicit position ids, logits only for
    the last ``m + 1`` positions, log-softmax in float32. Returns float64 ``[n]``."""
    target = list(target)
    m = len(target)
    if m == 0:
        return np.zeros(len(sequences))
    for s in sequences:
        if len(s) <= m or list(s[-m:]) != target:
            raise ValueError("every sequence must end with the target and have at least one token before it")
    n, T = len(sequences), max(len(s) for s in sequences)
    ids = torch.full((n, T), pad_id, dtype=torch.long)
    mask = torch.zeros((n, T), dtype=torch.long)
    for r, s in enumerate(sequences):
        ids[r, T - len(s):] = torch.tensor(list(s), dtype=torch.long)
        mask[r, T - len(s):] = 1
    pos = (mask.cumsum(-1) - 1).clamp_min(0)
    dev = _device(model)
    out = model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                logits_to_keep=m + 1, use_cache=False)
    logits = out.logits[:, -(m + 1):-1].float()
    tgt = torch.tensor(target, dtype=torch.long, device=logits.device).expand(n, m)
    lp = torch.log_softmax(logits, dim=-1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    return lp.double().sum(-1).cpu().numpy()


def _common_prefix(a, b) -> int:
    n = min(len(a), len(b))
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if len(diff) else n


def _pack(lengths, n_bins: int) -> list[list[int]]:
    """Greedy balanced packing: longest first, each into the currently shortest bin."""
    bins, sizes = [[] for _ in range(n_bins)], [0] * n_bins
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        b = int(np.argmin(sizes))
        bins[b].append(i)
        sizes[b] += lengths[i]
    return [b for b in bins if b]


def _dims(model):
    """(hidden, intermediate, heads, key/value heads, head dim) of a decoder's config, or None."""
    cfg = getattr(model, "config", None)
    cfg = cfg.get_text_config(decoder=True) if hasattr(cfg, "get_text_config") else cfg
    try:
        h, inter, nh = cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads
    except AttributeError:
        return None
    kv = getattr(cfg, "num_key_value_heads", None) or nh
    return h, inter, nh, kv, getattr(cfg, "head_dim", None) or h // nh


def _attention_weight(model) -> float:
    """The arithmetic of attending to one more key, relative to the rest of a layer's work for one
    token (its linear maps), from the model's config: about 3e-4 for SmolLM2-135M, so a token that
    attends over 3,000 keys costs about twice a token's linear work."""
    dims = _dims(model)
    if dims is None:  # pragma: no cover - not a standard decoder config
        return 0.0
    h, inter, nh, kv, hd = dims
    return 2 * nh * hd / (h * nh * hd + 2 * h * kv * hd + nh * hd * h + 3 * h * inter)


def _call_overhead_tokens(model) -> float:
    """A forward call's fixed cost (launching every layer's kernels, reading every weight once) in
    tokens of linear work: a few dozen tokens for SmolLM2, thousands for a tiny test model."""
    dims = _dims(model)
    if dims is None:  # pragma: no cover
        return float("inf")
    h, inter, nh, kv, hd = dims
    return max(32.0, 2.5e8 / (h * nh * hd + 2 * h * kv * hd + nh * hd * h + 3 * h * inter))


def _prefer_one_call_per_variant(model, L, shared, lengths, bins) -> bool:
    """Whether scoring each variant in its own forward (cache cropped to its shared prefix: attention
    over exactly the keys it needs) is estimated cheaper than the packed batch (one call, but every
    query of a row attends over the whole cache and the whole row, masked). Costs in token-equivalents
    of linear work, with :func:`_attention_weight`."""
    a = _attention_weight(model)
    R = max(sum(lengths[i] for i in b) for b in bins)
    packed = len(bins) * R * (1 + a * (L + R))
    alone = sum(u * (1 + a * (s + u)) for s, u in zip(shared, lengths)) + _call_overhead_tokens(model) * (len(lengths) - 1)
    return alone < packed


@torch.inference_mode()
def ablation_logprobs(model, original, variants, target, pad_id: int = 0, pack_rows: int = 4,
                      layout: str = "auto") -> tuple[float, np.ndarray]:
    """``S`` (the summed log-probability of ``target``, the last ``m`` tokens) for ``original`` and
    for each of its ablated ``variants``: the original in one forward that keeps its KV cache, then
    ALL variants in one batch that reuses it (``layout="packed"``), or, where that is estimated
    cheaper, each variant in its own forward over the cache cropped to its shared prefix
    (``layout="each"``; long prompts, where the packed batch's masked attention dominates: with 30
    history titles on SmolLM2, 34 s a row against 52 s on the 2-core development machine;
    ``benchmarks/attribution.py``). ``"auto"`` picks by an estimate of the arithmetic
    (:func:`_prefer_one_call_per_variant`); the values agree to float rounding either way.

    A variant shares its first ``s_i`` tokens with the original (everything before its ablated
    feature; at most all but its last ``m + 1`` tokens), so only its *rest* ``v_i[s_i:]`` is computed.
    The rests are packed, balanced, into ``pack_rows`` rows, or more where that would make a row longer
    than the longest rest (fewer and longer rows: less padding but more attention work, which grows
    with the square of a row's length; 4 was fastest on a 2-core CPU with 10 history titles; with 30,
    the row limit took a row from 80 to 50 s there). A 4-D attention mask lets each token of
    variant ``i`` see the original's first ``s_i`` cached tokens and its own earlier tokens, and its
    position id continues from ``s_i``: each variant computes exactly what an unpadded forward of it
    computes (checked against one in the tests)."""
    from transformers import DynamicCache

    target = list(target)
    m = len(target)
    seqs = [list(original), *[list(v) for v in variants]]
    for s in seqs:
        if m == 0 or len(s) <= m or s[-m:] != target:
            raise ValueError("every sequence must end with the (non-empty) target and have a token before it")
    dev = _device(model)
    tgt = torch.tensor(target, dtype=torch.long, device=dev)

    def score(logits):  # [n, m, V] -> [n]
        lp = torch.log_softmax(logits.float(), dim=-1)
        return lp.gather(-1, tgt.expand(logits.size(0), m).unsqueeze(-1)).squeeze(-1).double().sum(-1).cpu().numpy()

    L = len(seqs[0])
    ids = torch.tensor([seqs[0]], dtype=torch.long, device=dev)
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, logits_to_keep=m + 1)
    s_orig = float(score(out.logits[:, :-1])[0])
    if not variants:
        return s_orig, np.zeros(0)
    cache = out.cache if hasattr(out, "cache") else out.past_key_values
    shared = [min(_common_prefix(seqs[0], v), len(v) - m - 1) for v in seqs[1:]]
    rests = [v[s:] for v, s in zip(seqs[1:], shared)]
    lengths = [len(r) for r in rests]
    n_rows = max(pack_rows, -(-sum(lengths) // max(lengths)))  # no row longer than the longest rest
    bins = _pack(lengths, max(1, min(n_rows, len(rests))))
    if layout not in ("auto", "packed", "each"):
        raise ValueError(f"layout must be 'auto', 'packed' or 'each', not {layout!r}")
    if layout == "each" or (layout == "auto" and _prefer_one_call_per_variant(model, L, shared, lengths, bins)):
        layers = [(layer.keys, layer.values) for layer in cache.layers]
        del out, cache
        scores = []
        for v, s in zip(seqs[1:], shared):
            kv = DynamicCache([(k[:, :, :s], val[:, :, :s]) for k, val in layers]) if s > 0 else None
            o = model(input_ids=torch.tensor([v[s:]], dtype=torch.long, device=dev),
                      attention_mask=torch.ones((1, len(v)), dtype=torch.long, device=dev),
                      position_ids=torch.arange(s, len(v), device=dev)[None], cache=kv, use_cache=kv is not None,
                      logits_to_keep=m + 1)
            scores.append(score(o.logits[:, :-1])[0])
        return s_orig, np.array(scores)
    n, R = len(bins), max(sum(len(rests[i]) for i in b) for b in bins)
    inp = torch.full((n, R), pad_id, dtype=torch.long)
    pos = torch.zeros((n, R), dtype=torch.long)
    allowed = torch.zeros((n, R, L + R), dtype=torch.bool)
    where = {}  # variant -> (row, column of its last token + 1)
    for r, members in enumerate(bins):
        off = R - sum(len(rests[i]) for i in members)
        allowed[r, :off, 0] = True  # padding queries look at one real token (no all-masked rows)
        for i in members:
            u, s = len(rests[i]), shared[i]
            inp[r, off:off + u] = torch.tensor(rests[i], dtype=torch.long)
            pos[r, off:off + u] = torch.arange(s, s + u)
            allowed[r, off:off + u, :s] = True
            allowed[r, off:off + u, L + off:L + off + u] = torch.ones(u, u, dtype=torch.bool).tril()
            off += u
            where[i] = (r, off)
    if getattr(model.config, "_attn_implementation", "sdpa") == "eager":
        dtype = next(model.parameters()).dtype
        mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    else:
        mask = allowed
    layers = [(layer.keys, layer.values) for layer in cache.layers]
    kv = DynamicCache([(k.expand(n, -1, -1, -1).contiguous(), v.expand(n, -1, -1, -1).contiguous()) for k, v in layers])
    del out, cache, layers
    # logits only at the columns that predict some variant's target tokens
    cols = sorted({c for (_, end) in where.values() for c in range(end - m - 1, end - 1)})
    col_of = {c: j for j, c in enumerate(cols)}
    out = model(input_ids=inp.to(dev), attention_mask=mask[:, None].to(dev), position_ids=pos.to(dev), cache=kv,
                use_cache=True, logits_to_keep=torch.tensor(cols, device=dev))
    rows_i = torch.tensor([where[i][0] for i in range(len(rests))], device=dev)
    idx = torch.tensor([[col_of[c] for c in range(where[i][1] - m - 1, where[i][1] - 1)] for i in range(len(rests))],
                       device=dev)
    logits = out.logits[rows_i[:, None], idx]  # [variants, m, V]
    return s_orig, score(logits)


def _row_pieces(tokenizer, row, catalog, preset, baseline, max_history, placeholder):
    """A row's placeholder id, history titles, prompt features, response ids and prefix index."""
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; use one of {BASELINES}")
    if baseline == "placeholder" and placeholder is None:
        placeholder = placeholder_id(tokenizer)
    titles = history_titles(row, catalog, max_history)
    title = catalog.title(row.target)
    return (placeholder, titles, prompt_features(tokenizer, preset, titles), encode_response(tokenizer, title),
            prefix_index(tokenizer, title))


def ablation_inputs(tokenizer, row, catalog, preset, baseline: str = "remove", max_history: int = 10,
                    placeholder: int | None = None):
    """The token sequences of one row's attribution: ``(original, variants, target, titles, response,
    k)``; ``variants`` in feature order (task, history titles oldest first, prefix), each ending with
    ``target`` (the response tokens after the prefix token ``response[k]``)."""
    placeholder, titles, feats, resp, k = _row_pieces(tokenizer, row, catalog, preset, baseline, max_history,
                                                      placeholder)
    P = feats.ids
    variants = [ablate(P, feats.task, baseline, placeholder) + resp]
    variants += [ablate(P, pos, baseline, placeholder) + resp for pos in feats.items]
    variants.append(P + ablate(resp, [k], baseline, placeholder))
    return P + resp, variants, resp[k + 1:], titles, resp, k


def ablation_arithmetic(model, original, variants, m: int) -> dict:
    """The arithmetic of one row's exact feature ablation, in multiply-adds, from the model's config:
    ``{"per_forward": ...}`` for the one-forward-per-ablation route (captum's: the original and every
    variant run whole, logits at every position), ``"shared_prefix"`` for ours (the original once;
    each variant only from its ablated feature on, over the cached tokens before it; logits only at
    the ``m + 1`` positions that score the target), and ``"bound"``, their ratio.

    Per token and layer, the linear maps cost ``lin`` and attending to ``n`` keys costs about
    ``att * n``; the output head costs ``hidden * vocab`` per position that gets logits. On a device
    whose time is proportional to its arithmetic (a CPU), no exact ablation that reuses only the
    unchanged prefix can beat captum by more than ``bound``: every token after an ablated feature
    attends to other tokens and must be recomputed. Explained in the appendix "Performance"."""
    cfg = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") else model.config
    h, inter, nh, kv, hd = _dims(model)
    layers, vocab = cfg.num_hidden_layers, cfg.vocab_size
    lin = h * nh * hd + 2 * h * kv * hd + nh * hd * h + 3 * h * inter
    att = 2 * nh * hd

    def body(tokens: int, cached: int) -> float:  # tokens after `cached` cached ones, causal attention
        keys = tokens * cached + tokens * (tokens + 1) / 2
        return layers * (tokens * lin + att * keys)

    seqs = [list(original), *[list(v) for v in variants]]
    per_forward = sum(body(len(s), 0) + len(s) * h * vocab for s in seqs)
    shared = [min(_common_prefix(seqs[0], v), len(v) - m - 1) for v in seqs[1:]]
    ours = body(len(seqs[0]), 0) + sum(body(len(v) - s, s) for v, s in zip(seqs[1:], shared))
    ours += len(seqs) * (m + 1) * h * vocab
    return {"per_forward": float(per_forward), "shared_prefix": float(ours), "bound": float(per_forward / ours)}


def feature_ablation(model, tokenizer, row, catalog, preset, baseline: str = "remove", max_history: int = 10,
                     placeholder: int | None = None) -> dict:
    """Contributions of the task, each history item and the prefix to one row's target (module
    docstring for the definitions). The input runs once; all its ablations run as one batch.

    Returns ``{"task", "items" (list, oldest first), "interaction", "interaction_abs", "prefix",
    "logp" (S of the intact input), "n_target", "n_history", "prefix_token", "target"}``.
    Explained in chapter 3, "How much the model leans on each feature".
    """
    original, variants, target, titles, resp, k = ablation_inputs(tokenizer, row, catalog, preset, baseline,
                                                                  max_history, placeholder)
    s0, s = ablation_logprobs(model, original, variants, target, _pad_id(tokenizer))
    drops = s0 - s
    items = [float(v) for v in drops[1:-1]]
    return {
        "target": int(row.target),
        "task": float(drops[0]),
        "items": items,
        "interaction": float(np.sum(items)) if items else 0.0,
        "interaction_abs": float(np.sum(np.abs(items))) if items else 0.0,
        "prefix": float(drops[-1]),
        "logp": s0,
        "n_target": len(target),
        "n_history": len(titles),
        "prefix_token": tokenizer.decode([resp[k]]),
    }


def attribute_rows(model, tokenizer, rows, catalog, preset, baseline: str = "remove", max_history: int = 10,
                   progress: bool = False) -> list[dict]:
    """:func:`feature_ablation` for each row (one batched forward per row), with the row's index."""
    from tqdm.auto import tqdm

    out = []
    for i, row in enumerate(tqdm(rows, desc="ablation", disable=not progress)):
        out.append({"row": i, **feature_ablation(model, tokenizer, row, catalog, preset, baseline, max_history)})
    return out


# ------------------------------------------------------------------------------ per token
def token_ablation_inputs(tokenizer, row, catalog, preset, baseline: str = "remove", max_history: int = 10,
                          placeholder: int | None = None, max_tokens: int | None = None, seed: int = 0):
    """The sequences of one row's *per-token* attribution: every task token and every interaction
    token is its own feature (one variant each, that token alone ablated), then the prefix token.
    ``max_tokens``: ablate a uniform random sample of at most this many tokens of each type
    (seeded by ``seed`` and the row), an unbiased estimate of the per-token means; None: all.
    Returns ``(original, variants, target, kinds, item_of, response, k, titles)`` where ``kinds[i]``
    is ``"task"``, ``"interaction"`` or ``"prefix"`` and ``item_of[i]`` the history index of an
    interaction token (-1 otherwise)."""
    placeholder, titles, feats, resp, k = _row_pieces(tokenizer, row, catalog, preset, baseline, max_history,
                                                      placeholder)
    task = list(feats.task)
    inter = [(p, j) for j, pos in enumerate(feats.items) for p in pos]
    if max_tokens is not None:
        rng = np.random.default_rng([seed, int(row.target), len(feats.ids)])
        if len(task) > max_tokens:
            task = sorted(rng.choice(task, max_tokens, replace=False).tolist())
        if len(inter) > max_tokens:
            keep = sorted(rng.choice(len(inter), max_tokens, replace=False).tolist())
            inter = [inter[i] for i in keep]
    P = feats.ids
    variants = [ablate(P, [p], baseline, placeholder) + resp for p in task]
    variants += [ablate(P, [p], baseline, placeholder) + resp for p, _ in inter]
    variants.append(P + ablate(resp, [k], baseline, placeholder))
    kinds = ["task"] * len(task) + ["interaction"] * len(inter) + ["prefix"]
    item_of = [-1] * len(task) + [j for _, j in inter] + [-1]
    return P + resp, variants, resp[k + 1:], kinds, item_of, resp, k, titles


def token_ablation(model, tokenizer, row, catalog, preset, baseline: str = "remove", max_history: int = 10,
                   placeholder: int | None = None, max_tokens: int | None = None, seed: int = 0,
                   chunk: int = 64) -> dict:
    """Per-token feature ablation of one row (the primary attribution view of chapter 3): the
    contribution ``c_i = S(x, y) - S(x with token i ablated, y)`` of every task token, every
    interaction token (a token of a history title) and the prefix token, on the same target ``S`` as
    :func:`feature_ablation` (the response after the prefix token). The variants run ``chunk`` at a
    time through :func:`ablation_logprobs` (each reuses the intact input's cached prefix), so memory
    stays bounded whatever the prompt's length.

    Returns ``{"target", "task_tokens", "interaction_tokens" (signed contributions), "item_of" (the
    history index of each interaction token), "prefix", "logp", "n_target", "n_history",
    "prefix_token", "sampled"}`` and the per-row means of :func:`attribution_parts`."""
    original, variants, target, kinds, item_of, resp, k, titles = token_ablation_inputs(
        tokenizer, row, catalog, preset, baseline, max_history, placeholder, max_tokens, seed)
    pad = _pad_id(tokenizer)
    drops, s0 = [], None
    for start in range(0, len(variants), chunk):
        s0, s = ablation_logprobs(model, original, variants[start:start + chunk], target, pad)
        drops.extend((s0 - s).tolist())
    kinds_a = np.array(kinds)
    d = np.asarray(drops, dtype=np.float64)
    return {
        "target": int(row.target),
        "task_tokens": d[kinds_a == "task"].tolist(),
        "interaction_tokens": d[kinds_a == "interaction"].tolist(),
        "item_of": [j for j, kind in zip(item_of, kinds) if kind == "interaction"],
        "prefix": float(d[-1]),
        "logp": float(s0),
        "n_target": len(target),
        "n_history": len(titles),
        "prefix_token": tokenizer.decode([resp[k]]),
        "sampled": max_tokens is not None,
    }


def attribute_tokens(model, tokenizer, rows, catalog, preset, baseline: str = "remove", max_history: int = 10,
                     max_tokens: int | None = None, seed: int = 0, progress: bool = False) -> list[dict]:
    """:func:`token_ablation` for each row, with the row's index."""
    from tqdm.auto import tqdm

    return [{"row": i, **token_ablation(model, tokenizer, row, catalog, preset, baseline, max_history,
                                         max_tokens=max_tokens, seed=seed)}
            for i, row in enumerate(tqdm(rows, desc="token ablation", disable=not progress))]


def attribution_parts(results, absolute: bool = True) -> dict[str, np.ndarray]:
    """Per row, the three amounts a ratio compares, for either view:

    * per-token results (:func:`token_ablation`): the mean contribution *per token* of each type,
      ``task = mean_{i in task} c_i``, ``interaction = mean_{i in history} c_i``, ``prefix = c_k``;
    * whole-feature results (:func:`feature_ablation`): ``task = c_task``,
      ``interaction = sum_j c_item_j``, ``prefix = c_prefix``.

    ``absolute=True`` takes |c| of every token (or feature) before the mean (or sum); ``False`` keeps
    the signs. A row with no token of a type gives NaN for it."""
    def mean(v):
        v = np.asarray(v, dtype=np.float64)
        v = np.abs(v) if absolute else v
        return float(v.mean()) if v.size else float("nan")

    if results and "task_tokens" in results[0]:
        task = [mean(r["task_tokens"]) for r in results]
        inter = [mean(r["interaction_tokens"]) for r in results]
    else:
        task = [abs(r["task"]) if absolute else r["task"] for r in results]
        inter = [r["interaction_abs"] if absolute else r["interaction"] for r in results]
    prefix = [abs(r["prefix"]) if absolute else r["prefix"] for r in results]
    return {"task": np.asarray(task, dtype=np.float64), "interaction": np.asarray(inter, dtype=np.float64),
            "prefix": np.asarray(prefix, dtype=np.float64)}


# ----------------------------------------------------------------------------------------- ratios
def _ratio(num, den):
    return num / den if den != 0 else float("nan")


def attribution_ratios(results, n_boot: int = 1000, seed: int = 0, absolute: bool = True, level: float = 0.95) -> dict:
    """Ratios task : interaction and prefix : interaction over a sample of rows, with bootstrap CIs.

    Ratio of means over the ``n`` rows: ``R_task = mean_i A_task(i) / mean_i A_int(i)`` and
    ``R_prefix = mean_i A_prefix(i) / mean_i A_int(i)``, with the per-row amounts ``A`` of
    :func:`attribution_parts`: for per-token results the mean contribution per token of each type
    (the primary view), for whole-feature results the task block against the summed history items.
    With ``absolute=True`` (the book's choice) contributions count by their size: how much the
    log-probability moves, whatever the direction, so a token that pushes the target down counts as
    reliance too. ``absolute=False`` uses the signed contributions.

    The interval: ``n_boot`` resamples of the rows with replacement (seeded), the ratio of means on
    each, and the ``(1 - level)/2`` and ``(1 + level)/2`` percentiles. A ratio with a zero denominator
    is NaN (left out of the percentiles).
    Returns ``{"n_rows", "task", "interaction", "prefix" (the means), "task:interaction" and
    "prefix:interaction": {"ratio", "lo", "hi"}}``.
    """
    if not results:
        raise ValueError("no attribution results: the ratio of nothing is undefined")
    parts = attribution_parts(results, absolute)
    task, inter, prefix = parts["task"], parts["interaction"], parts["prefix"]
    n = len(task)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    bt, bi, bp = task[idx].mean(1), inter[idx].mean(1), prefix[idx].mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rt = np.where(bi != 0, bt / bi, np.nan)
        rp = np.where(bi != 0, bp / bi, np.nan)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]

    def ci(x):
        x = x[~np.isnan(x)]
        return (float("nan"), float("nan")) if len(x) == 0 else tuple(float(v) for v in np.percentile(x, q))

    out = {"n_rows": n, "absolute": absolute, "task": float(task.mean()), "interaction": float(inter.mean()),
           "prefix": float(prefix.mean())}
    for key, num, boot in (("task:interaction", task, rt), ("prefix:interaction", prefix, rp)):
        lo, hi = ci(boot)
        out[key] = {"ratio": _ratio(float(num.mean()), float(inter.mean())), "lo": lo, "hi": hi}
    return out


def ratio_table(results_by_model: dict, n_boot: int = 1000, seed: int = 0, absolute: bool = True):
    """One row per model: both ratios with their intervals and the mean contributions (a DataFrame)."""
    import pandas as pd

    rows = []
    for name, res in results_by_model.items():
        r = attribution_ratios(res, n_boot=n_boot, seed=seed, absolute=absolute)
        rows.append({"model": name, "task:interaction": r["task:interaction"]["ratio"],
                     "task lo": r["task:interaction"]["lo"], "task hi": r["task:interaction"]["hi"],
                     "prefix:interaction": r["prefix:interaction"]["ratio"],
                     "prefix lo": r["prefix:interaction"]["lo"], "prefix hi": r["prefix:interaction"]["hi"],
                     "mean task": r["task"], "mean interaction": r["interaction"], "mean prefix": r["prefix"],
                     "rows": r["n_rows"]})
    return pd.DataFrame(rows).set_index("model")


def ratio_numbers(table) -> dict[str, float]:
    """Flat numbers of a :func:`ratio_table` for the text: ``MODEL_task_ratio``, ``MODEL_task_lo``,
    ``MODEL_task_hi`` and the same with ``prefix``."""
    out = {}
    for name, r in table.iterrows():
        for feat in ("task", "prefix"):
            out[f"{name}_{feat}_ratio"] = float(r[f"{feat}:interaction"])
            out[f"{name}_{feat}_lo"] = float(r[f"{feat} lo"])
            out[f"{name}_{feat}_hi"] = float(r[f"{feat} hi"])
    return out


def explain_row(result: dict, row, catalog, max_history: int = 10):
    """One row's contributions, feature by feature, with the text each feature covers (a DataFrame)."""
    import pandas as pd

    titles = history_titles(row, catalog, max_history)
    recs = [{"feature": "task", "text": "(the instruction sentence)", "contribution": result["task"]}]
    recs += [{"feature": f"item {j + 1}", "text": t, "contribution": c} for j, (t, c) in enumerate(zip(titles, result["items"]))]
    recs.append({"feature": "interaction (sum)", "text": "", "contribution": result["interaction"]})
    recs.append({"feature": "prefix", "text": repr(result["prefix_token"]), "contribution": result["prefix"]})
    return pd.DataFrame(recs).set_index("feature")


def contributions_frame(results_by_model: dict):
    """Long table of per-row contributions: model, row, feature (task / interaction / prefix), value
    (signed) — the data behind the box plots."""
    import pandas as pd

    recs = []
    for name, res in results_by_model.items():
        for r in res:
            for feat in ("task", "interaction", "prefix"):
                recs.append({"model": name, "row": r["row"], "feature": feat, "value": r[feat]})
    return pd.DataFrame(recs)
