"""Keep a main job's per-chapter wall times and peak memory as a committed table.

    python scripts/record_run_stats.py executed/run_stats.json --profile cpu

reads the ``run_stats.json`` that ``scripts/run_chapters.sh`` wrote (``scripts/measure_run.py``) and
writes ``results/main_job/PROFILE.csv`` (chapter, minutes, peak RSS in GiB) and
``results/main_job/PROFILE.json`` (the same, with the machine, the commit of the checkout that ran the
chapters and the date), atomically.
The teacher's guide shows the CSV; the README quotes it.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None) -> int:
    from gdrt.machine import machine

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stats", type=Path, help="run_stats.json of an executed folder")
    ap.add_argument("--profile", required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "main_job")
    a = ap.parse_args(argv)
    stats = json.loads(a.stats.read_text())
    bad = [name for name, s in stats.items() if s.get("exit_code") != 0]
    if bad:
        print(f"{a.stats}: chapters that failed: {', '.join(bad)}; record a run where every chapter passed",
              file=sys.stderr)
        return 1
    rows = [{"chapter": name, "minutes": round(s["seconds"] / 60, 1), "peak RSS (GiB)": s["peak_rss_gib"]}
            for name, s in sorted(stats.items())]
    rows.append({"chapter": "all chapters", "minutes": round(sum(s["seconds"] for s in stats.values()) / 60, 1),
                 "peak RSS (GiB)": max(s["peak_rss_gib"] for s in stats.values())})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    a.out.mkdir(parents=True, exist_ok=True)
    _write(a.out / f"{a.profile}.csv", buf.getvalue())
    # the commit of the checkout that ran the chapters (the stats file's), not this one's
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=a.stats.resolve().parent, capture_output=True,
                            text=True).stdout.strip()
    meta = {"profile": a.profile, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": commit, "machine": machine(), "chapters": stats}
    _write(a.out / f"{a.profile}.json", json.dumps(meta, indent=2) + "\n")
    print(buf.getvalue(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
