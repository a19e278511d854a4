"""Figures of chapters 1, 2 and 5: relevance, groups, training curves, evaluation."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

GROUP_COLORS = ["#d62728", "#ff7f0e", "#bcbd22", "#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#17becf"]
METHOD_COLORS = {"base": "#7f7f7f", "sft": "#d62728", "gdrt": "#1f77b4", "d3": "#ff7f0e", "reweight": "#bcbd22",
                 "msl": "#9467bd", "msl+gdrt": "#17becf", "sasrec": "#8c564b"}


def _layout(fig, title=None, height=380, **kw):
    fig.update_layout(title=title, height=height, template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), **kw)
    return fig


def relevance_histogram(values, edges=None, bins=60):
    """Histogram of token relevance r(y_t) (Eq. 3) with the group boundaries as dashed lines."""
    fig = go.Figure(go.Histogram(x=np.asarray(values), nbinsx=bins, marker_color="#1f77b4", name="tokens"))
    for e in (edges if edges is not None else []):
        fig.add_vline(x=float(e), line_dash="dash", line_color="#d62728")
    return _layout(fig, xaxis_title="r(y_t) = log P(y_t | task, N/A, y_<t)", yaxis_title="target tokens",
                   showlegend=False)


def group_counts(counts, mean_relevance):
    """Bar per group: tokens in it, with its mean relevance on hover."""
    g = [f"group {i + 1}" for i in range(len(counts))]
    fig = go.Figure(go.Bar(x=g, y=counts, marker_color=GROUP_COLORS[: len(counts)],
                           customdata=np.asarray(mean_relevance), hovertemplate="%{x}: %{y} tokens<br>mean r %{customdata:.2f}"))
    return _layout(fig, yaxis_title="target tokens", showlegend=False)


def loss_curves(logs: dict, smooth: int = 5):
    """Training loss per step for each method (moving average over ``smooth`` steps)."""
    fig = go.Figure()
    for name, log in logs.items():
        steps = [h["step"] for h in log["loss"]]
        loss = np.asarray([h["loss"] for h in log["loss"]], dtype=float)
        if len(loss) >= smooth > 1:
            loss = np.convolve(loss, np.ones(smooth) / smooth, mode="same")
        fig.add_scatter(x=steps, y=loss, mode="lines", name=name, line_color=METHOD_COLORS.get(name))
    return _layout(fig, xaxis_title="optimizer step", yaxis_title="training loss")


def group_curves(log: dict, smooth: int = 5):
    """GDRT's per-group loss L(g) (left) and weight Q(g) (right) over training, one line per group."""
    rows = log["groups"]
    G = len(rows[0]["weights"]) if rows else 0
    fig = make_subplots(rows=1, cols=2, subplot_titles=("L(g): mean token loss", "Q(g) = softmax(L/τ)"))
    x = np.arange(len(rows))
    for g in range(G):
        for col, key in ((1, "group_loss"), (2, "weights")):
            y = np.asarray([np.nan if r[key][g] is None else r[key][g] for r in rows], dtype=float)
            if len(y) >= smooth > 1:
                ok = ~np.isnan(y)
                y[ok] = np.convolve(y[ok], np.ones(smooth) / smooth, mode="same")
            fig.add_scatter(x=x, y=y, mode="lines", name=f"group {g + 1}", legendgroup=str(g),
                            showlegend=col == 1, line_color=GROUP_COLORS[g % len(GROUP_COLORS)], row=1, col=col)
    fig.update_xaxes(title_text="micro-batch")
    return _layout(fig, height=380)


def validation_curves(logs: dict):
    """Validation NDCG@5 at each evaluation, per method."""
    fig = go.Figure()
    for name, log in logs.items():
        v = log["validation"]
        fig.add_scatter(x=[h["step"] for h in v], y=[h["ndcg@5"] for h in v], mode="lines+markers", name=name,
                        line_color=METHOD_COLORS.get(name))
    return _layout(fig, xaxis_title="optimizer step", yaxis_title="validation NDCG@5")


def group_shares(metrics: dict):
    """Paper Fig. 3 style: top-1 recommendations per item group for each method (bars), with the test
    targets' and the histories' shares (lines)."""
    fig = go.Figure()
    first = next(iter(metrics.values()))
    G = len(first["top1_group_share"])
    x = [f"group {g + 1}" for g in range(G)]
    for name, m in metrics.items():
        fig.add_bar(x=x, y=m["top1_group_share"], name=f"{name}: top-1", marker_color=METHOD_COLORS.get(name))
    fig.add_scatter(x=x, y=first["target_group_share"], name="test targets", mode="lines+markers",
                    line=dict(color="black", dash="dash"))
    fig.add_scatter(x=x, y=first["history_group_share"], name="histories", mode="lines+markers",
                    line=dict(color="#8c564b", dash="dot"))
    return _layout(fig, barmode="group", yaxis_title="share", yaxis_tickformat=".0%")


def bar(labels, values, title=None, ytitle=None, fmt=None):
    """A plain bar chart (chapter 2's distributions)."""
    fig = go.Figure(go.Bar(x=list(labels), y=list(values), marker_color="#1f77b4"))
    return _layout(fig, title=title, yaxis_title=ytitle, yaxis_tickformat=fmt, showlegend=False)


def accuracy_vs_bias(metrics: dict, k: int = 10, target_share: float | None = None):
    """One point per method: share of top-1 recommendations in item group 1 (x; the bias) against
    NDCG@k (y); the test targets' group-1 share as a dashed vertical line (no bias)."""
    fig = go.Figure()
    for name, m in metrics.items():
        fig.add_scatter(x=[m["top1_group_share"][0]], y=[m[f"ndcg@{k}"]], mode="markers+text", text=[name],
                        textposition="top center", name=name, marker=dict(size=12, color=METHOD_COLORS.get(name)))
    if target_share is not None:
        fig.add_vline(x=target_share, line_dash="dash", line_color="black",
                      annotation_text="test targets", annotation_position="bottom right")
    return _layout(fig, xaxis_title="top-1 recommendations in item group 1", xaxis_tickformat=".0%",
                   yaxis_title=f"NDCG@{k}", showlegend=False)