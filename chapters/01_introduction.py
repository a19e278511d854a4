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
# (ch-intro)=
# # Recommending with a language model
#
# A large language model can recommend: write down what a user bought, ask for the next item, and let
# the model generate its title. This chapter sets up that task exactly as the rest of the book uses
# it — the data row, the prompt, the response, the fine-tuning objective and the decoding — and runs
# it live on a few real prompts with an untuned model. Along the way it states the question the book
# is about: does the model read the user's history, or mostly the words around it?
#
# ```{admonition} In this chapter
# You will read one real test row of an Amazon dataset (Book at the `cpu` profile), build its exact
# prompt and count its tokens, see
# why training and decoding must tokenise the response identically, write SFT's objective
# ({ref}`Eq. (1) <eq-1>`) and see which tokens it covers, state the language-bias hypothesis, build
# the catalog trie ({numref}`fig-01-trie`) and run constrained beam search on real prompts, next to
# unconstrained greedy decoding. Later chapters build on all of it: {doc}`02_data` (where the rows come
# from), {doc}`04_group_dro` and {doc}`05_gdrt` (the fix). Nothing is trained here.
# Symbols and terms: {doc}`../notation`.
# ```

# %% tags=["parameters"]
profile = "cpu"      # smoke | cpu | gpu | gpu-lite
dataset = None       # None: the profile's (book at cpu); office | game | book | clothing
model = None         # None: the profile's model; a local folder or a name in the local cache
num_beams = 10       # beams of constrained beam search (the paper: 10)
seed = 0

# %% tags=["remove-cell"]
import time

from myst_nb import glue

from gdrt import book, intro
from gdrt.data.prompts import encode_prompt
from gdrt.decoding import build_trie, constrained_beam_search
from gdrt.plots import intro as plots
from gdrt.training.examples import build_examples, history_titles, row_prompt

cfg = book.setup(profile, dataset=dataset, model=model, seed=seed)
glue("profile", profile, display=False)
glue("num_beams", num_beams, display=False)

# %%
book.banner(cfg)

# %% [markdown]
# ## The task
#
# Sequential recommendation predicts a user's next item from the items they interacted with, in
# order. An LLM-based recommender turns this into text generation {cite:p}`bao2023bigrec`: the prompt
# $x = [x_{\text{task}}, x_{\text{user}}]$ holds a task description and the titles of the user's last
# (at most ten) items, and the model generates the title $y$ of the next item, token by token. The
# GDRT paper {cite:p}`gdrt2025`, which this book rebuilds, keeps this setting and asks what
# fine-tuning teaches such a model. The data are Amazon review histories cut into windows of up to
# eleven items, the last one being the target ({doc}`02_data` shows how). This run loads:

# %%
data = book.load_data(cfg)
glue("n_test", len(data.test), display=False)
glue("n_titles", data.catalog.n_titles, display=False)
glue("n_items", len(data.catalog), display=False)
{"train rows": len(data.train), "test rows": len(data.test), "test split": cfg.test_split,
 "catalog items": len(data.catalog), "distinct titles": data.catalog.n_titles}

# %% [markdown]
# The catalog holds {glue:text}`n_items` items with {glue:text}`n_titles` distinct titles (a few items
# share a title). The model is the untuned default of this profile: an instruction-tuned causal
# language model that has never seen a recommendation prompt.

# %%
lm = book.base_model(cfg)
intro.model_card(lm)

# %% [markdown]
# Here is the first test row: the user's history, oldest first, and the item that came next.

# %%
row = data.test[0]
glue("n_history", len(history_titles(row, data.catalog)), display=False)
intro.history_table(row, data.catalog)

# %% [markdown]
# (sec-01-prompt)=
# ## The prompt
#
# The model sees these {glue:text}`n_history` titles inside a fixed template (Alpaca's "instruction
# with input", as the paper's code family uses). One function builds it, and both training and
# evaluation call it, so the two see byte-identical prompts:

# %%
prompt = row_prompt(row, data.catalog, cfg.preset)
prompt_ids = encode_prompt(lm.tokenizer, prompt)
glue("n_prompt_tokens", len(prompt_ids), display=False)
print(prompt)

# %% [markdown]
# The prompt ends with `### Response:` and a newline: the model's answer starts right there. It is
# {glue:text}`n_prompt_tokens` tokens long, and its parts are of two kinds:

