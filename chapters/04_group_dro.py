# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: mystnb,tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-group-dro)=
# # Group DRO and Lemma 1
#
# GDRT trains a recommender against the *worst* mixture of token groups that stays close to the
# uniform mixture. Solving that inner worst case at every step would be slow; the paper's Lemma 1 says
# it has a closed form, a softmax of the group losses, so the whole method costs one line of code on
# top of cross-entropy. This chapter derives the lemma step by step, as in the paper's appendix A.1
# {cite:p}`gdrt2025`, checks every step on numbers, and checks that the code the training runs *is*
# the lemma.
#
# ```{admonition} In this chapter
# You will set up Group DRO over token groups with a KL ball around the uniform mixture
# ({ref}`Eq. (4) <eq-4>`) and see why its worst case up-weights the high-loss groups
# ({numref}`fig-04-slider`). You will prove {prf:ref}`Lemma 1 <lem-1>` in five steps
# ({ref}`Eqs. (6) <eq-6>`–{ref}`(13) <eq-13>`), each followed by a numerical check, solve the
# constrained problem with a generic optimiser and match the closed form to $10^{-6}$, check with
# autograd that the training loss ({ref}`Eq. (5) <eq-5>`, `lib/gdrt/objectives/gdrt.py`) has the
# gradient of {ref}`Eq. (11) <eq-11>`, and explore the limits of the temperature $\tau$.
# Needs: Lagrange multipliers and the KL divergence. Nothing is trained: the chapter runs in seconds
# at every profile (this run: {glue:text}`profile`).
# Symbols and terms: {doc}`../notation`.
# ```

# %% tags=["parameters"]
profile = "cpu"     # smoke | cpu | gpu | gpu-lite (the same work at every profile)
seed = 0            # seed of the random group losses
n_groups = 5        # G, the number of token groups (the paper's grid: 2, 5, 10)
tau = 0.5           # a temperature from the paper's grid 0.1, 0.2, 0.3, 0.5, 1.0
eta = 0.3           # a radius of the KL ball, 0 < eta < log G

# %% tags=["remove-cell"]
import numpy as np
import pandas as pd
from myst_nb import glue

from gdrt import checks
from gdrt.plots import dro  # importing gdrt.plots registers the book's plotly renderer

glue("profile", profile, display=False)
pd.set_option("display.precision", 4)

# %% [markdown]
# ## The setting
#
# In GDRT the target tokens of the training set are split into $G$ groups by how predictable they are
# from the auxiliary tokens alone (group 1: the most predictable; the GDRT chapter builds the groups).
# In a batch, $L(g)$ is the mean token loss (negative log-likelihood) over the tokens of group $g$.
# Plain fine-tuning averages over tokens, so it weighs group $g$ by its share of the tokens,
# $N(g)/N$: a large group of easy tokens counts for more. Group DRO starts instead from the uniform
# distribution over groups, $U(g) = 1/G$, whose weighted loss $\mathbb{E}_U[L]$ is the
# group-balanced mean. After supervised fine-tuning the easy groups have small losses and the groups
# the model must learn from the user's history keep large ones, so either average hides them.
#
# Group DRO {cite:p}`sagawa2020distributionally` minimises the loss under the *worst* weighting $Q$ of
# the groups instead. Over all of the simplex that is the single worst group: pessimistic and noisy.
# GDRT keeps $Q$ inside a ball of radius $\eta$ around $U$ in KL divergence {cite:p}`hu2013kullback`:
#
# (eq-4)=
# $$ \min_\theta \; \max_{Q:\; D_{\mathrm{KL}}(Q \,\|\, U) \le \eta} \; \mathbb{E}_{g \sim Q}\big[L(g)\big] \tag{4} $$
#
# The inner objective is *linear* in $Q$: moving weight from a group with a small loss to one with a
# large loss always increases it. The only brake is the ball. So the worst case pushes weight toward
# the high-loss groups until the KL divergence reaches $\eta$, and a larger radius lets it push
# further. Here are $G$ = {glue:text}`n_groups` random group losses, sorted, as after fine-tuning
# (group 1 the easiest):

# %%
losses = checks.random_losses(n_groups, seed=seed)
glue("n_groups", n_groups, display=False)
glue("loss_mean", float(losses.mean()), display=False)
glue("loss_max", float(losses.max()), display=False)
pd.DataFrame({"L(g)": losses}, index=[f"group {g + 1}" for g in range(n_groups)]).T

# %% [markdown]
# Their mean is {glue:text}`loss_mean:.3f` and the worst group's loss {glue:text}`loss_max:.3f`.
# Drag the slider below to widen the ball: the worst-case weights leave the uniform line and climb
# toward the last groups, and the weighted loss in the title climbs from the mean toward the worst
# group. (How the weights are computed is the subject of the rest of the chapter.)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The worst-case weights $Q$ inside a KL ball of radius $\\eta$ (bars) against the uniform $U$ (dashed), for the group losses above; the slider sets $\\eta$. Look at how the weight moves to the high-loss groups as $\\eta$ grows, and at $\\mathbb{E}_Q[L]$ in the title.", "name": "fig-04-slider"}}
dro.worst_case_slider(losses)

# %% [markdown]
# Is the worst case really found? Draw thousands of random distributions $Q$, keep those inside the
# ball of radius $\eta$ = {glue:text}`eta`, and compare the best of them with the closed form:

# %%
sample = checks.ball_sample(losses, eta, n_samples=3000, seed=seed)
assert sample["margin"] >= 0
glue("eta", float(eta), display=False)
glue("n_inside", int(sample["n_inside"]), display=False)
glue("best_inside", float(sample["best_inside"]), display=False)
glue("lemma_value", float(sample["lemma"]), display=False)
pd.DataFrame([{k: sample[k] for k in ("n_inside", "best_inside", "lemma", "margin")}])

# %% [markdown]
# The best of the {glue:text}`n_inside` random distributions inside the ball reaches
# $\mathbb{E}_Q[L]$ = {glue:text}`best_inside:.4f`; the closed form reaches
# {glue:text}`lemma_value:.4f`. {numref}`fig-04-cloud` shows the whole cloud: every point lies under
# the red curve, the closed form traced over all temperatures.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Random distributions $Q$ (points; blue inside the ball of radius $\\eta$, grey outside), plotted at their KL divergence from $U$ and their weighted loss. The red curve is the closed form of Lemma 1 for every temperature; the star is its answer at this $\\eta$. Look: no point rises above the curve, and the best blue points sit just under the star.", "name": "fig-04-cloud"}}
dro.kl_ball_cloud(losses, eta=eta, seed=seed)

# %% [markdown]
# ## Lemma 1
#
# GDRT's loss is the group losses weighted by a softmax at temperature $\tau$, with the weights held
# constant when differentiating:
#
# (eq-5)=
# $$ \mathcal{L}_{\mathrm{GDRT}} = \sum_{g=1}^{G} Q(g)\, L(g), \qquad
#    Q(g) = \frac{\exp\big(L(g)/\tau\big)}{\sum_{h=1}^{G} \exp\big(L(h)/\tau\big)} \tag{5} $$
#
# The lemma says why this is the worst case of {ref}`Eq. (4) <eq-4>`.
#
# ```{prf:lemma} Paper's Lemma 1: the worst case over a KL ball is a softmax
# :label: lem-1
#
# Let $L(1), \dots, L(G)$ be group losses, not all equal, $U$ the uniform distribution on the groups
# and $0 < \eta < \log G$. Then the inner maximisation of Eq. (4),
# $\max_{Q:\, D_{\mathrm{KL}}(Q\|U) \le \eta} \mathbb{E}_Q[L]$, is attained at
# $Q^*(g) \propto \exp\big(L(g)/\tau\big)$ (Eq. 5 and Eq. 13), where $\tau > 0$ is the temperature at
# which $D_{\mathrm{KL}}(Q^* \| U) = \eta$, and its value is
#
# $$ \min_{\tau > 0} \; \tau\eta + \tau \log \mathbb{E}_{U}\big[\exp\big(L/\tau\big)\big] \qquad \text{(Eq. 10, last line)}, $$
#
# the minimum over $\tau$ of the objective at a fixed temperature, Eq. 11.
# ```
#
# GDRT then fixes $\tau$ as a hyper-parameter instead of $\eta$ (see {ref}`the gradient <sec-04-gradient>`). The proof
# takes five steps, one per section, each followed by a cell that checks it on numbers:
#
# 1. {ref}`Step 1 <sec-04-step1>`: the KL divergence becomes an expectation under $U$
#    ({ref}`Eqs. (6) <eq-6>`–{ref}`(8) <eq-8>`).
# 2. {ref}`Step 2 <sec-04-step2>`: a Lagrangian turns the constrained maximum into a min–max
#    ({ref}`Eq. (9) <eq-9>`).
# 3. {ref}`Step 3 <sec-04-step3>`: the inner maximum is a convex conjugate, $e^x - 1$
#    ({ref}`Eq. (10) <eq-10>`).
# 4. {ref}`Step 4 <sec-04-step4>`: the multiplier $\beta$ and the optimal weights in closed form
#    (the last line of {ref}`Eq. (10) <eq-10>`, then {ref}`Eqs. (11) <eq-11>`–{ref}`(13) <eq-13>`).
# 5. {ref}`Step 5 <sec-04-step5>`: the remaining minimum over $\tau$, checked against a direct
#    numerical solution of {ref}`Eq. (6) <eq-6>`.

# %% [markdown]
# (sec-04-step1)=
# ## Step 1: the KL divergence as $\mathbb{E}_U[\varphi(W)]$
#
# The appendix starts from the inner problem of {ref}`Eq. (4) <eq-4>` alone:
#
# (eq-6)=
# $$ \max_{Q} \; \mathbb{E}_{Q}[L] \quad \text{s.t.} \quad D_{\mathrm{KL}}(Q \,\|\, U) \le \eta,
#    \quad \textstyle\sum_g Q(g) = 1,\; Q \ge 0 \tag{6} $$
#
# The KL divergence is itself an expectation under $Q$:
#
# (eq-7)=
# $$ \max_{Q} \; \mathbb{E}_{g \sim Q}[L(g)] \quad \text{s.t.} \quad
#    \mathbb{E}_{g \sim Q}\Big[\log \frac{Q(g)}{U(g)}\Big] \le \eta \tag{7} $$
#
# Write $Q$ through its likelihood ratio to $U$, $W(g) = Q(g)/U(g) = G\,Q(g)$. Then
# $\mathbb{E}_Q[L] = \mathbb{E}_U[W L]$, $\sum_g Q(g) = 1$ becomes $\mathbb{E}_U[W] = 1$, and
# $D_{\mathrm{KL}}(Q\|U) = \sum_g Q(g) \log W(g) = \mathbb{E}_U[W \log W]$. Adding
# $\mathbb{E}_U[1 - W] = 0$ changes nothing and gives the KL divergence as an expectation of the convex
# function $\varphi(x) = x \log x - x + 1$ (with $0 \log 0 = 0$), which is $\ge 0$ with its minimum
# $\varphi(1) = 0$ at "no change":
#
# (eq-8)=
# $$ \max_{W \ge 0} \; \mathbb{E}_U[W L] \quad \text{s.t.} \quad \mathbb{E}_U[\varphi(W)] \le \eta,
#    \quad \mathbb{E}_U[W] = 1 \tag{8} $$
#
# The check draws random distributions $Q$ (half of them with an empty group, where $0 \log 0$ matters)
# and compares both sides; it also shows that without $\mathbb{E}_U[W] = 1$ the two sides differ:

