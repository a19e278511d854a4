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
# (ch-data)=
# # The data
#
# Every number in this book comes from a few CSV files: windows cut from Amazon users' review
# histories, each ending in the item the model has to name. Before anything is trained, this chapter
# opens those files. It shows how they are made from raw reviews, recomputes the paper's Table 1 from
# them, and lists what the public copies lack. The gaps matter later: they decide which datasets
# the book can train on and which of the paper's numbers it can check.
#
# ```{admonition} In this chapter
# Builds on {doc}`01_introduction` (the prompt). You will run the preparation recipe on a tiny raw
# review file and read what it drops and why ({numref}`tab-02-recipe`). You will
# cut sliding windows ({numref}`fig-02-windows`) and rebuild the paper's Table 1 from the files of
# every dataset present ({numref}`tab-02-table1`, compared with the paper in
# {numref}`tab-02-paper`), and complete the sets that ship no valid split
# ({numref}`tab-02-derived`). Then you will inspect one dataset: its splits, history lengths
# ({numref}`fig-02-history`), duplicate titles, title lengths in tokens ({numref}`fig-02-title-length`),
# popular targets ({numref}`fig-02-popularity`), one prompt, and the checksums of its files. Nothing
# is trained: the chapter runs in under a minute at every profile (this run:
# {glue:text}`profile`).
# Symbols and terms: {doc}`../notation`.
# ```

# %% tags=["parameters"]
profile = "cpu"     # smoke (synthetic data) | cpu | gpu: the same work
dataset = None      # inspected in detail (None: the profile's, book at cpu): office | game | toy | book | clothing
model = None        # whose tokenizer counts the tokens (None: the profile's model)
seed = 0            # seed of the synthetic set (smoke, or no data found)

# %% tags=["remove-cell"]
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
from myst_nb import glue

from gdrt import book, paper
from gdrt.data import amazon, derive, load_catalog, stats
from gdrt.data.locate import repo_data_dir
from gdrt.data.prompts import response_text
from gdrt.data.windows import split_bounds, user_windows
from gdrt.models.loading import load_tokenizer
from gdrt.plots import data as plots  # importing gdrt.plots registers the book's plotly renderer
from gdrt.training.examples import row_prompt

t_chapter = time.perf_counter()
cfg = book.setup(profile, dataset=dataset, model=model, seed=seed)
glue("profile", profile, display=False)
pd.set_option("display.precision", 4)

# %%
book.banner(cfg)

# %% [markdown]
# ## Where the data comes from
#
# The GDRT paper {cite:p}`gdrt2025` evaluates on three Amazon review sets: Toy, Clothing and Book.
# They are the preprocessed files the same authors released with their MSL paper
# {cite:p}`wang2025msl`. Toy and Clothing come from the 2014 release of the Amazon reviews
# {cite:p}`mcauley2015image`, Book from the 2018 release {cite:p}`ni2019justifying`. The book adds
# two sets of the same family: Office (2014), the only one whose every split is public, and Game
# (2018 video games). Of a review, only three fields are used: who, which item, and when. Ratings
# and review texts play no part.
#
# No data is stored in the repository. `data/fetch.py` downloads each file from the public
# repository, commit and path listed in `data/MANIFEST.tsv` and checks its size and hashes
# ({ref}`sec-02-provenance` repeats the check on the files this run reads). `GDRT_DATA` can point at
# any folder laid out the same way.
#
# (sec-02-recipe)=
# ## From raw reviews to windows
#
# The files were made from raw reviews by a short recipe, the one of the MSL family's generator
# (`data/generate_data_slidingwindow.py` in the Void-JackLee/LBR repository):
#
# 1. **Titles.** Keep the items whose metadata has a title longer than one character (a trailing
#    `" VHS"` or `" [VHS]"` is cut off). A recommender that writes titles cannot recommend an item
#    without one.
# 2. **5-core.** Drop users and items with fewer than five reviews, and repeat: dropping a user can
#    push an item under five reviews, and the other way round.
# 3. **Numbering.** Number users and items from 1, in order of first appearance in the review file.
# 4. **Windows.** Sort each user's reviews by time and cut sliding windows of at most 11 items; the
#    last item of a window is the target, the others its history.
# 5. **Split.** Sort all windows by the target's time (a stable sort) and cut them 80/10/10 by
#    position into train, valid and test. The files `train_10000.csv`, `test_5000.csv`, ... are
#    random samples (`DataFrame.sample(n, random_state=42)`), the sizes the LLM methods use.
#
# `gdrt.data.amazon.prepare_amazon` runs the recipe. Here it runs on a raw file written for the
# tests (`tests/fixtures/data/amazon`: a review file and a metadata file in the 2014 format), into
# a temporary folder. Its report counts what each step removed, and why:

# %% mystnb={"figure": {"caption": "The recipe run on the raw test fixture: what each step kept, what it removed and why (from the report prepare_amazon writes next to its output).", "name": "tab-02-recipe"}}
raw = book.REPO / "tests" / "fixtures" / "data" / "amazon"
out = Path(tempfile.mkdtemp(prefix="gdrt-02-"))
report = amazon.prepare_amazon(raw / "reviews.json", raw / "meta.json", out, progress=False)
stats.recipe_report(report)

# %% tags=["remove-cell"]
glue("raw_reviews", report["reviews"], display=False)
glue("raw_no_title_items", report["items_dropped_no_title"], display=False)
glue("raw_no_title_reviews", report["reviews_dropped_no_title"], display=False)
glue("raw_core_rounds", report["k_core"]["rounds"], display=False)
glue("raw_core_reviews", report["k_core"]["reviews_dropped"], display=False)
glue("raw_interactions", report["interactions"], display=False)
glue("raw_windows", report["windows"], display=False)
glue("raw_shared", report["items_sharing_a_title"], display=False)

# %% [markdown]
# Of the {glue:text}`raw_reviews` reviews, {glue:text}`raw_no_title_reviews` go with the
# {glue:text}`raw_no_title_items` items that have no usable title. The 5-core then takes
# {glue:text}`raw_core_rounds` rounds and removes {glue:text}`raw_core_reviews` more reviews: a user
# who lost reviews in the first round left an item under five, which went in the next. The
# {glue:text}`raw_interactions` interactions left become {glue:text}`raw_windows` windows. The
# catalog already has a duplicate title: {glue:text}`raw_shared` item ids share one. Here is the
# train file the recipe wrote:

# %%
print((out / "train.csv").read_text())

# %% [markdown]
# Each row is one window. `item_ids` lists up to 11 item ids in time order; the last is the target
# and the others are the history. `timestamp` is the target's time (Unix seconds). The windows are
# sorted by it, so one user's rows are scattered through the file.
#
# (sec-02-windows)=
# ## Sliding windows
#
# Step 4 in code: for a user with $n$ time-sorted items, one window ends at each position
# $i = \min(10, n-1), \dots, n-1$ and reaches back at most ten items.
#
# ```{literalinclude} ../lib/gdrt/data/windows.py
# :pyobject: user_windows
# ```
#
# A user with 14 items (item 3 comes twice: people buy the same thing again) gives four windows;
# a user with 6 items gives one:

# %%
items = [7, 3, 9, 3, 5, 1, 8, 2, 6, 4, 10, 12, 11, 13]
windows = user_windows(items)
glue("n_example", len(items), display=False)
glue("n_example_windows", len(windows), display=False)
{"14 items": windows, "6 items": user_windows(items[:6])}

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The sliding windows of the 14-item user above: one row per window, one column per position of the user's sequence; history light blue, target red, the item id in each cell. Look at the diagonal: each window drops the oldest item and adds one target, so consecutive windows share ten items.", "name": "fig-02-windows"}}
plots.window_diagram(items, windows)

# %% [markdown]
# A user with $n \le 11$ items gives one window holding all of them: a history of $n-1$ items. A
# longer user gives $n-10$ windows, each with a full history of ten. So **a history shorter than ten
# means a user with fewer than 11 items, and each such user has exactly one row**. The 5-core
# guarantees at least five items per user, so no history is shorter than four.
#
# Step 5 sorts the windows of all users by the target's time and splits them by position. On the
# fixture's {glue:text}`raw_windows` windows, the cut points (end of train, end of valid, start and
# end of test) are:

# %%
split_bounds(report["windows"])

# %% [markdown]
# The split is by time, not by user. Train holds the oldest targets and test the newest, so a model
# is tested on what came next. One user's early windows can sit in train and the late ones in
# test. Their windows overlap, so the history of a test row can hold that user's train targets.
# Users active only late have no train row at all.
#
# (sec-02-table1)=
# ## Table 1 from the files
#
# The paper's Table 1 counts users, items and interactions, but the files hold windows, not
# interactions. The counts have to be rebuilt. One user's consecutive windows overlap in their
# history, so following them in time order gives back the user's whole sequence:

# %% [markdown]
# ```{literalinclude} ../lib/gdrt/data/stats.py
# :pyobject: rebuild_sequences
# ```
#
# Then #users is the number of sequences, #items the number of distinct items in them, #interactions
# their total length, and density = interactions / (users × items). When a split is missing, a
# user's windows skip ahead and stop chaining. The rebuild then joins the next window at the longest
# overlap it can find, so every counted interaction is real, but some are missing: with a split
# missing, the counts are **lower bounds**. The table covers the datasets this run found.
# {glue:text}`table1_scope`

# %% mystnb={"figure": {"caption": "Paper Table 1 recomputed from the files of every dataset present in this run (one column per dataset): users, items and interactions of the sequences rebuilt from train+valid+test, density = interactions / (users x items) in percent, windows read, and the number of ids in the catalog. 'files read' and 'missing' say which splits the rebuild had: where one is missing, or only a sample of it is there, the counts are lower bounds.", "name": "tab-02-table1"}}
sources = stats.table1_sources(cfg)
glue("table1_scope", stats.table1_scope(sources), display=False)
table1 = stats.table1(sources)
table1.T

# %% [markdown]
# Next to the paper: GDRT's Table 1 for Toy, Clothing and Book, and MSL's Table 4 for Office (GDRT
# does not use Office):

# %% mystnb={"figure": {"caption": "The paper's counts (GDRT Table 1; MSL Table 4 for Office) next to the counts rebuilt from the files, and the size of each catalog, one column per dataset. Status: exact; partial (the rebuild lacks the splits named, so its counts are lower bounds); or not present in this run.", "name": "tab-02-paper"}}
comparison = stats.paper_comparison(table1, paper.TABLE1, paper.MSL_TABLE4_OFFICE)
comparison.T

# %% tags=["remove-cell"]
text = stats.comparison_text(comparison)
glue("cmp_office", text["Office"], display=False)
glue("cmp_toy", text["Toy"], display=False)
glue("cmp_clothing", text["Clothing"], display=False)
glue("cmp_book", text["Book"], display=False)
glue("n_paper_present", int((comparison["status"] != "not present").sum()), display=False)
glue("n_catalog_match", int((comparison["catalog items"] == comparison["items (paper)"]).sum()), display=False)

# %% tags=["remove-cell"]
glue("paper_office", stats.counts_text(paper.MSL_TABLE4_OFFICE), display=False)
glue("paper_toy", stats.counts_text(paper.TABLE1["Toy"]), display=False)
glue("paper_clothing", stats.counts_text(paper.TABLE1["Clothing"]), display=False)
glue("paper_book", stats.counts_text(paper.TABLE1["Book"]), display=False)

