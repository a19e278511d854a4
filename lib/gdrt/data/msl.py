"""MSL-format readers: ``id2name4Rec.json`` and ``user_id,item_ids,timestamp`` CSV splits.

The format is described in docs/design.md §2 and explained in chapter 2. Every problem with a file
raises :class:`gdrt.errors.GDRTInputError`, whose message is one line naming the file, the line and
the field; no row is ever dropped silently. What is kept but deserves a look (duplicated rows, rows out
of time order, histories longer than 10 items) is counted in the ``report`` of the returned rows
(:class:`ReadReport`) and logged in one line.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import GDRTInputError
from ..io import JSONPairs, decode_text, key_line, parse_json
from .catalog import Catalog

__all__ = [
    "Row",
    "Rows",
    "ReadReport",
    "MSL_COLUMNS",
    "read_catalog",
    "read_msl",
    "load_split",
    "load_catalog",
    "available_splits",
]

MSL_COLUMNS = ("user_id", "item_ids", "timestamp")
CATALOG_FILE = "id2name4Rec.json"

_INT_RE = re.compile(r"-?[0-9]+\Z")
_ID_RE = re.compile(r"[0-9]+\Z")
_KEY_RE = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_LONG_INT_RE = re.compile(r"[0-9]{19}")
MAX_DIGITS = 18  # ids and timestamps: more digits is a corrupt file (and int() refuses > 4300 digits)
LONG_HISTORY = 10  # docs/design.md §2: at most 10 history items; prompts keep the last max_history

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Row:
    """One window: the user's history (oldest first) and the next item, with the target's time.

    ``line`` is the 1-based line of the source file where the row starts (the header is line 1);
    0 for rows that were built in memory (see :mod:`gdrt.data.windows`).
    """

    user_id: int | str
    history: tuple[int, ...]
    target: int
    timestamp: int
    line: int = 0

    @property
    def items(self) -> tuple[int, ...]:
        """History followed by the target, as in the CSV's ``item_ids``."""
        return self.history + (self.target,)


@dataclass(frozen=True, slots=True)
class ReadReport:
    """What a reader kept as is but counted (no row is dropped or reordered).

    ``n_duplicate_rows``: rows equal (user, items, timestamp) to an earlier row of the file (the
    paper's Game ``test.csv`` has 95; they are kept, as the paper keeps them). ``n_time_inversions``:
    rows whose timestamp is earlier than the row before (normal in the ``*_N`` samples, which are in
    random order; rows are used in file order). ``n_long_history``: rows with more than 10 history
    items (docs/design.md §2 allows 10): kept whole, the prompt uses the last ``max_history`` of them.
    """

    path: str
    n_rows: int
    n_duplicate_rows: int = 0
    n_time_inversions: int = 0
    n_long_history: int = 0
    longest_history: int = 0

    @classmethod
    def of(cls, path, rows) -> "ReadReport":
        seen: set = set()
        dup = inv = long = longest = 0
        prev_ts = None
        for r in rows:
            key = (r.user_id, r.history, r.target, r.timestamp)
            if key in seen:
                dup += 1
            else:
                seen.add(key)
            if prev_ts is not None and r.timestamp < prev_ts:
                inv += 1
            prev_ts = r.timestamp
            n = len(r.history)
            long += n > LONG_HISTORY
            longest = max(longest, n)
        return cls(str(path), len(rows), dup, inv, long, longest)

    def notes(self) -> list[str]:
        out = []
        if self.n_duplicate_rows:
            out.append(f"{self.n_duplicate_rows} duplicated rows (kept)")
        if self.n_time_inversions:
            out.append(f"{self.n_time_inversions} rows earlier than the row before (kept in file order)")
        if self.n_long_history:
            out.append(
                f"{self.n_long_history} rows with more than {LONG_HISTORY} history items (longest "
                f"{self.longest_history}; kept, prompts use the last max_history)"
            )
        return out

    def summary(self) -> str:
        """One line: ``FILE: N rows; ...notes``."""
        return f"{self.path}: {self.n_rows} rows" + "".join("; " + n for n in self.notes())

    def log(self) -> None:
        if self.notes():
            (log.warning if self.n_long_history else log.info)("%s", self.summary())


