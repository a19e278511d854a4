"""D3/BIGRec format (Amazon 2018): an 11-column CSV and an ``info/*.txt`` catalog.

Columns (docs/design.md §2): ``user_id,item_asins,item_asin,history_item_id,item_id,
history_item_title,item_title,history_rating,rating,history_timestamp,timestamp``. The history is
``history_item_id`` (at most 10 ids, oldest first), the target ``item_id``; ids start at 0. The
info file has one ``title<TAB>id`` line per item. Same error discipline as :mod:`gdrt.data.msl`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..errors import GDRTInputError
from .catalog import Catalog
from ..io import decode_text
from .msl import Row, Rows, _check_digits, _check_title, _csv_records, _INT_RE, _parse_id_list, _read_bytes, _rows_with_report, _short

__all__ = ["D3_COLUMNS", "read_d3", "read_d3_info"]

D3_COLUMNS = (
    "user_id",
    "item_asins",
    "item_asin",
    "history_item_id",
    "item_id",
    "history_item_title",
    "item_title",
    "history_rating",
    "rating",
    "history_timestamp",
    "timestamp",
)


def read_d3_info(path) -> Catalog:
    """Catalog from an ``info/*.txt`` file: one ``title<TAB>id`` line per item (the last tab splits)."""
    path = Path(path)
    text = decode_text(path, _read_bytes(path))
    id2title: dict[int, str] = {}
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            raise GDRTInputError(path, "blank line (expected 'title<TAB>id')", line=n)
        if "\t" not in line:
            raise GDRTInputError(path, "no tab: expected 'title<TAB>id'", line=n)
        title, key = line.rsplit("\t", 1)
        if not _INT_RE.match(key) or key.startswith("-"):
            raise GDRTInputError(path, f"item id must be a non-negative integer, found {_short(key)}", line=n, field="id")
        _check_digits(path, key, n, "id")
        item_id = int(key)
        if not title.strip():
            raise GDRTInputError(path, "empty title", line=n, field="title")
        if item_id in id2title:
            raise GDRTInputError(path, f"duplicate item id {item_id}", line=n, field="id")
        id2title[item_id] = title
    if not id2title:
        raise GDRTInputError(path, "no items", line=1)
    return Catalog(id2title, source=str(path))


def _parse_title_list(path, value: str, line: int) -> list[str]:
    try:
        obj = ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise GDRTInputError(path, f"malformed list literal: {_short(value)}", line=line, field="history_item_title") from None
    if not isinstance(obj, (list, tuple)) or not all(isinstance(t, str) for t in obj):
        raise GDRTInputError(path, f"expected a list of titles, got {_short(value)}", line=line, field="history_item_title")
    for t in obj:
        _check_title(path, t, line, "history_item_title")
    return list(obj)


def read_d3(csv_path, info_path=None) -> tuple[Rows, Catalog]:
    """Read a D3/BIGRec CSV; returns its rows (``user_id`` is the reviewer string) and a catalog.

    The rows carry a ``report`` (:class:`gdrt.data.msl.ReadReport`) counting duplicated rows, rows
    out of time order and histories longer than 10, all kept. A file with no row is an error.

    With ``info_path`` the catalog is that file, every id must be in it and the CSV's titles must
    agree with it. Without it the catalog is built from the titles in the CSV (an id with two
    different titles is an error).
    """
    csv_path = Path(csv_path)
    text = decode_text(csv_path, _read_bytes(csv_path), csv_like=True)
    info = read_d3_info(info_path) if info_path is not None else None
    id2title: dict[int, str] = dict(info.id2title) if info is not None else {}
    info_name = Path(info_path).name if info_path is not None else ""
    rows: list[Row] = []
    idx = None
    for line, header, rec in _csv_records(csv_path, text, D3_COLUMNS):
        if idx is None:
            idx = {c: header.index(c) for c in D3_COLUMNS}
        user = rec[idx["user_id"]]
        if not user.strip():
            raise GDRTInputError(csv_path, "empty user id", line=line, field="user_id")
        history = _parse_id_list(csv_path, rec[idx["history_item_id"]], line, "history_item_id")
        if not history:
            raise GDRTInputError(csv_path, "empty history", line=line, field="history_item_id")
        target_s = rec[idx["item_id"]]
        if not _INT_RE.match(target_s) or target_s.startswith("-"):
            raise GDRTInputError(csv_path, f"item id must be a non-negative integer, found {_short(target_s)}", line=line, field="item_id")
        _check_digits(csv_path, target_s, line, "item_id")
        target = int(target_s)
        ts = rec[idx["timestamp"]]
        if not _INT_RE.match(ts):
            raise GDRTInputError(csv_path, f"not an integer timestamp: {_short(ts)}", line=line, field="timestamp")
        _check_digits(csv_path, ts, line, "timestamp")
        titles = _parse_title_list(csv_path, rec[idx["history_item_title"]], line)
        if len(titles) != len(history):
            raise GDRTInputError(
                csv_path,
                f"{len(titles)} titles for {len(history)} history ids",
                line=line,
                field="history_item_title",
            )
        pairs = [(i, t, "history_item_title") for i, t in zip(history, titles)]
        pairs.append((target, rec[idx["item_title"]], "item_title"))
        for item_id, title, field in pairs:
            id_field = "history_item_id" if field == "history_item_title" else "item_id"
            known = id2title.get(item_id)
            if info is not None:
                if known is None:
                    raise GDRTInputError(csv_path, f"item id {item_id} not in {info_name}", line=line, field=id_field)
                if known != title:
                    raise GDRTInputError(
                        csv_path,
                        f"title of item {item_id} {_short(title)} differs from {info_name}: {_short(known)}",
                        line=line,
                        field=field,
                    )
            elif known is None:
                if not title.strip():
                    raise GDRTInputError(csv_path, f"empty title for item {item_id}", line=line, field=field)
                id2title[item_id] = title
            elif known != title:
                raise GDRTInputError(
                    csv_path,
                    f"item {item_id} has title {_short(title)} here but {_short(known)} on an earlier line",
                    line=line,
                    field=field,
                )
        rows.append(Row(user, tuple(history), target, int(ts), line))
    if not rows:
        raise GDRTInputError(csv_path, "no rows: the file has only a header line", line=1)
    catalog = info if info is not None else Catalog(id2title, source=str(csv_path))
    return _rows_with_report(csv_path, rows), catalog