# %%
parts = intro.prompt_parts(lm.tokenizer, cfg.preset, history_titles(row, data.catalog))
glue("aux_tokens", int(parts.loc[parts["kind"] == "auxiliary", "tokens"].sum()), display=False)
glue("hist_tokens", int(parts.loc["history titles", "tokens"]), display=False)
glue("aux_share", float(parts.loc[parts["kind"] == "auxiliary", "share of tokens"].sum()), display=False)
parts

# %% [markdown]
# The task description and the template's markers take {glue:text}`aux_tokens` tokens
# ({glue:text}`aux_share:.0%` of the prompt), the same for every user; the history titles take
# {glue:text}`hist_tokens`. Keep the split in mind: the paper calls the first kind *auxiliary* tokens
# and the second *interaction* tokens, and its question is which of them the fine-tuned model listens
# to. That is a question of reliance, not of counts: a few constant tokens can still steer the output.
#
# ## The response
#
# The target is the next item's title in double quotes, followed by the end-of-sequence token. EOS
# matters: it is how the model says "the title is complete", and it separates a title from a longer
# one that starts with the same words.

# %%
title = data.catalog.title(row.target)
response = intro.response_tokens(lm.tokenizer, title)
glue("n_response_tokens", len(response), display=False)
print(intro.token_line(response["token"]))

# %% [markdown]
# Each quoted piece is one token (a leading space belongs to the token that follows it). The target
# takes {glue:text}`n_response_tokens` tokens, EOS included.
#
# **Training and inference must tokenise identically.** A BPE tokenizer tokenises a string as a
# whole, so the same title can become different tokens depending on what precedes it. In training, the
# model learns to continue the prompt with the response's tokens; at inference, the decoder only
# allows the catalog titles' tokens (below). If the two tokenisations differ by a single token at the
# boundary — say the prompt was written with a trailing space after `### Response:`, as in one of the
# reference codebases — the model learns a first token that the decoder never offers. So the book
# tokenises the prompt (`encode_prompt`) and the response (`encode_response`: `'"Title"'` alone, then
# EOS) separately, everywhere, and builds the trie from `encode_response` too:

# %%
boundary = intro.boundary_table(lm.tokenizer, prompt, title)
glue("first_id", int(boundary["first id"].iloc[0]), display=False)
glue("space_first_id", int(boundary["first id"].iloc[2]), display=False)
boundary

# %% [markdown]
# Tokenised separately, the response starts with token {glue:text}`first_id`; with the stray space,
# the first response token becomes {glue:text}`space_first_id`, and the whole response no longer
# matches (last column). Whether tokenising prompt and response in one go is harmless depends on the
# tokenizer and on the template's last character (here a newline); tokenising them separately is
# safe for any tokenizer.
#
# ## Supervised fine-tuning
#
# Supervised fine-tuning (SFT) adapts the model to the task by maximising the likelihood of the target
# title given the prompt, over the training set $\mathcal{D}$ of (prompt, response) pairs:
#
# (eq-1)=
# :::{div}
# $$ \mathcal{L}_{\text{SFT}} = -\sum_{(x, y) \in \mathcal{D}} \; \sum_{t=1}^{|y|} \log P_\theta\big(y_t \mid x,\, y_{<t}\big) \tag{1} $$
# :::
#
# The sum runs over the response tokens only: the prompt is the condition, not something to learn.
# The template is the same in every example, and the history titles are given, so putting them in the
# loss would spend the model's capacity on reproducing its input instead of on the next item. In code,
# an example is the prompt's tokens followed by the response's, and the *labels* copy the response
# tokens and put $-100$ (ignored by the cross-entropy) on every prompt token. Here are the last
# prompt tokens and the first response tokens of the first row's example, with each response token's
# loss term under the untuned model:

# %%
example = build_examples([row], data.catalog, cfg.preset, lm.tokenizer)[0]
nll = intro.response_nll(lm.model, example)
glue("ex_tokens", len(example.input_ids), display=False)
glue("ex_loss_tokens", len(nll), display=False)
glue("ex_nll", float(nll.sum()), display=False)
glue("ex_nll_mean", float(nll.mean()), display=False)
intro.labels_table(example, lm.tokenizer, nll=nll).head(16)

