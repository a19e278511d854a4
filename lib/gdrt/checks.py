"""Numeric checks of Lemma 1 (the closed form of Group DRO over a KL ball), one per proof step.

Explained in chapter 4, "Group DRO and Lemma 1" (``chapters/04_group_dro.py``). Every check calls the
implementation the training uses, :mod:`gdrt.objectives.gdrt` (looked up at call time, so a change
there changes what these checks see), and returns numbers: errors that must be tiny, or values to
compare. ``tests/test_lemma.py`` turns each check into a unit test.

Notation (chapter 4, "The setting"): ``G`` groups with losses ``L(g)``; ``U`` the uniform distribution
on the groups; ``Q`` a distribution on the groups; ``W = Q/U`` the likelihood ratio; ``eta`` the radius
of the KL ball; ``tau`` the temperature (the multiplier of the KL constraint);
``phi(x) = x log x - x + 1`` and its convex conjugate ``phi*(x) = e^x - 1``.

Everything is float64: the checks compare against tolerances such as 1e-6 (primal against closed
form) and 1e-10 (gradients), far below float32 resolution.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import optimize, special

from gdrt.objectives import gdrt as _impl

__all__ = [
    "DEFAULT_ETAS",
    "absent_groups",
    "ball_sample",
    "beta_step",
    "closed_form_weights",
    "conjugate_step",
    "dual_objective",
    "eta_for_tau",
    "gradient_identity",
    "kl_as_phi",
    "kl_to_uniform",
    "lagrangian_step",
    "limits",
    "phi",
    "phi_conjugate",
    "primal_vs_closed_form",
    "random_losses",
    "random_simplex",
    "solve_primal",
    "sweep_tau",
    "tau_for_eta",
]

#: Radii used by the primal-against-closed-form check (chapter 4, "Step 5").
DEFAULT_ETAS = (0.01, 0.05, 0.1, 0.3, 0.6, 1.0)


# ---------------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------------


def random_losses(n_groups: int = 5, seed: int = 0, low: float = 0.5, high: float = 3.5) -> np.ndarray:
    """Per-group losses ``L(g)``, sorted ascending: group 1 (most relevant to the auxiliary tokens) is
    the easiest, as after SFT. Uniform on ``[low, high]``, the range of mean token NLLs.

    Explained in chapter 4, "The setting".
    """
    rng = np.random.default_rng(seed)
    return np.sort(rng.uniform(low, high, size=n_groups))


def random_simplex(n_groups: int, n: int, seed: int = 0, concentration: float = 1.0) -> np.ndarray:
    """``n`` random distributions over ``n_groups`` groups (Dirichlet), shape ``[n, n_groups]``.

    Explained in chapter 4, "The setting" (the cloud of distributions in the KL ball).
    """
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(n_groups, concentration), size=n)


def phi(x):
    """``phi(x) = x log x - x + 1`` with ``0 log 0 = 0`` (so ``phi(0) = 1``).

    Explained in chapter 4, "Step 1: the KL divergence as E_U[phi(W)]".
    """
    x = np.asarray(x, dtype=np.float64)
    return special.xlogy(x, x) - x + 1.0


def phi_conjugate(x):
    """The convex conjugate of ``phi`` on ``w >= 0``: ``phi*(x) = e^x - 1``.

    Explained in chapter 4, "Step 3: the convex conjugate".
    """
    return np.expm1(np.asarray(x, dtype=np.float64))


def kl_to_uniform(q) -> np.ndarray:
    """``KL(Q || U) = sum_g Q(g) log(G Q(g))`` along the last axis (``0 log 0 = 0``).

    Explained in chapter 4, "The setting".
    """
    q = np.asarray(q, dtype=np.float64)
    n = q.shape[-1]
    return special.xlogy(q, n * q).sum(axis=-1)


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def closed_form_weights(losses, tau: float, present=None) -> np.ndarray:
    """``Q(g) = exp(L(g)/tau) / sum_g' exp(L(g')/tau)`` over the ``present`` groups (Eq. 5 / Eq. 13),
    computed by the training code's :func:`gdrt.objectives.gdrt.group_weights`.

    ``present`` (bool, default all) marks the groups in the batch; absent groups get weight 0.
    Explained in chapter 4, "Step 4: the optimal beta and W".
    """
    L = _t(losses)
    mask = torch.ones_like(L, dtype=torch.bool) if present is None else torch.as_tensor(present, dtype=torch.bool)
    return _impl.group_weights(L, mask, float(tau)).numpy()


def dual_objective(losses, tau: float, eta: float) -> float:
    """Eq. 11: ``tau*eta + tau*log E_U exp(L/tau)``, via the training code's
    :func:`gdrt.objectives.gdrt.group_dro_objective` (which is ``tau*logsumexp(L/tau)``, i.e. Eq. 11
    without the constants ``tau*eta - tau*log G``).

    Explained in chapter 4, "Step 5: the final dual".
    """
    L = _t(losses)
    return float(tau * eta + _impl.group_dro_objective(L, float(tau)) - tau * math.log(L.numel()))


def eta_for_tau(losses, tau: float) -> float:
    """The radius whose worst case is the softmax at ``tau``: ``eta(tau) = KL(Q_tau || U)``.

    ``d/dtau`` of Eq. 11 is ``eta - KL(Q_tau || U)``, so this is where Eq. 11 is stationary in tau.
    Explained in chapter 4, "Limits and intuition" (tau and eta).
    """
    return float(kl_to_uniform(closed_form_weights(losses, tau)))


def tau_for_eta(losses, eta: float, lo: float = 1e-8, hi: float = 1e8) -> float:
    """The temperature that matches the radius ``eta``: the root of ``KL(Q_tau || U) = eta`` (the
    minimiser of Eq. 11 over tau, the last line of Eq. 10), by Brent's method on ``log tau``.

    Computed with scipy's softmax, not the training code's, so that :func:`primal_vs_closed_form`
    compares the training code against an independent derivation (a wrong temperature in
    ``group_weights`` would otherwise be absorbed into ``tau``). Needs ``0 < eta < log G`` and losses
    that are not all equal. Explained in chapter 4, "Step 5".
    """
    L = np.asarray(losses, dtype=np.float64)
    if not 0 < eta < math.log(L.size):
        raise ValueError(f"eta must lie in (0, log G) = (0, {math.log(L.size):.4f}), got {eta}")
    if np.ptp(L) == 0:
        raise ValueError("all group losses are equal: every tau gives Q = U, no tau matches eta > 0")

    def gap(log_tau):  # scipy's softmax: independent of the training code
        return float(kl_to_uniform(special.softmax(L / math.exp(log_tau)))) - eta

    return math.exp(optimize.brentq(gap, math.log(lo), math.log(hi), xtol=1e-15, maxiter=500))


def solve_primal(losses, eta: float, max_restarts: int = 10):
    """The primal problem Eq. 6 solved directly, with no use of the lemma:
    ``max_Q E_Q[L]`` subject to ``sum Q = 1``, ``Q >= 0``, ``KL(Q || U) <= eta``. Returns ``(value, Q)``.

    SLSQP with analytic gradients, in the variable ``W = G Q`` of Eq. 8 (entries near 1: better scaled
    than ``Q``), started at ``U`` and restarted from its own answer until the value stops improving
    (each restart resets SLSQP's quasi-Newton matrix, which otherwise stalls on the curved KL
    constraint). Raises if the answer is not feasible to 1e-9.

    Explained in chapter 4, "Step 5: the final dual".
    """
    L = np.asarray(losses, dtype=np.float64)
    n = L.size
    constraints = [
        {"type": "eq", "fun": lambda w: w.mean() - 1.0, "jac": lambda w: np.full(n, 1.0 / n)},
        {"type": "ineq", "fun": lambda w: eta - phi(w).mean(),
         "jac": lambda w: -np.log(np.maximum(w, 1e-300)) / n},
    ]
    w, best = np.ones(n), -np.inf
    for _ in range(max_restarts):
        res = optimize.minimize(
            lambda w: -(w @ L) / n, w, jac=lambda w: -L / n, method="SLSQP", bounds=[(0.0, float(n))] * n,
            constraints=constraints, options={"ftol": 1e-15, "maxiter": 1000},
        )
        w = res.x
        value = (w @ L) / n
        if value <= best + 1e-15:
            break
        best = value
    q = np.clip(w, 0.0, None) / n
    if abs(q.sum() - 1.0) > 1e-9 or kl_to_uniform(q) > eta + 1e-9:
        raise RuntimeError(f"SLSQP gave an infeasible answer for eta={eta}: {res.message}")
    return float(q @ L), q


def ball_sample(losses, eta: float, n_samples: int = 3000, seed: int = 0) -> dict:
    """Random distributions ``Q`` against the lemma: none inside the KL ball of radius ``eta`` beats the
    softmax at ``tau(eta)``. Half the draws are Dirichlet(1), half Dirichlet(0.3) (near the corners).

    Returns ``{"q", "kl", "expected"`` (arrays over the draws), ``"inside"`` (bool mask),
    ``"n_inside"``, ``"best_inside"`` (max ``E_Q[L]`` inside the ball), ``"lemma"`` (``E_Q*[L]`` at
    ``tau(eta)``), ``"margin"`` (``lemma - best_inside``, never negative)}``.

    Explained in chapter 4, "The setting".
    """
    L = np.asarray(losses, dtype=np.float64)
    n = L.size
    q = np.concatenate([random_simplex(n, n_samples // 2, seed=seed, concentration=1.0),
                        random_simplex(n, n_samples - n_samples // 2, seed=seed + 1, concentration=0.3)])
    kl = kl_to_uniform(q)
    expected = q @ L
    inside = kl <= eta
    lemma = float(closed_form_weights(L, tau_for_eta(L, eta)) @ L)
    best = float(expected[inside].max()) if inside.any() else float("nan")
    return {"q": q, "kl": kl, "expected": expected, "inside": inside, "n_inside": int(inside.sum()),
            "best_inside": best, "lemma": lemma, "margin": lemma - best}


# ---------------------------------------------------------------------------------------------------
# One check per proof step
# ---------------------------------------------------------------------------------------------------


def kl_as_phi(n_groups: int = 5, n_draws: int = 1000, seed: int = 0) -> dict:
    """Step 1 (Eqs. 6 -> 7 -> 8): with ``W = Q/U``, ``KL(Q||U) = E_U[phi(W)]`` and ``E_Q[L] = E_U[W L]``.

    On ``n_draws`` random ``Q`` (half of them with zero entries, where ``0 log 0`` matters) returns
    ``{"kl": max |KL - E_U phi(W)|, "objective": max |E_Q L - E_U[W L]|,
    "unnormalised": min over unnormalised W of |E_U[W log W] - E_U phi(W)|}``; the last is far from 0:
    the ``-x + 1`` in ``phi`` cancels only because ``E_U[W] = 1``.

    Explained in chapter 4, "Step 1: the KL divergence as E_U[phi(W)]".
    """
    q = random_simplex(n_groups, n_draws, seed=seed)
    q[: n_draws // 2, 0] = 0.0  # distributions that leave a group out
    q /= q.sum(axis=1, keepdims=True)
    L = random_losses(n_groups, seed=seed)
    u = np.full(n_groups, 1.0 / n_groups)
    w = q / u
    kl_direct = kl_to_uniform(q)
    kl_phi = (u * phi(w)).sum(axis=1)
    w_bad = 1.5 * w  # E_U[W] = 1.5
    gap_bad = np.abs((u * special.xlogy(w_bad, w_bad)).sum(axis=1) - (u * phi(w_bad)).sum(axis=1))
    return {
        "kl": float(np.abs(kl_direct - kl_phi).max()),
        "objective": float(np.abs(q @ L - (u * w) @ L).max()),
        "unnormalised": float(gap_bad.min()),
    }


def _lagrangian(w, losses, alpha, beta, eta):
    """Eq. 9's Lagrangian ``E_U[W L] - alpha (E_U[phi(W)] - eta) + beta (E_U[W] - 1)``."""
    u = 1.0 / w.shape[-1]
    return u * (w * losses).sum(-1) - alpha * (u * phi(w).sum(-1) - eta) + beta * (u * w.sum(-1) - 1.0)


