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
# (ch-analysis)=
# # Analysis: does GDRT remove the bias?
#
# {doc}`03_bias_evidence` measured three symptoms of language bias for the base, SFT and GDRT models
# side by side. Side by side is not yet an answer: two bars with overlapping intervals can hide a
# consistent difference, and two bars apart can come from a handful of rows. This chapter asks the
# paper's question of its §4.3 {cite:p}`gdrt2025` directly — *does GDRT, trained on the same data as
# SFT, lean less on the auxiliary tokens and spread its recommendations more evenly?* — by comparing
# the two models **row by row** on the same test rows.
#
# ```{admonition} In this chapter
# Builds on {doc}`03_bias_evidence` (feature ablation, item groups, the shares over training) and
# {doc}`05_gdrt` (the two runs). You will compute paired bootstrap intervals of the difference
# GDRT − SFT for the attribution ratios of {eq}`eq-03-ratio` (the paper's
# Fig. 7), the group-1 shares of the top-1 and top-10 lists (Fig. 8) and NDCG@10
# ({numref}`tab-07-paired`, {numref}`fig-07-paired`), and read the difference of the group-1 share over
# training (Fig. 9, {numref}`tab-07-trace`). The SFT and GDRT runs, their test predictions and the
# attribution results are reused from the caches the earlier chapters filled.
# ```
#
# ```{warning}
# At the `cpu` profile the two models are a 135M-parameter model tuned for one epoch on a few hundred
# rows, and the attribution sample is small: an interval that includes 0 says this sample cannot tell
# the models apart, not that GDRT does nothing. The paper's setting needs the `gpu` profile. The
# second part — sensitivity to $G$ and $\tau$ (paper Fig. 10, 11) and cost (Fig. 12) — measures what
# the grid does to GDRT's objective on this run's losses; training GDRT at every grid point is left to
# the `gpu` profile (or the `grid` parameter).
# ```

# %% tags=["parameters"]
profile = "cpu"         # smoke | cpu | gpu
dataset = "office"
model = None            # None: the profile's model
n_attr = None           # test rows for attribution (None: the profile's; the same rows as chapter 3)
baseline = "remove"     # remove | placeholder (as chapter 3)
n_boot = 2000           # paired bootstrap resamples
n_groups = 5            # the GDRT run of chapter 5 (the same values reuse it)
tau = 0.5
grouping = "kmeans"
grid = None             # [[G, tau], ...] GDRT runs for Fig. 10/11 (None: the profile's; none at cpu)
n_loss_rows = 32        # training rows whose token losses feed the weight sensitivity
seed = 0

# %% tags=["remove-cell"]
import pandas as pd
from myst_nb import glue

from gdrt import book, diagnostics, paper, perf
from gdrt.models.loading import load_trained
from gdrt.objectives.relevance import Grouping, token_values
from gdrt.plots import bias as plots
from gdrt.training.runs import subset

cfg = book.setup(profile, dataset=dataset, model=model, seed=seed, n_attr=n_attr, grid=grid)
pd.set_option("display.precision", 4)
glue("profile", profile, display=False)
glue("n_boot", n_boot, display=False)
glue("G", n_groups, display=False)

# %%
book.banner(cfg)

# %% [markdown]
# ## Two models, the same rows
#
# Both runs come from the run cache (trained by {doc}`05_gdrt`, or here if it has not run), and both
# were evaluated on the same test rows. The attribution sample is the seeded sample of chapter 3.

# %%
data = book.load_data(cfg)
sft = book.run(cfg, "sft")
gdrt = book.run(cfg, "gdrt", n_groups=n_groups, tau=tau, grouping=grouping)
sample = subset(data.test, cfg.n_attr, seed)
glue("n_sample", len(sample), display=False)
glue("n_test", len(data.test), display=False)
{"test rows": len(data.test), "attribution sample": len(sample)}

