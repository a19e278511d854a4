"""The chapters' setup: one call turns the papermill ``profile`` parameter into sizes, finds the data
(real, or the synthetic fallback, said visibly) and the model. Chapters hold no ``if profile``."""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data import get_preset
from .models.loading import DEFAULT_MODEL, cache_root

REPO = Path(__file__).resolve().parents[2]

# Sizes per profile. smoke: CI, a tiny model on synthetic data; cpu: the book build on 2 cores (Book,
# the paper dataset of the reference experiment), sized for a main job under 60 minutes (with 32
# validation rows, 160 test rows, 48 in chapter 6 and 12 for attribution, chapters 1-6 alone took 74
# minutes: results/main_job/cpu-larger.json); gpu: the paper's sizes (Llama-3.2-3B in 4-bit QLoRA,
# full train_10000, test_5000, 5 epochs). bf16 "auto": bf16 where this machine computes it natively
# (gdrt.machine.fast_bf16), else fp32.
PROFILES: dict[str, dict] = {
    "smoke": dict(dataset="synthetic", model="tiny", adapter="lora", train_split="train_10000", n_train=96, valid_split="valid_500",
                  n_valid=16, test_split="test_500", n_test=32, epochs=2.0, batch_size=8, lr=3e-3, bf16=False,
                  n_attr=4, n_live=2, eval_steps=6, n_compare=16, sasrec_epochs=3,
                  grid=[[2, 0.5], [5, 1.0]]),
    "cpu": dict(dataset="book", model=DEFAULT_MODEL, adapter="qlora", train_split="train_10000", n_train=192,
                valid_split="valid_500", n_valid=16, test_split="test_500", n_test=96, epochs=1.0,
                batch_size=8, lr=5e-4, bf16="auto", group_by_length=True, eval_steps=12, n_attr=8, n_live=3,
                n_compare=32, sasrec_epochs=20, grid=[]),
    "gpu": dict(dataset="office", model="meta-llama/Llama-3.2-3B", adapter="qlora", train_split="train_10000", n_train=None,
                valid_split="valid_500", n_valid=500, test_split="test_5000", n_test=None, epochs=5.0,
                batch_size=32, lr=1e-4, bf16=True, gradient_checkpointing=True, n_attr=500, n_live=5, n_compare=None,
                sasrec_epochs=200, grid=[[G, t] for G in (2, 5, 10) for t in (0.1, 0.2, 0.3, 0.5, 1.0)]),
    # the paper's model and data at about a ninth of gpu's work (python -m gdrt estimate --profile
    # gpu-lite): 2 epochs, 200 validation rows, 500 test rows for the baselines, 200 attribution rows, no grid
    "gpu-lite": dict(dataset="office", model="meta-llama/Llama-3.2-3B", adapter="qlora", train_split="train_10000",
                     n_train=None, valid_split="valid_500", n_valid=200, test_split="test_5000", n_test=None,
                     epochs=2.0, batch_size=32, lr=1e-4, bf16=True, gradient_checkpointing=True, n_attr=200,
                     n_live=5, n_compare=500, sasrec_epochs=200, grid=[]),
}


@dataclass
class BookConfig:
    profile: str
    dataset: str
    preset: object
    data_dir: Path
    data_source: str            # "real" | "synthetic"
    note: str                   # shown by the chapter when data or model fell back
    model: str
    runs_root: Path
    seed: int
    sizes: dict = field(default_factory=dict)

    def __getattr__(self, name):
        sizes = self.__dict__.get("sizes", {})
        if name in sizes:
            return sizes[name]
        raise AttributeError(name)


def _quiet():
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def synthetic_dir(seed: int = 0) -> Path:
    from .data.synthetic import make_synthetic

    out = cache_root() / "data" / f"synthetic-{seed}"
    if not (out / "id2name4Rec.json").exists():
        make_synthetic(out, seed=seed)
    return out


def tiny_model_dir(data_dir: Path, preset, seed: int = 0) -> Path:
    """The smoke profile's model: a tiny random Llama with a BPE tokenizer trained on the catalog's
    titles and the prompt template, saved once to the cache so every chapter shares it."""
    import hashlib

    from .data import build_prompt, load_catalog
    from .models.tiny import tiny_model, tiny_tokenizer

    catalog = load_catalog(data_dir)
    texts = [build_prompt(preset, catalog.titles[i : i + 10]) + f'"{catalog.titles[i]}"'
             for i in range(0, catalog.n_titles, 10)]
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:10]
    out = cache_root() / "models" / f"tiny-{key}-{seed}"
    if not (out / "model.safetensors").exists():
        tok = tiny_tokenizer(texts, vocab_size=384)
        model = tiny_model(tok, seed=seed)
        tmp = out.with_name(out.name + ".tmp")
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        tmp.rename(out)
    return out