# %%
step1 = checks.kl_as_phi(n_groups, n_draws=1000, seed=seed)
assert step1["kl"] < 1e-12 and step1["objective"] < 1e-12 and step1["unnormalised"] > 0.1
glue("step1_kl", float(step1["kl"]), display=False)
glue("step1_bad", float(step1["unnormalised"]), display=False)
pd.DataFrame([step1])

# %% [markdown]
# The largest gap between $D_{\mathrm{KL}}(Q\|U)$ and $\mathbb{E}_U[\varphi(W)]$ is
# {glue:text}`step1_kl:.1e`, rounding error. Scaling $W$ by 1.5 (so $\mathbb{E}_U[W] = 1.5$) opens a
# gap of at least {glue:text}`step1_bad:.2f`: the $-x + 1$ in $\varphi$ cancels only on normalised $W$.

# %% [markdown]
# (sec-04-step2)=
# ## Step 2: the Lagrangian
#
# Attach a multiplier $\alpha \ge 0$ to the KL constraint and a multiplier $\beta$ to the normalisation.
# The Lagrangian of {ref}`Eq. (8) <eq-8>` is
#
# $$ \mathcal{L}(W; \alpha, \beta) = \mathbb{E}_U[W L] - \alpha\big(\mathbb{E}_U[\varphi(W)] - \eta\big)
#    + \beta\big(\mathbb{E}_U[W] - 1\big). $$ (eq-04-lagrangian)
#
# For a feasible $W$ the penalty terms are $\ge 0$ and $= 0$, so $\mathcal{L} \ge \mathbb{E}_U[WL]$:
# every choice of multipliers bounds the primal from above (weak duality). The problem is convex (a
# linear objective, a convex constraint) and $W = 1$ satisfies the KL constraint strictly when
# $\eta > 0$ (Slater's condition), so the best bound is tight and max and min can be swapped. Collecting
# the terms in $W$ with $x = (L + \beta)/\alpha$ gives the rearrangement; the Lagrangian and this
# rearrangement together are the paper's Eq. 9:
#
# (eq-9)=
# $$ \max_{W \ge 0} \min_{\alpha \ge 0,\, \beta} \mathcal{L}
#    = \min_{\alpha \ge 0,\, \beta} \Big\{ \alpha\eta - \beta
#    + \alpha\, \mathbb{E}_U\Big[ \max_{W \ge 0}\Big( W\, \tfrac{L + \beta}{\alpha} - \varphi(W) \Big)\Big] \Big\} \tag{9} $$
#
# The maximum over the vector $W$ moved inside the expectation because the bracket depends on each
# group's $W(g)$ alone: it splits into $G$ one-dimensional problems. The check verifies the
# rearrangement and weak duality on random $W$, $\alpha$ and $\beta$:

# %%
step2 = checks.lagrangian_step(n_groups, eta=eta, n_draws=2000, seed=seed)
assert step2["rearrangement"] < 1e-12 and step2["weak_duality"] >= 0
glue("step2_rearr", float(step2["rearrangement"]), display=False)
glue("step2_feasible", int(step2["n_feasible"]), display=False)
pd.DataFrame([step2])

# %% [markdown]
# The two forms of the Lagrangian agree to {glue:text}`step2_rearr:.1e`, and on all
# {glue:text}`step2_feasible` feasible draws the Lagrangian is at least the objective
# (`weak_duality` is the smallest margin, and it is not negative).

# %% [markdown]
# (sec-04-step3)=
# ## Step 3: the convex conjugate
#
# Each one-dimensional problem in {ref}`Eq. (9) <eq-9>` is the convex conjugate of $\varphi$:
#
# $$ \varphi^*(x) = \sup_{w \ge 0} \big( x w - w \log w + w - 1 \big) = e^x - 1. $$ (eq-04-conjugate)
#
# The derivative in $w$ is $x - \log w$, zero at $w = e^x$; the function is concave in $w$, so that is
# the maximum, and its value is $x e^x - x e^x + e^x - 1$. Substituting into
# {ref}`Eq. (9) <eq-9>` gives the paper's Eq. 10 (its last line follows in Step 4):
#
# (eq-10)=
# $$ \min_{\alpha \ge 0,\, \beta} \; \alpha\eta - \beta + \alpha\, \mathbb{E}_U\Big[\varphi^*\Big(\frac{L + \beta}{\alpha}\Big)\Big]
#    = \min_{\alpha \ge 0,\, \beta} \; \alpha\eta - \beta + \alpha\, \mathbb{E}_U\Big[\exp\Big(\frac{L + \beta}{\alpha}\Big)\Big] - \alpha
#    \tag{10} $$
#
# The check finds the supremum numerically (`scipy.optimize.minimize_scalar` on a bounded interval) on
# a grid of $x$ and compares it with $e^x - 1$ and the maximiser with $e^x$:

