"""Metrics: ranking (NDCG/HIT with one target per row) and item-side fairness (item groups, MGU/DGU).

Definitions: docs/design.md §5. Each function's docstring states its formula.
"""

from .fairness import assign_item_groups, group_distribution, gu, mgu_dgu, top1_group_share
from .ranking import first_hit_rank, hit_at_k, ndcg_at_k

__all__ = [
    "first_hit_rank",
    "ndcg_at_k",
    "hit_at_k",
    "assign_item_groups",
    "group_distribution",
    "gu",
    "mgu_dgu",
    "top1_group_share",
]
