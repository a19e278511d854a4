"""Training: the loss alignment with left padding, SFT as one group, GDRT across processes, QLoRA
gradients after an evaluation pass, and a whole run on the tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gdrt.data import get_preset, load_catalog, load_split
from gdrt.models.loading import load_model
from gdrt.objectives.gdrt import gdrt_loss, group_stats
from gdrt.training.examples import build_examples, collate, logits_to_keep, shift_token_losses

PRESET = get_preset("synthetic")


@pytest.fixture(scope="module")
def data(synth_dir):
    catalog = load_catalog(synth_dir)
    return catalog, load_split(synth_dir, "train", catalog)


def _batch(examples, tok):
    return collate([{"input_ids": e.input_ids, "labels": e.labels, "token_groups": e.token_groups}
                    for e in examples], tok.pad_token_id)


def _token_losses(model, batch):
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                position_ids=batch["position_ids"], logits_to_keep=logits_to_keep(batch["labels"]))
    return shift_token_losses(out.logits, batch["labels"], batch["token_groups"])


def test_left_padded_loss_equals_the_models_own_loss(tiny_model_path, data):
    """Per example, our left-padded, logits_to_keep loss equals HF's loss on the unpadded example."""
    catalog, rows = data
    lm = load_model(tiny_model_path)
    ex = build_examples(rows[:4], catalog, PRESET, lm.tokenizer)
    assert len({len(e.input_ids) for e in ex}) > 1  # padding really happens
    nll, grp = _token_losses(lm.model, _batch(ex, lm.tokenizer))
    per_row = nll.view(4, -1)
    for i, e in enumerate(ex):
        ids = torch.tensor([e.input_ids])
        ref = lm.model(input_ids=ids, labels=torch.tensor([e.labels])).loss
        mask = grp.view(4, -1)[i] >= 0
        assert mask.sum() == sum(1 for v in e.labels if v != -100)
        assert per_row[i][mask].mean().item() == pytest.approx(ref.item(), abs=1e-5)


def test_response_tokens_only_carry_labels(tiny_model_path, data):
    catalog, rows = data
    lm = load_model(tiny_model_path)
    e = build_examples(rows[:1], catalog, PRESET, lm.tokenizer)[0]
    n_resp = sum(1 for v in e.labels if v != -100)
    from gdrt.data import encode_response

    assert e.labels[-n_resp:] == encode_response(lm.tokenizer, catalog.title(rows[0].target))
    assert e.input_ids[-n_resp:] == e.labels[-n_resp:]


def test_gdrt_across_two_processes_equals_one_process():
    """Two 'processes' each holding half the batch, their group statistics summed by all_reduce:
    the mean of their losses and of their gradients equals one process seeing the whole batch."""
    torch.manual_seed(0)
    w = torch.randn(12, requires_grad=True)
    groups = torch.tensor([0, 0, 1, 2, 2, 2, 1, 0, 3, -1, 2, 1])
    G, tau = 4, 0.3

    def token_loss(idx):
        return (w[idx] ** 2 + 0.1 * w[idx]).exp()

    full, _ = gdrt_loss(token_loss(torch.arange(12)), groups, G, tau)
    g_full = torch.autograd.grad(full, w)[0]
    halves = [torch.arange(0, 5), torch.arange(5, 12)]
    stats = []
    for h in halves:
        s, c = group_stats(token_loss(h).detach(), groups[h], G)
        stats.append(torch.cat([s, c, torch.ones(1)]).unsqueeze(0))
    total, grads = 0.0, torch.zeros(12)
    for k, h in enumerate(halves):
        other = stats[1 - k]
        loss, _ = gdrt_loss(token_loss(h), groups[h], G, tau, all_reduce=lambda t, o=other: t + o)
        total = total + loss.item() / 2
        grads += torch.autograd.grad(loss, w)[0] / 2
    assert total == pytest.approx(full.item(), rel=1e-6)
    assert torch.allclose(grads, g_full, atol=1e-6)


