"""A small deterministic synthetic dataset in MSL format (the ``smoke`` profile's data, and the
fallback when no real data is found).

Items belong to categories and have product-like titles (brand + adjective + noun + size; a few
titles are shared by two ids, as in the real sets). Users belong to a few taste clusters (each a
mix of categories); items have a popularity skew within their category; each item has a
"companion" in its category. A user's next item is mostly the companion of the previous item or a
popular item of one of the user's categories, so the history predicts the target. The interactions
go through :mod:`gdrt.data.windows`, the same windowing, split and samples as the real data.

Only Python's ``random.Random(seed).random()`` draws are used, so the files are byte-identical for
a seed on any platform. Explained in chapter 1, "A tiny example".
"""

from __future__ import annotations

import bisect
import random
from itertools import accumulate
from pathlib import Path

from ..io import write_json
from .windows import MAX_HISTORY, SAMPLE_SIZES, make_windows, split_windows, write_catalog_files, write_splits

__all__ = ["make_synthetic", "synthetic_interactions", "CATEGORIES", "INFO_FILE"]

INFO_FILE = "synthetic.json"

# category -> nouns
CATEGORIES: dict[str, tuple[str, ...]] = {
    "stationery": ("Notebook", "Gel Pen", "Sticky Notes", "Highlighter Set", "Binder"),
    "kitchen": ("Coffee Mug", "Chef Knife", "Cutting Board", "Tea Kettle", "Mixing Bowl"),
    "audio": ("Headphones", "Bluetooth Speaker", "Earbuds", "Soundbar", "Microphone"),
    "outdoor": ("Backpack", "Water Bottle", "Camping Lantern", "Trekking Poles", "Tent"),
    "toys": ("Puzzle", "Building Blocks", "Board Game", "Plush Bear", "Card Game"),
    "fitness": ("Yoga Mat", "Dumbbell Set", "Jump Rope", "Resistance Bands", "Foam Roller"),
    "lighting": ("Desk Lamp", "LED Strip", "Night Light", "Floor Lamp", "Light Bulbs"),
    "games": ("Racing Game", "Puzzle Game", "Adventure Game", "Game Controller", "Memory Card"),
}
BRANDS = ("Acme", "Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Umbrella", "Vandelay", "Hooli", "Stark")
ADJECTIVES = ("Classic", "Compact", "Deluxe", "Eco", "Pro", "Ultra", "Mini", "Premium", "Smart", "Vintage")
SIZES = ("Small", "Medium", "Large", "2-Pack", "3-Pack", "Blue", "Black", "Red", "Green", "XL")

DAY = 86400
START_TS = 1_400_000_000 - 1_400_000_000 % DAY  # a midnight in 2014, like the Amazon timestamps


def _choice(rng: random.Random, seq):
    return seq[int(rng.random() * len(seq))]


def _weighted(rng: random.Random, cum: list[float]) -> int:
    """Index drawn with weights given as a cumulative list."""
    return min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)


def _titles(rng: random.Random, item_cat: list[int], cat_names: list[str], n_dup: int) -> list[str]:
    titles: list[str] = []
    used: set[str] = set()
    for cat in item_cat:
        nouns = CATEGORIES[cat_names[cat]]
        for attempt in range(1000):
            t = f"{_choice(rng, BRANDS)} {_choice(rng, ADJECTIVES)} {_choice(rng, nouns)}, {_choice(rng, SIZES)}"
            if attempt >= 50:
                t += f" (Model {attempt})"
            if t not in used:
                break
        used.add(t)
        titles.append(t)
    # a few ids share the title of another item of the same category (as re-listed products do)
    n = len(titles)
    for d in range(n_dup):
        j = n - 1 - 7 * d  # the later item copies an earlier one of its category
        if j <= 0:
            break
        earlier = [i for i in range(j) if item_cat[i] == item_cat[j]]
        if earlier:
            titles[j] = titles[earlier[int(rng.random() * len(earlier))]]
    return titles


