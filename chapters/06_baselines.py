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
# (ch-baselines)=
# # Baselines
#
# GDRT is one answer to a recommender that leans on what the prompt alone makes likely. Others change
# the decoding, the weight of each training example, the softmax of each token, or drop text
# altogether. This chapter builds the paper's baselines {cite:p}`gdrt2025` on the same model, data
# and evaluation as {doc}`05_gdrt`, and puts every method in one table.
#
# ```{admonition} In this chapter
# Builds on {doc}`05_gdrt` (its SFT and GDRT runs are reused from the run cache). You will see what
# each baseline changes, in one equation and one function each: D3's decoding without length
# normalisation {cite:p}`bao2024d3`, IFairLRS's reweighting of training examples
# {cite:p}`jiang2024ifairlrs`, MSL's softmax over the tokens the catalog allows
# {cite:p}`wang2025msl` and its combination with GDRT, and SASRec, a recommender that reads no text
# {cite:p}`kang2018sasrec`. Then all of them are measured side by side
# ({numref}`tab-06-eval`, the paper's Tables 2 and 3).
# Symbols and terms: {doc}`../notation`.
# ```
#
# ```{warning}
# At the `cpu` profile every LLM method is a 135M-parameter model tuned on the same few hundred rows
# for one epoch, and the table covers the first test rows only (the number is stated below): the
# numbers show the methods running, not their ranking in the paper. Run the `gpu` profile for the
# paper's setting.
# ```

# %% tags=["parameters"]
profile = "cpu"      # smoke | cpu | gpu | gpu-lite
dataset = None          # None: the profile's (book at cpu); office | game | book | clothing
model = None         # None: the profile's model
n_compare = None     # test rows in the comparison (None: the profile's; all rows at gpu)
n_groups = 5         # GDRT's settings, as in chapter 5 (the same values reuse its run)
tau = 1.0
grouping = "kmeans"
seed = 0

# %% tags=["remove-cell"]
import time

from myst_nb import glue

from gdrt import book, diagnostics, report
from gdrt.decoding import build_trie
from gdrt.plots import training as plots

t_chapter = time.perf_counter()
cfg = book.setup(profile, dataset=dataset, model=model, seed=seed, n_compare=n_compare)
n_rows = cfg.n_compare or cfg.n_test
glue("profile", profile, display=False)

# %%
book.banner(cfg)

# %%
data = book.load_data(cfg)
n_rows = min(n_rows or len(data.test), len(data.test))
glue("n_train", len(data.train), display=False)
glue("n_rows", n_rows, display=False)
{"train rows": len(data.train), "test rows compared": n_rows, "test split": cfg.test_split}

# %% [markdown]
# Every LLM method below tunes the same base model on the same {glue:text}`n_train` training rows
# with the same optimiser, schedule and seed as SFT and GDRT in {doc}`05_gdrt`; the comparison uses
# the first {glue:text}`n_rows` rows of the test split, and every metric uses the same item groups
# ({ref}`Eq. 2 <eq-2>` under the base model).
#
# ## The methods at a glance
#
# | method | what it changes | where |
# |---|---|---|
# | SFT | nothing: mean token cross-entropy | — |
# | D3 {cite:p}`bao2024d3` | ranks titles by the plain sum of token log-probabilities (no length normalisation) | decoding |
# | Reweight {cite:p}`jiang2024ifairlrs` | weights each training example by its target's item group | training data |
# | MSL {cite:p}`wang2025msl` | the softmax of each target token runs over the tokens the catalog allows | token loss |
# | GDRT | Group DRO over token groups ({ref}`Eq. 5 <eq-5>`) | token loss |
# | MSL+GDRT | GDRT's group weights on MSL's token losses | token loss |
# | SASRec {cite:p}`kang2018sasrec` | no text: a Transformer over item ids | model |
#
# The paper also compares with CFT and SPRec. CFT adds a counterfactual loss that contrasts the
# prediction with and without the history; SPRec tunes with self-play preference optimisation, where
# the model's own recommendations are the rejected answers. Neither is implemented here yet, so
# neither is in the table. {numref}`ex-06-cft` sketches CFT.
#
# ## D3: decoding without length normalisation
#
# Constrained beam search ranks finished titles by their log-probability divided by their length
# (HF's default `length_penalty = 1`). D3 points out that many title tokens are nearly forced
# ("ghost" tokens, probability close to 1, for example the rest of a long brand name), so
# dividing by the length favours long titles made of predictable tokens. D3 ranks by the sum instead:
#
# $$ s(y) = \frac{1}{|y|^{\lambda}} \sum_{t} \log P(y_t \mid x, y_{<t}), \qquad \lambda = 1 \text{ (HF default)},\quad \lambda = 0 \text{ (D3)} $$
#
# D3 needs no training: it decodes the SFT model with $\lambda = 0$. (D3 also mixes in a text-free
# recommender's scores while decoding; that part is not reproduced here.)
#
# ## Reweight: IFairLRS's sample weights
#
# IFairLRS compares, per item group $g$ (the item groups of {ref}`Eq. 2 <eq-2>`), the share of the
# training histories' items $GH(g)$ with the share of the training targets $GT(g)$, and weights every
# example whose target is in group $g$ by
#
# $$ w(g) = \frac{GH(g)}{GT(g)} $$
#
# so that groups the targets over-represent count less. The loss is SFT's token mean with every token
# of an example multiplied by its weight. On this training subset:

