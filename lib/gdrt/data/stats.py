"""Dataset statistics for chapter 2: users' sequences rebuilt from the windows, Table 1, the splits,
duplicate titles, title lengths, popular targets, and the provenance check against the manifest.

Every function reads the files as they are; nothing is estimated from the paper. Where a dataset
lacks a split (PROVENANCE.md: Toy has no train, Toy/Clothing/Book no valid, Game only a train
sample), the counts rebuilt from what is there are partial, and the tables say so.
Explained in chapter 2.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import Catalog
from .msl import Row, available_splits, load_catalog, load_split

__all__ = [
    "SPLITS",
    "rebuild_sequences",
    "table1_row",
    "split_files",
    "dataset_row",
    "table1",
    "table1_sources",
    "paper_comparison",
    "comparison_text",
    "counts_text",
    "table1_scope",
    "load_splits",
    "main_splits",
    "split_summary",
    "history_lengths",
    "duplicate_titles",
    "duplicate_groups",
    "catalog_table",
    "title_token_lengths",
    "target_popularity",
    "top_share",
    "recipe_report",
    "read_manifest",
    "sha256_file",
    "verify_manifest",
    "manifest_sources",
]

SPLITS = ("train", "valid", "test")


# ----------------------------------------------------------------------------- sequences, Table 1


def _overlap(items: Sequence, window: Sequence, max_k: int) -> int:
    """The largest ``k <= max_k`` with ``items[-k:] == window[:k]`` (0 when none)."""
    for k in range(min(max_k, len(items)), 0, -1):
        if tuple(items[-k:]) == tuple(window[:k]):
            return k
    return 0


def rebuild_sequences(rows: Sequence, allow_gaps: bool = False) -> dict:
    """Each user's item sequence, rebuilt from overlapping windows (rows of train+valid+test in file
    order). Consecutive windows of a user overlap by their history; a window that does not continue
    the previous one raises, unless ``allow_gaps``: then it is joined at the longest overlap between
    the sequence's end and the window's history (none when more than ten windows are missing in
    between), which is what can be rebuilt when a split is missing or is a sample. Such a rebuild is
    a lower bound of the true sequences. Returns ``{user: [(item, timestamp), ...]}``; only targets'
    timestamps are known, so a first window's history items carry its target's time. Explained in
    chapter 2, "Table 1 from the files"."""
    by_user: dict = {}
    for pos, r in enumerate(rows):
        by_user.setdefault(r.user_id, []).append((r.timestamp, pos, r))
    sequences = {}
    for user in sorted(by_user):
        ws = [r for _, _, r in sorted(by_user[user], key=lambda x: (x[0], x[1]))]
        items = list(ws[0].history) + [ws[0].target]
        times = [ws[0].timestamp] * len(items)
        for w in ws[1:]:
            hist = tuple(w.history[-10:])
            if hist == tuple(items[-len(hist):]):
                items.append(w.target)
                times.append(w.timestamp)
                continue
            if not allow_gaps:
                raise ValueError(f"user {user}: window at line {w.line} does not continue the previous one")
            k = _overlap(items, w.items, len(w.history))
            new = list(w.items[k:])
            items.extend(new)
            times.extend([w.timestamp] * len(new))
        sequences[user] = list(zip(items, times))
    return sequences


def table1_row(name: str, sequences: dict) -> dict:
    """Paper Table 1 columns: #users, #items, #interactions, density = interactions/(users*items)."""
    users = len(sequences)
    items = len({i for s in sequences.values() for i, _ in s})
    inter = sum(len(s) for s in sequences.values())
    return {"dataset": name, "users": users, "items": items, "interactions": inter,
            "density": inter / (users * items) if users and items else float("nan")}


def _sample_size(stem: str, split: str) -> int | None:
    rest = stem[len(split) + 1:]
    return int(rest) if stem.startswith(split + "_") and rest.isdigit() else None


