"""Complete a dataset folder that ships no valid split (Book, Clothing) or no train split (Toy).

The public copies lack pieces (PROVENANCE.md, "Gaps and what to do about them"). The chapters and
training read ``train_10000``, ``valid_500`` / ``valid_5000`` and ``test_500`` / ``test_5000``, so
:func:`complete_dataset` writes a *derived* folder into the cache (the data root stays read-only):
``<cache>/data/derived/<Name>-<key>``. ``key`` hashes the rules' version, the
source folder and the names, sizes and sha256 of its files, so a changed source gets a new folder.
The folder is built in a temporary directory and renamed into place (atomic), and every file in it
is a deterministic function of the source (deriving twice gives byte-identical files).

Rules (each recorded in the folder's ``DERIVED.json``, with the row counts):

* **valid** -- a folder with a full ``train.csv`` and no valid split: ``valid.csv`` is the last
  :data:`~gdrt.data.windows.VALID_FRACTION` (11%) of ``train.csv`` by target time
  (:func:`~gdrt.data.windows.carve_valid`), and ``train.csv`` the rows before it. No valid target is
  earlier than a train target; rows sharing the cut's day are split by position, as the reference's
  own 80/10/10 split does (counted in ``carve.rows_at_cut_timestamp``).
* **samples** -- ``train_10000`` (and any other ``train_N`` the source ships), ``valid_5000``,
  ``valid_500`` and, unless shipped, ``test_500`` are ``DataFrame.sample(n, random_state=42)`` of the
  derived (carved) split (:func:`~gdrt.data.windows.sample_rows`), the rule that reproduces every
  shipped sample. The shipped ``train_10000.csv`` is *not* kept: it samples the whole ``train.csv``,
  so about 11% of its rows are now valid rows.
* **empty titles** -- the catalog is copied unchanged (Book keeps item 5746, title ``""``). A row
  whose *target* has an empty title is excluded from every file this module writes (a recommender
  cannot write an empty title, and the decoding trie offers none), and counted. A history item with
  an empty title is kept: the prompt shows ``""``. The shipped test files are copied unchanged;
  their rows with an empty target are counted (0 in Book).
* **copies** -- the test files and ``*.json`` files the source ships are copied byte for byte.
* **no train** (Toy) -- evaluation only: the folder gets ``test_500`` and copies, and asking for a
  train or valid split raises a one-line :class:`~gdrt.errors.GDRTInputError`
  (:func:`load_split`).

A folder that already has a valid split (Office, Game) is complete and is returned unchanged.
Explained in chapter 2, "Completing Book and Clothing". ``python -m gdrt.data.derive DIR`` prints
the folder to use as a config's ``data_dir``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from ..errors import GDRTInputError
from . import msl as _msl
from .msl import CATALOG_FILE, Row, read_catalog, read_msl
from .windows import SAMPLE_SIZES, VALID_FRACTION, carve_valid, format_msl, sample_rows

__all__ = [
    "DERIVED_FILE",
    "DERIVE_FORMAT",
    "SAMPLE_SEED",
    "dataset_state",
    "derived_dir",
    "complete_dataset",
    "is_derived",
    "derivation",
    "source_dir",
    "dataset_name",
    "describe",
    "missing_split_error",
    "load_catalog",
    "load_split",
    "counts_table",
    "summary_rows",
    "summary_text",
]

DERIVED_FILE = "DERIVED.json"
DERIVE_FORMAT = 1   # bump when a change to the rules changes the derived files
SAMPLE_SEED = 42
PROVENANCE_GAPS = "PROVENANCE.md, 'Gaps and what to do about them'"
# The samples written next to each derived split (test_5000 is shipped by every dataset).
TRAIN_SAMPLES = (10000,)
VALID_SAMPLES = tuple(SAMPLE_SIZES["valid"])
TEST_SAMPLES = tuple(SAMPLE_SIZES["test"])


# ----------------------------------------------------------------------------- what a folder holds
def _stems(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.csv") if p.is_file())


def _of(stems, split: str) -> list[str]:
    return [s for s in stems if s == split or (s.startswith(split + "_") and s[len(split) + 1:].isdigit())]


def dataset_state(src_dir) -> str:
    """What :func:`complete_dataset` does with a folder: ``"complete"`` (has a valid split: returned
    unchanged), ``"carve"`` (a full ``train.csv`` and no valid split), ``"eval_only"`` (no train
    file at all: Toy) or ``"derived"`` (already a derived folder)."""
    src = Path(src_dir)
    if is_derived(src):
        return "derived"
    stems = _stems(src)
    if _of(stems, "valid"):
        return "complete"
    if "train" in stems:
        return "carve"
    if not _of(stems, "train"):
        return "eval_only"
    raise GDRTInputError(src, "has train samples (" + ", ".join(_of(stems, "train")) + ") but neither train.csv "
                         "nor a valid split: a valid split cannot be carved by time from a random sample")


def _source_files(src: Path) -> list[Path]:
    return sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith("."))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fingerprint(src: Path) -> dict:
    return {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in _source_files(src)}


def _key(src: Path, files: dict) -> str:
    blob = json.dumps({"format": DERIVE_FORMAT, "fraction": VALID_FRACTION, "seed": SAMPLE_SEED,
                       "source": str(src), "files": files}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def _default_root() -> Path:
    from ..models.loading import cache_root

    return cache_root() / "data" / "derived"


def derived_dir(src_dir, out_root=None) -> Path:
    """Where :func:`complete_dataset` puts the derived folder of ``src_dir`` (whether or not it exists)."""
    src = Path(src_dir).resolve()
    root = Path(out_root) if out_root is not None else _default_root()
    return root / f"{src.name}-{_key(src, _fingerprint(src))}"


# ----------------------------------------------------------------------------- derivation
def _empty_ids(catalog) -> list[int]:
    return sorted(i for i, t in catalog.id2title.items() if not t.strip())


def _drop_empty_targets(rows: list[Row], empty: set[int]) -> tuple[list[Row], int]:
    kept = [r for r in rows if r.target not in empty]
    return kept, len(rows) - len(kept)


def _history_with_empty(rows, empty: set[int]) -> int:
    return sum(1 for r in rows if any(i in empty for i in r.history))


def _build(src: Path, tmp: Path, state: str, files: dict) -> dict:
    """Write the derived files of ``src`` into ``tmp``; returns the DERIVED.json record."""
    catalog = read_catalog(src / CATALOG_FILE, allow_empty_titles=True)
    empty_ids = _empty_ids(catalog)
    empty = set(empty_ids)
    stems = _stems(src)
    written: dict[str, str] = {}          # file -> how it was made
    rows_out: dict[str, int] = {}
    excluded: dict[str, int] = {}         # rows with an empty target left out of a written file
    history_kept: dict[str, int] = {}     # rows kept although their history holds an empty title
    not_copied: dict[str, str] = {}
    shipped_empty_target: dict[str, int] = {}

    def write(name: str, rows: list[Row], how: str):
        (tmp / name).write_text(format_msl(rows), encoding="utf-8")
        written[name] = how
        rows_out[name] = len(rows)
        history_kept[name] = _history_with_empty(rows, empty)

    carved = {}
    if state == "carve":
        shipped_train = read_msl(src / "train.csv", catalog)
        train_all, valid_all = carve_valid(shipped_train, VALID_FRACTION)
        train, excluded["train.csv"] = _drop_empty_targets(train_all, empty)
        valid, excluded["valid.csv"] = _drop_empty_targets(valid_all, empty)
        carved = {"shipped_train_rows": len(shipped_train), "cut": len(train_all),
                  "train_rows_before_exclusion": len(train_all), "valid_rows_before_exclusion": len(valid_all),
                  "valid_from_timestamp": valid_all[0].timestamp if valid_all else None,
                  "train_to_timestamp": train_all[-1].timestamp if train_all else None}
        if train_all and valid_all and train_all[-1].timestamp == valid_all[0].timestamp:
            # ties at the cut are split by position, as the reference's 80/10/10 split does
            t = valid_all[0].timestamp
            carved["rows_at_cut_timestamp"] = {"train": sum(1 for r in train_all if r.timestamp == t),
                                               "valid": sum(1 for r in valid_all if r.timestamp == t)}
        write("train.csv", train, f"train.csv minus its last {VALID_FRACTION:.0%} by target time "
              f"(rows 1..{len(train_all)} of the stable time sort), rows with an empty target title excluded")
        write("valid.csv", valid, f"the last {VALID_FRACTION:.0%} of train.csv by target time "
              f"(rows {len(train_all) + 1}..{len(shipped_train)}), rows with an empty target title excluded")
        train_sizes = sorted(set(TRAIN_SAMPLES) | {int(s.split("_")[1]) for s in _of(stems, "train") if s != "train"})
        for n in train_sizes:
            write(f"train_{n}.csv", sample_rows(train, n, SAMPLE_SEED),
                  f"sample_rows(derived train.csv, {n}, random_state={SAMPLE_SEED})")
            if f"train_{n}" in stems:
                not_copied[f"train_{n}.csv"] = ("replaced by a sample of the derived train.csv: the shipped one "
                                                "samples the whole train.csv, valid rows included")
        not_copied["train.csv"] = "replaced by the derived train.csv (the carved valid rows taken out)"
        for n in VALID_SAMPLES:
            write(f"valid_{n}.csv", sample_rows(valid, n, SAMPLE_SEED),
                  f"sample_rows(derived valid.csv, {n}, random_state={SAMPLE_SEED})")

    # test: shipped files copied unchanged; missing samples drawn from test.csv
    for s in _of(stems, "test"):
        rows = read_msl(src / f"{s}.csv", catalog)
        shipped_empty_target[f"{s}.csv"] = sum(1 for r in rows if r.target in empty)
    if "test" in stems:
        test_rows = None
        for n in TEST_SAMPLES:
            if f"test_{n}" in stems:
                continue
            if test_rows is None:
                test_rows, n_ex = _drop_empty_targets(read_msl(src / "test.csv", catalog), empty)
            excluded[f"test_{n}.csv"] = n_ex  # left out of the rows the sample is drawn from
            write(f"test_{n}.csv", sample_rows(test_rows, n, SAMPLE_SEED),
                  f"sample_rows(test.csv, {n}, random_state={SAMPLE_SEED}), rows with an empty target title "
                  "excluded first; written in the 3-column MSL format")

    copied = []
    for p in _source_files(src):
        if p.name in written or p.name in not_copied or p.name == DERIVED_FILE:
            continue
        if p.suffix == ".csv" and p.stem not in _of(stems, "test"):
            not_copied[p.name] = "not a test file"
            continue
        shutil.copyfile(p, tmp / p.name)
        copied.append(p.name)

    name = src.name
    return {
        "format": DERIVE_FORMAT,
        "dataset": name,
        "source": str(src),
        "source_files": files,
        "state": state,
        "evaluation_only": state == "eval_only",
        "rules": {
            "valid": (f"carve_valid: the last {VALID_FRACTION:.0%} of train.csv by target time (stable sort; cut at "
                      f"int(n * {1 - VALID_FRACTION:.2f})); train.csv = the rows before the cut; ties at the cut "
                      "split by position, as the reference's 80/10/10 split does")
            if state == "carve" else "none: no train split shipped (see " + PROVENANCE_GAPS + ")",
            "samples": f"sample_rows(split, n, random_state={SAMPLE_SEED}) = pandas DataFrame.sample, drawn from "
                       "the derived split (so no valid row is in train_10000)",
            "empty_titles": "catalog copied unchanged; rows whose target title is empty are excluded from every "
                            "written file and counted; empty titles in histories are kept (the prompt shows \"\"); "
                            "shipped test files are copied unchanged (their empty targets are counted)",
            "copies": "shipped test files and JSON files copied byte for byte",
        },
        "derived": written,
        "copied": copied,
        "not_copied": not_copied,
        "rows": {k: rows_out[k] for k in sorted(rows_out)},
        "carve": carved,
        "handling": {
            "empty_title_ids": empty_ids,
            "rows_excluded_empty_target": excluded,
            # distinct source rows left out: carved train + valid, and test.csv rows left out of its samples
            "rows_excluded_empty_target_total": excluded.get("train.csv", 0) + excluded.get("valid.csv", 0)
            + max((v for k, v in excluded.items() if k.startswith("test_")), default=0),
            "rows_kept_with_empty_title_in_history": {k: history_kept[k] for k in sorted(history_kept)},
            "shipped_test_rows_with_empty_target": shipped_empty_target,
        },
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _clear_leftovers(final: Path) -> None:
    """Remove temporary folders of a killed derivation of ``final`` (``.NAME.PID.tmp``, PID not running)."""
    for p in final.parent.glob(f".{final.name}.*.tmp"):
        pid = p.name[len(final.name) + 2 : -4]
        if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            shutil.rmtree(p, ignore_errors=True)


def complete_dataset(src_dir, out_root=None) -> Path:
    """The folder to read ``src_dir``'s splits from: ``src_dir`` itself when it is complete (a valid
    split is there) or already derived; else its derived folder (built if absent; see the module
    docstring). ``out_root`` defaults to ``<cache>/data/derived``. Toy-like folders (no train file)
    get an evaluation-only derived folder; nothing is derived (``src_dir`` returned) when it would
    only copy files."""
    src = Path(src_dir)
    if not src.is_dir():
        raise GDRTInputError(src, "dataset folder not found")
    if not (src / CATALOG_FILE).is_file():
        raise GDRTInputError(src / CATALOG_FILE, "file not found (a dataset folder needs its catalog)")
    state = dataset_state(src)
    if state in ("complete", "derived"):
        return src
    stems = _stems(src)
    if state == "eval_only" and ("test" not in stems or all(f"test_{n}" in stems for n in TEST_SAMPLES)):
        return src  # nothing to derive
    src = src.resolve()
    files = _fingerprint(src)
    root = Path(out_root) if out_root is not None else _default_root()
    final = root / f"{src.name}-{_key(src, files)}"
    if (final / DERIVED_FILE).is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(final)
    tmp = root / f".{final.name}.{os.getpid()}.tmp"
    tmp.mkdir()
    try:
        record = _build(src, tmp, state, files)
        (tmp / DERIVED_FILE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / DERIVED_FILE).is_file():  # not another process's finished copy
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


# ----------------------------------------------------------------------------- reading derived folders
def is_derived(data_dir) -> bool:
    """A folder written by :func:`complete_dataset` (holds ``DERIVED.json``)."""
    return (Path(data_dir) / DERIVED_FILE).is_file()


def derivation(data_dir) -> dict | None:
    """The ``DERIVED.json`` record of a derived folder (rules, row counts, handling counts), else ``None``."""
    path = Path(data_dir) / DERIVED_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def source_dir(data_dir) -> Path:
    """The shipped folder a derived folder was made from (the folder itself when not derived)."""
    rec = derivation(data_dir)
    return Path(rec["source"]) if rec else Path(data_dir)


def dataset_name(data_dir) -> str:
    """The shipped folder's name (``Book`` for ``Book-1a2b3c4d5e``)."""
    return source_dir(data_dir).name


