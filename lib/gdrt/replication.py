"""Does the paper replicate here? Reads the reference experiment's results folder
(:mod:`gdrt.reference`) and answers, claim by claim, with intervals. Reads files only: fast at every
profile. Explained in chapter 7, "Does it replicate here?".

**Statistics as functions of per-row sums.** Every number compared here is a function of sums over
the test rows (or the validation rows, or the attribution rows) of per-row amounts:

* NDCG@K and HIT@K: the mean per-row gain;
* the top-K share of item group 1: (the row's top-K entries in group 1) / (its top-K entries), pooled;
* MGU@K and DGU@K: from the pooled per-group counts of the top-K entries and of the history items
  (:func:`gdrt.metrics.mgu_dgu`);
* attribution ratios: the mean per-token (or per-feature) contribution of one type over another's
  (:func:`gdrt.diagnostics.attribution.attribution_parts`).

**Intervals.** A bootstrap resample draws the rows with replacement, the same draw for every model,
and recomputes each model's statistic on it; a difference between two models (or two methods, each
averaged over its seeds) is taken on the same resample: a *paired* bootstrap over rows. The 95%
interval is the 2.5th and 97.5th percentiles of the resampled differences. The *minimum detectable
effect* (MDE) of a difference is 2.8 times its bootstrap standard error: the true difference a
two-sided test at the 5% level detects with 80% power at this number of rows. The spread over seeds
(the smallest and largest per-seed difference) is reported beside it, and is part of the variation a
single seed would show.

**Verdicts.** For a claim with a direction (e.g. "GDRT lowers MGU@5"): *replicates* when the interval
lies entirely on the paper's side of 0, *does not replicate* when it lies entirely on the other side,
and *cannot tell at this size* when it covers 0; the MDE then says how large an effect this size could
have seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .diagnostics.attribution import attribution_parts
from .metrics import first_hit_rank

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "results" / "reference"
MDE_FACTOR = 2.8  # z_{0.975} + z_{0.80}
N_GROUPS = 5


def _read(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ------------------------------------------------------------------------------------ the files
@dataclass
class Part:
    """One finished part of the reference experiment (the base model, or one seed of one method)."""

    name: str
    path: Path
    metrics: dict
    preds: list
    attr_token: list | None = None
    attr_feature: list | None = None
    config: dict | None = None
    final: dict | None = None
    train_log: dict | None = None
    validation: dict = field(default_factory=dict)   # step -> lists (step 0: the base model)

    @classmethod
    def load(cls, path: Path) -> "Part":
        opt = lambda name: _read(path / name) if (path / name).exists() else None  # noqa: E731
        val = {int(p.stem.split("-")[1]): _jsonl(p) for p in sorted((path / "validation").glob("step-*.jsonl"))}
        tok, feat = opt("attribution-token.json"), opt("attribution-feature.json")
        return cls(path.name, path, _read(path / "metrics.json"), _jsonl(path / "predictions.jsonl"),
                   tok["rows"] if tok else None, feat["rows"] if feat else None, opt("config.json"),
                   opt("final.json"), opt("train_log.json"), val)


@dataclass
class ReferenceResults:
    """The results folder of one reference experiment, loaded: the base model's part, every finished
    run as ``runs[method][seed]``, the Eq. 2 item groups both ways, the manifest and the wall times."""

    root: Path
    manifest: dict
    timing: dict
    item_group: dict          # {id: group} by the title's tokens (the default)
    item_group_response: dict  # {id: group} by every response token
    relevance: dict           # {id: r(y)} by the title's tokens
    base: Part | None
    runs: dict
    base_validation: dict     # {file name: the base model's lists on one set of validation rows}
    pilot: Part | None = None

    @classmethod
    def load(cls, root=None, name: str = "book") -> "ReferenceResults":
        root = Path(root) if root is not None else RESULTS / name
        if not (root / "manifest.json").exists():
            raise FileNotFoundError(f"{root}: no reference results here (run python -m gdrt reference)")
        manifest = _read(root / "manifest.json")
        groups = _read(root / "item_groups.json")
        done = set(manifest.get("done", []))
        base = Part.load(root / "base") if "base" in done else None
        runs: dict = {}
        for part in sorted(done):
            if part.startswith("seed"):
                seed, method = part[4:].split("-", 1)
                runs.setdefault(method, {})[int(seed)] = Part.load(root / part)
        base_val = {p.name: _jsonl(p) for p in sorted((root / "base" / "validation").glob("*.jsonl"))}
        pilot = _pilot(root / "pilot") if "pilot" in done else None
        return cls(root, manifest, _read(root / "timing.json") if (root / "timing.json").exists() else {},
                   {int(k): v[0] for k, v in groups["title"].items()},
                   {int(k): v[0] for k, v in groups["response"].items()},
                   {int(k): v[1] for k, v in groups["title"].items()}, base, runs, base_val, pilot)

    def cooccurrence(self) -> dict | None:
        """Per source kind, the per-occurrence mean co-occurrence rate over the training rows (base part)."""
        path = self.root / "base" / "cooccurrence.json"
        if self.base is None or not path.exists():  # only a finished base part's file counts
            return {k: float("nan") for k in ("task", "prefix", "interaction")}
        return {r["source"]: r["mean rate (per occurrence)"] for r in _read(path)["summary"]}

    def base_lists(self, config: dict | None) -> list | None:
        """The base model's ranked lists on the validation rows of a run with this config (its split,
        number of rows and seed): the step 0 of its trace; None if the base part did not decode them."""
        if not config:
            return None
        from .reference import base_validation_name

        return self.base_validation.get(base_validation_name(config["valid_split"], config["n_valid"], config["seed"]))

    @property
    def methods(self) -> list[str]:
        """The methods with at least one finished run."""
        return list(self.runs)

    @property
    def planned(self) -> list[str]:
        """Every method of the spec, finished or not (tables show a row for each, NaN until it runs)."""
        return list(self.manifest.get("spec", {}).get("methods", self.runs))

    def seeds(self, *methods) -> list[int]:
        """The seeds every one of ``methods`` has finished (default: all methods)."""
        methods = methods or tuple(self.runs)
        sets = [set(self.runs.get(m, {})) for m in methods]
        return sorted(set.intersection(*sets)) if sets else []

    def models(self, method: str, seeds=None) -> list[Part]:
        seeds = self.seeds(method) if seeds is None else seeds
        return [self.runs[method][s] for s in seeds]


def _pilot(path: Path) -> Part:
    val = {int(p.stem.split("-")[1]): _jsonl(p) for p in sorted((path / "validation").glob("step-*.jsonl"))}
    return Part(path.name, path, {}, [], config=_read(path / "config.json"), final=_read(path / "final.json"),
                train_log=_read(path / "train_log.json"), validation=val)


# ------------------------------------------------------------------------------- per-row amounts
def _same_rows(a: list, b: list) -> bool:
    """Two lists of predictions cover the same rows with the same targets, in the same order."""
    return [(p["row"], p["target"]) for p in a] == [(p["row"], p["target"]) for p in b]


def _aligned_rows(parts: list[Part]) -> None:
    keys = [[(p["row"], p["target"]) for p in part.preds] for part in parts]
    if any(k != keys[0] for k in keys[1:]):
        raise ValueError("the parts' predictions do not cover the same test rows")


def row_amounts(preds, item_group: dict, k: int) -> dict[str, np.ndarray]:
    """Per row: ``gain`` (NDCG@k gain), ``hit``, ``g1`` (top-k entries in group 1), ``n`` (top-k
    entries), ``rec`` [G] (top-k entries per group) and ``hist`` [G] (history items per group)."""
    n = len(preds)
    gain, hit, g1, cnt = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    rec, hist = np.zeros((n, N_GROUPS)), np.zeros((n, N_GROUPS))
    for i, p in enumerate(preds):
        entries = [ids for ids in p["item_ids"] if ids]
        rank = first_hit_rank([tuple(ids) for ids in p["item_ids"]], p["target"])
        if rank is not None and rank < k:
            gain[i], hit[i] = 1.0 / np.log2(rank + 2), 1.0
        for ids in entries[:k]:
            g = item_group[int(ids[0])]
            rec[i, g - 1] += 1
        for h in p["history"]:
            hist[i, item_group[int(h)] - 1] += 1
        g1[i], cnt[i] = rec[i, 0], rec[i].sum()
    return {"gain": gain, "hit": hit, "g1": g1, "n": cnt, "rec": rec, "hist": hist}


def _weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap resamples as counts: ``W[b, i]`` = how often row i is drawn in resample b (row b=0 is
    the sample itself, every count 1)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    w = np.zeros((n_boot + 1, n))
    w[0] = 1.0
    for b in range(n_boot):
        w[b + 1] = np.bincount(idx[b], minlength=n)
    return w


def _div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1), np.nan)


def metric_values(amounts: dict, w: np.ndarray, metric: str) -> np.ndarray:
    """One metric on every resample ``w`` (:func:`_weights`) from :func:`row_amounts`: ``ndcg``,
    ``hit``, ``g1`` (top-k share of group 1), ``mgu`` or ``dgu``. Returns ``[n_boot + 1]``."""
    tot = w.sum(1)
    if metric == "ndcg":
        return w @ amounts["gain"] / tot
    if metric == "hit":
        return w @ amounts["hit"] / tot
    if metric == "g1":
        return _div(w @ amounts["g1"], w @ amounts["n"])
    if metric in ("mgu", "dgu"):
        rec, hist = w @ amounts["rec"], w @ amounts["hist"]
        gp = rec / rec.sum(1, keepdims=True)
        gh = hist / hist.sum(1, keepdims=True)
        u = gp - gh
        return np.abs(u).mean(1) if metric == "mgu" else u.max(1) - u.min(1)
    raise ValueError(f"unknown metric {metric!r}")


METRICS = {  # label -> (metric, k)
    "NDCG@5": ("ndcg", 5), "NDCG@10": ("ndcg", 10), "HIT@5": ("hit", 5), "HIT@10": ("hit", 10),
    "MGU@5": ("mgu", 5), "MGU@10": ("mgu", 10), "DGU@5": ("dgu", 5), "DGU@10": ("dgu", 10),
    "top-1 group-1 share": ("g1", 1), "top-10 group-1 share": ("g1", 10),
}


def _interval(diff: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    d = diff[~np.isnan(diff)]
    if not len(d):
        return float("nan"), float("nan"), float("nan")
    lo, hi = np.percentile(d, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi), float(MDE_FACTOR * d.std(ddof=1)) if len(d) > 1 else float("nan")


# ----------------------------------------------------------------------------- the comparisons
def metric_table(res: ReferenceResults, n_boot: int = 2000, seed: int = 0, groups: str = "title"):
    """Each model's test metrics: the base model, and each method's mean over its finished seeds with
    the smallest and largest seed, and a bootstrap interval over rows of the seed mean."""
    import pandas as pd

    ig = res.item_group if groups == "title" else res.item_group_response
    models = {"base": [res.base]} if res.base is not None else {}
    models.update({m: res.models(m) for m in res.planned})
    first = next((v for v in models.values() if v), None)
    n = len(first[0].preds) if first else 0
    w = _weights(n, n_boot, seed) if n else None
    recs = []
    for name, parts in models.items():
        if not parts:  # planned, not finished yet
            recs += [{"model": name, "metric": label, "seeds": 0, "rows": n} for label in METRICS]
            continue
        for label, (metric, k) in METRICS.items():
            vals = np.array([metric_values(row_amounts(p.preds, ig, k), w, metric) for p in parts])  # [seeds, B+1]
            mean = vals.mean(0)
            lo, hi, _ = _interval(mean[1:])
            recs.append({"model": name, "metric": label, "value": float(mean[0]), "lo": lo, "hi": hi,
                         "seed min": float(vals[:, 0].min()), "seed max": float(vals[:, 0].max()),
                         "seeds": len(parts), "rows": n})
    cols = ["model", "metric", "value", "lo", "hi", "seed min", "seed max", "seeds", "rows"]
    return pd.DataFrame(recs, columns=cols)  # the columns even when nothing has finished


def paired(res: ReferenceResults, a: str, b: str, n_boot: int = 2000, seed: int = 0, groups: str = "title",
           metrics=None):
    """``b - a`` for every test metric, each side averaged over its seeds (the seeds both finished,
    for two methods; the base model has one), with the paired bootstrap interval over test rows, the
    MDE, and the smallest and largest per-seed difference. ``a``/``b``: a method or ``"base"``."""
    import pandas as pd

    ig = res.item_group if groups == "title" else res.item_group_response
    methods = [m for m in (a, b) if m != "base"]
    seeds = res.seeds(*methods) if methods else [0]

    def parts(m):
        return [res.base] * len(seeds) if m == "base" else res.models(m, seeds)

    pa, pb = parts(a), parts(b)
    if not pa or not pb:
        return pd.DataFrame(columns=[a, b, "difference", "lo", "hi", "MDE", "seed min", "seed max", "seeds", "rows"],
                            index=pd.Index([], name="statistic"), dtype=float)
    _aligned_rows(pa + pb)
    w = _weights(len(pa[0].preds), n_boot, seed)
    recs = []
    for label, (metric, k) in (metrics or METRICS).items():
        va = np.array([metric_values(row_amounts(p.preds, ig, k), w, metric) for p in pa])
        vb = np.array([metric_values(row_amounts(p.preds, ig, k), w, metric) for p in pb])
        d = vb.mean(0) - va.mean(0)
        lo, hi, mde = _interval(d[1:])
        per_seed = vb[:, 0] - va[:, 0]
        recs.append({"statistic": label, a: float(va.mean(0)[0]), b: float(vb.mean(0)[0]), "difference": float(d[0]),
                     "lo": lo, "hi": hi, "MDE": mde, "seed min": float(per_seed.min()),
                     "seed max": float(per_seed.max()), "seeds": len(seeds), "rows": len(pa[0].preds)})
    return pd.DataFrame(recs).set_index("statistic")


def attribution_values(results: list, w: np.ndarray, feature: str, absolute: bool = True) -> np.ndarray:
    """``feature : interaction`` (ratio of means over rows) on every resample."""
    p = attribution_parts(results, absolute)
    keep = np.isfinite(p[feature]) & np.isfinite(p["interaction"])  # a row without such tokens counts nowhere
    num, den = np.where(keep, p[feature], 0.0), np.where(keep, p["interaction"], 0.0)
    return _div(w @ num, w @ den)


def per_row_median(results: list, feature: str, absolute: bool = True) -> float:
    """The median over rows of each row's own ``feature : interaction`` (rows whose interaction
    amount is 0 left out): a view that no single row can dominate, beside the ratio of means."""
    p = attribution_parts(results, absolute)
    r = _div(p[feature], p["interaction"])
    r = r[np.isfinite(r)]
    return float(np.median(r)) if len(r) else float("nan")


def attribution_table(res: ReferenceResults, view: str = "token", absolute: bool = True, n_boot: int = 2000,
                      seed: int = 0):
    """Per model (base, each method averaged over seeds): task : interaction and prefix : interaction
    (ratios of means) with bootstrap intervals over the attribution rows, and the median of the
    per-row ratios (:func:`per_row_median`; for a method, the mean over its seeds of each seed's median). ``view``: ``"token"`` (mean per token, the
    primary view) or ``"feature"`` (whole features: the task block against the summed history)."""
    import pandas as pd

    key = "attr_token" if view == "token" else "attr_feature"
    models = {"base": [res.base]} if res.base is not None else {}
    models.update({m: res.models(m) for m in res.planned})
    empty = [k for k, v in models.items() if not v or not all(getattr(p, key) for p in v)]
    models = {k: v for k, v in models.items() if k not in empty}
    cols = ["seeds", "rows", "task:interaction", "task lo", "task hi", "task per-row median", "prefix:interaction",
            "prefix lo", "prefix hi", "prefix per-row median"]
    if not models:
        return pd.DataFrame(columns=cols, index=pd.Index(empty, name="model"), dtype=float)
    n = len(getattr(next(iter(models.values()))[0], key))
    w = _weights(n, n_boot, seed)
    recs = []
    for name, parts in models.items():
        rec = {"model": name, "seeds": len(parts), "rows": n}
        for feat in ("task", "prefix"):
            vals = np.array([attribution_values(getattr(p, key), w, feat, absolute) for p in parts]).mean(0)
            lo, hi, _ = _interval(vals[1:])
            rec.update({f"{feat}:interaction": float(vals[0]), f"{feat} lo": lo, f"{feat} hi": hi,
                        f"{feat} per-row median": float(np.mean([per_row_median(getattr(p, key), feat, absolute)
                                                                 for p in parts]))})
        recs.append(rec)
    recs += [{"model": name, "seeds": 0, "rows": n} for name in empty]
    return pd.DataFrame(recs).set_index("model").reindex(columns=cols)


def paired_attribution(res: ReferenceResults, a: str, b: str, view: str = "token", absolute: bool = True,
                       n_boot: int = 2000, seed: int = 0):
    """``b - a`` of both attribution ratios, seed-averaged, paired over the attribution rows."""
    import pandas as pd

    key = "attr_token" if view == "token" else "attr_feature"
    methods = [m for m in (a, b) if m != "base"]
    seeds = res.seeds(*methods)

    def parts(m):
        return [res.base] * len(seeds) if m == "base" else res.models(m, seeds)

    pa, pb = parts(a), parts(b)
    if not seeds or not all(getattr(p, key) for p in pa + pb):
        return pd.DataFrame(columns=[a, b, "difference", "lo", "hi", "MDE", "seed min", "seed max", "seeds", "rows"],
                            index=pd.Index([], name="statistic"), dtype=float)
    n = len(getattr(pa[0], key))
    w = _weights(n, n_boot, seed)
    recs = []
    for feat in ("task", "prefix"):
        va = np.array([attribution_values(getattr(p, key), w, feat, absolute) for p in pa])
        vb = np.array([attribution_values(getattr(p, key), w, feat, absolute) for p in pb])
        d = vb.mean(0) - va.mean(0)
        lo, hi, mde = _interval(d[1:])
        per_seed = vb[:, 0] - va[:, 0]
        recs.append({"statistic": f"{feat}:interaction", a: float(va.mean(0)[0]), b: float(vb.mean(0)[0]),
                     "difference": float(d[0]), "lo": lo, "hi": hi, "MDE": mde, "seed min": float(per_seed.min()),
                     "seed max": float(per_seed.max()), "seeds": len(seeds), "rows": n})
    return pd.DataFrame(recs).set_index("statistic")


def lists_trace(steps: dict, item_group: dict) -> list[dict]:
    """``{step: ranked lists of validation rows}`` -> per step the top-1 share of item group 1, the
    top-1 share of every group, and NDCG@5 (the lists carry ``item_ids`` and ``target``)."""
    out = []
    for step, preds in sorted(steps.items()):
        rows = [{**p, "history": []} for p in preds]
        one, five = row_amounts(rows, item_group, 1), row_amounts(rows, item_group, 5)
        shares = one["rec"].sum(0) / max(one["rec"].sum(), 1)
        out.append({"step": step, "top-1 group-1 share": float(shares[0]), "top1_group_share": shares.tolist(),
                    "NDCG@5": float(five["gain"].mean()), "rows": len(preds)})
    return out


def trace(res: ReferenceResults, method: str, groups: str = "title"):
    """The group shares over training (paper Fig. 4, 9) from the validation lists: per seed and step,
    the top-1 share of item group 1 and NDCG@5 on that seed's validation rows; step 0 is the untuned
    base model on the same rows. A long DataFrame: method, seed, step, top-1 group-1 share, NDCG@5."""
    import pandas as pd

    ig = res.item_group if groups == "title" else res.item_group_response
    recs = []
    for seed, part in sorted(res.runs.get(method, {}).items()):
        steps = dict(part.validation)
        base = res.base_lists(part.config)
        if base is not None and _same_rows(base, next(iter(steps.values()), base)):
            steps = {0: base, **steps}
        recs += [{"method": method, "seed": seed, **{k: v for k, v in r.items() if k != "top1_group_share"}}
                 for r in lists_trace(steps, ig)]
    return pd.DataFrame(recs)


def trace_pivot(frame, a: str, b: str):
    """The group-1 share over training of methods ``a`` and ``b`` at the steps both measured (mean over
    seeds where the frame has several), and ``b - a``: a DataFrame indexed by step."""
    import pandas as pd

    if not len(frame):
        return pd.DataFrame(columns=[a, b, f"{b} - {a}"], index=pd.Index([], name="step"), dtype=float)
    if "seed" in frame.columns:  # pair the methods seed by seed: only the seeds both have
        both = set(frame.loc[frame["method"] == a, "seed"]) & set(frame.loc[frame["method"] == b, "seed"])
        frame = frame[frame["seed"].isin(both)]
    share = frame.groupby(["step", "method"])["top-1 group-1 share"].mean().unstack("method")
    share = share.reindex(columns=[a, b]).dropna()
    share[f"{b} - {a}"] = share[b] - share[a]
    return share


def gap_numbers(gap) -> dict:
    """From :func:`trace_pivot`: the validations after step 0, their mean gap and the last one."""
    later = gap.iloc[:, 2][gap.index > 0] if len(gap) else gap
    return {"trace_points": len(later), "trace_mean_gap": float(later.mean()) if len(later) else float("nan"),
            "trace_last_gap": float(later.iloc[-1]) if len(later) else float("nan")}


def trace_numbers(frame) -> dict:
    """From a :func:`trace` frame: the group-1 share at step 0 and at the last validation (means over
    seeds), and the highest point of any seed, as ``trace_start``, ``trace_end``, ``trace_max``."""
    if frame is None or not len(frame):
        return {"trace_start": float("nan"), "trace_end": float("nan"), "trace_max": float("nan")}
    last = frame.groupby("seed")["step"].transform("max") == frame["step"]
    share = frame["top-1 group-1 share"]
    return {"trace_start": float(share[frame["step"] == 0].mean()), "trace_end": float(share[last].mean()),
            "trace_max": float(share.max())}


def off_diagonal(crosstab) -> int:
    """Items whose group differs between the two groupings of :func:`gdrt.book.group_crosstab`."""
    inner = crosstab.drop(index="all", columns="all")
    return int(inner.to_numpy().sum() - sum(inner.loc[g, g] for g in inner.index if g in inner.columns))


def pilot_trace(res: ReferenceResults, groups: str = "title"):
    """The sizing pilot's validation curve (a longer SFT run of seed 0), step 0 the base model."""
    import pandas as pd

    if res.pilot is None:
        return pd.DataFrame()
    ig = res.item_group if groups == "title" else res.item_group_response
    steps = dict(res.pilot.validation)
    base = res.base_lists(res.pilot.config)
    if base is not None and _same_rows(base, next(iter(steps.values()), base)):
        steps = {0: base, **steps}
    rows_per_step = res.pilot.config["batch_size"] * res.pilot.config.get("grad_accum", 1)
    return pd.DataFrame([{"step": r["step"], "training rows seen": r["step"] * rows_per_step,
                          "top-1 group-1 share": r["top-1 group-1 share"], "NDCG@5": r["NDCG@5"], "rows": r["rows"]}
                         for r in lists_trace(steps, ig)])


