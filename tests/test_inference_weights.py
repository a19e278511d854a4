"""Inference on a trained adapter: a QLoRA adapter is merged into the NF4-dequantized base (the
weights it was trained against), so the merged model computes what the 4-bit model + adapter computes;
the full-precision base would be another model."""

from __future__ import annotations

import json

import pytest
import torch

from gdrt.models.loading import load_model, load_trained


def _perturbed_adapter(tiny_model_path, adapter, out):
    lm = load_model(tiny_model_path, adapter=adapter)
    torch.manual_seed(0)
    for name, p in lm.model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.2)
    lm.model.save_pretrained(out / "best")
    (out / "config.json").write_text(json.dumps({"model": tiny_model_path, "adapter": lm.adapter, "bf16": False}))
    lm.model.eval()
    return lm


@pytest.mark.parametrize("adapter", ["qlora", "lora"])
def test_merged_adapter_computes_what_the_trained_model_computes(tiny_model_path, tmp_path, adapter):
    lm = _perturbed_adapter(tiny_model_path, adapter, tmp_path)
    if lm.adapter != adapter:
        pytest.skip(f"4-bit unavailable here: {lm.note}")
    ids = lm.tokenizer(["a prompt about items", "another one"], return_tensors="pt", padding=True)
    with torch.no_grad():
        trained = lm.model(**ids).logits
        merged_lm = load_trained(tmp_path)
        merged = merged_lm.model(**ids).logits
    assert not hasattr(merged_lm.model, "peft_config")  # a plain model: the adapter is merged in
    assert all(p.dtype == torch.float32 for p in merged_lm.model.parameters())
    assert torch.allclose(merged, trained, atol=1e-4), (merged - trained).abs().max()
    if adapter == "qlora":  # the full-precision base + the same adapter is a different model
        full = load_model(tiny_model_path, adapter_path=tmp_path / "best").model
        with torch.no_grad():
            assert (full(**ids).logits - trained).abs().max() > 1e-3


def test_bf16_runs_are_evaluated_in_bf16_unless_asked(tiny_model_path, tmp_path):
    _perturbed_adapter(tiny_model_path, "lora", tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "bf16": True}))
    assert next(load_trained(tmp_path).model.parameters()).dtype == torch.bfloat16
    assert next(load_trained(tmp_path, bf16=False).model.parameters()).dtype == torch.float32


@pytest.mark.parametrize("adapter", ["qlora", "lora"])
def test_snapshot_of_a_model_under_training(tiny_model_path, tmp_path, adapter):
    from gdrt.models.loading import InferenceSnapshot

    lm = _perturbed_adapter(tiny_model_path, adapter, tmp_path)
    if lm.adapter != adapter:
        pytest.skip(f"4-bit unavailable here: {lm.note}")
    lm.model.train()
    snap = InferenceSnapshot(tiny_model_path, adapter)
    ids = lm.tokenizer(["a prompt about items"], return_tensors="pt")
    with torch.no_grad():
        copy = snap(lm.model)(**ids).logits
        lm.model.eval()
        trained = lm.model(**ids).logits
    assert lm.model.training is False and torch.allclose(copy, trained, atol=1e-4)
    for name, p in lm.model.named_parameters():  # a later snapshot sees later weights
        if "lora_B" in name:
            p.data.zero_()
    with torch.no_grad():
        plain = load_model(tiny_model_path, adapter=adapter).model.get_base_model()(**ids).logits
        assert torch.allclose(snap(lm.model)(**ids).logits, plain, atol=1e-4)
