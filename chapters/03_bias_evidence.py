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
# LLM recommender predicts the next title more from the *auxiliary* tokens of its input (the task
# description and the part of the title it has already written) than from the user's history, and its
# recommendations pile into the items that the task prompt alone makes likely. This chapter measures
# each symptom before tuning and after SFT, and looks for where the bias comes from in the training
# data. Whether GDRT removes it is the question of {doc}`07_analysis`, once GDRT has been taught.
#
# ```{admonition} In this chapter
# Builds on {doc}`01_introduction` (the prompt, SFT, constrained beam search). You will define how
# predictable a token and an item are from the auxiliary tokens alone ({ref}`Eq. (3) <eq-3>` and
# {ref}`Eq. (2) <eq-2>`), measure how much the target's log-probability owes to each task token, each
# history token and the title's first token by feature ablation ({numref}`fig-03-ratios`, the paper's
# Fig. 2), see where the recommendations land among the item groups ({numref}`fig-03-shares`, Fig. 3)
# and how that moves during training ({numref}`fig-03-trace`, Fig. 4), and trace the bias to
# co-occurrence in the training set ({numref}`fig-03-cooc`, Fig. 5) and to the per-group losses
# ({numref}`fig-03-group-loss`, Fig. 6). Every measurement appears twice: on this execution's live run,
# and on the committed *reference experiment*, sized to answer the question.
# Symbols and terms: {doc}`../notation`.
# ```

# %% tags=["parameters"]
profile = "cpu"         # smoke | cpu | gpu | gpu-lite
dataset = None          # None: the profile's (book at cpu); office | game | book | clothing
model = None            # None: the profile's model
n_attr = None           # test rows for the live attribution (None: the profile's)
attr_tokens = 24        # per-token attribution: at most this many tokens of each type per row (None: all)
baseline = "remove"     # remove | placeholder: what replaces an ablated token or feature
n_boot = 1000           # bootstrap resamples for the intervals
reference = "book"      # the committed reference experiment shown beside the live run
seed = 0

# %% tags=["remove-cell"]
import time

import pandas as pd
from myst_nb import glue

from gdrt import book, diagnostics, paper, replication
from gdrt.models.loading import load_trained
from gdrt.objectives.relevance import Grouping, token_values
from gdrt.plots import bias as plots
from gdrt.training.runs import subset

t_chapter = time.perf_counter()
cfg = book.setup(profile, dataset=dataset, model=model, seed=seed, n_attr=n_attr)
pd.set_option("display.precision", 3)
book.glue_all({"profile": profile, "baseline": baseline, "n_boot": n_boot, "attr_tokens": str(attr_tokens),
               "paper_before": paper.TASK_INTERACTION_BEFORE_SFT, "paper_toy": paper.FIG2_AFTER_SFT["Toy"],
               "paper_clothing": paper.FIG2_AFTER_SFT["Clothing"], "paper_sft_top1_g1": paper.SFT_TOP1_GROUP1,
               "paper_target_g1": paper.TARGET_GROUP1})

# %%
book.banner(cfg)

# %% [markdown]
# ## Two sources of numbers
#
# A chapter of this book executes in minutes on a laptop, and that is too small to answer this
# chapter's question: a few hundred training rows barely move a model, and a few dozen test rows
# cannot tell a real shift from noise. So every measurement is shown twice:
#
# - **live**: this execution's run at profile {glue:text}`profile` (sizes in the banner above),
#   trained or reused from the run cache; it shows the code working, on whatever machine runs it;
# - **reference**: the *reference experiment*, run once with `python -m gdrt reference` on a paper
#   dataset, with several seeds and a thousand test rows, and committed to the repository as small
#   result files ({doc}`07_analysis` explains its sizing). The chapter reads those files; it never
#   recomputes them.

# %%
res = book.reference(reference)
book.reference_banner(res, reference)

# %% tags=["remove-cell"]
book.glue_all(replication.describe(res))

