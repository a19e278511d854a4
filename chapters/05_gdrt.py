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
# (ch-gdrt)=
# # Debiasing with GDRT
#
# Supervised fine-tuning teaches an LLM recommender to lean on what the prompt alone makes likely.
# GDRT {cite:p}`gdrt2025` keeps the same model, data and decoding, and changes only the loss: it
# groups the target tokens by how predictable they are *without* the user's history and up-weights
# the groups the model currently gets most wrong. This chapter builds every piece on real data, trains
# SFT and GDRT side by side with 4-bit QLoRA, and measures both with constrained beam search.
#
# ```{admonition} In this chapter
# Builds on {doc}`01_introduction` (the prompt, SFT, constrained beam search) and
# {doc}`04_group_dro` (why the weights are a softmax). You will score every target token with
# {ref}`Eq. (3) <eq-3>`, split the tokens into groups, train with {ref}`Eq. (5) <eq-5>`, and fill in
# the evaluation table (NDCG, HIT, MGU, DGU, top-1 group shares) for SFT and GDRT.
# Symbols and terms: {doc}`../notation`.
# ```
#
# ```{warning}
# At the `cpu` profile (the book build on a 2-core laptop) both models see a small, stated subset of
# the data for one epoch: the numbers show the pipeline working, not the paper's effect sizes. The
# reference experiment at the end of this chapter, and {doc}`07_analysis`, answer the question at a
# size that can; the paper's own sizes need the `gpu` profile (see the README).
# ```

# %% tags=["parameters"]
profile = "cpu"      # smoke | cpu | gpu | gpu-lite
dataset = None          # None: the profile's (book at cpu); office | game | book | clothing
model = None         # None: the profile's model (smollm2-135m at cpu)
n_groups = 5         # G, from the paper's grid {2, 5, 10}
tau = 1.0            # τ, from the paper's grid {0.1, 0.2, 0.3, 0.5, 1.0}
grouping = "kmeans"  # kmeans | quantile
reference = "book"   # the committed reference experiment shown at the end
seed = 0

# %% tags=["remove-cell"]
import time

from myst_nb import glue

from gdrt import book, paper, replication, report
from gdrt.objectives import gdrt_loss
from gdrt.objectives.relevance import Grouping, token_values
from gdrt.plots import training as plots

t_chapter = time.perf_counter()
cfg = book.setup(profile, dataset=dataset, model=model, seed=seed)
glue("profile", profile, display=False)
glue("tau", tau, display=False)
glue("G", n_groups, display=False)

# %%
book.banner(cfg)

# %% [markdown]
# ## The data this chapter trains on
#
# Training uses a seeded subset of `train_10000` (the data release's 10,000-row random sample of
# `train.csv`, the file it trains LLMs on; the paper itself gives no training-set size), checkpoint
# selection a subset of `valid`, and the test numbers the test split named below.

# %%
data = book.load_data(cfg)
glue("n_train", len(data.train), display=False)
glue("n_valid", len(data.valid), display=False)
glue("n_test", len(data.test), display=False)
glue("n_titles", data.catalog.n_titles, display=False)
{"train rows": len(data.train), "valid rows": len(data.valid), "test rows": len(data.test),
 "catalog titles": data.catalog.n_titles, "test split": cfg.test_split}

# %% [markdown]
# This run trains on {glue:text}`n_train` rows, selects on {glue:text}`n_valid` validation rows and
# tests on {glue:text}`n_test` rows; the catalog holds {glue:text}`n_titles` distinct titles.
#
# ## Token relevance
#
# GDRT's first step asks, for each target token, how likely the model finds it when the user's history
# is hidden: {ref}`Eq. (3) <eq-3>` of {doc}`03_bias_evidence`, $r(y_t) = \log P(y_t \mid x_{\text{task}},
# \texttt{N/A}, y_{<t})$, scored with the untuned base model (the model being tuned, at step 0). A
# high $r$ means the token is predictable from the auxiliary tokens alone. Such tokens are easy: SFT
# drives their loss down early, and since they are a large share of all target tokens, they dominate
# the token count of its mean loss, while the rare, history-dependent tokens carry a small share of
# it. Because the `N/A` prompt is the same for every example of a dataset, $r$ depends on the target
# title only: one pass over the catalog's titles scores every target token of every training example,
# and the scores are cached on disk keyed by model, titles and template.