def split_files(data_dir) -> dict[str, str | None]:
    """For each of train, valid, test: the file (stem) a rebuild reads. The full split when it is
    there, else its largest sample (``train_10000``: a random sample, so the rebuild is partial),
    else ``None``."""
    present = available_splits(data_dir)
    out: dict[str, str | None] = {}
    for split in SPLITS:
        if split in present:
            out[split] = split
            continue
        samples = [(n, s) for s in present if (n := _sample_size(s, split)) is not None]
        out[split] = max(samples)[1] if samples else None
    return out


def dataset_row(name: str, data_dir) -> dict:
    """One row of Table 1 rebuilt from the files of ``data_dir``: users, items and interactions of
    the sequences rebuilt from train+valid+test (:func:`rebuild_sequences`, gaps allowed), the
    catalog's size, which files were read and whether the rebuild is complete (all three full
    splits present)."""
    data_dir = Path(data_dir)
    files = split_files(data_dir)
    rows = [r for split in SPLITS if files[split] for r in load_split(data_dir, files[split])]
    complete = all(files[s] == s for s in SPLITS)
    seqs = rebuild_sequences(rows, allow_gaps=not complete)
    catalog = load_catalog(data_dir, allow_empty_titles=True)
    row = table1_row(name, seqs)
    used = ", ".join(f if f == s else f"{f} (sample)" for s, f in files.items() if f)
    missing = ", ".join(s for s, f in files.items() if f != s)
    return {**row, "windows": len(rows), "catalog items": len(catalog), "files read": used,
            "missing": missing or "-", "complete": complete}


def table1(sources: Mapping[str, Path]) -> pd.DataFrame:
    """Table 1 for every dataset in ``sources`` (name -> folder), one :func:`dataset_row` each, with
    the density in percent (``density (%)``, three decimals) as papers print it."""
    df = pd.DataFrame([dataset_row(name, d) for name, d in sources.items()]).set_index("dataset")
    df.insert(3, "density (%)", (100 * df.pop("density")).round(3))
    return df


def table1_sources(cfg, order: Sequence[str] = ("Office", "Game", "Toy", "Book", "Clothing")) -> dict[str, Path]:
    """The datasets Table 1 covers: every real dataset folder under :func:`gdrt.data.locate.data_root`
    (in ``order``, then any other) when the chapter runs on real data; otherwise (the smoke profile,
    or no data found) only the chapter's own synthetic folder."""
    from .locate import data_root, is_dataset_dir

    root = data_root() if cfg.data_source == "real" else None
    if root is None:
        return {"Synthetic": Path(cfg.data_dir)}
    found = {p.name: p for p in sorted(root.iterdir())
             if is_dataset_dir(p) and (p / "id2name4Rec.json").is_file() and split_files(p)["test"]}
    return {**{n: found[n] for n in order if n in found}, **{n: p for n, p in found.items() if n not in order}}


def paper_comparison(table: pd.DataFrame, paper_table1: Mapping, msl_office: Mapping | None = None) -> pd.DataFrame:
    """The paper's counts (GDRT Table 1; MSL Table 4 for Office) next to the rebuilt ones, for every
    dataset the paper lists. A dataset absent from ``table`` gets empty rebuilt cells; ``status`` is
    "exact" when the three counts match, "partial: no valid" (the splits the rebuild lacks) when
    they do not and a split is missing, "differs" when they do not although nothing is missing,
    and "not present"."""
    refs = [(name, "GDRT Table 1", dict(v)) for name, v in paper_table1.items()]
    if msl_office is not None:
        refs.insert(0, ("Office", "MSL Table 4", dict(msl_office)))
    out = []
    for name, source, ref in refs:
        row = {"dataset": name, "paper": source}
        have = name in table.index
        for key in ("users", "items", "interactions"):
            row[f"{key} (paper)"] = ref[key]
            row[f"{key} (files)"] = int(table.loc[name, key]) if have else None
        row["catalog items"] = int(table.loc[name, "catalog items"]) if have else None
        if not have:
            row["status"] = "not present"
        elif all(row[f"{k} (files)"] == ref[k] for k in ("users", "items", "interactions")):
            row["status"] = "exact"
        elif not bool(table.loc[name, "complete"]):
            row["status"] = "partial: no " + str(table.loc[name, "missing"])
        else:
            row["status"] = "differs"
        out.append(row)
    df = pd.DataFrame(out).set_index("dataset")
    ints = [c for c in df.columns if c.endswith("(files)") or c.endswith("(paper)") or c == "catalog items"]
    return df.astype({c: "Int64" for c in ints})


