"""Decoding: the catalog trie, constrained beam search, teacher-forced scoring."""

from .cbs import constrained_beam_search
from .scoring import continuation_logprobs, exhaustive_ranking, sequence_logprobs
from .trie import Trie, build_trie

__all__ = [
    "Trie",
    "build_trie",
    "constrained_beam_search",
    "continuation_logprobs",
    "sequence_logprobs",
    "exhaustive_ranking",
]
