"""Diagnostics: feature ablation against captum, the ratios and their bootstrap, co-occurrence counts
on a hand-made example, held-out group losses, item-group shares, and the group-share callback
inside a GDRTTrainer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gdrt.data import get_preset, load_catalog, load_split
from gdrt.data.prompts import encode_prompt, encode_response, instruction, title_token_mask
from gdrt.diagnostics import attribution as A
from gdrt.diagnostics import callbacks as C
from gdrt.diagnostics import cooccurrence as CO
from gdrt.diagnostics.group_loss import group_loss_table, group_losses
from gdrt.models.loading import load_model
from gdrt.training.examples import history_titles

PRESET = get_preset("synthetic")


@pytest.fixture(scope="module")
def data(synth_dir):
    catalog = load_catalog(synth_dir)
    return catalog, load_split(synth_dir, "train", catalog), load_split(synth_dir, "valid", catalog)


@pytest.fixture(scope="module")
def lm(tiny_model_path):
    return load_model(tiny_model_path)


def _row_with_history(rows, n=3):
    return next(r for r in rows if len(r.history) >= n)


# ------------------------------------------------------------------------------------ attribution
def test_prompt_features_locate_the_pieces(lm, data):
    catalog, rows, _ = data
    tok = lm.tokenizer
    titles = history_titles(_row_with_history(rows), catalog)
    f = A.prompt_features(tok, PRESET, titles)
    assert f.ids == encode_prompt(tok, f.prompt)
    assert tok.decode([f.ids[p] for p in f.task]) == instruction(PRESET)
    assert [tok.decode([f.ids[p] for p in pos]) for pos in f.items] == titles
    used = set(f.task).union(*map(set, f.items))
    assert len(used) == len(f.task) + sum(map(len, f.items))  # no token in two features
    # a title starting with punctuation merges with its opening quote: the token still goes to the title
    g = A.prompt_features(tok, PRESET, ["(Odd) Title", "Plain Title"])
    assert "(Odd) Title" in tok.decode([g.ids[p] for p in g.items[0]])
    assert tok.decode([g.ids[p] for p in g.items[1]]) == "Plain Title"


def test_prefix_is_the_first_token_carrying_title_text(lm):
    tok = lm.tokenizer
    resp = encode_response(tok, "Fabrikam Ultra Coffee Mug")
    k = A.prefix_index(tok, "Fabrikam Ultra Coffee Mug")
    assert tok.decode(resp[:k]) == '"'
    assert tok.decode([resp[k]]) and "F" in tok.decode([resp[k]])
    mask = title_token_mask(tok, "Fabrikam Ultra Coffee Mug")
    assert len(mask) == len(resp) and mask.argmax() == k
    assert tok.decode([t for t, m in zip(resp, mask) if m]) == "Fabrikam Ultra Coffee Mug"


def test_prefix_is_the_merged_token_when_the_quote_joins_the_first_word(data):
    """A tokenizer that lets the opening quote join the title's first word (as Llama-3's does): the
    prefix token is that merged token (it carries title characters), it counts among the title's own
    tokens for Eq. 2, and the prompt's history titles still map to their tokens."""
    from gdrt.data.prompts import build_prompt
    from gdrt.models.tiny import tiny_tokenizer

    catalog, rows, _ = data
    titles = catalog.titles[:40]
    tok = tiny_tokenizer([build_prompt(PRESET, titles[i:i + 5]) + f'"{t}"' for i, t in enumerate(titles)] * 3,
                         vocab_size=1000, merge_quotes=True)
    title = next(t for t in titles if tok.decode(encode_response(tok, t)[:1]).startswith('"')
                 and len(tok.decode(encode_response(tok, t)[:1])) > 1)
    resp = encode_response(tok, title)
    assert A.prefix_index(tok, title) == 0  # '"Word' is the first token and carries the title's first word
    mask = title_token_mask(tok, title)
    assert mask[0] and not mask[-1] and tok.decode([t for t, m in zip(resp, mask) if m]).strip('"') == title
    f = A.prompt_features(tok, PRESET, [title, titles[0]])
    assert title in tok.decode([f.ids[p] for p in f.items[0]])


