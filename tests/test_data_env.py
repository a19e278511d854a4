"""The main command's data resolution: a relative GDRT_DATA is resolved against the directory the
command was started in (the chapters run from another one), a missing folder is one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "data_env.sh"


def _resolve(cwd: Path, value: str | None):
    env = {"PATH": "/usr/bin:/bin"} | ({"GDRT_DATA": value} if value is not None else {})
    return subprocess.run(["bash", "-c", f'source "{SCRIPT}"; echo "${{GDRT_DATA-unset}}"'], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_a_relative_data_folder_is_resolved_from_the_callers_directory(tmp_path):
    (tmp_path / "shared" / "datasets").mkdir(parents=True)
    clone = tmp_path / "clone"
    clone.mkdir()
    out = _resolve(clone, "../shared/datasets")
    assert out.returncode == 0 and out.stdout.strip() == str((tmp_path / "shared" / "datasets").resolve())
    assert _resolve(clone, None).stdout.strip() == "unset"


def test_a_missing_data_folder_is_one_line(tmp_path):
    out = _resolve(tmp_path, "../nowhere")
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0
    assert "GDRT_DATA=../nowhere is not a directory" in out.stderr and str(tmp_path) in out.stderr
