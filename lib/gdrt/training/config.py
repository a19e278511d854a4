"""The training run's configuration: a dataclass whose hash names the run directory. Kept free of
heavy imports so that a bad config fails in a blink. Explained in chapter 5, "Training"."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GDRTInputError
from ..io import JSONPairs, decode_text, key_line, parse_json

RUN_FORMAT = 1  # bump when a change makes cached runs stale
# fields that do not change a run's results, so not its identity (the hash naming its directory)
NOT_IN_KEY = ("save_steps", "gradient_checkpointing")


@dataclass
class TrainConfig:
    """Everything that defines a training run; its hash names the run directory."""

    data_dir: str
    dataset: str = "office"
    train_split: str = "train_10000"
    valid_split: str = "valid_500"
    n_train: int | None = None       # first n rows after a seeded shuffle; None = all
    n_valid: int | None = 100
    model: str = "smollm2-135m"
    adapter: str | None = "qlora"    # "qlora" | "lora"
    method: str = "sft"              # "sft" | "gdrt" | "reweight" (IFairLRS sample weights, chapter 6)
    token_loss: str = "ce"           # "ce" | "msl" (softmax over the trie's allowed tokens, chapter 6)
    n_groups: int = 5
    tau: float = 1.0
    grouping: str = "kmeans"         # "kmeans" | "quantile"
    epochs: float = 1.0
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 3e-4
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    max_history: int = 10
    bf16: bool = False
    group_by_length: bool = False    # batches of similar lengths (less padding; transformers' LengthGroupedSampler)
    gradient_checkpointing: bool = False  # recompute activations in the backward pass (non-reentrant):
    #                                       far less activation memory for about a third more compute
    eval_steps: int | None = None    # validate every N steps; None = at each epoch end
    group_share_every: int | None = None  # decode group_share_rows validation rows every N steps and log
    group_share_rows: int = 32            # the share of top-1 recommendations per item group (chapter 3)
    group_share_beams: int = 5
    num_beams: int = 10
    seed: int = 0
    save_steps: int | None = 20      # checkpoint every N optimizer steps (resume); None = never. Not in the key
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        _validate({f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, "config")

    @classmethod
    def from_dict(cls, d: dict, source: str = "config", lines: dict | None = None) -> "TrainConfig":
        """A config from a mapping of field -> value; every problem raises :class:`GDRTInputError`
        (a ``ValueError``), one line naming ``source``, the key's line (from ``lines``) and the key."""
        lines = lines or {}
        if not isinstance(d, dict):
            raise GDRTInputError(source, f"the config must be a JSON object (field -> value), found {_show(d)}", line=1)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(map(str, d)) - names)
        if unknown:
            raise GDRTInputError(
                source,
                f"unknown config key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}",
                line=lines.get(unknown[0]),
                field=unknown[0],
            )
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in d
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise GDRTInputError(source, f"missing required config key(s) {', '.join(missing)}", field=missing[0])
        defaults = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
                    for f in dataclasses.fields(cls) if f.name not in d}
        _validate({**defaults, **d}, source, lines)
        return cls(**d)

    @classmethod
    def from_json(cls, path, overrides: dict | None = None) -> "TrainConfig":
        """A config from a JSON file (UTF-8, a leading BOM allowed): one JSON object of fields.
        Errors name the file, the key's line and the key; a key given twice is an error. Environment
        variables in ``data_dir`` are expanded (``"$GDRT_DATA/Office"``); ``overrides`` (field ->
        value, e.g. from the command line) replace the file's values before validation."""
        path = Path(path)
        if not path.is_file():
            raise GDRTInputError(path, "config file not found" if not path.exists() else "not a file")
        data = path.read_bytes()
        if not data.strip():
            raise GDRTInputError(path, "config file is empty" + (" (0 bytes)" if not data else ""))
        text = decode_text(path, data)

        def as_dict(v):  # JSON objects as dicts, a key given twice refused (json would keep the last)
            if isinstance(v, list):
                items = [(k, as_dict(x)) for k, x in v] if isinstance(v, JSONPairs) else [as_dict(x) for x in v]
                if not isinstance(v, JSONPairs):
                    return items
                seen = {}
                for k, x in items:
                    if k in seen:
                        raise GDRTInputError(path, f"key {k!r} given twice", line=key_line(text, k, 2), field=k)
                    seen[k] = x
                return seen
            return v

        raw = as_dict(parse_json(path, text))
        lines = {k: key_line(text, k) for k in raw} if isinstance(raw, dict) else {}
        if isinstance(raw, dict):
            if isinstance(raw.get("data_dir"), str):
                raw["data_dir"] = os.path.expandvars(raw["data_dir"])
            raw.update(overrides or {})
        return cls.from_dict(raw, source=str(path), lines=lines)

    def key(self) -> str:
        d = dataclasses.asdict(self)
        d["data_dir"] = str(Path(self.data_dir).resolve())
        if d["token_loss"] == "ce":  # keep the hashes of runs made before the option existed
            del d["token_loss"]
        if d["method"] == "reweight":  # its weights come from the Eq. 2 item groups (title tokens since v3)
            d["item_groups"] = "title"
        if not d["group_by_length"]:  # likewise: runs before the option keep their hashes
            del d["group_by_length"]
        if d["group_share_every"] is None:
            for k in ("group_share_every", "group_share_rows", "group_share_beams"):
                del d[k]
        for k in NOT_IN_KEY:  # how a run is carried out, not what it computes
            d.pop(k, None)
        blob = json.dumps({"format": RUN_FORMAT, **d}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def run_name(self) -> str:
        """``METHOD-DATASET-KEY``; MSL runs are ``msl-...`` (SFT's aggregation) or ``gdrt-msl-...``."""
        method = self.method if self.token_loss == "ce" else ("msl" if self.method == "sft" else f"{self.method}-msl")
        return f"{method}-{self.dataset}-{self.key()}"


# --------------------------------------------------------------------------------------------------
# validation: the type of every field, then the allowed values

_CHOICES = {"method": ("sft", "gdrt", "reweight"), "token_loss": ("ce", "msl"), "adapter": ("qlora", "lora"), "grouping": ("kmeans", "quantile")}
_POSITIVE = ("tau", "epochs", "lr", "lora_alpha")                      # > 0
_AT_LEAST_1 = ("n_groups", "batch_size", "grad_accum", "lora_r", "max_history", "group_share_rows",
               "group_share_beams", "num_beams", "n_train", "n_valid", "eval_steps", "group_share_every", "save_steps")
_NON_NEGATIVE = ("warmup_ratio", "weight_decay", "seed")


def _show(v) -> str:
    """A value as JSON writes it (``"1"`` is a string, ``null``, ``true``), cut to 60 characters."""
    try:
        text = json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 60 else text[:60] + "..."


def _type_ok(annotation: str, v) -> bool:
    if v is None:
        return "None" in annotation
    base = annotation.replace(" | None", "")
    if base == "bool":
        return isinstance(v, bool)
    if base == "int":
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)
    if base == "float":
        return isinstance(v, numbers.Real) and not isinstance(v, bool)
    if base == "str":
        return isinstance(v, str)
    if base == "dict":
        return isinstance(v, dict)
    return True