def test_batched_suffix_logprob_equals_unpadded_forwards(lm, data):
    catalog, rows, _ = data
    tok = lm.tokenizer
    target = encode_response(tok, catalog.title(rows[0].target))
    seqs = [encode_prompt(tok, "Hello there\n") + target, encode_prompt(tok, "A much longer prompt, with more words in it\n") + target]
    got = A.batch_suffix_logprob(lm.model, seqs, target, tok.pad_token_id)
    m = len(target)
    for s, g in zip(seqs, got):
        with torch.no_grad():
            lp = torch.log_softmax(lm.model(input_ids=torch.tensor([s])).logits[0].float(), -1)
        ref = lp[len(s) - m - 1 : len(s) - 1].gather(-1, torch.tensor(target)[:, None]).sum().item()
        assert g == pytest.approx(ref, abs=1e-5)


def _captum(model, tok, row, catalog, baseline, feature_of):
    """captum's FeatureAblation on unpadded forwards for one row: ``feature_of(prompt_features, k)``
    gives ``[(positions, feature id)]`` over prompt + response (ids from 1; 0 is everything else).
    "remove" is a sentinel id that the forward drops. Returns (attributions per position, features, k)."""
    from captum.attr import FeatureAblation

    f = A.prompt_features(tok, PRESET, history_titles(row, catalog))
    resp = encode_response(tok, catalog.title(row.target))
    k = A.prefix_index(tok, catalog.title(row.target))
    target = torch.tensor(resp[k + 1 :])
    m = len(target)
    seq = torch.tensor([f.ids + resp])
    mask = torch.zeros_like(seq)
    for positions, feature in feature_of(f, k):
        mask[0, positions] = feature
    sentinel = -1

    def forward(ids):
        out = []
        for s in ids:
            if baseline == "remove":
                s = s[s != sentinel]
            if len(s) <= m:  # the "everything else" feature removed the target itself: irrelevant
                out.append(torch.zeros((), dtype=torch.float64))
                continue
            with torch.no_grad():
                logits = model(input_ids=s[None]).logits[0].float()
            out.append(torch.log_softmax(logits[-m - 1 : -1], -1).gather(-1, target[:, None]).sum().double())
        return torch.stack(out)

    base = sentinel if baseline == "remove" else A.placeholder_id(tok)
    return FeatureAblation(forward).attribute(seq, baselines=base, feature_mask=mask)[0], f, k


@pytest.mark.parametrize("baseline", ["remove", "placeholder"])
def test_feature_ablation_equals_captum(lm, data, baseline):
    """Same features (masks over prompt + response), same baseline: captum's FeatureAblation on an
    unpadded forward gives our batched values to 1e-5."""
    catalog, rows, _ = data
    row = _row_with_history(rows, 4)
    ours = A.feature_ablation(lm.model, lm.tokenizer, row, catalog, PRESET, baseline=baseline)
    attr, f, k = _captum(lm.model, lm.tokenizer, row, catalog, baseline, lambda f, k: [
        (f.task, 1), *[(pos, 2 + j) for j, pos in enumerate(f.items)], ([len(f.ids) + k], 2 + len(f.items))])
    assert attr[f.task[0]].item() == pytest.approx(ours["task"], abs=1e-5)
    for j, pos in enumerate(f.items):
        assert attr[pos[0]].item() == pytest.approx(ours["items"][j], abs=1e-5)
    assert attr[len(f.ids) + k].item() == pytest.approx(ours["prefix"], abs=1e-5)
    assert max(abs(ours["task"]), abs(ours["prefix"]), *map(abs, ours["items"])) > 1e-3  # not trivially 0
    assert ours["interaction"] == pytest.approx(sum(ours["items"]))
    assert ours["interaction_abs"] == pytest.approx(sum(map(abs, ours["items"])))


