"""SASRec (chapter 6): it learns a sequential pattern, never recommends padding, and returns the LLM
methods' prediction format with one entry per distinct title."""

from __future__ import annotations

import json

import pytest
import torch

from gdrt.data.catalog import Catalog
from gdrt.data.msl import Row
from gdrt.evaluation import score_predictions
from gdrt.models.sasrec import ItemIndex, SASRec, SASRecConfig, recommend_sasrec, run_sasrec, train_sasrec

N = 30


def _rows(n_users, seed):
    """Users walk the catalog: the next item is always the last one + 1 (mod N)."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for u in range(n_users):
        start = int(torch.randint(1, N + 1, (1,), generator=g))
        length = int(torch.randint(2, 8, (1,), generator=g))
        items = [(start + k - 1) % N + 1 for k in range(length + 1)]
        rows.append(Row(u, tuple(items[:-1]), items[-1], 0))
    return rows


@pytest.fixture(scope="module")
def catalog():
    return Catalog({i: f"Item {i}" for i in range(1, N + 1)})


def test_sasrec_learns_a_sequential_pattern(catalog):
    cfg = SASRecConfig(dim=32, epochs=12, patience=12, batch_size=64, lr=1e-2, dropout=0.0)
    model, index, history = train_sasrec(_rows(400, 0), _rows(50, 1), catalog, cfg)
    m = score_predictions(recommend_sasrec(model, _rows(100, 2), catalog, index), None)
    assert m["hit@5"] > 0.9  # chance: 5/30
    assert history[-1]["loss"] < history[0]["loss"]


def test_padding_is_never_recommended_and_titles_are_merged():
    # items 1 and 2 share a title: one entry holding both ids, never two entries of the same title
    catalog = Catalog({1: "Same", 2: "Same", 3: "Other", 4: "Fourth"})
    cfg = SASRecConfig(dim=8, max_len=4)
    model = SASRec(4, cfg)
    preds = recommend_sasrec(model, [Row(0, (), 3, 0), Row(1, (1, 3), 4, 0)], catalog, ItemIndex(catalog), k=10)
    for p in preds:
        assert len(p["titles"]) == len(set(p["titles"])) == 3
        assert sorted(map(tuple, p["item_ids"])) == [(1, 2), (3,), (4,)]
        assert p["scores"] == sorted(p["scores"], reverse=True)
    assert model.scores(torch.tensor([[0, 0, 1, 3]])).shape == (1, 4)


def test_left_padding_does_not_change_the_scores():
    torch.manual_seed(0)
    cfg = SASRecConfig(dim=16, heads=2, max_len=6, dropout=0.0)
    model = SASRec(10, cfg).eval()
    with torch.no_grad():
        short = model.scores(torch.tensor([[4, 7, 2]]))
        padded = model.scores(torch.tensor([[0, 0, 0, 4, 7, 2], [0, 0, 0, 0, 0, 2]]))
        alone = model.scores(torch.tensor([[2]]))
    assert torch.allclose(short[0], padded[0], atol=1e-5)  # the same items at the same positions
    assert torch.allclose(alone[0], padded[1], atol=1e-5)
    assert torch.isfinite(padded).all()


def test_run_sasrec_writes_its_results_once(catalog, tmp_path):
    cfg = SASRecConfig(dim=8, epochs=2)
    out = tmp_path / "sasrec"
    res = run_sasrec(_rows(60, 0), _rows(10, 1), _rows(12, 2), catalog, {i: 1 + i % 5 for i in range(1, N + 1)},
                     out, cfg)
    assert res["status"] == "trained" and res["metrics"]["n_rows"] == 12
    assert "top1_group_share" in res["metrics"]
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 12
    assert json.loads((out / "config.json").read_text())["n_items"] == N
    assert run_sasrec([], [], [], catalog, None, out, cfg)["status"] == "reused"
