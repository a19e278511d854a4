"""The synthetic dataset: MSL format, deterministic, made by the real windowing code, learnable."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from gdrt.data import load_catalog, load_split
from gdrt.data.synthetic import BRANDS, INFO_FILE, make_synthetic, synthetic_interactions
from gdrt.data.windows import format_msl, make_windows, split_bounds, split_windows

FILES = [
    "id2name.json", "id2name4Rec.json", INFO_FILE,
    "test.csv", "test_500.csv", "test_5000.csv",
    "train.csv", "train_10000.csv", "train_100000.csv",
    "valid.csv", "valid_500.csv", "valid_5000.csv",
]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("synthetic")
    assert make_synthetic(d) == d
    return d


def test_files_and_counts(synth):
    assert sorted(p.name for p in synth.iterdir()) == sorted(FILES)
    info = json.loads((synth / INFO_FILE).read_text())
    assert info["users"] == 300 and info["items"] == 120
    n = info["windows"]
    a, b, c, d = split_bounds(n)
    assert info["files"]["train.csv"] == a and info["files"]["valid.csv"] == b - a and info["files"]["test.csv"] == d - c
    assert 300 <= n <= 1200
    # these pinned numbers change only if the generator changes (then update them on purpose)
    assert (info["interactions"], n) == (2519, 501)


def test_byte_identical_for_a_seed(synth, tmp_path):
    again = make_synthetic(tmp_path / "again")
    for name in FILES:
        assert (again / name).read_bytes() == (synth / name).read_bytes(), name
    other = make_synthetic(tmp_path / "other", seed=1)
    assert (other / "train.csv").read_bytes() != (synth / "train.csv").read_bytes()
    assert (other / "id2name4Rec.json").read_bytes() != (synth / "id2name4Rec.json").read_bytes()


def test_goes_through_the_windowing_code(synth):
    sequences, id2title, _ = synthetic_interactions()
    train, valid, test = split_windows(make_windows(sequences))
    assert (synth / "train.csv").read_text() == format_msl(train)
    assert (synth / "valid.csv").read_text() == format_msl(valid)
    assert (synth / "test.csv").read_text() == format_msl(test)
    # every user has 5..16 interactions, time-ordered, day-aligned
    for seq in sequences.values():
        assert 5 <= len(seq) <= 16
        times = [t for _, t in seq]
        assert times == sorted(times) and all(t % 86400 == 0 for t in times)


def test_readable_and_time_split(synth):
    cat = load_catalog(synth)
    assert len(cat) == 120 and sorted(cat.id2title) == list(range(1, 121))
    splits = {s: load_split(synth, s, cat) for s in ("train", "valid", "test", "train_10000", "test_500", "valid_5000")}
    for rows in splits.values():
        assert all(1 <= len(r.history) <= 10 for r in rows)
    assert splits["train_10000"] == splits["train"]  # fewer rows than the sample size: the full file
    assert max(r.timestamp for r in splits["train"]) <= min(r.timestamp for r in splits["valid"])
    assert max(r.timestamp for r in splits["valid"]) <= min(r.timestamp for r in splits["test"])
    assert len(splits["test"]) >= 30


def test_titles_are_product_like_with_a_few_shared(synth):
    cat = load_catalog(synth)
    pattern = re.compile(r"^(%s) \w[\w-]* .+, [\w-]+( \(Model \d+\))?$" % "|".join(BRANDS))
    assert all(pattern.match(t) for t in cat.titles), [t for t in cat.titles if not pattern.match(t)]
    shared = {t: ids for t, ids in cat.title2ids.items() if len(ids) > 1}
    assert len(shared) == 3 and all(len(ids) == 2 for ids in shared.values())
    assert cat.n_titles == 117


def test_history_predicts_the_target(synth):
    """Learnable: the majority category of the history predicts the target's category far above
    chance (1/6), the companion of the last item is often the target, and popularity is skewed."""
    info = json.loads((synth / INFO_FILE).read_text())
    cat_of = {int(k): v for k, v in info["item_category"].items()}
    rows = load_split(synth, "train")
    hit = sum(cat_of[r.target] == Counter(cat_of[i] for i in r.history).most_common(1)[0][0] for r in rows)
    assert hit / len(rows) > 0.45
    # a bigram "model" fitted on train predicts test targets from the last history item
    follow: dict[int, Counter] = {}
    for r in rows:
        seq = r.items
        for a, b in zip(seq, seq[1:]):
            follow.setdefault(a, Counter())[b] += 1
    test = load_split(synth, "test") + load_split(synth, "valid")
    top3 = sum(r.target in [i for i, _ in follow.get(r.history[-1], Counter()).most_common(3)] for r in test)
    assert top3 / len(test) > 0.25  # a random guess of 3 of 120 items: 0.025
    targets = Counter(r.target for r in rows)
    top_decile = sum(c for _, c in targets.most_common(12))
    assert top_decile / len(rows) > 0.3


def test_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="n_categories"):
        make_synthetic(tmp_path, n_categories=20)
    with pytest.raises(ValueError, match="n_items"):
        make_synthetic(tmp_path, n_items=5)
    with pytest.raises(ValueError, match="min_len"):
        make_synthetic(tmp_path, min_len=1)


def test_small_sizes(tmp_path):
    d = make_synthetic(tmp_path, n_users=20, n_items=24, seed=3, n_categories=3)
    cat = load_catalog(d)
    rows = load_split(d, "train", cat) + load_split(d, "valid", cat) + load_split(d, "test", cat)
    assert len({r.user_id for r in rows}) == 20 and len(cat) == 24