# %%
book.reweight_table(cfg, data.train, data.catalog)

# %% [markdown]
# ```{literalinclude} ../lib/gdrt/objectives/baselines.py
# :pyobject: ifair_group_weights
# ```
#
# ## MSL: a softmax over the allowed tokens
#
# SFT's cross-entropy pushes every target token up against the whole vocabulary, including tokens
# that could never continue any catalog title. MSL restricts the softmax of token $t$ to the set
# $A(y_{<t})$ of tokens the catalog's trie allows after the prefix $y_{<t}$ (the same trie constrained
# beam search walks):
#
# (eq-msl)=
# :::{div}
# $$ \ell_t = -z_t[y_t] + \log \sum_{v \in A(y_{<t})} \exp z_t[v] $$
# :::
#
# where $z_t$ are the logits at position $t$. A token the trie forces (one allowed token) costs
# nothing, so the gradient goes to the tokens where titles branch. One training title, token by
# token:

# %%
trie = build_trie(book.base_model(cfg).tokenizer, data.catalog.titles)
glue("forced_share", book.forced_share(cfg, data.train, data.catalog, trie), display=False)
book.allowed_table(cfg, data.catalog.title(data.train[0].target), trie)

# %% [markdown]
# Over all training targets, {glue:text}`forced_share:.1%` of the target tokens are forced by the
# trie: SFT spends part of its gradient on them, MSL none. The implementation (the trainer passes it
# the trie's allowed ids for every response token):
#
# ```{literalinclude} ../lib/gdrt/objectives/baselines.py
# :pyobject: masked_token_nll
# ```
#
# MSL+GDRT keeps everything of GDRT (relevance, groups, {ref}`Eq. 5 <eq-5>`) and feeds it MSL's token
# losses instead of the cross-entropy. Both MSL runs are decoded as they were trained: constrained
# beam search takes the log-softmax over the allowed tokens (`mask="before"`), where the other
# methods take it over the whole vocabulary and then restrict; MSL's authors found the second
# inconsistent with their loss.
#
# ## Training and evaluation
#
# SFT and GDRT are the runs of {doc}`05_gdrt`; the three new runs train here, or are reused from the
# run cache. Each prints one line on what it did.

# %%
t0 = time.perf_counter()
common = dict(limit=n_rows)
runs = {
    "sft": book.run(cfg, "sft", **common),
    "d3": book.run(cfg, "sft", length_penalty=0.0, **common),
    "reweight": book.run(cfg, "reweight", **common),
    "msl": book.run(cfg, "sft", token_loss="msl", **common),
    "gdrt": book.run(cfg, "gdrt", n_groups=n_groups, tau=tau, grouping=grouping, **common),
    "msl+gdrt": book.run(cfg, "gdrt", token_loss="msl", n_groups=n_groups, tau=tau, grouping=grouping, **common),
}
sas = book.sasrec(cfg, limit=n_rows)
glue("runs_min", (time.perf_counter() - t0) / 60, display=False)

