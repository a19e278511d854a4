"""Lemma 1 (chapter 4): every numeric check of the chapter as a unit test, against the training code.

The checks in ``gdrt.checks`` call ``gdrt.objectives.gdrt`` (the loss the training uses), so a change
there that breaks the lemma fails here, not only in the chapter. The ``test_detects_*`` tests swap in
broken implementations and assert that the checks notice: each check can fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gdrt import checks
from gdrt.objectives import gdrt as impl

ETAS = (0.01, 0.05, 0.1, 0.3, 0.6, 1.0)


# ----------------------------------------------------------------------------- the proof, step by step


def test_step1_kl_is_expectation_of_phi():
    r = checks.kl_as_phi(n_groups=5, n_draws=500, seed=0)
    assert r["kl"] < 1e-12
    assert r["objective"] < 1e-12
    assert r["unnormalised"] > 0.1  # the rewrite needs E_U[W] = 1


def test_step2_lagrangian_rearrangement_and_weak_duality():
    r = checks.lagrangian_step(n_groups=5, eta=0.3, n_draws=1000, seed=1)
    assert r["rearrangement"] < 1e-12
    assert r["n_feasible"] > 100
    assert r["weak_duality"] >= 0.0


def test_step3_conjugate_matches_numerical_sup():
    r = checks.conjugate_step(np.linspace(-4.0, 3.0, 15))
    assert r["error"] < 1e-9
    assert r["argmax_error"] < 1e-5


@pytest.mark.parametrize("tau", [0.1, 0.5, 2.0])
def test_step4_beta_and_weights(tau):
    r = checks.beta_step(checks.random_losses(5, seed=2), tau, eta=0.2)
    assert r["beta_error"] < 1e-6
    assert r["value_error"] < 1e-12
    assert r["normalisation_error"] < 1e-12
    assert r["weights_error"] < 1e-12


@pytest.mark.parametrize("n_groups,seed", [(2, 0), (3, 1), (5, 0), (5, 7), (10, 3)])
def test_step5_primal_matches_closed_form(n_groups, seed):
    losses = checks.random_losses(n_groups, seed=seed)
    etas = [e for e in ETAS if e < 0.7 * math.log(n_groups)]
    r = checks.primal_vs_closed_form(losses, etas)
    assert len(r["eta"]) >= 3
    assert r["value_error"].max() < 1e-6
    assert r["q_error"].max() < 1e-6
    np.testing.assert_allclose(r["kl_primal"], etas, atol=1e-8)  # the constraint is active
    assert np.all(np.diff(r["tau"]) < 0)  # larger ball, lower temperature


def test_dual_bounds_primal_for_every_tau():
    losses = checks.random_losses(5, seed=4)
    eta = 0.3
    primal, _ = checks.solve_primal(losses, eta)
    duals = np.array([checks.dual_objective(losses, t, eta) for t in np.geomspace(0.05, 50, 60)])
    assert duals.min() >= primal - 1e-9
    assert checks.dual_objective(losses, checks.tau_for_eta(losses, eta), eta) == pytest.approx(primal, abs=1e-8)


def test_tau_and_eta_are_inverse():
    losses = checks.random_losses(5, seed=5)
    for eta in ETAS:
        assert checks.eta_for_tau(losses, checks.tau_for_eta(losses, eta)) == pytest.approx(eta, abs=1e-10)
    with pytest.raises(ValueError):
        checks.tau_for_eta(losses, math.log(5) + 0.1)
    with pytest.raises(ValueError):
        checks.tau_for_eta(np.ones(5), 0.1)


def test_no_random_q_in_the_ball_beats_the_lemma():
    r = checks.ball_sample(checks.random_losses(5, seed=0), eta=0.3, n_samples=2000, seed=0)
    assert r["n_inside"] > 100
    assert r["margin"] >= 0.0


# ----------------------------------------------------------------------------- the gradient


@pytest.mark.parametrize("tau", [0.1, 0.5, 5.0])
@pytest.mark.parametrize("absent", [(), (2,), (0, 3)])
def test_gradient_of_gdrt_loss_is_gradient_of_logsumexp(tau, absent):
    r = checks.gradient_identity(n_groups=5, tau=tau, n_tokens=128, seed=0, absent=absent)
    assert r["loss"] < 1e-12
    assert r["vs_logsumexp"] < 1e-10
    assert r["vs_weighted_sum"] < 1e-10
    assert r["absent_weight"] == 0.0
    assert r["q_not_held"] > 1e-4  # differentiating Q too would give another gradient


# ----------------------------------------------------------------------------- absent groups, limits


def test_absent_groups_get_weight_zero():
    r = checks.absent_groups(n_groups=5, absent=(1, 4), tau=0.5, seed=0)
    assert np.isnan(r["group_loss"][[1, 4]]).all()
    assert r["absent_weight"] == 0.0
    assert r["weights"].sum() == pytest.approx(1.0, abs=1e-12)
    assert r["present_error"] < 1e-12
    assert r["if_zero_loss"][1] > 0  # what a zero-filled loss would have done

    q = checks.closed_form_weights([1.0, 5.0, 2.0], 0.5, present=[True, False, True])
    assert q[1] == 0.0
    np.testing.assert_allclose(q[[0, 2]], np.exp([2.0, 4.0]) / np.exp([2.0, 4.0]).sum(), atol=1e-15)


def test_no_group_present_gives_zero_weights_and_loss():
    token_loss = torch.rand(6, dtype=torch.float64, requires_grad=True)
    loss, info = impl.gdrt_loss(token_loss, torch.full((6,), -1), 3, 0.5)
    assert float(loss.detach()) == 0.0 and torch.all(info["weights"] == 0)
    loss.backward()
    assert torch.all(token_loss.grad == 0)


def test_limits_mean_and_worst_group():
    losses = checks.random_losses(5, seed=3)
    r = checks.limits(losses, small_tau=1e-3, large_tau=1e4)
    assert r["mean_gap"] < 1e-3 and r["uniform_gap"] < 1e-3 and r["soft_mean_gap"] < 1e-3
    assert abs(r["variance_rate"] - 1.0) < 1e-3  # E_Q L - mean ~ Var/tau
    assert r["max_gap"] < 1e-9 and r["onehot_gap"] < 1e-9
    assert r["soft_max_gap"] <= 1e-3 * math.log(5) + 1e-12  # tau log E_U e^(L/tau) = max - tau log G + o(tau)


def test_sweep_is_monotone_in_tau():
    losses = checks.random_losses(5, seed=0)
    s = checks.sweep_tau(losses, np.geomspace(0.01, 100, 40))
    assert np.all(np.diff(s["expected"]) <= 1e-12) and s["expected"][0] - s["expected"][-1] > 1.0
    assert np.all(np.diff(s["eta"]) <= 1e-12) and s["eta"][0] - s["eta"][-1] > 1.0
    assert np.all(s["soft_max"] <= s["expected"] + 1e-12)  # objective below the training loss
    assert s["eta"].max() <= math.log(5) + 1e-12


@settings(max_examples=60, deadline=None)
@given(
    losses=st.lists(st.floats(0.0, 12.0), min_size=2, max_size=10),
    tau=st.floats(0.05, 20.0),
    data=st.data(),
)
def test_group_weights_properties(losses, tau, data):
    present = data.draw(st.lists(st.booleans(), min_size=len(losses), max_size=len(losses)))
    q = checks.closed_form_weights(losses, tau, present=present)
    L, m = np.array(losses), np.array(present)
    assert np.all(q >= 0) and np.all(q[~m] == 0)
    if m.any():
        assert q.sum() == pytest.approx(1.0, abs=1e-12)
        i, j = np.nonzero(m)[0][:2] if m.sum() >= 2 else (0, 0)
        if L[i] > L[j]:
            assert q[i] >= q[j]  # a larger loss never gets a smaller weight
    else:
        assert q.sum() == 0


# ----------------------------------------------------------------------------- the checks can fail


def test_detects_wrong_temperature_in_group_weights(monkeypatch):
    monkeypatch.setattr(impl, "group_weights", lambda L, present, tau: torch.softmax(L * tau, dim=0))
    losses = checks.random_losses(5, seed=0)
    assert checks.primal_vs_closed_form(losses, (0.1, 0.3))["q_error"].max() > 1e-3
    assert checks.beta_step(losses, 0.5)["weights_error"] > 1e-3


def test_detects_absent_groups_kept_in_the_softmax(monkeypatch):
    monkeypatch.setattr(impl, "group_weights", lambda L, present, tau: torch.softmax(L / tau, dim=0))
    assert checks.absent_groups(5, absent=(2,), tau=0.5)["absent_weight"] > 0
    assert checks.gradient_identity(5, 0.5, absent=(2,))["vs_logsumexp"] > 1e-6


def test_detects_weights_not_held_constant(monkeypatch):
    def live_loss(token_loss, token_group, n_groups, tau, all_reduce=None):
        sums, counts = impl.group_stats(token_loss, token_group, n_groups)
        present = counts > 0
        L = sums / counts.clamp_min(1)
        q = torch.softmax(torch.where(present, L / tau, torch.full_like(L, -math.inf)), dim=0)
        return (q * L).sum(), {"group_loss": L.detach(), "weights": q.detach(), "counts": counts}

    monkeypatch.setattr(impl, "gdrt_loss", live_loss)
    assert checks.gradient_identity(5, 0.5)["vs_logsumexp"] > 1e-4


def test_detects_wrong_dual_objective(monkeypatch):
    monkeypatch.setattr(impl, "group_dro_objective", lambda L, tau: torch.logsumexp(L / tau, dim=0))
    losses = checks.random_losses(5, seed=0)
    assert checks.beta_step(losses, 0.5)["value_error"] > 1e-3
    assert checks.primal_vs_closed_form(losses, (0.3,))["value_error"].max() > 1e-3


def test_detects_wrong_conjugate(monkeypatch):
    monkeypatch.setattr(checks, "phi_conjugate", lambda x: np.exp(np.asarray(x, dtype=np.float64)))
    assert checks.conjugate_step()["error"] > 0.5


# ----------------------------------------------------------------------------- the chapter's figures


def test_figures_are_plotly_figures():
    go = pytest.importorskip("plotly.graph_objects")
    from gdrt.plots import dro

    losses = checks.random_losses(5, seed=0)
    figs = [dro.worst_case_slider(losses), dro.kl_ball_cloud(losses, n_samples=400),
            dro.conjugate_figure(checks.conjugate_step(np.linspace(-2, 2, 5))), dro.dual_curve(losses),
            dro.weights_vs_tau(losses), dro.limits_figure(losses), dro.tau_eta_figure(losses)]
    assert all(isinstance(f, go.Figure) and len(f.data) > 0 for f in figs)
    slider = figs[0]
    assert len(slider.layout.sliders[0].steps) == len(slider.data)


# ----------------------------------------------------------------------------- low-precision inputs


def test_group_loss_of_bfloat16_token_losses_is_accurate():
    token_loss = torch.full((1001,), 2.0, dtype=torch.bfloat16)  # 1001 tokens, each with loss 2.0
    _, info = impl.gdrt_loss(token_loss, torch.zeros(1001, dtype=torch.long), 2, 0.5)
    assert float(info["counts"][0]) == 1001
    assert float(info["group_loss"][0]) == pytest.approx(2.0, rel=1e-2)
