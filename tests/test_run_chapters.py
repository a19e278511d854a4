"""scripts/run_chapters.sh: GDRT_MODEL reaches the chapters that take a model, run_stats.json records
each chapter, and a list parameter given as text reaches book.setup parsed."""

import json
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

from gdrt import book
from gdrt.errors import GDRTInputError

ROOT = Path(__file__).resolve().parents[1]


def _injected(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    return "".join(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))


def test_gdrt_model_goes_to_the_chapters_with_a_model_parameter(tmp_path):
    env = {**os.environ, "GDRT_MODEL": "tiny", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", "scripts/run_chapters.sh", "smoke", str(tmp_path), "01", "04"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert 'model = "tiny"' in _injected(tmp_path / "01_introduction.ipynb")
    assert "model" not in _injected(tmp_path / "04_group_dro.ipynb")  # it has no model parameter
    stats = json.loads((tmp_path / "run_stats.json").read_text())
    assert set(stats) == {"01_introduction", "04_group_dro"}
    assert all(s["exit_code"] == 0 and s["peak_rss_gib"] > 0.05 and s["seconds"] > 0 for s in stats.values())


def test_a_list_parameter_given_as_text_is_parsed():
    cfg = book.setup("smoke", grid="[[5, 0.1], [5, 1.0]]")
    assert cfg.sizes["grid"] == [[5, 0.1], [5, 1.0]]
    with pytest.raises(GDRTInputError, match="field 'grid'.*not a JSON list"):
        book.setup("smoke", grid="[[5, 0.1")


def test_no_data_at_a_real_profile_is_an_error_unless_synthetic_is_chosen(monkeypatch):
    from gdrt.data import locate

    monkeypatch.delenv("GDRT_DATA", raising=False)
    monkeypatch.delenv("GDRT_SYNTHETIC", raising=False)
    monkeypatch.setattr(locate, "data_root", lambda: None)
    with pytest.raises(GDRTInputError, match="no Book data found.*GDRT_SYNTHETIC=1"):
        book.setup("cpu")
    monkeypatch.setenv("GDRT_SYNTHETIC", "1")
    cfg = book.setup("cpu")
    assert cfg.data_source == "synthetic" and "GDRT_SYNTHETIC=1" in cfg.note


def test_every_chapter_links_the_notation_page_and_it_is_in_the_toc():
    chapters = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py"))
    assert chapters
    missing = [c.name for c in chapters if "{doc}`../notation`" not in c.read_text()]
    assert not missing, f"chapters without a link to the notation page: {missing}"
    assert "file: notation" in (ROOT / "_toc.yml").read_text() and (ROOT / "notation.md").is_file()


def test_every_exercise_has_a_solution():
    import re

    missing = []
    for path in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.py")):
        text = path.read_text()
        labels = re.findall(r"```\{exercise\}[^\n]*\n# :label: (\S+)", text)
        assert len(labels) == text.count("{exercise}"), f"{path.name}: an exercise without a :label:"
        solved = set(re.findall(r"```\{solution(?:-start)?\} (\S+)", text))
        missing += [f"{path.name}: {label}" for label in labels if label not in solved]
    assert not missing, f"exercises without a solution: {missing}"