# %% [markdown]
# Of the example's {glue:text}`ex_tokens` tokens, {glue:text}`ex_loss_tokens` carry a label. Their loss
# terms sum to {glue:text}`ex_nll:.1f` nats ({glue:text}`ex_nll_mean:.2f` per token): this row's share
# of {ref}`Eq. (1) <eq-1>` before any tuning. The terms are far from equal: tokens that the words
# before them make obvious cost little, and the tokens that pin down *which* item it is cost most.
#
# ## The language-bias hypothesis
#
# In {ref}`Eq. (1) <eq-1>` every target token is predicted from everything before it: the user's
# history (interaction tokens) and two kinds of *auxiliary* tokens, the task description and the
# prefix $y_{<t}$ of the title already generated. Many target tokens can be predicted well from the
# auxiliary tokens alone: the opening quote, words that follow a brand name, the unit after a number,
# or titles that the words "office products" already make likely. SFT rewards every correct token
# equally, so it gets its quickest gains from these easy tokens, and the model can learn to lean on the
# auxiliary tokens and under-use the history. The paper calls this **language bias**: the
# recommendations drift toward items whose titles the prompt's wording alone favours, whoever the
# user is.
#
# The paper supports the hypothesis with two kinds of evidence, which chapter 3 reproduces: attribution
# (how much the target's log-probability drops when the task description, a history item or the
# generated prefix is masked) grows for the auxiliary tokens after SFT, and the top-1 recommendations
# pile into the items that are most likely without any history. {doc}`05_gdrt` then changes only the
# loss: it groups the target tokens by how predictable they are from auxiliary tokens alone and
# up-weights the groups the model gets most wrong. A first glimpse of the question needs nothing
# trained: score each target title with the real prompt and with the history replaced by `N/A`.

# %%
live = data.test[: cfg.n_live]
effect = intro.history_effect(lm.model, lm.tokenizer, live, data.catalog, cfg.preset)
glue("n_live", len(live), display=False)
glue("mean_gain", float(effect["gain from history"].mean()), display=False)
effect

# %% [markdown]
# For these {glue:text}`n_live` test rows, the history changes the target's log-probability by
# {glue:text}`mean_gain:.1f` nats on average (positive: the history helps). Part of any such gain is
# plain copying: a target often shares words (a brand, a product line) with titles in the history, and
# a language model readily repeats words from its input. How large the gap is, and how it moves during
# fine-tuning, is one way to ask whether the model reads the user; chapter 3 asks it with proper
# attribution over many rows.
#
# (sec-01-cbs)=
# ## Constrained beam search
#
# A language model can generate any string, but a recommendation must be an item of the catalog.
# Constrained beam search (CBS) enforces that. The catalog's titles, each tokenised exactly as in
# training, are stored as a *token trie*: a tree whose paths from the root are the titles' token
# sequences, EOS last. One function builds it:
#
# ```{literalinclude} ../lib/gdrt/decoding/trie.py
# :pyobject: build_trie
# ```

# %%
trie = build_trie(lm.tokenizer, data.catalog.titles)
glue("trie_titles", len(trie), display=False)
glue("trie_nodes", trie.n_nodes, display=False)
glue("trie_depth", trie.max_length, display=False)
levels = intro.trie_levels(trie)
glue("first_allowed", int(levels.loc[1, "max allowed"]), display=False)
glue("second_allowed", int(levels.loc[2, "max allowed"]), display=False)
levels

# %% [markdown]
# The trie holds {glue:text}`trie_titles` titles in {glue:text}`trie_nodes` nodes; the longest title
# takes {glue:text}`trie_depth` tokens. At the first step a beam may choose among
# {glue:text}`first_allowed` token(s) (the opening quote), at the second among the
# {glue:text}`second_allowed` distinct first tokens of the titles, and then the choices narrow
# quickly. Along the first row's target title:

# %%
widths = intro.path_widths(trie, lm.tokenizer, title)
glue("forced_after", int((widths["titles reachable"] == 1).idxmax()), display=False)
glue("reach_3", int(widths.loc[3, "titles reachable"]), display=False)
glue("path_len", len(widths), display=False)
widths.head(8)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The first test row's target title as a path through the catalog trie: bars show how many tokens a beam may choose from at each step, the line how many catalog titles remain reachable after it (both on log scales). Look at where the line reaches 1: from there on the title is fixed, and the remaining tokens are forced.", "name": "fig-01-trie"}}
plots.path_widths_figure(widths)

