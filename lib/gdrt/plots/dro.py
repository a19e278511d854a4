"""Figures of chapter 4, "Group DRO and Lemma 1". Each function returns a ``plotly.graph_objects.Figure``.

The numbers come from :mod:`gdrt.checks`, which calls the training code
(:mod:`gdrt.objectives.gdrt`); nothing here recomputes the lemma on its own.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from .. import checks

__all__ = [
    "conjugate_figure",
    "dual_curve",
    "kl_ball_cloud",
    "limits_figure",
    "tau_eta_figure",
    "weights_vs_tau",
    "worst_case_slider",
]

#: The paper's temperature grid (Sec. 4, hyper-parameters): marked on the tau axes.
PAPER_TAUS = (0.1, 0.2, 0.3, 0.5, 1.0)

_HEIGHT = 420


def _group_names(n):
    return [f"group {g + 1}" for g in range(n)]


def _layout(fig, title, x, y, height=_HEIGHT, **kw):
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, height=height, template="plotly_white",
                      margin=dict(l=60, r=20, t=60, b=50), **kw)
    return fig


def _mark_paper_taus(fig):
    for t in PAPER_TAUS:
        fig.add_vline(x=t, line=dict(color="lightgray", dash="dot", width=1))
    return fig


def worst_case_slider(losses, etas=(0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.2)) -> go.Figure:
    """The worst-case ``Q`` in the KL ball of radius ``eta`` (bars) against ``U`` (dashed), one slider
    step per ``eta``; hover shows each group's loss. ``eta = 0`` is ``U`` itself; radii at or above
    ``0.95 log G`` are dropped (the ball would hold nearly every distribution).

    Explained in chapter 4, "The setting".
    """
    L = np.asarray(losses, dtype=np.float64)
    n = L.size
    etas = [e for e in etas if e < 0.95 * math.log(n)]
    names = [f"{nm}<br>L = {v:.2f}" for nm, v in zip(_group_names(n), L)]
    fig = go.Figure()
    steps = []
    for k, eta in enumerate(etas):
        if eta == 0:
            tau, q = math.inf, np.full(n, 1.0 / n)
        else:
            tau = checks.tau_for_eta(L, eta)
            q = checks.closed_form_weights(L, tau)
        fig.add_bar(x=names, y=q, visible=(k == len(etas) // 2), marker_color="#1f77b4", name=f"eta={eta}",
                    hovertemplate="%{x}<br>Q = %{y:.3f}<extra></extra>", showlegend=False)
        title = (f"η = {eta:g}: τ = {tau:.3g}, E_Q[L] = {q @ L:.3f} "
                 f"(mean {L.mean():.3f}, worst {L.max():.3f})")
        steps.append(dict(method="update", label=f"{eta:g}",
                          args=[{"visible": [j == k for j in range(len(etas))]}, {"title": {"text": title}}]))
    fig.add_hline(y=1.0 / n, line=dict(dash="dash", color="gray"), annotation_text="U = 1/G",
                  annotation_position="top left")
    mid = len(etas) // 2
    _layout(fig, steps[mid]["args"][1]["title"]["text"], "", "Q(g)", height=460)
    fig.update_yaxes(range=[0, 1])
    fig.update_layout(sliders=[dict(active=mid, steps=steps, currentvalue=dict(prefix="radius η = "),
                                    pad=dict(t=40))])
    return fig


def kl_ball_cloud(losses, eta: float = 0.3, n_samples: int = 3000, seed: int = 0) -> go.Figure:
    """Random distributions ``Q`` (points: ``KL(Q||U)`` against ``E_Q[L]``), the closed form's frontier
    (curve: ``tau`` from large to small), the radius ``eta`` (vertical line) and the lemma's answer for
    it (star). No point lies above the curve.

    Explained in chapter 4, "The setting".
    """
    L = np.asarray(losses, dtype=np.float64)
    sample = checks.ball_sample(L, eta, n_samples=n_samples, seed=seed)
    kl, expected, inside = sample["kl"], sample["expected"], sample["inside"]
    sweep = checks.sweep_tau(L, np.geomspace(0.02, 200.0, 200))
    fig = go.Figure()
    fig.add_scatter(x=kl[~inside], y=expected[~inside], mode="markers", name="random Q outside the ball",
                    marker=dict(size=4, color="lightgray"))
    fig.add_scatter(x=kl[inside], y=expected[inside], mode="markers", name="random Q inside the ball",
                    marker=dict(size=4, color="#1f77b4", opacity=0.6))
    fig.add_scatter(x=sweep["eta"], y=sweep["expected"], mode="lines", name="softmax(L/τ), all τ",
                    line=dict(color="#d62728", width=3))
    fig.add_scatter(x=[eta], y=[sample["lemma"]], mode="markers", name=f"Lemma 1 at η = {eta:g}",
                    marker=dict(symbol="star", size=16, color="black"))
    fig.add_vline(x=eta, line=dict(dash="dash", color="black"))
    fig.add_hline(y=L.mean(), line=dict(dash="dot", color="gray"), annotation_text="mean loss")
    fig.add_hline(y=L.max(), line=dict(dash="dot", color="gray"), annotation_text="worst group")
    return _layout(fig, "Every Q in the ball scores at most the softmax", "KL(Q‖U)", "E_Q[L]",
                   legend=dict(orientation="h", y=-0.2))


def conjugate_figure(result: dict) -> go.Figure:
    """``phi*(x)``: the numerical supremum of ``x w - phi(w)`` (markers) on ``e^x - 1`` (line).
    ``result`` is :func:`gdrt.checks.conjugate_step`'s output.

    Explained in chapter 4, "Step 3: the convex conjugate".
    """
    x = result["x"]
    xs = np.linspace(x.min(), x.max(), 200)
    fig = go.Figure()
    fig.add_scatter(x=xs, y=np.expm1(xs), mode="lines", name="e^x − 1", line=dict(color="#d62728", width=3))
    fig.add_scatter(x=x, y=result["numeric"], mode="markers", name="sup_w (x w − φ(w)), numerical",
                    marker=dict(size=9, color="black", symbol="circle-open"))
    return _layout(fig, "The convex conjugate of φ(w) = w log w − w + 1", "x", "φ*(x)",
                   legend=dict(x=0.02, y=0.98))


def dual_curve(losses, eta: float = 0.3, taus=None) -> go.Figure:
    """Eq. 11 as a function of ``tau`` (curve) against the primal optimum found by a numerical optimiser
    (horizontal line): the curve never goes below the line and touches it at ``tau(eta)`` (marker).

    Explained in chapter 4, "Step 5: the final dual".
    """
    L = np.asarray(losses, dtype=np.float64)
    taus = np.geomspace(0.05, 50.0, 300) if taus is None else np.asarray(taus, dtype=np.float64)
    dual = np.array([checks.dual_objective(L, t, eta) for t in taus])
    primal, _ = checks.solve_primal(L, eta)
    t_star = checks.tau_for_eta(L, eta)
    fig = go.Figure()
    fig.add_scatter(x=taus, y=dual, mode="lines", name="Eq. 11: τη + τ log E_U exp(L/τ)",
                    line=dict(color="#d62728", width=3))
    fig.add_hline(y=primal, line=dict(dash="dash", color="black"),
                  annotation_text=f"primal optimum (SLSQP) = {primal:.4f}", annotation_position="top right")
    fig.add_scatter(x=[t_star], y=[checks.dual_objective(L, t_star, eta)], mode="markers",
                    name=f"τ(η) = {t_star:.3f}", marker=dict(size=12, color="black"))
    fig.update_xaxes(type="log")
    fig.update_yaxes(range=[primal - 0.2 * np.ptp(L), primal + 1.0 * np.ptp(L)])
    return _layout(fig, f"Dual (Eq. 11) against the primal, η = {eta:g}", "τ (log scale)", "value",
                   legend=dict(x=0.35, y=0.98))


def weights_vs_tau(losses, taus=None) -> go.Figure:
    """``Q(g)`` of the training code as ``tau`` varies (one line per group; dashed: ``1/G``; dotted
    verticals: the paper's grid of ``tau``). Small ``tau``: all weight on the worst group; large:
    uniform.

    Explained in chapter 4, "Limits and intuition".
    """
    L = np.asarray(losses, dtype=np.float64)
    taus = np.geomspace(0.01, 100.0, 200) if taus is None else np.asarray(taus, dtype=np.float64)
    sweep = checks.sweep_tau(L, taus)
    fig = go.Figure()
    for g, name in enumerate(_group_names(L.size)):
        fig.add_scatter(x=taus, y=sweep["weights"][:, g], mode="lines", name=f"{name} (L = {L[g]:.2f})")
    fig.add_hline(y=1.0 / L.size, line=dict(dash="dash", color="gray"), annotation_text="1/G")
    _mark_paper_taus(fig)
    fig.update_xaxes(type="log")
    return _layout(fig, "Q(g) = softmax(L/τ) as τ varies", "τ (log scale)", "Q(g)")


def limits_figure(losses, taus=None) -> go.Figure:
    """``E_Q[L]`` and ``tau log E_U exp(L/tau)`` against ``tau``, between the mean loss and the worst
    group's loss (dotted).

    Explained in chapter 4, "Limits and intuition".
    """
    L = np.asarray(losses, dtype=np.float64)
    taus = np.geomspace(0.01, 100.0, 200) if taus is None else np.asarray(taus, dtype=np.float64)
    sweep = checks.sweep_tau(L, taus)
    fig = go.Figure()
    fig.add_scatter(x=taus, y=sweep["expected"], mode="lines", name="E_Q[L] (the training loss, Eq. 5)",
                    line=dict(width=3))
    fig.add_scatter(x=taus, y=sweep["soft_max"], mode="lines", name="τ log E_U exp(L/τ) (Eq. 11 − τη)",
                    line=dict(width=3, dash="dash"))
    fig.add_hline(y=L.mean(), line=dict(dash="dot", color="gray"), annotation_text="mean loss (τ → ∞)",
                  annotation_position="bottom right")
    fig.add_hline(y=L.max(), line=dict(dash="dot", color="gray"), annotation_text="worst group (τ → 0)",
                  annotation_position="top right")
    _mark_paper_taus(fig)
    fig.update_xaxes(type="log")
    return _layout(fig, "From the worst group to the average", "τ (log scale)", "loss",
                   legend=dict(x=0.45, y=0.75))


def tau_eta_figure(losses, taus=None) -> go.Figure:
    """The radius a temperature answers, ``eta(tau) = KL(Q_tau || U)`` (curve), its small-``eta``
    approximation ``Var_U(L) / (2 tau^2)`` (dashed), the ceiling ``log G`` (dotted) and the paper's grid
    of ``tau`` (markers).

    Explained in chapter 4, "Limits and intuition".
    """
    L = np.asarray(losses, dtype=np.float64)
    taus = np.geomspace(0.01, 100.0, 200) if taus is None else np.asarray(taus, dtype=np.float64)
    eta = checks.sweep_tau(L, taus)["eta"]
    grid = np.array(PAPER_TAUS)
    fig = go.Figure()
    fig.add_scatter(x=taus, y=eta, mode="lines", name="η(τ) = KL(softmax(L/τ) ‖ U)", line=dict(width=3))
    fig.add_scatter(x=taus, y=L.var() / (2 * taus**2), mode="lines", name="Var_U(L) / (2τ²)",
                    line=dict(dash="dash"))
    fig.add_scatter(x=grid, y=checks.sweep_tau(L, grid)["eta"], mode="markers", name="the paper's τ grid",
                    marker=dict(size=10, color="black"))
    # the ceiling as a trace, not add_hline: an hline's annotation lands at 10**y on a log axis
    fig.add_scatter(x=taus, y=np.full(taus.size, math.log(L.size)), mode="lines", name="log G (the ceiling)",
                    line=dict(dash="dot", color="gray"))
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log", range=[-4, math.log10(math.log(L.size)) + 0.3])
    return _layout(fig, "The radius η that a temperature τ answers", "τ (log scale)", "η (log scale)",
                   legend=dict(x=0.02, y=0.05))
