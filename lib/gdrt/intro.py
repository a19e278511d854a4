"""Small helpers of chapter 1 (the task, the prompt, SFT's objective, constrained beam search, live on
a few real prompts). Each returns a value the chapter shows: a dict, a list or a pandas DataFrame.
Explained in chapter 1; the sections are named in each docstring."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from .data.prompts import HEADER, build_prompt, encode_prompt, encode_response, history_text, response_text
from .decoding.scoring import continuation_logprobs, sequence_logprobs
from .training.examples import IGNORE, history_titles, row_prompt


def _tok_str(tokenizer, i: int) -> str:
    """A token as readable text: its decoded string, quoted (so spaces and newlines show)."""
    return repr(tokenizer.decode([int(i)]))


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ----------------------------------------------------------------------------- the task
def model_card(lm) -> dict:
    """What the loaded model is: parameters, layers, width, vocabulary, EOS/BOS. ("The model")"""
    cfg = lm.model.config
    tok = lm.tokenizer
    return {
        "class": type(lm.model).__name__,
        "parameters (M)": round(sum(p.numel() for p in lm.model.parameters()) / 1e6, 1),
        "layers": cfg.num_hidden_layers,
        "hidden size": cfg.hidden_size,
        "vocabulary": len(tok),
        "EOS token": f"{tok.eos_token} (id {tok.eos_token_id})",
        "adds BOS": bool(tok.bos_token_id is not None and encode_prompt(tok, "x")[:1] == [tok.bos_token_id]),
    }


def history_table(row, catalog, max_history: int = 10) -> pd.DataFrame:
    """A test row as the model sees it: the last ``max_history`` items (oldest first), then the target.
    ("The task")"""
    hist = list(row.history[-max_history:])
    ids = hist + [row.target]
    roles = [f"history {k + 1}" for k in range(len(hist))] + ["target (next item)"]
    return pd.DataFrame({"item id": ids, "title": [catalog.title(i) for i in ids]}, index=pd.Index(roles, name="role"))


# ----------------------------------------------------------------------------- the prompt
def prompt_parts(tokenizer, preset, titles: Sequence[str]) -> pd.DataFrame:
    """The prompt of ``titles`` cut into its parts, with characters and tokens per part. Each token is
    counted in the part where it starts, on the prompt's real tokenisation, so the token column sums to
    ``len(encode_prompt(tokenizer, prompt))``. ``kind`` is "auxiliary" (task description) or
    "interaction" (the history titles). ("The prompt")"""
    prompt = build_prompt(preset, titles)
    items = history_text(preset, titles)
    lead = items[: len(items) - len(", ".join(f'"{t}"' for t in titles))]
    i_input = prompt.index("### Input:")
    i_hist = prompt.index(items) + len(lead)
    i_end = prompt.index(items) + len(items)
    cuts = [0, len(HEADER), i_input, i_hist, i_end, len(prompt)]
    names = ["system header", "### Instruction + task", "### Input + lead-in", "history titles", "### Response marker"]
    kinds = ["auxiliary", "auxiliary", "auxiliary", "interaction", "auxiliary"]
    enc = tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True)
    starts = np.array([s if e > s else -1 for s, e in enc["offset_mapping"]])  # special tokens: (0, 0)
    part = np.searchsorted(np.array(cuts[1:]), np.maximum(starts, 0), side="right")
    counts = np.bincount(part, minlength=len(names))[: len(names)]
    df = pd.DataFrame({"kind": kinds, "characters": np.diff(cuts), "tokens": counts}, index=pd.Index(names, name="part"))
    df["share of tokens"] = (df["tokens"] / df["tokens"].sum()).round(3)
    return df


def response_tokens(tokenizer, title: str) -> pd.DataFrame:
    """The response of ``title`` token by token: ``'"Title"'`` tokenised alone, then EOS. ("The response")"""
    ids = encode_response(tokenizer, title)
    return pd.DataFrame({"id": ids, "token": [_tok_str(tokenizer, i) for i in ids]},
                        index=pd.RangeIndex(1, len(ids) + 1, name="t"))


def boundary_table(tokenizer, prompt: str, title: str, n_show: int = 3) -> pd.DataFrame:
    """The response's first tokens under three tokenisations: the training/trie way (prompt and
    response encoded separately), the whole string encoded at once, and the whole string with a
    trailing space after ``### Response:`` (the bug of one reference codebase). ``same as training``
    compares all response ids. ("Why training and inference must tokenise identically")"""
    train = encode_response(tokenizer, title)[:-1]
    rows = {"separately (training, trie)": train}
    for name, sep in (("prompt + response at once", ""), ("... with a trailing space", " ")):
        text = prompt + sep + response_text(title)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        rows[name] = [i for i, (s, e) in zip(enc["input_ids"], enc["offset_mapping"]) if e > len(prompt)]
    return pd.DataFrame(
        {"first tokens": [" ".join(_tok_str(tokenizer, i) for i in ids[:n_show]) for ids in rows.values()],
         "first id": [ids[0] for ids in rows.values()],
         "same as training": [ids == train for ids in rows.values()]},
        index=pd.Index(list(rows), name="tokenised"))


# ----------------------------------------------------------------------------- SFT (Eq. 1)
def response_nll(model, example) -> torch.Tensor:
    """``-log P(y_t | x, y_<t)`` of each response token of a training example (the terms of Eq. 1)."""
    k = sum(1 for lab in example.labels if lab != IGNORE)
    prompt, resp = example.input_ids[:-k], example.input_ids[-k:]
    return -sequence_logprobs(model, [(prompt, resp)])[0]


def labels_table(example, tokenizer, nll=None, context: int = 4) -> pd.DataFrame:
    """The last ``context`` prompt tokens and every response token of an example, with the label the
    loss sees (-100 = ignored) and, given ``nll``, each response token's loss term. ("SFT's objective")"""
    n_resp = sum(1 for lab in example.labels if lab != IGNORE)
    start = len(example.input_ids) - n_resp - context
    ids, labels = example.input_ids[start:], example.labels[start:]
    df = pd.DataFrame({"token": [_tok_str(tokenizer, i) for i in ids], "input id": ids, "label": labels,
                       "in the loss": [lab != IGNORE for lab in labels]},
                      index=pd.RangeIndex(start + 1, len(example.input_ids) + 1, name="position"))
    if nll is not None:
        df["-log P"] = [np.nan] * context + [round(float(x), 3) for x in nll]
    return df


