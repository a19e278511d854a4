"""Figures of the performance appendix: how the cost grows with the catalog and the history, and the
measured ratios against their targets."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .training import _layout

SERIES_COLORS = {"ours": "#1f77b4", "HF generate + trie": "#d62728", "captum FeatureAblation": "#ff7f0e"}
PANELS = [("cbs_scaling", "catalog titles", "CBS: catalog size", "catalog titles", "log"),
          ("cbs_scaling", "history items", "CBS: history length", "history items", "linear"),
          ("attribution", "history items", "attribution: history length", "history items", "linear")]


def scaling(frame):
    """Seconds per prompt (top) and peak memory above the start (bottom) against catalog size and
    history length, one line per implementation; panels without data are left empty."""
    fig = make_subplots(rows=2, cols=3, subplot_titles=[p[2] for p in PANELS], vertical_spacing=0.14,
                        horizontal_spacing=0.07)
    shown = set()
    for col, (bench, axis, _, xtitle, xtype) in enumerate(PANELS, start=1):
        sub = frame[(frame["benchmark"] == bench) & (frame["axis"] == axis)] if len(frame) else frame
        for series in (sub["series"].unique() if len(sub) else []):
            s = sub[sub["series"] == series].sort_values("x")
            for row, key in ((1, "seconds"), (2, "peak_mb")):
                fig.add_scatter(x=s["x"], y=s[key], mode="lines+markers", name=series, legendgroup=series,
                                showlegend=series not in shown, line_color=SERIES_COLORS.get(series), row=row, col=col,
                                hovertemplate=f"{series}<br>{xtitle} %{{x:,}}<br>%{{y:.3g}}<extra></extra>")
                shown.add(series)
        fig.update_xaxes(title_text=xtitle, type=xtype, row=2, col=col)
        fig.update_xaxes(type=xtype, row=1, col=col)
    fig.update_yaxes(title_text="seconds per prompt / row", row=1, col=1)
    fig.update_yaxes(title_text="peak memory (MB)", row=2, col=1)
    return _layout(fig, height=560)


def target_ratios(results):
    """Each checked ratio (a target with unit "x") as how far it lies past its threshold: measured /
    target for "at least" targets, target / measured for "at most" ones, so that a bar past 1 meets
    its target (log axis; green met, red missed)."""
    from ..perf import status

    labels, values, colors = [], [], []
    for res in results.values():
        for t in res["targets"]:
            if t.get("unit") != "x" or status(t) == "reported" or t["op"] == "==":
                continue
            v, th = float(t["value"]), float(t["threshold"])
            labels.append(t["label"])
            values.append(v / th if t["op"] == ">=" else th / max(v, 1e-12))
            colors.append("#2ca02c" if status(t) == "met" else "#d62728")
    fig = go.Figure(go.Bar(y=labels, x=values, orientation="h", marker_color=colors,
                           hovertemplate="%{y}<br>%{x:.2f} times the target<extra></extra>"))
    fig.add_vline(x=1.0, line_dash="dash", line_color="black")
    fig.update_yaxes(autorange="reversed")
    _layout(fig, height=max(260, 34 * len(labels) + 90), xaxis_title="measured against target (past 1 = met)",
            xaxis_type="log", showlegend=False)
    fig.update_layout(margin=dict(l=430, r=20, t=30, b=50))
    return fig
