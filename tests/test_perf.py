"""The performance appendix's table logic (gdrt.perf) on hand-made results files, its figures, and the
speed paths of constrained beam search on a grouped-query-attention model (same results)."""

from __future__ import annotations

import json

import pytest
import torch

from gdrt import perf


def _t(id, value, op=None, threshold=None, unit="x", label=None):
    return {"id": id, "label": label or id, "metric": "m", "op": op, "threshold": threshold, "value": value,
            "unit": unit, "note": ""}


def _result(name, targets, scaling=(), machine=None):
    return {"format": 1, "name": name, "title": name, "command": f"python benchmarks/{name}.py --quick",
            "size": "quick", "date": "2026-11-26 03:00 UTC", "settings": {"thread_note": "1 thread"},
            "machine": machine or {"cpu_model": "Test CPU", "usable_cpus": 2, "torch_threads": 1,
                                   "load_average_start": [3.0, 2.0, 1.0], "load_average": [4.5, 2.5, 1.5],
                                   "torch": "2.13.0", "transformers": "5.24.0", "gpu": None},
            "targets": list(targets), "measurements": [], "scaling": list(scaling)}


@pytest.mark.parametrize("target, want", [
    (_t("a", 4.2, ">=", 4.0), "met"),
    (_t("a", 4.0, ">=", 4.0), "met"),          # the boundary meets the target
    (_t("a", 3.99, ">=", 4.0), "missed"),
    (_t("a", 1.03, "<=", 1.03), "met"),
    (_t("a", 1.031, "<=", 1.03), "missed"),
    (_t("a", 1.0, "==", 1.0, unit=""), "met"),
    (_t("a", 0.5, "==", 1.0, unit=""), "missed"),
    (_t("a", None, ">=", 4.0), "missed"),       # a target with nothing measured is not met
    (_t("a", float("nan"), "<=", 1.0), "missed"),
    (_t("a", 2.0), "reported"),
    (_t("a", 2.0, ">=", None), "reported"),
])
def test_status(target, want):
    assert perf.status(target) == want


def test_ratio_words():
    for value, words in ((1.30, "slower than"), (1.04, "about as fast as"), (0.97, "about as fast as"),
                         (0.80, "faster than")):
        res = {"targets": [{"id": "r", "value": value}]}
        assert perf.ratio_words(res, "r") == words


def test_unknown_comparison_is_refused():
    with pytest.raises(ValueError):
        perf.status(_t("a", 1.0, "<", 2.0))


def test_target_rows_format_targets_and_values():
    res = _result("cbs", [_t("speed", 4.2345, ">=", 4.0, label="CBS vs HF"), _t("same", 1.0, "==", 1.0, unit=""),
                          _t("growth", 12345.6, unit="x"), _t("diff", 3e-6, "<=", 1e-4, unit="")])
    rows = perf.target_rows(res)
    assert [r["result"] for r in rows] == ["met", "met", "reported", "met"]
    assert rows[0]["check"] == "CBS vs HF" and rows[0]["target"] == ">= 4x" and rows[0]["measured"] == "4.23x"
    assert rows[1]["target"] == "== 1" and rows[2]["target"] == "—" and rows[2]["measured"] == "12,346x"
    assert rows[3]["target"] == "<= 0.0001" and rows[3]["measured"] == "3.0e-06"
    table = perf.target_table(res)
    assert list(table.columns) == ["metric", "target", "measured", "result", "details"]
    assert table.loc["CBS vs HF", "result"] == "met"


def test_load_summary_counts_and_glue(tmp_path):
    a = _result("alpha", [_t("s", 5.0, ">=", 4.0), _t("r", 2.0)],
                scaling=[{"axis": "history items", "x": 5, "series": "ours", "seconds": 1.0, "peak_mb": 10.0}])
    b = _result("beta", [_t("t", 1.5, "<=", 1.25)])
    (tmp_path / "alpha.json").write_text(json.dumps(a))
    (tmp_path / "beta.json").write_text(json.dumps(b))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"no": "targets"}))
    results = perf.load_results(tmp_path)
    assert list(results) == ["alpha", "beta"]
    assert perf.counts(results) == {"met": 1, "missed": 1, "reported": 1}
    summary = perf.summary_table(results)
    assert list(summary["benchmark"]) == ["alpha", "alpha", "beta"]
    assert list(summary["result"]) == ["met", "reported", "missed"]
    glued = perf.glue_values(results)
    assert glued["alpha_s"] == 5.0 and glued["beta_t_met"] == "missed" and glued["alpha_r_met"] == "reported"
    frame = perf.scaling_frame(results)
    assert len(frame) == 1 and frame.iloc[0]["benchmark"] == "alpha"
    assert perf.load_results(tmp_path / "missing") == {}