# %% [markdown]
# What each training cost (D3 reuses SFT's run; per-step times exclude the validation passes):

# %%
report.runs_table({name: r.final for name, r in runs.items() if name != "d3"})

# %% tags=["remove-cell"]
step = {name: r.final["seconds_per_step"] for name, r in runs.items()}
glue("msl_step_ratio", step["msl"] / step["sft"], display=False)
glue("reweight_step_ratio", step["reweight"] / step["sft"], display=False)

# %% [markdown]
# Per optimizer step, MSL took {glue:text}`msl_step_ratio:.2f`× SFT's time and Reweight
# {glue:text}`reweight_step_ratio:.2f`×: neither needs more than the forward pass SFT already makes
# (MSL gathers the logits of the allowed tokens; Reweight multiplies the token losses).
#
# SASRec trains on the dataset's full `train` split where it has one (as the MSL and GDRT papers train
# ID-based models), for at most the profile's number of epochs, keeping the epoch with the best
# validation NDCG@10:

# %%
glue("sas_train_split", sas.train_split, display=False)
glue("sas_n_train", sas.n_train, display=False)
glue("sas_epochs", len(sas.log["epochs"]), display=False)
glue("sas_best_epoch", sas.log["best_epoch"], display=False)
glue("sas_seconds", sas.log["train_seconds"], display=False)
{"train split": sas.train_split, "train rows": sas.n_train, "epochs run": len(sas.log["epochs"]),
 "best epoch": sas.log["best_epoch"], "train seconds": round(sas.log["train_seconds"], 1)}

# %% [markdown]
# ## Results
#
# All methods on the same {glue:text}`n_rows` test rows:

# %% mystnb={"figure": {"caption": "Every method on the same test rows (profile and sizes stated above). NDCG and HIT: higher is better; MGU and DGU: lower is better; the last column is the share of top-1 recommendations in item group 1 (the test targets' share is in the text).", "name": "tab-06-eval"}}
metrics = {name: r.metrics for name, r in runs.items()}
metrics["sasrec"] = sas.metrics
report.metrics_table(metrics)

# %% tags=["remove-cell"]
book.glue_metrics({k.replace("+", "_"): m for k, m in metrics.items()})
best = max(metrics, key=lambda k: metrics[k]["ndcg@10"])
least = min(metrics, key=lambda k: metrics[k]["top1_group_share"][0])
glue("best_ndcg_method", best, display=False)
glue("least_biased_method", least, display=False)

# %% [markdown]
# Are the differences larger than what {glue:text}`n_rows` rows can resolve? Each method against SFT on
# the same rows, with the paired bootstrap of {doc}`07_analysis` (95% intervals of the difference):

# %% mystnb={"figure": {"caption": "Each method minus SFT on the same test rows: the difference in NDCG@10 and in the share of top-1 recommendations in item group 1, each with its 95% paired bootstrap interval (lo, hi) and what the interval says.", "name": "tab-06-paired"}}
preds = {name: diagnostics.load_predictions(r.eval_dir) for name, r in runs.items()}
preds["sasrec"] = diagnostics.load_predictions(sas.dir)
versus = diagnostics.versus_table(preds, "sft", book.item_groups(cfg, data.catalog), seed=seed)
versus.round(4)

# %% tags=["remove-cell"]
book.glue_all({"n_ndcg_differ": int((versus["ndcg@10 verdict"] != "no detectable difference").sum()),
               "n_share_differ": int((versus["top-1 g1 verdict"] != "no detectable difference").sum()),
               "n_versus": len(versus)})

# %% [markdown]
# Of the {glue:text}`n_versus` methods, {glue:text}`n_ndcg_differ` differ from SFT in NDCG@10 by more
# than the interval allows, and {glue:text}`n_share_differ` in the top-1 share of item group 1.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Accuracy against bias: NDCG@10 (up is better) against the share of top-1 recommendations in item group 1 (the items the task prompt alone makes likely). The dashed line is the test targets' share: a method right of it over-recommends prompt-likely items.", "name": "fig-06-tradeoff"}}
plots.accuracy_vs_bias(metrics, target_share=metrics["sft"]["target_group_share"][0])

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Share of top-1 recommendations per item group for every method (bars), against the test targets' (dashed) and the histories' (dotted) shares. Look at group 1 (left): the language bias shows as bars above the dashed line.", "name": "fig-06-shares"}}
plots.group_shares(metrics)

