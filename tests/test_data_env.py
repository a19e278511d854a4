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


def test_a_relative_model_folder_is_resolved_and_a_name_is_kept(tmp_path):
    (tmp_path / "models" / "m").mkdir(parents=True)
    clone = tmp_path / "clone"
    clone.mkdir()

    def model(value):
        return subprocess.run(["bash", "-c", f'source "{SCRIPT}"; echo "$GDRT_MODEL"'], cwd=clone,
                              env={"PATH": "/usr/bin:/bin", "GDRT_MODEL": value}, capture_output=True, text=True)

    assert model("../models/m").stdout.strip() == str((tmp_path / "models" / "m").resolve())
    assert model("smollm2-135m").stdout.strip() == "smollm2-135m"


def _ensure(tmp_path, python: str, **env):
    return subprocess.run(["bash", "-c", f'source "{SCRIPT}"; ensure_data cpu "{python}"; echo reached'],
                          cwd=tmp_path, env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True)


def test_without_data_a_failed_fetch_is_one_line_naming_the_ways_out(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'error: Office/train.csv: <urlopen error [Errno -3] no network>' >&2\nexit 1\n")
    fake.chmod(0o755)
    out = _ensure(tmp_path, str(fake))
    assert out.returncode == 1 and "reached" not in out.stdout
    line = out.stderr.strip()
    assert line.count("\n") == 0 and "no network" in line and "GDRT_DATA=" in line and "GDRT_SYNTHETIC=1" in line


def test_the_fetch_runs_only_without_data_and_without_the_synthetic_choice(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho '5 present, 0 downloaded, 0 failed'\n")
    fake.chmod(0o755)
    out = _ensure(tmp_path, str(fake))
    assert out.returncode == 0 and "5 present" in out.stdout and "reached" in out.stdout
    for env in ({"GDRT_SYNTHETIC": "1"}, {"GDRT_DATA": str(tmp_path)}):
        out = _ensure(tmp_path, "/nonexistent/python", **env)
        assert out.returncode == 0 and "fetching" not in out.stdout and "reached" in out.stdout