# %% [markdown]
# ## How predictable is a token without the user?
#
# Both of the paper's groupings start from one question: how likely does the model find a target token
# when the user's history is hidden? The prompt keeps the task description, the history becomes the
# literal `N/A`, and the title's already generated prefix stays. For target token $y_t$:
#
# (eq-3)=
# :::{div}
# $$ r(y_t) = \log P_\theta\big(y_t \mid x_{\text{task}},\ \texttt{N/A},\ y_{<t}\big) \tag{3} $$
# :::
#
# A high $r$ means the auxiliary tokens alone predict the token. GDRT groups the training tokens by
# this score ({doc}`05_gdrt`). For a whole item, the paper averages over the tokens of its title:
#
# (eq-2)=
# :::{div}
# $$ r(y) = \frac{1}{|y|}\sum_{t=1}^{|y|} \log P_\theta\big(y_t \mid x_{\text{task}},\ \texttt{N/A},\ y_{<t}\big) \tag{2} $$
# :::
#
# and sorts the catalog by $r(y)$ into five equal *item groups*, group 1 the most predictable. These
# groups are the yardstick of every fairness number in the book (MGU, DGU, the shares of
# {numref}`fig-03-shares`).
#
# **Which model is $P_\theta$?** The paper writes $P_\theta$, the symbol of the model being tuned,
# without saying at which point of tuning. The book scores both equations once, with the *untuned base
# model*: GDRT needs its token groups before its first step, when the tuned model is the base model;
# and a yardstick for comparing SFT with GDRT must not move with either of them. Scoring with a tuned
# model instead would measure the bias with the biased model.
#
# **Which tokens are "the tokens for each item"?** The response the model writes is `"Title"` followed
# by the end-of-sequence token. The book averages Eq. 2 over the tokens that carry the title's own
# characters, not over the quotes and EOS: those are nearly certain for every title, and in a short
# title they are a larger part of the mean, which lifts short titles toward group 1. Here is one
# training target token by token, under the base model:

# %%
data = book.load_data(cfg)
rel = book.relevance(cfg, data.catalog)
book.token_table(cfg, data.catalog.title(data.train[0].target), rel)

# %% [markdown]
# How many items would change group if the quotes and EOS were counted too? Rows: the book's groups
# (title tokens); columns: the groups over every response token.

# %% mystnb={"figure": {"caption": "Live: items per Eq. 2 group, by the title's own tokens (rows) and by every response token, quotes and EOS included (columns), on this run's catalog. Off the diagonal: the items whose group depends on the choice.", "name": "tab-03-groups-live"}}
changes = book.item_group_changes(cfg, data.catalog)
changes

# %% mystnb={"figure": {"caption": "Reference: the same comparison on the reference experiment's catalog (from its committed item groups).", "name": "tab-03-groups-ref"}}
ref_changes = book.group_crosstab(res.item_group, res.item_group_response)
ref_changes

# %% tags=["remove-cell"]
book.glue_all({"changed_live": replication.off_diagonal(changes), "n_items_live": int(changes.loc["all", "all"]),
               "changed_ref": replication.off_diagonal(ref_changes), "n_items_ref": int(ref_changes.loc["all", "all"])})

