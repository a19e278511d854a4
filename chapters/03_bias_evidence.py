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
# (ch-bias-evidence)=
# # The evidence of language bias
#
# The paper's first contribution is a diagnosis {cite:p}`gdrt2025`: after supervised fine-tuning, an
# LLM recommender predicts the next title more from the *auxiliary* tokens of its input — the task
# description and the part of the title it has already written — than from the user's history, and its
# recommendations pile into the items that the task prompt alone makes likely. This chapter measures
# each symptom on real data and a real model, before tuning, after SFT and after GDRT, and looks for
# where the bias comes from in the training data.
#
# ```{admonition} In this chapter
# Builds on {doc}`01_introduction` (the prompt, SFT, constrained beam search). You will measure how
# much the target's log-probability owes to the task, to each history item and to the title's first
# token by feature ablation ({numref}`fig-03-ratios`, the paper's Fig. 2 and 7), see where the top-1
# and top-K recommendations land among the item groups of {ref}`Eq. (2) <eq-2>`
# ({numref}`fig-03-shares`, Fig. 3 and 8) and how that share moves during training
# ({numref}`fig-03-trace`, Fig. 4 and 9), and trace the bias to co-occurrence in the training set
# ({numref}`fig-03-cooc`, Fig. 5) and to the per-group losses of the token groups of
# {ref}`Eq. (3) <eq-3>` ({numref}`fig-03-group-loss`, Fig. 6). The SFT and GDRT models are the runs of
# {doc}`05_gdrt`, reused from the run cache (trained here if that chapter has not run yet).
# ```
#
# ```{warning}
# At the `cpu` profile the models are a 135M-parameter model tuned on a few hundred rows for one
# epoch, and the attribution sample is small: the numbers show the measurements working, with their
# uncertainty, not the paper's effect sizes. The paper's setting needs the `gpu` profile.
# ```

# %% tags=["parameters"]
profile = "cpu"         # smoke | cpu | gpu
dataset = "office"
model = None            # None: the profile's model
n_attr = None           # test rows for attribution, base-model decoding and group losses (None: the profile's)
baseline = "remove"     # remove | placeholder: what replaces an ablated feature
n_boot = 1000           # bootstrap resamples for the ratio intervals
n_groups = 5            # the GDRT run of chapter 5 (the same values reuse it)
tau = 0.5
grouping = "kmeans"
n_trace_rows = 32       # validation rows decoded at each point of the training curves
n_trace_points = 8      # about this many points per training curve
seed = 0

# %% tags=["remove-cell"]
import time

import pandas as pd
from myst_nb import glue

from gdrt import book, diagnostics, paper
from gdrt.models.loading import load_trained
from gdrt.objectives.relevance import Grouping, token_values
from gdrt.plots import bias as plots
from gdrt.training.runs import subset

t_chapter = time.perf_counter()
cfg = book.setup(profile, dataset=dataset, model=model, seed=seed, n_attr=n_attr)
pd.set_option("display.precision", 3)
glue("profile", profile, display=False)
glue("baseline", baseline, display=False)
glue("n_boot", n_boot, display=False)
glue("paper_before", paper.TASK_INTERACTION_BEFORE_SFT, display=False)
glue("paper_after_lo", paper.TASK_INTERACTION_AFTER_SFT[0], display=False)
glue("paper_after_hi", paper.TASK_INTERACTION_AFTER_SFT[1], display=False)
glue("paper_sft_top1_g1", paper.SFT_TOP1_GROUP1, display=False)
glue("paper_target_g1", paper.TARGET_GROUP1, display=False)

# %%
book.banner(cfg)

# %% [markdown]
# ## Three models and a sample of test rows
#
# Every measurement compares the untuned base model, the SFT model and the GDRT model. The tuned
# models are LoRA adapters on the base model, trained and selected exactly as in {doc}`05_gdrt`; here
# each selected adapter is merged into the weights it was trained against (for QLoRA, the 4-bit base
# dequantized) and run in fp32 like the base model. The per-row measurements use a seeded
# sample of the test rows.

