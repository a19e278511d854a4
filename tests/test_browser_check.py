"""scripts/check_book_browser.py against tiny synthetic pages (tests/fixtures/browser/) in headless
Chromium: a page whose plotly figure and math render passes; pages whose plotly.js is missing or
comes from a remote host, or that throw a JavaScript error and hold a TeX error, fail. The browser
tests skip when Chromium or the vendored assets (scripts/vendor_assets.sh: vendor/plotly.min.js,
vendor/mathjax/) are missing. One Chromium run checks all four pages (about 5 s on an idle machine)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_book_browser.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "browser"
PLOTLY = ROOT / "vendor" / "plotly.min.js"
MATHJAX = ROOT / "vendor" / "mathjax"
PAGES = ["good.html", "missing_script.html", "remote_script.html", "js_error.html"]


def _load_script():
    spec = importlib.util.spec_from_file_location("check_book_browser", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cbb = _load_script()
BROWSER = cbb.find_browser(None)
needs_browser = pytest.mark.skipif(
    BROWSER is None or not PLOTLY.is_file() or not (MATHJAX / "tex-chtml.js").is_file(),
    reason="needs chromium and vendor/plotly.min.js + vendor/mathjax (scripts/vendor_assets.sh)")


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """The fixture pages next to _static/ links to the vendored plotly.js and MathJax."""
    root = tmp_path_factory.mktemp("browser-book")
    for f in FIXTURES.iterdir():
        if f.is_file():
            shutil.copy(f, root / f.name)
    (root / "_static").mkdir()
    (root / "_static" / "plotly.min.js").symlink_to(PLOTLY)
    (root / "_static" / "mathjax").symlink_to(MATHJAX, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def checked(book, tmp_path_factory):
    out = tmp_path_factory.mktemp("browser-out")
    proc = _run("--book", str(book), "--screenshot", "good", "--screenshot-dir", str(out / "shots"),
                "--json", str(out / "results.json"), "--timeout", "40", "--grace", "1",
                "--settle", "0.3", *PAGES)
    assert (out / "results.json").is_file(), f"no results (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
    results = {r["page"]: r for r in json.loads((out / "results.json").read_text())["pages"]}
    return proc, results, out


@needs_browser
def test_good_page_passes(checked):
    proc, results, out = checked
    r = results["good.html"]
    assert r["ok"], r["problems"]
    assert (r["figures_rendered"], r["figures_expected"]) == (1, 1)
    assert (r["math_rendered"], r["math_elements"]) == (2, 2) and r["math_ok"]
    assert r["failed_requests"] == [] and r["console_errors"] == []
    assert "PASS good.html: figures 1/1 rendered, math 2/2 ok, failed requests 0, console errors 0" \
        in proc.stdout
    shot = out / "shots" / "good.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "shots" / "missing_script.png").exists()   # only the pages asked for


@needs_browser
def test_missing_plotly_fails(checked):
    proc, results, _ = checked
    r = results["missing_script.html"]
    assert not r["ok"]
    assert (r["figures_rendered"], r["figures_expected"]) == (0, 1)
    assert any("no-such-plotly.min.js" in f and "ERR_FILE_NOT_FOUND" in f for f in r["failed_requests"])
    assert "FAIL missing_script.html: figures 0/1 rendered" in proc.stdout


@needs_browser
def test_remote_script_fails(checked):
    _, results, _ = checked
    r = results["remote_script.html"]
    assert not r["ok"]
    assert r["figures_rendered"] == 0
    assert any("cdn.plot.ly" in f and "remote host" in f for f in r["failed_requests"])


@needs_browser
def test_javascript_and_tex_errors_fail(checked):
    _, results, _ = checked
    r = results["js_error.html"]
    assert not r["ok"]
    assert r["figures_rendered"] == 1 and r["failed_requests"] == []
    assert any("undefinedFunctionOfTheBook" in c for c in r["console_errors"])
    assert not r["math_ok"]
    assert any("TeX error" in p and "undefinedmacro" in p for p in r["problems"])


@needs_browser
def test_exit_code_is_nonzero_on_failure(checked):
    proc, _, _ = checked
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1/4 page(s) passed" in proc.stdout


def test_skip_if_no_browser(tmp_path):
    (tmp_path / "page.html").write_text("<html><body></body></html>")
    proc = _run("--book", str(tmp_path), "--chromium", str(tmp_path / "no-such-chromium"),
                "--skip-if-no-browser", "page")
    assert proc.returncode == 0 and "skipping the browser check" in proc.stdout
    proc = _run("--book", str(tmp_path), "--chromium", str(tmp_path / "no-such-chromium"), "page")
    assert proc.returncode == 2


def test_skip_if_the_browser_cannot_start(tmp_path):
    """A Chromium that exists but does not start (here: a program that exits at once) is skipped with
    --skip-if-no-browser, as a missing one is; without it, exit code 2."""
    (tmp_path / "page.html").write_text("<html><body></body></html>")
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 1\n")
    broken.chmod(0o755)
    proc = _run("--book", str(tmp_path), "--chromium", str(broken), "--skip-if-no-browser", "page")
    assert proc.returncode == 0 and "cannot start" in proc.stdout and "skipping the browser check" in proc.stdout
    assert _run("--book", str(tmp_path), "--chromium", str(broken), "page").returncode == 2


def test_pages_of_the_toc_and_page_names(tmp_path):
    (tmp_path / "executed").mkdir()
    for name in ("intro", "search", "genindex", "references", "executed/03_bias_evidence"):
        (tmp_path / f"{name}.html").write_text("<html></html>")
    (tmp_path / "searchindex.js").write_text(
        'Search.setIndex({"alltitles": {}, "docnames": ["executed/03_bias_evidence", "intro", '
        '"references"], "envversion": {}})')
    assert cbb.toc_pages(tmp_path) == ["executed/03_bias_evidence.html", "intro.html", "references.html"]
    assert cbb.resolve_page(tmp_path, "03_bias_evidence") == "executed/03_bias_evidence.html"
    assert cbb.resolve_page(tmp_path, "executed/03_bias_evidence") == "executed/03_bias_evidence.html"
    with pytest.raises(cbb.UsageError):
        cbb.resolve_page(tmp_path, "04_missing")


def test_expected_figures_counts_the_source_notebook(tmp_path):
    (tmp_path / "p.html").write_text('<div id="a" class="plotly-graph-div gdrt-figure"></div>')
    assert cbb.expected_figures(tmp_path, "p.html") == (1, "page source")
    (tmp_path / "_sources").mkdir()
    nb = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "display_data", "data": {"application/vnd.plotly.v1+json": {}}},
        {"output_type": "display_data", "data": {"application/vnd.plotly.v1+json": {},
                                                   "text/html": ['<div class="plotly-graph-div">']}}]}]}
    (tmp_path / "_sources" / "p.ipynb").write_text(json.dumps(nb))
    assert cbb.expected_figures(tmp_path, "p.html") == (2, "source notebook")
