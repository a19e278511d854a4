"""Diagnostics of language bias (paper §2.2 and §4.3; docs/design.md §6): feature-ablation
attribution, where the recommendations land by item group (saved predictions and over training),
co-occurrence of token pairs in the training set, and per-group held-out losses.
Explained in chapter 3 (and chapter 7, "Does GDRT remove the bias")."""

from .attribution import (BASELINES, PromptFeatures, attribute_rows, attribution_ratios, batch_suffix_logprob,
                          contributions_frame, explain_row, feature_ablation, prefix_index, prompt_features, ratio_numbers,
                          ratio_table)
from .callbacks import (GroupShareCallback, decode_rows, every_n_steps, group_share_table, group_share_trace,
                        load_item_groups, load_predictions, share_numbers, topk_group_share, trace_table)
from .cooccurrence import (SOURCES, cooccurrence_counts, cooccurrence_from_tokens, cooccurrence_summary, pair_rates,
                           top_pairs)
from .group_loss import group_loss_table, group_losses, weight_sensitivity
from .paired import cached_attribution, paired_table, trace_gap, verdicts, versus_table

__all__ = [
    "BASELINES", "PromptFeatures", "attribute_rows", "attribution_ratios", "batch_suffix_logprob",
    "contributions_frame", "explain_row", "feature_ablation", "prefix_index", "prompt_features", "ratio_numbers",
    "ratio_table",
    "GroupShareCallback", "decode_rows", "every_n_steps", "group_share_table", "group_share_trace",
    "load_item_groups", "load_predictions", "share_numbers", "topk_group_share", "trace_table",
    "SOURCES", "cooccurrence_counts", "cooccurrence_from_tokens", "cooccurrence_summary", "pair_rates", "top_pairs",
    "group_loss_table", "group_losses", "weight_sensitivity",
    "cached_attribution", "paired_table", "trace_gap", "verdicts", "versus_table",
]