def test_qlora_gradients_stay_nonzero_after_an_evaluation_pass(tiny_model_path, data):
    """docs/stack-notes.md, "The 4-bit eval-mode weight-rewrite trap": on some CPUs an eval-mode
    forward through 4-bit layers rewrote the weights and every later LoRA gradient was exactly zero.
    Train, evaluate (decode), train again."""
    catalog, rows = data
    lm = load_model(tiny_model_path, adapter="qlora")
    if lm.adapter != "qlora":
        pytest.skip(f"4-bit unavailable here: {lm.note}")
    batch = _batch(build_examples(rows[:4], catalog, PRESET, lm.tokenizer), lm.tokenizer)

    def grad_norm():
        lm.model.train()
        lm.model.zero_grad()
        nll, grp = _token_losses(lm.model, batch)
        nll[grp >= 0].mean().backward()
        return sum(p.grad.norm().item() for p in lm.model.parameters() if p.requires_grad and p.grad is not None)

    before = grad_norm()
    lm.model.eval()
    from gdrt.decoding import build_trie, constrained_beam_search
    from gdrt.training.examples import row_prompt

    trie = build_trie(lm.tokenizer, catalog.titles[:20])
    with torch.no_grad():
        constrained_beam_search(lm.model, lm.tokenizer, [row_prompt(rows[0], catalog, PRESET)], trie, num_beams=3)
        lm.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    after = grad_norm()
    assert before > 0
    assert after > 0.5 * before


def test_a_whole_run_on_the_tiny_model_then_reuse(tiny_model_path, synth_dir, tmp_path):
    from gdrt.evaluation import evaluate_run
    from gdrt.training.runs import TrainConfig, train

    cfg = TrainConfig(data_dir=str(synth_dir), dataset="synthetic", model=tiny_model_path, adapter="lora",
                      method="gdrt", n_train=32, n_valid=4, valid_split="valid", epochs=1, batch_size=8,
                      n_groups=3, tau=0.5, lr=1e-3, num_beams=3)
    run = train(cfg, runs_root=tmp_path, progress=False)
    final = json.loads((run / "final.json").read_text())
    log = json.loads((run / "train_log.json").read_text())
    assert final["steps"] == 4 and final["n_train"] == 32
    assert (run / "best" / "adapter_config.json").exists()
    assert len(log["groups"]) == 4 and all(abs(sum(g["weights"]) - 1) < 1e-5 for g in log["groups"])
    assert sum(json.loads((run / "grouping.json").read_text())["tokens_per_group"]) > 0
    stamp = (run / "final.json").stat().st_mtime_ns
    assert train(cfg, runs_root=tmp_path, progress=False) == run  # reused, not retrained
    assert (run / "final.json").stat().st_mtime_ns == stamp

    m, out = evaluate_run(run, "test", limit=6, num_beams=3, progress=False)
    for key in ("ndcg@5", "ndcg@10", "hit@5", "hit@10", "mgu@5", "dgu@5", "mgu@10", "dgu@10", "n_rows",
                "invalid_predictions", "top1_group_share", "target_group_share", "history_group_share"):
        assert key in m, key
    assert m["n_rows"] == 6 and m["invalid_predictions"] == 0
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["row"] for p in preds] == list(range(6))
    p = preds[0]
    assert set(p) >= {"row", "user_id", "target", "history", "prompt", "item_ids", "titles", "scores"}
    assert len(p["titles"]) == len(set(p["titles"])) <= 3
    assert p["scores"] == sorted(p["scores"], reverse=True)
    groups = json.loads((out / "item_groups.json").read_text())
    assert {v["group"] for v in groups.values()} == {1, 2, 3, 4, 5}
    assert json.loads((out / "config.json").read_text())["method"] == "gdrt"


def test_config_rejects_bad_values(synth_dir):
    from gdrt.training.runs import TrainConfig

    with pytest.raises(ValueError, match="tau must be > 0"):
        TrainConfig(data_dir=str(synth_dir), tau=-1)
    with pytest.raises(ValueError, match="unknown config key"):
        TrainConfig.from_dict({"data_dir": str(synth_dir), "taux": 1})
    with pytest.raises(ValueError, match="method"):
        TrainConfig(data_dir=str(synth_dir), method="dpo")