# %% [markdown]
# Counting the quotes and EOS moves {glue:text}`changed_live` of {glue:text}`n_items_live` items to
# another group here, and {glue:text}`changed_ref` of {glue:text}`n_items_ref` in the reference
# catalog: the choice is not a detail.
#
# ## How much the model leans on each token
#
# Feature ablation asks a counterfactual question: how much less likely does the model find the true
# next title when one piece of its input is taken away? The input of a row is the prompt
# $x = [x_{\text{task}}, x_{\text{user}}]$ of {doc}`01_introduction` and the response $y$. Three kinds of
# token are compared:
#
# - **task** tokens: those of the instruction sentence ("Given a list of … please recommend …");
# - **interaction** tokens: those of the history titles;
# - the **prefix** token: the first response token that carries a character of the title, the first
#   title token the model writes (after the opening quote; where a tokenizer merges the quote into the
#   first word, that merged token).
#
# The quantity measured is the log-probability of the response tokens *after* the prefix token
# (the rest of the title, the closing quote and EOS), the same for every ablation so that all
# contributions are in the same units. Ablating token $i$ (deleting it, for the `remove` baseline, or
# replacing it by a neutral token, for `placeholder`) gives its contribution
#
# $$ c_i = \sum_{t > k} \log P\big(y_t \mid x,\, y_{<t}\big) \;-\; \sum_{t > k} \log P\big(y_t \mid \tilde x^{(i)},\, \tilde y^{(i)}_{<t}\big) $$ (eq-03-drop)
#
# Positive: the token makes the true title more likely. This run uses the **{glue:text}`baseline`**
# baseline. The paper does its attribution "at the token level": every token is its own feature, and a
# type is summarised by its **mean contribution per token**. Per row, and over $n$ rows,
#
# $$ A_{\text{type}}(i) = \frac{1}{|T_{\text{type}}(i)|}\sum_{j \in T_{\text{type}}(i)} |c_j|, \qquad R_{\text{task}} = \frac{\frac1n\sum_i A_{\text{task}}(i)}{\frac1n\sum_i A_{\text{inter}}(i)}, \qquad R_{\text{prefix}} = \frac{\frac1n\sum_i |c_{\text{prefix}}(i)|}{\frac1n\sum_i A_{\text{inter}}(i)} $$ (eq-03-ratio)
#
# with absolute values, so that a token that pushes the target down counts as relied on too (the
# signed view, with $c_j$ for $|c_j|$, is shown as well). The intervals are 95% bootstrap intervals over
# the rows. A ratio of means lets the rows with large contributions weigh most; the reference tables
# also give the median of the per-row ratios $A_{\text{task}}(i) / A_{\text{inter}}(i)$, which no
# single row can dominate. Every token of a row costs one forward pass over the rest of the sequence after it, so the
# rows' ablations share the computation of everything before each ablated token (a cached prefix)
# and run in batches:
#
# ```{literalinclude} ../lib/gdrt/diagnostics/attribution.py
# :pyobject: token_ablation
# ```
#
# The values equal those of captum's `FeatureAblation` with one feature per token (a test checks it
# to $10^{-5}$). A row's prompt holds about two dozen task tokens and well over a hundred history
# tokens; with `attr_tokens` = {glue:text}`attr_tokens`, each row ablates a uniform random sample of at
# most that many tokens of each type, an unbiased estimate of the row's mean per token at a fraction of
# the cost. Here are the live base and SFT models on a seeded sample of test rows:

# %%
sft = book.run(cfg, "sft")
models = {"base": book.base_model(cfg), "sft": load_trained(sft.run_dir, bf16=False)}
sample = subset(data.test, cfg.n_attr, seed)
keys = {"base": cfg.model, "sft": str(sft.run_dir)}
t0 = time.perf_counter()
attr = {name: diagnostics.cached_attribution(keys[name], lm, sample, data.catalog, cfg.preset, cfg.runs_root / "attribution",
                                             baseline, view="token", max_tokens=attr_tokens) for name, lm in models.items()}
glue("attr_min", (time.perf_counter() - t0) / 60, display=False)

# %% mystnb={"figure": {"caption": "Live: per-token attribution ratios of the base and SFT models on the test sample (ratios of mean |contribution| per token, eq-03-ratio) with 95% bootstrap intervals (lo, hi).", "name": "tab-03-ratios-live"}}
ratios = diagnostics.ratio_table(attr, n_boot=n_boot, seed=seed)
glue("n_sample", len(sample), display=False)
ratios

# %% tags=["remove-cell"]
book.glue_all(diagnostics.ratio_numbers(ratios), prefix="live_")

# %% [markdown]
# Live: task : interaction is {glue:text}`live_base_task_ratio:.2f` for the base model and
# {glue:text}`live_sft_task_ratio:.2f` after SFT, on {glue:text}`n_sample` rows (attribution took
# {glue:text}`attr_min:.1f` min, or about 0 from the cache). The reference experiment measures the
# same on its own rows, for the base model and each seed of SFT (averaged over seeds):

# %% mystnb={"figure": {"caption": "Reference: per-token attribution ratios (mean |contribution| per token) of the base model and of SFT (mean over its seeds), with 95% bootstrap intervals over the attribution rows.", "name": "tab-03-ratios-ref"}}
ref_ratios = replication.attribution_table(res, "token", n_boot=n_boot, seed=seed).reindex(["base", "sft"])
ref_ratios