class Rows(list):
    """The rows of a file (a plain list of :class:`Row`) with its :class:`ReadReport` as ``report``."""

    report: ReadReport

    def __init__(self, rows, report: ReadReport):
        super().__init__(rows)
        self.report = report


def _rows_with_report(path, rows: list) -> Rows:
    report = ReadReport.of(path, rows)
    report.log()
    return Rows(rows, report)


# --------------------------------------------------------------------------------------------------
# shared helpers (also used by d3.py and amazon.py)


def _read_bytes(path) -> bytes:
    path = Path(path)
    if not path.exists():
        raise GDRTInputError(path, "file not found")
    if path.is_dir():
        raise GDRTInputError(path, "is a directory, expected a file")
    data = path.read_bytes()
    if not data:
        raise GDRTInputError(path, "file is empty (0 bytes)")
    return data


def _parse_int(path, value: str, line: int, field: str, what: str = "integer") -> int:
    if not _INT_RE.match(value):
        raise GDRTInputError(path, f"not an {what}: {value!r}", line=line, field=field)
    _check_digits(path, value, line, field)
    return int(value)


def _check_digits(path, value: str, line, field) -> None:
    """Refuse integers of more than :data:`MAX_DIGITS` digits (a corrupt file, not an id or a time)."""
    if _LONG_INT_RE.search(value):
        raise GDRTInputError(path, f"integer too large (more than {MAX_DIGITS} digits): {_short(value)}", line=line, field=field)


def _parse_id_list(path, value: str, line: int, field: str) -> list[int]:
    """A list literal of non-negative ints (JSON first for speed, then a Python literal)."""
    _check_digits(path, value, line, field)
    try:
        obj = json.loads(value)
    except RecursionError:
        raise GDRTInputError(path, f"list literal nested too deeply: {_short(value)}", line=line, field=field) from None
    except ValueError:
        try:
            obj = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise GDRTInputError(path, f"malformed list literal: {_short(value)}", line=line, field=field) from None
    if not isinstance(obj, (list, tuple)):
        raise GDRTInputError(path, f"expected a list of item ids, got {_short(value)}", line=line, field=field)
    for x in obj:
        if type(x) is not int:
            raise GDRTInputError(path, f"non-integer item id {x!r} in {_short(value)}", line=line, field=field)
        if x < 0:
            raise GDRTInputError(path, f"negative item id {x} in {_short(value)}", line=line, field=field)
    return list(obj)


def _short(value: str, n: int = 60) -> str:
    value = value.replace("\n", "\\n").replace("\r", "\\r")
    return repr(value if len(value) <= n else value[:n] + "...")


