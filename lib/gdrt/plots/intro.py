"""Figures of chapter 1 (the catalog trie)."""

from __future__ import annotations

from plotly.subplots import make_subplots


def path_widths_figure(widths):
    """One title's path through the catalog trie (``gdrt.intro.path_widths``): bars = tokens a beam may
    choose from at each step, line = catalog titles still reachable after the step (both log scale)."""
    steps = list(widths.index)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=steps, y=widths["allowed"], name="allowed next tokens", marker_color="#1f77b4",
                customdata=widths["token"], hovertemplate="step %{x}: %{y} allowed<br>took %{customdata}<extra></extra>")
    fig.add_scatter(x=steps, y=widths["titles reachable"], name="titles still reachable", mode="lines+markers",
                    line_color="#d62728", secondary_y=True,
                    hovertemplate="after step %{x}: %{y} titles<extra></extra>")
    fig.update_yaxes(type="log", title_text="allowed next tokens", secondary_y=False)
    fig.update_yaxes(type="log", title_text="titles still reachable", secondary_y=True)
    fig.update_layout(height=360, template="plotly_white", margin=dict(l=60, r=60, t=30, b=50),
                      xaxis_title="decoding step (response token)", legend=dict(orientation="h", y=1.12))
    return fig