# %% tags=["remove-cell"]
book.glue_all(diagnostics.ratio_numbers(ref_ratios), prefix="ref_")
ref_signed = replication.attribution_table(res, "token", absolute=False, n_boot=n_boot, seed=seed)
ref_feature = replication.attribution_table(res, "feature", n_boot=n_boot, seed=seed)
book.glue_all(diagnostics.ratio_numbers(ref_signed.reindex(["base", "sft"])), prefix="ref_signed_")
book.glue_all(diagnostics.ratio_numbers(ref_feature.reindex(["base", "sft"])), prefix="ref_feature_")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 2 on the reference experiment: task : interaction (left) and prefix : interaction (right), mean |contribution| per token, for the base model and after SFT, with 95% bootstrap intervals. Grey line: 1:1. Dotted: the paper's task : interaction before SFT; red dashed: the two values its text gives after SFT, Toy and Clothing. Compare the SFT bar with the base bar.", "name": "fig-03-ratios"}}
plots.attribution_ratios(ref_ratios, paper.TASK_INTERACTION_BEFORE_SFT, paper.FIG2_AFTER_SFT)

# %% [markdown]
# In the reference experiment task : interaction per token is {glue:text}`ref_base_task_ratio:.2f`
# for the base model ({glue:text}`ref_base_task_lo:.2f`–{glue:text}`ref_base_task_hi:.2f`) and
# {glue:text}`ref_sft_task_ratio:.2f` after SFT ({glue:text}`ref_sft_task_lo:.2f`–{glue:text}`ref_sft_task_hi:.2f`);
# prefix : interaction is {glue:text}`ref_base_prefix_ratio:.2f` and {glue:text}`ref_sft_prefix_ratio:.2f`.
# With signed contributions, task : interaction is {glue:text}`ref_signed_base_task_ratio:.2f` and
# {glue:text}`ref_signed_sft_task_ratio:.2f`. The paper reports about {glue:text}`paper_before:.0f`:1
# before SFT and {glue:text}`paper_toy:.2f`:1 (Toy) and {glue:text}`paper_clothing:.2f`:1 (Clothing)
# after. {doc}`07_analysis` tests the change before and after SFT with a paired interval.
#
# ### A second view: whole features
#
# An earlier version of this book ablated *whole features* (the instruction sentence as one block,
# each history title as one block, the prefix token) and compared the task block with the *sum* over
# the ten history titles. That view answers another question. Summing over ten titles of a dozen
# tokens each gives the history a far larger total than one instruction sentence, so the ratio is
# small whatever the model does; the per-token view compares like with like, one token against one
# token. In the reference experiment the whole-feature task : interaction is
# {glue:text}`ref_feature_base_task_ratio:.3f` for the base model and
# {glue:text}`ref_feature_sft_task_ratio:.3f` after SFT.

# %% mystnb={"figure": {"caption": "Reference: whole-feature ratios (the task block's |contribution| over the summed |contribution| of the history titles), base model and SFT, with 95% bootstrap intervals.", "name": "tab-03-ratios-feature"}}
ref_feature.reindex(["base", "sft"])

# %% [markdown]
# ## Where the recommendations land
#
# If a model leans on the task prompt, its recommendations drift into item group 1 beyond what the
# users went on to choose (the test targets). The live SFT predictions are its evaluation's
# ({glue:text}`n_test` test rows); the live base model decodes the attribution sample with the same
# constrained beam search.

# %% mystnb={"figure": {"caption": "Live: share of each item group among the top-1, top-5 and top-10 recommendations of the base and SFT models, pooled over rows, with the test targets' and the histories' shares. Column rows: the test rows each line covers.", "name": "tab-03-shares"}}
item_group = book.item_groups(cfg, data.catalog)
preds = {"base": diagnostics.decode_rows(models["base"].model, models["base"].tokenizer, sample, data.catalog,
                                         cfg.preset, cfg.runs_root / "base", item_group, name=cfg.model, bf16=cfg.bf16),
         "sft": diagnostics.load_predictions(sft.eval_dir)}
shares = diagnostics.group_share_table(preds, item_group, ks=(1, 5, 10))
glue("n_test", len(preds["sft"]), display=False)
shares