def lagrangian_step(n_groups: int = 5, eta: float = 0.1, n_draws: int = 2000, seed: int = 0) -> dict:
    """Step 2 (Eq. 9): the Lagrangian and weak duality.

    Returns ``{"rearrangement": max |Lagrangian - (alpha*eta - beta + alpha*E_U[W x - phi(W)])|`` with
    ``x = (L + beta)/alpha`` (the form that separates over groups), ``"weak_duality": min over feasible W
    and alpha >= 0, beta of (Lagrangian - E_U[W L])`` (never negative: a feasible W pays no penalty),
    ``"n_feasible"``: how many of the random W were inside the ball}``.

    Explained in chapter 4, "Step 2: the Lagrangian".
    """
    rng = np.random.default_rng(seed)
    L = random_losses(n_groups, seed=seed)
    q = random_simplex(n_groups, n_draws, seed=seed, concentration=5.0)
    w = q * n_groups
    alpha = rng.exponential(1.0, size=n_draws)
    beta = rng.normal(0.0, 2.0, size=n_draws)
    lag = _lagrangian(w, L, alpha, beta, eta)
    x = (L[None, :] + beta[:, None]) / alpha[:, None]
    separated = alpha * eta - beta + alpha * (w * x - phi(w)).mean(-1)
    feasible = kl_to_uniform(q) <= eta
    gap = lag[feasible] - (w[feasible] * L).mean(-1)
    return {
        "rearrangement": float(np.abs(lag - separated).max()),
        "weak_duality": float(gap.min()) if gap.size else float("nan"),
        "n_feasible": int(feasible.sum()),
    }