def describe(data_dir) -> str:
    """One sentence on what was derived (for a chapter's note); ``""`` for a folder that is not derived."""
    rec = derivation(data_dir)
    if rec is None:
        return ""
    name, rows, h = rec["dataset"], rec["rows"], rec["handling"]
    where = f"this run reads the derived folder `{Path(data_dir).name}` (see its DERIVED.json)"
    if rec["evaluation_only"]:
        text = (f"{name} ships no train split (see {PROVENANCE_GAPS}): it is usable for evaluation only; "
                f"{where}, with test_500 sampled from test.csv ({rows.get('test_500.csv', 0)} rows).")
    else:
        c = rec["carve"]
        text = (f"{name} ships no valid split: the valid split was carved as the last {VALID_FRACTION:.0%} of "
                f"train.csv by time ({c['shipped_train_rows']} rows -> train {rows['train.csv']}, valid "
                f"{rows['valid.csv']}); train_10000 was resampled from the carved train and valid_500, "
                f"valid_5000" + (", test_500" if "test_500.csv" in rows else "") + " sampled; " + where + ".")
    n_ex = h["rows_excluded_empty_target_total"]
    if h["empty_title_ids"]:
        ids = h["empty_title_ids"]
        kept = sum(h["rows_kept_with_empty_title_in_history"].get(f, 0) for f in ("train.csv", "valid.csv"))
        text += (f" Item{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))} {'have' if len(ids) > 1 else 'has'} "
                 f"an empty title: {n_ex} row(s) with such a target were excluded (the decoder never offers an empty "
                 f"title), {kept} train/valid row(s) keep it in their history (the prompt shows \"\").")
    return text


