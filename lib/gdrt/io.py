"""Atomic writes (every result file is written to a temporary name in the same folder and renamed),
and the strict reading shared by every input reader: UTF-8 text whose bad byte is reported with its
line, and JSON whose errors name the file and line, a key given twice included."""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import GDRTInputError


@contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it over ``path`` (atomic on POSIX)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def write_json(path, obj, indent: int | None = 2) -> Path:
    return write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl(path, rows) -> Path:
    return write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ------------------------------------------------------------------------------------ strict reading
def decode_text(path, data: bytes, csv_like: bool = False) -> str:
    """UTF-8 text of ``data`` (a leading BOM is dropped); an invalid byte raises a
    :class:`GDRTInputError` with its line and column, and, for a CSV (``csv_like``), the column's name."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        line_start = data.rfind(b"\n", 0, e.start) + 1
        col = e.start - line_start + 1
        field = None
        if csv_like and line > 1:
            # which CSV field holds the bad byte: parse the line's prefix
            first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r").lstrip("\ufeff")
            prefix = data[line_start : e.start].decode("utf-8", errors="replace")
            try:
                hdr = next(csv.reader([first]), [])
                fields = next(csv.reader([prefix], strict=False), [""])
            except csv.Error:  # a stray carriage return: the column cannot be told
                hdr, fields = [], [""]
            idx = max(len(fields) - 1, 0)
            field = hdr[idx] if idx < len(hdr) else None
        raise GDRTInputError(
            path, f"invalid UTF-8 byte 0x{data[e.start]:02x} at column {col}", line=line, field=field
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


class JSONPairs(list):
    """A JSON object as its list of ``(key, value)`` pairs: a key given twice stays visible (``json``
    would keep the last value silently)."""


def parse_json(path, text: str):
    """``json.loads(text)`` with every object as :class:`JSONPairs`; a syntax error or a nesting too
    deep for the parser raises a one-line :class:`GDRTInputError` naming ``path`` and the line."""
    try:
        return json.loads(text, object_pairs_hook=JSONPairs)
    except json.JSONDecodeError as e:
        raise GDRTInputError(path, f"invalid JSON: {e.msg} (column {e.colno})", line=e.lineno) from None
    except RecursionError:
        raise GDRTInputError(path, "invalid JSON: nested too deeply") from None


def key_line(text: str, key: str, nth: int = 1) -> int | None:
    """1-based line of the ``nth`` ``"key":`` in a JSON text (None when not found). A scan of the
    text: look lines up for errors, not for every key (that would be quadratic)."""
    ms = re.finditer(r'"' + re.escape(key) + r'"\s*:', text)
    for i, m in enumerate(ms, start=1):
        if i == nth:
            return text.count("\n", 0, m.start()) + 1
    return None