# %% [markdown]
# ```{admonition} What the paper reports
# :class: note
# The paper's Table 2 sets GDRT against these baselines on Toy, Clothing and Book with
# Llama-3.2-3B; its Table 3 runs three other LLM recommenders (MSL, LLaRA and A-LLM), each with and
# without GDRT. GDRT improves NDCG and lowers MGU/DGU over SFT there. `gdrt.paper` types Table 2's
# SFT and GDRT rows, which {doc}`07_analysis` sets against the reference experiment; the other
# baselines' rows are not typed into this book.
# ```
#
# ```{admonition} What we measured
# :class: tip
# Profile {glue:text}`profile`, {glue:text}`n_train` training rows, the first {glue:text}`n_rows`
# test rows, one seed. NDCG@10: SFT {glue:text}`sft_ndcg@10:.4f`, D3 {glue:text}`d3_ndcg@10:.4f`,
# Reweight {glue:text}`reweight_ndcg@10:.4f`, MSL {glue:text}`msl_ndcg@10:.4f`, GDRT
# {glue:text}`gdrt_ndcg@10:.4f`, MSL+GDRT {glue:text}`msl_gdrt_ndcg@10:.4f`, SASRec
# {glue:text}`sasrec_ndcg@10:.4f`. Top-1 in item group 1: SFT {glue:text}`sft_top1_g1:.1%`, D3
# {glue:text}`d3_top1_g1:.1%`, Reweight {glue:text}`reweight_top1_g1:.1%`, MSL
# {glue:text}`msl_top1_g1:.1%`, GDRT {glue:text}`gdrt_top1_g1:.1%`, MSL+GDRT
# {glue:text}`msl_gdrt_top1_g1:.1%`, SASRec {glue:text}`sasrec_top1_g1:.1%` (test targets
# {glue:text}`target_g1:.1%`). The highest NDCG@10 here: **{glue:text}`best_ndcg_method`**; the
# smallest top-1 share in group 1: **{glue:text}`least_biased_method`**.
# ```
#
# ```{warning}
# **Read the table with its size in mind.** On {glue:text}`n_rows` test rows one hit moves HIT@10 by
# a whole 1/{glue:text}`n_rows`, every LLM method saw a few hundred training rows for one epoch, and
# there is one seed: {numref}`tab-06-paired` says which differences these rows can resolve, and a
# second seed could move every number. SASRec, by contrast,
# trained on the full interaction data ({glue:text}`sas_n_train` rows of the
# {glue:text}`sas_train_split` split). The `gpu` profile runs all of them at the paper's sizes.
# ```

# %% tags=["remove-cell"]
glue("chapter_min", (time.perf_counter() - t_chapter) / 60, display=False)