# %%
t0 = time.perf_counter()
rel = book.relevance(cfg, data.catalog)
values = token_values(rel, data.catalog, data.train)
glue("relevance_seconds", time.perf_counter() - t0, display=False)
glue("n_tokens", len(values), display=False)
book.token_table(cfg, data.catalog.title(data.train[0].target), rel)

# %% [markdown]
# The table shows one training target token by token: the opening quote and common words are
# predictable from the task alone, brand names and model numbers are not. Over the
# {glue:text}`n_tokens` target tokens of the training subset the scores spread over several nats
# (scoring the catalog took {glue:text}`relevance_seconds:.1f` s, or nothing when cached).
#
# ## Grouping
#
# The tokens are split into $G$ = {glue:text}`G` groups by their relevance: k-means on the scalar
# scores (or equal-size quantiles), group 1 the most relevant.

# %%
groups = Grouping.fit(values, n_groups, grouping, seed)
book.group_table(groups, values)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Token relevance r(y_t) of every target token in the training subset, with the group boundaries (dashed). Look at the mass on the right: tokens the task prompt alone predicts, which SFT learns first.", "name": "fig-05-relevance"}}
plots.relevance_histogram(values, groups.edges)

# %% [markdown]
# ## The loss
#
# For a batch, $L(g)$ is the mean token loss over the batch's tokens in group $g$. GDRT minimises the
# worst case over group weights near uniform, whose closed form ({prf:ref}`Lemma 1 <lem-1>`,
# {ref}`Eq. (5) <eq-5>` in {doc}`04_group_dro`) is a softmax:
#
# $$ \mathcal{L}_{\text{GDRT}} = \sum_{g} Q(g)\,L(g), \qquad Q(g) = \frac{\exp\big(L(g)/\tau\big)}{\sum_{g'} \exp\big(L(g')/\tau\big)} \tag{5} $$
#
# with $Q$ held constant in the backward pass; its gradient equals that of
# $\tau \log \sum_g \exp(L(g)/\tau)$. SFT is the special case of one group. In a few lines, for a
# batch in which every group has tokens (the code numbers groups from 0, so the text's group 1 is
# index 0):

# %%
import torch  # noqa: E402


def gdrt_loss_teaching(token_loss, group, n_groups, tau):
    L = torch.stack([token_loss[group == g].mean() for g in range(n_groups)])  # L(g)
    Q = torch.softmax(L.detach() / tau, dim=0)  # Q(g), held constant in the backward pass
    return (Q * L).sum()


# %% [markdown]
# The library's version adds what a real batch needs: padding masked out, groups absent from a batch
# left out of the softmax (weight 0 instead of a NaN mean), and the per-group losses and weights
# returned for logging. It is the one the trainer calls:
#
# ```{literalinclude} ../lib/gdrt/objectives/gdrt.py
# :pyobject: gdrt_loss
# ```
#
# and the trainer subclass overrides nothing but the loss:
#
# ```{literalinclude} ../lib/gdrt/training/trainer.py
# :pyobject: GDRTTrainer.compute_loss
# ```
#
# On three tokens in two groups, with losses 1, 3 (group 1, index 0) and 0.5 (group 2, index 1), the
# group losses are 2 and 0.5 and the weights lean on group 1; the teaching version gives the same loss:

# %%
token_loss, group = torch.tensor([1.0, 3.0, 0.5]), torch.tensor([0, 0, 1])
loss, info = gdrt_loss(token_loss, group, n_groups=2, tau=tau)
assert torch.allclose(loss, gdrt_loss_teaching(token_loss, group, 2, tau))
{"loss": round(loss.item(), 4), "L(g)": info["group_loss"].tolist(), "Q(g)": info["weights"].tolist()}

