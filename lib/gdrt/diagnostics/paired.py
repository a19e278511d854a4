"""Does GDRT remove the bias? Paired comparisons of two tuned models on the same rows (chapter 7).

Two models measured on the same test rows are compared row by row: a bootstrap resamples the ROWS,
and each resample computes the statistic for both models on the same rows, so the interval of the
difference ``B - A`` reflects only how the rows were drawn, not two independent samples.

Statistics (each a pooled ratio or mean over rows, as in chapter 3):

* ``task:interaction``, ``prefix:interaction``: ratio of mean |contribution| (feature ablation;
  :func:`gdrt.diagnostics.attribution_ratios`), from per-row attribution results;
* ``top-K group-1 share``: ``sum_i n1_i / sum_i n_i`` where ``n1_i`` counts row i's top-K entries in
  item group 1 and ``n_i`` its top-K entries (:func:`gdrt.diagnostics.topk_group_share`);
* ``NDCG@K``: ``mean_i 1/log2(rank_i + 2)`` (0 for a miss), from the saved predictions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..io import read_json, write_json
from ..metrics import first_hit_rank
from .attribution import attribution_parts


def cached_attribution(name: str, lm, rows, catalog, preset, cache_dir, baseline: str = "remove",
                       max_history: int = 10, view: str = "feature", max_tokens: int | None = None) -> list[dict]:
    """Attribution of ``rows``, saved as ``cache_dir/attribution-KEY.json``: ``view="feature"``
    (:func:`gdrt.diagnostics.attribute_rows`, whole features) or ``"token"``
    (:func:`gdrt.diagnostics.attribute_tokens`, every token its own feature, at most ``max_tokens``
    of each type per row). ``KEY`` hashes ``name`` (which model: a run directory or a model id), the
    rows and the settings, so chapter 7 reuses what chapter 3 measured. ``lm``: a
    :class:`gdrt.models.loading.LoadedModel`, or a function returning one (called only when the cache
    misses). Written atomically; an unreadable file is measured again."""
    from . import attribution

    if view not in ("feature", "token"):
        raise ValueError(f"view must be 'feature' or 'token', got {view!r}")
    settings = [baseline, max_history] + ([view, max_tokens] if view == "token" else [])
    blob = json.dumps([str(name), getattr(preset, "name", str(preset)), *settings,
                       [[str(r.user_id), list(r.history), r.target] for r in rows]])
    path = Path(cache_dir) / f"attribution-{hashlib.sha256(blob.encode()).hexdigest()[:12]}.json"
    if path.exists():
        try:
            return read_json(path)["rows"]
        except (ValueError, KeyError):
            path.unlink()
    lm = lm() if callable(lm) else lm
    if view == "token":
        res = attribution.attribute_tokens(lm.model, lm.tokenizer, rows, catalog, preset, baseline, max_history,
                                           max_tokens=max_tokens)
    else:
        res = attribution.attribute_rows(lm.model, lm.tokenizer, rows, catalog, preset, baseline, max_history)
    write_json(path, {"model": str(name), "baseline": baseline, "view": view, "rows": res})
    return res


def trace_gap(traces: dict, a: str, b: str):
    """The top-1 group-1 share over training of runs ``a`` and ``b`` at the steps both measured, and
    ``b - a`` (a DataFrame indexed by step). ``traces``: ``{run: GroupShareCallback.history}``."""
    import pandas as pd

    sa = {h["step"]: h["top1_group1_share"] for h in traces[a]}
    sb = {h["step"]: h["top1_group1_share"] for h in traces[b]}
    steps = sorted(set(sa) & set(sb))
    return pd.DataFrame({a: [sa[s] for s in steps], b: [sb[s] for s in steps],
                         f"{b} - {a}": [sb[s] - sa[s] for s in steps]}, index=pd.Index(steps, name="step"))


# ------------------------------------------------------------------------------ per-row pieces
def group1_counts(preds, item_group: dict[int, int], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (entries of the top-``k`` in item group 1, entries of the top-``k``); an entry's group
    is its first id's, empty entries are skipped (as :func:`topk_group_share`)."""
    lists = [[ids[0] for ids in p["item_ids"][:k] if ids] for p in preds]
    n1 = np.array([sum(item_group.get(int(i)) == 1 for i in lst) for lst in lists], dtype=np.float64)
    return n1, np.array([len(lst) for lst in lists], dtype=np.float64)


def ndcg_gains(preds, k: int) -> np.ndarray:
    """Per row: ``1/log2(rank+2)`` if the target is in the top ``k``, else 0 (mean = NDCG@k)."""
    out = []
    for p in preds:
        rank = first_hit_rank([tuple(ids) for ids in p["item_ids"]], p["target"])
        out.append(1.0 / np.log2(rank + 2) if rank is not None and rank < k else 0.0)
    return np.asarray(out, dtype=np.float64)