def counts_table(data_dir) -> list[dict]:
    """Per file of a derived folder: rows, how it was made, and the empty-title counts (for a table)."""
    rec = derivation(data_dir)
    if rec is None:
        return []
    h = rec["handling"]
    out = []
    for name, how in rec["derived"].items():
        out.append({"file": name, "rows": rec["rows"][name], "made": how,
                    "excluded (empty target)": h["rows_excluded_empty_target"].get(name, 0),
                    "kept (empty title in history)": h["rows_kept_with_empty_title_in_history"].get(name, 0)})
    for name in rec["copied"]:
        out.append({"file": name, "rows": None, "made": "copied unchanged",
                    "excluded (empty target)": 0, "kept (empty title in history)": None})
    return out


def summary_rows(folders) -> list[dict]:
    """One row per dataset (``{name: folder returned by complete_dataset}``): what was done, the
    shipped train rows, the rows of the files the chapters read, and the empty-title counts."""
    out = []
    for name, folder in folders.items():
        rec = derivation(folder)
        row = {"dataset": name, "folder": Path(folder).name}
        if rec is None:
            row["handling"] = "as shipped"
        else:
            r, h = rec["rows"], rec["handling"]
            row["handling"] = "evaluation only (no train)" if rec["evaluation_only"] else "valid carved"
            row["shipped train"] = rec["carve"].get("shipped_train_rows", "-")
            for f in ("train.csv", "valid.csv", "train_10000.csv", "valid_500.csv", "test_500.csv"):
                row[f[:-4]] = r.get(f, "-")
            row["excluded: empty target"] = h["rows_excluded_empty_target_total"]
            row["kept: empty title in history"] = h["rows_kept_with_empty_title_in_history"].get("train.csv", 0) + \
                h["rows_kept_with_empty_title_in_history"].get("valid.csv", 0)
        out.append(row)
    cols = list(dict.fromkeys(k for row in out for k in row))
    return [{k: row.get(k, "-") for k in cols} for row in out]  # "-": not applicable (nothing derived)


