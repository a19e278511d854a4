"""Constrained beam search (CBS) over the catalog trie (docs/design.md §4).

How it works (explained in chapter 1, "Constrained beam search"):

* Several prompts share one forward pass (left padding, with the attention mask and position ids
  that padding needs). Each prompt is prefilled ONCE and its KV cache is shared by its beams, in one
  of two ways (``kv=``):

  - ``"tree"``: the cache keeps ONE row per prompt. A step feeds the prompt's live beams as
    ``S <= num_beams`` query positions of that row, all at the same position id, with a 4-D attention
    mask that lets each beam see the prompt and its own ancestors only (tree attention). The prompt's
    keys and values are never copied, and no cache reordering is needed: cache traffic per step is
    ``prompt + beams x steps`` tokens per prompt instead of ``beams x (prompt + steps)``.
  - ``"reorder"``: the classic way: after the prefill, the cache row of each prompt is gathered for
    each of its beams (``Cache.reorder_cache``), and re-gathered by parent beam at every step. Works
    with any model and cache class; slower with long prompts.
  - ``"auto"`` (default): ``"tree"`` where a ready 4-D additive mask is honoured unchanged (``sdpa`` or
    ``eager`` attention, full attention on every layer), else ``"reorder"``.

  Finished prompts leave the batch; the cache only ever holds live work. Two things keep a tree step
  cheap (same arithmetic, so the same results; ``benchmarks/cbs_vs_hf.py``): each cache layer keeps
  its keys and values in a buffer with room to grow, so a step writes its ``S`` new slots in place
  instead of copying the whole cache (``_growing_cache``); and with grouped-query attention the query
  heads that share a key/value head are stacked along the query axis, so the keys and values are never
  repeated per query head (``_tree_sdpa``, used for ``sdpa`` models during the steps only).
* Each live beam has a trie node, a cumulative log-prob and its prompt. One step expands every beam
  along the CSR edges of its node at once (no Python loop over beams or tokens):
  candidates = (beam, allowed token, child node).
* A candidate's log-prob is the model's log-softmax over the full vocabulary at that token
  (``mask="after"``, what HF ``prefix_allowed_tokens_fn`` gives), or the log-softmax over the allowed
  tokens only (``mask="before"``: the scores then form a proper distribution over the catalog).
* A candidate reaching the end of a path (EOS, a leaf) is a finished hypothesis with score
  ``sum_logprob / length ** length_penalty`` (length = generated tokens, EOS included: the HF
  convention; ``length_penalty=0`` gives the plain sum). The best ``num_beams`` finished are kept per
  prompt. Candidates whose node has children compete for the ``num_beams`` live slots by cumulative
  log-prob.
* Stopping: when no live beam remains. A live beam is dropped early only when an exact bound proves it
  cannot beat the worst of ``num_beams`` kept finished hypotheses, so results are those of the search
  run to exhaustion. Log-probs are <= 0, so the sum only decreases; the trie gives the fewest and most
  tokens still to come (``Trie.height_min/height_max``). With ``length_penalty <= 0`` the bound is
  ``sum * (t + height_min) ** -length_penalty`` (the plain sum when 0); with ``length_penalty > 0``
  it is ``sum / (t + height_max) ** length_penalty``, which only bites near the leaves.

Distinct trie paths give distinct nodes, so the results never repeat a title and never leave the
catalog; there are ``min(num_beams, len(trie))`` of them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from contextlib import contextmanager
from functools import lru_cache

import torch

from .trie import Trie


def _ragged_topk(group: torch.Tensor, score: torch.Tensor, k: int, n_groups: int):
    """The ``k`` best scores of each group: (indices, rank within group), ordered by group, then score
    (descending). Ties keep the original order (stable sorts), so earlier elements win."""
    if group.numel() == 0:
        return group, group
    order = torch.argsort(score, descending=True, stable=True)
    order = order[torch.argsort(group[order], stable=True)]
    g = group[order]
    counts = torch.bincount(g, minlength=n_groups)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(g.numel(), device=g.device) - starts[g]
    keep = rank < k
    return order[keep], rank[keep]


def _cache_of(out):
    return out.cache if hasattr(out, "cache") else out.past_key_values


def _base_model(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _supports_logits_to_keep(model) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(_base_model(model).forward).parameters
    except (TypeError, ValueError):
        return False


def tree_attention_supported(model) -> bool:
    """True where a ready 4-D additive attention mask reaches every layer unchanged: ``sdpa`` or
    ``eager`` attention and full (not sliding-window or linear) attention on every layer."""
    cfg = _base_model(model).config
    cfg = cfg.get_text_config(decoder=True) if hasattr(cfg, "get_text_config") else cfg
    if getattr(cfg, "_attn_implementation", None) not in ("sdpa", "eager"):
        return False
    if getattr(cfg, "sliding_window", None) or getattr(cfg, "attention_chunk_size", None):
        return False
    types = getattr(cfg, "layer_types", None)
    return not types or all(t == "full_attention" for t in types)


# ----------------------------------------------------------------------------------- speed paths
_TREE_ATTN = "gdrt_tree_sdpa"
# The two speed paths of the tree steps (module docstring). False: HF's own sdpa path and a plain
# dynamic cache, for measuring what they save (benchmarks/cbs_speedups.py); results are the same.
FAST_TREE_STEPS = True


def _tree_sdpa(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    """``sdpa`` attention for the tree steps without ``repeat_kv``: HF's sdpa path copies every cached
    key and value once per query head that shares it (grouped-query attention); here the ``n_rep`` query
    heads of a key/value head are stacked along the query axis instead (``[C, H, S, D]`` ->
    ``[C, H / n_rep, n_rep * S, D]``) and the ``[C, 1, S, K]`` mask repeated to match. Every query row
    computes exactly what it computes in HF's path."""
    n_rep = getattr(module, "num_key_value_groups", 1)
    C, H, S, D = query.shape
    if n_rep > 1:
        query = query.reshape(C, H // n_rep, n_rep * S, D)
        if attention_mask is not None:
            attention_mask = attention_mask.repeat(1, 1, n_rep, 1)
    out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, scale=scaling)
    return out.reshape(C, H, S, D).transpose(1, 2).contiguous(), None