# %% [markdown]
# After three steps only {glue:text}`reach_3` titles remain reachable; from there on the search often
# only tells apart variants of one product (sizes, colours, pack counts), which can share a long
# prefix. This title becomes unique after {glue:text}`forced_after` of its {glue:text}`path_len`
# tokens ({numref}`fig-01-trie`); the tokens after that are forced, but their log-probabilities still
# count in the score.
#
# The search keeps `num_beams` partial titles (beams). At each step it extends every beam by every
# token the trie allows after it, scores each extension by its cumulative log-probability
# $\sum_t \log P(y_t \mid x, y_{<t})$, and keeps the best `num_beams` unfinished ones. An extension
# that reaches EOS is a finished title with the score $\frac{1}{|y|}\sum_t \log P(y_t \mid x, y_{<t})$
# (length-normalised, the Hugging Face default), and the best `num_beams` finished titles are returned,
# all distinct and all in the catalog. The implementation prefills the prompt once and steps all beams
# through the trie at once (`lib/gdrt/decoding/cbs.py`).
#
# ## Live on real prompts
#
# Now the untuned model recommends for the first {glue:text}`n_live` test rows, with
# {glue:text}`num_beams` beams. The table shows each prompt's top five, whether it is the target, and
# whether it is one of the user's own history items:

# %%
prompts = intro.live_prompts(live, data.catalog, cfg.preset)
t0 = time.perf_counter()
results = constrained_beam_search(lm.model, lm.tokenizer, prompts, trie, num_beams=num_beams)
glue("cbs_s", (time.perf_counter() - t0) / len(prompts), display=False)
intro.live_table(results, live, data.catalog)

# %% [markdown]
# Decoding took {glue:text}`cbs_s:.1f` s per prompt on this machine (profile {glue:text}`profile`).
# Every row of the table is a real catalog title. Is it a *good* recommendation? Without tuning, the
# model has no idea what "recommend" means for this catalog; the next section counts how often it just
# repeats the user's history.
#
# ## Why the constraints are needed
#
# Plain greedy decoding (`model.generate`, no trie) of the same prompts, beside CBS's top-1:

# %%
greedy = intro.greedy_continuations(lm.model, lm.tokenizer, prompts)
book.glue_all(intro.live_summary(greedy, results, live, data.catalog), prefix="live_")
intro.greedy_table(greedy, results, live, data.catalog)