@pytest.mark.parametrize("baseline", ["remove", "placeholder"])
def test_token_ablation_equals_captum_per_token(lm, data, baseline):
    """Every task and interaction token its own feature (captum: a feature mask with one id per
    token), the prefix token one more: captum's values equal ours, computed in chunks over the
    cached prefix, to 1e-5."""
    catalog, rows, _ = data
    row = _row_with_history(rows, 3)
    ours = A.token_ablation(lm.model, lm.tokenizer, row, catalog, PRESET, baseline=baseline, chunk=7)

    def per_token(f, k):
        positions = list(f.task) + [p for pos in f.items for p in pos]
        return [([p], 1 + j) for j, p in enumerate(positions)] + [([len(f.ids) + k], 1 + len(positions))]

    attr, f, k = _captum(lm.model, lm.tokenizer, row, catalog, baseline, per_token)
    np.testing.assert_allclose(ours["task_tokens"], attr[list(f.task)].numpy(), atol=1e-5)
    inter = [p for pos in f.items for p in pos]
    np.testing.assert_allclose(ours["interaction_tokens"], attr[inter].numpy(), atol=1e-5)
    assert ours["prefix"] == pytest.approx(attr[len(f.ids) + k].item(), abs=1e-5)
    assert ours["item_of"] == [j for j, pos in enumerate(f.items) for _ in pos]
    assert len(ours["task_tokens"]) == len(f.task) > 1 and max(map(abs, ours["interaction_tokens"])) > 1e-3


def test_token_ablation_sample_is_a_seeded_subset_of_the_full_one(lm, data):
    catalog, rows, _ = data
    row = _row_with_history(rows, 3)
    full = A.token_ablation(lm.model, lm.tokenizer, row, catalog, PRESET)
    part = A.token_ablation(lm.model, lm.tokenizer, row, catalog, PRESET, max_tokens=3, seed=1)
    again = A.token_ablation(lm.model, lm.tokenizer, row, catalog, PRESET, max_tokens=3, seed=1)
    assert part == again and part["sampled"] and not full["sampled"]
    assert len(part["task_tokens"]) == 3 and len(part["interaction_tokens"]) == 3
    for got in part["task_tokens"]:
        assert min(abs(got - v) for v in full["task_tokens"]) < 1e-6
    for got in part["interaction_tokens"]:
        assert min(abs(got - v) for v in full["interaction_tokens"]) < 1e-6


def test_per_token_parts_are_means_per_token():
    res = [{"task_tokens": [1.0, -3.0], "interaction_tokens": [0.5, -0.5, 2.0], "prefix": -2.0},
           {"task_tokens": [2.0], "interaction_tokens": [1.0], "prefix": 1.0}]
    p = A.attribution_parts(res, absolute=True)
    np.testing.assert_allclose(p["task"], [2.0, 2.0])
    np.testing.assert_allclose(p["interaction"], [1.0, 1.0])
    np.testing.assert_allclose(p["prefix"], [2.0, 1.0])
    s = A.attribution_parts(res, absolute=False)
    np.testing.assert_allclose(s["task"], [-1.0, 2.0])
    np.testing.assert_allclose(s["interaction"], [2.0 / 3, 1.0])
    r = A.attribution_ratios(res, n_boot=100)
    assert r["task:interaction"]["ratio"] == pytest.approx(2.0) and r["prefix:interaction"]["ratio"] == pytest.approx(1.5)


def test_the_ablations_of_one_prompt_are_one_batch(lm, data):
    """Two forwards per row: the intact input, then every ablation together (packed rows)."""
    catalog, rows, _ = data
    batches = []
    h = lm.model.register_forward_hook(lambda mod, args, kwargs, out: batches.append(kwargs["input_ids"].shape[0]),
                                       with_kwargs=True)
    try:
        r = A.feature_ablation(lm.model, lm.tokenizer, _row_with_history(rows, 4), catalog, PRESET)
    finally:
        h.remove()
    assert r["n_history"] >= 4 and batches == [1, 4]