@pytest.mark.parametrize("method,msl", [("sft", False), ("gdrt", False), ("sft", True), ("gdrt", True)])
def test_gradient_accumulation_equals_one_large_batch(method, msl, tiny_model_path, data, tmp_path):
    """One optimizer step over 4 examples: micro-batches of 2 accumulated twice give the same LoRA
    weights as one batch of 4 (dropout off; padding differs, hence the small tolerance). With ``msl``
    the token losses are MSL's (softmax over the trie's allowed tokens)."""
    from transformers import TrainingArguments

    from gdrt.data import encode_response
    from gdrt.decoding import build_trie
    from gdrt.training.examples import ExampleDataset
    from gdrt.training.trainer import GDRTTrainer

    catalog, rows = data

    def one_step(bs, ga):
        torch.manual_seed(0)
        lm = load_model(tiny_model_path, adapter="lora", lora_dropout=0.0)
        for name, p in lm.model.named_parameters():  # LoRA B starts at 0: give it values so A gets gradients
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.02, generator=torch.Generator().manual_seed(1))
        trie = build_trie(lm.tokenizer, catalog.titles) if msl else None
        ex = build_examples(rows[:4], catalog, PRESET, lm.tokenizer,  # token t of a title in group t % 3
                            token_group_of=lambda t: np.arange(len(encode_response(lm.tokenizer, t))) % 3,
                            trie=trie)
        args = TrainingArguments(output_dir=str(tmp_path / f"{bs}-{ga}"), per_device_train_batch_size=bs,
                                 gradient_accumulation_steps=ga, max_steps=1, learning_rate=1e-2, report_to=[],
                                 use_cpu=True, remove_unused_columns=False, save_strategy="no", seed=0,
                                 data_seed=0, disable_tqdm=True, lr_scheduler_type="constant", optim="sgd",
                                 average_tokens_across_devices=True)
        tr = GDRTTrainer(model=lm.model, args=args, train_dataset=ExampleDataset(ex),
                         data_collator=lambda b: collate(b, lm.tokenizer.pad_token_id), method=method,
                         n_groups=3, tau=0.3)
        tr.train()
        return {n: p.detach().clone() for n, p in lm.model.named_parameters() if p.requires_grad}, tr

    big, tr_big = one_step(4, 1)
    small, tr_small = one_step(2, 2)
    diff = max((big[n] - small[n]).abs().max().item() for n in big)
    assert diff < 1e-6
    if method == "gdrt":
        assert tr_big.group_log[0]["weights"] == pytest.approx(tr_small.group_log[0]["weights"], abs=1e-5)


def test_gradient_checkpointing_gives_the_same_step_and_keeps_the_run_key(tiny_model_path, data, tmp_path, synth_dir):
    """Non-reentrant activation checkpointing recomputes the forward in the backward pass: one GDRT
    step gives the same LoRA weights as without it. It is how a run is carried out, not what it
    computes, so it does not change the run's key."""
    from transformers import TrainingArguments

    from gdrt.data import encode_response
    from gdrt.training.examples import ExampleDataset
    from gdrt.training.trainer import GDRTTrainer

    catalog, rows = data

    def one_step(checkpointing):
        torch.manual_seed(0)
        lm = load_model(tiny_model_path, adapter="lora", lora_dropout=0.0)
        for name, p in lm.model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.02, generator=torch.Generator().manual_seed(1))
        ex = build_examples(rows[:4], catalog, PRESET, lm.tokenizer,
                            token_group_of=lambda t: np.arange(len(encode_response(lm.tokenizer, t))) % 3)
        args = TrainingArguments(output_dir=str(tmp_path / str(checkpointing)), per_device_train_batch_size=4,
                                 max_steps=1, learning_rate=1e-2, report_to=[], use_cpu=True,
                                 remove_unused_columns=False, save_strategy="no", seed=0, data_seed=0,
                                 disable_tqdm=True, lr_scheduler_type="constant", optim="sgd",
                                 gradient_checkpointing=checkpointing,
                                 gradient_checkpointing_kwargs={"use_reentrant": False} if checkpointing else None)
        tr = GDRTTrainer(model=lm.model, args=args, train_dataset=ExampleDataset(ex),
                         data_collator=lambda b: collate(b, lm.tokenizer.pad_token_id), method="gdrt",
                         n_groups=3, tau=0.3)
        tr.train()
        assert lm.model.is_gradient_checkpointing == checkpointing
        return {n: p.detach().clone() for n, p in lm.model.named_parameters() if p.requires_grad}

    plain, ckpt = one_step(False), one_step(True)
    assert max((plain[n] - ckpt[n]).abs().max().item() for n in plain) < 1e-6
    from gdrt.training.runs import TrainConfig

    a = TrainConfig(data_dir=str(synth_dir), method="gdrt")
    assert a.key() == TrainConfig(data_dir=str(synth_dir), method="gdrt", gradient_checkpointing=True).key()