def _text_config(model):
    cfg = _base_model(model).config
    return cfg.get_text_config(decoder=True) if hasattr(cfg, "get_text_config") else cfg


@contextmanager
def _tree_attention(model):
    """During the block, the model's ``sdpa`` layers call :func:`_tree_sdpa` (restored afterwards).
    Other attention implementations are left alone."""
    cfg = _text_config(model)
    old = getattr(cfg, "_attn_implementation_internal", None)
    if old != "sdpa" or not FAST_TREE_STEPS:
        yield
        return
    from transformers import AttentionInterface

    if _TREE_ATTN not in AttentionInterface._global_mapping:
        AttentionInterface.register(_TREE_ATTN, _tree_sdpa)
    cfg._attn_implementation_internal = _TREE_ATTN
    try:
        yield
    finally:
        cfg._attn_implementation_internal = old


def _growing_cache(cache, extra: int):
    """Swap the plain dynamic layers of ``cache`` for growing ones (:func:`_growing_layer_class`), in
    place; returns it."""
    try:
        from transformers.cache_utils import DynamicLayer
    except ImportError:  # pragma: no cover - older transformers: keep the cache as it is
        return cache
    layers = getattr(cache, "layers", None)
    if layers is None:  # pragma: no cover
        return cache
    for i, layer in enumerate(layers):
        if type(layer) is DynamicLayer and layer.is_initialized and layer.keys is not None and layer.keys.dim() == 4:
            layers[i] = _growing_layer_class().from_layer(layer, extra)
    return cache