@pytest.mark.parametrize("pack_rows,lora", [(1, False), (2, False), (10, False), (4, True)])
def test_shared_prefix_scoring_equals_unpadded_forwards(lm, tiny_model_path, data, pack_rows, lora):
    """Variants that share different prefixes with the original (including none beyond one token,
    and one identical to it) score as their own unpadded forwards; also through a LoRA wrapper."""
    catalog, rows, _ = data
    if lora:
        lm = load_model(tiny_model_path, adapter="lora")
        for name, p in lm.model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.05, generator=torch.Generator().manual_seed(0))
        lm.model.eval()
    tok = lm.tokenizer
    target = encode_response(tok, catalog.title(rows[0].target))
    orig = encode_prompt(tok, "The same start, then a middle part, then the end.\n") + target
    variants = [orig[:3] + orig[5:], orig[:1] + [7, 8, 9] + orig[1:], list(orig), orig[:-len(target) - 2] + target]
    s0, got = A.ablation_logprobs(lm.model, orig, variants, target, tok.pad_token_id, pack_rows=pack_rows)
    ref = A.batch_suffix_logprob(lm.model, [orig, *variants], target, tok.pad_token_id)
    m = len(target)
    for s, g in zip([orig, *variants], [s0, *got]):
        with torch.no_grad():
            lp = torch.log_softmax(lm.model(input_ids=torch.tensor([s])).logits[0].float(), -1)
        direct = lp[len(s) - m - 1 : len(s) - 1].gather(-1, torch.tensor(target)[:, None]).sum().item()
        assert g == pytest.approx(direct, abs=1e-5)
    np.testing.assert_allclose([s0, *got], ref, atol=1e-5)
    assert got[2] == pytest.approx(s0, abs=1e-5)


def test_unknown_baseline_is_refused(lm, data):
    catalog, rows, _ = data
    with pytest.raises(ValueError, match="baseline"):
        A.feature_ablation(lm.model, lm.tokenizer, rows[0], catalog, PRESET, baseline="zero")


def _fake(task, items, prefix):
    return {"task": task, "items": items, "interaction": sum(items), "interaction_abs": sum(map(abs, items)),
            "prefix": prefix}


def test_attribution_ratios_are_ratios_of_means_with_a_bootstrap():
    res = [_fake(2.0, [0.5, -0.5], -1.0), _fake(4.0, [1.0, 1.0], 3.0), _fake(-3.0, [0.5, 0.5], 2.0)]
    r = A.attribution_ratios(res, n_boot=2000, seed=1)
    # |task| = 2, 4, 3 -> 3; sum |items| = 1, 2, 1 -> 4/3; |prefix| = 1, 3, 2 -> 2
    assert r["task:interaction"]["ratio"] == pytest.approx(3 / (4 / 3))
    assert r["prefix:interaction"]["ratio"] == pytest.approx(2 / (4 / 3))
    for key in ("task:interaction", "prefix:interaction"):
        assert r[key]["lo"] <= r[key]["ratio"] <= r[key]["hi"] and r[key]["lo"] < r[key]["hi"]
    assert A.attribution_ratios(res, n_boot=2000, seed=1) == r  # seeded
    s = A.attribution_ratios(res, n_boot=10, seed=1, absolute=False)
    assert s["task:interaction"]["ratio"] == pytest.approx((3 / 3) / (3 / 3))  # signed: mean 1 / mean 1
    z = A.attribution_ratios([_fake(1.0, [0.0], 1.0)], n_boot=10)
    assert math.isnan(z["task:interaction"]["ratio"])
    table = A.ratio_table({"a": res, "b": res[:2]}, n_boot=50)
    assert list(table.index) == ["a", "b"] and table.loc["b", "rows"] == 2


