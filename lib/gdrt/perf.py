"""The performance appendix's data: the benchmark results files (``benchmarks/results/*.json``, written
by the scripts in ``benchmarks/``), their targets checked, and tables of what was measured, by which
command, on which machine. Explained in the appendix "Performance"; the file layout is described in
``benchmarks/benchlib.py``. Reads files only: fast at every profile.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO / "benchmarks" / "results"
GPU_RESULTS_DIR = REPO / "benchmarks" / "gpu" / "results"

OPS = {">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t, "==": lambda v, t: v == t}


def load_results(directory=None) -> dict[str, dict]:
    """``{name: result}`` for every results file in ``directory`` (default ``benchmarks/results``),
    by name; files that are not benchmark results (no ``targets`` list) are skipped."""
    directory = Path(directory or RESULTS_DIR)
    out = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("targets"), list):
            out[data.get("name", path.stem)] = {**data, "path": str(path)}
    return out


def status(target: dict) -> str:
    """``"met"``, ``"missed"`` or ``"reported"`` (no threshold, or no value)."""
    op, th, v = target.get("op"), target.get("threshold"), target.get("value")
    if op is None or th is None:
        return "reported"
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "missed"
    if op not in OPS:
        raise ValueError(f"unknown comparison {op!r} in target {target.get('id')!r}")
    return "met" if OPS[op](float(v), float(th)) else "missed"


def _num(v, unit="") -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e5):
        s = f"{v:.1e}"
    elif a >= 100:
        s = f"{v:,.0f}"
    elif a >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def target_text(target: dict) -> str:
    """``">= 4x"``, ``"<= 1.03x"``, ``"== 1"``, ``"<= 0.0001"``, or ``"—"`` when only reported."""
    if target.get("op") is None or target.get("threshold") is None:
        return "—"
    return f"{target['op']} {float(target['threshold']):g}{target.get('unit', '')}"


def target_rows(result: dict) -> list[dict]:
    """One dict per target of a result: check, metric, target, measured, result, details."""
    return [{"check": t["label"], "metric": t["metric"], "target": target_text(t),
             "measured": _num(t.get("value"), t.get("unit", "")), "result": status(t), "details": t.get("note", "")}
            for t in result["targets"]]


def target_table(result: dict):
    """The targets of one benchmark as a DataFrame (index: the check)."""
    import pandas as pd

    return pd.DataFrame(target_rows(result)).set_index("check")


def machine_line(machine: dict) -> str:
    """One line: CPU model and cores (or the GPU), threads, load average at start and end, versions."""
    parts = []
    if machine.get("gpu"):
        parts.append(f"GPU {machine['gpu']}")
    parts.append(f"{machine.get('cpu_model', '?')}, {machine.get('usable_cpus', machine.get('logical_cpus', '?'))} cores")
    if machine.get("torch_threads") is not None:
        parts.append(f"{machine['torch_threads']} torch thread{'s' if machine['torch_threads'] != 1 else ''}")
    la0, la1 = machine.get("load_average_start"), machine.get("load_average")
    if la0 or la1:
        fmt = lambda la: "/".join(f"{x:.1f}" for x in la)  # noqa: E731
        parts.append("load average " + (f"{fmt(la0)} at start, " if la0 else "") + (f"{fmt(la1)} at end" if la1 else ""))
    versions = ", ".join(f"{k} {machine[k]}" for k in ("torch", "transformers") if machine.get(k))
    if versions:
        parts.append(versions)
    return "; ".join(parts)


def provenance(result: dict) -> dict:
    """Command, date, size and machine of a result, as strings."""
    s = result.get("settings", {})
    extra = f" ({s['thread_note']})" if s.get("thread_note") else ""
    return {"command": result.get("command", "?"), "date": result.get("date", "?"), "size": result.get("size", "?"),
            "machine": machine_line(result.get("machine", {})) + extra}


def report(result: dict | None, name: str = ""):
    """Markdown for one benchmark: the exact command, the machine and the date, then its targets table.
    A missing result says how to produce it."""
    from IPython.display import Markdown

    if result is None:
        return Markdown(f"```{{warning}}\nNo results file `benchmarks/results/{name}.json` yet: run "
                        f"`python benchmarks/{name}.py --quick`.\n```")
    p = provenance(result)
    rows = target_rows(result)
    head = "| check | target | measured | result | details |\n|---|---|---|---|---|\n"
    body = "".join(f"| {r['check']} | {r['target']} | {r['measured']} | "
                   f"{'**missed**' if r['result'] == 'missed' else r['result']} | {r['details']} |\n" for r in rows)
    return Markdown(f"`{p['command']}` · {p['size']} size · {p['date']}  \n*Machine:* {p['machine']}\n\n{head}{body}")


def summary_table(results: dict):
    """Every target of every benchmark: benchmark, check, target, measured, result (a DataFrame; the
    metric of each check is in its benchmark's :func:`report`)."""
    import pandas as pd

    rows = [{"benchmark": name, **{k: v for k, v in r.items() if k != "details"}}
            for name, res in results.items() for r in target_rows(res)]
    cols = ["benchmark", "check", "target", "measured", "result"]
    return pd.DataFrame(rows, columns=cols)


def counts(results: dict) -> dict:
    """How many targets were met, missed, or only reported, over all results."""
    out = {"met": 0, "missed": 0, "reported": 0}
    for res in results.values():
        for t in res["targets"]:
            out[status(t)] += 1
    return out


def glue_values(results: dict) -> dict:
    """Flat numbers for the prose: ``{benchmark}_{target id}`` -> measured value, and
    ``{benchmark}_{target id}_met`` -> "met" / "missed" / "reported"."""
    out = {}
    for name, res in results.items():
        for t in res["targets"]:
            if t.get("value") is not None:
                out[f"{name}_{t['id']}"] = float(t["value"])
            out[f"{name}_{t['id']}_met"] = status(t)
    return out


def profile_table(result: dict | None):
    """The operators that took the most time in a profiled training step (``train_speed --profile``),
    with their share of the step; empty when the results file has no profile."""
    import pandas as pd

    rows = (result or {}).get("measurements", [{}])[0].get("profile") or []
    return pd.DataFrame(rows, columns=["op", "share", "calls"]).set_index("op")


def ratio_words(result: dict, target_id: str, tolerance: float = 0.05) -> str:
    """A time ratio in words for the prose: "slower than", "about as fast as" (within ``tolerance``)
    or "faster than"."""
    value = next(t["value"] for t in result["targets"] if t["id"] == target_id)
    if abs(value - 1.0) <= tolerance:
        return "about as fast as"
    return "slower than" if value > 1.0 else "faster than"


def scaling_frame(results: dict):
    """All scaling points as a long DataFrame: benchmark, axis, x, series, seconds, peak_mb."""
    import pandas as pd

    rows = [{"benchmark": name, **p} for name, res in results.items() for p in res.get("scaling", [])]
    return pd.DataFrame(rows, columns=["benchmark", "axis", "x", "series", "seconds", "peak_mb"])


# ------------------------------------------------------------------------------------ the GPU run
def gpu_runs(directory=None) -> list[dict]:
    """The results of ``benchmarks/gpu`` runs (``benchmarks/gpu/results/*.json``), oldest first."""
    directory = Path(directory or GPU_RESULTS_DIR)
    out = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            out.append({**json.loads(path.read_text(encoding="utf-8")), "path": str(path)})
        except (OSError, json.JSONDecodeError):
            continue
    return out


def gpu_estimate(run: dict, epochs: float = 5.0, n_test: int = 5000, n_valid: int = 500) -> dict:
    """What one GPU run's measured rates imply for a training run of ``epochs`` epochs of the same
    model and batch, validated on ``n_valid`` rows per epoch and tested on ``n_test`` rows: seconds for
    each part, per method (training steps and decoding measured; nothing here is a new measurement)."""
    final = next(v for k, v in run.items() if k.endswith("_final"))
    val = run.get("validation", [{}])[-1]
    steps = final["steps"]
    s_step = final["seconds_per_step"]
    s_prompt = val["seconds"] / max(1, final["n_valid"]) if val.get("seconds") else None
    train = epochs * steps * s_step
    decode = None if s_prompt is None else (epochs * n_valid + n_test) * s_prompt
    return {"device": final.get("device", "?"), "steps_per_epoch": steps, "seconds_per_step": s_step,
            "tokens_per_second": final.get("tokens_per_second"), "decode_seconds_per_prompt": s_prompt,
            "epochs": epochs, "train_seconds": train, "decode_seconds": decode,
            "total_seconds": None if decode is None else train + decode,
            "batch_size": run.get("config", {}).get("batch_size"), "model": run.get("config", {}).get("model"),
            "date": run.get("date"), "command": run.get("command")}


GPU_LABELS = {"device": "device", "model": "model", "batch_size": "batch", "steps_per_epoch": "steps per epoch",
              "seconds_per_step": "seconds per step", "tokens_per_second": "training tokens/s",
              "decode_seconds_per_prompt": "decoding s/prompt (8 per batch)", "epochs": "epochs",
              "train_seconds": "training, s", "decode_seconds": "validation + test decoding, s",
              "total_seconds": "total per method, s", "date": "measured on"}


def gpu_table(estimate: dict):
    """:func:`gpu_estimate` as a two-column table (quantity, value), measured rates first."""
    import pandas as pd

    rows = [{"quantity": label, "value": _num(estimate[k]) if isinstance(estimate.get(k), float) else estimate.get(k)}
            for k, label in GPU_LABELS.items() if k in estimate]
    return pd.DataFrame(rows, columns=["quantity", "value"]).set_index("quantity")