# %% [markdown]
# ## Training SFT and GDRT
#
# Both runs share everything — model, 4-bit NF4 base with LoRA adapters (QLoRA), data, optimiser,
# schedule, seed — except the loss. After each epoch, constrained beam search on the validation subset
# gives NDCG@5, and the best adapter is kept. A run lives in a directory named by the hash of its
# configuration, so re-executing the chapter, or a later chapter, reuses it.

# %%
sft = book.run(cfg, "sft")
gdrt = book.run(cfg, "gdrt", n_groups=n_groups, tau=tau, grouping=grouping)
report.runs_table({"sft": sft.final, "gdrt": gdrt.final})

# %%
glue("adapter", sft.final["adapter"], display=False)
glue("adapter_note", sft.final["adapter_note"] or "4-bit QLoRA loaded as asked.", display=False)
glue("sft_train_min", sft.final["train_seconds"] / 60, display=False)
glue("gdrt_train_min", gdrt.final["train_seconds"] / 60, display=False)
glue("sft_step_s", sft.final["seconds_per_step"], display=False)
glue("gdrt_step_s", gdrt.final["seconds_per_step"], display=False)
glue("steps", sft.final["steps"], display=False)
sft.final["adapter_note"] or "adapter: " + sft.final["adapter"]

# %% [markdown]
# Adapter actually used: **{glue:text}`adapter`** ({glue:text}`adapter_note`). SFT trained for
# {glue:text}`steps` optimizer steps in {glue:text}`sft_train_min:.1f` min
# ({glue:text}`sft_step_s:.2f` s/step), GDRT in {glue:text}`gdrt_train_min:.1f` min
# ({glue:text}`gdrt_step_s:.2f` s/step). The totals include the validation passes; the per-step
# times and tokens/s in the table exclude them.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training loss per optimizer step (moving average). GDRT's loss is the Q-weighted group loss, so it sits above SFT's plain mean: compare shapes, not levels.", "name": "fig-05-loss"}}
plots.loss_curves({"sft": sft.log, "gdrt": gdrt.log})

# %% tags=["hide-input"] mystnb={"figure": {"caption": "GDRT during training: per-group loss L(g) (left) and weight Q(g) (right) of every micro-batch. Look at the order: the least relevant groups (high numbers) carry the highest loss and so get the largest weights.", "name": "fig-05-groups"}}
plots.group_curves(gdrt.log)

# %% [markdown]
# ## Evaluation
#
# Each selected adapter recommends ten titles per test row by constrained beam search (beam 10, over
# a trie of the catalog's titles, so every recommendation is a real item). NDCG@K and HIT@K count a
# hit when the target's id is among an entry's ids; MGU@K and DGU@K measure how far the item groups
# of the recommendations drift from those of the users' histories, with the item groups of
# {ref}`Eq. (2) <eq-2>` ({doc}`03_bias_evidence`) under the base model, fixed for all methods.

# %% mystnb={"figure": {"caption": "SFT and GDRT on the test rows (profile, rows and sizes stated above). NDCG and HIT: higher is better; MGU and DGU: lower is better; the last column is the share of top-1 recommendations in item group 1.", "name": "tab-05-eval"}}
metrics = {"sft": sft.metrics, "gdrt": gdrt.metrics}
report.metrics_table(metrics)

# %% tags=["remove-cell"]
book.glue_metrics(metrics)
glue("eval_s_per_prompt", sft.timing["seconds_per_prompt"], display=False)
glue("paper_sft_top1_g1", paper.SFT_TOP1_GROUP1, display=False)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 3 on this run: share of top-1 recommendations per item group (bars) against the test targets' (dashed) and the histories' (dotted) shares. Look at group 1: a bias toward prompt-likely items shows as bars above the dashed line there.", "name": "fig-05-top1"}}
plots.group_shares(metrics)

# %% [markdown]
# ## At the reference experiment's size
#
# The same two methods in the committed reference experiment (several seeds, a thousand test rows;
# {doc}`07_analysis` tests every difference), beside the paper's Table 2 for the same dataset:

# %%
res = book.reference(reference)
book.reference_banner(res, reference)

# %% mystnb={"figure": {"caption": "Paper Table 2's SFT and GDRT rows for the reference dataset, next to the reference experiment's (mean over the finished seeds, with the seed range).", "name": "tab-05-table2"}}
replication.table2(res, paper.TABLE2)