# %% tags=["remove-cell"]
book.glue_all(diagnostics.share_numbers(shares), prefix="live_")
ref_shares = replication.group_share_table(res, ("base", "sft"))
ref_share_values = book.glue_all(diagnostics.share_numbers(ref_shares, ks=(1, 10)), prefix="ref_")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 3 on the reference experiment: per item group, the share of the top-1 (left) and top-10 (right) recommendations of the base model and of SFT (its seeds pooled), against the test targets' (dashed) and the histories' (dotted) shares. Look at group 1: a bias toward prompt-likely items shows as an SFT bar above the dashed line there.", "name": "fig-03-shares"}}
plots.group_shares(ref_shares, k=10)

# %% [markdown]
# Reference: {glue:text}`ref_target_g1:.1%` of the test targets and {glue:text}`ref_history_g1:.1%` of
# the history items lie in item group 1. The top-1 recommendations in group 1: base
# {glue:text}`ref_base_top1_g1:.1%`, SFT {glue:text}`ref_sft_top1_g1:.1%`; over the top-10 lists: base
# {glue:text}`ref_base_top10_g1:.1%`, SFT {glue:text}`ref_sft_top10_g1:.1%`. The paper reports about
# {glue:text}`paper_sft_top1_g1:.0%` for SFT against {glue:text}`paper_target_g1:.0%` of the targets.
# Live: base {glue:text}`live_base_top1_g1:.1%` (on {glue:text}`live_base_rows` rows) and SFT
# {glue:text}`live_sft_top1_g1:.1%`, targets {glue:text}`live_target_g1:.1%`.
#
# ## Over training
#
# When does the drift into group 1 happen? Every validation during training decodes a fixed subset
# of validation rows with constrained beam search to choose the best adapter, and keeps the ranked lists
# it made (`validation/step-N.jsonl` in the run's folder); the share of top-1 recommendations in
# group 1 at each validation is read from those lists, with the untuned model on the same rows as
# step 0. No extra decoding is needed.

# %%
live_trace = book.validation_trace(cfg, {"sft": sft}, item_group)
ref_trace = replication.trace(res, "sft")
live_trace.round(3)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 4 on the reference experiment: share of top-1 recommendations in item group 1 (left) and NDCG@5 (right) on each seed's validation rows during SFT, one line per seed; step 0 is the untuned model. Dashed: the test targets' group-1 share.", "name": "fig-03-trace"}}
plots.reference_trace(ref_trace, ref_share_values["target_g1"])

# %% tags=["remove-cell"]
book.glue_all(replication.trace_numbers(ref_trace), prefix="ref_sft_")

# %% [markdown]
# In the reference runs the top-1 share of group 1 on the validation rows goes from
# {glue:text}`ref_sft_trace_start:.1%` for the untuned model to {glue:text}`ref_sft_trace_end:.1%` at the
# last validation (mean over seeds; the highest point of any seed is {glue:text}`ref_sft_trace_max:.1%`).
# The live table above shows the same measurement at this profile's size.
#
# ## Origins: co-occurrence in the training set
#
# Why would fine-tuning teach the model to lean on the task and the prefix? The paper's answer is
# statistical: auxiliary tokens co-occur with target tokens far more often than interaction tokens do,
# so the associations SFT strengthens at every step are mostly theirs. To make that precise, take
# every *target position* $(e, t)$ of the training set (token $y_t$ of example $e$'s response, $N$
# positions in all) and three *source sets* at it: the distinct tokens of the task sentence $T_e$, of
# the already generated prefix $P_{e,t} = \{y_s : s < t\}$, and of the history titles $I_e$. For a
# source kind $S$ and a pair of tokens $(a, b)$,
#
# $$ \operatorname{rate}_S(a, b) = \frac{1}{N}\,\#\{(e, t) : a \in S_{e,t},\ y_{e,t} = b\} $$ (eq-03-cooc)
#
# is the share of all training target positions at which target $b$ is trained while $a$ is in view.
# Two summaries per kind: the mean rate over distinct pairs, and the mean over pair *occurrences*
# (the rate of the pair behind a randomly drawn training co-occurrence).