def conjugate_step(xs=None) -> dict:
    """Step 3 (Eq. 10, first line): ``phi*(x) = sup_{w >= 0} (x w - phi(w)) = e^x - 1``, attained at ``w = e^x``.

    The supremum is found numerically (``scipy.optimize.minimize_scalar``, bounded) at each ``x``.
    Returns ``{"x", "numeric", "closed", "argmax", "error": max |numeric - closed|,
    "argmax_error": max |argmax - e^x| / e^x}``.

    Explained in chapter 4, "Step 3: the convex conjugate".
    """
    xs = np.linspace(-3.0, 3.0, 25) if xs is None else np.asarray(xs, dtype=np.float64)
    numeric, argmax = [], []
    for x in xs:
        res = optimize.minimize_scalar(
            lambda w, x=x: -(x * w - phi(w)), bounds=(0.0, 10.0 * math.exp(max(x, 0.0)) + 10.0),
            method="bounded", options={"xatol": 1e-12},
        )
        numeric.append(-res.fun)
        argmax.append(res.x)
    numeric, argmax = np.array(numeric), np.array(argmax)
    closed = phi_conjugate(xs)
    return {
        "x": xs, "numeric": numeric, "closed": closed, "argmax": argmax,
        "error": float(np.abs(numeric - closed).max()),
        "argmax_error": float((np.abs(argmax - np.exp(xs)) / np.exp(xs)).max()),
    }