def _validate(values: dict, source: str, lines: dict | None = None) -> None:
    """Raise :class:`GDRTInputError` (one line: source, line, field) for the first bad value."""
    lines = lines or {}

    def bad(name, msg):
        raise GDRTInputError(source, msg, line=lines.get(name), field=name)

    types = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
    for name, annotation in types.items():
        v = values.get(name)
        if not _type_ok(annotation, v):
            want = annotation.replace("float", "a number").replace("int", "an integer").replace("str", "a string")
            want = want.replace("bool", "true or false").replace("dict", "an object").replace(" | None", " or null")
            bad(name, f"{name} must be {want}, got {_show(v)}")
        if isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isfinite(v):
            bad(name, f"{name} must be a finite number, got {v!r}")
    for name, choices in _CHOICES.items():
        if values.get(name) not in choices:
            names = [repr(c) for c in choices]
            bad(name, f"{name} must be {', '.join(names[:-1])} or {names[-1]}, got {values.get(name)!r}")
    for name in _POSITIVE:
        if not values[name] > 0:
            bad(name, f"{name} must be > 0, got {values[name]}")
    for name in _AT_LEAST_1:
        if values.get(name) is not None and values[name] < 1:
            bad(name, f"{name} must be >= 1, got {values[name]}")
    for name in _NON_NEGATIVE:
        if values[name] < 0:
            bad(name, f"{name} must be >= 0, got {values[name]}")
    if not values["lora_dropout"] >= 0 or not values["lora_dropout"] < 1:
        bad("lora_dropout", f"lora_dropout must be in [0, 1), got {values['lora_dropout']}")
    for name in ("data_dir", "model", "dataset", "train_split", "valid_split"):
        if not values[name].strip():
            bad(name, f"{name} must not be empty")