# %% [markdown]
# Of the {glue:text}`live_prompts` greedy outputs, {glue:text}`live_greedy_titles` are exactly a catalog
# title followed by EOS; the rest would have to be matched to an item somehow (by string similarity,
# as some systems do, with errors of its own). CBS cannot leave the catalog. It can still be wrong: the
# target is in the top 10 for {glue:text}`live_hits@10` of the {glue:text}`live_prompts` prompts
# (top 5: {glue:text}`live_hits@5`), and {glue:text}`live_top5_in_history` of the
# {glue:text}`live_top5_total` top-5 titles above are items the user already has. An untuned
# instruction model tends to echo titles from its input; fine-tuning with {ref}`Eq. (1) <eq-1>` is what
# teaches it to name a *new* item, and the rest of the book asks what else it teaches.
#
# ## Summary
#
# - The prompt of the first test row has {glue:text}`n_prompt_tokens` tokens, of which
#   {glue:text}`aux_share:.0%` are auxiliary (task description and template), the same for every user.
# - SFT ({ref}`Eq. (1) <eq-1>`) puts labels on the {glue:text}`ex_loss_tokens` response tokens only;
#   the prompt and response are tokenised separately so training, the trie and decoding agree.
# - The language-bias hypothesis: SFT lets the model rely on auxiliary tokens (the task description and
#   the title's own prefix); the history moved the targets' log-probability by
#   {glue:text}`mean_gain:.1f` nats on average here, before any tuning.
# - The catalog trie has {glue:text}`trie_nodes` nodes for {glue:text}`trie_titles` titles; the
#   choices are made in the first steps ({numref}`fig-01-trie`). CBS took {glue:text}`cbs_s:.1f` s per prompt and
#   always returns catalog titles; greedy decoding did so for {glue:text}`live_greedy_titles` of
#   {glue:text}`live_prompts` prompts.
#
# ## Exercises
#
# ```{exercise}
# :label: ex-01-first-step
# The trie table shows {glue:text}`first_allowed` allowed token(s) at step 1 but
# {glue:text}`second_allowed` at step 2, and in {numref}`fig-01-trie` the number of reachable titles
# collapses in the first steps and then can stay flat for a long stretch. Explain all three from how a
# response is written and tokenised and from what catalog titles look like.
# ```
#
# ```{solution} ex-01-first-step
# :class: dropdown
# Every response is `'"Title"'` + EOS, so every path starts with the opening quote. The tokenizer's
# pre-tokeniser splits punctuation from the letters after it, so the quote is its own token for almost
# every title; only a title that itself starts with punctuation could merge with the quote and add a
# second first token. At step 2 the choice is the first token of the title itself (often the brand),
# and there are many. A brand and a product line narrow the catalog to a handful of titles within a
# few tokens; what remains are variants of one product (size, colour, pack count) that share everything
# up to the detail that differs, so the count stays flat until that detail. Once one title is left,
# every remaining token, the closing quote and EOS included, is forced.
# ```
#
# ```{exercise}
# :label: ex-01-mask
# Why does {ref}`Eq. (1) <eq-1>` sum over the response tokens only, and what would change if the
# labels also covered the prompt?
# ```
#
# ```{solution} ex-01-mask
# :class: dropdown
# The task is to model $P(y \mid x)$: the prompt is given at inference, so there is nothing to learn in
# predicting it. With the prompt in the loss, most of the gradient would go to reproducing the fixed
# template (the same text in every example, quickly memorised) and to predicting history titles from
# earlier ones, and the response, a few tokens out of hundreds, would get a small share of it.
# ```
#
# ```{exercise}
# :label: ex-01-beams
# Change a parameter, predict, run: re-execute this chapter with one beam,
# `jupytext --to ipynb -o - chapters/01_introduction.py | papermill - runs/01-beam1.ipynb --cwd chapters -p num_beams 1`.
# Before running, predict how the live table, CBS's top-1 against greedy decoding, and the time per
# prompt change.
# ```
#
# ```{solution} ex-01-beams
# :class: dropdown
# With one beam the search is close to greedy decoding restricted to the trie: each prompt returns one title,
# so the top-5 table has one row per prompt and a target can only be found at rank 1. Its title can
# differ from the ten-beam top-1, because a beam that starts with a less likely token may end with a
# better length-normalised score. Decoding should get faster (one row per step instead of ten). Even
# where greedy decoding produced a catalog title, the one-beam result can differ: when a title ends,
# the finished title is kept, but the beam also goes on along any longer title with the same prefix,
# and that longer title wins if its length-normalised score is higher.
# ```
#
# ```{exercise}
# :label: ex-01-open
# Open: the "gain from history" column compares the target's log-probability with the real history
# and with `N/A`. Turn it into a statistic over the whole test set that would reveal language bias in
# a fine-tuned model. What would you normalise by (title length, the target's popularity), and what
# pattern would you expect before SFT, after SFT and after GDRT?
# ```
#
# ```{solution} ex-01-open
# :class: dropdown
# One design, not the only one. Per test row, divide the `gain from history` column of
# `intro.history_effect` by its `tokens` column: the nats per response token that the user's history
# adds to the target, $\frac{1}{|y|}\big(\log P_\theta(y \mid x) - \log P_\theta(y \mid x_{\text{task}}, \texttt{N/A})\big)$.
# Dividing by $|y|$ keeps long titles from dominating the mean. To separate "the model reads the user"
# from "the target is easy anyway", report the mean per item group of {ref}`Eq. (2) <eq-2>`
# (`book.item_groups`, the untuned model's groups for every model) and per popularity bucket of the
# target among the training targets (`gdrt.data.stats.target_popularity`). Score each model
# (`load_trained` on a run of `book.run`) on the same rows, and compare models with a paired bootstrap
# over rows, as in {doc}`07_analysis`.
#
# Expected under the hypothesis: before SFT the gain is small and comes mostly from copying (a target
# that shares a brand with a history title). After SFT both log-probabilities rise, but the `N/A` one
# rises most for group-1 items, so their gain per token stays small while they become likely for any
# user. After GDRT the gain is larger than SFT's on the same rows, above all in the low-relevance
# groups, at a similar $\log P(y \mid x)$. Equal gains for SFT and GDRT in every group would count
# against the idea. Pitfalls: the tuned models never saw `N/A` in training, so part of a gain can be
# their reaction to an unusual prompt (a control: another user's history in place of `N/A`); copying
# inflates the gain wherever target and history share words (report those rows apart); and a higher
# log-probability of the target is not yet a higher rank among the catalog's titles.
# ```
