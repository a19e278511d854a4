"""Chapter 1's helpers (gdrt.intro, gdrt.plots.intro) on a tiny random Llama (fp32, seconds)."""

from __future__ import annotations

import pytest
import torch

from gdrt import intro
from gdrt.data import Catalog, Row, build_prompt, encode_prompt, encode_response, get_preset
from gdrt.decoding import build_trie, constrained_beam_search
from gdrt.models.tiny import tiny_model, tiny_tokenizer
from gdrt.training.examples import IGNORE, build_examples, row_prompt

PRESET = get_preset("office")
CATALOG = Catalog({1: "Red Pen", 2: "Red Pencil", 3: "Blue Stapler", 4: "Green Notebook A4", 5: "Desk Lamp",
                   6: "Desk Lamp LED", 7: "Paper Clips 100 pack", 8: "Desk Lamp"})  # 8 shares 5's title
ROWS = [Row(1, (1, 2, 3), 4, 0), Row(2, (5, 6), 8, 0), Row(3, tuple(range(1, 8)) * 2, 7, 0)]


@pytest.fixture(scope="module")
def tok():
    texts = [row_prompt(r, CATALOG, PRESET) for r in ROWS] + [build_prompt(PRESET, None)] + CATALOG.titles
    return tiny_tokenizer(texts, vocab_size=400)


@pytest.fixture(scope="module")
def model(tok):
    return tiny_model(tok, seed=1)


@pytest.fixture(scope="module")
def lm(tok, model):
    from gdrt.models.loading import LoadedModel

    return LoadedModel(model, tok, "tiny", None)


@pytest.fixture(scope="module")
def trie(tok):
    return build_trie(tok, CATALOG.titles)


def test_model_card(lm):
    card = intro.model_card(lm)
    assert card["layers"] == 2 and card["vocabulary"] == len(lm.tokenizer) and card["adds BOS"] is False


def test_history_table_keeps_last_ten():
    df = intro.history_table(ROWS[2], CATALOG)
    assert len(df) == 11 and df.index[-1].startswith("target")
    assert list(df["item id"][:-1]) == list(ROWS[2].history[-10:]) and df["item id"].iloc[-1] == 7


@pytest.mark.parametrize("row", ROWS)
def test_prompt_parts_sum_to_the_prompt(tok, row):
    titles = [CATALOG.title(i) for i in row.history[-10:]]
    df = intro.prompt_parts(tok, PRESET, titles)
    prompt = build_prompt(PRESET, titles)
    assert df["tokens"].sum() == len(encode_prompt(tok, prompt))
    assert df["characters"].sum() == len(prompt)
    hist = df.loc["history titles"]
    assert hist["kind"] == "interaction" and hist["tokens"] > 0
    assert hist["characters"] == len(", ".join(f'"{t}"' for t in titles))
    assert abs(df["share of tokens"].sum() - 1) < 0.01


def test_response_tokens_end_with_eos(tok):
    df = intro.response_tokens(tok, "Red Pen")
    assert list(df["id"]) == encode_response(tok, "Red Pen") and df["id"].iloc[-1] == tok.eos_token_id


def test_boundary_table(tok):
    prompt = row_prompt(ROWS[0], CATALOG, PRESET)
    df = intro.boundary_table(tok, prompt, "Blue Stapler")
    assert df["same as training"].iloc[0]
    assert df["first id"].iloc[0] == encode_response(tok, "Blue Stapler")[0]
    assert not df["same as training"].iloc[2]  # the trailing space becomes (part of) a response token


