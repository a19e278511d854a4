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
# # Analysis: does GDRT remove the bias, and does the paper replicate?
#
# {doc}`03_bias_evidence` measured the symptoms of language bias before tuning and after SFT, and
# {doc}`05_gdrt` trained GDRT. This chapter asks the paper's question of its §4.3 {cite:p}`gdrt2025`
# directly (*does GDRT, trained on the same data as SFT, lean less on the auxiliary tokens and spread
# its recommendations more evenly?*) by comparing the two models **row by row** on the same rows, and
# then goes through the paper's claims one by one: does each replicate here?
#
# ```{admonition} In this chapter
# Builds on {doc}`03_bias_evidence` (feature ablation, item groups, shares over training) and
# {doc}`05_gdrt` (the runs). You will compute paired bootstrap intervals of GDRT − SFT for the
# attribution ratios (the paper's Fig. 7), the group-1 shares (Fig. 8), NDCG and MGU/DGU
# ({numref}`tab-07-paired`, {numref}`fig-07-paired`), read the difference over training (Fig. 9),
# and fill in the table of claims ({numref}`tab-07-claims`) from the committed reference experiment,
# with a verdict for each. The second part measures what $G$ and $\tau$ do to GDRT's weights (Fig. 10,
# 11) and what GDRT costs (Fig. 12).
# Symbols and terms: {doc}`../notation`.
# ```

# %% tags=["parameters"]
profile = "cpu"         # smoke | cpu | gpu | gpu-lite
dataset = None          # None: the profile's (book at cpu); office | game | book | clothing
model = None            # None: the profile's model
n_attr = None           # test rows for the live attribution (None: the profile's; the rows of chapter 3)
attr_tokens = 24        # per-token attribution: at most this many tokens of each type per row (as chapter 3)
baseline = "remove"     # remove | placeholder (as chapter 3)
n_boot = 2000           # paired bootstrap resamples
n_groups = 5            # the GDRT run of chapter 5 (the same values reuse it)
tau = 1.0
grouping = "kmeans"
reference = "book"      # the committed reference experiment
grid = None             # [[G, tau], ...] GDRT runs for Fig. 10/11 (None: the profile's; none at cpu)
n_loss_rows = 32        # training rows whose token losses feed the weight sensitivity
seed = 0

# %% tags=["remove-cell"]
import pandas as pd
from myst_nb import glue

from gdrt import book, diagnostics, paper, perf, replication
from gdrt.models.loading import load_trained
from gdrt.objectives.relevance import Grouping, token_values
from gdrt.plots import bias as plots
from gdrt.training.runs import subset

cfg = book.setup(profile, dataset=dataset, model=model, seed=seed, n_attr=n_attr, grid=grid)
pd.set_option("display.precision", 4)
book.glue_all({"profile": profile, "n_boot": n_boot, "G": n_groups})

# %%
book.banner(cfg)

# %% [markdown]
# ## The paired bootstrap
#
# Each statistic of chapter 3 is a function of sums over rows: for a model $m$, a ratio
# $S_m = \sum_i u_m(i) \big/ \sum_i v_m(i)$ (for task : interaction, $u$ is the row's mean
# |contribution| per task token and $v$ per history token; for the top-$K$ group-1 share, $u$ counts
# row $i$'s top-$K$ entries in item group 1 and $v$ its top-$K$ entries; for NDCG@$K$, $u$ is the row's
# gain and $v = 1$), or, for MGU and DGU, a function of the pooled per-group counts. The question is
# the sign of $\Delta = S_{\text{GDRT}} - S_{\text{SFT}}$. A resample draws $n$ rows with replacement
# and computes **both** models' statistics on the **same** drawn rows:
#
# $$ \Delta^{(b)} = S_{\text{GDRT}}\big(I^{(b)}\big) - S_{\text{SFT}}\big(I^{(b)}\big), \qquad I^{(b)} \sim \text{Uniform}\{1..n\}^n, \quad b = 1..B $$ (eq-07-paired)
#
# and the 95% interval is the 2.5th and 97.5th percentiles of the $\Delta^{(b)}$. Because a row that
# is hard for one model is usually hard for the other, the paired interval is narrower than two
# independent intervals would suggest ({ref}`ex-07-paired`). With several seeds per method, each
# side of $\Delta^{(b)}$ is the mean over that method's seeds on the same resample. The *minimum
# detectable effect* (MDE) is $2.8$ bootstrap standard errors: the true difference that a two-sided
# test at the 5% level would detect with 80% power at this number of rows.
#
# ```{literalinclude} ../lib/gdrt/replication.py
# :pyobject: paired
# ```
#
# ## The live run, row by row
#
# The live runs come from the run cache ({doc}`05_gdrt`, or trained here); the attribution uses the
# seeded test sample and the per-token view of chapter 3 (its SFT results are read from chapter 3's
# cache).

