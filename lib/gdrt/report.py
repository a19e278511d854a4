"""Tables for the chapters (pandas DataFrames, rendered by the book as HTML tables)."""

from __future__ import annotations

import pandas as pd

MAIN_COLUMNS = ["ndcg@5", "ndcg@10", "hit@5", "hit@10", "mgu@5", "dgu@5", "mgu@10", "dgu@10"]


def metrics_table(metrics: dict, columns=MAIN_COLUMNS) -> pd.DataFrame:
    """One row per method: ranking (higher is better) and fairness (lower is better) metrics,
    plus the share of top-1 recommendations in item group 1."""
    rows = []
    for name, m in metrics.items():
        r = {"method": name, **{c: m.get(c) for c in columns}, "n_rows": m["n_rows"]}
        if "top1_group_share" in m:
            r["top-1 in group 1"] = m["top1_group_share"][0]
        rows.append(r)
    return pd.DataFrame(rows).set_index("method").round(4)


def runs_table(finals: dict) -> pd.DataFrame:
    """Training runs side by side: steps, examples, wall times, the selected validation NDCG@5."""
    cols = ["steps", "n_train", "n_valid", "train_seconds", "validation_seconds", "seconds_per_step",
            "tokens_per_second", "relevance_seconds", "best_ndcg@5", "adapter", "device"]
    return pd.DataFrame([{"method": k, **{c: v.get(c) for c in cols}} for k, v in finals.items()]).set_index("method").round(3)
