"""``python -m gdrt``: the scripted entry for long runs, sharing the chapters' code.

    python -m gdrt train --config FILE [--key value ...] [--runs-root DIR] [--overwrite]
    python -m gdrt evaluate --run DIR [--split test_5000] [--limit N] [--num-beams B] [--length-penalty L]
    python -m gdrt evaluate --model M --data-dir D --dataset NAME --split test [--limit N]
                            [--num-beams B] [--length-penalty L] --output-dir OUT [--adapter DIR]
    python -m gdrt reference --spec FILE [--pilot] [--only PART,...] [--commit]
    python -m gdrt estimate --profile gpu [--model PATH] [--dataset NAME]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .errors import GDRTInputError


def _coerce(path, field: dataclasses.Field, text: str):
    """A command-line value for a TrainConfig field; a bad one is a one-line error naming the option."""
    if text in ("None", "null"):
        return None
    t = str(field.type)
    try:
        if "bool" in t:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        if "int" in t and "float" not in t:
            return int(text)
        if "float" in t:
            return float(text)
    except ValueError:
        kind = "true/false" if "bool" in t else "an integer" if "int" in t and "float" not in t else "a number"
        raise GDRTInputError(path, f"option --{field.name} expects {kind}, got {text!r}", field=field.name) from None
    return text


def _train(argv):
    from .training.config import TrainConfig

    p = argparse.ArgumentParser(prog="gdrt train")
    p.add_argument("--config", required=True, help="JSON file with TrainConfig fields")
    p.add_argument("--runs-root", default="runs")
    p.add_argument("--overwrite", action="store_true",
                   help="retrain from scratch even if the run directory holds a finished or unfinished run")
    args, rest = p.parse_known_args(argv)
    path = Path(args.config)
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    overrides = {}
    it = iter(rest)
    for flag in it:
        key = flag.lstrip("-").replace("-", "_")
        if not flag.startswith("--") or key not in fields:
            raise GDRTInputError(path, f"unknown option {flag}; config keys: {', '.join(sorted(fields))}")
        value = next(it, None)
        if value is None:
            raise GDRTInputError(path, f"option {flag} needs a value")
        overrides[key] = _coerce(path, fields[key], value)
    cfg = TrainConfig.from_json(path, overrides)  # one-line GDRTInputError naming file, line and key
    from .training.runs import train_run

    res = train_run(cfg, runs_root=args.runs_root, overwrite=args.overwrite)
    from .evaluation import is_main_process

    if not is_main_process():  # under `accelerate launch` one line from process 0, not one per process
        return
    # what happened, on stderr: "reused the finished run at ..." / "resumed from checkpoint step N ..." /
    # "trained from scratch: ..."; stdout keeps the run directory alone
    print(f"gdrt train: {res.note}" + (" (pass --overwrite to retrain)" if res.status == "reused" else ""),
          file=sys.stderr)
    print(res.run_dir)


def _evaluate(argv):
    from .evaluation import evaluate, evaluate_run, is_main_process, reference_item_groups

    p = argparse.ArgumentParser(prog="gdrt evaluate")
    p.add_argument("--run")
    p.add_argument("--model")
    p.add_argument("--adapter", help="a trained adapter directory (e.g. RUN/best); inside a run directory "
                   "it is merged into the base the run trained it on")
    p.add_argument("--nf4-base", action="store_true", help="a QLoRA adapter from elsewhere: merge it into "
                   "the NF4-dequantized base (the weights it was trained against)")
    p.add_argument("--data-dir")
    p.add_argument("--dataset")
    p.add_argument("--split", default="test_5000")
    p.add_argument("--limit", type=int)
    p.add_argument("--num-beams", type=int, default=10)
    p.add_argument("--length-penalty", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--output-dir")
    p.add_argument("--overwrite", action="store_true", help="replace results already in the output directory")
    a = p.parse_args(argv)
    if a.run:
        m, out = evaluate_run(a.run, a.split, a.limit, a.num_beams, a.length_penalty, a.batch_size,
                              overwrite=a.overwrite)
    else:
        missing = [n for n in ("model", "data_dir", "dataset", "output_dir") if getattr(a, n) is None]
        if missing:
            p.error("without --run, these are required: " + ", ".join("--" + m.replace("_", "-") for m in missing))
        from .data import complete_dataset, get_preset, load_catalog, load_split
        from .models.loading import load_model, load_trained

        out = Path(a.output_dir)
        if (out / "metrics.json").exists() and not a.overwrite:
            raise GDRTInputError(out / "metrics.json", "results already exist; pass --overwrite to replace them")
        preset = get_preset(a.dataset)
        data_dir = Path(a.data_dir)
        if data_dir.is_dir() and not (data_dir / f"{a.split}.csv").exists():  # e.g. Book's test_500
            data_dir = complete_dataset(data_dir)  # from its derived folder (README, "Where the data comes from")
        catalog = load_catalog(data_dir)
        rows = load_split(data_dir, a.split, catalog)[: a.limit or None]
        run_cfg = Path(a.adapter).parent / "config.json" if a.adapter else None
        if run_cfg is not None and run_cfg.exists():  # RUN/best: evaluated as its run trained it
            lm = load_trained(run_cfg.parent, Path(a.adapter).name)
        else:
            lm = load_model(a.model, adapter="qlora" if a.nf4_base else None, adapter_path=a.adapter)
        # under `accelerate launch` every process decodes a shard; only process 0 scores and writes
        groups = reference_item_groups(a.model, catalog, preset) if is_main_process() else None
        m = evaluate(lm.model, lm.tokenizer, rows, catalog, preset, out, groups,
                     config={"model": a.model, "adapter": a.adapter, "data_dir": a.data_dir,
                             "dataset": a.dataset, "split": a.split, "limit": a.limit},
                     num_beams=a.num_beams, length_penalty=a.length_penalty, batch_size=a.batch_size)
    if is_main_process():
        print(json.dumps({"output_dir": str(out), **{k: v for k, v in m.items() if not isinstance(v, list)}}))


def _reference(argv):
    from .reference import Reference, ReferenceSpec

    p = argparse.ArgumentParser(prog="gdrt reference", description="the reference experiment (gdrt.reference); "
                                "stop and rerun it any time: it resumes where it stopped")
    p.add_argument("--spec", required=True, help="JSON file with ReferenceSpec fields")
    p.add_argument("--pilot", action="store_true", help="also run the sizing pilot first")
    p.add_argument("--only", help="comma-separated parts (base, seed0, seed1-gdrt, pilot, ...)")
    p.add_argument("--commit", action="store_true", help="git-commit each part's results folder when it finishes")
    a = p.parse_args(argv)
    spec = ReferenceSpec.from_json(a.spec)
    only = [x.strip() for x in a.only.split(",")] if a.only else None
    ref = Reference(spec, commit=a.commit)
    ref.spec_path = a.spec
    ref.run(only=only, pilot=a.pilot or bool(only and "pilot" in only))


def _estimate(argv):
    from .estimate import report

    p = argparse.ArgumentParser(prog="gdrt estimate", description="the work of every chapter at a profile, and "
                                "its hours from measured rates (gdrt.estimate)")
    p.add_argument("--profile", default="gpu")
    p.add_argument("--model", help="a local model folder or a known name (default: the profile's)")
    p.add_argument("--dataset", help="default: the profile's")
    a = p.parse_args(argv)
    print(report(a.profile, a.model, a.dataset))


def main(argv=None) -> int:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # its CPU-kernel notice is not an error
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "evaluate", "reference", "estimate"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        {"train": _train, "evaluate": _evaluate, "reference": _reference, "estimate": _estimate}[argv[0]](argv[1:])
    except (GDRTInputError, FileNotFoundError, KeyError, ValueError) as e:
        msg = str(e).strip("'\"") if isinstance(e, KeyError) else str(e)
        print(f"gdrt {argv[0]}: error: {msg}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