# %% [markdown]
# ```{admonition} What the paper reports
# :class: note
# On Toy, Clothing and Book with Llama-3.2-3B, GDRT improves NDCG and lowers MGU/DGU over SFT, and
# SFT puts about {glue:text}`paper_sft_top1_g1:.0%` of its top-1 recommendations in item group 1.
# ```
#
# ```{admonition} What this run measured
# :class: tip
# Profile {glue:text}`profile`, {glue:text}`n_train` training rows, {glue:text}`n_test` test rows,
# one seed. NDCG@10: SFT {glue:text}`sft_ndcg@10:.4f`, GDRT {glue:text}`gdrt_ndcg@10:.4f`.
# HIT@10: SFT {glue:text}`sft_hit@10:.4f`, GDRT {glue:text}`gdrt_hit@10:.4f`.
# MGU@5: SFT {glue:text}`sft_mgu@5:.4f`, GDRT {glue:text}`gdrt_mgu@5:.4f`.
# Top-1 in item group 1: SFT {glue:text}`sft_top1_g1:.1%`, GDRT {glue:text}`gdrt_top1_g1:.1%`
# (test targets: {glue:text}`target_g1:.1%`). Decoding took {glue:text}`eval_s_per_prompt:.2f` s per
# test prompt.
# ```
#
# ```{warning}
# **Why the numbers differ.** The paper tunes a 3B-parameter model for five epochs (on `train_10000`,
# we assume);
# the `cpu` profile tunes a 135M-parameter model on a few hundred rows for one epoch, with one seed.
# Differences between SFT and GDRT at this size are within the noise of one seed on a few hundred test
# rows; {doc}`07_analysis` says which differences the reference experiment can and cannot resolve.
# ```

# %% tags=["remove-cell"]
glue("chapter_min", (time.perf_counter() - t_chapter) / 60, display=False)

