"""The training run's configuration: a dataclass whose hash names the run directory. Kept free of
heavy imports so that a bad config fails in a blink. Explained in chapter 5, "Training"."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

RUN_FORMAT = 1  # bump when a change makes cached runs stale


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
    method: str = "sft"              # "sft" | "gdrt"
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
    eval_steps: int | None = None    # validate every N steps; None = at each epoch end
    group_share_every: int | None = None  # decode group_share_rows validation rows every N steps and log
    group_share_rows: int = 32            # the share of top-1 recommendations per item group (chapter 3)
    group_share_beams: int = 5
    num_beams: int = 10
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in ("sft", "gdrt"):
            raise ValueError(f"method must be 'sft' or 'gdrt', got {self.method!r}")
        if not self.tau > 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        if self.n_groups < 1:
            raise ValueError(f"n_groups must be >= 1, got {self.n_groups}")
        if self.adapter not in ("qlora", "lora"):
            raise ValueError(f"adapter must be 'qlora' or 'lora', got {self.adapter!r}")

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"{source}: unknown config key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**d)

    def key(self) -> str:
        d = dataclasses.asdict(self)
        d["data_dir"] = str(Path(self.data_dir).resolve())
        if d["group_share_every"] is None:  # keep the hashes of runs made before the option existed
            for k in ("group_share_every", "group_share_rows", "group_share_beams"):
                del d[k]
        blob = json.dumps({"format": RUN_FORMAT, **d}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def run_name(self) -> str:
        return f"{self.method}-{self.dataset}-{self.key()}"
