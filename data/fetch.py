#!/usr/bin/env python
"""Download the MSL-format data files listed in ``data/MANIFEST.tsv`` into ``data/``.

Each row names a file (``local_path``), its size, sha256 and git blob id, and where it comes from
(``source_repo`` @ ``source_commit`` : ``source_path``). The file is fetched from
``https://raw.githubusercontent.com/<repo>/<commit>/<path>``, checked (size, sha256 and git blob id;
rows whose size and sha256 are ``-`` are checked by blob id alone) and written atomically to
``data/<local_path>``. Files already present and valid are skipped; a mismatch is an error and
nothing is written for that file.

    python data/fetch.py                    # every MSL-format file (Office, Game, Toy, Book, Clothing)
    python data/fetch.py --only Office Game # some datasets
    python data/fetch.py --include-d3       # also the d3_format/ files
    python data/fetch.py --check            # verify what is on disk, download nothing

Exit status: 0 when every selected file is present and valid, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "MANIFEST.tsv"
BASE_URL = "https://raw.githubusercontent.com"
COLUMNS = ("local_path", "bytes", "sha256", "git_blob", "source_repo", "source_commit", "source_path")


class FetchError(RuntimeError):
    """A manifest problem or a downloaded file that does not match the manifest (one line)."""


@dataclass(frozen=True)
class Entry:
    local_path: str
    size: int | None  # None where the manifest says "-"
    sha256: str | None
    git_blob: str
    repo: str
    commit: str
    source_path: str
    line: int = 0

    def url(self, base_url: str = BASE_URL) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/{self.commit}/{self.source_path}"

    @property
    def dataset(self) -> str:
        return self.local_path.split("/", 1)[0]

    @property
    def is_msl(self) -> bool:
        return self.dataset != "d3_format"


def read_manifest(path=MANIFEST) -> list[Entry]:
    """Rows of a MANIFEST.tsv (tab-separated, header ``local_path bytes sha256 git_blob source_repo
    source_commit source_path``)."""
    path = Path(path)
    if not path.is_file():
        raise FetchError(f"{path}: manifest not found")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise FetchError(f"{path}:1: expected header {' '.join(COLUMNS)}")
    entries = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != len(COLUMNS):
            raise FetchError(f"{path}:{n}: expected {len(COLUMNS)} tab-separated fields, found {len(cols)}")
        local, size, sha, blob, repo, commit, src = cols
        if size != "-" and not size.isdigit():
            raise FetchError(f"{path}:{n}: field 'bytes': not an integer: {size!r}")
        if len(blob) != 40 or (sha != "-" and len(sha) != 64):
            raise FetchError(f"{path}:{n}: field 'git_blob'/'sha256': malformed hash")
        if local.startswith("/") or ".." in Path(local).parts:
            raise FetchError(f"{path}:{n}: field 'local_path': must be a relative path inside data/: {local!r}")
        entries.append(
            Entry(local, None if size == "-" else int(size), None if sha == "-" else sha, blob, repo, commit, src, n)
        )
    return entries


def git_blob_id(data: bytes) -> str:
    """Git's object id of a file's content: ``sha1(b"blob <size>\\0" + content)``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def problems(data: bytes, entry: Entry) -> list[str]:
    """What does not match the manifest (empty list: the content is the listed file)."""
    out = []
    if entry.size is not None and len(data) != entry.size:
        out.append(f"size {len(data)} != {entry.size}")
    if entry.sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != entry.sha256:
            out.append(f"sha256 {got} != {entry.sha256}")
    got = git_blob_id(data)
    if got != entry.git_blob:
        out.append(f"git blob {got} != {entry.git_blob}")
    return out


def verify(data: bytes, entry: Entry, origin: str = "") -> None:
    """Raise :class:`FetchError` when ``data`` is not the file the manifest lists."""
    bad = problems(data, entry)
    if bad:
        src = f" (from {origin})" if origin else ""
        raise FetchError(f"{entry.local_path}: mismatch{src}: {'; '.join(bad)}")


def is_valid(path, entry: Entry) -> bool:
    path = Path(path)
    if not path.is_file():
        return False
    if entry.size is not None and path.stat().st_size != entry.size:
        return False
    return not problems(path.read_bytes(), entry)


def _write_atomic(path: Path, data: bytes) -> None:
    try:  # the package's writer when it is installed
        from gdrt.io import atomic_path
    except ImportError:
        atomic_path = None
    path.parent.mkdir(parents=True, exist_ok=True)
    if atomic_path is not None:
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _urlopen_read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.read()


def fetch(entries, dest=HERE, base_url: str = BASE_URL, opener=_urlopen_read, check_only: bool = False, log=print):
    """Make every entry present and valid under ``dest``. ``opener(url) -> bytes`` does the download
    (replaceable, e.g. in tests). Returns counts ``{"present", "downloaded", "failed"}`` and the
    list of error lines under ``"errors"``."""
    dest = Path(dest)
    result = {"present": 0, "downloaded": 0, "failed": 0, "errors": []}
    for e in entries:
        target = dest / e.local_path
        if is_valid(target, e):
            result["present"] += 1
            log(f"ok       {e.local_path}")
            continue
        if check_only:
            msg = f"{e.local_path}: {'missing' if not target.exists() else 'present but does not match the manifest'}"
            result["failed"] += 1
            result["errors"].append(msg)
            log(f"FAILED   {msg}")
            continue
        url = e.url(base_url)
        try:
            data = opener(url)
            verify(data, e, url)
        except FetchError as err:
            msg = str(err)
        except OSError as err:  # urllib.error.URLError is an OSError
            msg = f"{e.local_path}: download failed from {url}: {err}"
        else:
            _write_atomic(target, data)
            result["downloaded"] += 1
            log(f"fetched  {e.local_path} ({len(data)} bytes)")
            continue
        result["failed"] += 1
        result["errors"].append(msg)
        log(f"FAILED   {msg}")
    return result


def select(entries, only=None, include_d3: bool = False) -> list[Entry]:
    chosen = [e for e in entries if e.is_msl or include_d3]
    if only:
        wanted = {o.strip("/").lower() for o in only}
        chosen = [e for e in chosen if e.dataset.lower() in wanted]
    return chosen


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", default=str(MANIFEST))
    ap.add_argument("--dest", default=str(HERE), help="folder to fill (default: this data/ folder)")
    ap.add_argument("--only", nargs="+", metavar="DATASET", help="e.g. Office Game")
    ap.add_argument("--include-d3", action="store_true", help="also fetch the d3_format/ files")
    ap.add_argument("--base-url", default=BASE_URL)
    ap.add_argument("--check", action="store_true", help="verify files on disk only")
    args = ap.parse_args(argv)
    try:
        entries = select(read_manifest(args.manifest), args.only, args.include_d3)
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not entries:
        print("error: no manifest row matches the selection", file=sys.stderr)
        return 1
    res = fetch(entries, args.dest, args.base_url, check_only=args.check)
    print(f"{res['present']} present, {res['downloaded']} downloaded, {res['failed']} failed")
    for msg in res["errors"]:
        print(f"error: {msg}", file=sys.stderr)
    return 1 if res["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