# %% mystnb={"figure": {"caption": "Live: co-occurrence of (source token, target token) pairs over this run's training rows, per source kind (rates as defined above): distinct pairs, occurrences, and mean and median rates.", "name": "tab-03-cooc"}}
tokenizer = models["base"].tokenizer
counts, n_positions = diagnostics.cooccurrence_counts(tokenizer, data.train, data.catalog, cfg.preset)
cooc = diagnostics.cooccurrence_summary(counts, n_positions)
glue("n_positions", n_positions, display=False)
glue("n_train", len(data.train), display=False)
cooc

# %% tags=["remove-cell"]
rate = cooc["mean rate (per occurrence)"]
ref_rate = res.cooccurrence()
book.glue_all({**{f"cooc_{k}": rate[k] for k in diagnostics.SOURCES},
               "cooc_task_over_inter": rate["task"] / rate["interaction"],
               "cooc_prefix_over_inter": rate["prefix"] / rate["interaction"],
               "ref_cooc_task_over_inter": ref_rate["task"] / ref_rate["interaction"],
               "ref_cooc_prefix_over_inter": ref_rate["prefix"] / ref_rate["interaction"]})

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 5 on this run: co-occurrence rates of the distinct (source token, target token) pairs in the training rows, per source kind (log scale; the dashed line in each box is the mean). Compare the heights of the boxes.", "name": "fig-03-cooc"}}
plots.cooccurrence_rates(diagnostics.pair_rates(counts, n_positions))

# %% [markdown]
# Over the {glue:text}`n_positions` target positions of the {glue:text}`n_train` live training rows,
# the pair behind a randomly drawn co-occurrence has rate {glue:text}`cooc_task:.4f` for task pairs,
# {glue:text}`cooc_prefix:.4f` for prefix pairs and {glue:text}`cooc_interaction:.4f` for interaction
# pairs: task pairs are {glue:text}`cooc_task_over_inter:.1f` times and prefix pairs
# {glue:text}`cooc_prefix_over_inter:.1f` times as frequent as interaction pairs by this measure. On
# the reference experiment's training rows the two factors are
# {glue:text}`ref_cooc_task_over_inter:.1f` and {glue:text}`ref_cooc_prefix_over_inter:.1f`. The most
# frequent pairs of each kind:

# %%
diagnostics.top_pairs(counts, n_positions, tokenizer, k=3)

# %% [markdown]
# ## Origins: which tokens the model learns
#
# The second part of the story is the loss. Split the target tokens into the groups GDRT trains with,
# by their relevance {ref}`Eq. (3) <eq-3>`: $G$ groups, group 1 the most relevant. If the model learns
# the prompt-predictable tokens and neglects the others, its held-out loss is low in group 1 and high
# in the last groups, and those high-loss groups are the ones GDRT up-weights ({doc}`05_gdrt`). The
# per-group losses of the base and SFT models on the live test sample:

# %%
n_groups = 5
groups = Grouping.fit(token_values(rel, data.catalog, data.train), n_groups, "kmeans", seed)
losses = {name: diagnostics.group_losses(lm.model, lm.tokenizer, sample, data.catalog, cfg.preset, rel, groups)
          for name, lm in models.items()}
loss_table = diagnostics.group_loss_table(losses)
loss_table.pivot(index="group", columns="model", values="loss")

# %% tags=["remove-cell"]
glue("G", n_groups, display=False)
book.glue_all({f"{name}_{key}": value for name, r in losses.items() for key, value in
               (("loss_g1", r["group_loss"][0]), ("loss_glast", r["group_loss"][-1]), ("loss_mean", r["mean"]))})

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 6 on this run: mean held-out token loss per relevance group (group 1: the tokens most predictable from the task prompt alone) for the base and SFT models on the test sample. Hover for the token counts.", "name": "fig-03-group-loss"}}
plots.group_losses(loss_table)