def summary_text(rows) -> str:
    """A sentence on :func:`summary_rows`: which datasets were derived and how."""
    def names(xs):
        return ", ".join(xs[:-1]) + (" and " if len(xs) > 1 else "") + xs[-1] if xs else ""

    carved = [r["dataset"] for r in rows if r["handling"] == "valid carved"]
    evaluation = [r["dataset"] for r in rows if r["handling"].startswith("evaluation")]
    shipped = [r["dataset"] for r in rows if r["handling"] == "as shipped"]
    if not carved and not evaluation:
        return (f"Nothing to derive in this run: {names(shipped) or 'no dataset'} "
                f"{'ships' if len(shipped) == 1 else 'ship'} every split the chapters read, so "
                f"{'it is' if len(shipped) == 1 else 'they are'} read as shipped.")
    parts = []
    if carved:
        parts.append(f"{names(carved)} got a carved valid split")
    if evaluation:
        parts.append(f"{names(evaluation)} {'is' if len(evaluation) == 1 else 'are'} usable for evaluation only")
    text = "In this run " + "; ".join(parts) + "."
    if shipped:
        text += f" {names(shipped)} {'is' if len(shipped) == 1 else 'are'} read as shipped."
    for r in rows:
        ex, kept = r.get("excluded: empty target", "-"), r.get("kept: empty title in history", "-")
        if (ex not in ("-", 0)) or (kept not in ("-", 0)):
            text += (f" In {r['dataset']}, {ex} row(s) whose target has an empty title were left out, and {kept} "
                     "train or valid row(s) keep an empty title in their history.")
    return text


