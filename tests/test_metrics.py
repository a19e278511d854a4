"""Metrics against hand-computed values (docs/design.md §5)."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import gdrt.metrics as M
from gdrt.metrics import (
    assign_item_groups,
    first_hit_rank,
    group_distribution,
    gu,
    hit_at_k,
    mgu_dgu,
    ndcg_at_k,
    top1_group_share,
)


# ---------------------------------------------------------------- ranking

def test_first_hit_rank_uses_id_sets():
    preds = [(4,), (8, 9), (9,), (2,)]
    assert first_hit_rank(preds, 4) == 0
    assert first_hit_rank(preds, 9) == 1          # the shared title at position 1 wins over position 2
    assert first_hit_rank(preds, 2) == 3
    assert first_hit_rank(preds, 7) is None
    assert first_hit_rank([], 7) is None


def test_ndcg_hand_computed():
    # ranks 0, 1, 3, miss, 10 (outside the top 10), over 5 rows:
    # (1 + 1/log2(3) + 1/log2(5) + 0 + 0) / 5 = (1 + 0.6309298 + 0.4306766) / 5 = 0.4123213
    ranks = [0, 1, 3, None, 10]
    assert ndcg_at_k(ranks, 10) == pytest.approx(0.41232127, abs=1e-7)
    # @5 keeps rank 3; @3 drops it: (1 + 0.6309298) / 5 = 0.3261860
    assert ndcg_at_k(ranks, 5) == pytest.approx(0.41232127, abs=1e-7)
    assert ndcg_at_k(ranks, 3) == pytest.approx(0.32618595, abs=1e-7)
    assert ndcg_at_k(ranks, 1) == pytest.approx(0.2)
    assert ndcg_at_k(ranks, 11) == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(5) + 1 / math.log2(12)) / 5)


def test_hit_hand_computed():
    ranks = [0, 1, 3, None, 10]
    assert hit_at_k(ranks, 10) == pytest.approx(3 / 5)
    assert hit_at_k(ranks, 3) == pytest.approx(2 / 5)
    assert hit_at_k(ranks, 1) == pytest.approx(1 / 5)
    assert hit_at_k(ranks, 11) == pytest.approx(4 / 5)
    assert hit_at_k([None, None], 10) == 0.0


def test_ranking_rejects_bad_input():
    with pytest.raises(ValueError):
        ndcg_at_k([], 10)
    with pytest.raises(ValueError):
        hit_at_k([0], 0)
    with pytest.raises(ValueError):
        hit_at_k([-1], 10)


def test_ranking_pipeline_from_predictions():
    preds = [[(1,), (2, 3)], [(5,), (6,)], [(7,), (8,)]]
    targets = [3, 9, 7]
    ranks = [first_hit_rank(p, t) for p, t in zip(preds, targets)]
    assert ranks == [1, None, 0]
    assert ndcg_at_k(ranks, 10) == pytest.approx((1 / math.log2(3) + 1) / 3)
    assert hit_at_k(ranks, 10) == pytest.approx(2 / 3)


# ---------------------------------------------------------------- item groups

def test_assign_item_groups_uneven_split_and_ties():
    # 7 items into 5 groups: numpy.array_split sizes 2, 2, 1, 1, 1.
    relevance = {1: -0.5, 2: -3.0, 3: -0.5, 4: -2.0, 5: -9.0, 6: -1.0, 7: -4.0}
    # descending, ties by id: 1, 3 (both -0.5), 6, 4, 2, 7, 5
    assert assign_item_groups(relevance, n_groups=5) == {1: 1, 3: 1, 6: 2, 4: 2, 2: 3, 7: 4, 5: 5}
    assert assign_item_groups(relevance, n_groups=2) == {1: 1, 3: 1, 6: 1, 4: 1, 2: 2, 7: 2, 5: 2}
    assert set(assign_item_groups(relevance, n_groups=1).values()) == {1}


def test_assign_item_groups_rejects_nan():
    with pytest.raises(ValueError):
        assign_item_groups({1: float("nan"), 2: 0.0})


# ---------------------------------------------------------------- fairness

GROUPS = {10: 1, 11: 1, 20: 2, 21: 2, 30: 3}


def test_group_distribution_pooled():
    # lists pooled: groups 1, 1, 2 | 3 | 1, 2  -> counts (3, 2, 1) of 6
    d = group_distribution([[10, 11, 20], [30], [10, 21]], GROUPS, n_groups=3)
    np.testing.assert_allclose(d, [3 / 6, 2 / 6, 1 / 6])
    with pytest.raises(ValueError):
        group_distribution([[99]], GROUPS, n_groups=3)
    with pytest.raises(ValueError):
        group_distribution([[]], GROUPS, n_groups=3)


def test_gu():
    np.testing.assert_allclose(gu([0.5, 0.3, 0.2], [0.2, 0.3, 0.5]), [0.3, 0.0, -0.3])


def test_mgu_dgu_hand_computed():
    recs = [
        [(10,), (20, 21), (30,)],        # top-2: groups 1, 2
        [(11, 30), (10,), (21,)],        # entry (11, 30) counts once, group of 11 -> 1; top-2: 1, 1
    ]
    histories = [[20, 30, 30], [10, 21]]  # groups 2, 3, 3, 1, 2
    # K = 2: GP = (3, 1, 0)/4 = (0.75, 0.25, 0); GH = (1, 2, 2)/5 = (0.2, 0.4, 0.4)
    # GU = (0.55, -0.15, -0.4); MGU = (0.55 + 0.15 + 0.4)/3 = 0.366667; DGU = 0.55 + 0.4 = 0.95
    mgu, dgu = mgu_dgu(recs, histories, GROUPS, k=2, n_groups=3)
    assert mgu == pytest.approx(1.1 / 3)
    assert dgu == pytest.approx(0.95)
    # K = 3: GP = (3, 2, 1)/6; GU = (0.3, -0.0667, -0.2333); MGU = 0.2; DGU = 0.5333
    mgu, dgu = mgu_dgu(recs, histories, GROUPS, k=3, n_groups=3)
    assert mgu == pytest.approx(0.6 / 3)
    assert dgu == pytest.approx(0.5 + 1 / 30)


def test_mgu_dgu_zero_when_recs_match_histories():
    mgu, dgu = mgu_dgu([[(10,), (20,)]], [[11, 21]], GROUPS, k=10, n_groups=3)
    assert (mgu, dgu) == (0.0, 0.0)


def test_top1_group_share():
    recs = [[(20,), (10,)], [(10, 20)], [(30,)], [(11,)], []]
    # top-1 groups: 2, 1, 3, 1 (the empty row is left out) -> (2, 1, 1)/4
    np.testing.assert_allclose(top1_group_share(recs, GROUPS, n_groups=3), [0.5, 0.25, 0.25])


def test_docstring_examples():
    for mod in (M.ranking, M.fairness):
        result = doctest.testmod(mod)
        assert result.attempted > 0 and result.failed == 0, mod.__name__
