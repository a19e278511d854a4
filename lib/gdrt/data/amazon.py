"""Prepare MSL-format splits from raw Amazon reviews and metadata (docs/design.md §2).

Recipe (PROVENANCE.md, "Preprocessing", after the MSL family's generator):

1. read the reviews (``reviewerID``, ``asin``, ``unixReviewTime``; 2014 and 2018 files, ``.json``
   or ``.json.gz``, one JSON object a line) and the metadata (2018: JSON lines; 2014: Python-literal
   lines); keep asins whose ``title`` is longer than one character (a ``" VHS"`` / ``" [VHS]"``
   suffix is stripped, then surrounding blanks);
2. iterative 5-core on users and items;
3. number users and items from 1 in order of first appearance in the review file;
4. per user, sort by time (stable) and cut sliding windows of at most 11 items (the last is the
   target) with the target's timestamp; stable-sort all windows by that timestamp;
5. split 80/10/10 by position, write ``train/valid/test.csv`` and their pandas samples, and
   ``id2name4Rec.json`` / ``id2name.json``.

Differences from the reference generator, on purpose: ``overall`` is not needed (the reference
drops a review without it; the 5-core files always have it); a title that is blank after cleaning
counts as no title (the reference would keep an empty title); Book's item subsampling ("retain
100,000 items") is not part of the recipe. The 2023 release's field names are not read.

Malformed input is an error (:class:`gdrt.errors.GDRTInputError`, one line naming file, line and
field), never a silent drop. What is dropped on purpose (items without a usable title, rows removed
by the 5-core) is counted in a report written next to the output (``prepare_report.json``).

``python -m gdrt.data.amazon --reviews R --meta M --out DIR [--valid-from-train]``.
Explained in chapter 2, "From raw reviews to windows".
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from ..errors import GDRTInputError
from ..io import write_json
from .msl import _short
from .windows import (
    MAX_HISTORY,
    SAMPLE_SIZES,
    VALID_FRACTION,
    carve_valid,
    make_windows,
    split_windows,
    write_catalog_files,
    write_splits,
)

__all__ = [
    "Review",
    "clean_title",
    "read_reviews",
    "read_meta_titles",
    "k_core",
    "number_reviews",
    "prepare_amazon",
    "carve_valid",
    "REPORT_FILE",
    "main",
]

REPORT_FILE = "prepare_report.json"


class Review(NamedTuple):
    user: str
    asin: str
    time: int
    line: int


def _progress(iterable, progress: bool, desc: str, total=None):
    if not progress:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="lines" if total is None else "it", leave=False)


def _open_lines(path):
    """An iterator of ``(line_number, raw_bytes)`` of a text file, gzip-compressed or not (sniffed).
    A missing, empty or directory path raises here, before any line is read."""
    path = Path(path)
    if not path.exists():
        raise GDRTInputError(path, "file not found")
    if path.is_dir():
        raise GDRTInputError(path, "is a directory, expected a file")
    if path.stat().st_size == 0:
        raise GDRTInputError(path, "file is empty (0 bytes)")
    with open(path, "rb") as f:
        magic = f.read(2)
    return _iter_lines(path, gzip.open if magic == b"\x1f\x8b" else open)


def _iter_lines(path, opener):
    n = 0
    try:
        with opener(path, "rb") as f:
            for n, raw in enumerate(f, start=1):
                yield n, raw
    except (OSError, EOFError) as e:  # corrupt or truncated gzip
        raise GDRTInputError(path, f"cannot read compressed data: {e}", line=n + 1 if n else None) from None


def _parse_object(path, raw: bytes, n: int, python_ok: bool) -> dict | None:
    """One JSON (or Python-literal) object per line; ``None`` for a blank line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GDRTInputError(path, f"invalid UTF-8 byte 0x{raw[e.start]:02x} at column {e.start + 1}", line=n) from None
    text = text.strip()
    if n == 1 and text.startswith("\ufeff"):
        text = text[1:]
    if not text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
        if python_ok:
            try:
                obj = ast.literal_eval(text)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                obj = None
        if obj is None:
            kind = "JSON or Python-literal object" if python_ok else "JSON object"
            raise GDRTInputError(path, f"malformed line, expected one {kind}: {_short(text)}", line=n) from None
    if not isinstance(obj, dict):
        raise GDRTInputError(path, f"expected an object, found {type(obj).__name__}", line=n)
    return obj