# %%
step3 = checks.conjugate_step(np.linspace(-3, 3, 25))
assert step3["error"] < 1e-9 and step3["argmax_error"] < 1e-5
glue("step3_err", float(step3["error"]), display=False)
glue("step3_argmax", float(step3["argmax_error"]), display=False)
pd.DataFrame([{k: step3[k] for k in ("error", "argmax_error")}])

# %% [markdown]
# The numerical supremum and $e^x - 1$ agree to {glue:text}`step3_err:.1e` over $x \in [-3, 3]$, and
# the maximiser is $e^x$ to a relative {glue:text}`step3_argmax:.1e` (the optimiser's tolerance: the
# top is flat, so the value is found far more precisely than the place).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The convex conjugate of $\\varphi$: the numerical supremum of $xw - \\varphi(w)$ over $w \\ge 0$ (circles) on the closed form $e^x - 1$ (line). Look: every circle sits on the line, including at negative $x$ where the conjugate tends to $-1$.", "name": "fig-04-conjugate"}}
dro.conjugate_figure(step3)

# %% [markdown]
# (sec-04-step4)=
# ## Step 4: the optimal $\beta$ and $W$
#
# {ref}`Eq. (10) <eq-10>` is convex in $\beta$. Its derivative,
# $-1 + \mathbb{E}_U[\exp((L + \beta)/\alpha)]$, vanishes at
#
# $$ \beta^* = -\alpha \log \mathbb{E}_U\big[\exp(L/\alpha)\big]. $$ (eq-04-beta)
#
# At $\beta^*$ the expectation in {ref}`Eq. (10) <eq-10>` equals 1, so the last two terms cancel and
# only $\alpha\eta - \beta^*$ is left. Writing $\tau$ for the multiplier $\alpha$ of the KL constraint,
# this is the last line of the paper's Eq. 10:
#
# (eq-10-last)=
# $$ \min_{\tau \ge 0} \; \tau\eta + \tau \log \mathbb{E}_U\big[\exp\big(L/\tau\big)\big] \tag*{(10), last line} $$
#
# At a fixed temperature the bracket is the objective GDRT trains on, the paper's Eq. 11:
#
# (eq-11)=
# $$ \mathcal{L}_{\mathrm{GDRT}} = \tau\eta + \tau \log \mathbb{E}_{g \sim U}\big[\exp\big(L(g)/\tau\big)\big] \tag{11} $$
#
# The maximiser of Step 3, $w = e^x$ at $x = (L + \beta^*)/\tau$, gives the optimal ratio
# $W^*(g) = \exp\big((L(g) + \beta^*)/\tau\big) = \exp\big(L(g)/\tau\big)/\mathbb{E}_U\big[\exp(L/\tau)\big]$,
# and $Q^* = U\,W^*$ the optimal weights, which with $U = 1/G$ are the softmax of {ref}`Eq. (5) <eq-5>`:
#
# (eq-12)=
# $$ Q^*(g) = U(g)\, \frac{\exp\big(L(g)/\tau\big)}{\mathbb{E}_{i \sim U}\big[\exp(L(i)/\tau)\big]} \tag{12} $$
#
# (eq-13)=
# $$ Q^*(g) = \frac{\exp\big(L(g)/\tau\big)}{\sum_{h=1}^{G} \exp\big(L(h)/\tau\big)} \tag{13} $$
#
# The check minimises {ref}`Eq. (10) <eq-10>` over $\beta$ numerically at $\tau$ =
# {glue:text}`tau`, compares with {eq}`eq-04-beta` and {ref}`Eq. (11) <eq-11>` at that $\tau$, and compares
# $U\,W^*$ with the weights of the training code (`group_weights` in `lib/gdrt/objectives/gdrt.py`):

# %%
step4 = checks.beta_step(losses, tau, eta=eta)
assert step4["beta_error"] < 1e-6 and step4["value_error"] < 1e-12
assert step4["normalisation_error"] < 1e-12 and step4["weights_error"] < 1e-12
glue("tau", float(tau), display=False)
glue("step4_beta", float(step4["beta_error"]), display=False)
glue("step4_w", float(step4["weights_error"]), display=False)
pd.DataFrame([step4])

# %% [markdown]
# The numerical $\beta$ is the closed form's to {glue:text}`step4_beta:.1e`, $W^*$ averages to 1 under
# $U$, and $U\,W^*$ matches the training code's weights to {glue:text}`step4_w:.1e`.