# %%
data = book.load_data(cfg)
sft = book.run(cfg, "sft")
gdrt = book.run(cfg, "gdrt", n_groups=n_groups, tau=tau, grouping=grouping)
runs = {"sft": sft, "gdrt": gdrt}
sample = subset(data.test, cfg.n_attr, seed)
attr = {name: diagnostics.cached_attribution(str(run.run_dir), lambda run=run: load_trained(run.run_dir, bf16=False),
                                             sample, data.catalog, cfg.preset, cfg.runs_root / "attribution", baseline,
                                             view="token", max_tokens=attr_tokens) for name, run in runs.items()}
book.glue_all({"n_sample": len(sample), "n_test": len(data.test)})

# %% mystnb={"figure": {"caption": "Live: GDRT against SFT on the same rows: each statistic for both models, the difference GDRT \u2212 SFT, its 95% paired bootstrap interval (lo, hi), the share of resamples in which GDRT is lower, and the number of rows. The attribution ratios (per token) use the attribution sample; the shares and NDCG every test row.", "name": "tab-07-paired-live"}}
item_group = book.item_groups(cfg, data.catalog)
preds = {"sft": diagnostics.load_predictions(sft.eval_dir), "gdrt": diagnostics.load_predictions(gdrt.eval_dir)}
table = diagnostics.paired_table("sft", "gdrt", attr, preds, item_group, ks=(1, 10), ndcg_ks=(10,),
                                 n_boot=n_boot, seed=seed)
table

# %% tags=["remove-cell"]
verdict = diagnostics.verdicts(table, "sft", "gdrt")
short = {"task:interaction": "task", "prefix:interaction": "prefix", "top-1 group-1 share": "top1",
         "top-10 group-1 share": "top10", "NDCG@10": "ndcg10"}
book.glue_all({f"live_{short[k]}_{col}": table.loc[k, c] for k in table.index
               for col, c in (("sft", "sft"), ("gdrt", "gdrt"), ("diff", "difference"), ("lo", "lo"), ("hi", "hi"))})
book.glue_all({f"live_{short[k]}_verdict": v for k, v in verdict.items()})

# %% [markdown]
# Live, on {glue:text}`n_test` test rows and {glue:text}`n_sample` attribution rows: the top-1 share of
# item group 1 went from {glue:text}`live_top1_sft:.1%` (SFT) to {glue:text}`live_top1_gdrt:.1%` (GDRT),
# {glue:text}`live_top1_verdict`; task : interaction from {glue:text}`live_task_sft:.2f` to
# {glue:text}`live_task_gdrt:.2f`, {glue:text}`live_task_verdict`; NDCG@10 from
# {glue:text}`live_ndcg10_sft:.4f` to {glue:text}`live_ndcg10_gdrt:.4f`, {glue:text}`live_ndcg10_verdict`.
# At a laptop's size these are the code at work, not evidence; the reference experiment is.
#
# ## The reference experiment, row by row (paper Fig. 7, 8 and Table 2)

# %%
res = book.reference(reference)
book.reference_banner(res, reference)

# %% tags=["remove-cell"]
book.glue_all(replication.describe(res))

# %% mystnb={"figure": {"caption": "Reference: GDRT against SFT on the same test rows (attribution: the same attribution rows), each side the mean over the seeds both methods finished: the two values, the difference, its 95% paired bootstrap interval, the minimum detectable effect (MDE), and the smallest and largest per-seed difference.", "name": "tab-07-paired"}}
ref_table = pd.concat([replication.paired_attribution(res, "sft", "gdrt", n_boot=n_boot, seed=seed),
                       replication.paired(res, "sft", "gdrt", n_boot=n_boot, seed=seed)])
ref_table

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 7 and 8 as differences, on the reference experiment: GDRT \u2212 SFT for each statistic with its 95% paired bootstrap interval. Green: GDRT lower (interval below 0); red: GDRT higher; grey: the interval includes 0. For the ratios, the group-1 shares, MGU and DGU, lower means less bias; for NDCG and HIT, lower means less accurate.", "name": "fig-07-paired"}}
plots.paired_differences(ref_table, "sft", "gdrt")