# ----------------------------------------------------------------------------------- co-occurrence
def test_cooccurrence_on_a_hand_made_example():
    ex = [([1, 2], [3, 3, 4], [5, 6, 5]), ([1, 2], [4], [6, 7])]
    counts, N = CO.cooccurrence_from_tokens(ex, vocab_size=8)
    assert N == 5

    def as_dict(m):
        c = m.tocoo()
        return {(int(a), int(b)): int(v) for a, b, v in zip(c.row, c.col, c.data)}

    assert as_dict(counts["task"]) == {(1, 5): 2, (1, 6): 2, (1, 7): 1, (2, 5): 2, (2, 6): 2, (2, 7): 1}
    assert as_dict(counts["interaction"]) == {(3, 5): 2, (3, 6): 1, (4, 5): 2, (4, 6): 2, (4, 7): 1}
    assert as_dict(counts["prefix"]) == {(5, 6): 1, (5, 5): 1, (6, 5): 1, (6, 7): 1}
    s = CO.cooccurrence_summary(counts, N)
    assert s.loc["task", "mean rate (per occurrence)"] == pytest.approx(18 / (5 * 10))
    assert s.loc["interaction", "mean rate (per pair)"] == pytest.approx(8 / 5 / 5)
    assert s.loc["prefix", "distinct pairs"] == 4
    assert sorted(CO.pair_rates(counts, N)["task"]) == pytest.approx(sorted([0.4, 0.4, 0.2, 0.4, 0.4, 0.2]))
    # a target mask: position 2 of example 1 (token 6) is no target, but stays a prefix source
    masked, M = CO.cooccurrence_from_tokens([(*ex[0], [True, False, True]), ex[1]], vocab_size=8)
    assert M == 4
    assert as_dict(masked["prefix"]) == {(5, 5): 1, (6, 5): 1, (6, 7): 1}
    assert as_dict(masked["interaction"]) == {(3, 5): 2, (4, 5): 2, (4, 6): 1, (4, 7): 1}
    with pytest.raises(ValueError, match="mask"):
        CO.cooccurrence_from_tokens([(*ex[0], [True])], vocab_size=8)


def test_cooccurrence_of_real_rows_equals_a_direct_count(lm, data):
    catalog, rows, _ = data
    tok = lm.tokenizer
    rows = rows[:6]
    counts, N = CO.cooccurrence_counts(tok, rows, catalog, PRESET)
    sets = CO.training_token_sets(tok, rows, catalog, PRESET)
    ref = {k: {} for k in CO.SOURCES}
    for task, inter, resp, mask in sets:
        for t, b in enumerate(resp):
            if not mask[t]:
                continue
            for kind, src in (("task", set(task)), ("interaction", set(inter)), ("prefix", set(resp[:t]))):
                for a in src:
                    ref[kind][(a, b)] = ref[kind].get((a, b), 0) + 1
    assert N == sum(int(s[3].sum()) for s in sets) == sum(len(s[2]) - 3 for s in sets)  # quotes, EOS out
    for kind in CO.SOURCES:
        c = counts[kind].tocoo()
        assert {(int(a), int(b)): int(v) for a, b, v in zip(c.row, c.col, c.data)} == ref[kind]
    assert len(CO.top_pairs(counts, N, tok, k=3)) == 9