# %% [markdown]
# (sec-04-step5)=
# ## Step 5: the final dual, against the primal solved directly
#
# One minimum is left, over $\tau$ ({ref}`the last line of Eq. (10) <eq-10-last>`). The derivative
# of {ref}`Eq. (11) <eq-11>` in $\tau$ is
#
# $$ \frac{\partial}{\partial \tau}\Big(\tau\eta + \tau \log \mathbb{E}_U\big[e^{L/\tau}\big]\Big)
#    = \eta - \Big(\frac{\mathbb{E}_{Q^*}[L]}{\tau} - \log \mathbb{E}_U\big[e^{L/\tau}\big]\Big)
#    = \eta - D_{\mathrm{KL}}(Q^*_\tau \,\|\, U), $$ (eq-04-dtau)
#
# so the best temperature $\tau(\eta)$ is the one whose softmax sits exactly on the boundary of the
# ball. The check now forgets the lemma: it solves the constrained problem
# {ref}`Eq. (6) <eq-6>` directly with a generic optimiser (SLSQP from `scipy.optimize`), finds
# $\tau(\eta)$ by root-finding on {eq}`eq-04-dtau` (`scipy.optimize.brentq`), and compares optimal
# values and weights for several radii:

# %%
step5 = pd.DataFrame(checks.primal_vs_closed_form(losses))
assert step5["value_error"].max() < 1e-6 and step5["q_error"].max() < 1e-6
glue("step5_value", float(step5["value_error"].max()), display=False)
glue("step5_q", float(step5["q_error"].max()), display=False)
glue("step5_n", len(step5), display=False)
step5

# %% [markdown]
# For all {glue:text}`step5_n` radii the optimiser's optimum equals the closed form $\mathbb{E}_{Q^*}[L]$
# and the dual ({ref}`Eq. (11) <eq-11>` at $\tau(\eta)$) to {glue:text}`step5_value:.1e`, and its weights equal the
# softmax at $\tau(\eta)$ to {glue:text}`step5_q:.1e`; `kl_primal` shows the constraint active
# (KL $= \eta$). The larger the ball, the lower the matching temperature. {numref}`fig-04-dual` shows
# the dual as a function of $\tau$ for one radius.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Eq. 11 as a function of $\\tau$ (curve) for the radius $\\eta$ of this chapter, against the primal optimum found by SLSQP (dashed). Look: the curve never dips below the line (weak duality) and touches it at $\\tau(\\eta)$ (dot), where the optimiser's answer and the closed form coincide (strong duality).", "name": "fig-04-dual"}}
dro.dual_curve(losses, eta=eta)

# %% [markdown]
# The steps fit together as follows.
#
# ```{prf:proof}
# Step 1 rewrites the inner problem (Eq. 6) as an expectation (Eq. 7) and in the ratio $W = Q/U$
# (Eq. 8). Step 2 dualises it: for every $\alpha \ge 0$ and $\beta$ the value of Eq. 9's bracket bounds
# Eq. 8 from above, and Slater's condition makes the smallest such bound equal to it. Step 3 evaluates
# the inner maximum through the conjugate $\varphi^*(x) = e^x - 1$ (Eq. 10). Step 4 minimises over
# $\beta$ in closed form, which leaves the last line of Eq. 10 (the minimum over $\tau$ of Eq. 11)
# and, through the maximiser of Step 3, the weights of Eqs. 12 and 13.
#
# Directly: for any $Q$ and $\tau > 0$, Gibbs' variational inequality
# $\mathbb{E}_Q[L]/\tau - D_{\mathrm{KL}}(Q\|U) \le \log \mathbb{E}_U[e^{L/\tau}]$ gives, on the ball,
# $\mathbb{E}_Q[L] \le \tau\eta + \tau\log\mathbb{E}_U[e^{L/\tau}]$: every $\tau$ bounds the primal.
# Step 5: $D_{\mathrm{KL}}(Q^*_\tau\|U)$ decreases continuously from $\log G$ (as $\tau \to 0$, for a
# unique worst group) to $0$ (as $\tau \to \infty$), so for $0 < \eta < \log G$ there is a $\tau(\eta)$ with
# $D_{\mathrm{KL}}(Q^*_{\tau(\eta)}\|U) = \eta$. There $Q^*$ is feasible, and by {eq}`eq-04-dtau`
# $\mathbb{E}_{Q^*}[L] = \tau\eta + \tau\log\mathbb{E}_U[e^{L/\tau}]$: a feasible point attains an upper
# bound, so it is the maximum, and the bound at $\tau(\eta)$ is the smallest (the last line of Eq. 10).
# ```

# %% [markdown]
# (sec-04-gradient)=
# ## The gradient
#
# GDRT does not solve for $\tau(\eta)$. It fixes $\tau$ as a hyper-parameter (the paper's grid:
# 0.1, 0.2, 0.3, 0.5, 1.0) and minimises {ref}`Eq. (11) <eq-11>` over the model parameters $\theta$. With
# $\tau$ fixed, $\tau\eta$ is a constant, and the chain rule gives
#
# $$ \nabla_\theta \Big( \tau \log \sum_{g} \exp\big(L(g)/\tau\big) \Big)
#    = \sum_{g} \frac{\exp\big(L(g)/\tau\big)}{\sum_h \exp\big(L(h)/\tau\big)}\, \nabla_\theta L(g)
#    = \sum_{g} Q(g)\, \nabla_\theta L(g). $$ (eq-04-grad)
#
# That is the gradient of {ref}`Eq. (5) <eq-5>` *with $Q$ held constant*. The training code computes
# exactly that, detaching the weights:
#
# ```{literalinclude} ../lib/gdrt/objectives/gdrt.py
# :pyobject: gdrt_loss
# ```
#
# The check builds a tiny float64 softmax-regression "model", gives its token losses random groups (and
# some padding), and compares three gradients with autograd: of `gdrt_loss` (what training
# back-propagates), of `group_dro_objective` ($\tau\,\mathrm{logsumexp}(L/\tau)$, the library's
# {ref}`Eq. (11) <eq-11>`), and $\sum_g Q(g)\nabla L(g)$ group by group:

# %%
grad = checks.gradient_identity(n_groups, tau=tau, n_tokens=256, seed=seed)
assert grad["vs_logsumexp"] < 1e-10 and grad["vs_weighted_sum"] < 1e-10 and grad["loss"] < 1e-12
glue("grad_err", float(max(grad["vs_logsumexp"], grad["vs_weighted_sum"])), display=False)
glue("grad_live", float(grad["q_not_held"]), display=False)
pd.DataFrame([grad])

# %% [markdown]
# The three gradients agree to {glue:text}`grad_err:.1e`. The last entry is the warning: if $Q$ were
# differentiated too (no `detach`), the gradient would be off by {glue:text}`grad_live:.3f`, no
# longer the gradient of {ref}`Eq. (11) <eq-11>`. Holding $Q$ constant is not an approximation; it is
# what makes the cheap loss the robust objective.

# %% [markdown]
# (sec-04-limits)=
# ## Limits and intuition
#
# ### From the average to the worst group
#
# The temperature interpolates between the group-balanced mean and worst-group training (not plain
# training, which weighs groups by their token counts). As $\tau \to \infty$,
# $Q \to U$ and both $\mathbb{E}_Q[L]$ and $\tau \log \mathbb{E}_U[e^{L/\tau}]$ tend to the mean loss;
# a Taylor expansion gives the rate, $\mathbb{E}_Q[L] - \mathbb{E}_U[L] \approx \mathrm{Var}_U(L)/\tau$.
# As $\tau \to 0$, $Q$ becomes one-hot on the worst group and both tend to $\max_g L(g)$.

# %%
lim = checks.limits(losses, small_tau=1e-3, large_tau=1e4)
assert lim["mean_gap"] < 1e-3 and lim["max_gap"] < 1e-9 and abs(lim["variance_rate"] - 1) < 1e-3
glue("lim_mean", float(lim["mean_gap"]), display=False)
glue("lim_max", float(lim["max_gap"]), display=False)
glue("lim_rate", float(lim["variance_rate"]), display=False)
pd.DataFrame([lim])

# %% [markdown]
# At $\tau = 10^4$ the weighted loss is {glue:text}`lim_mean:.1e` above the mean, and
# $\tau\,(\mathbb{E}_Q[L] - \mathbb{E}_U[L]) / \mathrm{Var}_U(L)$ = {glue:text}`lim_rate:.5f`, the
# predicted rate. At $\tau = 10^{-3}$ it is {glue:text}`lim_max:.1e` below the worst group's loss.
# ($\tau\log\mathbb{E}_U[e^{L/\tau}]$ approaches the maximum more slowly, as $\max L - \tau \log G$.)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The weights $Q(g) = \\mathrm{softmax}(L/\\tau)$ of the training code as $\\tau$ varies, one line per group (dashed: $1/G$; dotted verticals: the paper's grid of $\\tau$). Look: at small $\\tau$ the worst group takes all the weight; at large $\\tau$ every line meets $1/G$; the paper's grid sits in between.", "name": "fig-04-weights"}}
dro.weights_vs_tau(losses)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The training loss $\\mathbb{E}_Q[L]$ (solid) and the objective $\\tau \\log \\mathbb{E}_U[e^{L/\\tau}]$ (dashed) against $\\tau$, between the mean loss and the worst group's loss (dotted). Look: both slide from the worst group to the mean as $\\tau$ grows; the objective lies below the training loss.", "name": "fig-04-limits"}}
dro.limits_figure(losses)

# %% [markdown]
# ### The temperature and the radius
#
# Fixing $\tau$ instead of $\eta$ changes the radius from batch to batch. A temperature answers the
# radius $\eta(\tau) = D_{\mathrm{KL}}(Q^*_\tau\|U)$ (see {eq}`eq-04-dtau`), which depends on the losses:
# for small radii $\eta(\tau) \approx \mathrm{Var}_U(L)/(2\tau^2)$, so the same $\tau$ means a larger
# ball when the group losses are spread out, and a smaller one as training evens them out. For the losses
# of this chapter:

# %%
grid = checks.sweep_tau(losses, [0.1, 0.2, 0.3, 0.5, 1.0])
glue("eta_at_01", float(grid["eta"][0]), display=False)
glue("eta_at_1", float(grid["eta"][-1]), display=False)
glue("log_g", float(np.log(n_groups)), display=False)
pd.DataFrame({"tau": grid["tau"], "eta(tau)": grid["eta"], "E_Q[L]": grid["expected"]})

