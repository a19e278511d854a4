"""Completing datasets that ship no valid split (Book, Clothing) or no train split (Toy):
gdrt.data.derive. Small synthetic MSL folders in tmp dirs, plus one check on the real folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gdrt.data import derive
from gdrt.data.derive import DERIVED_FILE, complete_dataset, derivation, derived_dir, load_catalog, load_split
from gdrt.data.msl import Row, read_msl
from gdrt.data.windows import format_msl, sample_rows
from gdrt.errors import GDRTInputError

EMPTY_ID = 7


def _rows(n, start_user=1, t0=1000, empty_target_at=(), empty_history_at=()):
    """``n`` time-sorted windows over items 1..20 with ties (two rows per timestamp)."""
    rows = []
    for k in range(n):
        hist = [1 + (k + j) % 6 for j in range(3)]          # items 1..6
        target = 8 + k % 12                                  # items 8..19
        if k in empty_target_at:
            target = EMPTY_ID
        if k in empty_history_at:
            hist[1] = EMPTY_ID
        rows.append(Row(start_user + k % 9, tuple(hist), target, t0 + 10 * (k // 2)))
    return rows


def make_folder(path: Path, train=100, test=30, valid=False, empty=False, samples=True,
                empty_target_at=(), empty_history_at=(), test_empty_target_at=()) -> Path:
    """A dataset folder in the MSL format: catalog (item 7 titled "" when ``empty``), train.csv
    (``train`` rows; none when 0), its train_10000 sample, test.csv and test_5000.csv."""
    path.mkdir(parents=True, exist_ok=True)
    cat = {str(i): f"Item {i}" for i in range(1, 21)}
    if empty:
        cat[str(EMPTY_ID)] = ""
    (path / "id2name4Rec.json").write_text(json.dumps(cat, indent=4), encoding="utf-8")
    if train:
        rows = _rows(train, empty_target_at=empty_target_at, empty_history_at=empty_history_at)
        (path / "train.csv").write_text(format_msl(rows))
        if samples:
            (path / "train_10000.csv").write_text(format_msl(sample_rows(rows, 60)))
    test_rows = _rows(test, t0=10**6, empty_target_at=test_empty_target_at)
    (path / "test.csv").write_text(format_msl(test_rows))
    (path / "test_5000.csv").write_text(format_msl(test_rows))
    if valid:
        (path / "valid.csv").write_text(format_msl(_rows(10, t0=10**5)))
    return path


@pytest.fixture
def small_samples(monkeypatch):
    """Sample sizes small enough to really sample the synthetic folders."""
    monkeypatch.setattr(derive, "TRAIN_SAMPLES", (40,))
    monkeypatch.setattr(derive, "VALID_SAMPLES", (5,))
    monkeypatch.setattr(derive, "TEST_SAMPLES", (12,))


def _read(d, name):
    return read_msl(Path(d) / name)


def _files(d):
    return {p.name: p.read_bytes() for p in sorted(Path(d).iterdir())}


# ------------------------------------------------------------------------------ carving and samples
def test_carve_sizes_and_time_order(tmp_path):
    src = make_folder(tmp_path / "Book")
    out = complete_dataset(src, tmp_path / "derived")
    assert out.parent == tmp_path / "derived" and out.name.startswith("Book-")
    train, valid = _read(out, "train.csv"), _read(out, "valid.csv")
    assert (len(train), len(valid)) == (89, 11)  # int(100 * 0.89)
    shipped = _read(src, "train.csv")
    assert [r.items for r in train + valid] == [r.items for r in shipped]  # nothing lost, order kept
    assert min(r.timestamp for r in valid) >= max(r.timestamp for r in train)
    rec = derivation(out)
    assert rec["rows"]["train.csv"] == 89 and rec["rows"]["valid.csv"] == 11
    assert rec["carve"]["shipped_train_rows"] == 100 and rec["carve"]["cut"] == 89
    # 89 is odd: the cut splits the pair of rows sharing one timestamp, as the reference split does
    assert rec["carve"]["rows_at_cut_timestamp"] == {"train": 1, "valid": 1}
    assert rec["source"] == str(src.resolve()) and derive.source_dir(out) == src.resolve()
    # shipped test files copied byte for byte; the shipped train_10000 (it holds valid rows) replaced
    for name in ("test.csv", "test_5000.csv", "id2name4Rec.json"):
        assert (out / name).read_bytes() == (src / name).read_bytes()
    assert "train_10000.csv" in rec["not_copied"] and "train_10000.csv" in rec["derived"]
    assert len(_read(out, "test_500.csv")) == 30  # fewer rows than 500: the whole split


def test_samples_drawn_from_the_carved_train(tmp_path, small_samples):
    src = make_folder(tmp_path / "Book")
    out = complete_dataset(src, tmp_path / "derived")
    train, valid = _read(out, "train.csv"), _read(out, "valid.csv")
    key = lambda r: (r.user_id, r.items, r.timestamp)  # noqa: E731
    sample = _read(out, "train_40.csv")
    assert len(sample) == 40 and {key(r) for r in sample} <= {key(r) for r in train}
    assert not {key(r) for r in sample} & {key(r) for r in valid}
    assert [key(r) for r in sample] == [key(r) for r in sample_rows(train, 40, 42)]
    # the shipped train_10000 sample size is kept too, drawn from the carved train (all 89 rows)
    assert [key(r) for r in _read(out, "train_10000.csv")] == [key(r) for r in train]
    assert [key(r) for r in _read(out, "valid_5.csv")] == [key(r) for r in sample_rows(valid, 5, 42)]
    test = _read(src, "test.csv")
    assert [key(r) for r in _read(out, "test_12.csv")] == [key(r) for r in sample_rows(test, 12, 42)]


def test_determinism(tmp_path):
    src = make_folder(tmp_path / "Clothing")
    a = complete_dataset(src, tmp_path / "one")
    b = complete_dataset(src, tmp_path / "two")
    assert a.name == b.name and _files(a) == _files(b)
    assert complete_dataset(src, tmp_path / "one") == a  # reused, not rebuilt
    assert derived_dir(src, tmp_path / "one") == a


def test_changed_source_gets_a_new_folder(tmp_path):
    src = make_folder(tmp_path / "Book")
    a = complete_dataset(src, tmp_path / "derived")
    (src / "test.csv").write_text(format_msl(_rows(31, t0=10**6)))
    b = complete_dataset(src, tmp_path / "derived")
    assert a != b and len(_read(b, "test.csv")) == 31 and (a / DERIVED_FILE).is_file()


# ------------------------------------------------------------------------------ atomicity
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_leftover_temp_dir_is_ignored_and_replaced(tmp_path):
    src = make_folder(tmp_path / "Book")
    fresh = complete_dataset(src, tmp_path / "fresh")
    root = tmp_path / "derived"
    final = derived_dir(src, root)
    dead = root / f".{final.name}.{_dead_pid()}.tmp"       # a derivation killed half-way
    dead.mkdir(parents=True)
    (dead / "train.csv").write_text("user_id,item_ids,timestamp\n1,\"[1, 2\n")
    live = root / f".{final.name}.{os.getppid()}.tmp"      # another process still building
    live.mkdir()
    out = complete_dataset(src, root)
    assert out == final and _files(out) == _files(fresh)
    assert not dead.exists()      # replaced
    assert live.exists()          # not ours to remove
    assert sorted(p.name for p in root.iterdir()) == sorted([final.name, live.name])


def test_failed_derivation_leaves_no_folder(tmp_path, monkeypatch):
    src = make_folder(tmp_path / "Book")
    root = tmp_path / "derived"

    def boom(src_, tmp, state, files):
        (tmp / "train.csv").write_text("partial")
        raise RuntimeError("killed")

    monkeypatch.setattr(derive, "_build", boom)
    with pytest.raises(RuntimeError):
        complete_dataset(src, root)
    assert list(root.iterdir()) == []
    monkeypatch.undo()
    assert (complete_dataset(src, root) / DERIVED_FILE).is_file()


# ------------------------------------------------------------------------------ empty titles
def test_empty_title_handling_is_counted(tmp_path, small_samples):
    # train rows 3 (train part) and 95 (valid part) target the empty title; 4 rows hold it in history
    src = make_folder(tmp_path / "Book", empty=True, empty_target_at=(3, 95), empty_history_at=(5, 6, 50, 97),
                      test_empty_target_at=(2,))
    out = complete_dataset(src, tmp_path / "derived")
    rec = derivation(out)
    h = rec["handling"]
    assert h["empty_title_ids"] == [EMPTY_ID]
    assert h["rows_excluded_empty_target"] == {"train.csv": 1, "valid.csv": 1, "test_12.csv": 1}
    assert h["rows_excluded_empty_target_total"] == 3
    assert h["rows_kept_with_empty_title_in_history"]["train.csv"] == 3
    assert h["rows_kept_with_empty_title_in_history"]["valid.csv"] == 1
    assert h["shipped_test_rows_with_empty_target"] == {"test.csv": 1, "test_5000.csv": 1}
    assert rec["rows"]["train.csv"] == 88 and rec["rows"]["valid.csv"] == 10  # cut 89/11, minus one each
    for name, how in rec["derived"].items():
        rows = _read(out, name)
        assert all(r.target != EMPTY_ID for r in rows), name
        assert len(rows) == rec["rows"][name]
    assert sum(EMPTY_ID in r.history for r in _read(out, "train.csv")) == 3
    # the catalog is copied unchanged, and reads in the derived folder only
    assert (out / "id2name4Rec.json").read_bytes() == (src / "id2name4Rec.json").read_bytes()
    assert load_catalog(out).id2title[EMPTY_ID] == ""
    with pytest.raises(GDRTInputError) as exc:
        load_catalog(src)
    msg = str(exc.value)
    assert "\n" not in msg and "empty title" in msg and "derived folder" in msg and exc.value.field == "7"
    assert "empty title" in derive.describe(out) and "excluded" in derive.describe(out)
    # what DERIVED.json says agrees with counting the files
    assert sum(r["excluded (empty target)"] for r in derive.counts_table(out) if r["file"] != "test_12.csv") == 2


def test_trie_offers_no_empty_title():
    from gdrt.data import Catalog
    from gdrt.decoding import build_trie
    from gdrt.models.tiny import tiny_tokenizer

    catalog = Catalog({1: "Red Pen", 2: "", 3: "Blue Ink", 4: "  "})
    tok = tiny_tokenizer(['"Red Pen"', '"Blue Ink"', '""'], vocab_size=300)
    trie = build_trie(tok, catalog.titles)
    assert trie.titles == ["Red Pen", "Blue Ink"] and trie.excluded_titles == ("", "  ")
    from gdrt.data.prompts import encode_response

    assert trie.entry_of(encode_response(tok, "")) == -1
    assert build_trie(tok, ["Red Pen"]).excluded_titles == ()


# ------------------------------------------------------------------------------ incomplete folders
def test_toy_like_folder_is_evaluation_only(tmp_path):
    src = make_folder(tmp_path / "Toy", train=0)
    out = complete_dataset(src, tmp_path / "derived")
    rec = derivation(out)
    assert rec["evaluation_only"] and rec["rows"] == {"test_500.csv": 30}
    assert len(load_split(out, "test_500")) == 30
    for folder in (src, out):
        for split in ("train_10000", "train", "valid_500"):
            with pytest.raises(GDRTInputError) as exc:
                load_split(folder, split)
            msg = str(exc.value)
            assert "\n" not in msg and msg.startswith(str(folder) + ": ")
            assert "Toy ships no train" in msg and "PROVENANCE.md" in msg and "evaluation only" in msg
    assert "evaluation only" in derive.describe(out)


def test_toy_like_folder_with_all_test_samples_is_unchanged(tmp_path):
    src = make_folder(tmp_path / "Toy", train=0)
    (src / "test_500.csv").write_bytes((src / "test.csv").read_bytes())
    assert complete_dataset(src, tmp_path / "derived") == src
    assert not (tmp_path / "derived").exists()


def test_shipped_folder_without_valid_points_at_the_derived_one(tmp_path):
    src = make_folder(tmp_path / "Clothing")
    with pytest.raises(GDRTInputError) as exc:
        load_split(src, "valid_500")
    msg = str(exc.value)
    assert "\n" not in msg and "ships no valid split" in msg and "gdrt.data.derive" in msg


def test_complete_folder_is_returned_unchanged(tmp_path):
    src = make_folder(tmp_path / "Office", valid=True)
    before = _files(src)
    assert complete_dataset(src, tmp_path / "derived") == src
    assert not (tmp_path / "derived").exists() and _files(src) == before
    out = complete_dataset(make_folder(tmp_path / "Book"), tmp_path / "derived")
    assert complete_dataset(out, tmp_path / "other") == out  # a derived folder is complete


def test_train_sample_without_full_train_or_valid_is_an_error(tmp_path):
    src = make_folder(tmp_path / "Odd")
    (src / "train.csv").unlink()
    with pytest.raises(GDRTInputError) as exc:
        complete_dataset(src, tmp_path / "derived")
    assert "\n" not in str(exc.value) and "cannot be carved" in str(exc.value)


def test_cli_prints_the_folder(tmp_path, capsys):
    src = make_folder(tmp_path / "Book")
    assert derive.main([str(src), str(tmp_path / "derived")]) == 0
    out = capsys.readouterr()
    assert Path(out.out.strip()) == derived_dir(src, tmp_path / "derived") and "carved" in out.err
    assert derive.main([str(tmp_path / "nope")]) == 1


# ------------------------------------------------------------------------------ the real data
REAL = Path(os.environ.get("GDRT_DATA", "")) if os.environ.get("GDRT_DATA") else None


@pytest.mark.skipif(REAL is None, reason="GDRT_DATA not set")
@pytest.mark.parametrize("name,shipped_train,test,test_5000,cut,excluded", [
    ("Book", 35060, 4383, 4383, 31203, {"train.csv": 2, "valid.csv": 0, "test_500.csv": 0}),
    ("Clothing", 44351, 5544, 5000, 39472, {"train.csv": 0, "valid.csv": 0, "test_500.csv": 0}),
])
def test_real_book_and_clothing(name, shipped_train, test, test_5000, cut, excluded):
    src = REAL / name
    if not (src / "train.csv").is_file():
        pytest.skip(f"{src} not present")
    out = complete_dataset(src)  # the default root: the session's GDRT_CACHE
    rec = derivation(out)
    rows, c = rec["rows"], rec["carve"]
    assert c["shipped_train_rows"] == shipped_train and c["cut"] == cut  # PROVENANCE.md: train windows
    assert rows["train.csv"] + rows["valid.csv"] + sum(excluded.values()) == shipped_train
    assert rows["valid.csv"] == shipped_train - cut - excluded["valid.csv"]
    assert rec["handling"]["rows_excluded_empty_target"] == excluded
    assert rec["handling"]["empty_title_ids"] == ([5746] if name == "Book" else [])
    assert (rows["train_10000.csv"], rows["valid_500.csv"], rows["test_500.csv"]) == (10000, 500, 500)
    assert len(load_split(out, "test")) == test and len(load_split(out, "test_5000")) == test_5000
    train = load_split(out, "train")
    valid = load_split(out, "valid_5000")
    assert max(r.timestamp for r in train) <= min(r.timestamp for r in valid)
    key = lambda r: (r.user_id, r.items, r.timestamp)  # noqa: E731
    assert {key(r) for r in load_split(out, "train_10000")} <= {key(r) for r in train}


@pytest.mark.skipif(REAL is None, reason="GDRT_DATA not set")
def test_real_book_setup_and_load_data():
    from gdrt import book

    if not (REAL / "Book" / "train.csv").is_file():
        pytest.skip("no Book data")
    cfg = book.setup(profile="cpu", dataset="book")
    assert cfg.data_source == "real" and derive.is_derived(cfg.data_dir)
    assert "carved" in cfg.note and "3857" in cfg.note and "31201" in cfg.note
    data = book.load_data(cfg)
    assert (len(data.train), len(data.valid), len(data.test)) == (cfg.n_train, cfg.n_valid, cfg.n_test)  # first n_test of test_500
    assert data.catalog.id2title[5746] == ""
    assert all(r.target != 5746 for r in data.train + data.valid + data.test)