def _parsed(name: str, value):
    """A list parameter that arrives as text (``papermill -p grid '[[5, 0.1]]'`` passes a string) is
    read as JSON; anything else is returned as given."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        import json

        from .errors import GDRTInputError

        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise GDRTInputError("chapter parameters", f"{value!r} is not a JSON list ({exc.msg})",
                                 field=name) from None
    return value


def setup(profile: str = "cpu", dataset: str | None = None, model: str | None = None, seed: int = 0,
          **overrides) -> BookConfig:
    """Resolve a chapter's parameters. ``dataset=None``: the profile's; ``overrides`` replace single
    sizes (e.g. ``n_train=256``); ``bf16="auto"`` becomes :func:`gdrt.machine.fast_bf16`."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    _quiet()
    torch.manual_seed(seed)
    sizes = {**PROFILES[profile], **{k: _parsed(k, v) for k, v in overrides.items() if v is not None}}
    dataset = dataset or sizes.pop("dataset")
    sizes.pop("dataset", None)
    if sizes.get("bf16") == "auto":
        from .machine import fast_bf16

        sizes["bf16"] = fast_bf16()
    from .data.derive import describe
    from .data.locate import usable_dataset_dir

    preset = get_preset(dataset)
    note = ""
    # Book and Clothing ship no valid split, Toy no train split: their derived folder (data/derive.py)
    real = usable_dataset_dir(preset) if profile != "smoke" else None
    if real is not None:
        data_dir, source = real, "real"
        note = describe(real)  # what was derived, with the counts ("" for a complete dataset)
    else:
        if profile != "smoke" and os.environ.get("GDRT_SYNTHETIC") != "1":
            from .errors import GDRTInputError

            raise GDRTInputError("GDRT_DATA", f"no {preset.dirname} data found: set GDRT_DATA to the folder that "
                                 "holds it, or run python data/fetch.py; or set GDRT_SYNTHETIC=1 to run this "
                                 "profile on the synthetic dataset instead")
        data_dir, source = synthetic_dir(seed), "synthetic"
        if profile != "smoke":
            note = (f"No {preset.dirname} data found and GDRT_SYNTHETIC=1: this run uses the synthetic dataset "
                    "instead, as asked, so its numbers say nothing about the paper.")
        preset = get_preset("synthetic")
    name = model or sizes.pop("model")
    sizes.pop("model", None)
    if name == "tiny":
        name = str(tiny_model_dir(data_dir, preset, seed))
    runs_root = Path(os.environ.get("GDRT_RUNS", REPO / "runs")) / profile
    return BookConfig(profile, preset.name, preset, Path(data_dir), source, note, name, runs_root, seed, sizes)


def train_config(cfg: BookConfig, method: str, **kw):
    """The TrainConfig of a chapter's run at this profile (``kw`` overrides, e.g. ``tau=0.5``)."""
    from .training.runs import TrainConfig

    base = dict(data_dir=str(cfg.data_dir), dataset=cfg.dataset, model=cfg.model, method=method, seed=cfg.seed)
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    base.update({k: v for k, v in cfg.sizes.items() if k in names})
    base.update(kw)
    return TrainConfig(**base)


# ----------------------------------------------------------------------------- chapter helpers
_MODELS: dict = {}


def banner(cfg: BookConfig):
    """A visible note on what this execution used (profile, data, model), and any fallback."""
    from IPython.display import Markdown

    text = (f"**Profile `{cfg.profile}`** · data: {cfg.data_source} `{cfg.data_dir.name}` · "
            f"model: `{Path(cfg.model).name}`")
    if cfg.note:
        text = f"```{{warning}}\n{cfg.note}\n```\n\n{text}"
    return Markdown(text)


def load_data(cfg: BookConfig):
    """The catalog and the profile's train / valid / test rows (seeded subsets, as training uses).
    A derived folder's catalog may hold an empty title (no row targets it); asking an
    evaluation-only dataset (Toy) for its train split raises a one-line error (data/derive.py)."""
    from types import SimpleNamespace

    from .data.derive import load_catalog, load_split
    from .training.runs import subset

    catalog = load_catalog(cfg.data_dir)
    return SimpleNamespace(
        catalog=catalog,
        train=subset(load_split(cfg.data_dir, cfg.train_split, catalog), cfg.n_train, cfg.seed),
        valid=subset(load_split(cfg.data_dir, cfg.valid_split, catalog), cfg.n_valid, cfg.seed),
        test=load_split(cfg.data_dir, cfg.test_split, catalog)[: cfg.n_test or None],
    )