@lru_cache(maxsize=None)
def _growing_layer_class():
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A dynamic cache layer whose keys and values sit at the front of a larger buffer: ``update``
        writes the new positions in place (no ``torch.cat`` copy of the whole cache per step); the
        buffer grows by twice its last spare room when full. ``keys``/``values`` are views of the filled
        part."""

        @classmethod
        def from_layer(cls, layer, extra: int):
            self = cls()
            self.device, self.is_initialized = layer.keys.device, True
            self._n, self._room = layer.keys.shape[-2], max(1, extra)
            self._k = self._alloc(layer.keys, self._n + extra)
            self._v = self._alloc(layer.values, self._n + extra)
            self._views()
            return self

        @staticmethod
        def _alloc(t, capacity):
            buf = t.new_empty((*t.shape[:-2], capacity, t.shape[-1]))
            buf[..., : t.shape[-2], :] = t
            return buf

        def _views(self):
            self.keys, self.values = self._k[..., : self._n, :], self._v[..., : self._n, :]

        def update(self, key_states, value_states, *args, **kwargs):
            m = key_states.shape[-2]
            cap = self._k.shape[-2]
            if self._n + m > cap:
                self._room *= 2
                cap = self._n + m + self._room
                self._k, self._v = self._alloc(self.keys, cap), self._alloc(self.values, cap)
            self._k[..., self._n : self._n + m, :] = key_states
            self._v[..., self._n : self._n + m, :] = value_states
            self._n += m
            self._views()
            return self.keys, self.values

        def reorder_cache(self, beam_idx):
            idx = beam_idx.to(self._k.device)
            self._k, self._v = self._k.index_select(0, idx), self._v.index_select(0, idx)
            self._views()

        def batch_select_indices(self, indices):  # pragma: no cover - not used by the search
            self._k, self._v = self._k[indices], self._v[indices]
            self._views()

        def crop(self, tokens_to_remove):  # pragma: no cover - not used by the search
            if tokens_to_remove < 0:
                self._n = max(0, self._n + tokens_to_remove)
                self._views()
            else:
                super().crop(tokens_to_remove)

        def reset(self):  # pragma: no cover - not used by the search
            self._k = self._v = None
            super().reset()

    return GrowingLayer



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
    kv: str = "auto",
    *,
    prune: bool = True,
) -> list[list[tuple[str, float]]]:
    """Per prompt, up to ``min(num_beams, len(trie))`` distinct catalog titles with their final scores,
    best first.

    ``prompts`` are full model inputs (``gdrt.data.prompts.build_prompt``), tokenised with
    ``encode_prompt``; ``trie`` comes from :func:`gdrt.decoding.trie.build_trie`. ``batch_size`` prompts
    share a forward pass. ``mask``: ``"after"`` (log-softmax over the vocabulary, then restrict) or
    ``"before"`` (log-softmax over the allowed tokens). ``kv``: ``"auto"``, ``"tree"`` or ``"reorder"``
    (how beams share the prompt's KV cache; see the module docstring; results agree to float
    rounding). ``prune=False`` switches off the exact early drop of hopeless beams (same results,
    slower; for checking). Titles sharing one token path are returned once, under ``trie.titles[entry]`` (see
    :meth:`Trie.aliases`).
    """
    from gdrt.data.prompts import encode_prompt

    if mask not in ("after", "before"):
        raise ValueError(f"mask must be 'after' or 'before', not {mask!r}")
    if kv not in ("auto", "tree", "reorder"):
        raise ValueError(f"kv must be 'auto', 'tree' or 'reorder', not {kv!r}")
    if num_beams < 1 or batch_size < 1:
        raise ValueError("num_beams and batch_size must be >= 1")
    tree = tree_attention_supported(model) if kv == "auto" else kv == "tree"
    device = next(model.parameters()).device
    if trie.indptr.device != device:
        trie.to(device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [encode_prompt(tokenizer, p) for p in prompts]
    if any(len(x) == 0 for x in encoded):
        raise ValueError("empty prompt")
    search = _Search(model, trie, num_beams, length_penalty, mask, tree, pad_id, device, prune)
    # longest first: prompts of similar length share a batch (less padding); results are per prompt
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    results: list[list[tuple[str, float]] | None] = [None] * len(prompts)
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        for i, r in zip(idx, search.run([encoded[i] for i in idx])):
            results[i] = r
    return results  # type: ignore[return-value]


class _Search:
    def __init__(self, model, trie, num_beams, length_penalty, mask, tree, pad_id, device, prune):
        self.prune = prune
        self.model, self.trie, self.B = model, trie, num_beams
        self.lp, self.mask, self.tree, self.pad_id, self.device = length_penalty, mask, tree, pad_id, device
        self.ltk = {"logits_to_keep": 1} if _supports_logits_to_keep(model) else {}
        self.dtype = next(model.parameters()).dtype
        if not self.dtype.is_floating_point:  # quantised weights: use the embedding's dtype
            self.dtype = model.get_input_embeddings().weight.dtype

    # ------------------------------------------------------------------ the search
    def run(self, batch_ids: list[list[int]]) -> list[list[tuple[str, float]]]:
        dev, B, trie = self.device, self.B, self.trie
        P = self.n_prompts = len(batch_ids)
        L = max(len(x) for x in batch_ids)
        ids = torch.full((P, L), self.pad_id, dtype=torch.long)
        pmask = torch.zeros((P, L), dtype=torch.long)
        for r, x in enumerate(batch_ids):  # left padding
            ids[r, L - len(x) :] = torch.tensor(x, dtype=torch.long)
            pmask[r, L - len(x) :] = 1
        ids, pmask = ids.to(dev), pmask.to(dev)
        self.pmask = pmask  # per cache row (tree) or per prompt (reorder); shrinks with the batch
        self.plen = pmask.sum(1)  # real prompt lengths = position id of the first generated token
        pos = (pmask.cumsum(1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=pmask, position_ids=pos, use_cache=True, **self.ltk)
        self.cache = _cache_of(out)
        if self.tree and FAST_TREE_STEPS:  # each step appends up to num_beams slots per cache row
            self.cache = _growing_cache(self.cache, extra=8 * B)
        logits = out.logits[:, -1].float()  # (rows, V)

        # live beams ("rows"): prompt, trie node, cumulative log-prob; in tree mode also the cache row
        # (``row_c``) and query slot (``row_s``) whose output holds the row's logits
        row_prompt = torch.arange(P, device=dev)
        row_node = torch.zeros(P, dtype=torch.long, device=dev)
        row_score = torch.zeros(P, dtype=torch.float32, device=dev)
        self.alive = torch.arange(P, device=dev)  # prompt of each cache row (tree) / pmask row
        self.row_c, self.row_s = torch.arange(P, device=dev), torch.zeros(P, dtype=torch.long, device=dev)
        self.anc = torch.zeros((P, 1, 0), dtype=torch.bool, device=dev)  # tree: ancestors among generated
        # finished hypotheses, ragged, sorted by prompt then final score
        fin_prompt = torch.zeros(0, dtype=torch.long, device=dev)
        fin_score = torch.zeros(0, dtype=torch.float32, device=dev)
        fin_entry = torch.zeros(0, dtype=torch.long, device=dev)
        indptr, tokens, children, terminal = trie.indptr, trie.tokens, trie.children, trie.terminal

        t = 0  # tokens generated so far
        while True:
            R = row_node.numel()
            # ---- expand every live beam along its node's edges (CSR gather)
            start = indptr[row_node]
            cnt = indptr[row_node + 1] - start
            cand_row = torch.repeat_interleave(torch.arange(R, device=dev), cnt)
            offs = torch.arange(cand_row.numel(), device=dev) - (torch.cumsum(cnt, 0) - cnt)[cand_row]
            edge = start[cand_row] + offs
            tok, child = tokens[edge], children[edge]
            raw = logits[cand_row, tok]
            if self.mask == "after":
                lp = raw - torch.logsumexp(logits, dim=-1)[cand_row]
            else:  # log-softmax over the allowed tokens of each beam
                mx = torch.full((R,), float("-inf"), device=dev).scatter_reduce(0, cand_row, raw, "amax")
                ssum = torch.zeros(R, device=dev).index_add_(0, cand_row, torch.exp(raw - mx[cand_row]))
                lp = raw - (mx + torch.log(ssum))[cand_row]
            cum = row_score[cand_row] + lp
            cand_prompt = row_prompt[cand_row]
            length = t + 1

            # ---- finished: candidates ending a path; keep the best B per prompt
            term = terminal[child]
            is_fin = term >= 0
            if bool(is_fin.any()):
                all_prompt = torch.cat([fin_prompt, cand_prompt[is_fin]])
                all_score = torch.cat([fin_score, cum[is_fin] / (length**self.lp)])
                all_entry = torch.cat([fin_entry, term[is_fin]])
                keep, _ = _ragged_topk(all_prompt, all_score, B, P)
                fin_prompt, fin_score, fin_entry = all_prompt[keep], all_score[keep], all_entry[keep]

            # ---- live: candidates with children that can still beat the worst kept finished one
            is_live = indptr[child + 1] > indptr[child]
            if self.prune and fin_prompt.numel() >= B:
                full = torch.bincount(fin_prompt, minlength=P) >= B
                worst = torch.full((P,), float("-inf"), device=dev).scatter_reduce(0, fin_prompt, fin_score, "amin")
                worst = torch.where(full, worst, torch.full_like(worst, float("-inf")))
                if self.lp > 0:
                    best = cum / (length + trie.height_max[child]).float() ** self.lp
                else:
                    best = cum * (length + trie.height_min[child]).float() ** (-self.lp)
                is_live &= best > worst[cand_prompt]
            live = is_live.nonzero().squeeze(1)
            if live.numel() == 0:
                break
            pick, slot = _ragged_topk(cand_prompt[live], cum[live], B, P)
            sel = live[pick]
            parent = cand_row[sel]
            row_prompt, row_node, row_score = cand_prompt[sel], child[sel], cum[sel]
            new_tok = tok[sel]

            # ---- one decoding step for the surviving beams
            t += 1
            if self.tree:
                with _tree_attention(self.model):
                    logits = self._step_tree(parent, row_prompt, slot, new_tok, t)
            else:
                logits = self._step_reorder(parent, row_prompt, slot, new_tok, t)

        fp, fs, fe = fin_prompt.tolist(), fin_score.tolist(), fin_entry.tolist()
        res: list[list[tuple[str, float]]] = [[] for _ in range(P)]
        for p, s, e in zip(fp, fs, fe):
            res[p].append((trie.titles[e], s))
        del self.cache
        return res

    # ------------------------------------------------------------------ KV strategies
    def _step_reorder(self, parent, row_prompt, slot, new_tok, t):
        """One cache row per beam, gathered by parent beam."""
        self.cache.reorder_cache(parent)
        n = new_tok.numel()
        attn = torch.cat(
            [self.pmask[row_prompt], torch.ones((n, t), dtype=torch.long, device=self.device)], dim=1
        )
        pos = (self.plen[row_prompt] + (t - 1)).unsqueeze(1)
        out = self.model(input_ids=new_tok.unsqueeze(1), attention_mask=attn, position_ids=pos, cache=self.cache, use_cache=True)
        self.cache = _cache_of(out)
        return out.logits[:, -1].float()

    def _step_tree(self, parent, row_prompt, slot, new_tok, t):
        """One cache row per prompt; its beams are ``S`` query slots with a tree-shaped 4-D mask."""
        dev = self.device
        # drop prompts without live beams from the cache batch
        present = torch.zeros(self.n_prompts, dtype=torch.bool, device=dev)
        present[row_prompt] = True
        keep_c = present[self.alive].nonzero().squeeze(1)
        parent_c, parent_s = self.row_c[parent], self.row_s[parent]
        if keep_c.numel() < self.alive.numel():
            self.cache.reorder_cache(keep_c)
            remap = torch.full((self.alive.numel(),), -1, dtype=torch.long, device=dev)
            remap[keep_c] = torch.arange(keep_c.numel(), device=dev)
            parent_c = remap[parent_c]
            self.alive, self.anc = self.alive[keep_c], self.anc[keep_c]
            self.pmask, self.plen = self.pmask[keep_c], self.plen[keep_c]
        C = self.alive.numel()
        S = int(slot.max()) + 1
        G = self.anc.shape[2]
        # ancestry: a beam sees its parent's ancestors and its own new token
        anc = torch.zeros((C, S, G + S), dtype=torch.bool, device=dev)
        anc[parent_c, slot, :G] = self.anc[parent_c, parent_s]
        anc[:, torch.arange(S, device=dev), G + torch.arange(S, device=dev)] = True  # empty slots: only themselves
        self.anc = anc
        L = self.pmask.shape[1]
        allowed = torch.cat([self.pmask.bool().unsqueeze(1).expand(C, S, L), anc], dim=2)
        mask4d = torch.zeros(allowed.shape, dtype=self.dtype, device=dev)
        mask4d.masked_fill_(~allowed, torch.finfo(self.dtype).min)
        inp = torch.full((C, S), self.pad_id, dtype=torch.long, device=dev)
        inp[parent_c, slot] = new_tok
        pos = (self.plen + (t - 1)).unsqueeze(1).expand(C, S)
        out = self.model(input_ids=inp, attention_mask=mask4d.unsqueeze(1), position_ids=pos, cache=self.cache, use_cache=True)
        self.cache = _cache_of(out)
        self.row_c, self.row_s = parent_c, slot
        return out.logits[parent_c, slot].float()
