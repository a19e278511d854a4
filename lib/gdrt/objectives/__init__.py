"""Token-level objectives: SFT cross-entropy and GDRT (Eq. 3 relevance, grouping, Eq. 5 loss)."""

from .gdrt import gdrt_loss, group_dro_objective, group_stats, group_weights

__all__ = ["gdrt_loss", "group_dro_objective", "group_stats", "group_weights"]
