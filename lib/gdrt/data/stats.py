"""Dataset statistics for chapter 2: users' sequences rebuilt from the windows, and Table 1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np


def rebuild_sequences(rows: Sequence) -> dict:
    """Each user's item sequence, rebuilt from overlapping windows (rows of train+valid+test in file
    order). Consecutive windows of a user overlap by their history; a window that does not continue
    the previous one raises. Returns ``{user: [(item, timestamp), ...]}``; only targets' timestamps
    are known, so a first window's history items carry its target's time. Explained in chapter 2."""
    by_user: dict = {}
    for pos, r in enumerate(rows):
        by_user.setdefault(r.user_id, []).append((r.timestamp, pos, r))
    sequences = {}
    for user in sorted(by_user):
        ws = [r for _, _, r in sorted(by_user[user], key=lambda x: (x[0], x[1]))]
        items = list(ws[0].history) + [ws[0].target]
        times = [ws[0].timestamp] * len(items)
        for w in ws[1:]:
            if tuple(w.history[-10:]) != tuple(items[-10:])[-len(w.history[-10:]):]:
                raise ValueError(f"user {user}: window at line {w.line} does not continue the previous one")
            items.append(w.target)
            times.append(w.timestamp)
        sequences[user] = list(zip(items, times))
    return sequences


def table1_row(name: str, sequences: dict) -> dict:
    """Paper Table 1 columns: #users, #items, #interactions, density = interactions/(users*items)."""
    users = len(sequences)
    items = len({i for s in sequences.values() for i, _ in s})
    inter = sum(len(s) for s in sequences.values())
    return {"dataset": name, "users": users, "items": items, "interactions": inter,
            "density": inter / (users * items) if users and items else float("nan")}


def split_summary(splits: dict) -> list[dict]:
    """Rows, users and items of each split, and history lengths."""
    out = []
    for name, rows in splits.items():
        h = np.array([len(r.history) for r in rows])
        out.append({"split": name, "rows": len(rows), "users": len({r.user_id for r in rows}),
                    "items": len({i for r in rows for i in (*r.history, r.target)}),
                    "mean history": float(h.mean()) if len(h) else float("nan"),
                    "history = 10": float((h >= 10).mean()) if len(h) else float("nan")})
    return out


def history_lengths(rows: Iterable) -> Counter:
    return Counter(len(r.history) for r in rows)