def counts_text(counts: Mapping) -> str:
    """``{"users": 3, "items": 2, "interactions": 5}`` -> ``"3 users, 2 items, 5 interactions"``."""
    return f"{counts['users']} users, {counts['items']} items, {counts['interactions']} interactions"


def comparison_text(comparison: pd.DataFrame) -> dict[str, str]:
    """One phrase per row of :func:`paper_comparison`, for the chapter's prose: the rebuilt counts
    and the status, or that the dataset is not in this run."""
    out = {}
    for name, r in comparison.iterrows():
        if r["status"] == "not present":
            out[name] = "not in this run's data"
            continue
        counts = counts_text({k: r[f"{k} (files)"] for k in ("users", "items", "interactions")})
        out[name] = f"{counts} ({r['status']})"
    return out


def table1_scope(sources: Mapping[str, Path]) -> str:
    """A sentence saying what Table 1 covers: the real datasets found, or the synthetic set only."""
    if list(sources) == ["Synthetic"]:
        return ("This run found no real data (or runs the smoke profile), so the table covers the "
                "synthetic set only and has nothing to compare with the paper.")
    return f"This run found {len(sources)} real datasets: {', '.join(sources)}."


# ----------------------------------------------------------------------------- splits


def load_splits(data_dir, names: Iterable[str] = ("train", "train_10000", "valid", "valid_500", "test",
                                                   "test_5000", "test_500"), catalog: Catalog | None = None) -> dict:
    """``{name: rows}`` for each named split that exists in ``data_dir`` (absent ones are left out)."""
    present = set(available_splits(data_dir))
    return {n: load_split(data_dir, n, catalog) for n in names if n in present}


def main_splits(splits: Mapping[str, Sequence]) -> dict:
    """From ``{name: rows}``, the train, valid and test files (the full split, else its largest
    sample), keyed by file name, in that order; absent ones are left out."""
    out = {}
    for split in SPLITS:
        if split in splits:
            out[split] = splits[split]
            continue
        samples = [(n, s) for s in splits if (n := _sample_size(s, split)) is not None]
        if samples:
            name = max(samples)[1]
            out[name] = splits[name]
    return out


def split_summary(splits: dict) -> list[dict]:
    """Per split: rows, distinct users, distinct items (history and target), distinct target items,
    mean history length and the share of rows with a full history of 10 items."""
    out = []
    for name, rows in splits.items():
        h = np.array([len(r.history) for r in rows])
        out.append({"split": name, "rows": len(rows), "users": len({r.user_id for r in rows}),
                    "items": len({i for r in rows for i in (*r.history, r.target)}),
                    "target items": len({r.target for r in rows}),
                    "mean history": float(h.mean()) if len(h) else float("nan"),
                    "history = 10": float((h >= 10).mean()) if len(h) else float("nan")})
    return out


def history_lengths(rows: Iterable) -> Counter:
    """How many rows have each history length."""
    return Counter(len(r.history) for r in rows)


# ----------------------------------------------------------------------------- titles


def duplicate_titles(catalog: Catalog) -> dict:
    """How many item ids share a title: ``items``, ``titles`` (distinct), ``shared_titles`` (titles
    with more than one id), ``items_sharing`` (ids whose title another id also has), ``largest``
    (ids of the biggest group), ``largest_title`` and ``group_sizes`` (group size -> titles)."""
    groups = catalog.title2ids
    shared = {t: ids for t, ids in groups.items() if len(ids) > 1}
    top = max(shared.items(), key=lambda kv: (len(kv[1]), -kv[1][0]), default=("", ()))
    return {"items": len(catalog), "titles": catalog.n_titles, "shared_titles": len(shared),
            "items_sharing": sum(len(ids) for ids in shared.values()), "largest": len(top[1]),
            "largest_title": top[0], "largest_ids": tuple(top[1]),
            "group_sizes": dict(sorted(Counter(len(ids) for ids in groups.values()).items()))}