def synthetic_interactions(
    n_users: int = 300,
    n_items: int = 120,
    seed: int = 0,
    n_categories: int = 6,
    n_clusters: int = 4,
    min_len: int = 5,
    max_len: int = 16,
    p_companion: float = 0.35,
    p_taste: float = 0.5,
):
    """The generator behind :func:`make_synthetic`: ``(sequences, id2title, info)``.

    ``sequences`` maps user id (1..n_users) -> list of ``(item_id, timestamp)`` in time order;
    ``id2title`` covers items 1..n_items; ``info`` holds each item's category and each user's cluster.
    """
    if not 1 <= n_categories <= len(CATEGORIES):
        raise ValueError(f"n_categories must be in 1..{len(CATEGORIES)}")
    if n_items < 2 * n_categories:
        raise ValueError("n_items must be at least 2 * n_categories")
    if not 2 <= min_len <= max_len:
        raise ValueError("need 2 <= min_len <= max_len")
    rng = random.Random(seed)
    cat_names = list(CATEGORIES)[:n_categories]
    item_cat = [i % n_categories for i in range(n_items)]  # index 0 is item 1
    by_cat: list[list[int]] = [[i for i in range(n_items) if item_cat[i] == c] for c in range(n_categories)]
    # popularity: Zipf-like within a category, over a random order of its items
    pop_cum: list[list[float]] = []
    for c in range(n_categories):
        order = by_cat[c][:]
        for k in range(len(order) - 1, 0, -1):  # Fisher-Yates with rng.random()
            j = int(rng.random() * (k + 1))
            order[k], order[j] = order[j], order[k]
        by_cat[c] = order
        pop_cum.append(list(accumulate(1.0 / (r + 1) ** 1.1 for r in range(len(order)))))
    # companion: a fixed next item in the same category
    companion = [0] * n_items
    for c in range(n_categories):
        items = by_cat[c]
        for r, i in enumerate(items):
            companion[i] = items[(r + 1 + int(rng.random() * 2)) % len(items)]
            if companion[i] == i:
                companion[i] = items[(r + 1) % len(items)]
    # global popularity (for the random part)
    global_cum = list(accumulate(1.0 / (1 + by_cat[item_cat[i]].index(i)) for i in range(n_items)))
    # taste clusters: each a main category and a second one, with weights
    clusters = []
    for k in range(n_clusters):
        main = k % n_categories
        second = (main + 1 + int(rng.random() * (n_categories - 1))) % n_categories
        clusters.append(((main, 0.7), (second, 0.3)))
    cluster_cum = list(accumulate(1.0 / (k + 1) ** 0.5 for k in range(n_clusters)))
    titles = _titles(rng, item_cat, cat_names, max(1, n_items // 40))

    sequences: dict[int, list[tuple[int, int]]] = {}
    user_cluster: dict[int, int] = {}
    span_days = 720
    for u in range(1, n_users + 1):
        cl = _weighted(rng, cluster_cum)
        user_cluster[u] = cl
        tastes = clusters[cl]
        length = min_len + int(rng.random() ** 2 * (max_len - min_len + 1))
        day = int(rng.random() * span_days)
        seq: list[tuple[int, int]] = []
        prev = None
        for _ in range(length):
            x = rng.random()
            if prev is not None and x < p_companion:
                item = companion[prev]
            elif x < p_companion + p_taste or prev is None:
                cat = tastes[0][0] if rng.random() < tastes[0][1] else tastes[1][0]
                item = by_cat[cat][_weighted(rng, pop_cum[cat])]
            else:
                item = _weighted(rng, global_cum)
            seq.append((item + 1, START_TS + day * DAY))
            day += 1 + int(rng.random() * 20)
            prev = item
        sequences[u] = seq
    id2title = {i + 1: titles[i] for i in range(n_items)}
    info = {
        "categories": cat_names,
        "item_category": {str(i + 1): cat_names[item_cat[i]] for i in range(n_items)},
        "clusters": [[cat_names[c] for c, _ in cl] for cl in clusters],
        "user_cluster": {str(u): c for u, c in user_cluster.items()},
    }
    return sequences, id2title, info


def make_synthetic(
    out_dir,
    n_users: int = 300,
    n_items: int = 120,
    seed: int = 0,
    *,
    n_categories: int = 6,
    n_clusters: int = 4,
    min_len: int = 5,
    max_len: int = 16,
    p_companion: float = 0.35,
    p_taste: float = 0.5,
    max_history: int = MAX_HISTORY,
    sample_sizes=SAMPLE_SIZES,
) -> Path:
    """Write a synthetic MSL-format dataset into ``out_dir`` and return it.

    Files: ``train/valid/test.csv``, their ``_10000/_100000``, ``_5000/_500`` samples,
    ``id2name4Rec.json``, ``id2name.json`` and ``synthetic.json`` (parameters, counts, each item's
    category and each user's cluster). Byte-identical for the same arguments.
    """
    out_dir = Path(out_dir)
    params = dict(
        n_users=n_users,
        n_items=n_items,
        seed=seed,
        n_categories=n_categories,
        n_clusters=n_clusters,
        min_len=min_len,
        max_len=max_len,
        p_companion=p_companion,
        p_taste=p_taste,
    )
    sequences, id2title, info = synthetic_interactions(**params)
    windows = make_windows(sequences, max_history)
    train, valid, test = split_windows(windows)
    write_catalog_files(out_dir, id2title)
    files = write_splits(out_dir, {"train": train, "valid": valid, "test": test}, sample_sizes)
    write_json(
        out_dir / INFO_FILE,
        {
            "generator": "gdrt.data.synthetic.make_synthetic",
            "params": {**params, "max_history": max_history},
            "users": len(sequences),
            "items": len(id2title),
            "interactions": sum(len(s) for s in sequences.values()),
            "windows": len(windows),
            "files": files,
            **info,
        },
    )
    return out_dir