# %%
data = book.load_data(cfg)
sft = book.run(cfg, "sft")
gdrt = book.run(cfg, "gdrt", n_groups=n_groups, tau=tau, grouping=grouping)
models = {"base": book.base_model(cfg),
          "sft": load_trained(sft.run_dir, bf16=False),
          "gdrt": load_trained(gdrt.run_dir, bf16=False)}
sample = subset(data.test, cfg.n_attr, seed)
glue("n_sample", len(sample), display=False)
glue("n_train", len(data.train), display=False)
glue("n_test", len(data.test), display=False)
{"training rows": len(data.train), "test rows": len(data.test), "test rows in the sample": len(sample)}

# %% [markdown]
# ## How much the model leans on each feature
#
# Feature ablation asks a counterfactual question: how much less likely does the model find the true
# next title when one part of its input is taken away? The input of a test row is the prompt
# $x = [x_{\text{task}}, x_{\text{user}}]$ of {doc}`01_introduction` and the response
# $y = $ `"Title"` + EOS. We ablate three kinds of *feature*:
#
# - **task**: the instruction sentence ("Given a list of … please recommend …");
# - **item $j$**: the text of the $j$-th history title; their contributions summed give
#   **interaction**;
# - **prefix**: the first response token that carries a character of the title — the first title
#   token the model generates after the opening quote.
#
# A feature's tokens are found by building the prompt from its pieces and matching character spans
# against the tokenizer's own offsets, so the ablated inputs differ from the training input only in
# the feature. The baseline that replaces a feature is a parameter: `remove` deletes its tokens,
# `placeholder` replaces each of them by one neutral token (the tokenizer's unknown token), keeping
# the length. This run uses **{glue:text}`baseline`**.
#
# The quantity every feature is measured on is the log-probability of the response tokens *after*
# the prefix token $y_k$ (the rest of the title, the closing quote and EOS), so that all three
# contributions are in the same units. The contribution of feature $f$ is the drop
#
# $$ c_f = \sum_{t > k} \log P\big(y_t \mid x,\, y_{<t}\big) \;-\; \sum_{t > k} \log P\big(y_t \mid \tilde x^{(f)},\, \tilde y^{(f)}_{<t}\big) $$ (eq-03-drop)
#
# where $\tilde x^{(f)}, \tilde y^{(f)}$ are the input with $f$ replaced by the baseline (only the
# prefix feature changes $y_{<t}$). Positive: the feature makes the true title more likely. The
# intact input runs once; all its ablated copies then run together in one batch, each reusing the
# intact input's computation for the tokens before its ablated feature, so a row costs about half of
# scoring every copy from scratch:
#
# ```{literalinclude} ../lib/gdrt/diagnostics/attribution.py
# :pyobject: feature_ablation
# ```
#
# The values equal those of captum's `FeatureAblation` given the same features and baseline (a test
# checks it to $10^{-5}$). Here is one test row under the SFT model:

# %%
t0 = time.perf_counter()
model_keys = {"base": cfg.model, "sft": str(sft.run_dir), "gdrt": str(gdrt.run_dir)}
attr = {name: diagnostics.cached_attribution(model_keys[name], lm, sample, data.catalog, cfg.preset,
                                             cfg.runs_root / "attribution", baseline)
        for name, lm in models.items()}
glue("attr_min", (time.perf_counter() - t0) / 60, display=False)
diagnostics.explain_row(attr["sft"][0], sample[0], data.catalog)

