"""Hostile inputs: every case of ``tests/hostile/CASES.md`` through the public entry points.

Each case either fails with a :class:`GDRTInputError` whose message is one line naming the file, the
line (where one exists) and the field, or is read with its oddities counted in the rows' ``report``
and logged (duplicated rows, histories longer than 10, rows out of time order): never a traceback,
never a silent drop. The manifest is the single source of the expectations; see its header.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from gdrt.data import get_preset, load_catalog, load_split, read_d3, response_text
from gdrt.errors import GDRTInputError
from gdrt.training.config import TrainConfig

HOSTILE = Path(__file__).parent / "hostile"
MANIFEST = HOSTILE / "CASES.md"


@dataclass(frozen=True)
class Case:
    path: str        # relative to tests/hostile
    file: str        # the file the error names, relative to the case ("." = the case; "(word)" = not a file)
    entry: str       # split | catalog | d3 | config | grouping
    wrong: str
    line: int | None
    field: str | None
    kind: str        # error | handled | ok
    fragment: str    # for errors
    values: dict     # for handled / ok
    cli: str         # yes | exit 1 | no

    @property
    def dir(self) -> Path:
        return HOSTILE / self.path

    def where(self) -> str:
        """What the message must start with: the file, as the entry point was given it."""
        if self.file.startswith("("):
            return self.file.strip("()")
        return str(self.dir if self.file == "." else self.dir / self.file)

    def head(self, with_line: bool = True) -> str:
        h = self.where() + (f":{self.line}" if with_line and self.line is not None else "") + ": "
        return h + (f"field '{self.field}': " if self.field else "")


def _values(text: str) -> dict:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        k, v = part.split("=")
        out[k.strip()] = json.loads(v)
    return out


def parse_manifest() -> list[Case]:
    cases = []
    for raw in MANIFEST.read_text(encoding="utf-8").splitlines():
        if not raw.startswith("| `"):
            continue
        cells = [c.strip() for c in raw.strip().strip("|").split("|")]
        assert len(cells) == 8, raw
        path, file, entry, wrong, line, field, expected, cli = cells
        kind, _, rest = expected.partition(":")
        rest = rest.strip()
        cases.append(Case(
            path.strip("`"), file.strip("`"), entry, wrong, None if line == "-" else int(line),
            None if field == "-" else field, kind, rest.strip("`") if kind == "error" else "",
            _values(rest) if kind != "error" else {}, cli,
        ))
    return cases


CASES = parse_manifest()
IDS = [c.path for c in CASES]


def check_one_line(msg: str, case: Case, with_line: bool = True) -> None:
    assert len(msg.splitlines()) == 1, msg
    assert "Traceback" not in msg
    assert msg.startswith(case.head(with_line)), (msg, case.head(with_line))
    assert case.fragment in msg, (msg, case.fragment)


# ------------------------------------------------------------------------------------ the corpus


def test_corpus_has_at_least_30_cases_of_every_entry():
    assert len(CASES) >= 30
    assert len(set(IDS)) == len(IDS), "a case is listed twice"
    assert {c.entry for c in CASES} == {"split", "catalog", "d3", "config", "grouping"}
    assert {c.kind for c in CASES} == {"error", "handled", "ok"}
    assert {c.cli for c in CASES} <= {"yes", "exit 1", "no"}


def test_every_file_in_the_corpus_is_a_listed_case():
    listed = {HOSTILE / c.path for c in CASES}
    for c in CASES:
        assert (HOSTILE / c.path).exists(), c.path
    stray = [p for p in HOSTILE.rglob("*") if p.is_file() and p != MANIFEST
             and p not in listed and not any(parent in listed for parent in p.parents)]
    assert not stray, f"files not covered by CASES.md: {stray}"
    # case folders hold only what their entry point reads
    for c in CASES:
        if c.dir.is_dir():
            allowed = {"split": {"id2name4Rec.json", "test.csv"}, "catalog": {"id2name4Rec.json", "test.csv"},
                       "d3": {"data.csv", "info.txt"}}[c.entry]
            assert {p.name for p in c.dir.iterdir()} <= allowed, c.path


# ------------------------------------------------------------------------------------ readers


def run_entry(case: Case):
    if case.entry == "split":
        catalog = load_catalog(case.dir)
        return load_split(case.dir, "test", catalog)
    if case.entry == "catalog":
        return load_catalog(case.dir)
    if case.entry == "d3":
        info = case.dir / "info.txt"
        rows, _ = read_d3(case.dir / "data.csv", info if info.exists() else None)
        return rows
    if case.entry == "config":
        return TrainConfig.from_json(case.dir)
    if case.entry == "grouping":
        from gdrt.objectives.relevance import Grouping

        spec = json.loads(case.dir.read_text(encoding="utf-8"))
        values = [math.nan if v is None else v for v in spec["values"]]
        return Grouping.fit(values, spec["n_groups"], spec["method"])
    raise AssertionError(case.entry)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_through_its_reader(case, caplog):
    caplog.set_level(logging.INFO, logger="gdrt")
    if case.kind == "error":
        with pytest.raises(GDRTInputError) as exc:
            run_entry(case)
        check_one_line(str(exc.value), case)
        assert exc.value.line == case.line and exc.value.field == case.field
        return
    result = run_entry(case)  # any exception fails the test
    if case.entry in ("split", "d3"):
        report = result.report
        assert report.n_rows == len(result)
        assert report.path == str(case.dir / ("test.csv" if case.entry == "split" else "data.csv"))
        for k, v in case.values.items():
            assert getattr(report, k) == v, (k, report)
        counted = {k: v for k, v in case.values.items() if k != "n_rows" and v}
        if case.kind == "handled":
            assert counted, "a handled case must count something"
            assert report.summary() in caplog.text  # the counts are logged, in one line
            assert "\n" not in report.summary()
        else:
            assert not report.notes()
    elif case.entry == "catalog":
        assert len(result) == case.values["n_items"]
    else:
        for k, v in case.values.items():
            assert getattr(result, k) == v


@pytest.mark.parametrize("case", [c for c in CASES if c.entry == "config" and c.kind == "error"],
                         ids=lambda c: c.path)
def test_config_case_through_from_dict(case):
    """The same check on the parsed object (where the JSON parses): the message names the source and
    field (from_dict has no text, so no line)."""
    try:
        obj = json.loads(case.dir.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        pytest.skip("the file is not JSON: only from_json can see it")
    if "given twice" in case.fragment:  # json.loads keeps the last value silently: from_json's job
        assert isinstance(TrainConfig.from_dict(obj, source=str(case.dir)), TrainConfig)
        return
    with pytest.raises(GDRTInputError) as exc:
        TrainConfig.from_dict(obj, source=str(case.dir))
    check_one_line(str(exc.value), case, with_line=case.line == 1)


# ------------------------------------------------------------------------------------ the CLI


def cli(argv, capsys) -> tuple[int, list[str]]:
    from gdrt.cli import main

    capsys.readouterr()
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return rc, [line for line in err.splitlines() if line.strip()]


CLI_CASES = [pytest.param(c, id=c.path) for c in CASES if c.cli != "no"]


@pytest.mark.parametrize("case", CLI_CASES)
def test_case_through_the_cli(case, tmp_path, capsys):
    if case.entry == "config":
        rc, lines = cli(["train", "--config", case.dir, "--runs-root", tmp_path / "runs"], capsys)
        prefix = "gdrt train: error: "
    else:
        rc, lines = cli(["evaluate", "--model", "no-such-model", "--data-dir", case.dir, "--dataset", "office",
                         "--split", "test", "--output-dir", tmp_path / "out"], capsys)
        prefix = "gdrt evaluate: error: "
    assert rc == 1
    errors = [line for line in lines if line.startswith(prefix)]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    msg = errors[0][len(prefix):]
    if case.kind == "ok":  # past the config's checks: it stops at the (absent) data folder
        assert "dataset folder not found" in msg, msg
    elif case.cli == "exit 1":
        assert msg.startswith(case.where()), msg
    else:
        check_one_line(msg, case)


# ------------------------------------------------------------------------------------ what reaches the prompt

UNICODE_TITLES = {
    1: 'Say "Hello", World',
    2: "It's a \"quoted\" 'title', with commas",
    3: "Line one\nLine two",
    4: "Emoji 😀 family 👩‍👩‍👧 pack",
    5: "RTL: עברית ו-العربية",
    6: "Tab\tand\r\nCRLF",
    7: "Backslash \\ {braces} %s ${HOME}",
    8: "  padded  ",
    9: "Zero\u200bwidth\u200fmark e\u0301",
    10: "漢字テスト [1, 2]",
    11: '"',
    12: "Alpha Pen",
}


def test_unicode_titles_reach_the_prompt_byte_for_byte():
    from gdrt.training.examples import row_prompt

    d = HOSTILE / "msl" / "unicode_titles"
    catalog = load_catalog(d)
    assert catalog.id2title == UNICODE_TITLES
    assert catalog.title2ids["Alpha Pen"] == (12,)
    preset = get_preset("office")
    rows = load_split(d, "test", catalog)
    assert [r.items for r in rows] == [(1, 2, 3, 4, 5, 6), (7, 8, 9, 10, 11, 12)]
    for row in rows:
        prompt = row_prompt(row, catalog, preset, 10)
        titles = [UNICODE_TITLES[i] for i in row.history]
        listed = ", ".join(f'"{t}"' for t in titles)
        assert f"before: {listed}\n\n### Response:\n" in prompt
        assert prompt.endswith("### Response:\n")
        assert response_text(UNICODE_TITLES[row.target]) == '"' + UNICODE_TITLES[row.target] + '"'
        assert prompt.encode("utf-8").decode("utf-8") == prompt


def test_a_500_item_history_is_kept_whole_and_cut_at_prompt_time(caplog):
    from gdrt.training.examples import history_titles, row_prompt

    caplog.set_level(logging.INFO, logger="gdrt")
    d = HOSTILE / "msl" / "history_500"
    catalog = load_catalog(d)
    rows = load_split(d, "test", catalog)
    long = rows[1]
    assert len(long.history) == 500  # nothing dropped at read time
    assert rows.report.n_long_history == 1 and rows.report.longest_history == 500
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "1 rows with more than 10 history items (longest 500" in warned[0].getMessage()
    assert history_titles(long, catalog, 10) == [catalog.title(i) for i in long.history[-10:]]
    prompt = row_prompt(long, catalog, get_preset("office"), 10)
    listed = ", ".join(f'"{catalog.title(i)}"' for i in long.history[-10:])
    assert f"before: {listed}\n" in prompt


def test_duplicated_rows_are_kept_and_counted(caplog):
    caplog.set_level(logging.INFO, logger="gdrt")
    d = HOSTILE / "msl" / "duplicated_rows"
    rows = load_split(d, "test", load_catalog(d))
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    assert rows[0].items == rows[2].items and rows.report.n_duplicate_rows == 2
    assert re.search(r"test\.csv: 5 rows; 2 duplicated rows \(kept\)", caplog.text)


def test_the_report_survives_as_a_plain_list():
    d = HOSTILE / "msl" / "timestamp_out_of_order"
    rows = load_split(d, "test")
    assert rows == list(rows) and isinstance(rows, list)
    assert [r.timestamp for r in rows] == [1005, 1001, 1007]  # file order, not re-sorted
    assert rows.report.n_time_inversions == 1
    assert "1 rows earlier than the row before (kept in file order)" in rows.report.summary()
