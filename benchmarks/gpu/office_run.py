"""One epoch of SFT and GDRT on Office with the default model, then test_5000, on a GPU.

Run on a lent GPU machine after benchmarks/gpu/pack.sh's parts are in .gpu_store/ (README.md
beside this file). Prints step time, training tokens/s, decoding s/prompt and the metrics; copies the
results to $OUT (or ./gpu_out).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch

from gdrt.book import _quiet
from gdrt.evaluation import evaluate_run, reference_item_groups
from gdrt.training.runs import TrainConfig, train

OUT = Path(os.environ.get("OUT", "gpu_out"))
DATA = Path(os.environ["GDRT_DATA"]) / "Office"
EPOCHS = float(os.environ.get("EPOCHS", "1"))
N_TEST = int(os.environ.get("N_TEST", "5000"))
N_TRAIN = int(os.environ["N_TRAIN"]) if os.environ.get("N_TRAIN") else None  # a dry run on a CPU: small
N_VALID = int(os.environ.get("N_VALID", "200"))


def main() -> int:
    _quiet()
    print("device:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu", flush=True)
    from gdrt.data import get_preset, load_catalog

    catalog = load_catalog(DATA)
    t0 = time.perf_counter()
    groups = reference_item_groups("smollm2-135m", catalog, get_preset("office"))
    print(f"relevance pass over {catalog.n_titles} titles: {time.perf_counter() - t0:.1f} s", flush=True)
    summary = {}
    for method in ("sft", "gdrt"):
        cfg = TrainConfig(data_dir=str(DATA), dataset="office", model="smollm2-135m", adapter="qlora",
                          method=method, n_groups=5, tau=0.5, grouping="kmeans", train_split="train_10000",
                          valid_split="valid_500", n_valid=N_VALID, n_train=N_TRAIN, epochs=EPOCHS, batch_size=32, lr=5e-4, bf16=True)
        run = train(cfg, runs_root=OUT / "runs", progress=False)
        final = json.loads((run / "final.json").read_text())
        m, ev = evaluate_run(run, "test_5000", limit=N_TEST, batch_size=64, item_groups=groups, progress=False)
        timing = json.loads((ev / "timing.json").read_text())
        summary[method] = {"final": final, "metrics": m, "timing": timing}
        print(json.dumps({"method": method, **{k: final[k] for k in ("steps", "train_seconds", "seconds_per_step",
                                                                      "tokens_per_second", "validation_seconds")
                                                if k in final},
                          "s_per_prompt": timing["seconds_per_prompt"],
                          **{k: v for k, v in m.items() if not isinstance(v, list)},
                          "top1_group_share": m["top1_group_share"]}), flush=True)
        shutil.rmtree(run / "best", ignore_errors=True)  # adapters stay behind; results come back
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