def read_reviews(path, progress: bool = False) -> tuple[list[Review], dict]:
    """Reviews in file order and a count of the lines read (``review_lines``, ``blank_lines``)."""
    reviews: list[Review] = []
    blank = 0
    lines = 0
    for n, raw in _progress(_open_lines(path), progress, "reviews"):
        lines = n
        obj = _parse_object(path, raw, n, python_ok=True)
        if obj is None:
            blank += 1
            continue
        for field in ("reviewerID", "asin"):
            v = obj.get(field)
            if field not in obj:
                raise GDRTInputError(path, "missing field", line=n, field=field)
            if not isinstance(v, str) or not v.strip():
                raise GDRTInputError(path, f"expected a non-empty string, found {v!r}", line=n, field=field)
        t = obj.get("unixReviewTime")
        if "unixReviewTime" not in obj:
            raise GDRTInputError(path, "missing field", line=n, field="unixReviewTime")
        if isinstance(t, str) and t.strip().isdigit():
            t = int(t)
        if type(t) is not int:
            raise GDRTInputError(path, f"expected an integer Unix time, found {t!r}", line=n, field="unixReviewTime")
        reviews.append(Review(obj["reviewerID"], obj["asin"], t, n))
    return reviews, {"review_lines": lines, "review_blank_lines": blank, "reviews": len(reviews)}


def clean_title(title) -> str | None:
    """The reference's title rule: a string longer than one character, minus a ``" VHS"`` or
    ``" [VHS]"`` suffix, stripped. ``None`` when unusable (not a string, too short, or blank after
    cleaning)."""
    if not isinstance(title, str) or len(title) <= 1:
        return None
    if title.endswith(" VHS"):
        title = title[:-4]
    elif title.endswith(" [VHS]"):
        title = title[:-6]
    title = title.strip()
    return title or None


def read_meta_titles(path, progress: bool = False) -> tuple[dict[str, str], dict]:
    """asin -> cleaned title from a metadata file, and counts.

    A later line with a usable title for the same asin overrides an earlier one; a later line
    without one leaves it (as the reference does). Counts: ``meta_lines``, ``meta_asins``,
    ``meta_asins_with_title``, ``meta_asins_no_title`` (no usable title on any line).
    """
    titles: dict[str, str] = {}
    asins: set[str] = set()
    blank = 0
    lines = 0
    reasons: Counter = Counter()
    last_reason: dict[str, str] = {}
    for n, raw in _progress(_open_lines(path), progress, "metadata"):
        lines = n
        obj = _parse_object(path, raw, n, python_ok=True)
        if obj is None:
            blank += 1
            continue
        asin = obj.get("asin")
        if "asin" not in obj:
            raise GDRTInputError(path, "missing field", line=n, field="asin")
        if not isinstance(asin, str) or not asin.strip():
            raise GDRTInputError(path, f"expected a non-empty string, found {asin!r}", line=n, field="asin")
        asins.add(asin)
        raw_title = obj.get("title")
        title = clean_title(raw_title)
        if title is not None:
            titles[asin] = title
        else:
            if "title" not in obj:
                last_reason[asin] = "no_title_field"
            elif not isinstance(raw_title, str) or len(raw_title) <= 1:
                last_reason[asin] = "title_too_short"
            else:
                last_reason[asin] = "title_blank_after_cleaning"
    for asin, why in last_reason.items():
        if asin not in titles:
            reasons[why] += 1
    stats = {
        "meta_lines": lines,
        "meta_blank_lines": blank,
        "meta_asins": len(asins),
        "meta_asins_with_title": len(titles),
        "meta_asins_no_title": len(asins) - len(titles),
        "meta_asins_no_title_by_reason": dict(sorted(reasons.items())),
    }
    return titles, stats


def k_core(reviews: list[Review], k: int = 5) -> tuple[list[Review], dict]:
    """Iterative k-core on users and items (each round drops users and items with fewer than ``k``
    reviews, both counted on the same state, until none is left). Order is kept."""
    users0 = {r.user for r in reviews}
    items0 = {r.asin for r in reviews}
    rounds = 0
    cur = reviews
    while True:
        uc = Counter(r.user for r in cur)
        ic = Counter(r.asin for r in cur)
        low_u = {u for u, c in uc.items() if c < k}
        low_i = {i for i, c in ic.items() if c < k}
        if not low_u and not low_i:
            break
        rounds += 1
        cur = [r for r in cur if r.user not in low_u and r.asin not in low_i]
    stats = {
        "k": k,
        "rounds": rounds,
        "reviews_dropped": len(reviews) - len(cur),
        "users_dropped": len(users0) - len({r.user for r in cur}),
        "items_dropped": len(items0) - len({r.asin for r in cur}),
    }
    return cur, stats