# %% [markdown]
# ```{admonition} What the paper reports
# :class: note
# GDRT's Table 1: Toy {glue:text}`paper_toy`; Clothing {glue:text}`paper_clothing`; Book
# {glue:text}`paper_book`. MSL's Table 4 adds Office: {glue:text}`paper_office`.
# ```
#
# ```{admonition} What we measured
# :class: tip
# Rebuilt from the files (profile {glue:text}`profile`). Office: {glue:text}`cmp_office`. Toy:
# {glue:text}`cmp_toy`. Clothing: {glue:text}`cmp_clothing`. Book: {glue:text}`cmp_book`. Of the
# {glue:text}`n_paper_present` paper datasets present, {glue:text}`n_catalog_match` have a catalog
# with exactly the paper's number of items.
# ```
#
# ```{warning}
# **Why the numbers differ.** The public copies are incomplete, and the recipe is not at fault.
# Toy ships only its test split, so its rebuild sees only the users active at the very end. Clothing
# and Book ship no valid split, so users active only in the valid period are missing, along with
# valid targets that no later test window repeats. Game has only a random 10,000-row sample of its
# train split. The catalogs are complete, which is why their sizes can match the paper even where
# the rebuilt items fall short. Office, the one complete set, rebuilds to
# {glue:text}`cmp_office`.
# ```
#
# (sec-02-complete)=
# ## Completing Book and Clothing
#
# GDRT selects its checkpoints by validation NDCG@5, but Book and Clothing ship no valid split,
# and Toy ships no train split at all. The missing valid windows cannot be rebuilt from train and
# test ({ref}`ex-02-missing-users`). The book takes the option the data's provenance notes
# offer and carves a validation split off the end of `train.csv`.
# `gdrt.data.derive.complete_dataset` writes the result to a *derived* folder in the cache, so the
# data folder stays read-only. The folder is built in a temporary directory and renamed into place,
# and its `DERIVED.json` records every rule and count. The rules:
#
# - **Valid.** The last 11% of `train.csv` by target time become `valid.csv`; the rows before the
#   cut stay in `train.csv`. Rows dated on the day of the cut are split by position, as the
#   original 80/10/10 split does.
# - **Samples.** `train_10000`, `valid_500`, `valid_5000` and `test_500` are drawn with
#   `random_state=42` from the derived splits, by the rule that reproduces every shipped sample.
#   The shipped `train_10000` is dropped: it samples the whole `train.csv`, valid rows included.
# - **Empty titles.** A row whose target has an empty title is left out and counted: a recommender
#   cannot write an empty title, and the decoding trie has no path for one. An empty title in a
#   history stays, and the prompt shows `""`. The catalog is copied unchanged.
# - **Copies.** The test files and the catalog are copied byte for byte. Toy only gets a
#   `test_500` sample; it can be evaluated on but not trained on, and asking it for a train split
#   raises an error that says so.
#
# A folder that has a valid split (Office, Game) is read as shipped. `book.setup` completes the
# dataset of every chapter this way and says so in its banner. For the datasets of this run:

# %% mystnb={"figure": {"caption": "What each dataset of this run is read as: as shipped, or a derived folder with a carved valid split (Book, Clothing) or evaluation only (Toy, no train split). Rows of the shipped train.csv, and of the derived files the chapters read; rows left out because their target has an empty title, and train or valid rows that keep an empty title in their history. '-': nothing derived.", "name": "tab-02-derived"}}
completed = {name: derive.complete_dataset(d) for name, d in sources.items()}
derived = pd.DataFrame(derive.summary_rows(completed)).set_index("dataset")
glue("derive_scope", derive.summary_text(derive.summary_rows(completed)), display=False)
derived.T

# %% [markdown]
# {glue:text}`derive_scope` The carved valid split is not the paper's: it ends where the shipped
# train ends, one valid period before the test split, and it holds about a ninth of the train
# windows, where the paper's held a tenth of all windows. Its numbers select checkpoints; they are
# not compared with the paper's.
#
# (sec-02-splits)=
# ## The splits of one dataset
#
# From here on the chapter looks at one dataset, **{glue:text}`ds_name`**, the one the training
# chapters use at this profile. Every split file present, with the samples:

# %% mystnb={"figure": {"caption": "Every split file of this run's dataset: rows (windows), distinct users, distinct items (history and target), distinct target items, mean history length and the share of rows with a full history of ten items.", "name": "tab-02-splits"}}
catalog = load_catalog(cfg.data_dir, allow_empty_titles=True)
splits = stats.load_splits(cfg.data_dir, catalog=catalog)
main = stats.main_splits(splits)
summary = pd.DataFrame(stats.split_summary(splits)).set_index("split")
summary

# %% tags=["remove-cell"]
first, first_rows = next(iter(main.items()))
glue("ds_name", cfg.preset.dirname, display=False)
glue("first_split", first, display=False)
glue("first_rows", int(summary.loc[first, "rows"]), display=False)
glue("first_full", float(summary.loc[first, "history = 10"]), display=False)
glue("test_rows", int(summary.loc["test", "rows"]), display=False)
glue("test_users", int(summary.loc["test", "users"]), display=False)
glue("test_full", float(summary.loc["test", "history = 10"]), display=False)
glue("min_history", min(stats.history_lengths(first_rows)), display=False)

# %% tags=["remove-cell"]
glue("used_splits", f"{cfg.train_split}, {cfg.valid_split} and {cfg.test_split}", display=False)

# %% [markdown]
# The largest training file here is {glue:text}`first_split` with {glue:text}`first_rows` rows.
# The {glue:text}`test_rows` test rows come from only {glue:text}`test_users` users: a user active
# over the test period has a row for each item reviewed in it. A `_N` file is a random sample of its
# split and equals it when the split has fewer than N rows. At this profile the training chapters
# ask for {glue:text}`used_splits` (and take seeded subsets where the profile says so).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "History length per split, as a share of each split's rows. Look at the bar at 10: the rows with shorter histories are the users with fewer than 11 items, one row each.", "name": "fig-02-history"}}
plots.history_lengths(main)