# %% [markdown]
# The paper's grid spans radii from {glue:text}`eta_at_1:.2f` ($\tau = 1$) to
# {glue:text}`eta_at_01:.2f` ($\tau = 0.1$), against the largest possible, $\log G$ =
# {glue:text}`log_g:.2f`. The closer $\eta(\tau)$ comes to $\log G$, the closer the temperature is to
# worst-group training: for group losses spread as widely as these, $\tau = 0.1$ nearly is.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The radius $\\eta(\\tau) = D_{\\mathrm{KL}}(\\mathrm{softmax}(L/\\tau) \\| U)$ that a temperature answers (solid), its small-radius approximation $\\mathrm{Var}_U(L)/(2\\tau^2)$ (dashed), the ceiling $\\log G$ (dotted) and the paper's grid (dots). Look: $\\eta$ falls with $\\tau$, fast; the approximation holds once $\\eta$ is small.", "name": "fig-04-tau-eta"}}
dro.tau_eta_figure(losses)

# %% [markdown]
# ### Groups missing from a batch
#
# A small batch may hold no token of some group. Its loss is then undefined, and the training code
# leaves it out: it gets weight 0 and the softmax runs over the groups present, so $U$ becomes uniform
# over those groups and the lemma applies to them unchanged (Eq. 11's constant $-\tau\log G$ becomes
# $-\tau \log G_{\text{present}}$, which does not touch the gradient). Treating the missing loss as 0
# instead would give the group a small but non-zero weight and shrink the others:

# %%
absent = n_groups // 2  # index of the group with no tokens in this batch
missing = checks.absent_groups(n_groups, absent=(absent,), tau=tau, seed=seed)
assert missing["absent_weight"] == 0 and missing["present_error"] < 1e-12
grad_missing = checks.gradient_identity(n_groups, tau=tau, seed=seed, absent=(absent,))
assert grad_missing["vs_logsumexp"] < 1e-10 and grad_missing["absent_weight"] == 0
glue("absent_group", absent + 1, display=False)
pd.DataFrame({k: missing[k] for k in ("group_loss", "weights", "if_zero_loss")},
             index=[f"group {g + 1}" for g in range(n_groups)]).T

# %% [markdown]
# Group {glue:text}`absent_group` has no tokens: `gdrt_loss` reports its loss as `nan` and its weight as
# 0, the other weights are the softmax over the present groups alone, and the gradient identity still
# holds (checked in the same cell, with that group absent).
#
# ## Summary
#
# - Group DRO over a KL ball up-weights the high-loss groups ({numref}`fig-04-slider`); no random
#   distribution in the ball beats the closed form (best {glue:text}`best_inside:.4f` against
#   {glue:text}`lemma_value:.4f`, {numref}`fig-04-cloud`).
# - {prf:ref}`Lemma 1 <lem-1>` follows in five checked steps; the conjugate $e^x - 1$ matches a numerical
#   supremum to {glue:text}`step3_err:.1e` ({numref}`fig-04-conjugate`).
# - A generic optimiser on the constrained problem agrees with the softmax at $\tau(\eta)$ to
#   {glue:text}`step5_q:.1e` in the weights and {glue:text}`step5_value:.1e` in value
#   ({numref}`fig-04-dual`).
# - The training loss `gdrt_loss` has the gradient of {ref}`Eq. (11) <eq-11>` to
#   {glue:text}`grad_err:.1e`, because it holds $Q$ constant; absent groups get weight 0.
# - $\tau$ runs from the worst group ($\tau \to 0$) to the group-balanced average ($\tau \to \infty$;
#   not SFT's token-weighted mean)
#   ({numref}`fig-04-weights`, {numref}`fig-04-limits`), and a fixed $\tau$ means a radius that
#   follows the spread of the losses ({numref}`fig-04-tau-eta`).

# %% [markdown]
# ## Exercises
#
# ```{exercise} Why must the radius stay below log G?
# :label: ex-04-radius
#
# The lemma asks for $0 < \eta < \log G$. Show that $D_{\mathrm{KL}}(Q\|U) \le \log G$ for every $Q$,
# with equality exactly at the one-hot distributions. What is the worst case of
# {ref}`Eq. (4) <eq-4>` when $\eta \ge \log G$, and why does no finite $\tau$ give it?
# ```
#
# ```{solution} ex-04-radius
# :class: dropdown
#
# $D_{\mathrm{KL}}(Q\|U) = \log G - H(Q)$ with the entropy $H(Q) = -\sum_g Q(g)\log Q(g) \ge 0$, zero
# exactly when $Q$ is one-hot. So for $\eta \ge \log G$ the ball is the whole simplex, the maximum of
# the linear objective sits at a vertex, and the worst case is $\max_g L(g)$: plain worst-group DRO.
# Every softmax at a finite $\tau$ puts positive weight on every group, so it is never one-hot; it
# reaches the worst group only in the limit $\tau \to 0$ (see {ref}`the limits <sec-04-limits>`).
# ```
#
# ```{exercise} Two groups
# :label: ex-04-two-groups
#
# Take $G = 2$ with losses $a < b$. Write $Q^*(2)$ as a function of $(b - a)/\tau$, and the radius
# $\eta(\tau)$ that this temperature answers. How does the gradient of {ref}`Eq. (5) <eq-5>` split
# between the two groups?
# ```
#
# ```{solution} ex-04-two-groups
# :class: dropdown
#
# $Q^*(2) = e^{b/\tau}/(e^{a/\tau} + e^{b/\tau}) = \sigma\big((b - a)/\tau\big)$ with the logistic
# $\sigma(z) = 1/(1 + e^{-z})$, and $Q^*(1) = 1 - Q^*(2)$. With $p = Q^*(2)$,
# $\eta(\tau) = \log 2 + p \log p + (1 - p)\log(1 - p) = \log 2 - H(p)$, from $0$ at $\tau = \infty$ to
# $\log 2$ at $\tau = 0$. By {eq}`eq-04-grad` the gradient is
# $(1 - p)\,\nabla L(1) + p\,\nabla L(2)$: the harder group gets the larger share, the more so the
# larger its lead $b - a$ is relative to $\tau$.
# ```
#
# ```{exercise} Change the temperature
# :label: ex-04-tau
#
# Set `tau = 0.05` in the parameters cell (or run the chapter with `-p tau 0.05`). Before running,
# predict: which group takes most of the weight in {ref}`Step 4 <sec-04-step4>`, roughly how close
# $\mathbb{E}_Q[L]$ comes to the worst group's loss, and whether
# {ref}`the gradient check <sec-04-gradient>` still passes. Then run the cell below.
# ```