# ------------------------------------------------------------------------------------- group loss
def test_group_losses_equal_a_direct_computation(lm, data):
    from gdrt.objectives.relevance import Grouping
    from gdrt.training.examples import row_prompt

    catalog, _, valid = data
    tok, model = lm.tokenizer, lm.model
    rows = valid[:5]
    rng = np.random.default_rng(0)
    rel = {t: rng.normal(size=len(encode_response(tok, t))) for t in {catalog.title(r.target) for r in rows}}
    grouping = Grouping.fit(np.concatenate(list(rel.values())), 3, "quantile")
    got = group_losses(model, tok, rows, catalog, PRESET, rel, grouping, batch_size=2)
    sums, counts = np.zeros(3), np.zeros(3)
    for r in rows:
        p = encode_prompt(tok, row_prompt(r, catalog, PRESET))
        y = encode_response(tok, catalog.title(r.target))
        with torch.no_grad():
            lp = torch.log_softmax(model(input_ids=torch.tensor([p + y])).logits[0].float(), -1)
        nll = -lp[len(p) - 1 : len(p) + len(y) - 1].gather(-1, torch.tensor(y)[:, None]).squeeze(-1).numpy()
        g = grouping.assign(rel[catalog.title(r.target)])
        np.add.at(sums, g, nll)
        np.add.at(counts, g, 1)
    assert got["counts"].tolist() == counts.astype(int).tolist()
    np.testing.assert_allclose(got["group_loss"], sums / counts, atol=1e-5)
    assert got["mean"] == pytest.approx(sums.sum() / counts.sum(), abs=1e-5)
    assert len(group_loss_table({"m": got})) == 3


# ---------------------------------------------------------------------------------- group shares
def _pred(target, history, ids):
    return {"target": target, "history": history, "item_ids": ids}


def test_topk_group_shares_and_table():
    groups = {1: 1, 2: 1, 3: 2, 4: 2}
    preds = [_pred(3, [1, 3], [[1], [3, 4], []]), _pred(1, [2], [[4], [2]])]
    assert C.topk_group_share(preds, groups, 1).tolist() == [0.5, 0.5]
    assert C.topk_group_share(preds, groups, 2).tolist() == [0.5, 0.5]  # 1, 3 | 4, 2
    assert C.topk_group_share([preds[0]], groups, 10).tolist() == [0.5, 0.5]  # empty entry skipped
    t = C.group_share_table({"m": preds, "n": preds[:1]}, groups, ks=(1, 2))
    assert list(t["source"]) == ["m", "m", "n", "n", "test targets", "histories"]
    assert t.iloc[-2][["group 1", "group 2"]].tolist() == [0.5, 0.5]  # targets 3, 1 (of the larger set)
    assert t.iloc[-1][["group 1", "group 2"]].tolist() == [2 / 3, 1 / 3]


def test_every_n_steps():
    assert C.every_n_steps(96, 8, 2.0, n_points=8) == 3   # 24 steps
    assert C.every_n_steps(512, 8, 1.0, n_points=8) == 8  # 64 steps
    assert C.every_n_steps(5, 8, 1.0, n_points=8) == 1


def test_group_share_callback_in_a_gdrt_trainer(tiny_model_path, data, tmp_path):
    """The callback added to a GDRTTrainer directly: measurements before training and every step,
    the model left in the mode it was in, and the first measurement equal to a direct decoding."""
    from transformers import TrainingArguments

    from gdrt.evaluation import recommend
    from gdrt.metrics import top1_group_share
    from gdrt.training.examples import ExampleDataset, build_examples, collate
    from gdrt.training.trainer import GDRTTrainer

    catalog, rows, valid = data
    lm = load_model(tiny_model_path, adapter="lora")
    tok = lm.tokenizer
    groups = {i: 1 + i % 5 for i in catalog.id2title}  # any grouping will do here
    subset = valid[:2]
    cb = C.GroupShareCallback(subset, catalog, PRESET, tok, groups, every_n_steps=2, num_beams=2)

    lm.model.eval()
    preds = recommend(lm.model, tok, subset, catalog, PRESET, num_beams=2, progress=False)
    direct = top1_group_share([p["item_ids"] for p in preds], groups, 5)

    ex = build_examples(rows[:8], catalog, PRESET, tok)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, max_steps=3, learning_rate=1e-2,
                             report_to=[], use_cpu=True, remove_unused_columns=False, save_strategy="no",
                             disable_tqdm=True, seed=0)
    tr = GDRTTrainer(model=lm.model, args=args, train_dataset=ExampleDataset(ex),
                     data_collator=lambda b: collate(b, tok.pad_token_id), callbacks=[cb], method="gdrt",
                     n_groups=3, tau=0.5)
    tr.train()
    assert [h["step"] for h in cb.history] == [0, 2, 3]  # start, every 2 steps, the end
    assert cb.history[0]["top1_group_share"] == pytest.approx(direct.tolist())
    for h in cb.history:
        assert sum(h["top1_group_share"]) == pytest.approx(1.0)
        assert h["top1_group1_share"] == h["top1_group_share"][0] and 0 <= h["ndcg@5"] <= 1
    lm.model.train()
    cb.measure(lm.model, 99)
    assert lm.model.training and cb.history[-1]["step"] == 99
    with pytest.raises(ValueError):
        C.GroupShareCallback(subset, catalog, PRESET, tok, groups, every_n_steps=0)