def _missing(data_dir: Path, name: str) -> GDRTInputError | None:
    kind = name.split("_")[0]
    stems = _stems(data_dir)
    ds = dataset_name(data_dir)
    if kind == "train" and not _of(stems, "train"):
        return GDRTInputError(data_dir, f"{ds} ships no train split (see {PROVENANCE_GAPS}): it is usable for "
                              f"evaluation only, so '{name}' cannot be read")
    if kind == "valid" and not _of(stems, "valid"):
        if not _of(stems, "train"):
            return GDRTInputError(data_dir, f"{ds} ships no train or valid split (see {PROVENANCE_GAPS}): it is "
                                  f"usable for evaluation only, so '{name}' cannot be read")
        if "train" in stems:
            return GDRTInputError(data_dir, f"{ds} ships no valid split: use its derived folder, which carves one "
                                  f"from train.csv (python -m gdrt.data.derive {data_dir})")
    return None


def missing_split_error(data_dir, split: str) -> GDRTInputError | None:
    """The one-line error for asking ``data_dir`` for a split it cannot have (a train split of Toy, a
    valid split of a shipped Book or Clothing folder), or ``None`` when the split is there or the
    generic "no split" error of :func:`gdrt.data.msl.load_split` fits."""
    data_dir = Path(data_dir)
    name = split[:-4] if split.endswith(".csv") else split
    if not data_dir.is_dir() or (data_dir / f"{name}.csv").is_file():
        return None
    return _missing(data_dir, name)


