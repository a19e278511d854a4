"""Readers: id2name4Rec.json, MSL CSV splits, the D3 format, and where the data is found."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gdrt.data import Catalog, Row, load_catalog, load_split, read_catalog, read_d3, read_msl
from gdrt.data import locate
from gdrt.data.d3 import read_d3_info
from gdrt.data.presets import get_preset
from gdrt.errors import GDRTInputError

FIX = Path(__file__).parent / "fixtures" / "data"
MSL = FIX / "msl"
D3 = FIX / "d3"
REAL = Path(os.environ.get("GDRT_DATA") or "/work/shared/datasets")


def needs_real(name: str) -> Path:
    path = REAL / name
    if not (path / "id2name4Rec.json").is_file() and not path.is_dir():
        pytest.skip(f"real data {path} not present")
    return path


def check_error(exc: pytest.ExceptionInfo, path, line, field, fragment):
    """One line, naming the file, line and field, containing ``fragment``."""
    msg = str(exc.value)
    assert "\n" not in msg
    head = str(path) + (f":{line}" if line is not None else "") + ": "
    if field is not None:
        head += f"field '{field}': "
    assert msg.startswith(head), (msg, head)
    assert fragment in msg, (msg, fragment)
    assert exc.value.line == line and exc.value.field == field


def write(tmp_path, name, content) -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return p


# ------------------------------------------------------------------------------------ catalog


def test_read_catalog_fixture():
    cat = read_catalog(MSL / "id2name4Rec.json")
    assert isinstance(cat, Catalog)
    assert cat.id2title == {
        1: "Alpha Pen",
        2: "Beta Paper, 500 Sheets",
        3: "Gamma Stapler",
        4: "Alpha Pen",
        5: 'Delta "Tape" Dispenser',
        6: "Épsilon Notebook",
    }
    assert cat.title2ids["Alpha Pen"] == (1, 4)
    assert cat.n_titles == 5 and cat.n_shared == 2
    assert cat.source == str(MSL / "id2name4Rec.json")
    assert load_catalog(MSL).id2title == cat.id2title


CATALOG_ERRORS = [
    # content, line, field, fragment
    (b"", None, None, "file is empty (0 bytes)"),
    (b'{\n  "1": "Pen",\n  "2": "Caf\xe9"\n}\n', 3, None, "invalid UTF-8 byte 0xe9"),
    ('{\n  "1": "Pen",\n  "2": "Cup"\n  "3": "Mug"\n}\n', 4, None, "invalid JSON: Expecting ',' delimiter"),
    ('["Pen", "Cup"]', 1, None, "expected a JSON object mapping item id -> title, found a list"),
    ('{\n  "1": "Pen",\n  "x2": "Cup"\n}', 3, "x2", "item id must be a non-negative integer, found 'x2'"),
    ('{\n  "1": "Pen",\n  "-2": "Cup"\n}', 3, "-2", "non-negative integer"),
    ('{\n  "1": "Pen",\n  "2": ""\n}', 3, "2", "empty title"),
    ('{\n  "1": "Pen",\n  "2": "   "\n}', 3, "2", "empty title"),
    ('{\n  "1": "Pen",\n  "2": 17\n}', 3, "2", "title must be a string, found int"),
    ('{\n  "1": "Pen",\n  "2": {"t": "x"}\n}', 3, "2", "title must be a string, found object"),
    ('{\n  "1": "Pen",\n  "1": "Cup"\n}', 3, "1", "duplicate item id 1"),
    ("{}", 1, None, "empty catalog"),
]


@pytest.mark.parametrize("content,line,field,fragment", CATALOG_ERRORS)
def test_read_catalog_errors(tmp_path, content, line, field, fragment):
    p = write(tmp_path, "id2name4Rec.json", content)
    with pytest.raises(GDRTInputError) as exc:
        read_catalog(p)
    check_error(exc, p, line, field, fragment)


def test_read_catalog_missing(tmp_path):
    p = tmp_path / "nope.json"
    with pytest.raises(GDRTInputError) as exc:
        read_catalog(p)
    check_error(exc, p, None, None, "file not found")


def test_read_catalog_allow_empty_titles(tmp_path):
    p = write(tmp_path, "c.json", '{"1": "Pen", "2": ""}')
    assert read_catalog(p, allow_empty_titles=True).id2title == {1: "Pen", 2: ""}


# ------------------------------------------------------------------------------------ MSL CSV


def test_read_msl_fixture_rows():
    rows = read_msl(MSL / "train.csv")
    assert rows == [
        Row(1, (1, 2), 3, 1000, 2),
        Row(2, (4,), 5, 1001, 3),
        Row(1, (1, 2, 3), 6, 1002, 4),
        Row(3, (6, 5, 4, 3, 2), 1, 1003, 5),
    ]
    assert rows[3].items == (6, 5, 4, 3, 2, 1)
    with pytest.raises(Exception):
        rows[0].target = 9  # frozen


def test_read_msl_extra_columns_and_multiline_record():
    """Toy's richer format: extra columns ignored; a quoted newline shifts the next row's line."""
    cat = read_catalog(MSL / "id2name4Rec.json")
    rows = read_msl(MSL / "test.csv", cat)
    assert rows == [
        Row(1, (1, 2, 3, 6), 5, 1006, 2),
        Row(2, (4, 5, 6), 1, 1007, 3),
        Row(3, (6,), 1, 1008, 5),
    ]


def test_load_split_and_missing_split():
    cat = load_catalog(MSL)
    assert [r.target for r in load_split(MSL, "valid", cat)] == [6, 6]
    assert len(load_split(MSL, "train.csv")) == 4
    with pytest.raises(GDRTInputError) as exc:
        load_split(MSL, "test_5000")
    check_error(exc, MSL / "test_5000.csv", None, None, "no split 'test_5000'")
    assert str(exc.value).endswith("available: test, train, valid")


def test_load_split_missing_folder(tmp_path):
    with pytest.raises(GDRTInputError) as exc:
        load_split(tmp_path / "Nope", "train")
    check_error(exc, tmp_path / "Nope", None, None, "dataset folder not found")


H = "user_id,item_ids,timestamp\n"
MSL_ERRORS = [
    # content, line, field, fragment
    (b"", None, None, "file is empty (0 bytes)"),
    ("user_id,item_ids\n1,\"[1, 2]\"\n", 1, "timestamp", "missing column 'timestamp'"),
    ("uid,items,ts\n1,\"[1, 2]\",5\n", 1, "user_id", "wrong column names: expected user_id,item_ids,timestamp, found uid,items,ts"),
    ("user_id,item_ids,item_ids,timestamp\n", 1, "item_ids", "duplicate column 'item_ids'"),
    (H + '1,"[1, 2]",5\n7,"[1, x]",6\n', 3, "item_ids", "malformed list literal: '[1, x]'"),
    (H + '1,"[1, 2.5]",5\n', 2, "item_ids", "non-integer item id 2.5"),
    (H + '1,"[1, \'2\']",5\n', 2, "item_ids", "non-integer item id '2'"),
    (H + '1,"[1, 2",5\n', 2, "item_ids", "malformed list literal"),
    (H + '1,"{1: 2}",5\n', 2, "item_ids", "expected a list of item ids"),
    (H + '1,"[1, -2]",5\n', 2, "item_ids", "negative item id -2"),
    (H + '1,"[1, 2]",5\n2,[3],6\n', 3, "item_ids", "empty history (one id: the target alone)"),
    (H + "1,[],5\n", 2, "item_ids", "empty list"),
    (H + '1,"[1, 2]",12.5\n', 2, "timestamp", "not an integer timestamp: '12.5'"),
    (H + '1,"[1, 2]",\n', 2, "timestamp", "not an integer timestamp: ''"),
    (H + 'abc,"[1, 2]",5\n', 2, "user_id", "user id must be a non-negative integer, found 'abc'"),
    (H + '1,"[1, 2]"\n', 2, "timestamp", "expected 3 fields (user_id,item_ids,timestamp), found 2"),
    (H + '1,"[1, 2]",5,9\n', 2, None, "expected 3 fields"),
    (H + '1,"[1, 2]",5\n\n2,"[1, 2]",6\n', 3, None, "blank line"),
    (H.encode() + b'1,"[1, 2]",5\n2,"[1, \xff2]",6\n', 3, "item_ids", "invalid UTF-8 byte 0xff at column 8"),
    (H + '1,"[1, 2]",5\n2,"[1, 2,6\n', 3, "item_ids", "truncated CSV: unterminated quoted field"),
    (H + '1,"[1, 2]"x,5\n', 2, "item_ids", "malformed CSV record"),
]


@pytest.mark.parametrize("content,line,field,fragment", MSL_ERRORS)
def test_read_msl_errors(tmp_path, content, line, field, fragment):
    p = write(tmp_path, "train.csv", content)
    with pytest.raises(GDRTInputError) as exc:
        read_msl(p)
    check_error(exc, p, line, field, fragment)


def test_read_msl_missing_file(tmp_path):
    with pytest.raises(GDRTInputError) as exc:
        read_msl(tmp_path / "train.csv")
    check_error(exc, tmp_path / "train.csv", None, None, "file not found")


def test_read_msl_id_not_in_catalog(tmp_path):
    cat = read_catalog(MSL / "id2name4Rec.json")
    p = write(tmp_path, "valid.csv", H + '1,"[1, 2]",5\n2,"[1, 99, 3]",6\n')
    with pytest.raises(GDRTInputError) as exc:
        read_msl(p, cat)
    check_error(exc, p, 3, "item_ids", "item id 99 not in id2name4Rec.json")
    assert len(read_msl(p)) == 2  # without a catalog the ids are not checked


def test_read_msl_bom_and_crlf(tmp_path):
    p = write(tmp_path, "t.csv", "\ufeffuser_id,item_ids,timestamp\r\n5,\"[1, 2]\",7\r\n6,\"[3, 4, 5]\",8\r\n")
    assert read_msl(p) == [Row(5, (1,), 2, 7, 2), Row(6, (3, 4), 5, 8, 3)]


# ------------------------------------------------------------------------------------ D3


def test_read_d3_info_fixture():
    cat = read_d3_info(D3 / "info.txt")
    assert cat.id2title == {0: "Alpha Pen", 1: "Beta Paper, 500 Sheets", 2: "Gamma\tStapler", 3: "Alpha Pen"}


def test_read_d3_fixture_with_and_without_info():
    rows, cat = read_d3(D3 / "test.csv", D3 / "info.txt")
    assert rows == [
        Row("AUSER1", (0, 1), 2, 1500172800, 2),
        Row("AUSER2", (2,), 3, 1500259200, 3),
        Row("AUSER1", (0, 1, 2), 0, 1500345600, 4),
    ]
    assert len(cat) == 4
    rows2, cat2 = read_d3(D3 / "test.csv")
    assert rows2 == rows
    assert cat2.id2title == {0: "Alpha Pen", 1: "Beta Paper, 500 Sheets", 2: "Gamma\tStapler", 3: "Alpha Pen"}
    assert cat2.source == str(D3 / "test.csv")


D3_HEADER = (FIX / "d3" / "test.csv").read_text(encoding="utf-8").split("\n", 1)[0] + "\n"


@pytest.mark.parametrize(
    "row,info,line,field,fragment",
    [
        ('U,[],A,"[0, 9]",1,"[\'Alpha Pen\', \'X\']",Beta,[],1,[],5\n', True, 2, "history_item_id", "item id 9 not in info.txt"),
        ('U,[],A,"[0]",1,"[\'Alpha Pen\']",Beta,[],1,[],5\n', True, 2, "item_title", "differs from info.txt"),
        ('U,[],A,"[0]",1,"[\'Alpha\']",Beta,[],1,[],5\n', False, None, None, None),
        ('U,[],A,[],1,[],X,[],1,[],5\n', False, 2, "history_item_id", "empty history"),
        ('U,[],A,"[0, 1]",1,"[\'A\']",X,[],1,[],5\n', False, 2, "history_item_title", "1 titles for 2 history ids"),
        ('U,[],A,[0],x,[\'A\'],X,[],1,[],5\n', False, 2, "item_id", "item id must be a non-negative integer"),
        ('U,[],A,[0],1,[\'A\'],X,[],1,[],5.5\n', False, 2, "timestamp", "not an integer timestamp"),
        ('U,[],A,[0],1,[\'A\'],X,[],1,[],5\nV,[],A,[0],2,[\'B\'],Y,[],1,[],6\n', False, 3, "history_item_title", "has title 'B' here but 'A'"),
    ],
)
def test_read_d3_errors(tmp_path, row, info, line, field, fragment):
    p = write(tmp_path, "d3.csv", D3_HEADER + row)
    if fragment is None:  # a valid row
        rows, cat = read_d3(p)
        assert rows == [Row("U", (0,), 1, 5, 2)] and cat.id2title == {0: "Alpha", 1: "Beta"}
        return
    with pytest.raises(GDRTInputError) as exc:
        read_d3(p, D3 / "info.txt" if info else None)
    check_error(exc, p, line, field, fragment)


def test_read_d3_missing_column(tmp_path):
    p = write(tmp_path, "d3.csv", "user_id,item_asins\nU,[]\n")
    with pytest.raises(GDRTInputError) as exc:
        read_d3(p)
    check_error(exc, p, 1, "item_asin", "missing column 'item_asin'")


@pytest.mark.parametrize(
    "content,line,field,fragment",
    [
        ("Pen\t0\nCup\n", 2, None, "no tab"),
        ("Pen\t0\nCup\tx\n", 2, "id", "non-negative integer"),
        ("Pen\t0\nCup\t0\n", 2, "id", "duplicate item id 0"),
        ("Pen\t0\n\t1\n", 2, "title", "empty title"),
        ("Pen\t0\n\nCup\t1\n", 2, None, "blank line"),
    ],
)
def test_read_d3_info_errors(tmp_path, content, line, field, fragment):
    p = write(tmp_path, "info.txt", content)
    with pytest.raises(GDRTInputError) as exc:
        read_d3_info(p)
    check_error(exc, p, line, field, fragment)


def test_read_d3_real_office():
    base = needs_real("d3_format") / "Office_Products"
    if not base.is_dir():
        pytest.skip("d3_format/Office_Products not present")
    info = next((base / "info").glob("*.txt"))
    expect = {"valid": (4866, 1795, 2864), "test": (4866, 2024, 3060)}
    for split, (n_rows, n_users, n_items) in expect.items():
        rows, cat = read_d3(next((base / split).glob("*.csv")), info)
        assert len(rows) == n_rows and len(cat) == 3459
        assert len({r.user_id for r in rows}) == n_users
        assert len({i for r in rows for i in r.items}) == n_items
        assert all(1 <= len(r.history) <= 10 for r in rows)
    assert rows[0].user_id == "A12YN0X0CRN1AV" and rows[0].target == 882 and rows[0].timestamp == 1522627200


# ------------------------------------------------------------------------------------ real MSL data

OFFICE = {  # file: rows, users, items (PROVENANCE.md)
    "train": (15400, 3718, 2351),
    "train_10000": (10000, 2847, 2346),
    "train_100000": (15400, 3718, 2351),
    "valid": (1925, 1277, 1890),
    "valid_5000": (1925, 1277, 1890),
    "valid_500": (500, 431, 1163),
    "test": (1925, 1092, 1768),
    "test_5000": (1925, 1092, 1768),
    "test_500": (500, 378, 1092),
}
GAME = {
    "train_10000": (10000, 6186, 13988),
    "valid": (14939, 8917, 12685),
    "valid_5000": (5000, None, None),
    "valid_500": (500, None, None),
    "test": (14940, 10301, 13327),
    "test_5000": (5000, None, None),
    "test_500": (500, None, None),
}


@pytest.mark.parametrize("name,expected,n_ids", [("Office", OFFICE, 2414), ("Game", GAME, 17256)])
def test_read_real_msl_sets(name, expected, n_ids):
    d = needs_real(name)
    cat = load_catalog(d)
    assert len(cat) == n_ids and min(cat.id2title) == 1 and max(cat.id2title) == n_ids
    assert sorted(expected) == sorted(p.stem for p in d.glob("*.csv"))
    for split, (n_rows, n_users, n_items) in expected.items():
        rows = load_split(d, split, cat)
        assert len(rows) == n_rows, split
        if n_users is not None:
            assert len({r.user_id for r in rows}) == n_users, split
            assert len({i for r in rows for i in r.items}) == n_items, split
        assert all(1 <= len(r.history) <= 10 for r in rows)
        assert [r.line for r in rows[:3]] == [2, 3, 4]


def test_read_office_train_first_row():
    d = needs_real("Office")
    cat = load_catalog(d)
    rows = load_split(d, "train", cat)
    assert rows[0] == Row(18, (209, 171, 172, 173, 174, 208, 3, 134), 169, 1070582400, 2)


def test_read_real_book_catalog_has_one_empty_title():
    d = needs_real("Book")
    with pytest.raises(GDRTInputError) as exc:
        load_catalog(d)
    check_error(exc, d / "id2name4Rec.json", 5747, "5746", "empty title")
    cat = load_catalog(d, allow_empty_titles=True)
    assert len(cat) == 6344 and cat.id2title[5746] == ""


# ------------------------------------------------------------------------------------ locate


def test_data_root_env(tmp_path, monkeypatch):
    (tmp_path / "Office").mkdir()
    (tmp_path / "Office" / "id2name4Rec.json").write_text('{"1": "x"}')
    monkeypatch.setenv("GDRT_DATA", str(tmp_path))
    assert locate.data_root() == tmp_path
    assert locate.dataset_dir("office") == tmp_path / "Office"
    assert locate.dataset_dir(get_preset("Office")) == tmp_path / "Office"
    assert locate.dataset_dir("game") is None  # not there
    (tmp_path / "Custom").mkdir()
    (tmp_path / "Custom" / "train.csv").write_text(H)
    assert locate.dataset_dir("Custom") == tmp_path / "Custom"


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_data_root_env_not_a_directory(tmp_path, monkeypatch, kind):
    target = tmp_path / "nowhere"
    if kind == "file":
        target.write_text("x")
    monkeypatch.setenv("GDRT_DATA", str(target))
    with pytest.raises(GDRTInputError) as exc:
        locate.data_root()
    check_error(exc, target, None, "GDRT_DATA", "$GDRT_DATA is set but is not a directory")


def test_data_root_repo_fallback(tmp_path, monkeypatch):
    monkeypatch.delenv("GDRT_DATA", raising=False)
    monkeypatch.setattr(locate, "repo_data_dir", lambda: tmp_path)
    (tmp_path / "README.md").write_text("x")
    (tmp_path / "Empty").mkdir()
    assert locate.data_root() is None and locate.dataset_dir("office") is None
    (tmp_path / "Game").mkdir()
    (tmp_path / "Game" / "valid.csv").write_text(H)
    assert locate.data_root() == tmp_path
    assert locate.dataset_dir("game") == tmp_path / "Game"
    assert locate.dataset_dir("office") is None


def test_repo_data_dir_is_the_repository_data_folder():
    assert locate.repo_data_dir() == Path(__file__).resolve().parents[1] / "data"
    assert (locate.repo_data_dir() / "MANIFEST.tsv").is_file()
