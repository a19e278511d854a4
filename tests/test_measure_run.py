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


def test_record_run_stats_writes_the_table_and_refuses_a_failed_run(tmp_path):
    script = ROOT / "scripts" / "record_run_stats.py"
    stats = tmp_path / "run_stats.json"
    stats.write_text(json.dumps({"02_b": {"exit_code": 0, "seconds": 90.0, "peak_rss_gib": 1.5},
                                 "01_a": {"exit_code": 0, "seconds": 30.0, "peak_rss_gib": 0.5}}))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), str(stats), "--profile", "cpu", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (out / "cpu.csv").read_text().splitlines() == [
        "chapter,minutes,peak RSS (GiB)", "01_a,0.5,0.5", "02_b,1.5,1.5", "all chapters,2.0,1.5"]
    meta = json.loads((out / "cpu.json").read_text())
    assert meta["profile"] == "cpu" and meta["machine"]["cpu_model"] and set(meta["chapters"]) == {"01_a", "02_b"}
    stats.write_text(json.dumps({"01_a": {"exit_code": 1, "seconds": 3.0, "peak_rss_gib": 0.5}}))
    proc = subprocess.run([sys.executable, str(script), str(stats), "--profile", "cpu", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "01_a" in proc.stderr and proc.stderr.count("\n") == 1