def base_model(cfg: BookConfig):
    """The untuned model (eval mode), loaded once per kernel: the reference of Eq. 2 and Eq. 3."""
    from .models.loading import load_model

    if cfg.model not in _MODELS:
        _MODELS[cfg.model] = load_model(cfg.model)
    return _MODELS[cfg.model]


def relevance(cfg: BookConfig, catalog):
    """Per-token relevance (Eq. 3) of every catalog title under the base model, cached on disk."""
    from .objectives.relevance import reference_title_relevance

    return reference_title_relevance(cfg.model, catalog, cfg.preset, lm=_MODELS.get(cfg.model))[0]


def token_table(cfg: BookConfig, title: str, rel, grouping=None):
    """One title's response tokens with their relevance (and group)."""
    import pandas as pd

    from .data import encode_response

    tok = base_model(cfg).tokenizer
    ids = encode_response(tok, title)
    df = pd.DataFrame({"token": [repr(tok.decode([i])) for i in ids], "r(y_t)": rel[title]})
    if grouping is not None:
        df["group"] = grouping.assign(rel[title]) + 1
    return df.round(3)


def group_table(grouping, values):
    """Per group: token count and share, mean and range of relevance."""
    import pandas as pd

    g = grouping.assign(values)
    rows = [{"group": k + 1, "tokens": int((g == k).sum()), "share": float((g == k).mean()),
             "mean r": float(values[g == k].mean()), "min r": float(values[g == k].min()),
             "max r": float(values[g == k].max())} for k in range(grouping.n_groups) if (g == k).any()]
    return pd.DataFrame(rows).set_index("group").round(3) if rows else pd.DataFrame()


def run(cfg: BookConfig, method: str, limit: int | None = None, length_penalty: float = 1.0, **kw):
    """Train (or reuse, by config hash, or resume an interrupted one) and evaluate one method at this
    profile. Prints one line on what it did ("reused the finished run at ...", "resumed from checkpoint
    step N ..." or "trained from scratch: ..."); returns run_dir, ``training`` (that line),
    ``training_status`` ("reused" / "resumed" / "trained"), final stats, logs and test metrics.
    ``limit``: evaluate the first ``limit`` test rows only (default: the profile's ``n_test``);
    ``length_penalty=0`` ranks by the plain sum of log-probabilities (D3's decoding)."""
    from types import SimpleNamespace

    from .evaluation import evaluate_run
    from .training.runs import load_run, train_run

    tc = train_config(cfg, method, **kw)
    res = train_run(tc, runs_root=cfg.runs_root, progress=False)
    run_dir = res.run_dir
    print(res.note)
    r = load_run(run_dir)
    metrics, eval_dir = evaluate_run(run_dir, cfg.test_split, limit or cfg.n_test,
                                     num_beams=cfg.sizes.get("num_beams", 10), length_penalty=length_penalty,
                                     progress=False)
    from .io import read_json

    timing = read_json(eval_dir / "timing.json")
    return SimpleNamespace(run_dir=run_dir, training=res.note, training_status=res.status, config=r["config"],
                           final=r["final"], log=r["log"], metrics=metrics, eval_dir=eval_dir, timing=timing)


def glue_all(values: dict, prefix: str = "") -> dict:
    """Glue every ``key: value`` as ``{prefix}{key}`` for the prose (numpy scalars become Python
    numbers, which the book can format); returns ``values``."""
    from myst_nb import glue

    for key, value in values.items():
        glue(f"{prefix}{key}", value.item() if hasattr(value, "item") else value, display=False)
    return values


def glue_metrics(metrics: dict, keys=("ndcg@5", "ndcg@10", "hit@5", "hit@10", "mgu@5", "dgu@5")):
    """Glue ``METHOD_KEY`` for each method's metrics, the top-1 share in group 1, and the targets'."""
    values = {f"{name}_{k}": m[k] for name, m in metrics.items() for k in keys}
    values.update({f"{name}_top1_g1": m["top1_group_share"][0] for name, m in metrics.items()})
    values["target_g1"] = next(iter(metrics.values()))["target_group_share"][0]
    glue_all(values)