# ----------------------------------------------------------------------------- the bias question
def history_effect(model, tokenizer, rows, catalog, preset, max_history: int = 10) -> pd.DataFrame:
    """Per row: the target's log-probability (sum over its response tokens) given the real prompt and
    given the prompt with the history replaced by ``N/A``. ("A first glimpse of the bias question")"""
    out = []
    for row in rows:
        title = catalog.title(row.target)
        resp = encode_response(tokenizer, title)
        with_h = continuation_logprobs(model, encode_prompt(tokenizer, row_prompt(row, catalog, preset, max_history)), [resp])[0]
        without = continuation_logprobs(model, encode_prompt(tokenizer, build_prompt(preset, None)), [resp])[0]
        out.append({"target": _short(title, 60), "tokens": len(resp), "log P with history": float(with_h.sum()),
                    "log P with N/A": float(without.sum()), "gain from history": float(with_h.sum() - without.sum())})
    return pd.DataFrame(out, index=pd.RangeIndex(1, len(out) + 1, name="prompt")).round(2)


# ----------------------------------------------------------------------------- the trie
def node_depths(trie) -> np.ndarray:
    """Depth of every trie node (root 0): the number of response tokens generated to reach it."""
    indptr = np.asarray(trie._indptr)
    children = np.asarray(trie._children)
    depth = np.zeros(trie.n_nodes, dtype=np.int64)
    parent_of_edge = np.searchsorted(indptr, np.arange(len(children)), side="right") - 1
    # nodes are numbered breadth-first, so a parent always precedes its children
    for e in np.argsort(children, kind="stable"):
        depth[children[e]] = depth[parent_of_edge[e]] + 1
    return depth


def trie_levels(trie, steps: int = 6) -> pd.DataFrame:
    """For the first ``steps`` decoding steps: how many distinct prefixes the trie holds there and how
    many next tokens a beam may choose from (mean and max over the prefixes). ("Constrained beam search")"""
    depth = node_depths(trie)
    width = np.diff(np.asarray(trie._indptr))
    rows = []
    for d in range(min(steps, int(depth.max()) + 1)):
        w = width[(depth == d) & (width > 0)]
        rows.append({"prefixes": int((depth == d).sum()), "mean allowed": round(float(w.mean()), 1) if len(w) else 0.0,
                     "max allowed": int(w.max()) if len(w) else 0})
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="step"))


def path_widths(trie, tokenizer, title: str) -> pd.DataFrame:
    """Along ``title``'s path: at each step the token taken, how many tokens were allowed, and how many
    catalog titles are still reachable after taking it. ("Constrained beam search")"""
    ids = encode_response(tokenizer, title)
    seqs = trie.sequences
    node, rows = 0, []
    for t, tok in enumerate(ids):
        allowed = len(trie.allowed(node))
        node = trie.child(node, tok)
        if node < 0:
            raise ValueError(f"{title!r} is not in the trie")
        reachable = sum(1 for s in seqs if len(s) > t and s[: t + 1] == tuple(ids[: t + 1]))
        rows.append({"token": _tok_str(tokenizer, tok), "allowed": allowed, "titles reachable": reachable})
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="step"))


