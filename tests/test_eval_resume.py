"""A stopped evaluation resumes from its decoded chunks and writes the same files as an
uninterrupted one; chunks decoded under other settings are never reused."""

from __future__ import annotations

import pytest
from helpers import one_thread

from gdrt import evaluation as E
from gdrt.data import get_preset, load_catalog, load_split
from gdrt.models.loading import load_model

PRESET = get_preset("synthetic")
FILES = ("metrics.json", "predictions.jsonl", "item_groups.json", "config.json")


@pytest.fixture(scope="module")
def setup(synth_dir, tiny_model_path):
    catalog = load_catalog(synth_dir)
    rows = load_split(synth_dir, "test", catalog)[:20]
    groups = {i: {"group": 1 + i % 5} for i in catalog.id2title}
    return load_model(tiny_model_path), catalog, rows, groups


def _evaluate(lm, catalog, rows, groups, out, **kw):
    with one_thread():
        return E.evaluate(lm.model, lm.tokenizer, rows, catalog, PRESET, out, groups, config={"model": "tiny"},
                          num_beams=3, batch_size=4, progress=False, chunk_rows=8, **kw)


def test_a_stopped_evaluation_resumes_and_equals_an_uninterrupted_one(setup, tmp_path, monkeypatch):
    lm, catalog, rows, groups = setup
    _evaluate(lm, catalog, rows, groups, tmp_path / "whole")
    calls = {"n": 0}
    real = E.recommend

    def stop_after_one_chunk(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("stopped")
        return real(*a, **kw)

    monkeypatch.setattr(E, "recommend", stop_after_one_chunk)
    with pytest.raises(KeyboardInterrupt):
        _evaluate(lm, catalog, rows, groups, tmp_path / "resumed")
    partial = sorted(p.name for p in (tmp_path / "resumed" / E.PARTIAL).glob("rows-*.jsonl"))
    assert partial == ["rows-000000-000008.jsonl"] and not (tmp_path / "resumed" / "metrics.json").exists()

    decoded = []
    monkeypatch.setattr(E, "recommend", lambda *a, **kw: decoded.append(len(a[2])) or real(*a, **kw))
    _evaluate(lm, catalog, rows, groups, tmp_path / "resumed")
    assert decoded == [8, 4]  # only the two missing chunks (rows 8-16 and 16-20)
    for name in FILES:
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes(), name
    assert not (tmp_path / "resumed" / E.PARTIAL).exists()


def test_chunks_of_other_settings_are_not_reused(setup, tmp_path, monkeypatch):
    lm, catalog, rows, groups = setup
    partial = tmp_path / "out" / E.PARTIAL
    with one_thread():
        E.recommend_resumable(lm.model, lm.tokenizer, rows, catalog, PRESET, partial, {"model": "tiny"},
                              num_beams=3, batch_size=4, progress=False, chunk_rows=8)
    assert len(list(partial.glob("rows-*.jsonl"))) == 3
    decoded = []
    real = E.recommend
    monkeypatch.setattr(E, "recommend", lambda *a, **kw: decoded.append(len(a[2])) or real(*a, **kw))
    _evaluate(lm, catalog, rows, groups, tmp_path / "out", length_penalty=0.0)  # another search
    assert decoded == [8, 8, 4]


def test_a_half_written_chunk_is_decoded_again(setup, tmp_path, monkeypatch):
    lm, catalog, rows, groups = setup
    _evaluate(lm, catalog, rows, groups, tmp_path / "whole")
    partial = tmp_path / "cut" / E.PARTIAL
    with one_thread():
        E.recommend_resumable(lm.model, lm.tokenizer, rows, catalog, PRESET, partial,
                              {"config": {"model": "tiny"}, "eval_format": E.EVAL_FORMAT},
                              num_beams=3, batch_size=4, progress=False, chunk_rows=8)
    chunk = partial / "rows-000008-000016.jsonl"
    chunk.write_text(chunk.read_text().splitlines()[0] + "\n{\"row\": 9", encoding="utf-8")
    decoded = []
    real = E.recommend
    monkeypatch.setattr(E, "recommend", lambda *a, **kw: decoded.append(len(a[2])) or real(*a, **kw))
    _evaluate(lm, catalog, rows, groups, tmp_path / "cut")
    assert decoded == [8]
    assert (tmp_path / "whole" / "predictions.jsonl").read_bytes() == (tmp_path / "cut" / "predictions.jsonl").read_bytes()


def test_evaluation_rows_sample_is_seeded_and_in_file_order(synth_dir):
    catalog = load_catalog(synth_dir)
    rows = load_split(synth_dir, "test", catalog)
    a, b = E.evaluation_rows(rows, 10, 3), E.evaluation_rows(rows, 10, 3)
    assert a == b and len(a) == 10 and a != rows[:10]
    idx = [rows.index(r) for r in a]
    assert idx == sorted(idx)
    assert E.evaluation_rows(rows, 10) == rows[:10] and E.evaluation_rows(rows, None) == list(rows)
