"""Item groups and item-side fairness (IFairLRS definition), pooled over the whole test set.

Defined in docs/design.md §5 ("Metrics"), after Jiang et al. (WWW 2024, IFairLRS) as used by the
GDRT paper (Eq. 2 and Table 2).

- Items are sorted by their relevance to the task prompt alone, ``r(y)`` (Eq. 2), and cut into
  ``G`` equal-size groups; group 1 holds the most relevant items.
- ``GP(g)``: share of group-g items among **all** top-K recommendations of **all** test rows (pooled,
  not averaged per user). ``GH(g)``: the same share among all history items of all test rows.
- ``GU(g) = GP(g) − GH(g)``; ``MGU@K = (1/G) Σ_g |GU(g)|``; ``DGU@K = max_g GU(g) − min_g GU(g)``.

A recommendation *entry* is the tuple of ids sharing one returned title; it counts once, with the
group of its first id. Group numbers are 1-based everywhere; arrays indexed by group have
``array[g - 1]`` for group ``g``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "assign_item_groups",
    "group_distribution",
    "gu",
    "mgu_dgu",
    "top1_group_share",
]


def _check_n_groups(n_groups: int) -> int:
    if isinstance(n_groups, bool) or int(n_groups) != n_groups or n_groups < 1:
        raise ValueError(f"n_groups must be a positive integer, got {n_groups!r}")
    return int(n_groups)


def _entry_id(entry) -> int:
    """The id an entry counts with: the entry itself if it is an id, else its first id."""
    if isinstance(entry, (int, np.integer)):
        return int(entry)
    ids = tuple(entry)
    if not ids:
        raise ValueError("a recommendation entry holds no id")
    return int(ids[0])


def assign_item_groups(relevance: Mapping[int, float], n_groups: int = 5) -> dict[int, int]:
    """Split items into ``n_groups`` equal-size groups by relevance; group 1 = most relevant.

    Items are sorted by ``relevance`` descending (ties: smaller id first), and the sorted list is cut
    into ``n_groups`` contiguous parts with ``numpy.array_split`` (sizes differ by at most one; the
    first ``N mod G`` parts get the extra item). Item ``i`` in part ``j`` (0-based) gets group ``j + 1``.

    >>> assign_item_groups({10: -1.0, 11: -3.0, 12: -2.0, 13: -1.0}, n_groups=2)
    {10: 1, 13: 1, 12: 2, 11: 2}
    """
    n_groups = _check_n_groups(n_groups)
    items = []
    for item, r in relevance.items():
        r = float(r)
        if math.isnan(r):
            raise ValueError(f"item {item}: relevance is NaN")
        items.append((int(item), r))
    order = [item for item, _ in sorted(items, key=lambda kv: (-kv[1], kv[0]))]
    groups: dict[int, int] = {}
    for g, part in enumerate(np.array_split(np.asarray(order, dtype=np.int64), n_groups), start=1):
        for item in part.tolist():
            groups[item] = g
    return groups


def group_distribution(
    item_lists: Iterable[Iterable[int]], item_group: Mapping[int, int], n_groups: int = 5
) -> np.ndarray:
    """Share of each group among all items of all lists, pooled: ``D(g) = n_g / Σ_h n_h``.

    ``n_g`` counts every occurrence of a group-g item in every list (a repeated item counts each
    time). Returns an array of length ``n_groups`` summing to 1, with ``D[g - 1]`` for group ``g``.
    The test targets' distribution is ``group_distribution([[t] for t in targets], item_group)``.

    >>> group_distribution([[1, 2], [2, 3]], {1: 1, 2: 2, 3: 2}, n_groups=2).tolist()
    [0.25, 0.75]
    """
    n_groups = _check_n_groups(n_groups)
    counts = np.zeros(n_groups, dtype=np.float64)
    for items in item_lists:
        for item in items:
            try:
                g = item_group[int(item)]
            except KeyError:
                raise ValueError(f"item {item} has no group") from None
            if not 1 <= g <= n_groups:
                raise ValueError(f"item {item}: group {g} outside 1..{n_groups}")
            counts[g - 1] += 1
    total = counts.sum()
    if total == 0:
        raise ValueError("no items: the group distribution of nothing is undefined")
    return counts / total


def gu(rec_groups_dist: Sequence[float], hist_groups_dist: Sequence[float]) -> np.ndarray:
    """Group unfairness per group: ``GU(g) = GP(g) − GH(g)``.

    ``GP`` is the recommendations' group distribution, ``GH`` the histories' (both from
    :func:`group_distribution`). Positive: the group is recommended more than users consumed it.

    >>> gu([0.5, 0.5], [0.25, 0.75]).tolist()
    [0.25, -0.25]
    """
    rec = np.asarray(rec_groups_dist, dtype=np.float64)
    hist = np.asarray(hist_groups_dist, dtype=np.float64)
    if rec.shape != hist.shape or rec.ndim != 1:
        raise ValueError(f"distributions must be 1-D of equal length, got {rec.shape} and {hist.shape}")
    return rec - hist


def mgu_dgu(
    top_k_entries_per_row: Iterable[Sequence],
    histories: Iterable[Iterable[int]],
    item_group: Mapping[int, int],
    k: int,
    n_groups: int = 5,
) -> tuple[float, float]:
    """MGU@K and DGU@K over the whole test set (IFairLRS, pooled).

    ``GP = group_distribution(first id of each of the first K entries of every row)``,
    ``GH = group_distribution(every history item of every row)``, ``GU = GP − GH``;
    ``MGU@K = (1/G) Σ_g |GU(g)|`` and ``DGU@K = max_g GU(g) − min_g GU(g)``.

    ``top_k_entries_per_row``: per test row, the ranked entries (tuples of ids sharing a title, or
    bare ids); only the first ``k`` of each row count. ``histories``: per test row, the history ids.

    >>> groups = {1: 1, 2: 1, 3: 2, 4: 2}
    >>> mgu, dgu = mgu_dgu([[(1,), (2,)], [(3, 4), (1,)]], [[1, 3], [3, 4]], groups, k=2, n_groups=2)
    >>> round(mgu, 6), round(dgu, 6)   # GP = (3/4, 1/4), GH = (1/4, 3/4), GU = (1/2, -1/2)
    (0.5, 1.0)
    """
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    recs = [[_entry_id(e) for e in list(row)[:k]] for row in top_k_entries_per_row]
    gp = group_distribution(recs, item_group, n_groups)
    gh = group_distribution(histories, item_group, n_groups)
    u = gu(gp, gh)
    return float(np.mean(np.abs(u))), float(u.max() - u.min())


def top1_group_share(
    entries_per_row: Iterable[Sequence], item_group: Mapping[int, int], n_groups: int = 5
) -> np.ndarray:
    """Share of test rows whose top-1 recommendation falls in each group (paper Fig. 3).

    ``S(g) = #{rows whose first entry's first id is in group g} / #{rows with at least one entry}``.
    Rows with no recommendation are left out. Compare with the targets' distribution,
    ``group_distribution([[t] for t in targets], item_group)``.

    >>> top1_group_share([[(1,), (3,)], [(3, 4)], [(2,)], []], {1: 1, 2: 1, 3: 2, 4: 2}, 2).tolist()
    [0.6666666666666666, 0.3333333333333333]
    """
    firsts = [[_entry_id(row[0])] for row in (list(r) for r in entries_per_row) if row]
    return group_distribution(firsts, item_group, n_groups)