def _eq10(beta, losses, alpha, eta):
    """Eq. 10 at fixed ``alpha``: ``alpha*eta - beta + alpha*E_U[exp((L + beta)/alpha)] - alpha``."""
    return alpha * eta - beta + alpha * np.mean(np.exp((losses + beta) / alpha)) - alpha


def beta_step(losses, tau: float, eta: float = 0.1) -> dict:
    """Step 4 (the last line of Eq. 10; Eqs. 11-13): at ``alpha = tau`` the best ``beta`` is ``-tau log E_U exp(L/tau)``, the best
    ``W`` is ``exp((L + beta)/tau)``, and ``Q = U W`` is the softmax of the training code.

    ``beta`` is also found numerically by minimising Eq. 10 over ``beta``. Returns
    ``{"beta_numeric", "beta_closed", "beta_error", "value_error"`` (Eq. 10 at the numeric beta against
    Eq. 11), ``"normalisation_error"`` (``|E_U[W*] - 1|``), ``"weights_error"`` (max ``|U W* -
    group_weights|``)}``.

    Explained in chapter 4, "Step 4: the optimal beta and W".
    """
    L = np.asarray(losses, dtype=np.float64)
    beta_closed = -tau * (special.logsumexp(L / tau) - math.log(L.size))
    center = beta_closed  # bracket around it, wide: the minimiser must be found, not assumed
    res = optimize.minimize_scalar(
        _eq10, args=(L, tau, eta), bounds=(center - 10.0, center + 10.0), method="bounded",
        options={"xatol": 1e-12},
    )
    w_star = np.exp((L + beta_closed) / tau)
    q_star = w_star / L.size
    return {
        "beta_numeric": float(res.x),
        "beta_closed": float(beta_closed),
        "beta_error": float(abs(res.x - beta_closed)),
        "value_error": float(abs(res.fun - dual_objective(L, tau, eta))),
        "normalisation_error": float(abs(w_star.mean() - 1.0)),
        "weights_error": float(np.abs(q_star - closed_form_weights(L, tau)).max()),
    }


