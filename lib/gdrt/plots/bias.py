"""Figures of chapter 3 (the evidence of language bias) and of chapter 7's first part: attribution
ratios, contributions, item-group shares, shares over training, co-occurrence rates, group losses."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .training import GROUP_COLORS, METHOD_COLORS, _layout

SOURCE_COLORS = {"task": "#ff7f0e", "prefix": "#9467bd", "interaction": "#2ca02c"}


def _color(name, i=0):
    return METHOD_COLORS.get(name, GROUP_COLORS[i % len(GROUP_COLORS)])


def attribution_ratios(table, paper_before: float | None = None, paper_after: dict | None = None):
    """Paper Fig. 2 / 7: the ratios task : interaction (left) and prefix : interaction (right) per
    model, bars with bootstrap intervals; the paper's task : interaction before SFT (dotted line) and
    the values it gives after SFT (``{dataset: ratio}``, one dashed line each; two examples, not a
    range) where given. ``table``: :func:`gdrt.diagnostics.ratio_table`."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("task : interaction", "prefix : interaction"))
    names = list(table.index)
    for col, (key, lo, hi) in enumerate((("task:interaction", "task lo", "task hi"),
                                         ("prefix:interaction", "prefix lo", "prefix hi")), start=1):
        y = table[key].to_numpy(dtype=float)
        err_hi = table[hi].to_numpy(dtype=float) - y
        err_lo = y - table[lo].to_numpy(dtype=float)
        fig.add_bar(x=names, y=y, marker_color=[_color(n, i) for i, n in enumerate(names)], showlegend=False,
                    error_y=dict(type="data", array=err_hi, arrayminus=err_lo, visible=True),
                    hovertemplate="%{x}: %{y:.2f}<extra></extra>", row=1, col=col)
        fig.add_hline(y=1.0, line_color="#7f7f7f", line_width=1, row=1, col=col)
    for name, value in (paper_after or {}).items():
        fig.add_hline(y=value, line_dash="dash", line_color="#d62728", line_width=1, row=1, col=1,
                      annotation_text=f"paper, {name} after SFT", annotation_position="top left")
    if paper_before is not None:
        fig.add_hline(y=paper_before, line_dash="dot", line_color="#7f7f7f", row=1, col=1,
                      annotation_text="paper, before SFT", annotation_position="bottom right")
    fig.update_yaxes(title_text="ratio of mean |contribution|", row=1, col=1)
    return _layout(fig, height=400)


def contributions(frame):
    """Per-row contributions (drop in the target's log-probability, nats) of the task, the
    interaction (sum over history items) and the prefix, one box per model and feature."""
    fig = go.Figure()
    for i, (name, sub) in enumerate(frame.groupby("model", sort=False)):
        fig.add_box(x=sub["feature"], y=sub["value"], name=name, marker_color=_color(name, i), boxpoints="all",
                    jitter=0.4, pointpos=0, customdata=sub["row"], hovertemplate="row %{customdata}: %{y:.3f}")
    fig.add_hline(y=0, line_color="#7f7f7f", line_width=1)
    return _layout(fig, boxmode="group", yaxis_title="contribution (nats)")


def group_shares(table, k: int = 10):
    """Paper Fig. 3 / 8: per item group, the share of top-1 (left) and top-``k`` (right)
    recommendations of each model (bars), against the test targets' (dashed) and the histories'
    (dotted) shares. ``table``: :func:`gdrt.diagnostics.group_share_table`."""
    cols = [c for c in table.columns if c.startswith("group ")]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("top-1", f"top-{k}"), shared_yaxes=True)
    models = [s for s in dict.fromkeys(table["source"]) if s not in ("test targets", "histories")]
    for col, lst in ((1, "top-1"), (2, f"top-{k}")):
        for i, name in enumerate(models):
            row = table[(table["source"] == name) & (table["list"] == lst)]
            if len(row):
                fig.add_bar(x=cols, y=row[cols].to_numpy()[0], name=name, marker_color=_color(name, i),
                            legendgroup=name, showlegend=col == 1, row=1, col=col)
        for src, dash, color in (("test targets", "dash", "black"), ("histories", "dot", "#8c564b")):
            row = table[table["source"] == src]
            fig.add_scatter(x=cols, y=row[cols].to_numpy()[0], name=src, mode="lines+markers", legendgroup=src,
                            showlegend=col == 1, line=dict(color=color, dash=dash), row=1, col=col)
    fig.update_yaxes(tickformat=".0%", row=1, col=1, title_text="share")
    return _layout(fig, barmode="group", height=400)