def sasrec(cfg: BookConfig, limit: int | None = None):
    """SASRec at this profile (:mod:`gdrt.models.sasrec`): trained on the dataset's full ``train``
    split where it has one (as the MSL and GDRT papers train ID-based models), else on the profile's
    training split; scored on the same test rows and item groups as the LLM methods; cached."""
    from types import SimpleNamespace

    from .data.derive import load_catalog, load_split
    from .models.sasrec import SASRecConfig, run_sasrec

    catalog = load_catalog(cfg.data_dir)
    split = "train" if (cfg.data_dir / "train.csv").exists() else cfg.train_split
    train = load_split(cfg.data_dir, split, catalog)
    valid = load_split(cfg.data_dir, cfg.valid_split, catalog)
    n = limit or cfg.n_test
    test = load_split(cfg.data_dir, cfg.test_split, catalog)[: n or None]
    sc = SASRecConfig(epochs=cfg.sasrec_epochs, seed=cfg.seed)
    groups = item_groups(cfg, catalog)
    out = cfg.runs_root / f"sasrec-{cfg.dataset}-{sc.key()}-{split}" / (f"eval-{cfg.test_split}" + (f"-{n}" if n else ""))
    res = run_sasrec(train, valid, test, catalog, groups, out, sc)
    print(f"sasrec: {res['status']} ({len(train)} rows of {split}): {out}")
    return SimpleNamespace(**res, train_split=split, n_train=len(train))


def item_groups(cfg: BookConfig, catalog) -> dict[int, int]:
    """``{item_id: group}`` of Eq. 2 under the base model (the groups every metric uses), cached."""
    from .evaluation import reference_item_groups

    return {i: v["group"] for i, v in reference_item_groups(cfg.model, catalog, cfg.preset,
                                                            lm=_MODELS.get(cfg.model)).items()}


def allowed_table(cfg: BookConfig, title: str, trie):
    """One title's response tokens with the number of tokens the trie allows at each (MSL's softmax)."""
    import pandas as pd

    from .data import encode_response
    from .objectives.baselines import allowed_after_prefixes

    tok = base_model(cfg).tokenizer
    ids = encode_response(tok, title)
    return pd.DataFrame({"token": [repr(tok.decode([i])) for i in ids],
                         "allowed tokens": [len(a) for a in allowed_after_prefixes(trie, ids)]})


def forced_share(cfg: BookConfig, rows, catalog, trie) -> float:
    """Share of the training target tokens that the trie forces (one allowed token: MSL loss 0)."""
    from .data import encode_response
    from .objectives.baselines import allowed_after_prefixes

    tok = base_model(cfg).tokenizer
    counts = [len(a) for r in rows for a in allowed_after_prefixes(trie, encode_response(tok, catalog.title(r.target)))]
    return sum(c == 1 for c in counts) / len(counts)


def reweight_table(cfg: BookConfig, rows, catalog, max_history: int = 10):
    """IFairLRS's weights on these training rows: per item group GH(g), GT(g) and w = GH/GT."""
    import pandas as pd

    from .objectives.baselines import group_shares, ifair_group_weights, row_groups

    hist, tgt = row_groups(rows, item_groups(cfg, catalog), max_history)
    gh, gt = group_shares(hist, tgt)
    return pd.DataFrame({"group": range(1, 6), "GH (histories)": gh, "GT (targets)": gt,
                         "weight w = GH/GT": ifair_group_weights(hist, tgt)}).set_index("group").round(3)


def sensitivity_grid(cfg: BookConfig, grid, grouping: str = "kmeans", limit: int | None = None,
                     minutes_per_run: float | None = None):
    """Paper Fig. 10/11: GDRT trained and evaluated at every ``[G, tau]`` of ``grid`` (the first
    ``limit`` test rows), one row per point. With an empty grid (the ``cpu`` profile's), a note saying
    what a point would cost (``minutes_per_run``) and how to ask for it, instead of a table."""
    import pandas as pd
    from IPython.display import Markdown

    if not grid:
        cost = f" (about {minutes_per_run:.0f} min each on this machine)" if minutes_per_run else ""
        return Markdown(f"```{{note}}\nNo grid point is trained at profile `{cfg.profile}`: each is one more "
                        f"training run and evaluation{cost}. Pass `-p grid '[[2, 0.5], [10, 0.5]]'` to train "
                        "some, or run the `gpu` profile, whose grid is the paper's 3 x 5.\n```")
    rows = []
    for G, tau in grid:
        r = run(cfg, "gdrt", n_groups=int(G), tau=float(tau), grouping=grouping, limit=limit)
        m = r.metrics
        rows.append({"G": int(G), "tau": float(tau), "ndcg@10": m["ndcg@10"], "hit@10": m["hit@10"],
                     "mgu@5": m["mgu@5"], "dgu@5": m["dgu@5"], "top-1 in group 1": m["top1_group_share"][0],
                     "s/step": r.final["seconds_per_step"], "n_rows": m["n_rows"]})
    return pd.DataFrame(rows).set_index(["G", "tau"]).round(4)