# %% [markdown]
# Each line is one ablation; the sum over the items is the row's interaction contribution.
# Over the sample, the book summarises a model by two ratios of means,
#
# $$ R_{\text{task}} = \frac{\frac1n \sum_i |c_{\text{task}}(i)|}{\frac1n \sum_i \sum_j |c_{\text{item}_j}(i)|}, \qquad R_{\text{prefix}} = \frac{\frac1n \sum_i |c_{\text{prefix}}(i)|}{\frac1n \sum_i \sum_j |c_{\text{item}_j}(i)|} $$ (eq-03-ratio)
#
# with absolute values: a feature that moves the target's probability down is relied on too, and
# with signed values the items' effects would cancel. The intervals are 95% percentile bootstrap
# intervals over the rows ({glue:text}`n_boot` resamples). Attribution of the three models took
# {glue:text}`attr_min:.1f` min (about 0 when this execution found them in the cache; they are saved
# for {doc}`07_analysis`).

# %% mystnb={"figure": {"caption": "Feature-ablation ratios per model on the test sample: mean |contribution| of the task and of the prefix over the mean summed |contribution| of the history items (ratios of means, defined above), with 95% bootstrap intervals (columns lo, hi).", "name": "tab-03-ratios"}}
ratios = diagnostics.ratio_table(attr, n_boot=n_boot, seed=seed)
ratios

# %% tags=["remove-cell"]
book.glue_all(diagnostics.ratio_numbers(ratios))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 2 and 7 on this run: task : interaction (left) and prefix : interaction (right) for the base, SFT and GDRT models, with 95% bootstrap intervals. Grey line: 1:1. Dotted: the paper's task : interaction before SFT; shaded: its range after SFT. Compare the bars' heights across models and their intervals.", "name": "fig-03-ratios"}}
plots.attribution_ratios(ratios, paper.TASK_INTERACTION_BEFORE_SFT, paper.TASK_INTERACTION_AFTER_SFT)

# %% [markdown]
# Task : interaction is {glue:text}`base_task_ratio:.2f` for the base model
# (95% interval {glue:text}`base_task_lo:.2f`–{glue:text}`base_task_hi:.2f`),
# {glue:text}`sft_task_ratio:.2f` after SFT ({glue:text}`sft_task_lo:.2f`–{glue:text}`sft_task_hi:.2f`)
# and {glue:text}`gdrt_task_ratio:.2f` after GDRT
# ({glue:text}`gdrt_task_lo:.2f`–{glue:text}`gdrt_task_hi:.2f`). Prefix : interaction is
# {glue:text}`base_prefix_ratio:.2f`, {glue:text}`sft_prefix_ratio:.2f` and
# {glue:text}`gdrt_prefix_ratio:.2f`. Where two intervals overlap, this sample cannot tell the two
# models apart. The per-row contributions behind the ratios:

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Per-row contributions (drop in the log-probability of the title after its first token, nats) of the task, the interaction (sum over history items) and the prefix, per model. One point per test row of the sample; hover for the row.", "name": "fig-03-contrib"}}
plots.contributions(diagnostics.contributions_frame(attr))

# %% [markdown]
# ## Where the recommendations land
#
# Item groups follow {ref}`Eq. (2) <eq-2>`: every catalog item is scored by the base model's mean
# log-probability of its title given the task prompt with the history `N/A`, and the items are cut
# into five equal groups, group 1 the most predictable from the task prompt alone. The groups are
# fixed by the base model, so every model is measured against the same groups. If a model leans on
# the task prompt, its recommendations drift into group 1 beyond what the users actually went on to
# choose (the test targets).
#
# The SFT and GDRT predictions are those of {doc}`05_gdrt`'s evaluation (all
# {glue:text}`n_test` test rows); the base model decodes the sample here with the same constrained
# beam search.

# %% mystnb={"figure": {"caption": "Share of each item group among the top-1, top-5 and top-10 recommendations of each model, pooled over rows, with the test targets' and the histories' shares (of the rows of the SFT evaluation). Column rows: the test rows each line covers.", "name": "tab-03-shares"}}
item_group = diagnostics.load_item_groups(sft.eval_dir)
preds = {"base": diagnostics.decode_rows(models["base"].model, models["base"].tokenizer, sample, data.catalog,
                                         cfg.preset, cfg.runs_root / "base", item_group, name=cfg.model, bf16=cfg.bf16),
         "sft": diagnostics.load_predictions(sft.eval_dir), "gdrt": diagnostics.load_predictions(gdrt.eval_dir)}
