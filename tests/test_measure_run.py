"""scripts/measure_run.py: wall time, peak RSS of a process tree, exit code passed through."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "measure_run.py"

# A child that holds about 300 MiB for a second: the sampled peak must see it.
HOLD = "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.0)"


def run(tmp_path, name, code):
    return subprocess.run([sys.executable, str(SCRIPT), "--record", str(tmp_path / "stats.json"), "--name", name,
                           "--", sys.executable, "-c", code], capture_output=True, text=True)


def test_peak_of_a_grandchild_and_record(tmp_path):
    # the allocation happens in a grandchild, as a chapter's kernel is papermill's child
    proc = run(tmp_path, "hold", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {HOLD!r}])")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "stats.json").read_text())["hold"]
    assert 0.28 <= stats["peak_rss_gib"] <= 0.5
    assert stats["peak_tree_rss_gib"] >= stats["peak_rss_gib"]
    assert stats["seconds"] >= 1.0 and stats["exit_code"] == 0
    assert "hold:" in proc.stdout and "peak RSS" in proc.stdout


def test_exit_code_passes_through_and_records_accumulate(tmp_path):
    assert run(tmp_path, "ok", "pass").returncode == 0
    assert run(tmp_path, "bad", "raise SystemExit(3)").returncode == 3
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert set(stats) == {"ok", "bad"} and stats["bad"]["exit_code"] == 3
