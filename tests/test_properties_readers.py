"""Property tests of the readers: what is written in the MSL (or D3) format reads back the
same, and a corrupted or truncated file reads correctly or fails with a one-line GDRTInputError,
never another exception."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gdrt.data import Catalog, Row, read_catalog, read_d3, read_msl
from gdrt.data.msl import LONG_HISTORY
from gdrt.data.windows import format_msl
from gdrt.errors import GDRTInputError
from gdrt.training.config import TrainConfig

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# any text but lone surrogates (not encodable), with at least one non-blank character
TITLE = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(str.strip)
NASTY = st.sampled_from(['"', "'", ",", "\n", "\r\n", "\t", "\\", "[", "]", "😀", "עברית", "\u200f", "\x00", " "])
TITLE = st.one_of(TITLE, st.lists(st.one_of(NASTY, TITLE), min_size=1, max_size=6).map("".join).filter(str.strip))


@st.composite
def catalogs(draw) -> dict[int, str]:
    ids = draw(st.lists(st.integers(0, 10**9), min_size=1, max_size=12, unique=True))
    return {i: draw(TITLE) for i in ids}


@st.composite
def splits(draw, id2title: dict[int, str]) -> list[Row]:
    ids = sorted(id2title)
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        items = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=13))
        rows.append(Row(draw(st.integers(0, 10**12)), tuple(items[:-1]), items[-1], draw(st.integers(0, 2**40))))
    return rows


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("props")


def write(path, data) -> None:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def catalog_json(id2title, ascii_only: bool, indent) -> str:
    return json.dumps({str(k): v for k, v in id2title.items()}, ensure_ascii=ascii_only, indent=indent)


def expect_error_or(fn, path):
    """``fn()``; a failure must be a one-line GDRTInputError that names ``path``."""
    try:
        return fn()
    except GDRTInputError as e:
        msg = str(e)
        assert len(msg.splitlines()) == 1, msg
        assert msg.startswith(str(path)), msg
        return None


def d3_text(rows, id2title) -> str:
    """A D3/BIGRec CSV of ``rows``. Every field quoted: a bare ``\\r`` in a title would end the record
    (as in any CSV), and ``QUOTE_MINIMAL`` with ``\\n`` line ends leaves it bare."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(["user_id", "item_asins", "item_asin", "history_item_id", "item_id", "history_item_title",
                "item_title", "history_rating", "rating", "history_timestamp", "timestamp"])
    for r in rows:
        w.writerow([f"U{r.user_id}", "[]", "A", str(list(r.history)), r.target,
                    str([id2title[i] for i in r.history]), id2title[r.target], "[]", 5.0, "[]", r.timestamp])
    return buf.getvalue()


# ------------------------------------------------------------------------------------ round trips


@SETTINGS
@given(data=st.data(), id2title=catalogs(), ascii_only=st.booleans(), indent=st.sampled_from([None, 1, 4]),
       bom=st.booleans(), crlf=st.booleans())
def test_msl_round_trip(work, data, id2title, ascii_only, indent, bom, crlf):
    rows = data.draw(splits(id2title))
    cat_path, csv_path = work / "id2name4Rec.json", work / "test.csv"
    write(cat_path, ("\ufeff" if bom else "") + catalog_json(id2title, ascii_only, indent))
    text = format_msl(rows)
    write(csv_path, ("\ufeff" if bom else "") + (text.replace("\n", "\r\n") if crlf else text))

    catalog = read_catalog(cat_path)
    assert catalog.id2title == id2title  # titles byte for byte (quotes, newlines, emoji, RTL)
    back = read_msl(csv_path, catalog)
    assert [(r.user_id, r.history, r.target, r.timestamp) for r in back] == \
           [(r.user_id, r.history, r.target, r.timestamp) for r in rows]
    assert [r.line for r in back] == list(range(2, len(rows) + 2))
    report = back.report
    assert report.n_rows == len(rows)
    assert report.n_long_history == sum(len(r.history) > LONG_HISTORY for r in rows)
    assert report.n_duplicate_rows == len(rows) - len({(r.user_id, r.items, r.timestamp) for r in rows})
    assert report.n_time_inversions == sum(b.timestamp < a.timestamp for a, b in zip(rows, rows[1:]))