# %% [markdown]
# ## The paired bootstrap
#
# Each statistic of chapter 3 is a ratio of sums over rows: for a model $m$,
# $S_m = \sum_i u_m(i) \big/ \sum_i v_m(i)$ — for task : interaction, $u = |c_{\text{task}}|$ and
# $v = \sum_j |c_{\text{item}_j}|$; for the top-$K$ group-1 share, $u$ counts row $i$'s top-$K$ entries
# in item group 1 and $v$ its top-$K$ entries; for NDCG@$K$, $u$ is the row's gain and $v = 1$. The
# question is the sign of $\Delta = S_{\text{GDRT}} - S_{\text{SFT}}$. A resample draws $n$ rows with
# replacement and computes **both** models' statistics on the **same** drawn rows:
#
# $$ \Delta^{(b)} = S_{\text{GDRT}}\big(I^{(b)}\big) - S_{\text{SFT}}\big(I^{(b)}\big), \qquad I^{(b)} \sim \text{Uniform}\{1..n\}^n, \quad b = 1..B $$ (eq-07-paired)
#
# and the 95% interval is the 2.5th and 97.5th percentiles of the $\Delta^{(b)}$. Because a row that
# is hard for one model is usually hard for the other, the paired interval is narrower than the one
# two independent intervals would suggest ({ref}`ex-07-paired`).
#
# ```{literalinclude} ../lib/gdrt/diagnostics/paired.py
# :pyobject: paired_table
# ```

# %% [markdown]
# ## Attribution, row by row (paper Fig. 7)
#
# The per-row ablation results of chapter 3 are read from its cache (measured here if that chapter
# has not run): the same rows, the same `baseline`, each model's contributions.

# %%
runs = {"sft": sft, "gdrt": gdrt}
attr = {name: diagnostics.cached_attribution(str(run.run_dir), lambda run=run: load_trained(run.run_dir, bf16=False),
                                             sample, data.catalog, cfg.preset, cfg.runs_root / "attribution", baseline)
        for name, run in runs.items()}
{name: len(r) for name, r in attr.items()}

# %% [markdown]
# ## Where the recommendations land (paper Fig. 8), and accuracy
#
# The test predictions of both evaluations, row by row, against the item groups of
# {ref}`Eq. (2) <eq-2>` from the untuned base model (the same groups for both).

# %% mystnb={"figure": {"caption": "GDRT against SFT on the same rows: each statistic for both models, the difference GDRT \u2212 SFT, its 95% paired bootstrap interval (lo, hi), the share of resamples in which GDRT is lower, and the number of rows. The attribution ratios use the attribution sample; the shares and NDCG use every test row.", "name": "tab-07-paired"}}
item_group = diagnostics.load_item_groups(sft.eval_dir)
preds = {"sft": diagnostics.load_predictions(sft.eval_dir), "gdrt": diagnostics.load_predictions(gdrt.eval_dir)}
table = diagnostics.paired_table("sft", "gdrt", attr, preds, item_group, ks=(1, 10), ndcg_ks=(10,),
                                 n_boot=n_boot, seed=seed)
table

# %% tags=["remove-cell"]
verdict = diagnostics.verdicts(table, "sft", "gdrt")
short = {"task:interaction": "task", "prefix:interaction": "prefix", "top-1 group-1 share": "top1",
         "top-10 group-1 share": "top10", "NDCG@10": "ndcg10"}
book.glue_all({f"{short[k]}_{col}": table.loc[k, c] for k in table.index
               for col, c in (("sft", "sft"), ("gdrt", "gdrt"), ("diff", "difference"), ("lo", "lo"), ("hi", "hi"))})