def primal_vs_closed_form(losses, etas=None) -> dict:
    """Step 5 (Eqs. 10, 11) and the lemma as a whole: for each radius ``eta``, solve the primal Eq. 6
    directly (:func:`solve_primal`), find ``tau(eta)`` (:func:`tau_for_eta`), and compare.

    ``etas`` default: the :data:`DEFAULT_ETAS` below ``0.7 log G`` (a radius near ``log G`` makes the
    optimum nearly one-hot and the primal solver's answer less precise).

    Returns arrays keyed ``eta, tau, primal`` (optimal value of Eq. 6), ``closed`` (``E_Q[L]`` with
    ``Q`` = the training code's softmax at ``tau``), ``dual`` (Eq. 11 at ``tau``), ``value_error``
    (max of ``|primal - closed|`` and ``|primal - dual|``), ``q_error`` (max over groups of ``|Q_primal -
    Q_closed|``), ``kl_primal`` (the primal solution's KL: the constraint is active, so ``= eta``).

    Explained in chapter 4, "Step 5: the final dual".
    """
    L = np.asarray(losses, dtype=np.float64)
    if etas is None:
        etas = [e for e in DEFAULT_ETAS if e < 0.7 * math.log(L.size)]
    rows = {k: [] for k in ("eta", "tau", "primal", "closed", "dual", "value_error", "q_error", "kl_primal")}
    for eta in etas:
        value, q = solve_primal(L, eta)
        tau = tau_for_eta(L, eta)
        q_closed = closed_form_weights(L, tau)
        closed = float(q_closed @ L)
        dual = dual_objective(L, tau, eta)
        for k, v in (("eta", eta), ("tau", tau), ("primal", value), ("closed", closed), ("dual", dual),
                     ("value_error", max(abs(value - closed), abs(value - dual))),
                     ("q_error", float(np.abs(q - q_closed).max())), ("kl_primal", float(kl_to_uniform(q)))):
            rows[k].append(v)
    return {k: np.array(v) for k, v in rows.items()}