def _aligned(preds_a, preds_b):
    """Both prediction lists ordered by row, checked to cover the same rows and targets."""
    a = sorted(preds_a, key=lambda p: p["row"])
    b = sorted(preds_b, key=lambda p: p["row"])
    if [(p["row"], p["target"]) for p in a] != [(p["row"], p["target"]) for p in b]:
        raise ValueError("the two prediction sets do not cover the same rows (row, target)")
    return a, b


# ------------------------------------------------------------------------------ the comparison
def _ratio(num: np.ndarray, den: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Ratio of sums over each resample (rows ``idx``: [n_boot, n]); NaN where the denominator is 0."""
    s_num, s_den = num[idx].sum(1), den[idx].sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s_den != 0, s_num / s_den, np.nan)


def paired_table(a: str, b: str, attribution: dict | None = None, preds: dict | None = None,
                 item_group: dict[int, int] | None = None, ks=(1, 10), ndcg_ks=(10,), n_boot: int = 2000,
                 seed: int = 0, level: float = 0.95):
    """One row per statistic: its value for model ``a`` and model ``b``, the difference ``b - a``, a
    paired bootstrap interval of the difference, and the share of resamples where ``b < a``.

    ``attribution``: ``{model: per-row attribution results}`` (same rows for both), ``preds``:
    ``{model: predictions}`` (same test rows), ``item_group``: ``{id: group}`` (1 = most relevant).
    ``ks``: the top-K lists of the group-1 shares; ``ndcg_ks``: the cut-offs of NDCG. Every statistic
    is a ratio of sums over rows, ``num / den`` per model; the interval is the percentile interval of
    the ``n_boot`` paired resamples. Explained in chapter 7, "Attribution, row by row"."""
    import pandas as pd

    stats = []  # (name, rows, num_a, den_a, num_b, den_b)
    if attribution:
        pa, pb = attribution_parts(attribution[a]), attribution_parts(attribution[b])
        if len(pa["task"]) != len(pb["task"]):
            raise ValueError("the two attribution results cover different numbers of rows")
        for feat in ("task", "prefix"):
            stats.append((f"{feat}:interaction", pa[feat], pa["interaction"], pb[feat], pb["interaction"]))
    if preds:
        A, B = _aligned(preds[a], preds[b])
        for k in ks:
            if item_group is not None:
                stats.append((f"top-{k} group-1 share", *group1_counts(A, item_group, k), *group1_counts(B, item_group, k)))
        for k in ndcg_ks:
            ones = np.ones(len(A))
            stats.append((f"NDCG@{k}", ndcg_gains(A, k), ones, ndcg_gains(B, k), ones))
    rng = np.random.default_rng(seed)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    recs = []
    for name, na, da, nb, db in stats:
        n = len(na)
        idx = rng.integers(0, n, size=(n_boot, n))
        diff = _ratio(nb, db, idx) - _ratio(na, da, idx)
        diff = diff[~np.isnan(diff)]
        va = na.sum() / da.sum() if da.sum() else float("nan")
        vb = nb.sum() / db.sum() if db.sum() else float("nan")
        lo, hi = (np.percentile(diff, q) if len(diff) else (float("nan"), float("nan")))
        recs.append({"statistic": name, a: float(va), b: float(vb), "difference": float(vb - va),
                     "lo": float(lo), "hi": float(hi), f"P({b} < {a})": float(np.mean(diff < 0)) if len(diff) else float("nan"),
                     "rows": n})
    return pd.DataFrame(recs).set_index("statistic")


def verdicts(table, a: str, b: str) -> dict[str, str]:
    """Per statistic, in words: whether the interval of ``b - a`` excludes 0 (lower, higher) or not."""
    out = {}
    for name, r in table.iterrows():
        if r["hi"] < 0:
            out[name] = f"{b} lower"
        elif r["lo"] > 0:
            out[name] = f"{b} higher"
        else:
            out[name] = "no detectable difference"
    return out


def versus_table(preds: dict, ref: str, item_group: dict[int, int], k: int = 10, n_boot: int = 2000,
                 seed: int = 0, level: float = 0.95):
    """Every model of ``preds`` against ``ref`` on the same rows (chapter 6): the difference in NDCG@k
    and in the top-1 group-1 share, each with its paired bootstrap interval (:func:`paired_table`),
    and the verdict in words. One row per model."""
    import pandas as pd

    recs = []
    for name in preds:
        if name == ref:
            continue
        t = paired_table(ref, name, preds={ref: preds[ref], name: preds[name]}, item_group=item_group, ks=(1,),
                         ndcg_ks=(k,), n_boot=n_boot, seed=seed, level=level)
        v = verdicts(t, ref, name)
        rec = {"method": name}
        for stat, short in ((f"NDCG@{k}", f"ndcg@{k}"), ("top-1 group-1 share", "top-1 g1")):
            r = t.loc[stat]
            rec.update({f"Δ {short}": r["difference"], f"{short} lo": r["lo"], f"{short} hi": r["hi"],
                        f"{short} verdict": v[stat]})
        rec["rows"] = int(t["rows"].iloc[0])
        recs.append(rec)
    return pd.DataFrame(recs).set_index("method")