# %% [markdown]
# With $G$ = {glue:text}`G` groups, SFT's held-out loss is {glue:text}`sft_loss_g1:.3f` nats per token
# in group 1 and {glue:text}`sft_loss_glast:.3f` in group {glue:text}`G` (base model:
# {glue:text}`base_loss_g1:.3f` and {glue:text}`base_loss_glast:.3f`); the mean over all tokens is
# {glue:text}`base_loss_mean:.3f` before and {glue:text}`sft_loss_mean:.3f` after SFT.
#
# ## The paper and this book
#
# ```{admonition} What the paper reports
# :class: note
# With Llama-3.2-3B on Toy, Clothing and Book (paper §2.2, Fig. 2–6): task : interaction about
# {glue:text}`paper_before:.0f`:1 before SFT and, the two examples its text gives after SFT,
# {glue:text}`paper_toy:.2f`:1 (Toy) and {glue:text}`paper_clothing:.2f`:1 (Clothing); about {glue:text}`paper_sft_top1_g1:.0%` of SFT's
# top-1 recommendations in item group 1, against {glue:text}`paper_target_g1:.0%` of the test targets,
# a share that rises during tuning; auxiliary–target pairs co-occurring far more than
# interaction–target pairs.
# ```
#
# ```{admonition} What the reference experiment measured
# :class: tip
# {glue:text}`ref_dataset`, `{glue:text}`ref_model``, {glue:text}`ref_n_test` test rows, SFT seeds
# finished: {glue:text}`ref_seeds_sft`. Task : interaction per token: base
# {glue:text}`ref_base_task_ratio:.2f`, SFT {glue:text}`ref_sft_task_ratio:.2f`. Top-1 in item group 1:
# base {glue:text}`ref_base_top1_g1:.1%`, SFT {glue:text}`ref_sft_top1_g1:.1%`, targets
# {glue:text}`ref_target_g1:.1%`. Co-occurrence, task over interaction: {glue:text}`ref_cooc_task_over_inter:.1f`.
# Whether each of these replicates the paper, with paired intervals, is the table of
# {doc}`07_analysis`, "Does it replicate here?".
# ```

# %% tags=["remove-cell"]
glue("chapter_min", (time.perf_counter() - t_chapter) / 60, display=False)