def number_reviews(reviews: list[Review]) -> tuple[dict[str, int], dict[str, int]]:
    """user -> id and asin -> id, both from 1 in order of first appearance."""
    user2id: dict[str, int] = {}
    item2id: dict[str, int] = {}
    for r in reviews:
        if r.user not in user2id:
            user2id[r.user] = len(user2id) + 1
        if r.asin not in item2id:
            item2id[r.asin] = len(item2id) + 1
    return user2id, item2id


def prepare_amazon(
    reviews_path,
    meta_path,
    out_dir,
    *,
    valid_from_train: bool = False,
    valid_fraction: float = VALID_FRACTION,
    k: int = 5,
    max_len: int = MAX_HISTORY,
    sample_sizes=SAMPLE_SIZES,
    progress: bool = True,
) -> dict:
    """Run the whole recipe; write the splits, the catalogs and ``prepare_report.json`` into
    ``out_dir``; return the report (a dict).

    ``valid_from_train``: as for Clothing and Book, which ship no valid split, the valid split is the
    last ``valid_fraction`` of the 80% train by time (:func:`carve_valid`), and the reference's own
    10% valid windows are not written (counted as ``windows_unused``). Test is unchanged.
    """
    out_dir = Path(out_dir)
    reviews, r_stats = read_reviews(reviews_path, progress)
    titles, m_stats = read_meta_titles(meta_path, progress)
    kept = [r for r in reviews if r.asin in titles]
    no_title_asins = {r.asin for r in reviews if r.asin not in titles}
    title_stats = {
        "reviews_dropped_no_title": len(reviews) - len(kept),
        "items_dropped_no_title": len(no_title_asins),
    }
    core, k_stats = k_core(kept, k)
    if not core:
        raise GDRTInputError(reviews_path, f"no review is left after the title filter and the {k}-core")
    user2id, item2id = number_reviews(core)
    sequences: dict[int, list[tuple[int, int]]] = {}
    for r in core:
        sequences.setdefault(user2id[r.user], []).append((item2id[r.asin], r.time))
    windows = make_windows(sequences, max_len)
    train, valid, test = split_windows(windows)
    unused = 0
    if valid_from_train:
        unused = len(valid)
        train, valid = carve_valid(train, valid_fraction)
    id2title = {i: titles[a] for a, i in item2id.items()}
    write_catalog_files(out_dir, id2title)
    files = write_splits(out_dir, {"train": train, "valid": valid, "test": test}, sample_sizes)
    distinct = len(set(id2title.values()))
    shared = Counter(id2title.values())
    report = {
        "reviews_path": str(reviews_path),
        "meta_path": str(meta_path),
        **r_stats,
        **m_stats,
        **title_stats,
        "k_core": k_stats,
        "users": len(user2id),
        "items": len(item2id),
        "interactions": len(core),
        "windows": len(windows),
        "max_history": max_len,
        "valid_from_train": valid_from_train,
        "valid_fraction": valid_fraction if valid_from_train else None,
        "windows_unused": unused,
        "splits": {"train": len(train), "valid": len(valid), "test": len(test)},
        "files": files,
        "distinct_titles": distinct,
        "items_sharing_a_title": sum(c for c in shared.values() if c > 1),
    }
    write_json(out_dir / REPORT_FILE, report)
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m gdrt.data.amazon",
        description="Prepare MSL-format splits from raw Amazon reviews + metadata (docs/design.md §2).",
    )
    ap.add_argument("--reviews", required=True, help="reviews file (.json or .json.gz, one object a line)")
    ap.add_argument("--meta", required=True, help="metadata file (2018 JSON lines or 2014 Python-literal lines)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--valid-from-train", action="store_true", help="carve valid from the end of train")
    ap.add_argument("--valid-fraction", type=float, default=VALID_FRACTION)
    ap.add_argument("--k", type=int, default=5, help="k of the iterative k-core (default 5)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        report = prepare_amazon(
            args.reviews,
            args.meta,
            args.out,
            valid_from_train=args.valid_from_train,
            valid_fraction=args.valid_fraction,
            k=args.k,
            progress=not args.no_progress,
        )
    except GDRTInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    s = report["splits"]
    print(
        f"{report['users']} users, {report['items']} items, {report['interactions']} interactions, "
        f"{report['windows']} windows -> train {s['train']}, valid {s['valid']}, test {s['test']} in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
