"""The prompt (Alpaca "with input", docs/design.md §3) and its exact tokenisation.

Training and inference share these functions, so their prompts are byte-identical, and the
response is tokenised on its own (``'"Title"'`` + EOS), exactly as the decoding trie tokenises
catalog titles. Explained in chapter 1, "The prompt".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .presets import Preset

HEADER = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
)
NA = "N/A"


def instruction(preset: Preset) -> str:
    return (
        f"Given a list of {preset.plural} the user has {preset.verb} before, please recommend a new "
        f"{preset.singular} that the user likes to the user."
    )


def history_text(preset: Preset, titles: Sequence[str] | None) -> str:
    """The input line; ``titles=None`` gives the auxiliary-only prompt with history ``N/A`` (Eq. 3)."""
    items = NA if titles is None else ", ".join(f'"{t}"' for t in titles)
    return f"The user has {preset.verb} the following {preset.plural} before: {items}"


def build_prompt(preset: Preset, titles: Sequence[str] | None) -> str:
    """The exact model input up to and including ``### Response:\\n``."""
    return (
        f"{HEADER}### Instruction:\n{instruction(preset)}\n\n"
        f"### Input:\n{history_text(preset, titles)}\n\n### Response:\n"
    )


def response_text(title: str) -> str:
    """The response string before EOS: the title in double quotes."""
    return f'"{title}"'


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Prompt ids, with the tokenizer's own special tokens (BOS where the model uses one)."""
    return list(tokenizer(prompt, add_special_tokens=True)["input_ids"])


def encode_response(tokenizer, title: str) -> list[int]:
    """Response ids: ``'"Title"'`` tokenised alone, then EOS. The trie uses the same ids."""
    ids = list(tokenizer(response_text(title), add_special_tokens=False)["input_ids"])
    return ids + [tokenizer.eos_token_id]


def prefix_index(tokenizer, title: str) -> int:
    """Index in ``encode_response(tokenizer, title)`` of the prefix token: the first response token
    that carries a character of the title (the response is ``'"' + title + '"'`` + EOS)."""
    enc = tokenizer(response_text(title), add_special_tokens=False, return_offsets_mapping=True)
    for k, (a, b) in enumerate(enc["offset_mapping"]):  # the quote alone ends at 1; merged, later
        if b > 1 and a < 1 + len(title):
            return k
    raise ValueError(f"no response token carries a character of {title!r}")  # pragma: no cover


def title_token_mask(tokenizer, title: str) -> np.ndarray:
    """Boolean mask over ``encode_response(tokenizer, title)``: True for the tokens that carry a
    character of the title (False for the bare quotes and EOS)."""
    enc = tokenizer(response_text(title), add_special_tokens=False, return_offsets_mapping=True)
    off = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    carries = (off[:, 1] > 1) & (off[:, 0] < 1 + len(title))
    return np.concatenate([carries, [False]])  # EOS
