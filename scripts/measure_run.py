"""Run a command and record its wall time and peak resident memory (RSS).

    python scripts/measure_run.py --record executed/run_stats.json --name 03_bias_evidence -- CMD [ARG ...]

The command's process tree (papermill and the Jupyter kernel it starts, for a chapter) is sampled
every 0.2 s with psutil. Two peaks are kept: the largest resident set of any one process (for a
chapter, the kernel: what a reader's laptop must hold) and the largest sum over the tree. A spike
shorter than the sampling interval can be missed, so the peaks are lower bounds. The record file is a
JSON object keyed by --name, rewritten atomically; the command's exit code is passed through.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

GIB = 1024**3


def tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """(largest single-process RSS, total RSS) over ``proc`` and its descendants, in bytes."""
    sizes = []
    for p in [proc, *proc.children(recursive=True)]:
        try:
            sizes.append(p.memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return (max(sizes), sum(sizes)) if sizes else (0, 0)


def measure(cmd: list[str], interval: float = 0.2) -> dict:
    """Run ``cmd`` to completion; return its exit code, wall seconds and peak RSS (GiB)."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd)
    proc = psutil.Process(child.pid)
    peak_one = peak_sum = 0
    while child.poll() is None:
        try:
            one, total = tree_rss(proc)
        except psutil.NoSuchProcess:
            break
        peak_one, peak_sum = max(peak_one, one), max(peak_sum, total)
        time.sleep(interval)
    code = child.wait()
    return dict(exit_code=code, seconds=round(time.perf_counter() - start, 1),
                peak_rss_gib=round(peak_one / GIB, 2), peak_tree_rss_gib=round(peak_sum / GIB, 2))


def record(path: Path, name: str, stats: dict) -> None:
    """Add ``stats`` under ``name`` to the JSON object in ``path`` (created if missing), atomically."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = stats
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", type=Path, required=True, help="JSON file to add the result to")
    parser.add_argument("--name", required=True, help="key of this run in the record file")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command after --")
    stats = measure(cmd)
    record(args.record, args.name, stats)
    print(f"    {args.name}: {stats['seconds']} s, peak RSS {stats['peak_rss_gib']} GiB "
          f"(whole tree {stats['peak_tree_rss_gib']} GiB)")
    return stats["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