# ------------------------------------------------------------------------------------------ plots
def test_figures_build():
    import pandas as pd

    from gdrt.plots import bias

    res = [_fake(2.0, [0.5, -0.5], -1.0), _fake(4.0, [1.0, 1.0], 3.0)]
    for i, r in enumerate(res):
        r["row"] = i
    table = A.ratio_table({"base": res, "sft": res}, n_boot=20)
    assert len(bias.attribution_ratios(table, 1.0, {"Toy": 4.69, "Clothing": 6.58}).data) == 2  # one bar trace per panel
    assert len(bias.contributions(A.contributions_frame({"base": res})).data) == 1
    groups = {1: 1, 2: 2}
    preds = [_pred(1, [1, 2], [[1], [2]])]
    st = C.group_share_table({"sft": preds}, groups, ks=(1, 10))
    assert len(bias.group_shares(st).data) == 2 * 3
    trace = pd.DataFrame([{"method": m, "seed": s, "step": st, "top-1 group-1 share": 0.5, "NDCG@5": 0.1}
                          for m in ("sft", "gdrt") for s in (0, 1) for st in (0, 2)])
    assert len(bias.reference_trace(trace, 0.2).data) == 8  # method x seed x panel
    assert len(bias.cooccurrence_rates({"task": [0.1, 0.2], "interaction": [0.01]}).data) == 2
    gl = pd.DataFrame([{"model": "sft", "group": 1, "tokens": 3, "loss": 1.0}])
    assert len(bias.group_losses(gl).data) == 1


def test_group_share_trace_trains_once_with_the_callback_and_reads_a_wired_log(tiny_model_path, synth_dir, data,
                                                                              tmp_path):
    from gdrt.io import read_json, write_json
    from gdrt.training import runs
    from gdrt.training.runs import TrainConfig

    catalog, _, valid = data
    cfg = TrainConfig(data_dir=str(synth_dir), dataset="synthetic", model=tiny_model_path, adapter="lora",
                      method="sft", train_split="train", n_train=16, n_valid=2, valid_split="valid", epochs=1,
                      batch_size=8, lr=1e-3, num_beams=2)
    groups = {i: 1 + i % 5 for i in catalog.id2title}
    original = runs.GDRTTrainer
    hist = C.group_share_trace(cfg, tmp_path, valid[:2], groups, n_points=2, num_beams=2)
    assert runs.GDRTTrainer is original  # the bridge is undone
    assert [h["step"] for h in hist] == [0, 1, 2]
    run_dir = tmp_path / "traced" / cfg.run_name()
    assert read_json(run_dir / "train_log.json")["group_share"] == hist
    stamp = (run_dir / "final.json").stat().st_mtime_ns
    assert C.group_share_trace(cfg, tmp_path, valid[:2], groups, n_points=2, num_beams=2) == hist
    assert (run_dir / "final.json").stat().st_mtime_ns == stamp  # reused, not retrained
    # a run whose own log carries the trace (TrainConfig wired with the callback) is read as is
    wired = tmp_path / "wired"
    write_json(wired / cfg.run_name() / "train_log.json", {"group_share": [{"step": 7}]})
    assert C.group_share_trace(cfg, wired, valid[:2], groups) == [{"step": 7}]