def duplicate_groups(catalog: Catalog, n: int = 5) -> pd.DataFrame:
    """The ``n`` biggest groups of ids sharing a title (largest first, then by smallest id)."""
    shared = sorted(((t, ids) for t, ids in catalog.title2ids.items() if len(ids) > 1),
                    key=lambda kv: (-len(kv[1]), kv[1][0]))[:n]
    return pd.DataFrame([{"title": t, "ids": ", ".join(map(str, ids)), "size": len(ids)} for t, ids in shared],
                        columns=["title", "ids", "size"])


def catalog_table(sources: Mapping[str, Path]) -> pd.DataFrame:
    """Per dataset: catalog ids, distinct titles, ids sharing a title, the largest group, empty titles."""
    rows = []
    for name, d in sources.items():
        cat = load_catalog(d, allow_empty_titles=True)
        dup = duplicate_titles(cat)
        rows.append({"dataset": name, "item ids": dup["items"], "distinct titles": dup["titles"],
                     "ids sharing a title": dup["items_sharing"], "largest group": dup["largest"],
                     "empty titles": sum(1 for t in cat.id2title.values() if not t.strip())})
    return pd.DataFrame(rows).set_index("dataset")


def title_token_lengths(catalog: Catalog, tokenizer) -> np.ndarray:
    """Response length in tokens of every distinct title (``'"Title"'`` + EOS, as trained and as the
    decoding trie walks it), in the order of ``catalog.titles``."""
    from .prompts import response_text

    enc = tokenizer([response_text(t) for t in catalog.titles], add_special_tokens=False)["input_ids"]
    return np.array([len(ids) + 1 for ids in enc], dtype=np.int64)


# ----------------------------------------------------------------------------- popularity


def target_popularity(rows: Iterable[Row], catalog: Catalog | None = None) -> pd.DataFrame:
    """Target items by how often they are a row's target, most frequent first (ties by id), with
    their rank (1 = most frequent), share of all targets and the cumulative share; titles when a
    catalog is given."""
    counts = Counter(r.target for r in rows)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    df = pd.DataFrame(ordered, columns=["item", "targets"])
    total = df["targets"].sum()
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    df["share"] = df["targets"] / total if total else np.nan
    df["cumulative share"] = df["share"].cumsum()
    if catalog is not None:
        df["title"] = [catalog.title(i) for i in df["item"]]
    return df


def top_share(popularity: pd.DataFrame, fraction: float, n_items: int | None = None) -> float:
    """Share of all targets that go to the most frequent ``fraction`` of items. Items are the
    catalog's ``n_items`` when given (items never a target count, with zero), else the target items;
    the number of top items is ``ceil(fraction * n_items)``."""
    n = n_items if n_items is not None else len(popularity)
    k = int(np.ceil(fraction * n))
    return float(popularity["targets"].iloc[:k].sum() / popularity["targets"].sum())


# ----------------------------------------------------------------------------- the recipe's report