def _csv_records(path, text: str, required: tuple[str, ...]):
    """Yield ``(line, header, record)`` for a CSV text; checks header and field counts.

    ``line`` is the 1-based line where the record starts. Raises on a bad header, a blank line, a
    wrong number of fields and a malformed or truncated (unterminated quote) record.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as e:
        raise GDRTInputError(path, f"malformed CSV header: {e}", line=1) from None
    except StopIteration:
        raise GDRTInputError(path, "no header line", line=1) from None
    if not header or header == [""]:
        raise GDRTInputError(path, "empty header line; expected columns " + ",".join(required), line=1)
    seen = set()
    for name in header:
        if name in seen:
            raise GDRTInputError(path, f"duplicate column '{name}' in header", line=1, field=name)
        seen.add(name)
    missing = [c for c in required if c not in seen]
    if missing:
        if len(missing) == len(required) or not (set(required) & seen):
            msg = f"wrong column names: expected {','.join(required)}, found {','.join(header)}"
        else:
            msg = f"missing column '{missing[0]}' (expected {','.join(required)}, found {','.join(header)})"
        raise GDRTInputError(path, msg, line=1, field=missing[0])
    ncol = len(header)
    prev = reader.line_num
    while True:
        start = prev + 1
        try:
            rec = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            field = _field_at_error(text, start, header)
            msg = str(e)
            if "unexpected end of data" in msg or "EOF" in msg:
                msg = "truncated CSV: unterminated quoted field runs to the end of the file"
            else:
                msg = f"malformed CSV record: {msg}"
            raise GDRTInputError(path, msg, line=start, field=field) from None
        prev = reader.line_num
        if not rec:
            raise GDRTInputError(path, "blank line (every line must be a record)", line=start)
        if len(rec) != ncol:
            field = header[len(rec)] if len(rec) < ncol else None
            raise GDRTInputError(
                path, f"expected {ncol} fields ({','.join(header)}), found {len(rec)}", line=start, field=field
            )
        yield start, header, rec


def _field_at_error(text: str, start: int, header: list[str]) -> str | None:
    """Name of the column being parsed when the record starting on line ``start`` went wrong."""
    pos = 0
    for _ in range(start - 1):
        pos = text.find("\n", pos) + 1
        if pos == 0:
            return None
    rest = text[pos:]

    def strict_error(k: int) -> bool:  # does parsing the first k characters fail before their end?
        try:
            for _ in csv.reader(io.StringIO(rest[:k], newline=""), strict=True):
                pass
        except csv.Error as e:
            return "unexpected end of data" not in str(e)
        return False

    end = len(rest)
    if strict_error(end):  # a bad character inside the record: find where (failure is monotone in k)
        lo, hi = 0, end
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if strict_error(mid):
                hi = mid
            else:
                lo = mid
        end = lo
    try:
        fields = next(csv.reader(io.StringIO(rest[:end], newline=""), strict=False))
    except (StopIteration, csv.Error):
        return header[0] if header else None
    idx = len(fields) - 1
    return header[idx] if 0 <= idx < len(header) else None


# --------------------------------------------------------------------------------------------------
# catalog


def read_catalog(path, allow_empty_titles: bool = False) -> Catalog:
    """Read ``id2name4Rec.json`` (a JSON object: string integer id -> non-empty title).

    An empty (or blank) title is an error unless ``allow_empty_titles``: the paper's Book catalog
    has one (id 5746, used by 43 rows), kept as is by the paper.
    """
    path = Path(path)
    text = decode_text(path, _read_bytes(path))
    obj = parse_json(path, text)
    if not isinstance(obj, JSONPairs):
        raise GDRTInputError(path, f"expected a JSON object mapping item id -> title, found {_json_kind(obj)}", line=1)
    if not obj:
        raise GDRTInputError(path, "empty catalog (no items)", line=1)
    id2title: dict[int, str] = {}
    for key, title in obj:
        if not _KEY_RE.match(key):
            msg = (
                f"item id has a leading zero: {key!r} (write ids as plain integers)"
                if _ID_RE.match(key)
                else f"item id must be a non-negative integer, found {_short(key)}"
            )
            raise GDRTInputError(path, msg, line=key_line(text, key), field=key)
        try:  # the key's line is looked up only for an error (a scan of the text per key is quadratic)
            _check_digits(path, key, None, key)
            if isinstance(title, str):
                _check_title(path, title, None, key)
        except GDRTInputError:
            _check_digits(path, key, key_line(text, key), key)
            _check_title(path, title, key_line(text, key), key)
            raise
        item_id = int(key)
        if item_id in id2title:
            raise GDRTInputError(path, f"duplicate item id {key}", line=key_line(text, key, 2), field=key)
        if not isinstance(title, str):
            kind = "object" if isinstance(title, JSONPairs) else _json_kind(title).split()[-1]
            raise GDRTInputError(path, f"title must be a string, found {kind}", line=key_line(text, key), field=key)
        if not allow_empty_titles and not title.strip():
            raise GDRTInputError(
                path, "empty title (pass allow_empty_titles=True to keep it)", line=key_line(text, key), field=key
            )
        id2title[item_id] = title
    return Catalog(id2title, source=str(path))


def _json_kind(obj) -> str:
    """A JSON value's kind in words ("a list", "a string", "null", ...)."""
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    if isinstance(obj, int):
        return "an int"
    if isinstance(obj, float):
        return "a float"
    if isinstance(obj, str):
        return "a string"
    if isinstance(obj, list):
        return "a list"
    return "an object" if isinstance(obj, JSONPairs) else type(obj).__name__


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _check_title(path, title: str, line, field) -> None:
    """A title must be encodable text: a JSON/Python escape can smuggle in a lone surrogate."""
    m = _SURROGATE_RE.search(title)
    if m:
        raise GDRTInputError(
            path, f"title holds a lone surrogate \\u{ord(m.group()):04x} (not valid Unicode text)", line=line, field=field
        )