# %% [markdown]
# Beside the paper's own numbers for the same dataset (Table 2: the paper's backbone, tuned for 5
# epochs; its training and test sizes are not stated, see the note on reading the paper in the
# introduction):

# %% mystnb={"figure": {"caption": "Paper Table 2, the reference dataset's SFT and GDRT rows, next to the reference experiment's (mean over seeds, with the seed range, on its test rows).", "name": "tab-07-table2"}}
replication.table2(res, paper.TABLE2)

# %% [markdown]
# ## Over training (paper Fig. 9)
#
# The top-1 share of item group 1 on each seed's validation rows at every validation, from the ranked
# lists the validations kept, and GDRT − SFT at each step (mean over seeds); step 0 is the untuned
# model, the same for both.

# %% mystnb={"figure": {"caption": "Paper Fig. 9 as a difference, on the reference experiment: the top-1 share of item group 1 on the validation rows at each validation step, SFT and GDRT (mean over seeds), and GDRT \u2212 SFT.", "name": "tab-07-trace"}}
ref_trace = pd.concat([replication.trace(res, m) for m in ("sft", "gdrt")])
gap = replication.trace_pivot(ref_trace, "sft", "gdrt")
gap

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Paper Fig. 9 on the reference experiment: share of top-1 recommendations in item group 1 (left) and NDCG@5 (right) on the validation rows during SFT and GDRT, one line per method and seed; step 0 is the untuned model. Dashed: the test targets' group-1 share.", "name": "fig-07-trace"}}
plots.reference_trace(ref_trace, replication.diagnosis(res)["target_g1"])

# %% tags=["remove-cell"]
book.glue_all(replication.gap_numbers(gap))

# %% [markdown]
# Over the {glue:text}`trace_points` validations after step 0, GDRT's group-1 share minus SFT's
# averaged {glue:text}`trace_mean_gap:+.1%` and ended at {glue:text}`trace_last_gap:+.1%`.
#
# (sec-07-replicate)=
# ## Does it replicate here?
#
# ### How big the experiment is, and why
#
# The dataset is Book, one of the paper's three. Toy ships no training split; of Book and Clothing
# (both completed with a validation split carved from training, {doc}`02_data`), Book's catalog is a
# quarter of Clothing's ({glue:text}`book_items` items against {glue:text}`clothing_items`), which
# makes constrained decoding cheaper, and its prompts are short. The model is SmolLM2-135M with LoRA
# in fp32, the fastest training on this CPU ({doc}`08_performance`).
#
# The size came from measurements. A *pilot* (SFT, seed 0) trained on {glue:text}`pilot_n_train`
# rows, validating every {glue:text}`pilot_eval_steps` optimizer steps on {glue:text}`pilot_n_valid`
# validation rows, so that its curve shows where SFT has learned and where its group-1 share stops
# moving. The reference runs' length was chosen from its first validations, before they started; the
# pilot then ran to its end, so the whole curve shows whether the choice held:

# %% mystnb={"figure": {"caption": "The sizing pilot (SFT, seed 0): NDCG@5 and the top-1 share of item group 1 on its validation rows, by optimizer step and training rows seen; step 0 is the untuned model.", "name": "tab-07-pilot"}}
pilot = replication.pilot_trace(res)
book.glue_all(replication.pilot_numbers(res))
pilot

# %% [markdown]
# Validation NDCG@5 rose from {glue:text}`pilot_ndcg_start:.4f` for the untuned model to
# {glue:text}`pilot_ndcg_at:.4f` at step {glue:text}`pilot_at_step` and {glue:text}`pilot_ndcg_end:.4f`
# at step {glue:text}`pilot_steps` (its highest: {glue:text}`pilot_ndcg_max:.4f`); the top-1 share of
# group 1 went from {glue:text}`pilot_share_start:.1%` to {glue:text}`pilot_share_at:.1%` and
# {glue:text}`pilot_share_end:.1%`. The reference runs train {glue:text}`ref_n_train` rows for
# {glue:text}`ref_epochs` epoch ({glue:text}`pilot_ref_steps` steps), chosen as the point past which the
# pilot's first validations showed neither NDCG@5 nor the group-1 share still rising, and short enough
# that every seed of both methods fits on this machine; compare the numbers at step
# {glue:text}`pilot_at_step` and at the pilot's end to see whether that held.
# The arithmetic, with this machine's measured rates:

# %% mystnb={"figure": {"caption": "The reference experiment's cost, from rates measured in it: training speed and steps, decoding and attribution per row, the predicted hours per part and in all, and the wall time spent so far.", "name": "tab-07-sizing"}}
sizing = replication.sizing(res)
sizing

