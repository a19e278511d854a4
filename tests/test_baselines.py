"""The baselines of chapter 6: MSL's masked softmax, IFairLRS's sample weights, and whole tiny runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gdrt.data import encode_response, get_preset, load_catalog, load_split
from gdrt.decoding import build_trie
from gdrt.decoding.trie import Trie
from gdrt.models.loading import load_model
from gdrt.objectives.baselines import allowed_after_prefixes, ifair_group_weights, masked_token_nll
from gdrt.training.examples import ExampleDataset, build_examples, collate, logits_to_keep, shift_token_losses

PRESET = get_preset("synthetic")


def test_masked_softmax_by_hand():
    logits = torch.tensor([[1.0, 2.0, 3.0, 0.0], [0.5, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    allowed = torch.tensor([[0, 2], [0, -1], [-1, -1]])  # row 2: padding, nothing allowed
    nll = masked_token_nll(logits, torch.tensor([2, 0, -100]), allowed)
    assert nll[0].item() == pytest.approx(math.log(math.e + math.e**3) - 3.0, abs=1e-6)
    assert nll[1].item() == pytest.approx(0.0, abs=1e-7)  # a token the trie forces costs nothing
    assert nll[2].item() == 0.0


def test_masked_softmax_is_cross_entropy_over_the_whole_vocabulary_and_never_above_it():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 11, generator=g, requires_grad=True)
    targets = torch.randint(0, 11, (6,), generator=g)
    full = masked_token_nll(logits, targets, torch.arange(11).expand(6, 11))
    ce = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    assert torch.allclose(full, ce, atol=1e-6)
    some = torch.stack([torch.tensor([t.item(), (t.item() + 3) % 11, -1]) for t in targets])
    assert (masked_token_nll(logits, targets, some) <= ce + 1e-6).all()
    padded = torch.cat([some, torch.full((1, 3), -1)])
    loss = masked_token_nll(torch.cat([logits, logits[:1]]), torch.cat([targets, torch.tensor([-100])]), padded)
    loss.sum().backward()
    assert torch.isfinite(logits.grad).all()  # padding rows give no NaN gradient


def test_masked_softmax_refuses_a_target_outside_the_allowed_tokens():
    with pytest.raises(ValueError, match="not among the tokens the trie allows"):
        masked_token_nll(torch.zeros(1, 4), torch.tensor([3]), torch.tensor([[0, 1]]))


def test_allowed_tokens_follow_the_trie():
    trie = Trie({"a": [5, 1, 9], "b": [5, 2, 9], "c": [6, 9]}, eos_token_id=9)
    assert allowed_after_prefixes(trie, [5, 2, 9]) == [[5, 6], [1, 2], [9]]
    assert allowed_after_prefixes(trie, [6, 9]) == [[5, 6], [9]]
    with pytest.raises(ValueError, match="leave the trie"):
        allowed_after_prefixes(trie, [6, 1, 9])


def test_ifair_weights_by_hand():
    # histories: groups 1,1,2,3 -> GH = (.5, .25, .25); targets: 1,2,2,2 -> GT = (.25, .75, 0)
    w = ifair_group_weights([1, 1, 2, 3], [1, 2, 2, 2], n_groups=3)
    assert w.tolist() == pytest.approx([2.0, 1 / 3, 0.0])
    with pytest.raises(ValueError):
        ifair_group_weights([], [1], n_groups=3)


@pytest.fixture(scope="module")
def data(synth_dir):
    catalog = load_catalog(synth_dir)
    return catalog, load_split(synth_dir, "train", catalog)


def test_batched_msl_losses_equal_each_example_alone(tiny_model_path, data):
    """Left padding, logits_to_keep and the [B, R, K] allowed tensor line up: per example, the batched
    MSL token losses equal those computed on the example alone from its full logits."""
    catalog, rows = data
    lm = load_model(tiny_model_path)
    trie = build_trie(lm.tokenizer, catalog.titles)
    ex = build_examples(rows[:5], catalog, PRESET, lm.tokenizer, trie=trie)
    assert len({len(e.allowed) for e in ex}) > 1  # responses of different lengths
    batch = collate([ExampleDataset(ex)[i] for i in range(5)], lm.tokenizer.pad_token_id)
    out = lm.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   position_ids=batch["position_ids"], logits_to_keep=logits_to_keep(batch["labels"]))
    nll, grp = shift_token_losses(out.logits, batch["labels"], batch["token_groups"], batch["allowed"])
    per_row, g = nll.view(5, -1), grp.view(5, -1)
    for i, e in enumerate(ex):
        logits = lm.model(input_ids=torch.tensor([e.input_ids])).logits[0, :-1]
        r = len(e.allowed)
        resp = torch.tensor(e.labels[-r:])
        a = torch.full((r, max(map(len, e.allowed))), -1)
        for j, ids in enumerate(e.allowed):
            a[j, : len(ids)] = torch.tensor(ids)
        ref = masked_token_nll(logits[-r:], resp, a)
        assert torch.allclose(per_row[i][g[i] >= 0], ref, atol=1e-5)
        assert resp.tolist() == encode_response(lm.tokenizer, e.title)


@pytest.mark.parametrize("method,token_loss,name", [("reweight", "ce", "reweight"), ("sft", "msl", "msl"),
                                                    ("gdrt", "msl", "gdrt-msl")])
def test_a_whole_baseline_run_on_the_tiny_model(method, token_loss, name, tiny_model_path, synth_dir, tmp_path):
    from gdrt.training.runs import TrainConfig, train

    cfg = TrainConfig(data_dir=str(synth_dir), dataset="synthetic", model=tiny_model_path, adapter="lora",
                      method=method, token_loss=token_loss, n_train=16, n_valid=4, valid_split="valid",
                      epochs=1, batch_size=8, n_groups=3, tau=0.5, lr=1e-3, num_beams=3)
    run = train(cfg, runs_root=tmp_path, progress=False)
    assert run.name.startswith(f"{name}-synthetic-")
    final = json.loads((run / "final.json").read_text())
    log = json.loads((run / "train_log.json").read_text())
    assert final["steps"] == 2 and all(math.isfinite(h["loss"]) for h in log["loss"])
    if method == "reweight":
        w = json.loads((run / "reweight.json").read_text())["group_weights"]
        assert len(w) == 5 and all(x >= 0 for x in w) and any(abs(x - 1) > 1e-3 for x in w)


def test_default_options_keep_the_run_hash(synth_dir):
    """Adding token_loss did not rename earlier runs: a "ce" config hashes as before the option."""
    from gdrt.training.runs import TrainConfig

    cfg = TrainConfig(data_dir=str(synth_dir))
    assert cfg.key() != TrainConfig(data_dir=str(synth_dir), token_loss="msl").key()
    d = {k: v for k, v in json.loads(json.dumps(cfg.__dict__)).items() if k != "token_loss"}
    assert TrainConfig.from_dict(d).key() == cfg.key()
    with pytest.raises(ValueError, match="token_loss"):
        TrainConfig(data_dir=str(synth_dir), token_loss="focal")


def test_reweighted_loss_scales_with_the_weights(tiny_model_path, data):
    from transformers import TrainingArguments

    from gdrt.training.trainer import GDRTTrainer

    catalog, rows = data
    lm = load_model(tiny_model_path, adapter="lora", lora_dropout=0.0)
    args = TrainingArguments(output_dir="/tmp/unused-gdrt-test", use_cpu=True, report_to=[], save_strategy="no",
                             remove_unused_columns=False)
    tr = GDRTTrainer(model=lm.model, args=args, train_dataset=ExampleDataset([]), method="sft")
    lm.model.eval()
    losses = []
    for w in (None, 1.0, 2.5):
        ex = build_examples(rows[:3], catalog, PRESET, lm.tokenizer, weight_of=None if w is None else (lambda r, w=w: w))
        batch = collate([ExampleDataset(ex)[i] for i in range(3)], lm.tokenizer.pad_token_id)
        with torch.no_grad():
            losses.append(tr.compute_loss(lm.model, batch).item())
    assert losses[1] == pytest.approx(losses[0], rel=1e-6)
    assert losses[2] == pytest.approx(2.5 * losses[0], rel=1e-6)
    assert np.isfinite(losses).all()


def test_a_prefix_of_an_evaluation_is_rescored_not_decoded(tiny_model_path, synth_dir, tmp_path):
    """Chapter 6 compares methods on the first rows of the test split: for a run already evaluated on
    more rows, those rows' predictions are rescored, and equal what decoding them alone gives."""
    import shutil

    from gdrt.diagnostics.callbacks import load_predictions
    from gdrt.evaluation import evaluate_run
    from gdrt.training.runs import TrainConfig, train

    cfg = TrainConfig(data_dir=str(synth_dir), dataset="synthetic", model=tiny_model_path, adapter="lora",
                      n_train=16, n_valid=4, valid_split="valid", epochs=1, batch_size=8, num_beams=3)
    run = train(cfg, runs_root=tmp_path / "a", progress=False)
    alone = tmp_path / "b" / run.name
    shutil.copytree(run, alone)
    full, _ = evaluate_run(run, "test", limit=16, num_beams=3, progress=False)
    part, out = evaluate_run(run, "test", limit=8, num_beams=3, progress=False)
    assert json.loads((out / "config.json").read_text())["rescored_from"].endswith("eval-test-16-b3-lp1")
    direct, out_direct = evaluate_run(alone, "test", limit=8, num_beams=3, progress=False)
    assert "rescored_from" not in json.loads((out_direct / "config.json").read_text())
    assert part == direct and part["n_rows"] == 8
    assert [p["titles"] for p in load_predictions(out)] == [p["titles"] for p in load_predictions(out_direct)]
    d3, _ = evaluate_run(run, "test", limit=8, num_beams=3, length_penalty=0.0, progress=False)
    assert d3["n_rows"] == 8  # another length penalty: decoded, not rescored from lp1