def recipe_report(report: Mapping) -> pd.DataFrame:
    """The report of :func:`gdrt.data.amazon.prepare_amazon` as a table: each step of the recipe,
    what it removed or made, and why."""
    k = report["k_core"]
    reasons = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in report["meta_asins_no_title_by_reason"].items())
    s = report["splits"]
    steps = [
        ("read", f"{report['reviews']} reviews, {report['meta_asins']} items in the metadata", ""),
        ("title filter", f"-{report['reviews_dropped_no_title']} reviews, -{report['items_dropped_no_title']} items",
         f"no usable title ({reasons or 'none'})"),
        (f"{k['k']}-core", f"-{k['reviews_dropped']} reviews, -{k['users_dropped']} users, -{k['items_dropped']} items",
         f"fewer than {k['k']} reviews, {k['rounds']} rounds until stable"),
        ("numbering", f"{report['users']} users, {report['items']} items, {report['interactions']} interactions",
         "ids from 1 by first appearance"),
        ("windows", f"{report['windows']} windows (at most {report['max_history']} history items)",
         "sliding, sorted by target time"),
        ("split", f"train {s['train']}, valid {s['valid']}, test {s['test']}", "80/10/10 by position"),
        ("titles", f"{report['distinct_titles']} distinct, {report['items_sharing_a_title']} items share one", ""),
    ]
    return pd.DataFrame(steps, columns=["step", "result", "why"]).set_index("step")


# ----------------------------------------------------------------------------- provenance


MANIFEST_COLUMNS = ("local_path", "bytes", "sha256", "git_blob", "source_repo", "source_commit", "source_path")


def read_manifest(path) -> pd.DataFrame:
    """``data/MANIFEST.tsv`` as a table (the columns of ``MANIFEST_COLUMNS``; ``bytes`` and
    ``sha256`` are ``"-"`` where only the git blob is known). A wrong header raises."""
    path = Path(path)
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if tuple(df.columns) != MANIFEST_COLUMNS:
        raise ValueError(f"{path}: expected columns {' '.join(MANIFEST_COLUMNS)}, found {' '.join(df.columns)}")
    return df


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_manifest(data_dir, manifest, dataset: str | None = None) -> pd.DataFrame:
    """Check every file of a dataset folder against the manifest (a path or :func:`read_manifest`'s
    table): one row per file in the folder or listed for it (``<dataset>/...``, ``dataset`` defaults
    to the folder's name), with its path in the source repository (:func:`manifest_sources` gives
    the repository and commit) and a status: ``ok`` (size and sha256 match),
    ``MISMATCH``, ``missing`` (listed, not here), ``not checkable`` (listed by git blob only) or
    ``not in manifest`` (here, not listed: e.g. the synthetic set, or a generated report)."""
    data_dir = Path(data_dir)
    df = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
    prefix = (dataset or data_dir.name) + "/"
    listed = {r.local_path[len(prefix):]: r for r in df.itertuples(index=False) if r.local_path.startswith(prefix)}
    present = {p.name for p in data_dir.iterdir() if p.is_file()} if data_dir.is_dir() else set()
    out = []
    for name in sorted(present | set(listed)):
        e = listed.get(name)
        path = data_dir / name
        row = {"file": name, "bytes": path.stat().st_size if name in present else None,
               "source path": e.source_path if e else "-"}
        if e is None:
            row["status"] = "not in manifest"
        elif name not in present:
            row["status"] = "missing"
        elif e.sha256 == "-":
            row["status"] = "not checkable"
        elif str(row["bytes"]) != e.bytes or sha256_file(path) != e.sha256:
            row["status"] = "MISMATCH"
        else:
            row["status"] = "ok"
        out.append(row)
    return pd.DataFrame(out, columns=["file", "bytes", "source path", "status"]).set_index("file")


def manifest_sources(manifest) -> pd.DataFrame:
    """Per dataset (the first folder of ``local_path``): the source repository and commit its files
    were copied from, the common source folder, how many files the manifest lists, and how many of
    them only by git blob (``blob only``: size and sha256 unknown, files that could not be copied)."""
    import posixpath

    df = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
    rows = []
    for dataset, g in df.groupby(df["local_path"].str.split("/").str[0], sort=False):
        rows.append({"dataset": dataset,
                     "repository": ", ".join(dict.fromkeys(g["source_repo"])),
                     "commit": ", ".join(dict.fromkeys(c[:12] for c in g["source_commit"])),
                     "source folder": posixpath.commonpath([posixpath.dirname(p) for p in g["source_path"]]) + "/",
                     "files": len(g), "blob only": int((g["sha256"] == "-").sum())})
    return pd.DataFrame(rows).set_index("dataset")