shares = diagnostics.group_share_table(preds, item_group, ks=(1, 5, 10))
shares

# %% tags=["remove-cell"]
share_values = book.glue_all(diagnostics.share_numbers(shares))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 3 and 8 on this run: per item group, the share of top-1 (left) and top-10 (right) recommendations of each model (bars), against the test targets' (dashed) and the histories' (dotted) shares. Look at group 1: a bias toward prompt-likely items shows as bars above the dashed line there.", "name": "fig-03-shares"}}
plots.group_shares(shares, k=10)

# %% [markdown]
# In item group 1 lie {glue:text}`target_g1:.1%` of the test targets and {glue:text}`history_g1:.1%`
# of the history items. The top-1 recommendations in group 1: base {glue:text}`base_top1_g1:.1%`
# (on {glue:text}`base_rows` sampled rows), SFT {glue:text}`sft_top1_g1:.1%` and GDRT
# {glue:text}`gdrt_top1_g1:.1%`; over the top-10 lists: base {glue:text}`base_top10_g1:.1%`, SFT
# {glue:text}`sft_top10_g1:.1%`, GDRT {glue:text}`gdrt_top10_g1:.1%`.
#
# ## Over training
#
# When does the drift into group 1 happen? A training callback decodes a fixed subset of validation
# rows before the first step and every few optimizer steps, and records the share of top-1
# recommendations in group 1 and NDCG@5. It is a plain `transformers` callback, added to the trainer:
#
# ```{literalinclude} ../lib/gdrt/diagnostics/callbacks.py
# :pyobject: GroupShareCallback.measure
# ```
#
# The curves come from runs identical in every setting to the two above, measured as they train
# (with beam 5 on {glue:text}`n_trace_rows` validation rows, to keep it cheap).

# %%
trace_rows = data.valid[:n_trace_rows]
traces = {
    "sft": diagnostics.group_share_trace(book.train_config(cfg, "sft"), cfg.runs_root, trace_rows, item_group,
                                         n_trace_points),
    "gdrt": diagnostics.group_share_trace(book.train_config(cfg, "gdrt", n_groups=n_groups, tau=tau, grouping=grouping),
                                          cfg.runs_root, trace_rows, item_group, n_trace_points),
}
glue("n_trace_rows", len(trace_rows), display=False)
trace_summary = diagnostics.trace_table(traces)
trace_summary

# %% tags=["remove-cell"]
book.glue_all({f"{name}_trace_{key}": trace_summary.loc[row, name] for name in traces
               for key, row in (("start", "group-1 share at start"), ("end", "at the end"), ("max", "highest"))})

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 4 and 9 on this run: share of top-1 recommendations in item group 1 (left) and NDCG@5 (right) on a fixed validation subset during SFT and GDRT training; dashed: the test targets' group-1 share. Step 0 is the untuned model.", "name": "fig-03-trace"}}
plots.share_curves(traces, share_values["target_g1"])