def pilot_numbers(res: ReferenceResults, groups: str = "title") -> dict:
    """The pilot's curve at the reference runs' length (the last pilot validation at or before it) and
    at its own end: NDCG@5 and the top-1 group-1 share, for the sizing paragraph of chapter 7."""
    frame = pilot_trace(res, groups)
    if not len(frame):
        keys = ("n_train", "n_valid", "eval_steps", "steps", "ref_steps", "at_step", "ndcg_start", "ndcg_at", "ndcg_end",
                "ndcg_max", "share_start", "share_at", "share_end", "tokens_per_second", "seconds_per_step")
        return {f"pilot_{k}": float("nan") for k in keys}
    spec = res.manifest["spec"]
    train = spec["train"]
    steps_ref = int(train["n_train"] * train.get("epochs", 1.0) // (train.get("batch_size", 8) * train.get("grad_accum", 1)))
    at = frame[frame["step"] <= steps_ref].iloc[-1]
    end = frame.iloc[-1]
    start = frame.iloc[0]
    return {"pilot_n_train": res.pilot.config["n_train"], "pilot_n_valid": res.pilot.config["n_valid"],
            "pilot_eval_steps": res.pilot.config.get("eval_steps"), "pilot_steps": int(end["step"]),
            "pilot_ref_steps": steps_ref, "pilot_at_step": int(at["step"]),
            "pilot_ndcg_start": float(start["NDCG@5"]), "pilot_ndcg_at": float(at["NDCG@5"]),
            "pilot_ndcg_end": float(end["NDCG@5"]), "pilot_ndcg_max": float(frame["NDCG@5"].max()),
            "pilot_share_start": float(start["top-1 group-1 share"]), "pilot_share_at": float(at["top-1 group-1 share"]),
            "pilot_share_end": float(end["top-1 group-1 share"]),
            "pilot_tokens_per_second": float(res.pilot.final["tokens_per_second"]),
            "pilot_seconds_per_step": float(res.pilot.final["seconds_per_step"])}


def sizing(res: ReferenceResults):
    """The arithmetic that sizes the reference experiment, from rates measured in it: training
    tokens/s and seconds per step (the pilot, else the first finished run), seconds per decoded prompt
    (the base model's test decoding) and per attribution row; the cost they predict per part and in
    all, next to the wall time the parts took. A DataFrame: quantity, value, unit, source."""
    import pandas as pd

    spec = res.manifest["spec"]
    train = spec["train"]
    runs = [p for m in res.runs.values() for p in m.values()]
    trained = res.pilot or (runs[0] if runs else None)
    if trained is None or res.base is None:
        return pd.DataFrame()
    parts = res.timing.get("parts", {})
    tok_s = trained.final["tokens_per_second"]
    s_step = trained.final["seconds_per_step"]
    rows_per_step = train.get("batch_size", 8) * train.get("grad_accum", 1)
    tokens_per_row = tok_s * s_step / rows_per_step
    s_prompt = _read(res.root / "base" / "eval-timing.json")["seconds_per_prompt"]
    attr_s = (parts.get("base", {}).get("attribution_token_seconds", float("nan"))
              + parts.get("base", {}).get("attribution_feature_seconds", float("nan"))) / spec["n_attr"]
    steps = train["n_train"] * train.get("epochs", 1.0) / rows_per_step
    validations = steps // train["eval_steps"] if train.get("eval_steps") else train.get("epochs", 1.0)
    train_h = steps * s_step / 3600
    valid_h = validations * train["n_valid"] * s_prompt / 3600
    test_h = spec["n_test"] * s_prompt / 3600
    attr_h = spec["n_attr"] * attr_s / 3600
    n_runs = len(spec["seeds"]) * len(spec["methods"])
    total = n_runs * (train_h + valid_h + test_h + attr_h) + test_h + attr_h
    # training from each run's own final.json (it adds up every attempt up to its last checkpoint), the
    # rest (decoding, attribution) from timing.json
    trained_parts = [p for m in res.runs.values() for p in m.values()] + ([res.pilot] if res.pilot else [])
    spent = (sum(v for p in parts.values() for k, v in p.items() if k.endswith("_seconds") and k != "train_seconds")
             + sum(p.final["train_seconds"] for p in trained_parts)) / 3600
    rows = [("training rows per run", train["n_train"], "rows", "spec"),
            ("tokens per training row (prompt + response)", tokens_per_row, "tokens", "measured"),
            ("training speed", tok_s, "tokens/s", "measured"),
            ("optimizer steps per run", steps, "steps", "spec"),
            ("training per run", train_h, "h", "steps x s/step"),
            ("constrained beam search", s_prompt, "s/prompt", "measured, base model"),
            ("validation per run", valid_h, "h", f"{validations:g} x {train['n_valid']} rows"),
            ("test decoding per model", test_h, "h", f"{spec['n_test']} rows"),
            ("attribution per model", attr_h, "h", f"{spec['n_attr']} rows, measured on the base model"),
            ("trained runs", n_runs, "runs", "seeds x methods"),
            ("whole experiment, predicted", total, "h", "runs x (train + validation + test + attribution) + base test and attribution"),
            ("wall time of the parts done so far", spent, "h", "timing.json: all parts, pilot included, summed (two ran at a time)")]
    return pd.DataFrame(rows, columns=["quantity", "value", "unit", "source"]).set_index("quantity")


def diagnosis(res: ReferenceResults) -> dict:
    """Measured facts that bear on why a claim may not replicate here: how far SFT learned (best
    validation NDCG@5, mean over seeds), how hard GDRT's weights leaned (the mean of the largest Q(g)
    of every training batch, and its mean Q on group 1), and where the untuned model already puts its
    top-1 recommendations (group-1 share against the targets'). A part not finished yet gives NaN."""
    nan = float("nan")
    out = {"sft_best_valid_ndcg5": nan, "sft_steps": nan, "gdrt_max_q": nan, "gdrt_q_group1": nan,
           "gdrt_q_last": nan, "gdrt_n_groups": nan, "base_top1_g1": nan, "target_g1": nan}
    sft = res.models("sft") if "sft" in res.runs else []
    if sft:
        out["sft_best_valid_ndcg5"] = float(np.mean([p.final["best_ndcg@5"] for p in sft]))
        out["sft_steps"] = int(sft[0].final["steps"])
    gdrt = res.models("gdrt") if "gdrt" in res.runs else []
    if gdrt:
        q = np.array([g["weights"] for p in gdrt for g in p.train_log["groups"]], dtype=np.float64)
        out["gdrt_max_q"] = float(q.max(1).mean())
        out["gdrt_q_group1"] = float(q[:, 0].mean())
        out["gdrt_q_last"] = float(q[:, -1].mean())
        out["gdrt_n_groups"] = int(q.shape[1])
    if res.base is not None:
        a = row_amounts(res.base.preds, res.item_group, 1)
        out["base_top1_g1"] = float(a["g1"].sum() / a["n"].sum())
        out["target_g1"] = float(np.mean([res.item_group[int(p["target"])] == 1 for p in res.base.preds]))
    return out


def grid_cost(res: ReferenceResults, sizing_table, grid_points: int) -> dict:
    """What tuning GDRT's G and tau on the paper's grid would cost here: ``grid_points`` more runs
    per seed at the measured hours of one run (training, validation, test decoding); with the fixed
    G and tau of the spec (``ref_G``, ``ref_tau``)."""
    gdrt = res.manifest.get("spec", {}).get("methods", {}).get("gdrt", {})
    rows = ["training per run", "validation per run", "test decoding per model"]
    hours = (float(sizing_table.loc[rows, "value"].sum()) if len(sizing_table) else float("nan"))
    return {"grid_points": grid_points, "grid_hours": hours * grid_points * len(res.manifest["spec"]["seeds"]),
            "ref_G": gdrt.get("n_groups"), "ref_tau": gdrt.get("tau")}


def describe(res: ReferenceResults) -> dict:
    """What the reference experiment is, in numbers for the text: dataset, model, training rows and
    epochs, seeds finished per method, test and attribution rows, the machine and the wall time."""
    spec = res.manifest.get("spec", {})
    train = spec.get("train", {})
    trained = [p for m in res.runs.values() for p in m.values()] + ([res.pilot] if res.pilot else [])
    hours = (sum(v for part in res.timing.get("parts", {}).values() for k, v in part.items()
                 if k.endswith("_seconds") and k != "train_seconds")
             + sum(p.final["train_seconds"] for p in trained)) / 3600
    out = {"ref_dataset": train.get("dataset", "?").capitalize(), "ref_model": train.get("model", "?"),
           "ref_adapter": train.get("adapter", "?"), "ref_n_train": train.get("n_train"),
           "ref_epochs": train.get("epochs"), "ref_n_valid": train.get("n_valid"),
           "ref_n_test": spec.get("n_test"), "ref_test_split": spec.get("test_split"),
           "ref_n_attr": spec.get("n_attr"), "ref_attr_tokens": spec.get("attr_tokens"),
           "ref_seeds_planned": len(spec.get("seeds", [])), "ref_cpu": res.manifest.get("machine", {}).get("cpu_model", "?"),
           "ref_hours": hours, "ref_command": res.manifest.get("command", ""),
           "ref_dtype": "bf16" if train.get("bf16") else "fp32"}
    for m in spec.get("methods", {}):
        out[f"ref_seeds_{m}"] = len(res.runs.get(m, {}))
    return out


def group_share_table(res: ReferenceResults, models=("base", "sft"), ks=(1, 10), groups: str = "title"):
    """Per model (each method's seeds pooled), the share of every item group among the top-K lists,
    with the test targets' and the histories' shares (:func:`gdrt.diagnostics.group_share_table`)."""
    from .diagnostics.callbacks import group_share_table as table

    ig = res.item_group if groups == "title" else res.item_group_response
    import pandas as pd

    preds = {}
    for m in models:
        if m == "base" and res.base is not None:
            preds[m] = res.base.preds
        elif res.models(m):
            preds[m] = [p for part in res.models(m) for p in part.preds]
    nan = {f"group {g}": float("nan") for g in range(1, max(ig.values()) + 1)}  # a model with no finished part
    if not preds:
        return pd.DataFrame([{"source": m, "list": f"top-{k}", **nan, "rows": 0} for m in models for k in ks]
                            + [{"source": "test targets", "list": "target", **nan, "rows": 0},
                               {"source": "histories", "list": "history", **nan, "rows": 0}])
    out = table(preds, ig, ks=ks, reference="base" if "base" in preds else None)
    missing = [{"source": m, "list": f"top-{k}", **nan, "rows": 0} for m in models if m not in preds for k in ks]
    return pd.concat([out, pd.DataFrame(missing)], ignore_index=True) if missing else out


def trace_change(res: ReferenceResults, method: str, n_boot: int = 2000, seed: int = 0, groups: str = "title") -> dict:
    """The top-1 group-1 share at the last validation minus at step 0 (the base model), averaged over
    seeds, with a paired bootstrap over each seed's validation rows."""
    ig = res.item_group if groups == "title" else res.item_group_response
    diffs, points = [], []
    for s, part in sorted(res.runs.get(method, {}).items()):
        first = res.base_lists(part.config)
        if first is None or not part.validation:
            continue
        last = part.validation[max(part.validation)]
        if not _same_rows(first, last):
            raise ValueError(f"{part.path}: the base model's validation lists cover other rows than the run's")
        a0 = row_amounts([{**p, "history": []} for p in first], ig, 1)
        a1 = row_amounts([{**p, "history": []} for p in last], ig, 1)
        w = _weights(len(last), n_boot, seed + s)
        diffs.append(_div(w @ a1["g1"], w @ a1["n"]) - _div(w @ a0["g1"], w @ a0["n"]))
        points.append(s)
    if not diffs:
        return {}
    d = np.mean(diffs, axis=0)
    lo, hi, mde = _interval(d[1:])
    return {"difference": float(d[0]), "lo": lo, "hi": hi, "MDE": mde, "seeds": len(points),
            "seed min": float(min(x[0] for x in diffs)), "seed max": float(max(x[0] for x in diffs))}


# ------------------------------------------------------------------------------------- verdicts
REPLICATES, NOT, CANNOT = "replicates", "does not replicate", "cannot tell at this size"
PENDING = "not measured yet"  # a claim whose parts of the reference experiment have not finished


def verdict(lo: float, hi: float, direction: int, seed_min: float | None = None, seed_max: float | None = None
            ) -> str:
    """``direction`` +1: the paper says the quantity is above 0; -1: below 0. The interval covers the
    rows drawn, with the trained models held fixed; with several seeds (``seed_min``, ``seed_max``: the
    smallest and largest per-seed difference) a side is taken only when every seed agrees with it, so
    that three particular models cannot carry a verdict the seed-to-seed spread contradicts."""
    if np.isnan(lo) or np.isnan(hi):
        return CANNOT
    seeds = [v for v in (seed_min, seed_max) if v is not None and v == v]
    above = lo > 0 and all(v > 0 for v in seeds)
    below = hi < 0 and all(v < 0 for v in seeds)
    if (direction > 0 and above) or (direction < 0 and below):
        return REPLICATES
    if (direction > 0 and below) or (direction < 0 and above):
        return NOT
    return CANNOT


def _target_share_gap(res: ReferenceResults, method: str, n_boot: int, seed: int, groups: str) -> dict:
    """Top-1 share of item group 1 minus the test targets' share of it, seed-averaged, bootstrap over rows."""
    ig = res.item_group if groups == "title" else res.item_group_response
    parts = res.models(method)
    w = _weights(len(parts[0].preds), n_boot, seed)
    tgt = np.array([1.0 if ig[int(p["target"])] == 1 else 0.0 for p in parts[0].preds])
    t = w @ tgt / w.sum(1)
    vals = np.array([metric_values(row_amounts(p.preds, ig, 1), w, "g1") for p in parts])
    d = vals.mean(0) - t
    lo, hi, mde = _interval(d[1:])
    per_seed = vals[:, 0] - t[0]
    return {"value": float(vals.mean(0)[0]), "reference": float(t[0]), "difference": float(d[0]), "lo": lo, "hi": hi,
            "MDE": mde, "seeds": len(parts), "seed min": float(per_seed.min()), "seed max": float(per_seed.max())}


def claims(res: ReferenceResults, n_boot: int = 2000, seed: int = 0, view: str = "token", groups: str = "title",
           cooccurrence: dict | None = None):
    """The paper's claims, one row each: what the paper reports, what this experiment measured (the
    difference the claim is about, with its 95% interval, MDE and seed spread) and the verdict
    (:func:`verdict`). A claim whose parts have not finished yet is listed with the verdict
    ``PENDING`` and what it waits for. ``cooccurrence``:
    ``{"task": rate, "prefix": rate, "interaction": rate}`` (chapter 3's per-occurrence means) adds
    the claim of paper Fig. 5, a count over the training rows (no interval)."""
    import pandas as pd

    from . import paper

    recs = []
    nan = float("nan")

    def add(claim, source, paper_text, d, direction, unit="", a=None, b=None, waiting=""):
        if not d:  # its parts have not finished: listed, not judged
            recs.append({"claim": claim, "paper": paper_text, "source": source, "from": nan, "to": nan,
                         "difference": nan, "lo": nan, "hi": nan, "MDE": nan, "seeds": 0, "seed min": nan,
                         "seed max": nan, "direction": direction, "unit": unit, "verdict": PENDING,
                         "waiting for": waiting or "files that its finished parts did not write"})
            return
        recs.append({"claim": claim, "paper": paper_text, "source": source, "from": a, "to": b,
                     "difference": d["difference"], "lo": d["lo"], "hi": d["hi"], "MDE": d.get("MDE", float("nan")),
                     "seeds": d.get("seeds"), "seed min": d.get("seed min"), "seed max": d.get("seed max"),
                     "direction": direction, "unit": unit,
                     "verdict": verdict(d["lo"], d["hi"], direction, d.get("seed min"), d.get("seed max")),
                     "waiting for": ""})

    have = set(res.methods)
    base_sft = res.base is not None and "sft" in have
    # what a pending claim waits for: only the parts still missing
    need_base = [] if res.base is not None else ["the base part"]
    need_sft = [] if "sft" in have else ["an SFT run"]
    waits_base_sft = " and ".join(need_base + need_sft)
    att = paired_attribution(res, "base", "sft", view, n_boot=n_boot, seed=seed) if base_sft else None
    for feat in ("task", "prefix"):
        r = att.loc[feat + ":interaction"] if att is not None and feat + ":interaction" in att.index else None
        add(f"SFT raises {feat} : interaction attribution", "Fig. 2", paper.FIG2_TEXT[feat],
            r.to_dict() if r is not None else None, +1, "ratio", *((r["base"], r["sft"]) if r is not None else ()),
            waiting=waits_base_sft)
    g = _target_share_gap(res, "sft", n_boot, seed, groups) if "sft" in have else None
    add("SFT over-recommends item group 1 (top-1, against the targets' share)", "Fig. 3",
        f"about {paper.SFT_TOP1_GROUP1:.0%} of top-1 in group 1 against {paper.TARGET_GROUP1:.0%} of targets",
        g, +1, "share", *((g["reference"], g["value"]) if g else ()), waiting=" and ".join(need_sft))
    t = trace_change(res, "sft", n_boot, seed, groups) if "sft" in have else None
    add("The group-1 share grows during SFT", "Fig. 4", "rises over training", t, +1, "share",
        waiting=waits_base_sft)
    measured = cooccurrence and all(v == v for v in cooccurrence.values())  # NaN: the base part has not run
    for feat in ("task", "prefix"):
        d = None
        if measured:
            ratio = cooccurrence[feat] / cooccurrence["interaction"]
            d = {"difference": ratio - 1.0, "lo": ratio - 1.0, "hi": ratio - 1.0}
        add(f"{feat.capitalize()} tokens co-occur with targets more than interaction tokens "
            "(rate ratio − 1, exact count)", "Fig. 5", "auxiliary pairs well above interaction pairs", d, +1, "ratio",
            waiting="the base part")
    both = {"sft", "gdrt"} <= have and bool(res.seeds("sft", "gdrt"))
    att = paired_attribution(res, "sft", "gdrt", view, n_boot=n_boot, seed=seed) if both else None
    for feat in ("task", "prefix"):
        r = att.loc[feat + ":interaction"] if att is not None and feat + ":interaction" in att.index else None
        add(f"GDRT lowers {feat} : interaction attribution", "Fig. 7", "lower than SFT's",
            r.to_dict() if r is not None else None, -1, "ratio", *((r["sft"], r["gdrt"]) if r is not None else ()),
            waiting="an SFT and a GDRT run of the same seed")
    pt = paired(res, "sft", "gdrt", n_boot=n_boot, seed=seed, groups=groups) if both else None
    dataset = res.manifest.get("spec", {}).get("train", {}).get("dataset", "").capitalize()
    rows = paper.TABLE2.get(dataset, {})
    for label, direction in (("top-1 group-1 share", -1), ("MGU@5", -1), ("DGU@5", -1), ("NDCG@10", +1)):
        r = pt.loc[label] if pt is not None else None
        key = label.lower()
        verb = "raises" if direction > 0 else "lowers"
        if key in rows.get("SFT", {}):
            source, text = "Table 2", f"{dataset}: SFT {rows['SFT'][key]:.4f} → GDRT {rows['GDRT'][key]:.4f}"
        elif key in paper.TABLE2["Book"]["SFT"]:
            source, text = "Table 2", f"{'raised' if direction > 0 else 'lowered'} on every dataset of the paper"
        else:
            source, text = "Fig. 8", "top-1 recommendations spread closer to the targets' groups"
        add(f"GDRT {verb} {label}", source, text, r.to_dict() if r is not None else None, direction, "",
            *((r["sft"], r["gdrt"]) if r is not None else ()), waiting="an SFT and a GDRT run of the same seed")
    cols = ["claim", "paper", "source", "from", "to", "difference", "lo", "hi", "MDE", "seeds", "seed min", "seed max",
            "direction", "unit", "verdict", "waiting for"]
    return pd.DataFrame(recs, columns=cols)


def claims_markdown(claims):
    """The claims as a bulleted list of :func:`claim_sentence` (for a chapter to show)."""
    from IPython.display import Markdown

    return Markdown("\n".join(f"- {claim_sentence(r)}" for _, r in claims.iterrows()))


def table2(res: ReferenceResults, table2: dict, n_boot: int = 0):
    """Paper Table 2's SFT and GDRT rows for the reference dataset, next to this experiment's (each
    method's mean over seeds, with the smallest and largest seed): one row per metric."""
    import pandas as pd

    name = res.manifest["spec"]["train"]["dataset"].capitalize()
    paper_rows = table2.get(name, {})
    mt = metric_table(res, n_boot=max(n_boot, 1)).set_index(["model", "metric"])
    recs = []
    for label, key in (("NDCG@5", "ndcg@5"), ("NDCG@10", "ndcg@10"), ("HIT@5", "hit@5"), ("HIT@10", "hit@10"),
                       ("MGU@5", "mgu@5"), ("DGU@5", "dgu@5")):
        rec = {"metric": label}
        for m in ("sft", "gdrt"):
            rec[f"paper {m.upper()}"] = paper_rows.get(m.upper(), {}).get(key, float("nan"))
        for m in ("sft", "gdrt"):
            if (m, label) in mt.index:
                r = mt.loc[(m, label)]
                rec[f"ours {m.upper()}"] = r["value"]
                rec[f"{m.upper()} seed range"] = f"{r['seed min']:.4f}–{r['seed max']:.4f}"
        recs.append(rec)
    return pd.DataFrame(recs).set_index("metric")


def claim_sentence(row) -> str:
    """One sentence per claim that says what was measured and follows the verdict."""
    ci = f"{row['difference']:+.4g} (95% interval {row['lo']:+.4g} to {row['hi']:+.4g})"
    n_seeds = row.get("seeds")
    seeds = f" over {int(n_seeds)} seed(s)" if n_seeds == n_seeds and n_seeds else ""  # NaN: a count, no seeds
    if row["verdict"] == PENDING:
        return f"{row['claim']}: not measured yet; it needs {row['waiting for']} of the reference experiment."
    if row["verdict"] == REPLICATES:
        return f"{row['claim']}: replicates here, {ci}{seeds}."
    if row["verdict"] == NOT:
        return f"{row['claim']}: does not replicate here; the change went the other way, {ci}{seeds}."
    mde = row.get("MDE")
    mde_text = f"; this size could detect a change of about {mde:.2g}" if mde == mde and mde else ""
    return f"{row['claim']}: cannot tell at this size, {ci}{seeds}{mde_text}."