def test_report_names_command_machine_date_and_marks_misses():
    res = _result("beta", [_t("t", 1.5, "<=", 1.25, label="the limit")])
    text = perf.report(res).data
    assert "`python benchmarks/beta.py --quick`" in text and "2026-11-26 03:00 UTC" in text
    assert "Test CPU, 2 cores" in text and "load average 3.0/2.0/1.0 at start, 4.5/2.5/1.5 at end" in text
    assert "1 thread" in text and "| the limit | <= 1.25x | 1.50x | **missed** |" in text
    assert "No results file" in perf.report(None, "gamma").data


def test_machine_line_with_a_gpu():
    line = perf.machine_line({"gpu": "NVIDIA H200", "cpu_model": "Xeon", "usable_cpus": 16, "torch": "2.11"})
    assert line.startswith("GPU NVIDIA H200; Xeon, 16 cores") and "torch 2.11" in line


def test_gpu_estimate_from_the_committed_h200_run():
    runs = perf.gpu_runs()
    assert runs, "benchmarks/gpu/results holds the H200 run"
    est = perf.gpu_estimate(runs[0], epochs=1.0, n_test=0, n_valid=200)
    final = runs[0]["sft_final"]
    assert est["train_seconds"] == pytest.approx(final["steps"] * final["seconds_per_step"])
    assert est["decode_seconds"] == pytest.approx(runs[0]["validation"][-1]["seconds"])
    five = perf.gpu_estimate(runs[0])
    assert five["train_seconds"] == pytest.approx(5 * est["train_seconds"])


def test_figures_build():
    from gdrt.plots import perf as P

    a = _result("cbs_scaling", [_t("g", 2.0)], scaling=[
        {"axis": "catalog titles", "x": n, "series": s, "seconds": n / 1000, "peak_mb": 5.0}
        for n in (1000, 10000) for s in ("ours", "HF generate + trie")])
    b = _result("cbs_vs_hf", [_t("s", 4.2, ">=", 4.0, label="fast"), _t("l", 1.5, "<=", 1.25, label="limit"),
                              _t("i", 1.0, "==", 1.0, unit="")])
    results = {"cbs_scaling": a, "cbs_vs_hf": b}
    fig = P.scaling(perf.scaling_frame(results))
    assert len(fig.data) == 4  # 2 series x (time, memory)
    bars = P.target_ratios(results)
    assert list(bars.data[0].y) == ["fast", "limit"]
    assert bars.data[0].x[0] == pytest.approx(4.2 / 4.0) and bars.data[0].x[1] == pytest.approx(1.25 / 1.5)
    assert len(P.scaling(perf.scaling_frame({})).data) == 0


