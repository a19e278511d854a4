"""Figures of chapter 2 (the data): sliding windows, history lengths, title lengths, popular targets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

SPLIT_COLORS = {"train": "#1f77b4", "valid": "#ff7f0e", "test": "#2ca02c"}
_OTHER = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#bcbd22"]


def _layout(fig, title=None, height=380, **kw):
    fig.update_layout(title=title, height=height, template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), **kw)
    return fig


def _color(name: str, i: int) -> str:
    return SPLIT_COLORS.get(name.split("_")[0], _OTHER[i % len(_OTHER)])


def window_diagram(items: Sequence, windows: Sequence[tuple[int, int]]):
    """One row per window (``(start, end)`` slices of ``items``, as :func:`gdrt.data.windows.user_windows`
    returns), one column per position of the user's sequence: history cells blue, the target red,
    the item id written in each cell."""
    n = len(items)
    z = np.full((len(windows), n), np.nan)
    text = np.full((len(windows), n), "", dtype=object)
    for w, (start, end) in enumerate(windows):
        z[w, start : end - 1] = 0.0
        z[w, end - 1] = 1.0
        text[w, start:end] = [str(x) for x in items[start:end]]
    labels = [f"window {w + 1}" for w in range(len(windows))]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(1, n + 1)), y=labels, text=text, texttemplate="%{text}", showscale=False,
        colorscale=[[0, "#aec7e8"], [0.5, "#aec7e8"], [0.5, "#d62728"], [1, "#d62728"]], zmin=0, zmax=1,
        xgap=2, ygap=2, hovertemplate="position %{x}<br>item %{text}<extra>%{y}</extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="position in the user's time-sorted sequence", dtick=1)
    return _layout(fig, height=120 + 40 * len(windows))


def history_lengths(splits: Mapping[str, Sequence], max_len: int = 10):
    """Share of each split's rows by history length (grouped bars, one colour per split)."""
    fig = go.Figure()
    x = list(range(1, max_len + 1))
    for i, (name, rows) in enumerate(splits.items()):
        c = Counter(len(r.history) for r in rows)
        total = sum(c.values()) or 1
        fig.add_bar(x=x, y=[c.get(k, 0) / total for k in x], name=f"{name} ({total} rows)",
                    marker_color=_color(name, i), hovertemplate="history %{x}: %{y:.1%}<extra>" + name + "</extra>")
    fig.update_yaxes(tickformat=".0%")
    return _layout(fig, xaxis_title="history length (items before the target)", yaxis_title="share of rows",
                   barmode="group", xaxis=dict(dtick=1), legend=dict(x=0.02, y=0.98))


def title_lengths(lengths, unit: str = "tokens"):
    """Histogram of the responses' lengths (``'"Title"'`` + EOS) with the median marked."""
    lengths = np.asarray(lengths)
    fig = go.Figure(go.Histogram(x=lengths, marker_color="#1f77b4", name="titles",
                                 xbins=dict(start=lengths.min() - 0.5, end=lengths.max() + 0.5, size=1)))
    med = float(np.median(lengths))
    fig.add_vline(x=med, line_dash="dash", line_color="#d62728", annotation_text=f"median {med:g}")
    return _layout(fig, xaxis_title=f"response length ({unit})", yaxis_title="distinct titles", showlegend=False)


def target_popularity(popularity, n_items: int | None = None, name: str = "targets", label: str = "targets"):
    """Left: how often each item is a target, by rank (log-log). Right: the share of all targets
    that go to the top share of items (items never a target count when ``n_items``, the catalog's
    size, is given), against the uniform diagonal. ``name`` labels the curve (e.g. the split)."""
    counts = np.asarray(popularity["targets"], dtype=float)
    n = n_items if n_items is not None else len(counts)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("targets per item, by rank", "cumulative share of targets"))
    titles = popularity["title"] if "title" in popularity else popularity["item"].astype(str)
    fig.add_scatter(x=np.arange(1, len(counts) + 1), y=counts, mode="markers", marker=dict(size=4, color="#1f77b4"),
                    text=titles, hovertemplate="rank %{x}: %{y} " + label + "<br>%{text}<extra></extra>",
                    showlegend=False, row=1, col=1)
    x = np.concatenate([[0.0], np.arange(1, len(counts) + 1) / n])
    y = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
    if len(counts) < n:
        x, y = np.append(x, 1.0), np.append(y, 1.0)
    fig.add_scatter(x=x, y=y, mode="lines", line_color="#d62728", name=name,
                    hovertemplate="top %{x:.1%} of items: %{y:.1%} of targets<extra></extra>", row=1, col=2)
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#7f7f7f", dash="dot"), name="uniform",
                    hoverinfo="skip", row=1, col=2)
    fig.update_xaxes(type="log", title_text="item rank", row=1, col=1)
    fig.update_yaxes(type="log", title_text=label, row=1, col=1)
    fig.update_xaxes(tickformat=".0%", title_text="share of items (most frequent first)", row=1, col=2)
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    return _layout(fig, height=400, legend=dict(x=0.75, y=0.1))
