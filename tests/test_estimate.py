"""gdrt.estimate: the work a profile does, counted from its sizes, and hours from measured rates."""

import pytest

from gdrt import book, estimate
from gdrt.errors import GDRTInputError


def test_work_counts_follow_the_profile_sizes():
    w = estimate.work("smoke")
    s = book.PROFILES["smoke"]
    rows = {r["what"]: r for r in w["rows"]}
    main = rows["SFT and GDRT: train, validate, test"]
    steps = -(-w["n_train"] // s["batch_size"]) * s["epochs"]
    assert w["validations_per_run"] == steps // s["eval_steps"]
    assert main["trainings"] == 2
    assert main["tokens"] == pytest.approx(2 * w["n_train"] * s["epochs"] * w["tokens_per_row"])
    assert main["prompts"] == 2 * (w["validations_per_run"] * w["n_valid"] + w["n_test"])
    grid = [r for r in w["rows"] if r["what"].startswith("grid")]
    extra = [p for p in s["grid"] if tuple(p) != (5, 1.0)]  # chapter 5's point is reused
    assert len(grid) == 1 and grid[0]["trainings"] == len(extra)
    assert sum(r["attribution_rows"] for r in w["rows"]) == 3 * min(s["n_attr"], w["n_test"])


def test_hours_scale_with_parameters_and_decoding_can_stay_unscaled():
    w = {"rows": [{"tokens": 3600.0, "prompts": 10, "attribution_rows": 2}]}
    r = estimate.Rates("x", train_tokens_per_s=1.0, decode_s_per_prompt=36.0, attribution_s_per_row=180.0, source="")
    n = estimate.MEASURED_ON
    assert estimate.hours(w, r, n) == pytest.approx([1.0 + 0.1 + 0.1])
    assert estimate.hours(w, r, 2 * n) == pytest.approx([2.4])
    assert estimate.hours(w, r, 2 * n, scale_decoding=False) == pytest.approx([2.0 + 0.1 + 0.2])


def test_parameters_from_a_config_match_the_model(tiny_model_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    norms = sum(p.numel() for n, p in model.named_parameters() if "norm" in n)
    assert estimate.parameters(tiny_model_path) == pytest.approx(sum(p.numel() for p in model.parameters()) - norms)
    assert estimate.parameters("meta-llama/Llama-3.2-3B") == 3.21e9
    with pytest.raises(GDRTInputError, match="unknown model size"):
        estimate.parameters("no/such-model")
