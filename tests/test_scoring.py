"""Teacher-forced scoring: prefill-once continuations == plain batched teacher forcing."""

from __future__ import annotations

import pytest
import torch

from gdrt.data.presets import get_preset
from gdrt.data.prompts import build_prompt, encode_prompt, encode_response
from gdrt.decoding import continuation_logprobs, sequence_logprobs
from gdrt.models.tiny import tiny_model, tiny_tokenizer

PRESET = get_preset("office")
TITLES = ["Red Pen", "Blue Stapler", "Green Notebook A4 ruled, 200 pages", "X", "Desk Lamp LED"]
PROMPTS = [build_prompt(PRESET, None), build_prompt(PRESET, ["Red Pen", "Blue Stapler"])]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer(PROMPTS + TITLES)


@pytest.fixture(scope="module")
def model(tok):
    return tiny_model(tok, seed=7)


def _full_forward(model, prompt_ids, resp):
    """Reference: one unpadded forward of prompt + response."""
    ids = torch.tensor([prompt_ids + resp])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    lp = torch.log_softmax(logits, -1)
    p = len(prompt_ids)
    return lp[p - 1 : p + len(resp) - 1].gather(-1, torch.tensor(resp)[:, None]).squeeze(-1)


@pytest.mark.parametrize("batch_size", [1, 2, 64])
def test_continuations_equal_sequence_logprobs(model, tok, batch_size):
    p_ids = encode_prompt(tok, PROMPTS[0])
    conts = [encode_response(tok, t) for t in TITLES]
    a = continuation_logprobs(model, p_ids, conts, batch_size=batch_size)
    b = sequence_logprobs(model, [(p_ids, c) for c in conts], batch_size=3)
    assert len(a) == len(b) == len(conts)
    for x, y, c in zip(a, b, conts):
        assert x.shape == y.shape == (len(c),)
        torch.testing.assert_close(x, y, atol=1e-4, rtol=0)
        torch.testing.assert_close(x, _full_forward(model, p_ids, c), atol=1e-4, rtol=0)
        assert (x <= 0).all()


def test_sequence_logprobs_mixed_prompts_padding_invariant(model, tok):
    pairs = [
        (encode_prompt(tok, p), encode_response(tok, t)) for p in PROMPTS for t in TITLES
    ]
    batched = sequence_logprobs(model, pairs, batch_size=8)
    for (p, r), got in zip(pairs, batched):
        torch.testing.assert_close(got, _full_forward(model, p, r), atol=1e-4, rtol=0)


def test_single_token_and_empty_continuations(model, tok):
    p_ids = encode_prompt(tok, PROMPTS[1])
    eos = tok.eos_token_id
    out = continuation_logprobs(model, p_ids, [[eos], [], [eos, eos]])
    assert out[0].shape == (1,) and out[1].shape == (0,) and out[2].shape == (2,)
    torch.testing.assert_close(out[0], out[2][:1])
    torch.testing.assert_close(out[2], _full_forward(model, p_ids, [eos, eos]), atol=1e-4, rtol=0)