# %% [markdown]
# This chapter's execution took {glue:text}`chapter_min:.1f` min in all.
#
# ## Summary
#
# - Token relevance ({ref}`Eq. 3 <eq-3>`) depends only on the target title, so one cached pass over
#   the catalog scores every training token ({numref}`fig-05-relevance`).
# - GDRT is SFT with a different loss: group losses, a softmax over them at temperature τ =
#   {glue:text}`tau`, and nothing else changed ({numref}`fig-05-groups` shows the weights at work).
# - On this run, NDCG@10 was {glue:text}`sft_ndcg@10:.4f` for SFT and {glue:text}`gdrt_ndcg@10:.4f`
#   for GDRT, and the share of top-1 recommendations in item group 1 was
#   {glue:text}`sft_top1_g1:.1%` against {glue:text}`gdrt_top1_g1:.1%` ({numref}`fig-05-top1`).
#
# ## Exercises
#
# ```{exercise}
# :label: ex-05-sft-special-case
# Show that with $G = 1$ the GDRT loss of {ref}`Eq. (5) <eq-5>` is SFT's mean token cross-entropy,
# whatever τ.
# ```
#
# ```{solution} ex-05-sft-special-case
# :class: dropdown
# With one group, $Q(1) = \exp(L(1)/\tau) / \exp(L(1)/\tau) = 1$ and the loss is $L(1)$, the mean
# token loss over the batch: exactly SFT. The trainer uses this: SFT runs through the same function
# with every target token in one group (index 0).
# ```
#
# ```{exercise}
# :label: ex-05-relevance-title
# Why is it enough to score the catalog's titles once, instead of every training example?
# ```
#
# ```{solution} ex-05-relevance-title
# :class: dropdown
# {ref}`Eq. (3) <eq-3>` conditions on the task description, the placeholder `N/A` and the title's own
# prefix. None of these depends on the user, so two examples with the same target title get the same
# relevance for every token.
# ```
#
# ```{exercise}
# :label: ex-05-tau
# Change a parameter, predict, run: re-execute this chapter with `-p tau 0.1` and then `-p tau 5`.
# Before running, predict how {numref}`fig-05-groups`'s right panel changes, and whether the top-1
# share in group 1 moves.
# ```
#
# ```{solution} ex-05-tau
# :class: dropdown
# Run
# `jupytext --to ipynb -o - chapters/05_gdrt.py | papermill - runs/05-tau0.1.ipynb --cwd chapters -p tau 0.1`,
# then the same with `-p tau 5` and another output name. $\tau$ is part of the run's key, so each
# execution trains and evaluates a new GDRT run; SFT and the relevance scores come from the caches.
# Each takes about this chapter's time at the profile in the {doc}`teacher's guide <../teaching>`.
#
# The right panel of {numref}`fig-05-groups` is $Q(g) = \mathrm{softmax}(L(g)/\tau)$ per micro-batch.
# At $\tau = 0.1$ a gap of a fifth of a nat between two groups is already a factor $e^2$ in weight, so
# the panel turns nearly one-hot: the highest-loss group (one of the last) near 1, the others near 0.
# The winner can change from one micro-batch to the next where two groups' losses are close, since a
# group's loss over the few tokens of one micro-batch is noisy. At $\tau = 5$ the same gaps count five
# times less than at this chapter's $\tau = 1$, and every line stays near $1/G$: the loss is close to
# the group-balanced mean ({doc}`04_group_dro`), which is not SFT's loss, since SFT weighs the groups
# by their token counts.
#
# The group-1 share: a smaller $\tau$ moves the gradient toward the tokens the prompt alone does not
# predict, so by the chapter's argument the top-1 share in item group 1 should fall as $\tau$ falls
# ($\tau = 5$ least, $\tau = 0.1$ most), at some risk to NDCG, since at $\tau = 0.1$ each batch trains
# on little but one group. At this profile the prediction can hardly be checked: one seed, a few
# hundred training rows, and {glue:text}`n_test` test rows, where one row moves a share by $1/n$ and
# its standard error is about $\sqrt{p(1-p)/n}$; differences within two standard errors are noise.
# {doc}`07_analysis` has the paired test.
# ```
#
# ```{exercise}
# :label: ex-05-open
# Open: GDRT fixes the groups before training, from the base model. Would regrouping every epoch with
# the model being tuned help or hurt? Design an experiment that tells; say what the library would need
# (today a run fits its groups once, before the first step, with `Grouping.fit`).
# ```
#
# ```{solution} ex-05-open
# :class: dropdown
# A sketch. What regrouping changes: {ref}`Eq. (3) <eq-3>` scored with the model being tuned measures
# what *that* model predicts without the user, so the tokens it has learned to read off the prompt move
# to group 1 and lose weight. On the training targets, though, it also measures memorisation (the tuned
# model has seen those titles), and the groups drift for a reason unrelated to the prompt. Either
# effect could dominate, hence the experiment.
#
# `book.run` cannot do it as it stands: `train_run` scores the titles once with
# `reference_title_relevance` (the base model) and calls `Grouping.fit` before the first step. It needs
# a config field (so that it enters the run's key) and a trainer callback that, at the start of each
# epoch, scores the catalog with the current model (`title_token_relevance`), refits
# `Grouping.fit(token_values(...), G, grouping, seed)` and rewrites the examples' token groups. Then
# three arms with the same data and seeds and at least two epochs (with one epoch, the `cpu` profile's,
# there is nothing to regroup): SFT, GDRT with fixed groups and GDRT regrouped, each through
# `book.run(cfg, ..., epochs=...)`, several seeds, at the reference experiment's size. A fourth arm
# separates the two readings: cross-fitting, where the groups of half of the training rows come from a
# model tuned on the other half, so memorisation cannot enter. Measure on the same test rows with the
# base model's item groups, fixed for all arms (the yardstick must not move with the method): NDCG@10,
# the top-1 share of item group 1 and task : interaction, each as a paired difference against
# fixed-group GDRT ({doc}`07_analysis`). Log how many training tokens change group at each refit, and
# $Q(g)$ over training. Regrouping helps if it lowers the share or the ratio beyond the paired interval
# at no cost in NDCG, across seeds; it hurts if NDCG falls or $Q$ jumps at every refit.
# ```
