"""The book's plotly renderer: small HTML calling the page's global Plotly, plus the JSON for Lab."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

import gdrt.plots  # noqa: F401  (registers the renderer)
from gdrt.plots._renderer import PLOTLY_MIME, GdrtRenderer


def _fig(**layout):
    return go.Figure(go.Bar(x=["g1", "g2", "g3"], y=[0.5, 0.3, 0.2], name="top-1 share"), layout=layout)


def _bundle(fig):
    return pio.renderers._build_mime_bundle(fig.to_dict(), "gdrt")


def _fig_json_from_html(markup: str) -> dict:
    m = re.search(r"var fig = (\{.*\});\n", markup)
    assert m, markup[:500]
    return json.loads(m.group(1))


def test_registered_and_default():
    assert "gdrt" in pio.renderers
    assert pio.renderers.default == "gdrt"
    bundle = _fig()._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain", PLOTLY_MIME}


def test_html_is_a_div_and_a_newplot_call_on_the_global_plotly():
    markup = _bundle(_fig())["text/html"]
    div = re.match(r'<div id="(gdrt-fig-[0-9a-f]{12})" class="plotly-graph-div gdrt-figure" ', markup)
    assert div, markup[:200]
    div_id = div.group(1)
    assert f'var id = "{div_id}";' in markup
    assert "Plotly.newPlot(el, fig.data, fig.layout, fig.config)" in markup
    assert markup.count("<script") == 1 and "<script src" not in markup.replace('<script type="text/javascript">', "")
    assert "cdn" not in markup.lower() and "https://" not in markup and "http://" not in markup
    assert len(markup) < 20_000, len(markup)   # plotly.js itself is 4.8 MB: it must not be inlined


def test_html_carries_the_figure():
    fig = _fig(title={"text": "Top-1 share"})
    spec = _fig_json_from_html(_bundle(fig)["text/html"])
    assert spec["data"][0]["type"] == "bar"
    assert spec["data"][0]["x"] == ["g1", "g2", "g3"]
    assert spec["data"][0]["y"] == [0.5, 0.3, 0.2]
    assert spec["layout"]["title"]["text"] == "Top-1 share"
    assert spec["config"]["responsive"] is True


def test_plotly_json_for_jupyterlab_matches_html():
    bundle = _bundle(_fig(title={"text": "T"}))
    lab = bundle[PLOTLY_MIME]
    assert lab == _fig_json_from_html(bundle["text/html"])
    assert lab["data"][0]["y"] == [0.5, 0.3, 0.2]
    assert bundle["text/plain"] == "<plotly figure: T>"


def test_size_from_layout_else_default():
    assert 'style="height:450px; width:100%;"' in _bundle(_fig())["text/html"]
    assert 'style="height:300px; width:640px;"' in _bundle(_fig(height=300, width=640))["text/html"]


def test_div_ids_are_unique():
    ids = {re.search(r'id="([^"]+)"', _bundle(_fig())["text/html"]).group(1) for _ in range(5)}
    assert len(ids) == 5


def test_script_cannot_be_closed_by_figure_text():
    text = "</script><script>alert(1)</script><!-- x"
    markup = _bundle(_fig(title={"text": text}))["text/html"]
    assert markup.count("</script>") == 1 and markup.endswith("</script>") and "<!--" not in markup
    assert _fig_json_from_html(markup)["layout"]["title"]["text"] == text


def test_numpy_arrays_serialise():
    fig = go.Figure(go.Scatter(x=np.arange(4), y=np.linspace(0.0, 1.0, 4)))
    bundle = _bundle(fig)
    spec = _fig_json_from_html(bundle["text/html"])
    assert spec["data"][0]["type"] == "scatter"
    assert bundle[PLOTLY_MIME]["data"][0]["type"] == "scatter"


def test_without_plotly_json():
    bundle = GdrtRenderer(include_plotly_json=False).to_mimebundle(_fig().to_dict())
    assert PLOTLY_MIME not in bundle and "Plotly.newPlot" in bundle["text/html"]


@pytest.mark.parametrize("config", [{"displayModeBar": False}])
def test_config_is_merged(config):
    spec = _fig_json_from_html(GdrtRenderer(config=config).to_mimebundle(_fig().to_dict())["text/html"])
    assert spec["config"] == {"responsive": True, "displaylogo": False, "displayModeBar": False}


# ---------------------------------------------------------------- the book shows it (integration)

ROOT = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).parent / "jupyter-book"


@pytest.mark.skipif(not JB.exists(), reason="jupyter-book is not installed next to this Python")
def test_book_renders_the_figure_offline(tmp_path):
    """A one-page book with the project's _config.yml: figure HTML kept, plotly.js and MathJax local."""
    import nbformat

    book = tmp_path / "book"
    (book / "executed").mkdir(parents=True)
    for name in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / name, book / name)
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: Chapters\n    numbered: true\n"
        "    chapters:\n      - file: executed/01_page\n"
    )
    (book / "intro.md").write_text("# Intro\n")
    (book / "vendor" / "mathjax").mkdir(parents=True)
    shutil.copy(Path(pio.__file__).parents[1] / "package_data" / "plotly.min.js", book / "vendor" / "plotly.min.js")
    (book / "vendor" / "mathjax" / "tex-chtml.js").write_text("/* stand-in */\n")

    bundle = _bundle(_fig(title={"text": "Top-1 share"}))
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A page\n\n(eq-1)=\n$$ a = b \\tag{1} $$\n\nSee {ref}`Eq. (1) <eq-1>`."),
        nbformat.v4.new_code_cell(
            "fig", metadata={"mystnb": {"figure": {"caption": "Paper Fig. 3. Shares.", "name": "fig-3"}}},
            outputs=[nbformat.v4.new_output("display_data", data=bundle)], execution_count=1,
        ),
    ]
    nbformat.write(nb, book / "executed" / "01_page.ipynb")

    run = subprocess.run([str(JB), "build", str(book), "-W", "-n", "--keep-going"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    page = (book / "_build" / "html" / "executed" / "01_page.html").read_text()
    div_id = re.search(r'<div id="(gdrt-fig-[0-9a-f]+)"', bundle["text/html"]).group(1)
    assert f'<div id="{div_id}"' in page and "Plotly.newPlot(el" in page
    assert '<script src="../_static/plotly.min.js' in page
    assert re.search(r'<script defer="defer" src="\.\./_static/mathjax/tex-chtml\.js', page)
    assert (book / "_build" / "html" / "_static" / "plotly.min.js").stat().st_size > 1_000_000
    assert "Fig. 1.1" in page and "Paper Fig. 3. Shares." in page
    scripts = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], scripts
    assert "cdn" not in page.lower()