def load_split(data_dir, split: str, catalog=None) -> list[Row]:
    """:func:`gdrt.data.msl.load_split`, with a one-line error that says why when the split cannot be
    there (Toy's train, a shipped folder's missing valid split)."""
    err = missing_split_error(data_dir, split)
    if err is not None:
        raise err
    return _msl.load_split(data_dir, split, catalog)


def load_catalog(data_dir, allow_empty_titles: bool | None = None):
    """:func:`gdrt.data.msl.load_catalog`; ``allow_empty_titles=None`` allows empty titles in a derived
    folder (whose rows never target one, see the module docstring) and rejects them elsewhere, with
    a hint to use the derived folder when the folder needs one."""
    data_dir = Path(data_dir)
    if allow_empty_titles is not None:
        return _msl.load_catalog(data_dir, allow_empty_titles=allow_empty_titles)
    if is_derived(data_dir):
        return _msl.load_catalog(data_dir, allow_empty_titles=True)
    try:
        return _msl.load_catalog(data_dir)
    except GDRTInputError as e:
        if e.message.startswith("empty title") and "train" in _stems(data_dir) and not _of(_stems(data_dir), "valid"):
            raise GDRTInputError(e.path, e.message + f"; {data_dir.name} ships no valid split either: use its derived "
                                 f"folder, which handles the empty title (python -m gdrt.data.derive {data_dir})",
                                 line=e.line, field=e.field) from None
        raise


def main(argv=None) -> int:
    """``python -m gdrt.data.derive DIR [OUT_ROOT]``: print the folder to read DIR's splits from."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not 1 <= len(argv) <= 2 or argv[0].startswith("-"):
        print("usage: python -m gdrt.data.derive DATASET_DIR [OUT_ROOT]", file=sys.stderr)
        return 2
    try:
        out = complete_dataset(argv[0], argv[1] if len(argv) > 1 else None)
    except GDRTInputError as e:
        print(f"gdrt.data.derive: error: {e}", file=sys.stderr)
        return 1
    note = describe(out)
    if note:
        print(note, file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