def test_weight_sensitivity_by_hand():
    """Chapter 7's grid on the objective: Q = softmax(L / tau) over the groups with tokens."""
    from gdrt.diagnostics import weight_sensitivity

    t = weight_sensitivity({2: [1.0, 2.0], 3: [1.0, float("nan"), 3.0]}, [1.0, 0.5])
    q = t[(t["G"] == 2) & (t["tau"] == 1.0)]["Q(g)"].tolist()
    assert q == pytest.approx([1 / (1 + math.e), math.e / (1 + math.e)])
    q = t[(t["G"] == 3) & (t["tau"] == 0.5)]["Q(g)"].tolist()
    assert q == pytest.approx([1 / (1 + math.e**4), 0.0, math.e**4 / (1 + math.e**4)])  # (3 - 1) / 0.5 = 4
    u = t[(t["G"] == 3) & (t["tau"] == 0.5)]["Q/uniform"].tolist()
    assert u[1] == 0.0 and u[0] + u[2] == pytest.approx(2.0)  # two groups present: uniform is 1/2


def test_an_empty_grid_says_what_a_point_would_cost(synth_dir):
    from gdrt import book

    cfg = book.setup("smoke")
    note = book.sensitivity_grid(cfg, [], minutes_per_run=12.6)
    assert "about 13 min each" in note.data and "-p grid" in note.data