# %% [markdown]
# On the {glue:text}`n_trace_rows` validation rows, SFT's top-1 share in group 1 goes from
# {glue:text}`sft_trace_start:.1%` before the first step to {glue:text}`sft_trace_end:.1%` at the end
# (peak {glue:text}`sft_trace_max:.1%`); GDRT's from {glue:text}`gdrt_trace_start:.1%` to
# {glue:text}`gdrt_trace_end:.1%` (peak {glue:text}`gdrt_trace_max:.1%`). With this few rows one
# recommendation moves the share by several points.
#
# ## Origins: co-occurrence in the training set
#
# Why would fine-tuning teach the model to lean on the task and the prefix? One reason the paper
# gives is statistical: auxiliary tokens co-occur with target tokens far more often than interaction
# tokens do, so the associations SFT strengthens at every step are mostly theirs. To make that
# precise, take every *target position* $(e, t)$ of the training set — token $y_t$ of example $e$'s
# response, $N$ positions in all — and three *source sets* at it: the distinct tokens of the task
# sentence $T_e$, of the already generated prefix $P_{e,t} = \{y_s : s < t\}$, and of the history
# titles $I_e$. For a source kind $S$ and a pair of tokens $(a, b)$,
#
# $$ \operatorname{rate}_S(a, b) = \frac{1}{N}\,\#\{(e, t) : a \in S_{e,t},\ y_{e,t} = b\} $$ (eq-03-cooc)
#
# is the share of all training target positions at which target $b$ is trained while $a$ is in view.
# Two summaries per kind: the mean rate over distinct pairs, and the mean over pair *occurrences*
# (the rate of the pair behind a randomly drawn training co-occurrence).

# %% mystnb={"figure": {"caption": "Co-occurrence of (source token, target token) pairs over the training rows, per source kind (rates as defined above): distinct pairs, occurrences, and mean and median rates.", "name": "tab-03-cooc"}}
tokenizer = models["base"].tokenizer
counts, n_positions = diagnostics.cooccurrence_counts(tokenizer, data.train, data.catalog, cfg.preset)
cooc = diagnostics.cooccurrence_summary(counts, n_positions)
glue("n_positions", n_positions, display=False)
cooc

# %% tags=["remove-cell"]
rate = cooc["mean rate (per occurrence)"]
book.glue_all({**{f"cooc_{k}": rate[k] for k in diagnostics.SOURCES},
               **{f"cooc_pair_{k}": cooc.loc[k, "mean rate (per pair)"] for k in diagnostics.SOURCES},
               "cooc_task_over_inter": rate["task"] / rate["interaction"],
               "cooc_prefix_over_inter": rate["prefix"] / rate["interaction"]})

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 5 on this run: co-occurrence rates of the distinct (source token, target token) pairs in the training rows, per source kind (log scale; the dashed line in each box is the mean). Compare the heights of the boxes.", "name": "fig-03-cooc"}}
plots.cooccurrence_rates(diagnostics.pair_rates(counts, n_positions))

# %% [markdown]
# Over the {glue:text}`n_positions` target positions of the {glue:text}`n_train` training rows, the
# pair behind a randomly drawn co-occurrence has rate {glue:text}`cooc_task:.4f` for task pairs,
# {glue:text}`cooc_prefix:.4f` for prefix pairs and {glue:text}`cooc_interaction:.4f` for
# interaction pairs: task pairs are {glue:text}`cooc_task_over_inter:.1f` times and prefix pairs
# {glue:text}`cooc_prefix_over_inter:.1f` times as frequent as interaction pairs by this measure
# (per distinct pair: {glue:text}`cooc_pair_task:.4f`, {glue:text}`cooc_pair_prefix:.4f` and
# {glue:text}`cooc_pair_interaction:.4f`). The most frequent pairs of each kind:

# %%
diagnostics.top_pairs(counts, n_positions, tokenizer, k=3)

# %% [markdown]
# ## Origins: which tokens the model learns
#
# The second part of the story is the loss. Split the target tokens into the groups GDRT trains with:
# by their relevance $r(y_t)$ to the auxiliary tokens ({ref}`Eq. (3) <eq-3>`), $G$ groups, group 1
# the most relevant. If the model learns the prompt-predictable tokens and neglects the others, its
# held-out loss is low in group 1 and high in the last groups — and the high-loss groups are exactly
# those GDRT up-weights. Here are the per-group losses of the three models on the test sample:

# %%
rel = book.relevance(cfg, data.catalog)
groups = Grouping.fit(token_values(rel, data.catalog, data.train), n_groups, grouping, seed)
losses = {name: diagnostics.group_losses(lm.model, lm.tokenizer, sample, data.catalog, cfg.preset, rel, groups)
          for name, lm in models.items()}
loss_table = diagnostics.group_loss_table(losses)
loss_table.pivot(index="group", columns="model", values="loss")

# %% tags=["remove-cell"]
glue("G", n_groups, display=False)
book.glue_all({f"{name}_{key}": value for name, r in losses.items() for key, value in
               (("loss_g1", r["group_loss"][0]), ("loss_glast", r["group_loss"][-1]), ("loss_mean", r["mean"]))})

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 6 on this run: mean held-out token loss per relevance group (group 1: the tokens most predictable from the task prompt alone) for the base, SFT and GDRT models on the test sample. Hover for the token counts.", "name": "fig-03-group-loss"}}
plots.group_losses(loss_table)

# %% [markdown]
# With $G$ = {glue:text}`G` groups, SFT's held-out loss is {glue:text}`sft_loss_g1:.3f` nats per
# token in group 1 and {glue:text}`sft_loss_glast:.3f` in group {glue:text}`G` (base model:
# {glue:text}`base_loss_g1:.3f` and {glue:text}`base_loss_glast:.3f`; GDRT: {glue:text}`gdrt_loss_g1:.3f`
# and {glue:text}`gdrt_loss_glast:.3f`). The mean over all tokens is {glue:text}`base_loss_mean:.3f`,
# {glue:text}`sft_loss_mean:.3f` and {glue:text}`gdrt_loss_mean:.3f` for the three models.
#
# ## The paper and this book
#
# ```{admonition} What the paper reports
# :class: note
# With Llama-3.2-3B on Toy, Clothing and Book (paper §2.2, Fig. 2–6): the attribution ratio
# task : interaction is about {glue:text}`paper_before:.0f`:1 before SFT and
# {glue:text}`paper_after_lo:.1f`–{glue:text}`paper_after_hi:.1f`:1 after SFT; about
# {glue:text}`paper_sft_top1_g1:.0%` of SFT's top-1 recommendations fall in item group 1, against
# {glue:text}`paper_target_g1:.0%` of the test targets. It traces the bias to auxiliary–target token
# pairs co-occurring more often in the training data than interaction–target pairs (Fig. 5) and to
# the per-group losses of the tuned model (Fig. 6).
# ```
#
# ```{admonition} What we measured
# :class: tip
# Profile {glue:text}`profile`, dataset as in the banner, {glue:text}`n_sample` sampled test rows,
# baseline {glue:text}`baseline`, one seed. Task : interaction: base {glue:text}`base_task_ratio:.2f`
# ({glue:text}`base_task_lo:.2f`–{glue:text}`base_task_hi:.2f`), SFT {glue:text}`sft_task_ratio:.2f`
# ({glue:text}`sft_task_lo:.2f`–{glue:text}`sft_task_hi:.2f`), GDRT {glue:text}`gdrt_task_ratio:.2f`
# ({glue:text}`gdrt_task_lo:.2f`–{glue:text}`gdrt_task_hi:.2f`). Top-1 recommendations in item
# group 1: SFT {glue:text}`sft_top1_g1:.1%`, GDRT {glue:text}`gdrt_top1_g1:.1%`, base
# {glue:text}`base_top1_g1:.1%`; test targets {glue:text}`target_g1:.1%`. Co-occurrence (per
# occurrence): task {glue:text}`cooc_task:.4f`, prefix {glue:text}`cooc_prefix:.4f`, interaction
# {glue:text}`cooc_interaction:.4f`.
# ```
#
# ```{warning}
# **Why the numbers differ.** The paper tunes a 3B-parameter model on 10,000 rows of other datasets
# for several epochs and measures attribution with captum on its own prompts; the `cpu` profile
# tunes a 135M-parameter model on a few hundred Office rows for one epoch, with one seed, and
# measures {glue:text}`n_sample` rows. The intervals above show how much of a difference this sample
# can resolve; the size of the bias depends on how far the tuning has gone, so run the `gpu` profile
# for the paper's setting.
# ```