# %% [markdown]
# In {glue:text}`first_split`, {glue:text}`first_full:.1%` of the rows have a full history of ten
# items; in test, {glue:text}`test_full:.1%`. The shortest history is {glue:text}`min_history`
# items, as the 5-core promised. Short histories are not spread evenly over the splits: each comes
# from a user with few items, and it sits wherever in time that user's last item falls. A prompt
# holds up to ten titles, so almost every prompt is as long as it can be.
#
# (sec-02-duplicates)=
# ## Duplicate titles
#
# The model writes a title, not an id. When several ids share a title (the same product listed
# twice, a reprint, a colour variant with the same name), the model cannot tell them apart. The
# catalog (`Catalog.title2ids`) maps each distinct title to all of its ids. The decoding trie has
# one path per distinct title, and a recommendation counts as a hit when the target's id is among
# the ids of the title. The largest groups in {glue:text}`ds_name`:

# %%
dup = stats.duplicate_titles(catalog)
glue("dup_items", dup["items_sharing"], display=False)
glue("dup_titles", dup["shared_titles"], display=False)
glue("dup_largest", dup["largest"], display=False)
glue("dup_example", f"{dup['largest_title']} (ids {', '.join(map(str, dup['largest_ids']))})", display=False)
stats.duplicate_groups(catalog)

# %% [markdown]
# {glue:text}`dup_items` item ids share {glue:text}`dup_titles` titles. The largest group has
# {glue:text}`dup_largest` ids, for example "{glue:text}`dup_example`". Across the datasets of this
# run:

# %% mystnb={"figure": {"caption": "The catalogs of every dataset in this run: item ids, distinct titles, ids that share their title with another id, the largest group of ids with one title, and empty titles.", "name": "tab-02-catalogs"}}
stats.catalog_table(sources)

# %% [markdown]
# Where a product line is listed once per size or colour under one name, as often happens for
# clothing and games, duplicates are common: compare the rows. A catalog can also hold an empty
# title (the last column; the published Book catalog has one). The file reader rejects empty titles
# unless asked (`allow_empty_titles=True`), because a recommender cannot write one; this chapter
# asks, to count them.
#
# (sec-02-title-length)=
# ## Title lengths in tokens
#
# Training scores the response, the title in double quotes followed by the end-of-sequence token,
# token by token, so a long title weighs more in the loss than a short one. Constrained beam search
# needs as many decoding steps as the longest title has tokens. With this profile's tokenizer
# ({glue:text}`tokenizer_name`):

# %%
tokenizer = load_tokenizer(cfg.model)
lengths = stats.title_token_lengths(catalog, tokenizer)
glue("tokenizer_name", Path(cfg.model).name, display=False)
glue("len_median", float(pd.Series(lengths).median()), display=False)
glue("len_p95", float(pd.Series(lengths).quantile(0.95)), display=False)
glue("len_max", int(lengths.max()), display=False)
pd.Series(lengths, name="response tokens").describe().to_frame().T

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Response length in tokens (the title in double quotes, plus EOS) of every distinct title of the catalog, under this profile's tokenizer; the dashed line is the median. Look at the long right tail: a few titles are many times longer than the typical one.", "name": "fig-02-title-length"}}
plots.title_lengths(lengths)

# %% [markdown]
# The median response has {glue:text}`len_median:.0f` tokens, 95% have at most
# {glue:text}`len_p95:.0f`, and the longest {glue:text}`len_max`. GDRT's groups are formed over these
# tokens ({doc}`05_gdrt`). The quotes, common words and frequent brands tend to be the tokens a
# model can guess from the task alone.
#
# (sec-02-popularity)=
# ## Popular targets
#
# How evenly are the targets spread over the catalog? Counting how often each item is the target of
# a row of {glue:text}`first_split`:

# %%
popularity = stats.target_popularity(first_rows, catalog)
glue("top1_share", stats.top_share(popularity, 0.01, len(catalog)), display=False)
glue("top10_share", stats.top_share(popularity, 0.10, len(catalog)), display=False)
glue("never_target", len(catalog) - len(popularity), display=False)
glue("n_catalog", len(catalog), display=False)
popularity.head(5)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Targets per item. Left: how often each item is a target, by popularity rank (log-log). Right: the share of all targets that go to the most frequent items (red), against an even spread (dotted); items that are never a target count with zero. Look at how far the red curve rises above the diagonal within the first few percent of items.", "name": "fig-02-popularity"}}
plots.target_popularity(popularity, n_items=len(catalog), name=first)

