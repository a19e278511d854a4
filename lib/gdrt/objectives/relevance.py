"""Token relevance to the auxiliary tokens (paper Eq. 3) and item relevance (Eq. 2), and grouping.

``r(y_t) = log P(y_t | x_task, y_<t)``: the prompt with the history replaced by ``N/A``. That prompt is
the same for every example of a dataset, so r depends on the target title alone: one pass over the
distinct titles scores every target token of every example. Explained in chapter 5, "Token relevance".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.prompts import build_prompt, encode_prompt, encode_response
from ..io import atomic_path


def title_token_relevance(model, tokenizer, preset, titles, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Per-token ``log P(y_t | N/A prompt, y_<t)`` for each title's response tokens (quotes and EOS
    included, exactly the tokens the loss covers)."""
    from ..decoding.scoring import continuation_logprobs

    prompt_ids = encode_prompt(tokenizer, build_prompt(preset, None))
    conts = [encode_response(tokenizer, t) for t in titles]
    lps = continuation_logprobs(model, prompt_ids, conts, batch_size=batch_size)
    return {t: lp.float().cpu().numpy() for t, lp in zip(titles, lps)}


def relevance_cache_key(model_name: str, titles, preset, tokenizer) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([str(model_name), build_prompt(preset, None), len(tokenizer)]).encode())
    for t in titles:
        h.update(t.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def cached_title_relevance(model, tokenizer, model_name, preset, titles, cache_dir, batch_size=64):
    """``title_token_relevance`` cached on disk, keyed by model + titles + prompt template (fp32).
    A half-written cache cannot be read: it is written to a temporary name and renamed."""
    titles = list(titles)
    key = relevance_cache_key(model_name, titles, preset, tokenizer)
    path = Path(cache_dir) / f"relevance-{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                flat, offsets = z["flat"], z["offsets"]
            return {t: flat[offsets[i] : offsets[i + 1]] for i, t in enumerate(titles)}, path, True
        except Exception:
            path.unlink()  # unreadable: rebuild
    rel = title_token_relevance(model, tokenizer, preset, titles, batch_size=batch_size)
    arrays = [rel[t] for t in titles]
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])]).astype(np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, flat=np.concatenate(arrays).astype(np.float32), offsets=offsets)
    return rel, path, False


ITEM_TOKENS = ("title", "response")


def title_masks(tokenizer, titles) -> dict[str, np.ndarray]:
    """Per title, which of its response tokens carry the title's own characters
    (:func:`gdrt.data.prompts.title_token_mask`: not the bare quotes, not EOS)."""
    from ..data.prompts import title_token_mask

    return {t: title_token_mask(tokenizer, t) for t in dict.fromkeys(titles)}


def item_relevance(title_relevance: dict[str, np.ndarray], catalog, masks: dict[str, np.ndarray] | None = None
                   ) -> dict[int, float]:
    """Eq. 2, ``r(item) = mean_t r(y_t)``, for every item id. With ``masks`` (:func:`title_masks`) the
    mean runs over the title's own tokens, the paper's "tokens for each item" and the book's default;
    without, over every response token (the quotes and EOS too: a short title then gets the
    predictable quote and EOS tokens in a larger share of its mean, which lifts it toward group 1).
    A title with no token of its own (an empty title) falls back to all its response tokens."""
    def mean(t):
        v = title_relevance[t]
        if masks is not None and masks[t].any():
            v = v[masks[t]]
        return float(np.mean(v))

    return {i: mean(t) for i, t in catalog.id2title.items()}