# %% [markdown]
# Training and evaluating the methods took {glue:text}`runs_min:.1f` min, the whole chapter
# {glue:text}`chapter_min:.1f` min (SASRec: {glue:text}`sas_epochs` epochs, best at epoch
# {glue:text}`sas_best_epoch`, {glue:text}`sas_seconds:.0f` s).
#
# ## Summary
#
# - D3 changes only the decoding: the same SFT model ranked by the sum of log-probabilities instead of
#   their mean.
# - Reweight changes only the weight of each example, from the item groups of its target
#   (IFairLRS's $GH/GT$).
# - MSL changes only the softmax of each token ({ref}`Eq. MSL <eq-msl>`); on this data
#   {glue:text}`forced_share:.1%` of the target tokens are forced by the trie and cost MSL nothing.
#   GDRT's group weights apply to MSL's token losses unchanged.
# - SASRec reads no text and so cannot inherit the language bias; it trained on the full interaction
#   data.
# - {numref}`tab-06-eval` and {numref}`fig-06-tradeoff` put them side by side on the same rows;
#   against SFT, {glue:text}`n_ndcg_differ` of {glue:text}`n_versus` methods differ in NDCG@10 and
#   {glue:text}`n_share_differ` in the top-1 share of item group 1 by more than the paired intervals
#   of {numref}`tab-06-paired` allow on these rows.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-06-msl-forced
# Show that under MSL a token the trie forces contributes neither loss nor gradient, and that MSL's
# token loss is never larger than the cross-entropy.
# ```
#
# ```{solution} ex-06-msl-forced
# :class: dropdown
# With one allowed token $v = y_t$, $\log \sum_{v \in A} \exp z_t[v] = z_t[y_t]$, so
# $\ell_t = 0$ whatever the logits: no gradient. In general $A(y_{<t})$ is a subset of the vocabulary
# containing $y_t$, and the log-sum-exp over a subset is at most the one over the whole vocabulary,
# so $\ell_t$ is at most the cross-entropy. `tests/test_baselines.py` checks both.
# ```
#
# ```{exercise}
# :label: ex-06-reweight-mean
# What is the mean of IFairLRS's weight over the training examples? What does that say about the
# scale of Reweight's loss compared with SFT's?
# ```
#
# ```{solution} ex-06-reweight-mean
# :class: dropdown
# A share $GT(g)$ of the examples has weight $GH(g)/GT(g)$, so the mean weight is
# $\sum_{g:\,GT(g)>0} GT(g)\,\frac{GH(g)}{GT(g)} = \sum_{g:\,GT(g)>0} GH(g) \le 1$, with equality
# when every group holds at least one target. Reweight moves weight between groups without changing
# the average, so its loss stays on SFT's scale and the same learning rate serves both.
# ```
#
# ```{exercise}
# :label: ex-06-rows
# Change a parameter, predict, run: re-execute this chapter with `-p n_compare 96` (the test rows
# {doc}`05_gdrt` evaluates at the `cpu` profile: SFT's and GDRT's predictions are reused, the other
# methods are decoded, and SASRec, cached per number of rows, trains again). Before running, predict which differences of {numref}`tab-06-eval` survive on three times
# as many rows, and how long the new evaluations take at the seconds per prompt of
# {doc}`05_gdrt`.
# ```
#
# ```{solution} ex-06-rows
# :class: dropdown
# Run
# `jupytext --to ipynb -o - chapters/06_baselines.py | papermill - runs/06-rows96.ipynb --cwd chapters -p n_compare 96`.
# No LLM run trains again. SFT's and GDRT's 96-row evaluations are those of {doc}`05_gdrt`; D3,
# Reweight, MSL and MSL+GDRT each decode the 96 rows (an evaluation over fewer rows can be cut from a
# longer one, not extended), and SASRec trains again, since its cache is kept per set of test rows. The
# new decoding is $4 \times 96$ prompts at about the seconds per prompt that {doc}`05_gdrt` reports.
# For scale, compare with this chapter's time at the profile in the
# {doc}`teacher's guide <../teaching>`: that time includes three LLM trainings, which this run reuses,
# and fewer decoded rows.
#
# What to expect: the paired intervals of {numref}`tab-06-paired` narrow like $1/\sqrt{n}$, to about
# $\sqrt{n/96}$ of their width with $n$ = {glue:text}`n_rows`, and a hit moves HIT@10 by $1/96$. The
# point estimates move too, since most of the rows are new. The differences most likely to survive are
# the large ones and D3 against SFT: one model decoded two ways gives strongly correlated rows, hence a
# narrow paired interval. The trained methods saw the same few hundred rows for one epoch, with one
# seed, and their differences from SFT are mostly small against these intervals; a verdict that changes
# between {glue:text}`n_rows` and 96 rows was never evidence. SASRec, a different kind of model trained
# on far more rows, is the likeliest to stay apart from SFT in NDCG. The intervals cover the choice of
# rows only, not of the seed.
# ```
#
# ```{exercise}
# :label: ex-06-d3-gdrt
# D3 is a decoding rule, so it combines with any trained model. Evaluate the GDRT run with
# `book.run(cfg, "gdrt", n_groups=n_groups, tau=tau, grouping=grouping, limit=n_rows, length_penalty=0.0)`.
# Does removing the length normalisation move GDRT's top-1 share in group 1 as much as it moves SFT's?
# ```
#
# ```{solution} ex-06-d3-gdrt
# :class: dropdown
# Add a cell after the runs with that call, as `gdrt_d3 = book.run(...)`. The GDRT run is reused and
# only its decoding is new: {glue:text}`n_rows` prompts, one evaluation among the several this chapter
# makes, a small part of its time at the profile in the {doc}`teacher's guide <../teaching>`. Compare
# `gdrt_d3.metrics["top1_group_share"][0]` with GDRT's, and that change with D3's against SFT in
# {numref}`tab-06-eval`; for intervals, add `diagnostics.load_predictions(gdrt_d3.eval_dir)` to `preds`
# and call `diagnostics.versus_table` with `"gdrt"` as the reference.
#
# What to expect. The two rules differ only in how finished titles of different lengths are ranked. A
# nearly forced token adds about 0 to the sum and 1 to the length, so dividing by the length rewards
# titles that end in a run of such tokens; the plain sum charges every token and prefers short titles.
# The group-1 share moves only as far as title length and item group go together. {ref}`Eq. (2) <eq-2>`
# is also a mean over the title's tokens, and the tokens that the title's own prefix makes predictable
# raise it, so if the long titles with predictable tails sit in group 1 (check with
# `gdrt.data.stats.title_token_lengths` against `book.item_groups`), D3 lowers the share for both
# models. GDRT changes what the model learns, not how titles of different lengths are compared, so the
# two effects should roughly add: expect GDRT's share to move by about as much as SFT's, not less. The
# question is a difference of two differences, so compute it on the same rows in every bootstrap
# resample (`group1_counts` of `gdrt.diagnostics.paired` for the four prediction sets). With
# {glue:text}`n_rows` rows one top-1 recommendation moves a share by 1/{glue:text}`n_rows`, and a
# difference of a few rows is noise.
# ```
#
# ```{exercise}
# :label: ex-06-cft
# Open: CFT (counterfactual fine-tuning) contrasts the model's token logits with and without the
# user's history (the `N/A` prompt of {ref}`Eq. 3 <eq-3>`) and trains the difference to predict the
# target, weighting the early tokens of the title most. Write its token loss as a pure function next
# to `masked_token_nll`, test it on hand-computed values, and run it through `book.run`. What does
# it cost per step compared with GDRT, whose reference pass runs once before training?
# ```
#
# ```{solution} ex-06-cft
# :class: dropdown
# A sketch. At target position $t$ let $z_t$ be the logits given the real prompt and $\tilde z_t$ those
# given the `N/A` prompt and the same title prefix. The counterfactual logits $d_t = z_t - \tilde z_t$
# keep what the history adds. One form of the loss is
# $\ell_t = \mathrm{CE}(z_t, y_t) + \lambda\, w_t\, \mathrm{CE}(d_t, y_t)$, with $\lambda > 0$ and weights
# $w_t$ that decrease along the title, for example $w_t \propto \gamma^{t-1}$ with $0 < \gamma < 1$. As a
# pure function next to `masked_token_nll`: `counterfactual_token_nll(logits, logits_na, targets,
# weights, lam)`. Hand checks for `tests/test_baselines.py`: with $\tilde z = 0$ the second term is the
# cross-entropy; with $\tilde z = z$ it is $\log V$ whatever the logits ($d_t = 0$ is uniform); and a
# two-token vocabulary gives a value to compute on paper. To run it through
# `book.run(cfg, "sft", token_loss="cft")`: add `"cft"` to the allowed values of `token_loss` (so it
# enters the run's key and name), build each example's `N/A` prompt next to its real one
# (`build_prompt(preset, None)`, as {ref}`Eq. (3) <eq-3>` does), and let the trainer run the second
# forward pass and pass both logits to the function. Decode it as SFT is decoded.
#
# Cost. GDRT's extra work is one pass over the catalog's titles before training (cached) and a few
# operations on $G$ numbers per step, so its step costs what SFT's does. CFT's $\tilde z_t$ depends on
# the current parameters, so it cannot be computed once: every step runs a second forward pass over the
# `N/A` prompt and the response, plus its backward pass if $\tilde z$ carries a gradient. That pass is
# shorter than the real one (no history, which is most of a prompt), and the `N/A` prompt is the same in
# every example, so its keys and values could be computed once per step and shared. Expect a step
# between SFT's and twice SFT's, and measure it with the interleaved timing of {doc}`08_performance`.
# ```
