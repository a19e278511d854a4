"""Chapter 2's statistics (gdrt.data.stats) and figures (gdrt.plots.data), on hand-made data whose
answers are worked out in the comments."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gdrt.data import Catalog, Row, amazon, stats
from gdrt.data.windows import make_windows, write_catalog_files, write_msl

FIX = Path(__file__).parent / "fixtures" / "data"

# ------------------------------------------------------------------------------------ a tiny dataset
#
# User 1 has items 1..13 at times 101..113: windows end at positions 10, 11, 12 (targets 11, 12, 13,
# times 111, 112, 113). User 2 has items 2..6 at times 1..5: one window, target 6 at time 5.
# Sorted by target time: [u2 -> 6], [u1 -> 11], [u1 -> 12], [u1 -> 13].
# Table 1: 2 users, 13 items (1..13), 13 + 5 = 18 interactions, density 18 / 26.
SEQUENCES = {1: [(i, 100 + i) for i in range(1, 14)], 2: [(i, i - 1) for i in range(2, 7)]}
TITLES = {i: f"Item {i}" for i in range(1, 12)} | {12: "Dup", 13: "Dup", 14: ""}


def write_dataset(path: Path, parts=("train", "valid", "test"), extra=()) -> Path:
    """Train = the first two windows, valid = the third, test = the fourth (only ``parts`` are
    written); ``extra`` names more files written as copies (``train_10000`` = train, ...)."""
    w = make_windows(SEQUENCES)
    splits = {"train": w[:2], "valid": w[2:3], "test": w[3:]}
    path.mkdir(parents=True, exist_ok=True)
    write_catalog_files(path, TITLES)
    for name in parts:
        write_msl(path / f"{name}.csv", splits[name])
    for name in extra:
        write_msl(path / f"{name}.csv", splits[name.split("_")[0]])
    return path


# ------------------------------------------------------------------------------------ rebuild


def test_rebuild_complete_windows():
    rows = make_windows(SEQUENCES)
    seqs = stats.rebuild_sequences(rows)
    assert [i for i, _ in seqs[1]] == list(range(1, 14))
    # history items of a user's first window carry that window's target time (111 for user 1)
    assert [t for _, t in seqs[1]] == [111] * 11 + [112, 113]
    assert [i for i, _ in seqs[2]] == [2, 3, 4, 5, 6]


def test_rebuild_gap_raises_or_joins_at_the_overlap():
    w = make_windows(SEQUENCES)
    no_valid = [w[0], w[1], w[3]]  # user 1 loses the window with target 12
    with pytest.raises(ValueError, match="does not continue"):
        stats.rebuild_sequences(no_valid)
    seqs = stats.rebuild_sequences(no_valid, allow_gaps=True)
    # the test window [3..13] overlaps the known [1..11] in 9 items: 12 comes back from its history
    assert [i for i, _ in seqs[1]] == list(range(1, 14))
    assert [t for _, t in seqs[1]][-2:] == [113, 113]


def test_rebuild_gap_of_more_than_ten_windows_has_no_overlap():
    # 25 items: windows end at 10..24; keep the first ([1..11]) and the last ([15..25]) only:
    # no overlap, so 11 + 11 = 22 items, and items 12, 13, 14 are lost (a lower bound).
    rows = make_windows({7: [(i, i) for i in range(1, 26)]})
    seqs = stats.rebuild_sequences([rows[0], rows[-1]], allow_gaps=True)
    assert [i for i, _ in seqs[7]] == list(range(1, 12)) + list(range(15, 26))


def test_rebuild_gap_takes_the_longest_overlap():
    # known [1,2,1,2]; the next window [2,1,2,1,2,9] does not continue it (its history of 5 is not
    # the last 5 items). Its start overlaps the known end by 3 ([2,1,2]) or by 1 ([2]): 3 wins.
    a = Row(1, (1, 2, 1), 2, 10)
    b = Row(1, (2, 1, 2, 1, 2), 9, 20)
    with pytest.raises(ValueError):
        stats.rebuild_sequences([a, b])
    seqs = stats.rebuild_sequences([a, b], allow_gaps=True)
    assert [i for i, _ in seqs[1]] == [1, 2, 1, 2, 1, 2, 9]
    c = Row(1, (2, 1, 2, 5), 9, 20)  # overlaps [1,2,1,2] only in its first 3 items: 2,1,2
    assert [i for i, _ in stats.rebuild_sequences([a, c], allow_gaps=True)[1]] == [1, 2, 1, 2, 5, 9]


# ------------------------------------------------------------------------------------ Table 1


def test_split_files(tmp_path):
    d = write_dataset(tmp_path / "a", parts=("test",), extra=("train_10000", "train_100000", "test_500"))
    assert stats.split_files(d) == {"train": "train_100000", "valid": None, "test": "test"}
    d = write_dataset(tmp_path / "b")
    assert stats.split_files(d) == {"train": "train", "valid": "valid", "test": "test"}
    # only "<split>_<digits>" is a sample: "train_small" and "validation" are not
    d = write_dataset(tmp_path / "c", parts=("test",))
    write_msl(d / "train_small.csv", make_windows(SEQUENCES)[:1])
    write_msl(d / "validation.csv", make_windows(SEQUENCES)[:1])
    assert stats.split_files(d) == {"train": None, "valid": None, "test": "test"}


def test_dataset_row_complete(tmp_path):
    row = stats.dataset_row("Tiny", write_dataset(tmp_path / "t"))
    assert (row["users"], row["items"], row["interactions"]) == (2, 13, 18)
    assert row["density"] == pytest.approx(18 / 26)
    assert (row["windows"], row["catalog items"], row["complete"]) == (4, 14, True)
    assert row["files read"] == "train, valid, test" and row["missing"] == "-"


def test_dataset_row_partial(tmp_path):
    # no valid, train only as a sample: the gap join still recovers all of user 1 (see above)
    d = write_dataset(tmp_path / "t", parts=("test",), extra=("train_10000",))
    row = stats.dataset_row("Tiny", d)
    assert (row["users"], row["items"], row["interactions"], row["windows"]) == (2, 13, 18, 3)
    assert row["complete"] is False
    assert row["files read"] == "train_10000 (sample), test" and row["missing"] == "train, valid"
    # every split there, but train only as a sample: still not complete
    row = stats.dataset_row("Tiny", write_dataset(tmp_path / "s", parts=("valid", "test"), extra=("train_10000",)))
    assert row["complete"] is False and row["missing"] == "train" and row["interactions"] == 18
    # test alone: user 1's window [3..13] (11 interactions), no user 2
    d = write_dataset(tmp_path / "u", parts=("test",))
    row = stats.dataset_row("Tiny", d)
    assert (row["users"], row["items"], row["interactions"]) == (1, 11, 11)


def test_table1_and_paper_comparison(tmp_path):
    full = write_dataset(tmp_path / "Office")
    part = write_dataset(tmp_path / "Book", parts=("train", "test"))  # no valid
    other = write_dataset(tmp_path / "Clothing")
    t = stats.table1({"Office": full, "Book": part, "Clothing": other})
    assert list(t.index) == ["Office", "Book", "Clothing"]
    assert t.loc["Book", "interactions"] == 18 and not t.loc["Book", "complete"]
    assert list(t.columns[:4]) == ["users", "items", "interactions", "density (%)"]
    assert t.loc["Office", "density (%)"] == round(100 * 18 / 26, 3) == 69.231
    paper = {"Toy": {"users": 9, "items": 9, "interactions": 9},
             "Book": {"users": 2, "items": 13, "interactions": 19},
             "Clothing": {"users": 2, "items": 13, "interactions": 20}}
    cmp = stats.paper_comparison(t, paper, {"users": 2, "items": 13, "interactions": 18})
    assert list(cmp.index) == ["Office", "Toy", "Book", "Clothing"]
    assert cmp["status"].tolist() == ["exact", "not present", "partial: no valid", "differs"]
    assert cmp.loc["Office", "paper"] == "MSL Table 4" and cmp.loc["Book", "paper"] == "GDRT Table 1"
    assert cmp.loc["Book", "interactions (files)"] == 18 and cmp.loc["Book", "interactions (paper)"] == 19
    assert pd.isna(cmp.loc["Toy", "users (files)"]) and cmp.loc["Office", "catalog items"] == 14
    text = stats.comparison_text(cmp)
    assert text["Office"] == "2 users, 13 items, 18 interactions (exact)"
    assert text["Toy"] == "not in this run's data"
    assert text["Book"] == "2 users, 13 items, 18 interactions (partial: no valid)"


def test_counts_text():
    assert stats.counts_text({"users": 3, "items": 2, "interactions": 5}) == "3 users, 2 items, 5 interactions"


def test_table1_sources(tmp_path, monkeypatch):
    root = tmp_path / "root"
    write_dataset(root / "Zeta", parts=("test",))
    write_dataset(root / "Office", parts=("test",))
    write_dataset(root / "Toy", parts=())  # a catalog but no split: skipped
    (root / "notes").mkdir()
    monkeypatch.setenv("GDRT_DATA", str(root))
    real = SimpleNamespace(data_source="real", data_dir=root / "Office")
    assert stats.table1_sources(real) == {"Office": root / "Office", "Zeta": root / "Zeta"}
    synth = SimpleNamespace(data_source="synthetic", data_dir=tmp_path / "synthetic-0")
    assert stats.table1_sources(synth) == {"Synthetic": tmp_path / "synthetic-0"}
    assert "synthetic set only" in stats.table1_scope({"Synthetic": tmp_path})
    assert stats.table1_scope({"Office": root, "Zeta": root}) == "This run found 2 real datasets: Office, Zeta."


# ------------------------------------------------------------------------------------ splits


def test_load_splits_and_main_splits(tmp_path):
    d = write_dataset(tmp_path / "t", parts=("train", "test"), extra=("test_500",))
    splits = stats.load_splits(d)
    assert list(splits) == ["train", "test", "test_500"]  # the default order, absent ones left out
    assert [len(v) for v in splits.values()] == [2, 1, 1]
    fake = {"test": [1], "train_10000": [2], "train_100000": [3], "valid_500": [4], "test_500": [5]}
    assert stats.main_splits(fake) == {"train_100000": [3], "valid_500": [4], "test": [1]}


def test_split_summary_and_history_lengths():
    rows = [Row(1, (1, 2), 3, 10), Row(1, (2, 3), 4, 11), Row(2, tuple(range(10, 20)), 20, 12)]
    (s,) = stats.split_summary({"a": rows})
    # users 1, 2; items 1..4 and 10..20 (15); targets 3, 4, 20; histories 2, 2, 10
    assert s == {"split": "a", "rows": 3, "users": 2, "items": 15, "target items": 3,
                 "mean history": pytest.approx(14 / 3), "history = 10": pytest.approx(1 / 3)}
    assert stats.history_lengths(rows) == {2: 2, 10: 1}
    (empty,) = stats.split_summary({"e": []})
    assert empty["rows"] == 0 and math.isnan(empty["mean history"])


# ------------------------------------------------------------------------------------ titles

CAT = Catalog({1: "A", 2: "B", 3: "A", 4: "C", 5: "C", 6: "C", 7: "D"})


def test_duplicate_titles():
    d = stats.duplicate_titles(CAT)
    assert d == {"items": 7, "titles": 4, "shared_titles": 2, "items_sharing": 5, "largest": 3,
                 "largest_title": "C", "largest_ids": (4, 5, 6), "group_sizes": {1: 2, 2: 1, 3: 1}}
    none = stats.duplicate_titles(Catalog({1: "x", 2: "y"}))
    assert none["items_sharing"] == 0 and none["largest"] == 0 and none["largest_title"] == ""


def test_duplicate_groups():
    g = stats.duplicate_groups(Catalog({1: "Z", 2: "B", 3: "Z", 4: "B", 5: "C", 6: "C", 7: "C"}))
    # C (3 ids) first; Z and B (2 ids each) by smallest id, not by title: Z (1) before B (2)
    assert g.to_dict("records") == [{"title": "C", "ids": "5, 6, 7", "size": 3},
                                    {"title": "Z", "ids": "1, 3", "size": 2},
                                    {"title": "B", "ids": "2, 4", "size": 2}]
    assert stats.duplicate_groups(CAT, n=1)["title"].tolist() == ["C"]
    assert stats.duplicate_groups(Catalog({1: "x"})).empty


def test_catalog_table(tmp_path):
    t = stats.catalog_table({"Tiny": write_dataset(tmp_path / "t")})
    # 14 ids; titles Item 1..Item 11, Dup, "" -> 13 distinct; 12 and 13 share "Dup"; id 14 empty
    assert t.loc["Tiny"].to_dict() == {"item ids": 14, "distinct titles": 13, "ids sharing a title": 2,
                                       "largest group": 2, "empty titles": 1}


class CharTokenizer:
    """One token per character."""

    def __call__(self, texts, add_special_tokens=False):
        assert add_special_tokens is False
        return {"input_ids": [list(t) for t in texts]}


def test_title_token_lengths():
    # '"A"' is 3 characters + EOS = 4; '"Hello"' 7 + 1 = 8; one entry per distinct title
    lengths = stats.title_token_lengths(Catalog({1: "A", 2: "Hello", 3: "A"}), CharTokenizer())
    assert lengths.tolist() == [4, 8]


# ------------------------------------------------------------------------------------ popularity


def test_target_popularity_and_top_share():
    rows = [Row(1, (1,), t, 0) for t in (5, 5, 5, 2, 2, 9, 7)]
    pop = stats.target_popularity(rows, Catalog({i: f"t{i}" for i in range(1, 11)}))
    # counts 5: 3, 2: 2, then 7 and 9 once each (ties by id)
    assert pop["item"].tolist() == [5, 2, 7, 9] and pop["rank"].tolist() == [1, 2, 3, 4]
    assert pop["targets"].tolist() == [3, 2, 1, 1]
    assert pop["share"].tolist() == pytest.approx([3 / 7, 2 / 7, 1 / 7, 1 / 7])
    assert pop["cumulative share"].tolist() == pytest.approx([3 / 7, 5 / 7, 6 / 7, 1.0])
    assert pop["title"].tolist() == ["t5", "t2", "t7", "t9"]
    # top 25% of the 4 target items = 1 item; of a 10-item catalog: top 10% = 1, top 30% = 3 items
    assert stats.top_share(pop, 0.25) == pytest.approx(3 / 7)
    assert stats.top_share(pop, 0.10, n_items=10) == pytest.approx(3 / 7)
    assert stats.top_share(pop, 0.30, n_items=10) == pytest.approx(6 / 7)
    assert stats.top_share(pop, 0.21, n_items=10) == pytest.approx(6 / 7)  # ceil(2.1) = 3
    assert "title" not in stats.target_popularity(rows).columns


# ------------------------------------------------------------------------------------ recipe report


def test_recipe_report(tmp_path):
    report = amazon.prepare_amazon(FIX / "amazon" / "reviews.json", FIX / "amazon" / "meta.json", tmp_path,
                                   progress=False)
    t = stats.recipe_report(report)
    assert list(t.index) == ["read", "title filter", "5-core", "numbering", "windows", "split", "titles"]
    # the fixture's hand-computed story (tests/test_data_prepare.py::test_prepare_fixture_by_hand)
    assert t.loc["read", "result"] == "48 reviews, 9 items in the metadata"
    assert t.loc["title filter", "result"] == "-2 reviews, -2 items"
    assert t.loc["title filter", "why"] == "no usable title (1 no title field, 1 title too short)"
    assert t.loc["5-core", "result"] == "-7 reviews, -1 users, -1 items"
    assert t.loc["5-core", "why"] == "fewer than 5 reviews, 2 rounds until stable"
    assert t.loc["numbering", "result"] == "6 users, 5 items, 39 interactions"
    assert t.loc["split", "result"] == "train 7, valid 1, test 1"
    assert t.loc["titles", "result"] == "4 distinct, 2 items share one"


# ------------------------------------------------------------------------------------ provenance

HEADER = "\t".join(stats.MANIFEST_COLUMNS)
BLOB = "0" * 40
COMMIT = "abcdef0123" + "4" * 30


def manifest_line(local, data: bytes | None, repo="o/r", src=None):
    size, sha = ("-", "-") if data is None else (str(len(data)), hashlib.sha256(data).hexdigest())
    return "\t".join([local, size, sha, BLOB, repo, COMMIT, src or f"data/{local}"])


def test_sha256_file(tmp_path):
    p = tmp_path / "abc"
    p.write_bytes(b"abc")
    assert stats.sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert stats.sha256_file(p, chunk=1) == stats.sha256_file(p)


def test_read_manifest(tmp_path):
    m = tmp_path / "MANIFEST.tsv"
    m.write_text(HEADER + "\n" + manifest_line("X/a.csv", b"a") + "\n")
    df = stats.read_manifest(m)
    assert df.loc[0, "local_path"] == "X/a.csv" and df.loc[0, "bytes"] == "1"  # strings, as written
    m.write_text("path\tsize\n")
    with pytest.raises(ValueError, match="expected columns"):
        stats.read_manifest(m)


def test_verify_manifest(tmp_path):
    d = tmp_path / "X"
    d.mkdir()
    (d / "ok.csv").write_bytes(b"hello")
    (d / "size.csv").write_bytes(b"hello!")     # listed as b"hello": size differs
    (d / "sha.csv").write_bytes(b"hellp")       # same size, other content
    (d / "blob.csv").write_bytes(b"x")
    (d / "extra.json").write_bytes(b"{}")
    lines = [manifest_line("X/ok.csv", b"hello"), manifest_line("X/size.csv", b"hello"),
             manifest_line("X/sha.csv", b"hello"), manifest_line("X/blob.csv", None),
             manifest_line("X/gone.csv", b"z"), manifest_line("Y/ok.csv", b"other")]
    m = tmp_path / "MANIFEST.tsv"
    m.write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    check = stats.verify_manifest(d, m)
    assert check["status"].to_dict() == {"blob.csv": "not checkable", "extra.json": "not in manifest",
                                         "gone.csv": "missing", "ok.csv": "ok", "sha.csv": "MISMATCH",
                                         "size.csv": "MISMATCH"}
    assert check.loc["ok.csv", "bytes"] == 5 and pd.isna(check.loc["gone.csv", "bytes"])
    assert check.loc["ok.csv", "source path"] == "data/X/ok.csv"
    assert check.loc["extra.json", "source path"] == "-"
    # the dataset name can differ from the folder's; a folder with no listed files: all unlisted
    assert stats.verify_manifest(d, stats.read_manifest(m), dataset="Y")["status"].to_dict() == {
        "blob.csv": "not in manifest", "extra.json": "not in manifest", "ok.csv": "MISMATCH",
        "sha.csv": "not in manifest", "size.csv": "not in manifest"}


def test_manifest_sources(tmp_path):
    lines = [manifest_line("X/a.csv", b"a", src="data/X/a.csv"), manifest_line("X/b.csv", None, src="data/X/b.csv"),
             manifest_line("d3/Office/test/t.csv", b"t", repo="p/q", src="data/Amazon/test/t.csv"),
             manifest_line("d3/Office/info/i.txt", b"i", repo="p/q", src="data/Amazon/info/i.txt")]
    m = tmp_path / "MANIFEST.tsv"
    m.write_text(HEADER + "\n" + "\n".join(lines) + "\n")
    t = stats.manifest_sources(m)
    assert t.to_dict("index") == {
        "X": {"repository": "o/r", "commit": "abcdef012344", "source folder": "data/X/", "files": 2,
              "blob only": 1},
        "d3": {"repository": "p/q", "commit": "abcdef012344", "source folder": "data/Amazon/", "files": 2,
               "blob only": 0},
    }


def test_repo_manifest_sources_match_provenance():
    t = stats.manifest_sources(Path(__file__).resolve().parents[1] / "data" / "MANIFEST.tsv")
    assert t.loc["Office", "repository"] == "Void-JackLee/LBR" and t.loc["Office", "files"] == 11
    assert t.loc["Toy", "blob only"] == 2  # Toy's train.csv and train_10000.csv
    assert t["blob only"].sum() == 2


# ------------------------------------------------------------------------------------ figures


def test_window_diagram():
    from gdrt.plots import data as plots

    fig = plots.window_diagram([7, 8, 9, 6], [(0, 3), (1, 4)])
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.array_equal(np.isnan(z), [[False, False, False, True], [True, False, False, False]])
    assert z[0, :3].tolist() == [0, 0, 1] and z[1, 1:].tolist() == [0, 0, 1]
    assert fig.data[0].text[1].tolist() == ["", "8", "9", "6"]


def test_history_lengths_figure():
    from gdrt.plots import data as plots

    rows = [Row(1, (1, 2), 3, 0), Row(1, (1, 2), 3, 0), Row(1, tuple(range(10)), 3, 0)]
    fig = plots.history_lengths({"train": rows, "test": rows[2:]})
    assert [t.name for t in fig.data] == ["train (3 rows)", "test (1 rows)"]
    assert fig.data[0].y[1] == pytest.approx(2 / 3) and fig.data[0].y[9] == pytest.approx(1 / 3)
    assert sum(fig.data[1].y) == pytest.approx(1.0) and fig.data[1].y[9] == 1.0


def test_target_popularity_figure():
    from gdrt.plots import data as plots

    pop = stats.target_popularity([Row(1, (1,), t, 0) for t in (5, 5, 5, 2)])
    fig = plots.target_popularity(pop, n_items=4)
    assert fig.data[1].name == "targets"
    curve = fig.data[1]
    # 2 of 4 items are targets: (0,0), (1/4, 3/4), (2/4, 1), then the never-targets up to (1, 1)
    assert list(curve.x) == pytest.approx([0, 0.25, 0.5, 1.0]) and list(curve.y) == pytest.approx([0, 0.75, 1, 1])
    assert list(fig.data[0].y) == [3, 1]


def test_title_lengths_figure():
    from gdrt.plots import data as plots

    fig = plots.title_lengths([3, 5, 9])
    assert fig.layout.shapes[0].x0 == 5  # the median line
    assert list(fig.data[0].x) == [3, 5, 9]
