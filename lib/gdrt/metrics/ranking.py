"""Ranking metrics for next-item recommendation with one target per test row (RecBole style).

Defined in docs/design.md §5 ("Metrics"); the chapters evaluate constrained beam search with them.

A test row yields a ranked list of *entries*. Several catalog ids can share one title, and constrained
beam search returns titles, so each entry is the tuple of the ids behind one returned title. The rank
of a row is the 0-based position of the first entry that contains the target id, or ``None`` when no
returned entry contains it (a miss). Every metric is a mean over **all** rows: a miss counts 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["first_hit_rank", "ndcg_at_k", "hit_at_k"]


def first_hit_rank(pred_id_sets: Sequence[Iterable[int]], target: int) -> int | None:
    """0-based rank of the first prediction entry whose id set contains ``target``; ``None`` if none does.

    ``rank = min{ i : target ∈ pred_id_sets[i] }``  (``None`` when the set is empty).

    Each entry of ``pred_id_sets`` is a tuple (or any iterable) of the ids sharing one returned title,
    so a target id counts as hit by its title even when the title maps to several ids.

    >>> first_hit_rank([(5,), (7, 9), (9,)], 9)
    1
    >>> first_hit_rank([(5,), (7,)], 9) is None
    True
    """
    target = int(target)
    for i, ids in enumerate(pred_id_sets):
        if target in {int(x) for x in ids}:
            return i
    return None


def _check(ranks: Sequence[int | None], k: int) -> list[int | None]:
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    ranks = list(ranks)
    if not ranks:
        raise ValueError("no rows: the mean over zero test rows is undefined")
    for r in ranks:
        if r is not None and (int(r) != r or r < 0):
            raise ValueError(f"a rank is a non-negative integer or None (a miss), got {r!r}")
    return ranks


def ndcg_at_k(ranks: Sequence[int | None], k: int) -> float:
    """NDCG@K with one relevant item per row, averaged over all N rows (a miss counts 0).

    ``NDCG@K = (1/N) · Σ_rows [rank < K] / log2(rank + 2)``

    With a single relevant item the ideal DCG is 1, so NDCG is the DCG of the hit: 1 at rank 0,
    1/log2(3) ≈ 0.6309 at rank 1, and so on. ``None`` (a miss) and ranks ``>= K`` contribute 0.

    >>> round(ndcg_at_k([0, 1, None, 12], 10), 6)   # (1 + 1/log2(3) + 0 + 0) / 4
    0.407732
    """
    ranks = _check(ranks, k)
    total = sum(1.0 / math.log2(r + 2) for r in ranks if r is not None and r < k)
    return total / len(ranks)


def hit_at_k(ranks: Sequence[int | None], k: int) -> float:
    """HIT@K (hit ratio, recall with one target): the share of rows whose target is in the top K.

    ``HIT@K = (1/N) · Σ_rows [rank < K]``; ``None`` (a miss) counts 0.

    >>> hit_at_k([0, 1, None, 12], 10)
    0.5
    """
    ranks = _check(ranks, k)
    return sum(1 for r in ranks if r is not None and r < k) / len(ranks)