def reference_trace(frame, target_share: float | None = None):
    """Paper Fig. 4 / 9 from validation lists: the top-1 share of item group 1 (left) and NDCG@5
    (right) against the optimizer step, one line per method and seed (:func:`gdrt.replication.trace`
    or :func:`gdrt.book.validation_trace`); dashed: the test targets' group-1 share."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("top-1 share of item group 1", "NDCG@5"))
    keys = ["method", "seed"] if "seed" in frame.columns else ["method"]
    for i, (key, sub) in enumerate(frame.groupby(keys, sort=False) if len(frame) else []):
        key = key if isinstance(key, tuple) else (key,)
        name = " seed ".join(str(k) for k in key)
        dash = [None, "dot", "dash", "longdash"][(int(key[1]) if len(key) > 1 else 0) % 4]
        for col, y in ((1, "top-1 group-1 share"), (2, "NDCG@5")):
            fig.add_scatter(x=sub["step"], y=sub[y], mode="lines+markers", name=name, legendgroup=name,
                            showlegend=col == 1, line=dict(color=_color(key[0], i), dash=dash), row=1, col=col)
    if target_share is not None:
        fig.add_hline(y=target_share, line_dash="dash", line_color="#7f7f7f", row=1, col=1,
                      annotation_text="test targets", annotation_position="bottom right")
    fig.update_xaxes(title_text="optimizer step")
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    return _layout(fig, height=400)


def cooccurrence_rates(rates: dict):
    """Paper Fig. 5: the distribution of co-occurrence rates of the distinct (source token, target
    token) pairs of each kind, as box plots on a log axis (one point per pair on hover)."""
    fig = go.Figure()
    for kind, r in rates.items():
        r = np.asarray(r, dtype=float)
        fig.add_box(y=r, name=kind, marker_color=SOURCE_COLORS.get(kind), boxpoints=False, boxmean=True)
    return _layout(fig, yaxis_type="log", yaxis_title="co-occurrence rate of a pair (share of target positions)",
                   showlegend=False)


def group_losses(table):
    """Paper Fig. 6: mean held-out token loss per relevance group (group 1 = most predictable from the
    task prompt alone), one bar per model. ``table``: :func:`gdrt.diagnostics.group_loss_table`."""
    fig = go.Figure()
    for i, (name, sub) in enumerate(table.groupby("model", sort=False)):
        fig.add_bar(x=[f"group {g}" for g in sub["group"]], y=sub["loss"], name=name, marker_color=_color(name, i),
                    customdata=sub["tokens"], hovertemplate="%{x}: %{y:.3f} nats (%{customdata} tokens)")
    return _layout(fig, barmode="group", yaxis_title="mean token loss (nats)")


def paired_differences(table, a: str, b: str):
    """Chapter 7: per statistic, the difference ``b - a`` (dot) with its paired bootstrap interval
    (bar), one panel per statistic since their scales differ; the grey line is no difference.
    ``table``: :func:`gdrt.diagnostics.paired_table`."""
    names = list(table.index)
    if not names:  # nothing to compare yet (e.g. a reference experiment whose runs have not finished)
        fig = go.Figure()
        fig.add_annotation(text=f"no {b} - {a} comparison yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        return _layout(fig, height=160)
    fig = make_subplots(rows=len(names), cols=1, subplot_titles=names, vertical_spacing=0.5 / max(1, len(names)))
    for i, name in enumerate(names, start=1):
        r = table.loc[name]
        color = "#2ca02c" if r["hi"] < 0 else "#d62728" if r["lo"] > 0 else "#7f7f7f"
        fig.add_scatter(x=[r["difference"]], y=[""], mode="markers", marker=dict(size=11, color=color),
                        error_x=dict(type="data", array=[r["hi"] - r["difference"]],
                                     arrayminus=[r["difference"] - r["lo"]], visible=True),
                        showlegend=False, row=i, col=1,
                        hovertemplate=(f"{name}<br>{a}: {r[a]:.4g}<br>{b}: {r[b]:.4g}<br>"
                                       f"{b} - {a}: %{{x:.4g}} [{r['lo']:.4g}, {r['hi']:.4g}]<extra></extra>"))
        fig.add_vline(x=0, line_color="#7f7f7f", line_width=1, row=i, col=1)
    fig.update_xaxes(zeroline=False)
    return _layout(fig, height=110 * len(names) + 60)


def weight_sensitivity(table):
    """Paper Fig. 10/11's knobs, on the objective: per G (one panel each), the weight Q(g) of every
    group against tau (log axis). ``table``: :func:`gdrt.diagnostics.weight_sensitivity`."""
    Gs = sorted(table["G"].unique())
    fig = make_subplots(rows=1, cols=len(Gs), subplot_titles=[f"G = {G}" for G in Gs], shared_yaxes=True)
    for col, G in enumerate(Gs, start=1):
        sub = table[table["G"] == G]
        for g in sorted(sub["group"].unique()):
            row = sub[sub["group"] == g].sort_values("tau")
            fig.add_scatter(x=row["tau"], y=row["Q(g)"], mode="lines+markers", name=f"group {g}",
                            legendgroup=f"group {g}", showlegend=col == len(Gs),
                            line_color=GROUP_COLORS[(g - 1) % len(GROUP_COLORS)], row=1, col=col)
        fig.update_xaxes(type="log", title_text="τ", row=1, col=col)
    fig.update_yaxes(title_text="Q(g)", row=1, col=1)
    return _layout(fig, height=380)