# ----------------------------------------------------------------------------- live decoding
def live_prompts(rows, catalog, preset, max_history: int = 10) -> list[str]:
    """The exact prompts of ``rows`` (what training and the evaluation use)."""
    return [row_prompt(r, catalog, preset, max_history) for r in rows]


def target_rank(result, row, catalog) -> int:
    """0-based rank of the first returned title whose ids contain the target id; -1 if none (a miss)."""
    for k, (title, _) in enumerate(result):
        if row.target in catalog.title2ids.get(title, ()):
            return k
    return -1


def live_table(results, rows, catalog, k: int = 5, max_history: int = 10) -> pd.DataFrame:
    """The top ``k`` titles of every prompt, with score, whether it is the target, and whether it is one
    of the user's history items. Indexed by (prompt, rank). ("Live on real prompts")"""
    out = []
    for p, (res, row) in enumerate(zip(results, rows), start=1):
        hist = set(history_titles(row, catalog, max_history))
        for r, (title, score) in enumerate(res[:k], start=1):
            out.append({"prompt": p, "rank": r, "title": _short(title), "score": round(score, 3),
                        "target": row.target in catalog.title2ids.get(title, ()), "in history": title in hist})
    return pd.DataFrame(out).set_index(["prompt", "rank"])


@torch.inference_mode()
def greedy_continuations(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 48) -> list[dict]:
    """Unconstrained greedy decoding of each prompt (``model.generate``, no trie): the generated text
    up to EOS, and whether EOS came within ``max_new_tokens``. ("Why constraints")"""
    out = []
    device = next(model.parameters()).device
    for prompt in prompts:
        ids = torch.tensor([encode_prompt(tokenizer, prompt)], device=device)
        gen = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, num_beams=1, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id)[0, ids.shape[1]:].tolist()
        stopped = tokenizer.eos_token_id in gen
        gen = gen[: gen.index(tokenizer.eos_token_id)] if stopped else gen
        out.append({"text": tokenizer.decode(gen), "stopped": stopped})
    return out


def catalog_title_of(text: str, catalog) -> str | None:
    """The catalog title whose response text ``'"Title"'`` is exactly ``text`` (trailing whitespace
    ignored), else None."""
    text = text.rstrip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"' and text[1:-1] in catalog.title2ids:
        return text[1:-1]
    return None


def greedy_table(greedy: Sequence[dict], results, rows, catalog, max_history: int = 10) -> pd.DataFrame:
    """Per prompt: the unconstrained greedy output (as a Python literal, so newlines show) beside
    constrained beam search's top-1 and the target's rank in its list (1-based, or "not in top N").
    ("Why constraints")"""
    out = []
    for p, (g, res, row) in enumerate(zip(greedy, results, rows), start=1):
        title = catalog_title_of(g["text"], catalog) if g["stopped"] else None
        rank = target_rank(res, row, catalog)
        out.append({"greedy output (no trie)": _short(repr(g["text"]), 80), "ended with EOS": g["stopped"],
                    "a catalog title": title is not None,
                    "a history title": title in set(history_titles(row, catalog, max_history)),
                    "CBS top-1": _short(res[0][0], 50) if res else "",
                    "target rank (CBS)": rank + 1 if rank >= 0 else f"not in top {len(res)}"})
    return pd.DataFrame(out, index=pd.RangeIndex(1, len(out) + 1, name="prompt"))


def live_summary(greedy: Sequence[dict], results, rows, catalog, max_history: int = 10) -> dict:
    """Counts the chapter's prose quotes: prompts, targets found in the top 10 / top 5, top-5 entries
    that are history items, greedy outputs that are catalog titles."""
    ranks = [target_rank(r, row, catalog) for r, row in zip(results, rows)]
    top5_hist = sum(t in set(history_titles(row, catalog, max_history)) for res, row in zip(results, rows)
                    for t, _ in res[:5])
    greedy_titles = sum(catalog_title_of(g["text"], catalog) is not None and g["stopped"] for g in greedy)
    return {"prompts": len(rows), "hits@10": sum(r >= 0 for r in ranks), "hits@5": sum(0 <= r < 5 for r in ranks),
            "top5_in_history": int(top5_hist), "top5_total": sum(min(5, len(r)) for r in results),
            "greedy_titles": int(greedy_titles)}


def token_line(tokens: Sequence[str], width: int = 96) -> str:
    """Token strings joined by spaces and wrapped at ``width`` characters, never inside a token."""
    lines, cur = [], ""
    for t in tokens:
        if cur and len(cur) + 1 + len(t) > width:
            lines.append(cur)
            cur = t
        else:
            cur = f"{cur} {t}" if cur else t
    return "\n".join(lines + [cur])