# %% tags=["remove-cell"]
book.glue_all({"book_items": paper.TABLE1["Book"]["items"], "clothing_items": paper.TABLE1["Clothing"]["items"],
               **replication.grid_cost(res, sizing, len(paper.GRID_G) * len(paper.GRID_TAU))})

# %% [markdown]
# GDRT's $G$ and $\tau$ are fixed at $G$ = {glue:text}`ref_G` and $\tau$ = {glue:text}`ref_tau`, not
# tuned: the paper chooses them on validation among {glue:text}`grid_points` points, and each point
# is one more training and evaluation per seed, about {glue:text}`grid_hours:.0f` h for the grid at the
# rates above. $\tau$ = 1 is the largest value of the paper's grid, the one that leans least on the
# highest-loss group (the sensitivity section below shows how hard even it leans).

# %% [markdown]
# ### The claims
#
# One row per claim of the paper: what the paper reports, the difference this experiment measured
# with its 95% interval and MDE, and the verdict. *Replicates*: the interval lies entirely on the
# paper's side of 0. *Does not replicate*: it lies entirely on the other side. *Cannot tell at this
# size*: it covers 0, and the MDE says how large an effect this size could have seen. *Not measured
# yet*: the parts of the reference experiment it needs have not finished (the column "waiting for"
# says which); its row fills in when they are committed.

# %% mystnb={"figure": {"caption": "The paper's claims against the reference experiment: the source in the paper, what it reports, our difference (the quantity the claim is about: after \u2212 before, or GDRT \u2212 SFT, or SFT's top-1 group-1 share \u2212 the targets'), its 95% interval, MDE, seeds and seed range, and the verdict computed from the interval.", "name": "tab-07-claims"}}
claims = replication.claims(res, n_boot=n_boot, seed=seed, cooccurrence=res.cooccurrence())
claims.drop(columns=["direction"]).set_index("claim")

# %% tags=["remove-cell"]
book.glue_all({"n_claims": len(claims), "n_replicates": int((claims["verdict"] == replication.REPLICATES).sum()),
               "n_not": int((claims["verdict"] == replication.NOT).sum()),
               "n_cannot": int((claims["verdict"] == replication.CANNOT).sum()),
               "n_pending": int((claims["verdict"] == replication.PENDING).sum())})
book.glue_all(replication.diagnosis(res), prefix="why_")

# %%
replication.claims_markdown(claims)