# ---------------------------------------------------------------------------------------------------
# The gradient (Eq. 5 against Eq. 11)
# ---------------------------------------------------------------------------------------------------


def _toy_batch(n_groups, n_tokens, seed, absent=(), vocab=7, dim=4, n_pad=5):
    """A tiny float64 softmax-regression 'model' and a batch of tokens with group ids (``-1`` = pad)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_tokens, dim, generator=g, dtype=torch.float64)
    y = torch.randint(vocab, (n_tokens,), generator=g)
    keep = [k for k in range(n_groups) if k not in set(absent)]
    group = torch.tensor(keep)[torch.randint(len(keep), (n_tokens,), generator=g)]
    group[:len(keep)] = torch.tensor(keep)  # every kept group has at least one token
    group[-n_pad:] = -1  # padding, ignored by the loss
    theta = torch.randn(dim, vocab, generator=g, dtype=torch.float64).requires_grad_(True)
    return x, y, group, theta


def gradient_identity(n_groups: int = 5, tau: float = 0.5, n_tokens: int = 256, seed: int = 0,
                      absent=()) -> dict:
    """The gradient of the training loss ``sum_g Q(g) L(g)`` with ``Q`` held constant (Eq. 5, the
    training code's :func:`gdrt.objectives.gdrt.gdrt_loss`) equals the gradient of
    ``tau * log sum_g exp(L(g)/tau)`` (Eq. 11 without constants; the training code's
    :func:`~gdrt.objectives.gdrt.group_dro_objective`) and ``sum_g Q(g) grad L(g)``.

    A tiny softmax-regression model in float64 gives per-token NLLs; groups in ``absent`` get no
    tokens (Eq. 11 is then over the present groups). Returns errors ``{"loss": |gdrt_loss - sum Q L|,
    "vs_logsumexp", "vs_weighted_sum"`` (max abs gradient differences), ``"absent_weight"`` (sum of Q
    on absent groups)}`` and, for contrast, ``"q_not_held"``: the gradient difference when Q is
    differentiated too (far from 0: holding Q constant is what makes Eq. 5 the gradient of Eq. 11).

    Explained in chapter 4, "The gradient".
    """
    x, y, group, theta = _toy_batch(n_groups, n_tokens, seed, absent)
    token_loss = torch.nn.functional.cross_entropy(x @ theta, y, reduction="none")
    loss, info = _impl.gdrt_loss(token_loss, group, n_groups, tau)
    (grad_loss,) = torch.autograd.grad(loss, theta, retain_graph=True)

    sums, counts = _impl.group_stats(token_loss, group, n_groups)
    present = counts > 0
    L = sums[present] / counts[present]
    (grad_lse,) = torch.autograd.grad(_impl.group_dro_objective(L, tau), theta, retain_graph=True)

    q = info["weights"][present]
    grad_sum = torch.zeros_like(theta)
    for k in range(L.numel()):
        (gk,) = torch.autograd.grad(L[k], theta, retain_graph=True)
        grad_sum += q[k] * gk

    q_live = torch.softmax(L / tau, dim=0)  # not held constant
    (grad_live,) = torch.autograd.grad((q_live * L).sum(), theta)
    return {
        "loss": float(abs(loss.detach() - (q * L.detach()).sum())),
        "vs_logsumexp": float((grad_loss - grad_lse).abs().max()),
        "vs_weighted_sum": float((grad_loss - grad_sum).abs().max()),
        "absent_weight": float(info["weights"][~present].sum()),
        "q_not_held": float((grad_live - grad_lse).abs().max()),
    }


# ---------------------------------------------------------------------------------------------------
# Limits and intuition
# ---------------------------------------------------------------------------------------------------


def sweep_tau(losses, taus) -> dict:
    """The closed form along a grid of temperatures: arrays ``tau``, ``weights`` ``[T, G]`` (the
    training code's softmax), ``expected`` (``E_Q[L]``), ``soft_max`` (``tau log E_U exp(L/tau)``, Eq. 11
    without ``tau*eta``), ``eta`` (``KL(Q_tau || U)``, the radius that ``tau`` answers).

    Explained in chapter 4, "Limits and intuition".
    """
    L = np.asarray(losses, dtype=np.float64)
    taus = np.asarray(taus, dtype=np.float64)
    weights = np.stack([closed_form_weights(L, t) for t in taus])
    soft = np.array([dual_objective(L, t, 0.0) for t in taus])
    return {"tau": taus, "weights": weights, "expected": weights @ L, "soft_max": soft,
            "eta": kl_to_uniform(weights)}


def limits(losses, small_tau: float = 1e-3, large_tau: float = 1e4) -> dict:
    """``tau -> infinity`` gives the average loss (``Q -> U``); ``tau -> 0`` gives the worst group
    (``Q -> one-hot on argmax L``). Returns the gaps at ``large_tau`` and ``small_tau``:
    ``{"mean_gap": |E_Q L - mean L|, "uniform_gap": max |Q - 1/G|, "max_gap": |E_Q L - max L|,
    "onehot_gap": max |Q - onehot|, "soft_mean_gap", "soft_max_gap"`` (the same for ``tau log E_U
    exp(L/tau)``)}``, and ``"variance_rate"``: ``tau * (E_Q L - mean)/Var_U(L)`` at ``large_tau``
    (-> 1: the gap to the mean shrinks like ``Var/tau``).

    Explained in chapter 4, "Limits and intuition".
    """
    L = np.asarray(losses, dtype=np.float64)
    q_big, q_small = closed_form_weights(L, large_tau), closed_form_weights(L, small_tau)
    onehot = np.eye(L.size)[np.argmax(L)]
    return {
        "mean_gap": float(abs(q_big @ L - L.mean())),
        "uniform_gap": float(np.abs(q_big - 1.0 / L.size).max()),
        "max_gap": float(abs(q_small @ L - L.max())),
        "onehot_gap": float(np.abs(q_small - onehot).max()),
        "soft_mean_gap": float(abs(dual_objective(L, large_tau, 0.0) - L.mean())),
        "soft_max_gap": float(abs(dual_objective(L, small_tau, 0.0) - L.max())),
        "variance_rate": float(large_tau * (q_big @ L - L.mean()) / L.var()),
    }


def absent_groups(n_groups: int = 5, absent=(2,), tau: float = 0.5, seed: int = 0) -> dict:
    """Groups with no token in the batch: the training code's :func:`~gdrt.objectives.gdrt.gdrt_loss`
    gives them ``Q = 0`` and ``L = nan``, and the other weights are the softmax over the present groups
    alone.

    Returns ``{"group_loss"`` and ``"weights"`` (arrays from ``gdrt_loss``), ``"absent_weight"``,
    ``"present_error"`` (max |Q - softmax over present|), ``"if_zero_loss"``: the weights one would get by
    treating an absent group as a group with loss 0 (non-zero on the absent group)}``.

    Explained in chapter 4, "Limits and intuition" (groups missing from a batch).
    """
    x, y, group, theta = _toy_batch(n_groups, 256, seed, absent)
    with torch.no_grad():
        token_loss = torch.nn.functional.cross_entropy(x @ theta, y, reduction="none")
        _, info = _impl.gdrt_loss(token_loss, group, n_groups, tau)
    L = info["group_loss"].numpy()
    q = info["weights"].numpy()
    present = ~np.isnan(L)
    expected = np.zeros(n_groups)
    expected[present] = special.softmax(L[present] / tau)
    return {
        "group_loss": L,
        "weights": q,
        "absent_weight": float(q[~present].sum()),
        "present_error": float(np.abs(q - expected).max()),
        "if_zero_loss": special.softmax(np.nan_to_num(L, nan=0.0) / tau),
    }