# --------------------------------------------------------------------------------------------------
# MSL CSV


def read_msl(path, catalog: Catalog | None = None) -> Rows:
    """Read one MSL-format split (``user_id,item_ids,timestamp``; extra columns are ignored).

    The last id of ``item_ids`` is the target, the others (at least one) the history. With a
    ``catalog`` every id must be in it. A file with no row after its header is an error. The rows
    come back as a list with a ``report`` (:class:`ReadReport`: duplicated rows, rows out of time
    order and histories longer than 10, all kept and counted).
    """
    path = Path(path)
    text = decode_text(path, _read_bytes(path), csv_like=True)
    id2title = catalog.id2title if catalog is not None else None
    cat_name = Path(catalog.source).name if catalog is not None and catalog.source else "the catalog"
    rows: list[Row] = []
    append = rows.append
    idx_u = idx_i = idx_t = None
    for line, header, rec in _csv_records(path, text, MSL_COLUMNS):
        if idx_u is None:
            idx_u, idx_i, idx_t = (header.index(c) for c in MSL_COLUMNS)
        u = rec[idx_u]
        if not _ID_RE.match(u):
            raise GDRTInputError(path, f"user id must be a non-negative integer, found {_short(u)}", line=line, field="user_id")
        _check_digits(path, u, line, "user_id")
        ids = _parse_id_list(path, rec[idx_i], line, "item_ids")
        if len(ids) < 2:
            what = "empty list" if not ids else "empty history (one id: the target alone)"
            raise GDRTInputError(path, f"{what}; need at least 2 ids (history + target)", line=line, field="item_ids")
        if id2title is not None:
            for x in ids:
                if x not in id2title:
                    raise GDRTInputError(path, f"item id {x} not in {cat_name}", line=line, field="item_ids")
        ts = rec[idx_t]
        if not _INT_RE.match(ts):
            raise GDRTInputError(path, f"not an integer timestamp: {_short(ts)}", line=line, field="timestamp")
        _check_digits(path, ts, line, "timestamp")
        append(Row(int(u), tuple(ids[:-1]), ids[-1], int(ts), line))
    if not rows:
        raise GDRTInputError(path, "no rows: the file has only a header line", line=1)
    return _rows_with_report(path, rows)


def available_splits(data_dir) -> list[str]:
    """Names of the CSV splits in a dataset folder (``train``, ``train_10000``, ``valid``, ...)."""
    return sorted(p.stem for p in Path(data_dir).glob("*.csv"))


def load_catalog(data_dir, allow_empty_titles: bool = False) -> Catalog:
    """``<data_dir>/id2name4Rec.json`` (see :func:`read_catalog`)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise GDRTInputError(data_dir, "dataset folder not found")
    return read_catalog(data_dir / CATALOG_FILE, allow_empty_titles=allow_empty_titles)


def load_split(data_dir, split: str, catalog: Catalog | None = None) -> Rows:
    """Read ``<data_dir>/<split>.csv`` (``split`` like ``"train_10000"``, ``"valid"``, ``"test_500"``)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise GDRTInputError(data_dir, "dataset folder not found")
    name = split[:-4] if split.endswith(".csv") else split
    path = data_dir / f"{name}.csv"
    if not path.is_file():
        avail = available_splits(data_dir)
        raise GDRTInputError(
            path, f"no split '{name}' in {data_dir}; available: {', '.join(avail) if avail else '(none)'}"
        )
    return read_msl(path, catalog)