def test_msl_runs_are_decoded_with_the_softmax_over_allowed_tokens(tiny_model_path, synth_dir, tmp_path):
    from gdrt.evaluation import evaluate_run
    from gdrt.training.runs import TrainConfig, train

    cfg = TrainConfig(data_dir=str(synth_dir), dataset="synthetic", model=tiny_model_path, adapter="lora",
                      token_loss="msl", n_train=8, n_valid=4, valid_split="valid", epochs=1, batch_size=8,
                      num_beams=3)
    run = train(cfg, runs_root=tmp_path, progress=False)
    m, out = evaluate_run(run, "test", limit=4, num_beams=3, progress=False)
    assert out.name == "eval-test-4-b3-lp1-mb"
    assert json.loads((out / "config.json").read_text())["mask"] == "before"
    # "before" renormalises over the allowed tokens, so a title scores at least what it scores "after"
    from gdrt.data import load_catalog, load_split
    from gdrt.evaluation import recommend
    from gdrt.models.loading import load_trained

    before = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    catalog = load_catalog(synth_dir)
    lm = load_trained(run)
    after = recommend(lm.model, lm.tokenizer, load_split(synth_dir, "test", catalog)[:4], catalog, PRESET,
                      num_beams=3, progress=False, mask="after")
    common = [(dict(zip(b["titles"], b["scores"]))[t], s) for b, a in zip(before, after)
              for t, s in zip(a["titles"], a["scores"]) if t in b["titles"]]
    assert common and all(sb >= sa - 1e-5 for sb, sa in common)
    assert any(sb > sa + 1e-4 for sb, sa in common)


def test_versus_table_on_hand_made_predictions():
    """Chapter 6's table: a copy of the reference differs by 0; a model whose every top-1 is in item
    group 1 (the reference's never is) is higher on that share, with an interval at exactly 1."""
    from gdrt.diagnostics import versus_table

    def pred(row, first):
        return {"row": row, "target": 9, "history": [1], "item_ids": [[first], [9]], "titles": ["x", "y"],
                "scores": [0.0, -1.0]}

    ref = [pred(i, 2) for i in range(6)]
    preds = {"sft": ref, "copy": [dict(p) for p in ref], "biased": [pred(i, 1) for i in range(6)]}
    t = versus_table(preds, "sft", {1: 1, 2: 2, 9: 3}, n_boot=200)
    assert list(t.index) == ["copy", "biased"]
    assert t.loc["copy", "Δ ndcg@10"] == 0 and t.loc["copy", "top-1 g1 verdict"] == "no detectable difference"
    assert t.loc["biased", "Δ top-1 g1"] == 1.0 and t.loc["biased", "top-1 g1 lo"] == 1.0
    assert t.loc["biased", "top-1 g1 verdict"] == "biased higher"
    assert t.loc["biased", "Δ ndcg@10"] == 0  # the target is second in both lists
