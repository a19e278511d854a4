"""Sliding windows, the 80/10/10 split, the samples and the MSL writers (docs/design.md §2).

Shared by :mod:`gdrt.data.amazon` (real reviews) and :mod:`gdrt.data.synthetic`, so both produce
the same kind of files. The recipe follows the MSL family's generator (PROVENANCE.md,
"Preprocessing"); rebuilding Office's users from its train+valid+test and windowing them again
with :func:`make_windows` reproduces those three files row for row (checked in the tests).
Explained in chapter 2, "Sliding windows".
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..io import write_text
from .msl import MSL_COLUMNS, Row

__all__ = [
    "MAX_HISTORY",
    "SAMPLE_SIZES",
    "VALID_FRACTION",
    "user_windows",
    "make_windows",
    "split_bounds",
    "split_windows",
    "carve_valid",
    "sample_rows",
    "format_msl",
    "write_msl",
    "write_splits",
    "catalog_files",
    "write_catalog_files",
]

MAX_HISTORY = 10
# Files written next to each full split (as the reference generator does): name suffix -> sample size.
SAMPLE_SIZES: dict[str, tuple[int, ...]] = {"train": (10000, 100000), "valid": (5000, 500), "test": (5000, 500)}
VALID_FRACTION = 0.11


def user_windows(items: Sequence[int], max_len: int = MAX_HISTORY) -> list[tuple[int, int]]:
    """``(start, end)`` slices of one user's time-sorted items: ``items[max(i-max_len,0) : i+1]``
    for ``i in range(min(max_len, n-1), n)``. A user with ``n <= max_len+1`` items gives one window
    of all of them; a longer one gives ``n - max_len`` windows."""
    n = len(items)
    return [(max(i - max_len, 0), i + 1) for i in range(min(max_len, n - 1), n)]


def make_windows(sequences: Mapping, max_len: int = MAX_HISTORY) -> list[Row]:
    """All windows of all users, in a stable sort by the target's timestamp.

    ``sequences`` maps user id -> sequence of ``(item_id, timestamp)`` in the order the
    interactions were read; users are visited in the mapping's order (the numbering order for real
    data). Each user's interactions are sorted by time (stable: ties keep their order). Every user
    needs at least 2 interactions (one history item and the target).
    """
    windows: list[Row] = []
    for user, seq in sequences.items():
        if len(seq) < 2:
            raise ValueError(f"user {user!r} has {len(seq)} interaction(s); a window needs at least 2")
        ordered = sorted(seq, key=lambda x: x[1])
        items = [int(i) for i, _ in ordered]
        times = [int(t) for _, t in ordered]
        for start, end in user_windows(items, max_len):
            windows.append(Row(user, tuple(items[start : end - 1]), items[end - 1], times[end - 1]))
    windows.sort(key=lambda r: r.timestamp)
    return windows


def split_bounds(n: int, valid_start: float = 0.8, test_start: float = 0.9) -> tuple[int, int, int, int]:
    """``(train_end, valid_end, test_start, test_end)`` positions, rounded exactly as the reference
    generator does: ``int(n * 0.8)``, ``int(n * (0.8 + 0.1))``, ``int(n * 0.9)``, ``int(n * (0.9 + 0.1))``
    (truncation; Office: 19250 windows -> 15400 / 1925 / 1925)."""
    return (int(n * valid_start), int(n * (valid_start + 0.1)), int(n * test_start), int(n * (test_start + 0.1)))


def split_windows(rows: Sequence[Row], valid_start: float = 0.8, test_start: float = 0.9):
    """Split time-sorted windows by position into ``(train, valid, test)`` (80/10/10)."""
    a, b, c, d = split_bounds(len(rows), valid_start, test_start)
    return list(rows[:a]), list(rows[a:b]), list(rows[c:d])


def carve_valid(rows: Sequence[Row], fraction: float = VALID_FRACTION) -> tuple[list[Row], list[Row]]:
    """Split off the last ``fraction`` of ``rows`` by time as a validation set: ``(train, valid)``.

    For sets that ship no valid split (Clothing, Book). Rows are stable-sorted by timestamp first
    (a no-op on a full ``train.csv``); the cut is ``int(n * (1 - fraction))``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    ordered = sorted(rows, key=lambda r: r.timestamp)
    cut = int(len(ordered) * (1.0 - fraction))
    return ordered[:cut], ordered[cut:]


def sample_rows(rows: Sequence[Row], n: int, random_state: int = 42) -> list[Row]:
    """``pandas.DataFrame.sample(n, random_state=42)`` of the rows, or all rows, unchanged, when
    there are not more than ``n`` (as the reference: ``train_10000.csv`` of Office is reproduced)."""
    if len(rows) <= n:
        return list(rows)
    import pandas as pd

    # DataFrame.sample draws positions from the frame's length alone, so an empty frame of the same
    # length gives the same rows as sampling the data frame itself.
    picked = pd.DataFrame(index=pd.RangeIndex(len(rows))).sample(n=n, random_state=random_state).index
    return [rows[i] for i in picked]


def format_msl(rows: Iterable[Row]) -> str:
    """CSV text in the MSL format, byte-identical to the reference's ``DataFrame.to_csv(index=False)``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(MSL_COLUMNS)
    for r in rows:
        w.writerow((r.user_id, "[" + ", ".join(map(str, r.items)) + "]", r.timestamp))
    return buf.getvalue()


def write_msl(path, rows: Iterable[Row]) -> Path:
    """Write rows as an MSL CSV (atomically)."""
    return write_text(path, format_msl(rows))


def write_splits(
    out_dir, splits: Mapping[str, Sequence[Row]], sample_sizes: Mapping[str, Sequence[int]] = SAMPLE_SIZES
) -> dict[str, int]:
    """Write ``<name>.csv`` for each split and its ``<name>_<n>.csv`` samples; returns file -> rows."""
    out_dir = Path(out_dir)
    written: dict[str, int] = {}
    for name, rows in splits.items():
        write_msl(out_dir / f"{name}.csv", rows)
        written[f"{name}.csv"] = len(rows)
        for n in sample_sizes.get(name, ()):
            sample = sample_rows(rows, n)
            write_msl(out_dir / f"{name}_{n}.csv", sample)
            written[f"{name}_{n}.csv"] = len(sample)
    return written


def catalog_files(id2title: Mapping[int, str]) -> dict[str, str]:
    """Text of ``id2name4Rec.json`` (every id) and ``id2name.json`` (first id of each distinct title),
    formatted as the reference writes them (``json.dump(..., indent=4, ensure_ascii=False)``)."""
    rec = {int(k): v for k, v in sorted(id2title.items(), key=lambda kv: int(kv[0]))}
    first: dict[int, str] = {}
    seen: set[str] = set()
    for k, v in rec.items():
        if v not in seen:
            seen.add(v)
            first[k] = v
    return {
        "id2name4Rec.json": json.dumps({str(k): v for k, v in rec.items()}, indent=4, ensure_ascii=False),
        "id2name.json": json.dumps({str(k): v for k, v in first.items()}, indent=4, ensure_ascii=False),
    }


def write_catalog_files(out_dir, id2title: Mapping[int, str]) -> list[Path]:
    """Write ``id2name4Rec.json`` and ``id2name.json`` (atomically)."""
    out_dir = Path(out_dir)
    return [write_text(out_dir / name, text) for name, text in catalog_files(id2title).items()]
