"""The book's plotly renderer, registered as ``"gdrt"`` and made the default on import.

Why: plotly 7's default output is a MIME type the book cannot show (the figure silently vanishes),
and plotly's ``"notebook"`` renderer embeds the 4.8 MB plotly.js in every output. This renderer emits
a small bundle instead:

- ``text/html``: a ``<div>`` and a ``<script>`` that calls ``Plotly.newPlot`` with the *global*
  ``Plotly`` the page already loaded. In the book that is the local ``plotly.min.js`` listed in
  ``html_js_files`` (``_config.yml``; copied into ``vendor/`` by ``scripts/vendor_assets.sh``), so the
  built pages stay interactive and offline. The book picks ``text/html`` from the bundle.
- ``application/vnd.plotly.v1+json``: the figure itself, which JupyterLab's bundled plotly extension
  renders (it ranks above ``text/html`` there), so figures also show in Lab.
- ``text/plain``: a one-line stand-in for consoles.
"""

from __future__ import annotations

import html
import json
import uuid

import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer
from plotly.io.json import to_json_plotly

__all__ = ["GdrtRenderer", "RENDERER_NAME", "register"]

RENDERER_NAME = "gdrt"
PLOTLY_MIME = "application/vnd.plotly.v1+json"

# Draws once the page is parsed (so the div has its final width: the theme's sidebars come later in
# the page), using the global Plotly; redraws to fit when the div changes size (sidebar toggles, window
# resizes); if plotly.js never arrived, the div says so instead of staying blank.
_SCRIPT = """(function () {{
  var id = "{div_id}";
  var fig = {fig};
  function draw() {{
    var el = document.getElementById(id);
    if (!el) return;
    if (!window.Plotly) {{
      el.textContent = "This figure needs plotly.js, which this page did not load.";
      return;
    }}
    Plotly.newPlot(el, fig.data, fig.layout, fig.config).then(function () {{
      if (fig.frames) return Plotly.addFrames(el, fig.frames);
    }});
    if (window.ResizeObserver) {{
      var pending = false;
      new ResizeObserver(function () {{
        if (pending) return;
        pending = true;
        window.requestAnimationFrame(function () {{ pending = false; Plotly.Plots.resize(el); }});
      }}).observe(el);
    }}
  }}
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
}})();"""


def _css_size(value, default: str) -> str:
    if value is None:
        return default
    try:
        return f"{float(value):g}px"
    except (TypeError, ValueError):
        return str(value)


def _script_safe(text: str) -> str:
    """Make JSON text safe inside ``<script>``: no ``</script>`` or ``<!--`` can end or confuse it.

    ``<`` only occurs inside JSON strings, where ``\\u003c`` is the same character in JSON and in JS.
    """
    return text.replace("<", "\\u003c")


class GdrtRenderer(MimetypeRenderer):
    """Small HTML (div + ``Plotly.newPlot`` on the page's global Plotly) plus the plotly JSON for Lab.

    ``config``: plotly.js config merged over ``{"responsive": True, "displaylogo": False}``.
    ``default_height``: CSS height of the figure's div when the layout sets none.
    ``include_plotly_json``: also emit ``application/vnd.plotly.v1+json`` (for JupyterLab).
    """

    def __init__(self, config=None, default_height="450px", include_plotly_json=True):
        self.config = dict(config) if config else {}
        self.default_height = default_height
        self.include_plotly_json = include_plotly_json

    def to_mimebundle(self, fig_dict):
        layout = fig_dict.get("layout", {}) or {}
        template_layout = (layout.get("template", {}) or {}).get("layout", {}) or {}
        config = {"responsive": True, "displaylogo": False, **self.config}
        fig = {"data": fig_dict.get("data", []), "layout": layout, "config": config}
        if fig_dict.get("frames"):
            fig["frames"] = fig_dict["frames"]
        fig_json = to_json_plotly(fig)

        div_id = f"gdrt-fig-{uuid.uuid4().hex[:12]}"
        width = _css_size(layout.get("width", template_layout.get("width")), "100%")
        height = _css_size(layout.get("height", template_layout.get("height")), self.default_height)
        markup = (
            f'<div id="{div_id}" class="plotly-graph-div gdrt-figure" '
            f'style="height:{html.escape(height)}; width:{html.escape(width)};"></div>\n'
            f'<script type="text/javascript">\n'
            f"{_SCRIPT.format(div_id=div_id, fig=_script_safe(fig_json))}\n"
            f"</script>"
        )

        title = layout.get("title", {})
        title = title.get("text") if isinstance(title, dict) else title
        bundle = {
            "text/html": markup,
            "text/plain": f"<plotly figure{': ' + str(title) if title else ''}>",
        }
        if self.include_plotly_json:
            bundle[PLOTLY_MIME] = json.loads(fig_json)
        return bundle


def register(make_default: bool = True) -> GdrtRenderer:
    """Register the renderer as ``"gdrt"`` (idempotent) and, by default, make it plotly's default."""
    renderer = GdrtRenderer()
    pio.renderers[RENDERER_NAME] = renderer
    if make_default:
        pio.renderers.default = RENDERER_NAME
    return renderer


register()