# %% [markdown]
# Of {glue:text}`n_claims` claims, {glue:text}`n_replicates` replicate here, {glue:text}`n_not` do not,
# for {glue:text}`n_cannot` this experiment cannot tell, and {glue:text}`n_pending` are not measured
# yet.
#
# ```{admonition} Why the numbers may differ from the paper's: what was measured
# :class: warning
# - **Model size.** The paper tunes Llama-3.2-3B; the reference experiment SmolLM2-135M, 22 times
#   smaller, whose untuned top-1 recommendations already fall in item group 1
#   {glue:text}`why_base_top1_g1:.1%` of the time (targets: {glue:text}`why_target_g1:.1%`).
# - **How far SFT got.** After {glue:text}`why_sft_steps` steps the best validation NDCG@5 of SFT was
#   {glue:text}`why_sft_best_valid_ndcg5:.4f` (mean over seeds); the paper trains 5 epochs of 10,000
#   rows.
# - **How hard GDRT leaned.** With $G$ = {glue:text}`why_gdrt_n_groups` groups the largest weight
#   $Q(g)$ of a training batch averaged {glue:text}`why_gdrt_max_q:.2f` (uniform:
#   $1/G$); group 1, the most predictable tokens, got {glue:text}`why_gdrt_q_group1:.3f` on average and
#   the last group {glue:text}`why_gdrt_q_last:.3f`. $G$ and $\tau$ were fixed, not tuned on
#   validation as in the paper (the cost of the grid: {numref}`tab-07-sizing`).
# - **Definitions.** Attribution here is per token (chapter 3), with the prefix taken as the title's
#   first token; the paper's exact masking baseline is not stated. Item groups average the title's
#   own tokens under the untuned model.
# - **Rows.** {glue:text}`ref_n_test` test rows: the MDE column says which effects that can see.
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
glue("tau_run_min", (gdrt.final["train_seconds"] + gdrt.timing["seconds"]) / 60, display=False)
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
#   the difference, and its MDE, is what "GDRT lowers the bias" has to clear.
# - In the reference experiment ({glue:text}`ref_dataset`, {glue:text}`ref_n_test` test rows, seeds
#   finished: SFT {glue:text}`ref_seeds_sft`, GDRT {glue:text}`ref_seeds_gdrt`), {glue:text}`n_replicates`
#   of the paper's {glue:text}`n_claims` claims replicate, {glue:text}`n_not` do not,
#   {glue:text}`n_cannot` cannot be told at this size and {glue:text}`n_pending` wait for parts that
#   have not finished ({numref}`tab-07-claims`).
# - Over training, GDRT's top-1 group-1 share minus SFT's averaged {glue:text}`trace_mean_gap:+.1%`
#   ({numref}`tab-07-trace`).
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
# Change a parameter, predict, run: execute this chapter with `-p tau 0.1`. It trains and evaluates a
# new GDRT run, which took {glue:text}`tau_run_min:.0f` min for this execution's GDRT run (training
# and test decoding; the new run's attribution comes on top). A smaller $\tau$ puts more weight on the worst group
# ({doc}`04_group_dro`). Predict the sign of the change in the top-1 group-1 share against SFT, then
# compare {numref}`tab-07-paired-live` with this one.
# ```
#
# ```{solution} ex-07-tau
# :class: dropdown
# Run
# `jupytext --to ipynb -o - chapters/07_analysis.py | papermill - runs/07-tau0.1.ipynb --cwd chapters -p tau 0.1`.
# Besides the new run's training and test decoding, the new GDRT model's attribution is measured (its
# cache key is the run); SFT's comes from chapter 3's cache, and the reference experiment is only read.
# So the run takes about this chapter's time at the profile in the {doc}`teacher's guide <../teaching>`
# plus the new run's training and decoding.
#
# Prediction: negative, and lower than at $\tau = 1$. At $\tau = 0.1$ the softmax gives the highest-loss
# group almost all the weight ({numref}`fig-07-weights`: {glue:text}`sens_q_small:.2f` at $\tau$ =
# {glue:text}`sens_tau_small` on the SFT model's losses), and the high-loss groups hold the tokens that
# the prompt alone does not predict. Training on them should pull the top-1 recommendations out of item
# group 1 and lower task : interaction; the price can be NDCG, since each batch trains on little but
# one group. At this size, expect the interval of the difference in {numref}`tab-07-paired-live` to
# cover 0 all the same: {glue:text}`n_test` test rows, one seed, and a few hundred training rows for one
# epoch. An interval that covers 0 neither confirms nor refutes the sign; the MDE column of
# {numref}`tab-07-paired` says how large an effect the reference experiment's size can see.
# ```
#
# ```{exercise}
# :label: ex-07-open
# Open: the top-1 group-1 share could fall simply because GDRT recommends *longer* titles (Eq. 2
# averages over a title's tokens, and long titles may sit in lower groups). Using `preds`, compare the
# token lengths of the two models' top-1 titles, and design a check that separates "less bias" from
# "different lengths".
# ```
#
# ```{solution} ex-07-open
# :class: dropdown
# A sketch. First the premise. Per model, the token length of each row's top-1 title
# (`catalog.title(p["item_ids"][0][0])`, which works for the live and the reference predictions alike;
# lengths from `gdrt.data.stats.title_token_lengths`), compared with a paired bootstrap over rows. Over
# the catalog, how length and item group go together (`book.item_groups` against length bins). The
# sign is not obvious: a long title can hold many tokens that its own prefix makes predictable, which
# raises its mean and lifts it toward group 1.
#
# Then the check. Cut the catalog into length bins, fixed before looking at the two models (for example
# quantiles of title length), and compute for each model the group-1 share of its top-1 titles within
# each bin; standardise to one length distribution (the test targets') by weighting the bins. If GDRT's
# standardised share is still below SFT's, with a paired interval that excludes 0, the drop is not a
# length effect; if the difference vanishes, it was. A stricter yardstick assigns the item groups within
# each length bin (`gdrt.metrics.fairness.assign_item_groups` on each bin's items, with $r(y)$ from
# `item_relevance`), so that group 1 means "the most prompt-predictable among titles of this length". A third view decodes both models with
# `length_penalty=0.0` ({doc}`06_baselines`): if the gap survives a rule that prefers short titles,
# length preference in decoding is not its cause. The live rows are too few for any of this; use the
# reference experiment's predictions (`res.models("sft")` and `res.models("gdrt")`, seeds averaged as
# in `replication.paired`). And a shift in length is a change of behaviour worth reporting in itself,
# even where it explains the share.
# ```