# %% [markdown]
# The most frequent 1% of the {glue:text}`n_catalog` items take {glue:text}`top1_share:.1%` of the
# targets and the top 10% take {glue:text}`top10_share:.1%`. {glue:text}`never_target` items are
# never a target in this file. Popularity is not the bias this book is about. The paper's bias is
# about *language*: titles the task description alone makes likely. The two can overlap, so
# the chapter on the evidence for the bias groups items by their language-model relevance, not by
# their counts.
#
# (sec-02-prompt)=
# ## One row as the model sees it
#
# The first test row, turned into the prompt the model reads ({doc}`01_introduction`), with the
# response it is trained to write appended. The history is at most ten titles, oldest first, and
# the response is the target's title in double quotes:

# %%
row = splits["test"][0]
glue("row_user", row.user_id, display=False)
glue("row_history", len(row.history), display=False)
print(row_prompt(row, catalog, cfg.preset) + response_text(catalog.title(row.target)))

# %% [markdown]
# This is user {glue:text}`row_user` with {glue:text}`row_history` history items. Training adds the
# end-of-sequence token after the closing quote and puts the loss on the response tokens only.
# Inference feeds the same prompt, byte for byte, and decodes the response.
#
# (sec-02-provenance)=
# ## Provenance
#
# Every file comes from a public repository, at a fixed commit. `data/MANIFEST.tsv` lists each one
# with its size, sha256 and git blob id. Per dataset:

# %% mystnb={"figure": {"caption": "Where the files come from, per dataset in data/MANIFEST.tsv: source repository, commit and folder, and how many files are listed. 'blob only': files listed by git blob id alone (Toy's train), which could not be copied; their size and sha256 are unknown.", "name": "tab-02-sources"}}
manifest = stats.read_manifest(repo_data_dir() / "MANIFEST.tsv")
stats.manifest_sources(manifest)

# %% [markdown]
# The files this run read, checked against the manifest (size and sha256). A synthetic set is
# generated by `gdrt.data.synthetic` and is in no manifest:

# %% mystnb={"figure": {"caption": "Every file of this run's dataset folder, with its path in the source repository and its status: ok (size and sha256 match the manifest), MISMATCH, missing (listed but absent), not checkable (listed by git blob only) or not in manifest.", "name": "tab-02-check"}}
check = stats.verify_manifest(derive.source_dir(cfg.data_dir), manifest)  # the shipped folder
assert not (check["status"] == "MISMATCH").any(), check[check["status"] == "MISMATCH"]
glue("n_files", len(check), display=False)
glue("n_ok", int((check["status"] == "ok").sum()), display=False)
glue("data_dir", derive.dataset_name(cfg.data_dir), display=False)
check

# %% [markdown]
# Of the {glue:text}`n_files` files found in the folder {glue:text}`data_dir` or listed for it,
# {glue:text}`n_ok` match the manifest byte for byte (a mismatch would have stopped the chapter).
# `python data/fetch.py --check --dest FOLDER` checks a whole data folder the same way, git blob ids
# included, without downloading anything.

# %% tags=["remove-cell"]
shutil.rmtree(out, ignore_errors=True)  # the recipe's output folder
glue("chapter_s", time.perf_counter() - t_chapter, display=False)