def test_labels_and_nll(tok, model):
    ex = build_examples([ROWS[0]], CATALOG, PRESET, tok)[0]
    nll = intro.response_nll(model, ex)
    resp = encode_response(tok, CATALOG.title(4))
    assert nll.shape == (len(resp),) and bool((nll > 0).all())
    # against a plain full forward
    ids = torch.tensor([ex.input_ids])
    logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
    ref = -logp[torch.arange(len(ex.input_ids) - 1), ids[0, 1:]][-len(resp):]
    assert torch.allclose(nll, ref, atol=1e-4)
    df = intro.labels_table(ex, tok, nll=nll, context=3)
    assert len(df) == 3 + len(resp) and int(df["in the loss"].sum()) == len(resp)
    assert (df["label"].iloc[:3] == IGNORE).all() and list(df["label"].iloc[3:]) == resp
    assert df["-log P"].iloc[:3].isna().all() and abs(df["-log P"].iloc[3:].sum() - float(nll.sum())) < 1e-2


def test_history_effect(tok, model):
    df = intro.history_effect(model, tok, ROWS[:2], CATALOG, PRESET)
    assert len(df) == 2 and (df["log P with history"] < 0).all()
    assert ((df["log P with history"] - df["log P with N/A"] - df["gain from history"]).abs() < 0.02).all()


def test_node_depths_and_levels(tok, trie):
    depth = intro.node_depths(trie)
    assert depth[0] == 0
    for seq in trie.sequences:
        assert depth[trie.walk(seq)] == len(seq)
    levels = intro.trie_levels(trie, steps=4)
    assert levels.loc[1, "prefixes"] == 1 and levels.loc[1, "max allowed"] == len(trie.allowed(0))
    assert levels.loc[2, "prefixes"] == len(trie.allowed(0))


def test_path_widths(tok, trie):
    df = intro.path_widths(trie, tok, "Desk Lamp")
    assert len(df) == len(encode_response(tok, "Desk Lamp"))
    assert df["allowed"].iloc[0] == len(trie.allowed(0))
    assert df["titles reachable"].iloc[0] == len(trie) and df["titles reachable"].iloc[-1] == 1
    assert df["titles reachable"].is_monotonic_decreasing
    with pytest.raises(ValueError):
        intro.path_widths(trie, tok, "Not A Title")
    from gdrt.plots.intro import path_widths_figure

    assert len(path_widths_figure(df).data) == 2


def test_target_rank_and_catalog_title():
    res = [("Red Pen", -1.0), ("Desk Lamp", -2.0)]
    assert intro.target_rank(res, ROWS[1], CATALOG) == 1  # id 8 shares the title "Desk Lamp"
    assert intro.target_rank(res, ROWS[0], CATALOG) == -1
    assert intro.catalog_title_of('"Desk Lamp"\n', CATALOG) == "Desk Lamp"
    assert intro.catalog_title_of('"Desk Lamp" and more', CATALOG) is None
    assert intro.catalog_title_of("Desk Lamp", CATALOG) is None


def test_live_tables(tok, model, trie):
    prompts = intro.live_prompts(ROWS, CATALOG, PRESET)
    assert prompts[0] == row_prompt(ROWS[0], CATALOG, PRESET)
    results = constrained_beam_search(model, tok, prompts, trie, num_beams=4)
    table = intro.live_table(results, ROWS, CATALOG, k=3)
    assert table.index.names == ["prompt", "rank"] and len(table) == 3 * 3
    greedy = intro.greedy_continuations(model, tok, prompts[:2], max_new_tokens=8)
    assert len(greedy) == 2 and all(isinstance(g["text"], str) for g in greedy)
    gt = intro.greedy_table(greedy, results[:2], ROWS[:2], CATALOG)
    assert len(gt) == 2 and set(gt["target rank (CBS)"]) <= {1, 2, 3, 4, "not in top 4"}
    s = intro.live_summary(greedy, results[:2], ROWS[:2], CATALOG)
    assert s["prompts"] == 2 and s["top5_total"] == 8 and 0 <= s["hits@5"] <= s["hits@10"] <= 2


def test_token_line_wraps_between_tokens():
    toks = ["' Star'", "'Five'", "' Z'"] * 20
    text = intro.token_line(toks, width=30)
    assert all(len(line) <= 30 for line in text.splitlines())
    assert text.replace("\n", " ") == " ".join(toks)