for k, v in verdict.items():
    glue(f"{short[k]}_verdict", v, display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 7 and 8 as differences: GDRT \u2212 SFT for each statistic with its 95% paired bootstrap interval. Green: GDRT lower (interval below 0); red: GDRT higher; grey: the interval includes 0. For the ratios and the group-1 shares, lower means less bias; for NDCG@10, lower means less accurate.", "name": "fig-07-paired"}}
plots.paired_differences(table, "sft", "gdrt")

# %% [markdown]
# On this run, task : interaction went from {glue:text}`task_sft:.3f` (SFT) to
# {glue:text}`task_gdrt:.3f` (GDRT), a difference of {glue:text}`task_diff:.3f`
# ({glue:text}`task_lo:.3f` to {glue:text}`task_hi:.3f`): {glue:text}`task_verdict`. Prefix :
# interaction went from {glue:text}`prefix_sft:.3f` to {glue:text}`prefix_gdrt:.3f`
# ({glue:text}`prefix_lo:.3f` to {glue:text}`prefix_hi:.3f`): {glue:text}`prefix_verdict`. The share
# of top-1 recommendations in item group 1 went from {glue:text}`top1_sft:.1%` to
# {glue:text}`top1_gdrt:.1%` ({glue:text}`top1_lo:+.1%` to {glue:text}`top1_hi:+.1%`):
# {glue:text}`top1_verdict`; over the top-10 lists from {glue:text}`top10_sft:.1%` to
# {glue:text}`top10_gdrt:.1%`: {glue:text}`top10_verdict`. NDCG@10 went from
# {glue:text}`ndcg10_sft:.4f` to {glue:text}`ndcg10_gdrt:.4f` ({glue:text}`ndcg10_lo:+.4f` to
# {glue:text}`ndcg10_hi:+.4f`): {glue:text}`ndcg10_verdict`.
#
# ```{admonition} What the paper reports
# :class: note
# After GDRT, the attribution ratios of the auxiliary tokens fall toward the interaction's (Fig. 7),
# the top-1 recommendations spread over the item groups instead of piling into group 1 (Fig. 8), and
# the group-1 share stays near the targets' during training (Fig. 9) — with accuracy at least as
# good as SFT's (Table 2).
# ```
#
# ## Over training (paper Fig. 9)
#
# The group-1 share of the top-1 recommendations on a fixed validation subset, measured while each
# run trained (the traces of {doc}`03_bias_evidence`), and the gap between the two runs at each
# measured step.

# %% mystnb={"figure": {"caption": "Paper Fig. 9 as a difference: top-1 share in item group 1 on the fixed validation subset at each measured step, for SFT and GDRT, and GDRT \u2212 SFT. Step 0 is the untuned model (the same for both).", "name": "tab-07-trace"}}
traces = {
    "sft": diagnostics.group_share_trace(book.train_config(cfg, "sft"), cfg.runs_root, data.valid, item_group),
    "gdrt": diagnostics.group_share_trace(book.train_config(cfg, "gdrt", n_groups=n_groups, tau=tau, grouping=grouping),
                                          cfg.runs_root, data.valid, item_group),
}
gap = diagnostics.trace_gap(traces, "sft", "gdrt")
gap

# %% tags=["remove-cell"]
book.glue_all({"trace_points": len(gap), "trace_mean_gap": gap["gdrt - sft"].mean(),
               "trace_last_gap": gap["gdrt - sft"].iloc[-1]})

# %% [markdown]
# Over the {glue:text}`trace_points` measured steps the gap GDRT − SFT averaged
# {glue:text}`trace_mean_gap:+.1%` and ended at {glue:text}`trace_last_gap:+.1%`. These are shares of a
# small validation subset, so steps move by whole rows; read the sign over several steps, not one.
#
# ```{admonition} What we measured
# :class: tip
# Profile {glue:text}`profile`, {glue:text}`n_test` test rows and an attribution sample of
# {glue:text}`n_sample` rows, one seed: the verdicts above are this run's, from
# {numref}`tab-07-paired`, whichever way they came out.
# ```
#
# ## Sensitivity to $G$ and $\tau$ (paper Fig. 10, 11)
#
# $G$ decides how finely the tokens are split by relevance, and $\tau$ how hard the softmax of
# {ref}`Eq. (5) <eq-5>` leans on the group with the highest loss. Before any retraining, their effect
# on the *objective* can be read off one model's losses: split the training tokens into $G$ groups
# (each $G$ of the paper's grid), take the SFT model's mean loss $L(g)$ per group on
# {glue:text}`n_loss_rows` training rows, and compute the weights $Q(g)$ GDRT would put on them at
# each $\tau$ of the grid.

# %%
rel = book.relevance(cfg, data.catalog)
values = token_values(rel, data.catalog, data.train)
sft_lm = load_trained(sft.run_dir, bf16=False)
loss_rows = data.train[:n_loss_rows]
losses = {G: diagnostics.group_losses(sft_lm.model, sft_lm.tokenizer, loss_rows, data.catalog, cfg.preset, rel,
                                      Grouping.fit(values, G, grouping, seed))["group_loss"]
          for G in paper.GRID_G}
sens = diagnostics.weight_sensitivity(losses, paper.GRID_TAU)
glue("n_loss_rows", len(loss_rows), display=False)
sens.pivot_table(index=["G", "group"], columns="tau", values="Q(g)").round(3)

# %% tags=["remove-cell"]
top = sens[(sens["G"] == n_groups)]
worst = top.loc[top["L(g)"].idxmax(), "group"]
q_worst = top[top["group"] == worst].set_index("tau")["Q(g)"]
book.glue_all({"sens_gap": top["L(g)"].max() - top["L(g)"].min(),
               "sens_worst_group": int(worst), "sens_q_small": q_worst.iloc[0], "sens_q_large": q_worst.iloc[-1],
               "sens_tau_small": q_worst.index[0], "sens_tau_large": q_worst.index[-1],
               "sens_uniform": 1 / n_groups})

# %% tags=["hide-input"] mystnb={"figure": {"caption": "GDRT's group weights Q(g) on the SFT model's per-group training losses, for each G (panels) and tau (x, log scale) of the paper's grid. Look at the weight of the highest-loss group across tau: near 1, GDRT trains on that group alone; near 1/G, it is plain group-balanced cross-entropy.", "name": "fig-07-weights"}}
plots.weight_sensitivity(sens)

# %% [markdown]
# With $G$ = {glue:text}`G` groups, the group with the highest loss (group
# {glue:text}`sens_worst_group`) gets weight {glue:text}`sens_q_small:.2f` at
# $\tau$ = {glue:text}`sens_tau_small` and {glue:text}`sens_q_large:.2f` at $\tau$ =
# {glue:text}`sens_tau_large`, against {glue:text}`sens_uniform:.2f` for a uniform weighting. The
# reason is the size of the gaps: here the group losses span {glue:text}`sens_gap:.2f` nats, and a
# softmax at temperature $\tau$ weighs two groups $L$ nats apart by a factor $e^{L/\tau}$. This is the
# objective's side of Fig. 10 and 11; what it does to the recommendations needs one trained model per
# grid point:

# %%
book.sensitivity_grid(cfg, cfg.grid, grouping, limit=cfg.n_compare,
                      minutes_per_run=(sft.final["train_seconds"] + sft.timing["seconds"]) / 60)

# %% [markdown]
# ## Cost (paper Fig. 12)
#
# GDRT adds two things to SFT: the relevance pre-pass of {ref}`Eq. (3) <eq-3>` (one forward pass over
# the catalog's titles, cached) and, per step, the group statistics and softmax of
# {ref}`Eq. (5) <eq-5>` (a few operations on $G$ numbers).

# %% tags=["remove-cell"]
bench = perf.load_results().get("train_step", {"targets": []})
t = {x["id"]: x["value"] for x in bench["targets"]}
book.glue_all({"cost_step_ratio": gdrt.final["seconds_per_step"] / sft.final["seconds_per_step"],
               "cost_sft_step": sft.final["seconds_per_step"], "cost_gdrt_step": gdrt.final["seconds_per_step"],
               "cost_bench_ratio": t.get("gdrt_over_sft", float("nan")),
               "cost_relevance_epoch": t.get("relevance_over_epoch", float("nan"))})

# %% [markdown]
# In this build's runs GDRT took {glue:text}`cost_gdrt_step:.2f` s per optimizer step against SFT's
# {glue:text}`cost_sft_step:.2f` s ({glue:text}`cost_step_ratio:.3f`×). The benchmark of
# {doc}`08_performance`, with both losses timed side by side on the same batches, measured
# {glue:text}`cost_bench_ratio:.3f`×, and the relevance pre-pass at
# {glue:text}`cost_relevance_epoch:.3f`× the time of one SFT epoch over `train_10000`.
#
# ## Summary
#
# - A paired bootstrap ({eq}`eq-07-paired`) compares two models on the same rows; its interval of
#   the difference is what "GDRT lowers the bias" has to clear.
# - Task : interaction: {glue:text}`task_verdict` ({glue:text}`task_diff:+.3f`); prefix :
#   interaction: {glue:text}`prefix_verdict` ({glue:text}`prefix_diff:+.3f`)
#   ({numref}`fig-07-paired`).
# - Group-1 share of the top-1 recommendations: {glue:text}`top1_verdict`
#   ({glue:text}`top1_diff:+.1%`); NDCG@10: {glue:text}`ndcg10_verdict` ({glue:text}`ndcg10_diff:+.4f`).
# - Over training the top-1 group-1 share of GDRT minus SFT's averaged
#   {glue:text}`trace_mean_gap:+.1%` ({numref}`tab-07-trace`).
# - On the objective, $\tau$ sets how much of the weight goes to the highest-loss group
#   ({glue:text}`sens_q_small:.2f` at $\tau$ = {glue:text}`sens_tau_small`,
#   {glue:text}`sens_q_large:.2f` at {glue:text}`sens_tau_large`, {numref}`fig-07-weights`); a step of
#   GDRT costs {glue:text}`cost_bench_ratio:.3f`× one of SFT.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-07-paired
# Two models are measured on the same $n$ rows, with per-row values $a_i$ and $b_i$. Show that the
# variance of the mean difference $\bar b - \bar a$ is $\big(\sigma_a^2 + \sigma_b^2 - 2\,\mathrm{cov}(a, b)\big)/n$,
# and explain why the paired interval of {eq}`eq-07-paired` is narrower than two separate intervals
# when the rows that are hard for one model are hard for the other.
# ```
#
# ```{solution} ex-07-paired
# :class: dropdown
# $\bar b - \bar a = \frac1n \sum_i (b_i - a_i)$ is a mean of $n$ independent draws of $b - a$, whose
# variance is $\operatorname{var}(b) + \operatorname{var}(a) - 2\operatorname{cov}(a, b)$; divide by
# $n$. Two separate intervals ignore the covariance term: when hard rows are hard for both models,
# $\mathrm{cov}(a, b) > 0$ and the variance of the difference is smaller than the sum of the
# variances. Resampling the same rows for both models keeps the covariance in every $\Delta^{(b)}$.
# ```
#
# ```{exercise}
# :label: ex-07-ratio
# Why does the bootstrap resample rows and recompute the *ratio of sums* on each resample, instead of
# averaging per-row ratios $u(i)/v(i)$?
# ```
#
# ```{solution} ex-07-ratio
# :class: dropdown
# A per-row ratio explodes on rows where the history barely matters ($v(i) \approx 0$), and a few such
# rows would dominate the mean. The ratio of sums is the statistic chapter 3 reports (a ratio of
# means); resampling rows and recomputing it gives that statistic's sampling distribution.
# ```
#
# ```{exercise}
# :label: ex-07-tau
# Change a parameter, predict, run: execute this chapter with `-p tau 0.1` (it trains a new GDRT run,
# about as long as chapter 5's at this profile). A smaller $\tau$ puts more weight on the worst group
# ({doc}`04_group_dro`). Predict the sign of the change in the top-1 group-1 share against SFT, then
# compare {numref}`tab-07-paired` with this one.
# ```
#
# ```{exercise}
# :label: ex-07-open
# Open: the top-1 group-1 share could fall simply because GDRT recommends *longer* titles (Eq. 2
# averages over a title's tokens, and long titles may sit in lower groups). Using `preds`, compare the
# token lengths of the two models' top-1 titles, and design a check that separates "less bias" from
# "different lengths".
# ```
