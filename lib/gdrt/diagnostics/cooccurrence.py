"""Where the bias comes from (paper Figure 5): how often, in the training set, a target token appears
together with an auxiliary token (task description, title prefix) against an interaction token.
Explained in chapter 3, "Origins: co-occurrence in the training set".

Definitions. The training set holds examples ``e = 1..E``; each has a response ``y_e`` (the tokens
the loss covers: ``'"Title"'`` + EOS, :func:`gdrt.data.prompts.encode_response`) and a prompt
tokenised exactly as in training. A *target position* is a pair ``(e, t)`` where ``y_{e,t}`` carries
a character of the title (``targets="title"``, the default: the bare quotes and EOS, the same in
every response, are left out as targets) or any response token (``targets="all"``); ``N`` is their
number. For each position, three *source sets* of token ids:

* task ``T_e``: the distinct ids of the instruction sentence's tokens (the same for every example
  of a dataset);
* prefix ``P_{e,t}``: the distinct ids of ``y_{e,<t}`` (empty at ``t = 1``);
* interaction ``I_e``: the distinct ids of the tokens of the example's history titles.

(Token spans as in :func:`gdrt.diagnostics.attribution.prompt_features`.) For a source kind ``S`` and
a pair of token ids ``(a, b)``:

    ``c_S(a, b) = #{(e, t) : a ∈ S_{e,t} and y_{e,t} = b}``     (co-occurrence count)
    ``rate_S(a, b) = c_S(a, b) / N``                            (co-occurrence rate)

``rate_S(a, b)`` is the share of all training target positions at which target ``b`` is predicted
while ``a`` is in view as a source of kind ``S``: the number of times SFT's gradient sees that pair,
per target token trained. Two summaries per kind: the mean rate over *distinct* pairs, and the mean
rate over pair *occurrences*, ``sum c^2 / (N sum c)`` (the rate of the pair behind a randomly drawn
training (source, target) co-occurrence).

Counting is sparse linear algebra: with ``A`` the 0/1 source-indicator matrix (rows: examples for
task and interaction, target positions for prefix; columns: vocabulary) and ``B`` the matching
target-count matrix, ``C_S = A^T B`` (scipy.sparse).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..data.prompts import encode_response
from ..training.examples import history_titles
from ..data.prompts import title_token_mask
from .attribution import prompt_features

SOURCES = ("task", "prefix", "interaction")


def _indicator(row_sets: Sequence[Sequence[int]], n_cols: int) -> sp.csr_matrix:
    """0/1 CSR matrix with row i marking the distinct ids of ``row_sets[i]``."""
    lens = np.fromiter((len(s) for s in row_sets), dtype=np.int64, count=len(row_sets))
    rows = np.repeat(np.arange(len(row_sets)), lens)
    cols = np.fromiter((c for s in row_sets for c in s), dtype=np.int64, count=int(lens.sum()))
    m = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(row_sets), n_cols))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def cooccurrence_from_tokens(examples, vocab_size: int) -> tuple[dict[str, sp.csr_matrix], int]:
    """Co-occurrence counts ``C_S[a, b]`` for ``S`` in task / prefix / interaction (module docstring).

    ``examples``: a sequence of ``(task_ids, interaction_ids, response_ids)`` or
    ``(task_ids, interaction_ids, response_ids, target_mask)`` (any iterables; ``target_mask`` marks
    the response positions that count as targets, default all; every response token stays a prefix
    source for the positions after it). Returns ``({kind: V x V sparse counts}, N)`` with ``N`` the
    number of target positions.
    """
    tasks, inters, resps, masks = [], [], [], []
    for ex in examples:
        task, inter, resp = ex[:3]
        tasks.append(list(task))
        inters.append(list(inter))
        resps.append(np.asarray(list(resp), dtype=np.int64))
        masks.append(np.ones(len(resps[-1]), dtype=bool) if len(ex) < 4 else np.asarray(list(ex[3]), dtype=bool))
        if len(masks[-1]) != len(resps[-1]):
            raise ValueError("a target mask must have one entry per response token")
    E, V = len(resps), int(vocab_size)
    lens = np.array([len(r) for r in resps], dtype=np.int64)
    P = int(lens.sum())
    y = np.concatenate(resps) if E else np.zeros(0, dtype=np.int64)
    keep = np.concatenate(masks) if E else np.zeros(0, dtype=bool)
    N = int(keep.sum())
    # target counts per example (E x V) and one-hot targets per position (P x V), targets only
    ex_of_pos = np.repeat(np.arange(E), lens)
    w = keep.astype(np.float64)
    B_ex = sp.csr_matrix((w, (ex_of_pos, y)), shape=(E, V))
    B_pos = sp.csr_matrix((w, (np.arange(P), y)), shape=(P, V))
    # prefix indicator per position: position (e, t) sees y_{e,s} for s < t
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]) if E else np.zeros(0, dtype=np.int64)
    pr, pc = [], []
    for e in range(E):
        n = int(lens[e])
        t, s = np.tril_indices(n, -1)
        pr.append(starts[e] + t)
        pc.append(resps[e][s])
    pr = np.concatenate(pr) if pr else np.zeros(0, dtype=np.int64)
    pc = np.concatenate(pc) if pc else np.zeros(0, dtype=np.int64)
    A_pre = sp.csr_matrix((np.ones(len(pr)), (pr, pc)), shape=(P, V))
    A_pre.sum_duplicates()
    A_pre.data[:] = 1.0
    counts = {
        "task": (_indicator(tasks, V).T @ B_ex).tocsr(),
        "prefix": (A_pre.T @ B_pos).tocsr(),
        "interaction": (_indicator(inters, V).T @ B_ex).tocsr(),
    }
    for c in counts.values():
        c.eliminate_zeros()
    return counts, N


def training_token_sets(tokenizer, rows, catalog, preset, max_history: int = 10, targets: str = "title"):
    """Per training row: ``(task ids, interaction ids, response ids, target mask)`` from the real
    tokenisation; the mask marks the title-carrying tokens (``targets="title"``) or all (``"all"``)."""
    if targets not in ("title", "all"):
        raise ValueError(f"targets must be 'title' or 'all', got {targets!r}")
    out, masks = [], {}
    for row in rows:
        f = prompt_features(tokenizer, preset, history_titles(row, catalog, max_history))
        task = [f.ids[p] for p in f.task]
        inter = [f.ids[p] for pos in f.items for p in pos]
        title = catalog.title(row.target)
        resp = encode_response(tokenizer, title)
        if title not in masks:
            masks[title] = title_token_mask(tokenizer, title) if targets == "title" else np.ones(len(resp), dtype=bool)
        out.append((task, inter, resp, masks[title]))
    return out


def cooccurrence_counts(tokenizer, rows, catalog, preset, max_history: int = 10, targets: str = "title"):
    """Co-occurrence counts over the training ``rows`` (module docstring): ``({kind: C_S}, N)``.
    Explained in chapter 3, "Origins"."""
    sets = training_token_sets(tokenizer, rows, catalog, preset, max_history, targets)
    return cooccurrence_from_tokens(sets, len(tokenizer))


def pair_rates(counts: dict, N: int) -> dict[str, np.ndarray]:
    """``rate_S(a, b)`` of every distinct co-occurring pair, per kind (for histograms)."""
    return {k: np.asarray(c.data, dtype=np.float64) / N for k, c in counts.items()}


def cooccurrence_summary(counts: dict, N: int):
    """Per kind: distinct pairs, pair occurrences, the mean rate over distinct pairs and over pair
    occurrences (``sum c^2 / (N sum c)``), and the median rate over distinct pairs (a DataFrame)."""
    import pandas as pd

    recs = []
    for k in SOURCES:
        c = np.asarray(counts[k].data, dtype=np.float64)
        tot = c.sum()
        recs.append({"source": k, "distinct pairs": int(len(c)), "pair occurrences": int(tot),
                     "mean rate (per pair)": float(c.mean() / N) if len(c) else float("nan"),
                     "mean rate (per occurrence)": float((c ** 2).sum() / (N * tot)) if tot else float("nan"),
                     "median rate (per pair)": float(np.median(c) / N) if len(c) else float("nan")})
    return pd.DataFrame(recs).set_index("source")


def top_pairs(counts: dict, N: int, tokenizer, k: int = 5):
    """The ``k`` most frequent pairs of each kind, decoded (a DataFrame)."""
    import pandas as pd

    recs = []
    for kind in SOURCES:
        c = counts[kind].tocoo()
        order = np.argsort(-c.data, kind="stable")[:k]
        for i in order:
            recs.append({"source": kind, "source token": repr(tokenizer.decode([int(c.row[i])])),
                         "target token": repr(tokenizer.decode([int(c.col[i])])), "count": int(c.data[i]),
                         "rate": float(c.data[i] / N)})
    return pd.DataFrame(recs)
