"""Trie and constrained beam search on a tiny random Llama (fp32, seconds)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdrt.data.presets import get_preset
from gdrt.data.prompts import build_prompt, encode_response
from gdrt.decoding import Trie, build_trie, constrained_beam_search, exhaustive_ranking
from gdrt.models.tiny import tiny_model, tiny_tokenizer

TITLES = [
    "Red Pen",
    "Red Pencil",          # "Red Pen" is a prefix of it (as text and, mostly, as tokens)
    "Red",                 # a prefix of both
    "Blue Stapler",
    "Green Notebook A4",
    "Paper Clips 100 pack",
    "Desk Lamp LED",
    "Desk Lamp",
    "Sticky Notes, Yellow, 3 x 3 in",
]
PRESET = get_preset("office")
PROMPTS = [
    build_prompt(PRESET, ["Red Pen"]),
    build_prompt(PRESET, ["Blue Stapler", "Desk Lamp LED", "Paper Clips 100 pack", "Green Notebook A4"]),
    build_prompt(PRESET, None),
    build_prompt(PRESET, ["Sticky Notes, Yellow, 3 x 3 in", "Red"]),
]
TOL = 1e-4


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer(PROMPTS + TITLES + ["Pencil Sharpener Electric", "Eraser"])


@pytest.fixture(scope="module")
def model(tok):
    return tiny_model(tok, seed=3)


@pytest.fixture(scope="module")
def trie(tok):
    return build_trie(tok, TITLES)


def _titles(res):
    return [t for t, _ in res]


# ------------------------------------------------------------------ trie
def test_trie_paths_are_the_training_ids(tok, trie):
    assert len(trie) == len(TITLES)
    for title in TITLES:
        ids = encode_response(tok, title)
        assert ids[-1] == tok.eos_token_id
        e = trie.entry_of(ids)
        assert e >= 0 and trie.titles[e] == title
        node = trie.walk(ids)
        assert int(trie.terminal[node]) == e
        assert trie.allowed(node) == []  # EOS ends a path
        assert trie.entry_of(ids[:-1]) == -1  # not complete without EOS
    assert trie.walk([tok.eos_token_id]) == -1


def test_trie_csr_layout(trie):
    indptr, tokens, children = trie.indptr, trie.tokens, trie.children
    assert indptr[0] == 0 and indptr[-1] == tokens.numel() == children.numel() == trie.n_nodes - 1
    for n in range(trie.n_nodes):
        toks = tokens[indptr[n] : indptr[n + 1]].tolist()
        assert toks == sorted(set(toks))
    # every node but the root has exactly one parent
    assert sorted(children.tolist()) == list(range(1, trie.n_nodes))
    assert (trie.terminal >= 0).sum().item() == len(trie)


def test_identical_token_paths_share_an_entry():
    trie = Trie({"A": [5, 6, 1], "A ": [5, 6, 1], "B": [5, 1]}, eos_token_id=1)
    assert len(trie) == 2
    assert trie.aliases("A ") == ("A", "A ")
    assert trie.titles == ["A", "B"]
    with pytest.raises(ValueError):
        Trie({"x": [5, 6]}, eos_token_id=1)  # must end with EOS
    with pytest.raises(ValueError):
        Trie({})


# ------------------------------------------------------------------ exhaustive equivalence
@pytest.mark.parametrize("kv", ["tree", "reorder"])
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_enough_beams_gives_the_exhaustive_ranking(model, tok, trie, length_penalty, kv):
    res = constrained_beam_search(
        model, tok, PROMPTS, trie, num_beams=len(TITLES) + 2, length_penalty=length_penalty, kv=kv
    )
    for prompt, got in zip(PROMPTS, res):
        want = exhaustive_ranking(model, tok, prompt, trie, length_penalty=length_penalty)
        assert len(got) == len(TITLES)
        assert _titles(got) == _titles(want)
        for (_, a), (_, b) in zip(got, want):
            assert abs(a - b) < TOL


def test_exact_beam_count_equal_to_catalog(model, tok, trie):
    got = constrained_beam_search(model, tok, PROMPTS[:1], trie, num_beams=len(TITLES), length_penalty=0.0)[0]
    want = exhaustive_ranking(model, tok, PROMPTS[0], trie, length_penalty=0.0)
    assert _titles(got) == _titles(want)


def test_mask_before_is_a_distribution_over_the_catalog(model, tok, trie):
    got = constrained_beam_search(
        model, tok, PROMPTS[:2], trie, num_beams=len(TITLES), length_penalty=0.0, mask="before"
    )
    for res in got:
        assert sorted(_titles(res)) == sorted(TITLES)
        assert abs(sum(math.exp(s) for _, s in res) - 1.0) < 1e-4
        assert all(s <= 0 for _, s in res)
        assert [s for _, s in res] == sorted((s for _, s in res), reverse=True)


# ------------------------------------------------------------------ invariants and batching
@pytest.mark.parametrize("kv", ["tree", "reorder"])
@pytest.mark.parametrize("num_beams", [1, 3, 5])
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_batched_equals_alone_and_invariants(model, tok, trie, num_beams, length_penalty, kv):
    batched = constrained_beam_search(
        model, tok, PROMPTS, trie, num_beams=num_beams, length_penalty=length_penalty, batch_size=4, kv=kv
    )
    for prompt, res in zip(PROMPTS, batched):
        assert len(res) == min(num_beams, len(TITLES))
        assert len(set(_titles(res))) == len(res)
        assert set(_titles(res)) <= set(TITLES)
        scores = [s for _, s in res]
        assert scores == sorted(scores, reverse=True)
        alone = constrained_beam_search(
            model, tok, [prompt], trie, num_beams=num_beams, length_penalty=length_penalty, kv="reorder"
        )[0]
        assert _titles(alone) == _titles(res)
        for (_, a), (_, b) in zip(alone, res):
            assert abs(a - b) < TOL


def test_batch_size_does_not_change_results(model, tok, trie):
    a = constrained_beam_search(model, tok, PROMPTS, trie, num_beams=4, batch_size=1)
    b = constrained_beam_search(model, tok, PROMPTS, trie, num_beams=4, batch_size=3)
    assert [_titles(x) for x in a] == [_titles(x) for x in b]


def test_greedy_beam_follows_the_best_token(model, tok, trie):
    """num_beams=1 with no length penalty: the single live beam takes the best allowed token each step
    and the result is one catalog title whose score matches its teacher-forced sum."""
    (res,) = constrained_beam_search(model, tok, PROMPTS[:1], trie, num_beams=1, length_penalty=0.0)
    assert len(res) == 1
    want = dict(exhaustive_ranking(model, tok, PROMPTS[0], trie, length_penalty=0.0))
    title, score = res[0]
    assert abs(want[title] - score) < TOL


def test_path_ending_inside_another_path(model, tok):
    """A path that is a strict prefix of another (possible only when EOS occurs inside a title's ids):
    its end node both finishes a hypothesis and keeps a live beam going."""
    eos = tok.eos_token_id
    a = encode_response(tok, "Red")
    trie = Trie({"short": a, "long": a + encode_response(tok, "Pen"), "other": encode_response(tok, "Ink")}, eos_token_id=eos)
    node = trie.walk(a)
    assert trie.terminal[node] >= 0 and trie.allowed(node)
    for lp in (0.0, 1.0):
        for kv in ("tree", "reorder"):
            got = constrained_beam_search(model, tok, PROMPTS[:2], trie, num_beams=3, length_penalty=lp, kv=kv)
            for prompt, res in zip(PROMPTS[:2], got):
                want = exhaustive_ranking(model, tok, prompt, trie, length_penalty=lp)
                assert _titles(res) == _titles(want)
                assert all(abs(x - y) < TOL for (_, x), (_, y) in zip(res, want))


def test_catalog_of_one_title(model, tok):
    trie = build_trie(tok, ["Eraser"])
    res = constrained_beam_search(model, tok, PROMPTS, trie, num_beams=10, length_penalty=1.0)
    for prompt, r in zip(PROMPTS, res):
        assert _titles(r) == ["Eraser"]
        assert abs(r[0][1] - exhaustive_ranking(model, tok, prompt, trie, 1.0)[0][1]) < TOL


def test_prefix_titles_are_all_reachable(model, tok, trie):
    # "Red" / "Red Pen" / "Red Pencil" and "Desk Lamp" / "Desk Lamp LED"
    res = constrained_beam_search(model, tok, PROMPTS[:1], trie, num_beams=len(TITLES), length_penalty=1.0)[0]
    assert {"Red", "Red Pen", "Red Pencil", "Desk Lamp", "Desk Lamp LED"} <= set(_titles(res))


@pytest.mark.parametrize("kv", ["tree", "reorder"])
def test_bfloat16_model_runs(tok, trie, kv):
    model = tiny_model(tok, seed=3).to(torch.bfloat16)
    res = constrained_beam_search(model, tok, PROMPTS[:2], trie, num_beams=4, kv=kv)
    for r in res:
        assert len(r) == 4 and len(set(_titles(r))) == 4 and set(_titles(r)) <= set(TITLES)
        assert all(math.isfinite(s) for _, s in r)


def test_pruning_is_exact_and_kv_modes_agree(model, tok, trie):
    for length_penalty in (0.0, 1.0, -0.5, 2.0):
        for mask in ("after", "before"):
            ref = constrained_beam_search(
                model, tok, PROMPTS, trie, num_beams=3, length_penalty=length_penalty, mask=mask, kv="reorder", prune=False
            )
            for kv in ("tree", "reorder"):
                got = constrained_beam_search(
                    model, tok, PROMPTS, trie, num_beams=3, length_penalty=length_penalty, mask=mask, kv=kv
                )
                for a, b in zip(got, ref):
                    assert _titles(a) == _titles(b)
                    assert max(abs(x - y) for (_, x), (_, y) in zip(a, b)) < TOL


def test_trie_heights(trie):
    for e, seq in enumerate(trie.sequences):
        node, depth = 0, 0
        for tok_id in seq:
            assert trie.height_min[node] <= len(seq) - depth <= trie.height_max[node]
            node, depth = trie.child(node, tok_id), depth + 1
        assert trie.height_max[node] == 0
    assert trie.height_max[0] == trie.max_length
    assert trie.height_min[0] == min(len(s) for s in trie.sequences)


def test_bad_arguments(model, tok, trie):
    with pytest.raises(ValueError):
        constrained_beam_search(model, tok, PROMPTS[:1], trie, mask="inside")
    with pytest.raises(ValueError):
        constrained_beam_search(model, tok, PROMPTS[:1], trie, num_beams=0)
    with pytest.raises(ValueError):
        constrained_beam_search(model, tok, PROMPTS[:1], trie, kv="shared")


# ------------------------------------------------------------------ property test
WORDS = ["Red", "Pen", "Blue", "Lamp", "Desk", "Paper", "A4", "LED", "Clip", "Note", "Ink", "Pencil", "x", "3"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    titles=st.lists(
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join), min_size=1, max_size=12, unique=True
    ),
    seed=st.integers(0, 1000),
    num_beams=st.integers(1, 8),
    length_penalty=st.sampled_from([0.0, 0.5, 1.0]),
    mask=st.sampled_from(["after", "before"]),
)
def test_property_results_stay_in_catalog(tok, titles, seed, num_beams, length_penalty, mask):
    model = tiny_model(tok, seed=seed, hidden=32, layers=1, heads=2)
    trie = build_trie(tok, titles)
    kw = dict(num_beams=num_beams, length_penalty=length_penalty, mask=mask)
    res = constrained_beam_search(model, tok, PROMPTS[:3], trie, batch_size=2, kv="tree", **kw)
    ref = constrained_beam_search(model, tok, PROMPTS[:3], trie, batch_size=3, kv="reorder", prune=False, **kw)
    for a, b in zip(res, ref):  # same search, pruned and with another KV layout: same scores
        assert len(a) == len(b)
        assert all(abs(x - y) < TOL for (_, x), (_, y) in zip(a, b))
    for r in res:
        names = _titles(r)
        assert set(names) <= set(titles)
        assert len(set(names)) == len(names)
        assert len(names) == min(num_beams, len(trie))
        assert all(math.isfinite(s) for _, s in r)