# ------------------------------------------------------------------ the speed paths keep results
def test_tree_search_on_a_grouped_query_attention_model_is_exact():
    """SmolLM2 shares each key/value head among 3 query heads; the tree steps then stack the query
    heads instead of repeating the cache (cbs._tree_sdpa) and append in place (growing cache). On a
    tiny GQA model: the same titles and scores as the plain cache-reordering search (HF's sdpa path)
    and as exhaustive teacher-forced scoring, and the model's attention setting is restored."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from gdrt.data.presets import get_preset
    from gdrt.data.prompts import build_prompt
    from gdrt.decoding import build_trie, constrained_beam_search, exhaustive_ranking
    from gdrt.models.tiny import tiny_tokenizer

    preset = get_preset("office")
    titles = ["Red Pen", "Red Pencil", "Blue Stapler", "Desk Lamp", "Desk Lamp LED", "Paper Clips 100 pack",
              "Green Notebook A4", "Sticky Notes"]
    prompts = [build_prompt(preset, ["Red Pen", "Desk Lamp"]), build_prompt(preset, ["Blue Stapler"]),
               build_prompt(preset, titles[:6])]
    tok = tiny_tokenizer(prompts + titles)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                      num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=512,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    torch.manual_seed(1)
    model = LlamaForCausalLM(cfg).eval()
    assert model.config._attn_implementation == "sdpa"
    trie = build_trie(tok, titles)
    for lp in (0.0, 1.0):
        tree = constrained_beam_search(model, tok, prompts, trie, num_beams=len(titles), length_penalty=lp,
                                       kv="tree", batch_size=2)
        ref = constrained_beam_search(model, tok, prompts, trie, num_beams=len(titles), length_penalty=lp,
                                      kv="reorder", batch_size=2)
        for p, a, b in zip(prompts, tree, ref):
            want = exhaustive_ranking(model, tok, p, trie, length_penalty=lp)
            assert [t for t, _ in a] == [t for t, _ in b] == [t for t, _ in want]
            assert max(abs(x - y) for (_, x), (_, y) in zip(a, want)) < 1e-4
        small = constrained_beam_search(model, tok, prompts, trie, num_beams=2, length_penalty=lp, kv="tree")
        small_ref = constrained_beam_search(model, tok, prompts, trie, num_beams=2, length_penalty=lp, kv="reorder")
        assert [[t for t, _ in r] for r in small] == [[t for t, _ in r] for r in small_ref]
    assert model.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("layout", ["packed", "each"])
def test_both_ablation_layouts_score_like_unpadded_forwards(tiny_model_path, layout):
    """attribution.ablation_logprobs: the packed batch and one forward per variant (over the cache
    cropped to the shared prefix; chosen for long prompts) give every variant's own unpadded score,
    including a variant that shares nothing but its first token and one equal to the original."""
    from gdrt.data.prompts import encode_prompt, encode_response
    from gdrt.diagnostics import attribution as A
    from gdrt.models.loading import load_model

    lm = load_model(tiny_model_path)
    tok = lm.tokenizer
    target = encode_response(tok, "A Title Of Some Length")
    orig = encode_prompt(tok, "The same start, then a middle part, then the end.\n") + target
    variants = [orig[:3] + orig[5:], orig[:1] + [7, 8, 9] + orig[1:], list(orig), orig[: -len(target) - 2] + target]
    s0, got = A.ablation_logprobs(lm.model, orig, variants, target, tok.pad_token_id, layout=layout)
    m = len(target)
    for s, g in zip([orig, *variants], [s0, *got]):
        with torch.no_grad():
            lp = torch.log_softmax(lm.model(input_ids=torch.tensor([s])).logits[0].float(), -1)
        assert g == pytest.approx(lp[len(s) - m - 1: len(s) - 1].gather(-1, torch.tensor(target)[:, None]).sum().item(),
                                  abs=1e-5)
    with pytest.raises(ValueError):
        A.ablation_logprobs(lm.model, orig, variants, target, tok.pad_token_id, layout="sideways")


def test_ablation_layout_choice_follows_the_estimate(tiny_model_path):
    """Short prompts on a tiny model: one packed batch (a call costs more than the masked attention
    saves). Long rests on a SmolLM2-sized config: one call per variant."""
    from types import SimpleNamespace

    from gdrt.diagnostics import attribution as A
    from gdrt.models.loading import load_model

    tiny = load_model(tiny_model_path).model
    lengths, shared = [124, 83, 62, 40, 19, 10], [85, 150, 171, 192, 214, 241]
    bins = A._pack(lengths, 4)
    assert not A._prefer_one_call_per_variant(tiny, 252, shared, lengths, bins)
    smol = SimpleNamespace(config=SimpleNamespace(hidden_size=576, intermediate_size=1536, num_attention_heads=9,
                                                  num_key_value_heads=3, head_dim=64))
    assert A._attention_weight(smol) == pytest.approx(3.26e-4, rel=0.01)
    long_lengths = [900 - 28 * j for j in range(32)]
    long_shared = [944 - u for u in long_lengths]
    long_bins = A._pack(long_lengths, max(4, -(-sum(long_lengths) // max(long_lengths))))
    assert A._prefer_one_call_per_variant(smol, 944, long_shared, long_lengths, long_bins)


def test_ablation_arithmetic_by_hand():
    """One layer, hidden 2, one head of size 2, intermediate 1, vocabulary 10: ``lin`` = 4 (q) + 8 (k, v) + 4 (o) + 6 (MLP) = 22
    multiply-adds per token, attending to a key 4, the head 20 per position with logits.
    Original [1 2 3 4] (4 tokens), target its last m = 1 token; one variant [1 9 3 4] shares 1 token."""
    from types import SimpleNamespace

    from gdrt.diagnostics import attribution as A

    model = SimpleNamespace(config=SimpleNamespace(hidden_size=2, intermediate_size=1, num_attention_heads=1,
                                                   num_key_value_heads=1, head_dim=2, num_hidden_layers=1,
                                                   vocab_size=10))
    w = A.ablation_arithmetic(model, [1, 2, 3, 4], [[1, 9, 3, 4]], 1)
    whole = 4 * 22 + 4 * (1 + 2 + 3 + 4) + 4 * 20      # a 4-token forward, logits everywhere
    assert w["per_forward"] == 2 * whole
    # ours: the original whole with logits at 2 positions, the variant's 3 tokens after 1 cached
    ours = (4 * 22 + 4 * 10) + (3 * 22 + 4 * (3 * 1 + 6)) + 2 * 2 * 20
    assert w["shared_prefix"] == ours
    assert w["bound"] == pytest.approx(2 * whole / ours)