# %% [markdown]
# This chapter's execution took {glue:text}`chapter_min:.1f` min in all.
#
# ## Summary
#
# - Relevance to the auxiliary tokens is scored per token ({ref}`Eq. 3 <eq-3>`) and per item
#   ({ref}`Eq. 2 <eq-2>`) with the untuned base model; averaging over the title's own tokens rather
#   than the whole response moves {glue:text}`changed_ref` of {glue:text}`n_items_ref` reference items
#   to another group ({numref}`tab-03-groups-ref`).
# - Per-token feature ablation ({eq}`eq-03-ratio`): task : interaction was
#   {glue:text}`ref_base_task_ratio:.2f` before tuning and {glue:text}`ref_sft_task_ratio:.2f` after SFT in
#   the reference experiment ({numref}`fig-03-ratios`).
# - SFT put {glue:text}`ref_sft_top1_g1:.1%` of its top-1 recommendations in item group 1, against
#   {glue:text}`ref_target_g1:.1%` of the targets ({numref}`fig-03-shares`); {numref}`fig-03-trace`
#   shows the share during training.
# - In the training rows, task–target pairs co-occur {glue:text}`ref_cooc_task_over_inter:.1f` times as
#   often as interaction–target pairs ({numref}`fig-03-cooc`), and SFT's held-out loss per relevance
#   group runs from {glue:text}`sft_loss_g1:.3f` (group 1) to {glue:text}`sft_loss_glast:.3f`
#   ({numref}`fig-03-group-loss`).
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
# :label: ex-03-views
# A prompt has 24 task tokens and 150 history tokens. Every task token contributes 0.02 nats and every
# history token 0.01. What are task : interaction per token ({eq}`eq-03-ratio`) and in the whole-feature
# view (one task block against the summed history, if contributions added up)? Which view can exceed 1
# for a model that reads the history at all?
# ```
#
# ```{solution} ex-03-views
# :class: dropdown
# Per token: $0.02 / 0.01 = 2$. Whole features: $24 \times 0.02 = 0.48$ against $150 \times 0.01 = 1.5$,
# a ratio of $0.32$. The whole-feature ratio divides by the number of history tokens as well, so with
# long histories it stays below 1 even when every task token matters twice as much as a history
# token; the per-token view compares one token with one token, as the paper's ratios do.
# ```
#
# ```{exercise}
# :label: ex-03-baseline
# Change a parameter, predict, run: re-execute this chapter with `-p baseline placeholder`. Removing
# a history token shortens the prompt and shifts every later position; a placeholder keeps the
# positions. Before running, predict whether task : interaction goes up or down for each model, then
# compare {numref}`tab-03-ratios-live` with this run's.
# ```
#
# ```{solution} ex-03-baseline
# :class: dropdown
# Run
# `jupytext --to ipynb -o - chapters/03_bias_evidence.py | papermill - runs/03-placeholder.ipynb --cwd chapters -p baseline placeholder`.
# The SFT run and the base model's decoding come from the caches; the attribution is measured again for
# both models, because the baseline is part of its cache key. The run takes at most about this
# chapter's time at the profile in the {doc}`teacher's guide <../teaching>` (measured with every cache
# empty).
#
# What to expect. The shift itself matters little for this model: it encodes positions by rotation
# (RoPE), so attention sees relative distances, and deleting a token changes only the distances across
# the gap, which any ablation of that token changes anyway. What differs is what fills the hole. The
# placeholder is the tokenizer's unknown token; for SmolLM2 that is `<|endoftext|>`, the token that
# separates documents in pre-training. A document boundary in mid-prompt tends to move the
# log-probability more than a missing word, so expect larger |c| for every kind of token. Text before
# a boundary looks like another document: a placeholder among the history titles has the task sentence
# and the earlier titles before it, one in the task sentence only the template's first words. A
# reasonable bet is therefore a smaller task : interaction for both models under `placeholder`. The
# chapter's claim is the change from base to SFT: if its direction holds under both baselines, it is a
# property of the models, not of the probe. Noise: the ratios rest on {glue:text}`n_sample` rows and at
# most {glue:text}`attr_tokens` tokens of each type per row, so a change that stays inside the
# bootstrap intervals of {numref}`tab-03-ratios-live` is noise. Both runs ablate the same sampled
# tokens (the sample is seeded by the row), so their per-row values can also be compared pair by pair.
# ```
#
# ```{exercise}
# :label: ex-03-open
# Open: the interaction contribution averages over ten titles. Which history positions carry it: the
# most recent item, or all of them alike? Each row of `attr` lists its interaction tokens' contributions
# (`interaction_tokens`) with the history position of each (`item_of`, oldest first). Plot the mean
# |contribution| by position for the base model and SFT, and say what a recency effect would mean for
# the bias this chapter measures.
# ```
#
# ```{solution} ex-03-open
# :class: dropdown
# A sketch. Align the positions from the end: with $n$ = `n_history` and `item_of` $= j$, the recency
# $n - 1 - j$ is 0 for the most recent item whatever the history's length. For each model, take the
# mean |contribution| of a row's sampled tokens at each recency, then the mean over rows with a
# bootstrap interval, and plot the two models against recency. The live sample is small. The reference
# experiment stores the same per-token results for its attribution rows (`res.base.attr_token`, and
# `attr_token` of each part in `res.models("sft")`), and its whole-feature results (`attr_feature`,
# key `items`: one contribution per history title, oldest first) cover every position of every row,
# where the token sample leaves gaps (divide by the title's token count to compare per token).
#
# A recency effect shows as a curve that rises toward recency 0. What it would mean here:
# $A_{\text{inter}}$ of {eq}`eq-03-ratio` is a mean over all history tokens, so a model that reads
# mostly the last item and ignores the rest has a small $A_{\text{inter}}$ and a large
# task : interaction, although it uses the most informative part of the history. If SFT lowers every
# position alike, the lower reliance on the history is real; if it keeps or raises the last item's
# contribution and lowers only the old ones, the ratio's rise says more about *where* the model looks
# than *how much*. Pitfalls: short histories have no old positions (report the rows per position);
# redundant titles (the same brand twice) share their effect, so ablating one of them shows little;
# and the last title is always the one nearest the response, so recency and distance to the target
# cannot be told apart without reordering the history (shuffle it and see whether the contribution
# follows the item or the slot).
# ```
