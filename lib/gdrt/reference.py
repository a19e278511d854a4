"""The reference experiment: SFT and GDRT on a paper dataset, several seeds, evaluated on the same test
rows, with the diagnostics of chapter 3, written as small result files that the book reads.

    python -m gdrt reference --spec configs/reference-book.json [--commit] [--only base,seed0]

A *spec* (JSON, :class:`ReferenceSpec`) names the training settings every run shares, the methods
(each a set of TrainConfig overrides), the seeds, the test rows (a seeded sample of one split) and
the attribution sample. The experiment is a list of *parts*, done in this order:

1. ``base``: the untuned model decodes the test rows and each seed's validation rows (the step-0
   point of the group shares over training), and its attribution is measured;
2. ``seed<S>-<method>`` for every seed, then method: train (or reuse, or resume), evaluate on the
   test rows, measure attribution.

Every step is cached or resumable (training from its checkpoints, decoding from its chunks), so the
command can be stopped and run again any number of times: it picks up where it stopped and skips what
is done. When a part is finished its small files are exported into ``results_dir/<part>/``: configs,
training logs, the validation lists, the test predictions (without prompts and titles, which the
catalog and the rows give back), metrics and attribution, and ``manifest.json`` records the command,
commit, machine, versions and wall times. With ``--commit`` each finished part is committed to git at
once (only the results folder). Nothing in the results folder holds weights.
Explained in chapter 7, "Does it replicate here?".
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GDRTInputError
from .io import read_json, write_json, write_jsonl

REPO = Path(__file__).resolve().parents[2]
RESULTS_FORMAT = 1


@dataclass
class ReferenceSpec:
    """What the reference experiment runs. ``train``: TrainConfig fields every run shares;
    ``methods``: ``{name: TrainConfig overrides}`` (e.g. ``{"gdrt": {"method": "gdrt", "tau": 1.0}}``);
    ``seeds``: one run per seed and method (the seed changes the row order, the training subset and
    the adapter's initialisation); test rows: a seeded sample (``test_seed``) of ``n_test`` rows of
    ``test_split``; attribution on ``n_attr`` of those rows, per token (at most ``attr_tokens`` tokens
    of each type per row, None = all) and per whole feature."""

    name: str
    train: dict
    methods: dict
    seeds: list = field(default_factory=lambda: [0, 1, 2])
    test_split: str = "test_5000"
    n_test: int = 1000
    test_seed: int = 0
    n_attr: int = 48
    attr_tokens: int | None = 24
    baseline: str = "remove"
    num_beams: int = 10
    trace_base: bool = True
    results_dir: str = "results/reference"
    runs_root: str = "runs/reference"
    pilot: dict | None = None      # TrainConfig overrides of the sizing pilot (a longer SFT run, seed 0)

    @classmethod
    def from_json(cls, path) -> "ReferenceSpec":
        path = Path(path)
        if not path.is_file():
            raise GDRTInputError(path, "spec file not found")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise GDRTInputError(path, f"not valid JSON: {e}") from None
        if not isinstance(raw, dict):
            raise GDRTInputError(path, "the spec must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise GDRTInputError(path, f"unknown spec key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}",
                                 field=unknown[0])
        for key in ("name", "train", "methods"):
            if key not in raw:
                raise GDRTInputError(path, f"missing spec key {key!r}", field=key)
        spec = cls(**raw)
        spec.validate(path)
        return spec

    def validate(self, source="spec") -> None:
        if not isinstance(self.methods, dict) or not self.methods:
            raise GDRTInputError(source, "methods must be a non-empty object {name: overrides}", field="methods")
        if not self.seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in self.seeds):
            raise GDRTInputError(source, f"seeds must be a non-empty list of integers >= 0, got {self.seeds!r}",
                                 field="seeds")
        for key in ("n_test", "n_attr", "num_beams"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise GDRTInputError(source, f"{key} must be an integer >= 1, got {v!r}", field=key)
        for name in self.methods:
            self.train_config(name, self.seeds[0])  # every TrainConfig builds (one-line error otherwise)

    def train_config(self, method: str, seed: int):
        from .training.config import TrainConfig

        d = {**self.train, **self.methods[method], "seed": seed}
        if isinstance(d.get("data_dir"), str):
            d["data_dir"] = os.path.expandvars(d["data_dir"])
        return TrainConfig.from_dict(d, source=f"spec {self.name}, method {method}")

    def pilot_config(self):
        from .training.config import TrainConfig

        d = {**self.train, **self.methods.get("sft", {}), **(self.pilot or {}), "seed": 0}
        d["data_dir"] = os.path.expandvars(d["data_dir"])
        return TrainConfig.from_dict(d, source=f"spec {self.name}, pilot")

    def parts(self) -> list[str]:
        return ["base"] + [f"seed{s}-{m}" for s in self.seeds for m in self.methods]


# --------------------------------------------------------------------------------------- helpers
def spec_sha(spec: ReferenceSpec) -> str:
    """A hash of everything in the spec that changes results (not where they are written)."""
    import hashlib

    d = dataclasses.asdict(spec)
    for k in ("results_dir", "runs_root"):
        d.pop(k, None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def commit_results(paths, message: str, attempts: int = 5) -> bool:
    """``git add`` and ``git commit`` of ``paths`` only (other staged changes stay staged, uncommitted);
    retried while another git command holds the index lock. Returns whether a commit was made."""
    paths = [str(p) for p in paths]
    for i in range(attempts):
        add = subprocess.run(["git", "add", "--", *paths], cwd=REPO, capture_output=True, text=True)
        if add.returncode == 0:
            diff = subprocess.run(["git", "diff", "--cached", "--quiet", "--", *paths], cwd=REPO)
            if diff.returncode == 0:
                return False  # nothing new
            done = subprocess.run(["git", "commit", "-q", "-m", message, "--", *paths], cwd=REPO,
                                  capture_output=True, text=True)
            if done.returncode == 0:
                return True
            err = done.stderr
        else:
            err = add.stderr
        if "index.lock" not in err:
            print(f"reference: git commit failed: {err.strip().splitlines()[-1] if err.strip() else '?'}",
                  file=sys.stderr)
            return False
        time.sleep(2 + 3 * i)
    return False


def compact_predictions(preds) -> list[dict]:
    """Predictions as committed: row, user, target, history and the ranked id lists (the prompt and
    the titles follow from the rows and the catalog), with the search's scores rounded to 1e-4."""
    return [{"row": p["row"], "user_id": p["user_id"], "target": p["target"], "history": p["history"],
             "item_ids": p["item_ids"], "scores": [round(float(s), 4) for s in p["scores"]]} for p in preds]


def update_json(path: Path, change) -> dict:
    """Read ``path`` (``{}`` if absent), apply ``change(data)`` in place, write it back atomically, all
    under an exclusive lock on ``path.lock``: several parts may run at once in separate processes.
    A change that changes nothing writes nothing."""
    import copy
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = read_json(path) if path.exists() else {}
        before = copy.deepcopy(data)
        change(data)
        if data != before or not path.exists():
            write_json(path, data)
    return data


class Stopwatch:
    """Wall seconds per named step of each part, added up over every attempt, in ``timing.json``."""

    def __init__(self, path: Path):
        self.path = path

    def add(self, part: str, step: str | None, seconds: float = 0.0, extra: dict | None = None) -> None:
        def change(data):
            entry = data.setdefault("parts", {}).setdefault(part, {})
            if step is not None:
                entry[f"{step}_seconds"] = round(entry.get(f"{step}_seconds", 0.0) + seconds, 1)
            if extra:
                entry.update(extra)

        update_json(self.path, change)


# ------------------------------------------------------------------------------------ the parts
class Reference:
    """Runs the parts of a :class:`ReferenceSpec` (module docstring)."""

    def __init__(self, spec: ReferenceSpec, commit: bool = False, progress: bool = True):
        self.spec, self.commit, self.progress = spec, commit, progress
        self.results = REPO / spec.results_dir if not Path(spec.results_dir).is_absolute() else Path(spec.results_dir)
        self.runs_root = REPO / spec.runs_root if not Path(spec.runs_root).is_absolute() else Path(spec.runs_root)
        self._data = None
        self.spec_path = ""
        # what ran, taken when the process starts (a later results commit must not stand for the code)
        self.provenance = {"command": "python -m gdrt " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "",
                           "commit": _git("rev-parse", "HEAD"),
                           "uncommitted_changes": bool(_git("status", "--porcelain", "--", "lib", "configs")),
                           "spec_sha": spec_sha(spec)}

    # data ------------------------------------------------------------------------------------
    def data(self):
        """The catalog, the test rows and the attribution rows (loaded once)."""
        if self._data is None:
            from types import SimpleNamespace

            from .data import complete_dataset, get_preset, load_catalog, load_split
            from .evaluation import evaluation_rows
            from .training.runs import subset

            cfg = self.spec.train_config(next(iter(self.spec.methods)), self.spec.seeds[0])
            data_dir = complete_dataset(cfg.data_dir)
            catalog = load_catalog(data_dir)
            test = evaluation_rows(load_split(data_dir, self.spec.test_split, catalog), self.spec.n_test,
                                   self.spec.test_seed)
            self._data = SimpleNamespace(cfg=cfg, data_dir=data_dir, catalog=catalog, preset=get_preset(cfg.dataset),
                                         test=test, attr=subset(test, self.spec.n_attr, self.spec.test_seed),
                                         load_split=lambda s: load_split(data_dir, s, catalog))
        return self._data

    def _record(self, part: str | None = None) -> None:
        """Write the experiment into ``manifest.json`` (spec, spec hash, machine, command) and, with
        ``part``, mark it done with what made it (command, commit at the start of the process, spec
        hash, machine). Called once at the start too, so that a results folder with nothing finished
        yet still says what it is planned to hold. Refused if the manifest's spec is another one."""
        from .machine import machine

        def change(man):
            if man.get("spec_sha") not in (None, self.provenance["spec_sha"]):
                raise GDRTInputError(self.results / "manifest.json", "these results were made with another spec "
                                     f"(spec_sha {man['spec_sha']}, this one {self.provenance['spec_sha']}); use "
                                     "another results_dir, or move the old results away")
            man.update({"format": RESULTS_FORMAT, "name": self.spec.name, "spec": dataclasses.asdict(self.spec),
                        "spec_sha": self.provenance["spec_sha"]})
            man.setdefault("machine", machine())
            man.setdefault("done", [])
            if part is not None:
                man["machine"] = machine()
                if part not in man["done"]:
                    man["done"].append(part)
                man.setdefault("parts", {})[part] = {**self.provenance, "machine": machine()}
            man["command"] = "python -m gdrt reference --spec " + self.spec_path if self.spec_path else man.get("command")

        update_json(self.results / "manifest.json", change)

    def _finish(self, part: str, files_dir: Path) -> None:
        """Mark ``part`` done (``_record``) and, with ``--commit``, commit its files."""
        self._record(part)
        if self.commit:
            commit_results([self.results / n for n in ("manifest.json", "timing.json", "item_groups.json", part)
                            if (self.results / n).exists()],
                           f"Reference experiment {self.spec.name}: {part} finished")

    def is_done(self, part: str) -> bool:
        man = self.results / "manifest.json"
        return man.exists() and part in read_json(man).get("done", []) and (self.results / part).is_dir()

    # attribution --------------------------------------------------------------------------------
    def _attribution(self, lm, out: Path, watch: Stopwatch, part: str) -> None:
        from .diagnostics.attribution import attribute_rows, attribute_tokens

        d = self.data()
        token = lambda rows: attribute_tokens(lm.model, lm.tokenizer, rows, d.catalog, d.preset,  # noqa: E731
                                              self.spec.baseline, d.cfg.max_history, max_tokens=self.spec.attr_tokens,
                                              seed=self.spec.test_seed)
        feature = lambda rows: attribute_rows(lm.model, lm.tokenizer, rows, d.catalog, d.preset,  # noqa: E731
                                              self.spec.baseline, d.cfg.max_history)
        for name, fn, extra in (("token", token, {"max_tokens": self.spec.attr_tokens}), ("feature", feature, {})):
            final = out / f"attribution-{name}.json"
            if final.exists():
                continue
            t0 = time.perf_counter()
            res = self._in_chunks(fn, d.attr, out / f".attribution-{name}.partial.jsonl")
            write_json(final, {"baseline": self.spec.baseline, **extra, "rows": res}, indent=None)
            (out / f".attribution-{name}.partial.jsonl").unlink(missing_ok=True)
            watch.add(part, f"attribution_{name}", time.perf_counter() - t0)

    def _in_chunks(self, fn, rows, partial: Path, chunk: int = 4) -> list[dict]:
        """``fn(rows)`` chunk by chunk, each finished chunk saved to ``partial`` (rewritten atomically),
        so a stopped run keeps what it measured; ``row`` numbers are positions in ``rows``."""
        done = _read_jsonl(partial) if partial.exists() else []
        done = done[: len(done) - len(done) % chunk] if len(done) < len(rows) else done
        for start in range(len(done), len(rows), chunk):
            part = fn(rows[start:start + chunk])
            for r in part:
                r["row"] += start
            done += part
            write_jsonl(partial, done)
            if self.progress:
                print(f"  attribution {partial.stem.split('.')[0].lstrip('.')}: {len(done)}/{len(rows)} rows",
                      file=sys.stderr, flush=True)
        return done

    # base -------------------------------------------------------------------------------------
    def run_base(self) -> None:
        import torch

        from .evaluation import evaluate, reference_item_groups
        from .models.loading import load_model
        from .training.runs import subset

        part = "base"
        out = self.results / part
        watch = Stopwatch(self.results / "timing.json")
        d = self.data()
        lm = load_model(d.cfg.model)
        staging = self.runs_root / f"base-{d.cfg.dataset}"
        groups = reference_item_groups(d.cfg.model, d.catalog, d.preset, lm=lm)
        if not (self.results / "item_groups.json").exists():  # Eq. 2 both ways, for every metric and chapter 3
            other = reference_item_groups(d.cfg.model, d.catalog, d.preset, lm=lm, tokens="response")
            write_json(self.results / "item_groups.json", {
                tokens: {str(i): [v["group"], round(v["relevance"], 6)] for i, v in g.items()}
                for tokens, g in (("title", groups), ("response", other))}, indent=None)
        test_dir = staging / f"eval-{self.spec.test_split}-{self.spec.n_test}-s{self.spec.test_seed}"
        with torch.inference_mode():
            if not (out / "predictions.jsonl").exists():
                t0 = time.perf_counter()
                if not (test_dir / "metrics.json").exists():
                    evaluate(lm.model, lm.tokenizer, d.test, d.catalog, d.preset, test_dir, groups,
                             config={"model": d.cfg.model, "split": self.spec.test_split, "n": self.spec.n_test,
                                     "sample_seed": self.spec.test_seed},
                             num_beams=self.spec.num_beams, max_history=d.cfg.max_history, progress=self.progress)
                self._export_eval(test_dir, out)
                watch.add(part, "test_decode", time.perf_counter() - t0)
            if self.spec.trace_base:
                # step 0 of every trace: the untuned model on the validation rows of each seed's runs,
                # and on the pilot's (its own number of rows), named by split, rows and seed
                configs = [self.spec.train_config(next(iter(self.spec.methods)), seed) for seed in self.spec.seeds]
                if self.spec.pilot:
                    configs.append(self.spec.pilot_config())
                for cfg in configs:
                    seed = cfg.seed
                    dest = out / "validation" / base_validation_name(cfg.valid_split, cfg.n_valid, seed)
                    if dest.exists():
                        continue
                    t0 = time.perf_counter()
                    rows = subset(d.load_split(cfg.valid_split), cfg.n_valid, seed)  # the rows those runs validate on
                    vdir = staging / f"valid-{cfg.valid_split}-{cfg.n_valid}-seed{seed}"
                    if not (vdir / "metrics.json").exists():
                        evaluate(lm.model, lm.tokenizer, rows, d.catalog, d.preset, vdir, groups,
                                 config={"model": d.cfg.model, "split": cfg.valid_split, "n": cfg.n_valid, "seed": seed},
                                 num_beams=cfg.num_beams, max_history=cfg.max_history, progress=self.progress)
                    preds = _read_jsonl(vdir / "predictions.jsonl")
                    write_jsonl(dest, [{"row": p["row"], "target": p["target"], "item_ids": p["item_ids"]} for p in preds])
                    watch.add(part, "valid_decode", time.perf_counter() - t0)
        if not (out / "cooccurrence.json").exists():  # paper Fig. 5 on the training rows of seed 0's runs
            from .diagnostics.cooccurrence import cooccurrence_counts, cooccurrence_summary
            from .training.runs import _load_data

            train_rows = _load_data(self.spec.train_config(next(iter(self.spec.methods)), self.spec.seeds[0]))[1]
            counts, n_positions = cooccurrence_counts(lm.tokenizer, train_rows, d.catalog, d.preset, d.cfg.max_history)
            summary = cooccurrence_summary(counts, n_positions)
            write_json(out / "cooccurrence.json", {"n_positions": n_positions, "n_rows": len(train_rows),
                                                   "summary": summary.reset_index().to_dict(orient="records")})
        self._attribution(lm, out, watch, part)
        write_json(out / "model.json", {"model": d.cfg.model, "note": "the untuned base model, fp32"})
        self._finish(part, out)

    # one trained run ----------------------------------------------------------------------------
    def run_part(self, seed: int, method: str) -> None:
        import torch

        from .evaluation import evaluate_run
        from .models.loading import load_trained
        from .training.runs import load_run, train_run

        part = f"seed{seed}-{method}"
        out = self.results / part
        watch = Stopwatch(self.results / "timing.json")
        cfg = self.spec.train_config(method, seed)
        res = train_run(cfg, runs_root=self.runs_root, progress=self.progress)  # its time: final.json
        run = load_run(res.run_dir)
        source = {"run_dir": res.run_dir.name, "test_split": self.spec.test_split, "n_test": self.spec.n_test,
                  "test_seed": self.spec.test_seed, "num_beams": self.spec.num_beams, "n_attr": self.spec.n_attr,
                  "attr_tokens": self.spec.attr_tokens, "baseline": self.spec.baseline}
        if (out / "source.json").exists() and read_json(out / "source.json") != source:
            shutil.rmtree(out)  # files of another run or other settings: never mixed with this one's
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "source.json", source)
        for name in ("config.json", "final.json", "train_log.json", "grouping.json"):
            if (res.run_dir / name).exists():
                write_json(out / name, read_json(res.run_dir / name), indent=None if name == "train_log.json" else 2)
        val = sorted((res.run_dir / "validation").glob("step-*.jsonl"))
        for v in val:
            (out / "validation").mkdir(parents=True, exist_ok=True)
            (out / "validation" / v.name).write_bytes(v.read_bytes())
        t0 = time.perf_counter()
        _, eval_dir = evaluate_run(res.run_dir, self.spec.test_split, self.spec.n_test, num_beams=self.spec.num_beams,
                                   progress=self.progress, sample_seed=self.spec.test_seed)
        if not (out / "predictions.jsonl").exists():
            self._export_eval(eval_dir, out)
            watch.add(part, "test_decode", time.perf_counter() - t0)
        need_attr = not ((out / "attribution-token.json").exists() and (out / "attribution-feature.json").exists())
        if need_attr:
            lm = load_trained(res.run_dir, bf16=False)
            with torch.inference_mode():
                self._attribution(lm, out, watch, part)
            del lm
        watch.add(part, None, extra={"run_dir": res.run_dir.name, "train_status": res.status,
                                     "steps": run["final"]["steps"]})
        self._finish(part, out)

    def _export_eval(self, eval_dir: Path, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("metrics.json", "config.json", "timing.json"):
            write_json(out / ("eval-" + name if name != "metrics.json" else name), read_json(eval_dir / name))
        write_jsonl(out / "predictions.jsonl", compact_predictions(_read_jsonl(eval_dir / "predictions.jsonl")))

    # pilot --------------------------------------------------------------------------------------
    def run_pilot(self) -> None:
        from .training.runs import load_run, train_run

        part = "pilot"
        out = self.results / part
        cfg = self.spec.pilot_config()
        res = train_run(cfg, runs_root=self.runs_root, progress=self.progress)  # its time: final.json
        load_run(res.run_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "final.json", "train_log.json"):
            write_json(out / name, read_json(res.run_dir / name), indent=None if name == "train_log.json" else 2)
        for v in sorted((res.run_dir / "validation").glob("step-*.jsonl")):
            (out / "validation").mkdir(parents=True, exist_ok=True)
            (out / "validation" / v.name).write_bytes(v.read_bytes())
        self._finish(part, out)

    def run(self, only: list[str] | None = None, pilot: bool = False) -> None:
        self.results.mkdir(parents=True, exist_ok=True)
        self._record()
        todo = (["pilot"] if pilot else []) + self.spec.parts()
        for part in todo:
            if only and part not in only and not any(part.startswith(o + "-") for o in only):
                continue
            if self.is_done(part):
                print(f"reference: {part} is done ({self.results / part})", file=sys.stderr)
                continue
            print(f"reference: {part} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            if part == "pilot":
                self.run_pilot()
            elif part == "base":
                self.run_base()
            else:
                seed, method = part[4:].split("-", 1)
                self.run_part(int(seed), method)
            print(f"reference: {part} finished in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


def base_validation_name(split: str, n_valid, seed: int) -> str:
    """The base model's lists on the validation rows that runs with this split, size and seed use."""
    return f"{split}-{n_valid}-seed{seed}.jsonl"


def _read_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