@SETTINGS
@given(data=st.data(), id2title=catalogs())
def test_d3_round_trip_titles_in_the_csv(work, data, id2title):
    """D3 files carry titles in the CSV (a Python list literal for the history): any title survives."""
    rows = data.draw(splits(id2title))
    path = work / "d3.csv"
    write(path, d3_text(rows, id2title))
    back, catalog = read_d3(path)
    assert [(r.user_id, r.history, r.target, r.timestamp) for r in back] == \
           [(f"U{r.user_id}", r.history, r.target, r.timestamp) for r in rows]
    used = {i for r in rows for i in r.items}
    assert catalog.id2title == {i: id2title[i] for i in used}


# ------------------------------------------------------------------------------------ corruptions

GOOD_CATALOG = {1: 'Say "Hi", all', 2: "Line\nbreak", 3: "Emoji 😀", 4: "RTL עברית", 5: "Plain", 12: "Twelve"}
GOOD_ROWS = [Row(1, (1, 2, 3), 4, 1000), Row(2, (5, 12), 1, 1001), Row(33, (4, 4, 4, 4), 5, 999)]


@st.composite
def corrupt(draw, data: bytes) -> bytes:
    """Truncate, flip, insert or delete bytes (one to three edits)."""
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        n = len(data)
        if op == "truncate":
            data = data[: draw(st.integers(0, n))]
        elif op == "flip" and n:
            i = draw(st.integers(0, n - 1))
            data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
        elif op == "insert":
            i = draw(st.integers(0, n))
            junk = draw(st.one_of(st.binary(min_size=1, max_size=4),
                                  st.sampled_from([b'"', b",", b"\n", b"\r", b"[", b"]", b"\xef\xbb\xbf", b"\xff",
                                                   b"\x00", b"{", b"9" * 25, b"[" * 1200])))
            data = data[:i] + junk + data[i:]
        elif op == "delete" and n:
            i = draw(st.integers(0, n - 1))
            data = data[:i] + data[i + draw(st.integers(1, 8)):]
    return data


@SETTINGS
@given(data=st.data())
def test_corrupted_split_reads_or_raises_one_line(work, data):
    catalog = Catalog(dict(GOOD_CATALOG), source="id2name4Rec.json")
    original = format_msl(GOOD_ROWS).encode("utf-8")
    bad = data.draw(corrupt(original))
    path = work / "bad.csv"
    write(path, bad)
    rows = expect_error_or(lambda: read_msl(path, catalog), path)
    if rows is not None:
        assert len(rows) >= 1 and all(i in catalog for r in rows for i in r.items)
        assert rows.report.n_rows == len(rows)


@SETTINGS
@given(data=st.data())
def test_corrupted_catalog_reads_or_raises_one_line(work, data):
    original = catalog_json(GOOD_CATALOG, data.draw(st.booleans()), 1).encode("utf-8")
    bad = data.draw(corrupt(original))
    path = work / "bad.json"
    write(path, bad)
    catalog = expect_error_or(lambda: read_catalog(path), path)
    if catalog is not None:
        assert len(catalog) >= 1 and all(t.strip() for t in catalog.id2title.values())


@SETTINGS
@given(data=st.data())
def test_corrupted_d3_reads_or_raises_one_line(work, data):
    bad = data.draw(corrupt(d3_text(GOOD_ROWS, GOOD_CATALOG).encode("utf-8")))
    path = work / "bad_d3.csv"
    write(path, bad)
    expect_error_or(lambda: read_d3(path), path)


@SETTINGS
@given(data=st.data())
def test_corrupted_config_loads_or_raises_one_line(work, data):
    original = json.dumps({"data_dir": "/data/Office", "method": "gdrt", "tau": 0.5, "n_groups": 5,
                           "n_train": 256, "epochs": 1.0, "extra": {"note": "x"}}, indent=1).encode()
    bad = data.draw(corrupt(original))
    path = work / "bad_config.json"
    write(path, bad)
    cfg = expect_error_or(lambda: TrainConfig.from_json(path), path)
    if cfg is not None:
        assert cfg.tau > 0 and cfg.n_groups >= 1 and cfg.method in ("sft", "gdrt")