# %% [markdown]
# ````{solution-start} ex-04-tau
# :class: dropdown
# ````
#
# The last group (the worst) takes nearly all the weight: its lead over the runner-up divided by
# $\tau = 0.05$ is large, so the softmax is almost one-hot and $\mathbb{E}_Q[L]$ is within a hair of
# $\max_g L(g)$; the radius $\eta(0.05)$ is close to $\log G$. The gradient identity
# {eq}`eq-04-grad` is algebra, true at every $\tau$, so the check still passes:

# %%
cold = checks.sweep_tau(losses, [0.05, tau])
cold_grad = checks.gradient_identity(n_groups, tau=0.05, seed=seed)
pd.DataFrame({"tau": cold["tau"], "Q(worst)": cold["weights"][:, -1], "E_Q[L]": cold["expected"],
              "max L": losses.max(), "eta(tau)": cold["eta"], "log G": np.log(n_groups),
              "grad error": [cold_grad["vs_logsumexp"], grad["vs_logsumexp"]]})

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Small radii
# :label: ex-04-small-eta
#
# Expand $Q^*_\tau$ to first order in $1/\tau$ and show that for small $\eta$,
# $\tau(\eta) \approx \sigma_U(L)/\sqrt{2\eta}$ and the robust loss is
# $\mathbb{E}_{Q^*}[L] \approx \mathbb{E}_U[L] + \sigma_U(L)\sqrt{2\eta}$, where $\sigma_U(L)$ is the
# standard deviation of the group losses under $U$. Compare with the table of
# {ref}`Step 5 <sec-04-step5>`.
# ```

# %% [markdown]
# ````{solution-start} ex-04-small-eta
# :class: dropdown
# ````
#
# With $m = \mathbb{E}_U[L]$ and $\sigma^2 = \mathrm{Var}_U(L)$:
# $Q^*_\tau(g) \approx U(g)\big(1 + (L(g) - m)/\tau\big)$, so
# $D_{\mathrm{KL}}(Q^*\|U) \approx \tfrac12 \mathbb{E}_U\big[((L - m)/\tau)^2\big] = \sigma^2/(2\tau^2)$.
# Setting it to $\eta$ gives $\tau \approx \sigma/\sqrt{2\eta}$, and
# $\mathbb{E}_{Q^*}[L] \approx m + \sigma^2/\tau = m + \sigma\sqrt{2\eta}$: the price of robustness
# grows like the square root of the radius, scaled by how unequal the groups are. The table below puts
# the approximations next to the exact values of Step 5; they agree for small $\eta$ and drift apart as
# $\eta$ grows:

# %%
sd = losses.std()
pd.DataFrame({"eta": step5["eta"], "tau exact": step5["tau"],
              "tau approx": sd / np.sqrt(2 * step5["eta"]), "value exact": step5["closed"],
              "value approx": losses.mean() + sd * np.sqrt(2 * step5["eta"])})

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Fix the radius instead (open)
# :label: ex-04-fix-eta
#
# GDRT fixes $\tau$, so the radius $\eta(\tau)$ follows the spread of each batch's losses. Design the
# variant that fixes $\eta$: each step finds $\tau(\eta)$ for the batch (`checks.tau_for_eta`) and uses
# the softmax at that temperature. What is its gradient? What could go wrong on small batches, with
# absent groups, or late in training when the group losses are close? Which would you expect to train
# more stably, and how would you test it?
# ```
#
# ```{solution} ex-04-fix-eta
# :class: dropdown
#
# One line of reasoning, not the only one. The objective is now $F(\theta) = \min_\tau
# \{\tau\eta + \tau\log\mathbb{E}_U[e^{L_\theta/\tau}]\}$. By the envelope theorem the gradient is the
# partial gradient at the optimal $\tau$, so it is again $\sum_g Q^*(g)\nabla L(g)$ with
# $\tau = \tau(\eta)$ held constant: the training code works unchanged, fed a batch-dependent $\tau$.
# Risks: $\tau(\eta) \approx \sigma_U(L)/\sqrt{2\eta}$ ({ref}`ex-04-small-eta`) shrinks as the
# group losses even out, so the weights turn sharper exactly when the groups no longer differ, and a
# noisy small batch can make the weights jump from step to step; with absent groups the ceiling
# $\log G_{\text{present}}$ can fall below $\eta$, when no $\tau$ exists (fall back to the worst present
# group, or clip $\eta$). A test: train both on the synthetic set of the GDRT chapter with matched average
# radius and compare the variance of the weights across steps and the worst-group validation loss.
# ```