# %% tags=["remove-cell"]
glue("chapter_min", (time.perf_counter() - t_chapter) / 60, display=False)

# %% [markdown]
# This chapter's execution took {glue:text}`chapter_min:.1f` min in all.
#
# ## Summary
#
# - Feature ablation measures each feature's contribution as the drop in the target's
#   log-probability ({eq}`eq-03-drop`); task : interaction was {glue:text}`base_task_ratio:.2f`
#   before tuning, {glue:text}`sft_task_ratio:.2f` after SFT and {glue:text}`gdrt_task_ratio:.2f`
#   after GDRT ({numref}`fig-03-ratios`).
# - SFT put {glue:text}`sft_top1_g1:.1%` of its top-1 recommendations in item group 1 and GDRT
#   {glue:text}`gdrt_top1_g1:.1%`, against {glue:text}`target_g1:.1%` of the targets
#   ({numref}`fig-03-shares`); {numref}`fig-03-trace` shows how the share moved during training.
# - In the training rows, task–target pairs co-occur {glue:text}`cooc_task_over_inter:.1f` times and
#   prefix–target pairs {glue:text}`cooc_prefix_over_inter:.1f` times as often as
#   interaction–target pairs ({numref}`fig-03-cooc`).
# - SFT's held-out loss per relevance group runs from {glue:text}`sft_loss_g1:.3f` (group 1) to
#   {glue:text}`sft_loss_glast:.3f` (group {glue:text}`G`) ({numref}`fig-03-group-loss`).
#
# ## Exercises
#
# ```{exercise}
# :label: ex-03-cooc-task
# Show that for a task token $a$ the co-occurrence rate $\operatorname{rate}_{\text{task}}(a, b)$ of
# {eq}`eq-03-cooc` is the same for every task token, and equals the share of training target
# positions whose token is $b$.
# ```
#
# ```{solution} ex-03-cooc-task
# :class: dropdown
# The task sentence is identical in every prompt, so $T_e = T$ for every example and $a \in T$ holds
# at every target position. The count in {eq}`eq-03-cooc` is then $\#\{(e, t) : y_{e,t} = b\}$, which
# does not depend on $a$; divided by $N$ it is the frequency of $b$ among all target positions. No
# interaction token is present at every position, which is why the task pairs' rates are higher.
# ```
#
# ```{exercise}
# :label: ex-03-abs
# Why does {eq}`eq-03-ratio` sum the *absolute* contributions of the history items rather than
# taking the absolute value of their sum?
# ```
#
# ```{solution} ex-03-abs
# :class: dropdown
# An item can raise the target's probability (a similar product) and another lower it (a distracting
# one). Summed with signs they cancel, and a model that reacts strongly to every item would look as
# if it ignored the history. Summing magnitudes measures how much the prediction depends on the
# history at all, in the same way $|c_{\text{task}}|$ measures the dependence on the task.
# ```
#
# ```{exercise}
# :label: ex-03-baseline
# Change a parameter, predict, run: re-execute this chapter with `-p baseline placeholder`. Removing
# a history title shortens the prompt and shifts every later position; a placeholder keeps the
# positions. Before running, predict whether task : interaction goes up or down for each model, then
# compare {numref}`fig-03-ratios` with this run's.
# ```
#
# ```{exercise}
# :label: ex-03-open
# Open: the interaction contribution sums ten items. Which history positions carry it — the most
# recent item, or all of them alike? Use `attr` (each row's `items` list is oldest first) to plot the
# mean |contribution| by position for SFT and GDRT, and say what a recency effect would mean for the
# bias this chapter measures.
# ```
