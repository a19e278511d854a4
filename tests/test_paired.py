"""Paired comparisons of two models on the same rows (chapter 7), against hand-computed values."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from gdrt.diagnostics import paired


def _pred(row, target, ids):
    return {"row": row, "target": target, "item_ids": [[i] for i in ids], "history": []}


GROUPS = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4}


def test_group1_counts_and_ndcg_gains_by_hand():
    preds = [_pred(0, 3, [1, 3, 4]), _pred(1, 9, [4, 2, 5]), _pred(2, 1, [1, 2, 3])]
    n1, n = paired.group1_counts(preds, GROUPS, k=2)
    assert n1.tolist() == [1, 1, 2] and n.tolist() == [2, 2, 2]
    gains = paired.ndcg_gains(preds, k=10)
    assert gains == pytest.approx([1 / math.log2(3), 0.0, 1.0])
    assert paired.ndcg_gains(preds, k=1) == pytest.approx([0.0, 0.0, 1.0])


def _attr(task, inter, prefix):
    return [{"task": t, "interaction_abs": i, "prefix": p} for t, i, p in zip(task, inter, prefix)]


def test_identical_models_differ_by_exactly_zero():
    preds = [_pred(r, 1 + r % 5, [1 + (r + j) % 5 for j in range(3)]) for r in range(20)]
    attr = _attr(np.linspace(0.1, 2, 20), np.linspace(1, 3, 20), -np.linspace(0.5, 1, 20))
    t = paired.paired_table("sft", "gdrt", {"sft": attr, "gdrt": attr}, {"sft": preds, "gdrt": preds}, GROUPS,
                            n_boot=200)
    assert (t["difference"] == 0).all() and (t["lo"] == 0).all() and (t["hi"] == 0).all()
    assert set(paired.verdicts(t, "sft", "gdrt").values()) == {"no detectable difference"}


def test_a_model_that_halves_the_task_contribution_on_every_row():
    task = np.linspace(0.5, 2, 30)
    inter = np.linspace(1, 2, 30)
    a, b = _attr(task, inter, task), _attr(task / 2, inter, task)
    t = paired.paired_table("sft", "gdrt", {"sft": a, "gdrt": b}, n_boot=500)
    ratio_a = task.sum() / inter.sum()
    assert t.loc["task:interaction", "sft"] == pytest.approx(ratio_a)
    assert t.loc["task:interaction", "difference"] == pytest.approx(-ratio_a / 2)
    assert t.loc["task:interaction", "hi"] < 0 and t.loc["task:interaction", "P(gdrt < sft)"] == 1.0
    assert t.loc["prefix:interaction", "difference"] == 0.0
    assert paired.verdicts(t, "sft", "gdrt")["task:interaction"] == "gdrt lower"


def test_prediction_sets_must_cover_the_same_rows():
    a = [_pred(0, 1, [1]), _pred(1, 2, [2])]
    b = [_pred(0, 1, [1]), _pred(1, 3, [2])]
    with pytest.raises(ValueError, match="same rows"):
        paired.paired_table("a", "b", preds={"a": a, "b": b}, item_group=GROUPS)


def test_cached_attribution_measures_once(monkeypatch, tmp_path):
    from gdrt.data.msl import Row
    from gdrt.diagnostics import attribution

    calls = []

    def fake(model, tok, rows, catalog, preset, baseline, max_history):
        calls.append(len(rows))
        return [{"row": i, "task": 1.0, "interaction_abs": 2.0, "prefix": 0.5} for i in range(len(rows))]

    monkeypatch.setattr(attribution, "attribute_rows", fake)
    rows = [Row("u1", (1, 2), 3, 10), Row("u2", (2,), 4, 11)]
    loads = []
    lm = lambda: loads.append(1) or SimpleNamespace(model=None, tokenizer=None)  # noqa: E731
    first = paired.cached_attribution("runs/x", lm, rows, None, "office", tmp_path)
    again = paired.cached_attribution("runs/x", lm, rows, None, "office", tmp_path)
    other = paired.cached_attribution("runs/y", SimpleNamespace(model=None, tokenizer=None), rows, None, "office",
                                      tmp_path)
    assert first == again == other and calls == [2, 2] and loads == [1]  # loaded only on a miss
    (f,) = [p for p in tmp_path.glob("attribution-*.json") if "runs/x" in p.read_text()]
    f.write_text("{truncated")  # a half-written file is measured again, not read
    paired.cached_attribution("runs/x", lm, rows, None, "office", tmp_path)
    assert calls == [2, 2, 2]


def test_trace_gap_on_common_steps():
    traces = {"sft": [{"step": 0, "top1_group1_share": 0.5}, {"step": 4, "top1_group1_share": 0.75}],
              "gdrt": [{"step": 0, "top1_group1_share": 0.5}, {"step": 4, "top1_group1_share": 0.25},
                       {"step": 6, "top1_group1_share": 0.0}]}
    gap = paired.trace_gap(traces, "sft", "gdrt")
    assert list(gap.index) == [0, 4] and gap["gdrt - sft"].tolist() == [0.0, -0.5]