# ----------------------------------------------------------------------------- the reference experiment
def reference(name: str = "book"):
    """The committed results of the reference experiment ``name`` (``results/reference/NAME``, or a
    folder path) as :class:`gdrt.replication.ReferenceResults`; a one-line error when there are none."""
    from .errors import GDRTInputError
    from .replication import RESULTS, ReferenceResults

    root = Path(name) if Path(name).is_dir() else RESULTS / name
    try:
        return ReferenceResults.load(root)
    except FileNotFoundError:
        raise GDRTInputError(root, "no reference results here; run python -m gdrt reference --spec "
                             f"configs/reference-{Path(name).name}.json (hours on a CPU) or pass another "
                             "-p reference") from None


def reference_banner(res, name: str = "book"):
    """A visible note on what the reference numbers are and where they come from (or that there are none)."""
    from IPython.display import Markdown

    from .replication import describe

    d = describe(res)
    seeds = ", ".join(f"{m} {d[f'ref_seeds_{m}']} of {d['ref_seeds_planned']}" for m in res.manifest["spec"]["methods"])
    return Markdown(
        f"**Reference experiment** (committed results in `{res.root.relative_to(REPO) if res.root.is_relative_to(REPO) else res.root}/`, made by "
        f"`{d['ref_command'] or 'python -m gdrt reference'}`): {d['ref_dataset']}, `{d['ref_model']}` "
        f"({d['ref_adapter']}, {d['ref_dtype']}), {d['ref_n_train']} training rows x {d['ref_epochs']:g} epoch, "
        f"seeds finished: {seeds}; {d['ref_n_test']} test rows of `{d['ref_test_split']}`, attribution on "
        f"{d['ref_n_attr']} of them; {d['ref_hours']:.1f} h of compute on {d['ref_cpu']}.")


def validation_trace(cfg: BookConfig, runs: dict, item_group: dict[int, int]):
    """The group shares over training of live runs (paper Fig. 4, 9), from the ranked lists each
    validation wrote (``RUN/validation/step-N.jsonl``), with the untuned base model on the same
    validation rows as step 0 (decoded once, cached). ``runs``: ``{name: run (from book.run)}``.
    A long DataFrame: method, step, top-1 group-1 share, NDCG@5, rows."""
    import pandas as pd

    from .diagnostics.callbacks import decode_rows
    from .replication import lists_trace

    data = load_data(cfg)
    lm = base_model(cfg)
    base = decode_rows(lm.model, lm.tokenizer, data.valid, data.catalog, cfg.preset, cfg.runs_root / "base",
                       item_group, name=cfg.model, bf16=cfg.bf16)
    recs = []
    for name, run in runs.items():
        steps = {int(p.stem.split("-")[1]): _read_jsonl(p) for p in sorted((run.run_dir / "validation").glob("step-*.jsonl"))}
        steps[0] = base
        recs += [{"method": name, **{k: v for k, v in r.items() if k != "top1_group_share"}}
                 for r in lists_trace(steps, item_group)]
    return pd.DataFrame(recs)


def _read_jsonl(path):
    import json

    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def item_group_changes(cfg: BookConfig, catalog):
    """Eq. 2 item groups by the title's own tokens (rows) against every response token, quotes and
    EOS included (columns): how many items each cell holds."""

    from .evaluation import reference_item_groups

    lm = _MODELS.get(cfg.model)
    title = reference_item_groups(cfg.model, catalog, cfg.preset, lm=lm)
    resp = reference_item_groups(cfg.model, catalog, cfg.preset, lm=lm, tokens="response")
    return group_crosstab({i: v["group"] for i, v in title.items()}, {i: v["group"] for i, v in resp.items()})


def group_crosstab(title: dict, response: dict):
    """Items per (group by title tokens, group by response tokens), with totals."""
    import pandas as pd

    ids = sorted(title)
    return pd.crosstab(pd.Series([title[i] for i in ids], name="group (title tokens)"),
                       pd.Series([response[i] for i in ids], name="group (response tokens)"), margins=True,
                       margins_name="all")
