"""Preparation: sliding windows and splits (windows.py), raw Amazon -> MSL (amazon.py), data/fetch.py."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from gdrt.data import Row, load_catalog, load_split, read_msl
from gdrt.data import amazon
from gdrt.data.windows import (
    carve_valid,
    catalog_files,
    format_msl,
    make_windows,
    sample_rows,
    split_bounds,
    split_windows,
    user_windows,
)
from gdrt.errors import GDRTInputError

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "data"
RAW = FIX / "amazon"
REAL = Path(os.environ.get("GDRT_DATA") or "/work/shared/datasets")


def check_error(exc, path, line, field, fragment):
    msg = str(exc.value)
    assert "\n" not in msg
    head = str(path) + (f":{line}" if line is not None else "") + ": " + (f"field '{field}': " if field else "")
    assert msg.startswith(head), (msg, head)
    assert fragment in msg, (msg, fragment)


# ------------------------------------------------------------------------------------ windows


@pytest.mark.parametrize(
    "n,expected",
    [
        (2, [(0, 2)]),
        (5, [(0, 5)]),
        (11, [(0, 11)]),
        (12, [(0, 11), (1, 12)]),
        (14, [(0, 11), (1, 12), (2, 13), (3, 14)]),
    ],
)
def test_user_windows(n, expected):
    assert user_windows(list(range(n))) == expected


def test_user_windows_max_len():
    assert user_windows(list(range(5)), max_len=2) == [(0, 3), (1, 4), (2, 5)]


def test_make_windows_stable_sorts():
    seqs = {
        7: [(1, 30), (2, 10), (3, 10), (4, 20)],  # per user: 2, 3 (tie, file order), 4, 1
        3: [(5, 15), (6, 15)],
        9: [(8, 5), (9, 30)],
    }
    rows = make_windows(seqs)
    assert rows == [
        Row(3, (5,), 6, 15, 0),
        Row(7, (2, 3, 4), 1, 30, 0),  # ties on the target's time keep the users' order
        Row(9, (8,), 9, 30, 0),
    ]
    with pytest.raises(ValueError, match="user 1 has 1 interaction"):
        make_windows({1: [(1, 1)]})


def test_split_bounds_match_the_published_sizes():
    assert split_bounds(19250) == (15400, 17325, 17325, 19250)  # Office: 15400 / 1925 / 1925
    a, b, c, d = split_bounds(55439)  # Clothing: train 44351, test 5544
    assert (a, b - a, d - c) == (44351, 5544, 5544)
    a, b, c, d = split_bounds(43825)  # Book: train 35060, test 4383
    assert (a, d - c) == (35060, 4383)
    a, b, c, d = split_bounds(9)
    assert (a, b, c, d) == (7, 8, 8, 9)
    rows = [Row(1, (1,), i, i) for i in range(10)]
    tr, va, te = split_windows(rows)
    assert [r.target for r in tr] == list(range(8)) and [r.target for r in va] == [8] and [r.target for r in te] == [9]


def test_carve_valid():
    rows = [Row(1, (1,), i, ts) for i, ts in enumerate([5, 1, 3, 3, 9, 7, 2, 8, 4, 6])]
    train, valid = carve_valid(rows, 0.2)
    assert [r.timestamp for r in train] == [1, 2, 3, 3, 4, 5, 6, 7]
    assert [r.target for r in train][2:4] == [2, 3]  # stable on ties
    assert [r.timestamp for r in valid] == [8, 9]
    tr, va = carve_valid(rows)  # default 0.11: int(10 * 0.89) = 8
    assert (len(tr), len(va)) == (8, 2)
    with pytest.raises(ValueError):
        carve_valid(rows, 1.0)


def test_carve_valid_on_rows_read_from_a_file():
    rows = read_msl(FIX / "msl" / "train.csv")
    train, valid = carve_valid(rows, 0.25)
    assert [r.line for r in train] == [2, 3, 4] and [r.line for r in valid] == [5]


def test_sample_rows_is_pandas_sample():
    rows = [Row(u, (u,), u + 1, u) for u in range(50)]
    df = pd.DataFrame({"u": range(50)})
    expected = df.sample(n=7, random_state=42)["u"].tolist()
    assert [r.user_id for r in sample_rows(rows, 7)] == expected
    assert sample_rows(rows, 50) == rows and sample_rows(rows, 80) == rows  # not more rows: unchanged


def test_format_msl_bytes():
    rows = [Row(18, (209, 171), 172, 1070582400), Row("A1", (1,), 2, 5)]
    assert format_msl(rows) == 'user_id,item_ids,timestamp\n18,"[209, 171, 172]",1070582400\nA1,"[1, 2]",5\n'


def test_catalog_files():
    files = catalog_files({2: "B", 1: "A", 3: "A"})
    assert files["id2name4Rec.json"] == '{\n    "1": "A",\n    "2": "B",\n    "3": "A"\n}'
    assert files["id2name.json"] == '{\n    "1": "A",\n    "2": "B"\n}'


# ------------------------------------------------------------------------------------ Office regression


from gdrt.data.stats import rebuild_sequences, table1_row  # noqa: E402


def test_table1_row_by_hand():
    seqs = {1: [(5, 0), (6, 1)], 2: [(5, 0), (7, 2), (8, 3)]}
    row = table1_row("x", seqs)
    assert (row["users"], row["items"], row["interactions"]) == (2, 4, 5)
    assert row["density"] == 5 / 8


def test_office_rewindowing_reproduces_the_published_splits():
    """Rebuild every user's sequence from Office train+valid+test, window and split it again with
    the recipe: the three files come back row for row (PROVENANCE: 4895 users, 2414 items, 53149
    interactions), and the samples and catalogs come back byte for byte."""
    d = REAL / "Office"
    if not (d / "valid.csv").is_file():
        pytest.skip("real Office data not present")
    published = [load_split(d, s) for s in ("train", "valid", "test")]
    sequences = rebuild_sequences([r for part in published for r in part])
    assert len(sequences) == 4895
    assert sum(len(s) for s in sequences.values()) == 53149
    assert len({i for s in sequences.values() for i, _ in s}) == 2414
    rebuilt = split_windows(make_windows(sequences))
    strip = lambda rs: [(r.user_id, r.history, r.target, r.timestamp) for r in rs]  # noqa: E731
    for got, want in zip(rebuilt, published):
        assert strip(got) == strip(want)
    assert format_msl(rebuilt[0]).encode() == (d / "train.csv").read_bytes()
    assert format_msl(sample_rows(rebuilt[0], 10000)).encode() == (d / "train_10000.csv").read_bytes()
    assert format_msl(sample_rows(rebuilt[2], 500)).encode() == (d / "test_500.csv").read_bytes()
    files = catalog_files(load_catalog(d).id2title)
    assert files["id2name4Rec.json"].encode() == (d / "id2name4Rec.json").read_bytes()
    assert files["id2name.json"].encode() == (d / "id2name.json").read_bytes()


# ------------------------------------------------------------------------------------ raw Amazon

EXPECTED_TRAIN = (
    "user_id,item_ids,timestamp\n"
    '1,"[4, 2, 1, 3, 5]",1020\n'
    '2,"[2, 3, 1, 5, 4]",1030\n'
    '4,"[2, 1, 3, 4, 5]",1054\n'
    '3,"[5, 4, 3, 1, 2]",1104\n'
    '5,"[3, 2, 5, 1, 4]",1204\n'
    '6,"[2, 1, 3, 4, 5, 2, 1, 3, 4, 5, 1]",2014\n'
    '6,"[1, 3, 4, 5, 2, 1, 3, 4, 5, 1, 2]",2015\n'
)
EXPECTED_VALID = 'user_id,item_ids,timestamp\n6,"[3, 4, 5, 2, 1, 3, 4, 5, 1, 2, 3]",2016\n'
EXPECTED_TEST = 'user_id,item_ids,timestamp\n6,"[4, 5, 2, 1, 3, 4, 5, 1, 2, 3, 4]",2016\n'
EXPECTED_CATALOG = {"1": "Beta Paper", "2": "Alpha Pen", "3": "Old Film", "4": "Gamma's Stapler", "5": "Alpha Pen"}


def test_prepare_fixture_by_hand(tmp_path):
    """The hand-computed result of tests/fixtures/data/amazon (see the comments in this test).

    Reviews (48 lines): U7 reviews F, A, X, B, N; X's title is one character and N has none, so
    2 reviews go; U7 is left with 3 reviews (< 5) and goes in 5-core round 1, which leaves F with 4
    reviews, so F goes in round 2 (with U6's 4 reviews of F). Users by first appearance: U3=1, U1=2,
    U2=3, U4=4, U5=5, U6=6; items: B=1, A=2, C=3, D=4, E=5. Users 1..5 have 5 items (one window
    each); U6 has 14 (windows i=10..13; B@2014 sorts before A@2015, C and D tie at 2016 and keep
    file order). 9 windows: train 7, valid 1, test 1.
    """
    report = amazon.prepare_amazon(RAW / "reviews.json", RAW / "meta.json", tmp_path, progress=False)
    assert (tmp_path / "train.csv").read_text() == EXPECTED_TRAIN
    assert (tmp_path / "valid.csv").read_text() == EXPECTED_VALID
    assert (tmp_path / "test.csv").read_text() == EXPECTED_TEST
    for name, full in [("train_10000", "train"), ("train_100000", "train"), ("valid_5000", "valid"),
                       ("valid_500", "valid"), ("test_5000", "test"), ("test_500", "test")]:
        assert (tmp_path / f"{name}.csv").read_bytes() == (tmp_path / f"{full}.csv").read_bytes()
    assert json.loads((tmp_path / "id2name4Rec.json").read_text()) == EXPECTED_CATALOG
    assert json.loads((tmp_path / "id2name.json").read_text()) == {k: v for k, v in EXPECTED_CATALOG.items() if k != "5"}
    assert (tmp_path / "id2name4Rec.json").read_text().startswith('{\n    "1": "Beta Paper",\n')
    assert report == json.loads((tmp_path / amazon.REPORT_FILE).read_text())
    assert {k: report[k] for k in ["review_lines", "reviews", "meta_lines", "meta_asins", "meta_asins_with_title",
                                    "meta_asins_no_title", "reviews_dropped_no_title", "items_dropped_no_title",
                                    "users", "items", "interactions", "windows", "windows_unused",
                                    "distinct_titles", "items_sharing_a_title"]} == {
        "review_lines": 48, "reviews": 48, "meta_lines": 10, "meta_asins": 9, "meta_asins_with_title": 7,
        "meta_asins_no_title": 2, "reviews_dropped_no_title": 2, "items_dropped_no_title": 2,
        "users": 6, "items": 5, "interactions": 39, "windows": 9, "windows_unused": 0,
        "distinct_titles": 4, "items_sharing_a_title": 2,
    }
    assert report["meta_asins_no_title_by_reason"] == {"no_title_field": 1, "title_too_short": 1}
    assert report["k_core"] == {"k": 5, "rounds": 2, "reviews_dropped": 7, "users_dropped": 1, "items_dropped": 1}
    assert report["splits"] == {"train": 7, "valid": 1, "test": 1}
    # the output reads back with the package's own readers
    cat = load_catalog(tmp_path)
    assert [r.target for r in load_split(tmp_path, "train", cat)] == [5, 4, 5, 2, 4, 1, 2]


def test_prepare_gzip_and_determinism(tmp_path):
    for name in ("reviews.json", "meta.json"):
        with gzip.open(tmp_path / f"{name}.gz", "wb") as f:
            f.write((RAW / name).read_bytes())
    a, b = tmp_path / "a", tmp_path / "b"
    amazon.prepare_amazon(tmp_path / "reviews.json.gz", tmp_path / "meta.json.gz", a, progress=False)
    amazon.prepare_amazon(RAW / "reviews.json", RAW / "meta.json", b, progress=True)
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert len(names) == 12  # 9 CSVs, 2 catalogs, the report
    for n in names:
        if n != amazon.REPORT_FILE:
            assert (a / n).read_bytes() == (b / n).read_bytes(), n


def test_prepare_valid_from_train(tmp_path):
    report = amazon.prepare_amazon(RAW / "reviews.json", RAW / "meta.json", tmp_path, valid_from_train=True, progress=False)
    lines = EXPECTED_TRAIN.splitlines(keepends=True)
    assert (tmp_path / "train.csv").read_text() == "".join(lines[:7])  # int(7 * 0.89) = 6 rows
    assert (tmp_path / "valid.csv").read_text() == lines[0] + lines[7]
    assert (tmp_path / "test.csv").read_text() == EXPECTED_TEST
    assert report["splits"] == {"train": 6, "valid": 1, "test": 1} and report["windows_unused"] == 1


def test_prepare_samples(tmp_path):
    amazon.prepare_amazon(RAW / "reviews.json", RAW / "meta.json", tmp_path, sample_sizes={"train": (3,)}, progress=False)
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["test.csv", "train.csv", "train_3.csv", "valid.csv"]
    df = pd.read_csv(tmp_path / "train.csv")
    expected = df.sample(n=3, random_state=42).reset_index(drop=True).to_csv(index=False)
    assert (tmp_path / "train_3.csv").read_text() == expected


def test_cli(tmp_path, capsys):
    rc = amazon.main(["--reviews", str(RAW / "reviews.json"), "--meta", str(RAW / "meta.json"), "--out", str(tmp_path),
                      "--no-progress"])
    assert rc == 0
    assert capsys.readouterr().out.strip().endswith(f"9 windows -> train 7, valid 1, test 1 in {tmp_path}")
    assert (tmp_path / "test.csv").read_text() == EXPECTED_TEST
    rc = amazon.main(["--reviews", str(tmp_path / "nope.json"), "--meta", str(RAW / "meta.json"), "--out", str(tmp_path)])
    assert rc == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.json'}: file not found\n"


GOOD = '{"reviewerID": "U1", "asin": "A", "unixReviewTime": 5, "overall": 5.0}\n'


@pytest.mark.parametrize(
    "content,line,field,fragment",
    [
        (GOOD + '{"reviewerID": "U1", "asin": "A", "unixReviewTime": 5\n', 2, None, "malformed line, expected one JSON"),
        (GOOD + '{"asin": "A", "unixReviewTime": 5}\n', 2, "reviewerID", "missing field"),
        (GOOD + '{"reviewerID": "U1", "unixReviewTime": 5}\n', 2, "asin", "missing field"),
        (GOOD + '{"reviewerID": "U1", "asin": "A"}\n', 2, "unixReviewTime", "missing field"),
        (GOOD + '{"reviewerID": "U1", "asin": "A", "unixReviewTime": 5.5}\n', 2, "unixReviewTime", "expected an integer Unix time, found 5.5"),
        (GOOD + '{"reviewerID": "", "asin": "A", "unixReviewTime": 5}\n', 2, "reviewerID", "non-empty string"),
        (GOOD + '[1, 2]\n', 2, None, "expected an object, found list"),
        (GOOD.encode() + b'{"reviewerID": "U\xff", "asin": "A", "unixReviewTime": 5}\n', 2, None, "invalid UTF-8 byte 0xff at column 18"),
        (b"", None, None, "file is empty (0 bytes)"),
    ],
)
def test_read_reviews_errors(tmp_path, content, line, field, fragment):
    p = tmp_path / "reviews.json"
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(GDRTInputError) as exc:
        amazon.read_reviews(p)
    check_error(exc, p, line, field, fragment)


def test_read_reviews_counts_blank_lines(tmp_path):
    p = tmp_path / "r.json"
    p.write_text(GOOD + "\n" + GOOD.replace('"U1"', '"U2"').replace("5,", '"7",'))
    reviews, stats = amazon.read_reviews(p)
    assert reviews == [amazon.Review("U1", "A", 5, 1), amazon.Review("U2", "A", 7, 3)]
    assert stats == {"review_lines": 3, "review_blank_lines": 1, "reviews": 2}


def test_read_meta_titles(tmp_path):
    titles, stats = amazon.read_meta_titles(RAW / "meta.json")
    assert titles == {"B0A": "Alpha Pen", "B0B": "Beta Paper", "B0C": "Old Film", "B0D": "Gamma's Stapler",
                      "B0E": "Alpha Pen", "B0F": "Delta Tape", "B0W": "Film"}
    assert stats["meta_asins"] == 9
    p = tmp_path / "m.json"
    p.write_text('{"asin": "A", "title": "Pen"}\n{"title": "Cup"}\n')
    with pytest.raises(GDRTInputError) as exc:
        amazon.read_meta_titles(p)
    check_error(exc, p, 2, "asin", "missing field")
    p.write_text("{'asin': 'A', 'title': 'Pen'\n")
    with pytest.raises(GDRTInputError) as exc:
        amazon.read_meta_titles(p)
    check_error(exc, p, 1, None, "expected one JSON or Python-literal object")


@pytest.mark.parametrize(
    "raw,clean",
    [("Pen", "Pen"), ("X", None), ("", None), (None, None), (7, None), ("Old Film VHS", "Old Film"),
     ("Film [VHS]", "Film"), ("  Pad ", "Pad"), ("  ", None), ("VHS", "VHS"), ("A VHS VHS", "A VHS")],
)
def test_clean_title(raw, clean):
    assert amazon.clean_title(raw) == clean


def test_k_core_iterates():
    R = amazon.Review
    reviews = [R(u, i, 0, 0) for u in "abc" for i in "xyz"] + [R("d", "x", 0, 0), R("a", "w", 0, 0)]
    core, stats = amazon.k_core(reviews, k=3)
    assert core == [R(u, i, 0, 0) for u in "abc" for i in "xyz"]
    assert stats == {"k": 3, "rounds": 1, "reviews_dropped": 2, "users_dropped": 1, "items_dropped": 1}
    core, stats = amazon.k_core(reviews, k=4)  # x has 4 reviews but its users go: everything goes
    assert core == [] and stats["rounds"] == 2


# ------------------------------------------------------------------------------------ data/fetch.py


@pytest.fixture(scope="module")
def fetch_mod():
    spec = importlib.util.spec_from_file_location("gdrt_data_fetch", ROOT / "data" / "fetch.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def test_manifest_in_repo(fetch_mod):
    entries = fetch_mod.read_manifest(ROOT / "data" / "MANIFEST.tsv")
    assert len(entries) == 42
    by_path = {e.local_path: e for e in entries}
    toy = by_path["Toy/train.csv"]
    assert toy.size is None and toy.sha256 is None and toy.git_blob == "daf0f7b00e21b47d638e546c6e8a4ad25c92b465"
    office = by_path["Office/train.csv"]
    assert office.size == 1185060
    assert office.url() == ("https://raw.githubusercontent.com/Void-JackLee/LBR/"
                            "cc2f24e802227316bb48baa58a72c017f013cab6/data/Office/train.csv")
    msl = fetch_mod.select(entries)
    assert len(msl) == 35 and all(not e.local_path.startswith("d3_format/") for e in msl)
    assert len(fetch_mod.select(entries, include_d3=True)) == 42
    assert {e.local_path for e in fetch_mod.select(entries, only=["office"])} == {
        p for p in by_path if p.startswith("Office/")}


def test_git_blob_id(fetch_mod):
    assert fetch_mod.git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
    assert fetch_mod.git_blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def _manifest(tmp_path, files: dict[str, bytes], blob_only=()):
    lines = ["\t".join(("local_path", "bytes", "sha256", "git_blob", "source_repo", "source_commit", "source_path"))]
    for name, data in files.items():
        size = "-" if name in blob_only else str(len(data))
        sha = "-" if name in blob_only else hashlib.sha256(data).hexdigest()
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        lines.append("\t".join((name, size, sha, blob, "owner/repo", "c" * 40, "data/" + name)))
    p = tmp_path / "MANIFEST.tsv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_fetch_with_a_fake_opener(tmp_path, fetch_mod):
    files = {"Office/train.csv": b"user_id,item_ids,timestamp\n1,\"[1, 2]\",3\n", "Toy/train.csv": b"big file\n"}
    entries = fetch_mod.read_manifest(_manifest(tmp_path, files, blob_only={"Toy/train.csv"}))
    calls = []

    def opener(url):
        calls.append(url)
        return files[url.split("/data/", 1)[1]]

    dest = tmp_path / "data"
    res = fetch_mod.fetch(entries, dest, opener=opener, log=lambda *_: None)
    assert (res["downloaded"], res["present"], res["failed"]) == (2, 0, 0)
    assert calls[0] == "https://raw.githubusercontent.com/owner/repo/" + "c" * 40 + "/data/Office/train.csv"
    assert (dest / "Office/train.csv").read_bytes() == files["Office/train.csv"]
    assert not list(dest.rglob("*.tmp"))
    # second run: present and valid, nothing downloaded
    calls.clear()
    res = fetch_mod.fetch(entries, dest, opener=opener, log=lambda *_: None)
    assert (res["downloaded"], res["present"], calls) == (0, 2, [])
    # a corrupted local file is downloaded again
    (dest / "Office/train.csv").write_bytes(b"garbage")
    res = fetch_mod.fetch(entries, dest, opener=opener, log=lambda *_: None)
    assert res["downloaded"] == 1 and (dest / "Office/train.csv").read_bytes() == files["Office/train.csv"]
    # check-only mode reports without downloading
    (dest / "Toy/train.csv").unlink()
    res = fetch_mod.fetch(entries, dest, opener=opener, check_only=True, log=lambda *_: None)
    assert res["failed"] == 1 and res["errors"] == ["Toy/train.csv: missing"]


def test_fetch_mismatch_writes_nothing(tmp_path, fetch_mod):
    files = {"Game/valid.csv": b"right content\n", "Toy/train.csv": b"big file\n"}
    entries = fetch_mod.read_manifest(_manifest(tmp_path, files, blob_only={"Toy/train.csv"}))
    dest = tmp_path / "data"
    res = fetch_mod.fetch(entries, dest, opener=lambda url: b"wrong content\n", log=lambda *_: None)
    assert res["failed"] == 2 and res["downloaded"] == 0
    assert res["errors"][0].startswith("Game/valid.csv: mismatch (from https://raw.githubusercontent.com/owner/repo/")
    assert "sha256" in res["errors"][0] and "git blob" in res["errors"][0] and "size" not in res["errors"][0]
    # a blob-only row is checked by its blob id alone
    assert res["errors"][1].startswith("Toy/train.csv: mismatch") and "git blob" in res["errors"][1]
    assert "sha256" not in res["errors"][1]
    assert not dest.exists() or not any(p.is_file() for p in dest.rglob("*"))
    with pytest.raises(fetch_mod.FetchError, match="size 3 != 14"):
        fetch_mod.verify(b"abc", entries[0])


def test_fetch_from_file_url_and_main(tmp_path, fetch_mod, capsys):
    files = {"Office/id2name4Rec.json": b'{"1": "Pen"}', "d3_format/x/info.txt": b"Pen\t0\n"}
    manifest = _manifest(tmp_path, files)
    mirror = tmp_path / "mirror" / "owner" / "repo" / ("c" * 40) / "data"
    for name, data in files.items():
        (mirror / name).parent.mkdir(parents=True, exist_ok=True)
        (mirror / name).write_bytes(data)
    dest = tmp_path / "out"
    base = (tmp_path / "mirror").as_uri()
    assert fetch_mod.main(["--manifest", str(manifest), "--dest", str(dest), "--base-url", base]) == 0
    assert (dest / "Office/id2name4Rec.json").read_bytes() == files["Office/id2name4Rec.json"]
    assert not (dest / "d3_format").exists()  # MSL-format files only by default
    assert "0 present, 1 downloaded, 0 failed" in capsys.readouterr().out
    assert fetch_mod.main(["--manifest", str(manifest), "--dest", str(dest), "--base-url", base, "--include-d3"]) == 0
    assert (dest / "d3_format/x/info.txt").read_bytes() == b"Pen\t0\n"
    shutil.rmtree(mirror)
    (dest / "Office/id2name4Rec.json").unlink()
    assert fetch_mod.main(["--manifest", str(manifest), "--dest", str(dest), "--base-url", base]) == 1
    assert "Office/id2name4Rec.json: download failed from file:" in capsys.readouterr().err


def test_read_manifest_errors(tmp_path, fetch_mod):
    p = tmp_path / "M.tsv"
    p.write_text("a\tb\n")
    with pytest.raises(fetch_mod.FetchError, match=r"M.tsv:1: expected header"):
        fetch_mod.read_manifest(p)
    p.write_text("\t".join(fetch_mod.COLUMNS) + "\nx\t12\n")
    with pytest.raises(fetch_mod.FetchError, match=r"M.tsv:2: expected 7 tab-separated fields, found 2"):
        fetch_mod.read_manifest(p)
    p.write_text("\t".join(fetch_mod.COLUMNS) + "\n../x\t1\t" + "a" * 64 + "\t" + "b" * 40 + "\tr\tc\tp\n")
    with pytest.raises(fetch_mod.FetchError, match="local_path"):
        fetch_mod.read_manifest(p)


def test_repo_manifest_is_the_shared_one():
    shared = REAL / "MANIFEST.tsv"
    if not shared.is_file():
        pytest.skip("shared datasets not present")
    assert (ROOT / "data" / "MANIFEST.tsv").read_bytes() == shared.read_bytes()
