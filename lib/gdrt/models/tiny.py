"""A tiny, offline causal LM for tests and the ``smoke`` profile: a byte-level BPE tokenizer trained
in-process on the given texts and a randomly initialised 2-layer Llama. Seconds, no downloads."""

from __future__ import annotations

from collections.abc import Iterable

import torch

SPECIALS = ["<pad>", "<eos>", "<unk>"]


def tiny_tokenizer(texts: Iterable[str], vocab_size: int = 512, merge_quotes: bool = False):
    """A byte-level BPE tokenizer (no BOS; eos = pad = ``<eos>``), deterministic for the same texts.

    ``merge_quotes=True`` pre-tokenizes on whitespace only, like Llama-3's tokenizer lets punctuation
    join the next word: a frequent ``"Word`` then becomes one token, so a title's opening quote and its
    first word share a token (GPT-2's rules, the default, always split the quote off)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    if merge_quotes:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r" ?[^\s]+|\s+"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<eos>", unk_token="<unk>")
    fast.padding_side = "left"
    return fast


def tiny_model(tokenizer, seed: int = 0, hidden: int = 64, layers: int = 2, heads: int = 4):
    """A random ``LlamaForCausalLM`` sized for the tokenizer, fp32, deterministic for a seed."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.eval()
    return model