# %% [markdown]
# This chapter's execution took {glue:text}`chapter_s:.0f` s.
#
# ## Summary
#
# - The recipe (title filter, iterative 5-core, numbering, sliding windows, time-ordered 80/10/10
#   split) turned {glue:text}`raw_reviews` raw reviews into {glue:text}`raw_windows` windows and
#   reported every drop ({numref}`tab-02-recipe`, {numref}`fig-02-windows`).
# - Rebuilt from the files: Office, {glue:text}`cmp_office`. Toy, Clothing and Book lack splits,
#   so their rebuilt counts are lower bounds. Still, {glue:text}`n_catalog_match` of the
#   {glue:text}`n_paper_present` paper datasets present have a catalog of exactly the paper's item
#   count ({numref}`tab-02-paper`).
# - {glue:text}`derive_scope` ({numref}`tab-02-derived`)
# - In {glue:text}`ds_name`, {glue:text}`first_full:.1%` of the {glue:text}`first_split` rows have
#   a full ten-item history ({numref}`fig-02-history`). {glue:text}`dup_items` item ids share a
#   title, and the top 1% of items take {glue:text}`top1_share:.1%` of the targets
#   ({numref}`fig-02-popularity`).
# - No file differs from the manifest: {glue:text}`n_ok` of the {glue:text}`n_files` files match
#   its sha256, and the others are unlisted or absent ({numref}`tab-02-check`).
#
# ## Exercises
#
# ```{exercise}
# :label: ex-02-count-windows
# A user has 25 interactions. How many windows does the recipe cut? In how many of them does her
# third item appear, and is it ever a target? What changes for a user with 8 interactions?
# ```
#
# ```{solution} ex-02-count-windows
# :class: dropdown
# Windows end at positions $i = 10, \dots, 24$ (0-based): $25 - 10 = 15$ windows. Window $i$ covers
# positions $i-10$ to $i$, so the third item (position 2) is in the windows with $i - 10 \le 2$,
# that is $i = 10, 11, 12$: three windows, always in the history, because targets start at position
# 10. A user with 8 interactions has $\min(10, 7) = 7$ as the only end position: one window, a
# history of 7 items and the last item as target.
# ```
#
# ```{exercise}
# :label: ex-02-missing-users
# Book's rebuilt user count falls short of the paper's Table 1. Which users are missing? Could any
# of them, or any of their interactions, be recovered from the train and test files alone?
# ```
#
# ```{solution} ex-02-missing-users
# :class: dropdown
# The missing users are those whose windows all have their target in the valid period. Their user
# ids appear in no train or test row, so nothing about them can be recovered. For users with both
# train and test rows, part of the valid period *can* be recovered. A test window's history reaches
# back up to ten items, so the valid targets of its last ten positions reappear in it, and the
# rebuild's gap join counts them. Valid targets more than ten positions before the user's first
# test target are lost. So the rebuilt counts are lower bounds
# ({ref}`sec-02-table1`).
# ```
#
# ```{exercise}
# :label: ex-02-game
# Change a parameter, predict, run: re-execute this chapter at the `cpu` profile with
# `-p dataset game`. Before running, predict from the tables above: will the split table have a
# `train` row? Will the duplicate titles grow? Will the popularity curve of
# {numref}`fig-02-popularity` rise more steeply or less steeply than for this execution's dataset?
# Then run it.
# ```
#
# ```{solution} ex-02-game
# :class: dropdown
# Game ships no full train split ({numref}`tab-02-table1`: "missing: train"), so the chapter works
# on `train_10000` and labels the figures with it. {numref}`tab-02-catalogs` already gives Game's
# duplicates, far more than Office's. For the curve, compare the catalog sizes: Game's catalog is
# several times Office's, and its targets come from a 10,000-row sample, so many more items are
# never a target. Read the top 1%'s share off the new figure and compare.
# ```
#
# ```{exercise}
# :label: ex-02-toy-train
# Open: Toy ships no train split, so its rebuild sees only the test period. Suppose you obtain the
# raw 2014 Toys reviews and metadata and run `prepare_amazon` on them. Using only files you have
# (`Toy/id2name4Rec.json`, `Toy/test.csv`) and the functions of this chapter, design the checks that
# would convince you the output is the paper's Toy. Which check catches a wrong title filter, which
# a wrong tie-break in the time sort, and what would the Table 1 row have to show?
# ```
#
# ```{solution} ex-02-toy-train
# :class: dropdown
# One plan, not the only one. (1) The catalog must equal `Toy/id2name4Rec.json` byte for byte (the
# recipe writes it in the reference format). This catches the title filter and the numbering,
# because any different item set or order shifts the ids. (2) The test split must equal
# `Toy/test.csv` row for row, after projecting Toy's extra columns away. That catches the windowing
# and the time sort: a different tie-break moves rows across the 90% cut or reorders them. (3) The
# Table 1 row of the output must give the paper's {glue:text}`paper_toy`, and `split_bounds` of
# its window count must give a test split the size of `Toy/test.csv`. Finally,
# the git blob ids of Toy's `train.csv` and `train_10000.csv` are in the manifest, so
# `data/fetch.py`'s blob check settles it byte for byte.
# ```