@dataclass
class Grouping:
    """Scalar relevance -> group 0..G-1 (0 = group 1, the most relevant).

    ``method="quantile"``: equal-size buckets of the training tokens; ``"kmeans"``: 1-D k-means
    (scikit-learn), clusters ordered by centre. Explained in chapter 5, "Grouping".
    """

    method: str
    n_groups: int
    edges: np.ndarray  # descending thresholds between groups, length G-1

    @classmethod
    def fit(cls, values, n_groups: int, method: str = "kmeans", seed: int = 0) -> "Grouping":
        from ..errors import GDRTInputError

        if isinstance(n_groups, bool) or not isinstance(n_groups, (int, np.integer)) or n_groups < 1:
            raise GDRTInputError("config", f"n_groups must be an integer >= 1, got {n_groups!r}", field="n_groups")
        if method not in ("kmeans", "quantile"):
            raise GDRTInputError("config", f"unknown grouping method {method!r}; use 'kmeans' or 'quantile'", field="grouping")
        v = np.asarray(values, dtype=np.float64).ravel()
        if v.size == 0:
            raise GDRTInputError("relevance", "no relevance values to group (0 training tokens)")
        if not np.all(np.isfinite(v)):
            raise GDRTInputError("relevance", f"{int(np.sum(~np.isfinite(v)))} of {v.size} relevance values are not finite (NaN or inf)")
        n_distinct = len(np.unique(v))
        if n_distinct < n_groups:
            raise GDRTInputError(
                "config",
                f"n_groups={n_groups} is larger than the number of distinct relevance values ({n_distinct}) "
                f"of the {v.size} training tokens; use at most {n_distinct} groups",
                field="n_groups",
            )
        if n_groups == 1:
            return cls(method, 1, np.zeros(0))
        if method == "quantile":
            qs = np.quantile(v, np.linspace(1, 0, n_groups + 1)[1:-1])
            edges = np.asarray(qs)
        elif method == "kmeans":
            from sklearn.cluster import KMeans

            km = KMeans(n_clusters=n_groups, n_init=4, random_state=seed).fit(v.reshape(-1, 1))
            centres = np.sort(km.cluster_centers_.ravel())[::-1]
            edges = (centres[:-1] + centres[1:]) / 2  # nearest-centre boundaries on a line
        else:
            raise ValueError(f"unknown grouping method {method!r}; use 'kmeans' or 'quantile'")
        return cls(method, n_groups, edges)

    def assign(self, values) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        # number of edges strictly above... group g holds values in (edges[g], edges[g-1]]
        return np.searchsorted(-self.edges, -v, side="left").astype(np.int64)

    def to_json(self) -> dict:
        return {"method": self.method, "n_groups": self.n_groups, "edges": self.edges.tolist()}


def reference_title_relevance(model_name, catalog, preset, cache_dir=None, lm=None):
    """Eq. 3 relevance of every catalog title's tokens under the untuned base model in full precision
    (the reference for both GDRT's token groups and Eq. 2's item groups), cached on disk. The model is
    loaded only on a cache miss (or taken from ``lm``). Always fp32: under bf16 autocast the scores
    moved by up to 0.26 nats (mean 0.03), and in one measurement on a loaded 2-core machine the pass was
    no faster.
    Returns ``(relevance, cache_path, cache_hit)``."""
    import torch

    from ..models.loading import cache_root, load_model

    cache_dir = Path(cache_dir or cache_root() / "relevance")
    path = cache_dir / f"relevance-{relevance_cache_key_for(model_name, catalog, preset)}.npz"
    if lm is None and not path.exists():
        lm = load_model(model_name)
    model, tok = (lm.model, lm.tokenizer) if lm is not None else (None, _Tok(model_name))
    with torch.inference_mode():
        return cached_title_relevance(model, tok, model_name, preset, catalog.titles, cache_dir)


class _Tok:
    """Stands in for a tokenizer on a cache hit (only its length enters the key)."""

    def __init__(self, model_name):
        from ..models.loading import load_tokenizer

        self._n = len(load_tokenizer(model_name))

    def __len__(self):
        return self._n


def relevance_cache_key_for(model_name, catalog, preset) -> str:
    """The cache key without a tokenizer in hand (the tokenizer's size is read from the model's files)."""
    from ..models.loading import load_tokenizer

    return relevance_cache_key(model_name, catalog.titles, preset, load_tokenizer(model_name))


def token_values(title_relevance, catalog, rows) -> np.ndarray:
    """All target tokens' relevance over ``rows`` (a title counts once per row that targets it)."""
    return np.concatenate([title_relevance[catalog.title(r.target)] for r in rows])
