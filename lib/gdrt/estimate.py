"""How much work the book does at a profile, and about how long it takes: ``python -m gdrt estimate``.

**Work**, counted from the profile's sizes (:data:`gdrt.book.PROFILES`) and the dataset's files:

* training runs: SFT and GDRT (chapter 3, reused by 5 and 7), Reweight, MSL and MSL+GDRT (chapter 6;
  D3 decodes SFT's run again), and the points of the G x tau grid (chapter 7) other than chapter 5's;
  each run's tokens are rows x epochs x the mean tokens of a training row (prompt and title, counted
  with the model's tokenizer on 200 training rows);
* decoded prompts (constrained beam search): each run's validations (every ``eval_steps`` steps, else
  once per epoch) of ``n_valid`` rows, its test evaluation (``n_test`` rows, chapter 6's ``n_compare``),
  and the base model's decodes (chapter 3's sample and the step 0 of the validation trace);
* attribution rows: base and SFT (chapter 3), GDRT (chapter 7), each ``n_attr`` rows.

**Rates**, measured, each from a committed file that names its machine:

* ``cpu``: training tokens/s of QLoRA fp32 (``benchmarks/results/train_speed.json``), constrained
  beam search s/prompt at beam 10 on the largest catalog (``cbs_scaling.json``), per-token
  attribution s/row (``token_attribution.json``, all tokens of a row: an upper bound for
  ``attr_tokens``);
* ``h200``: training tokens/s and validation s/prompt of the one lent H200
  (``benchmarks/gpu/results/``), QLoRA bf16 at batch 32 and 8 prompts per decoding batch. There is
  no GPU attribution measurement: its s/row is the CPU's divided by the ratio of the training rates.

**Model size.** Every rate was measured on SmolLM2-135M. For another model, time is scaled by the
ratio of parameter counts (the arithmetic per token grows with it). On a GPU, decoding a small model
is bound by latency, not arithmetic, so for decoding the rule overestimates: read it as an upper
bound, and the unscaled time (another column) as a lower one. Parameter counts come from the model's
``config.json`` where the model is a local folder, else from :data:`KNOWN_PARAMETERS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import GDRTInputError

from .perf import GPU_RESULTS_DIR as GPU_BENCH
from .perf import RESULTS_DIR as BENCH

KNOWN_PARAMETERS = {"smollm2-135m": 134.5e6, "meta-llama/Llama-3.2-3B": 3.21e9, "tiny": 1e6}
MEASURED_ON = KNOWN_PARAMETERS["smollm2-135m"]


@dataclass
class Rates:
    """Seconds per unit of work on one machine, for SmolLM2-135M; ``source``: where each came from."""

    name: str
    train_tokens_per_s: float
    decode_s_per_prompt: float
    attribution_s_per_row: float
    source: str


def parameters(model: str) -> float:
    """The parameter count of ``model``: a local folder's ``config.json`` (Llama-shaped: embeddings,
    attention, MLP; tied output embeddings counted once), else :data:`KNOWN_PARAMETERS`."""
    cfg_path = Path(model) / "config.json"
    if cfg_path.is_file():
        c = json.loads(cfg_path.read_text())
        h, L, v = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
        inter = c.get("intermediate_size", 4 * h)
        kv = h * c.get("num_key_value_heads", c["num_attention_heads"]) // c["num_attention_heads"]
        per_layer = 2 * h * h + 2 * h * kv + 3 * h * inter
        return float(L * per_layer + v * h * (1 if c.get("tie_word_embeddings", True) else 2))
    if model in KNOWN_PARAMETERS:
        return KNOWN_PARAMETERS[model]
    raise GDRTInputError(model, "unknown model size: give a local model folder (its config.json is read) or one "
                         f"of {', '.join(KNOWN_PARAMETERS)}", field="model")


def measured_rates() -> dict[str, Rates]:
    """The rates of this CPU kind and of the lent H200, read from the committed benchmark files."""
    def read(path):
        if not path.is_file():
            raise GDRTInputError(path, "benchmark result missing: run the benchmark named in this module's docstring")
        return json.loads(path.read_text())

    ts = read(BENCH / "train_speed.json")
    m = ts["measurements"][0]
    cpu_tok = m["tokens_per_second"]["QLoRA fp32"]
    cbs = read(BENCH / "cbs_scaling.json")
    cpu_dec = max(r["ours_s_per_prompt"] for r in cbs["measurements"] if r["axis"] == "catalog titles")
    att = read(BENCH / "token_attribution.json")
    cpu_att = att["measurements"][0]["ours_s_per_row"]
    cpu = Rates("cpu", cpu_tok, cpu_dec, cpu_att,
                f"{ts['machine'].get('cpu_model', '?')}, {ts['settings']['threads']} thread(s): train_speed.json, "
                "cbs_scaling.json, token_attribution.json")
    files = sorted(GPU_BENCH.glob("*.json"))
    if not files:
        raise GDRTInputError(GPU_BENCH, "no GPU benchmark result")
    g = read(files[-1])
    fin = g["sft_final"]
    gpu_dec = fin["validation_seconds"] / fin["n_valid"]
    gpu_tok = fin["tokens_per_second"]
    gpu = Rates("h200", gpu_tok, gpu_dec, cpu_att * cpu_tok / gpu_tok, f"{g['machine']}: {files[-1].name}")
    return {"cpu": cpu, "h200": gpu}


def work(profile: str, model: str | None = None, dataset: str | None = None) -> dict:
    """The profile's work per chapter (see the module docstring): a dict with ``rows`` (one per item:
    chapter, what, trainings, tokens, prompts, attribution rows) and ``model``."""
    from . import book
    from .models.loading import load_tokenizer
    from .training.examples import build_examples

    cfg = book.setup(profile, dataset=dataset, model=model)
    s = cfg.sizes
    data = book.load_data(cfg)
    try:
        tok, counted_with = load_tokenizer(cfg.model), cfg.model
    except OSError:  # not on disk (nothing downloads here): the default model's byte-level BPE instead
        from .models.loading import DEFAULT_MODEL

        tok, counted_with = load_tokenizer(DEFAULT_MODEL), DEFAULT_MODEL
    sample = build_examples(data.train[:200], data.catalog, cfg.preset, tok)
    per_row = sum(len(e.input_ids) for e in sample) / len(sample)
    n_train, n_valid, n_test = len(data.train), len(data.valid), len(data.test)
    steps = -(-n_train // s["batch_size"]) * s["epochs"]
    validations = int(steps // s["eval_steps"]) if s.get("eval_steps") else int(s["epochs"])
    n_compare = s.get("n_compare") or n_test
    n_attr = min(s["n_attr"], n_test)

    def training(chapter, what, runs, test_rows):
        return dict(chapter=chapter, what=what, trainings=runs, tokens=runs * n_train * s["epochs"] * per_row,
                    prompts=runs * (validations * n_valid + test_rows), attribution_rows=0)

    grid = [tuple(p) for p in s.get("grid") or []]
    extra = [p for p in grid if p != (5, 1.0)]  # chapter 5's run (G=5, tau=1.0) is reused
    rows = [training("03 / 05", "SFT and GDRT: train, validate, test", 2, n_test),
            dict(chapter="03", what="base model: test sample and validation trace step 0", trainings=0, tokens=0,
                 prompts=n_attr + n_valid, attribution_rows=0),
            dict(chapter="03", what="attribution: base and SFT", trainings=0, tokens=0, prompts=0,
                 attribution_rows=2 * n_attr),
            training("06", "Reweight, MSL, MSL+GDRT: train, validate, test", 3, n_compare),
            dict(chapter="06", what="D3 (SFT decoded again); SFT, GDRT on n_compare rows if fewer", trainings=0,
                 tokens=0, prompts=n_compare + (2 * n_compare if n_compare != n_test else 0), attribution_rows=0),
            dict(chapter="07", what="attribution: GDRT", trainings=0, tokens=0, prompts=0, attribution_rows=n_attr)]
    if extra:
        rows.append(training("07", f"grid: {len(extra)} more GDRT runs", len(extra), n_test))
    return dict(rows=rows, model=cfg.model, dataset=cfg.dataset, tokens_per_row=per_row, counted_with=counted_with,
                n_train=n_train,
                n_valid=n_valid, n_test=n_test, validations_per_run=validations, epochs=s["epochs"])


def hours(w: dict, rates: Rates, model_params: float, scale_decoding: bool = True) -> list[float]:
    """Hours of each row of :func:`work` at ``rates``, scaled from SmolLM2-135M to ``model_params``;
    ``scale_decoding=False`` keeps the measured s/prompt (the lower bound where decoding is bound by
    latency, as on a GPU)."""
    scale = model_params / MEASURED_ON
    dec = scale if scale_decoding else 1.0
    return [(scale * r["tokens"] / rates.train_tokens_per_s + dec * r["prompts"] * rates.decode_s_per_prompt
             + scale * r["attribution_rows"] * rates.attribution_s_per_row) / 3600 for r in w["rows"]]


def table(profile: str, model: str | None = None, dataset: str | None = None):
    """:func:`work` with hours on each measured machine: a DataFrame, one row per item plus a total."""
    import pandas as pd

    w = work(profile, model, dataset)
    n = parameters(w["model"])
    frame = pd.DataFrame(w["rows"])
    rates = measured_rates()
    for name, r in rates.items():
        frame[f"hours ({name})"] = hours(w, r, n)
    frame["hours (h200, decoding not scaled)"] = hours(w, rates["h200"], n, scale_decoding=False)
    total = frame.drop(columns=["chapter", "what"]).sum()
    frame.loc[len(frame)] = {"chapter": "all", "what": "total", **total.to_dict()}
    frame.attrs.update(w, parameters=n, rates={k: vars(v) for k, v in rates.items()})
    return frame


def report(profile: str, model: str | None = None, dataset: str | None = None) -> str:
    """The estimate as text: the work table, then the assumptions in one paragraph."""
    frame = table(profile, model, dataset)
    a = frame.attrs
    shown = frame.assign(tokens=(frame["tokens"] / 1e6).round(1)).rename(columns={"tokens": "tokens (M)"})
    lines = [f"gdrt estimate: profile {profile}, model {a['model']} ({a['parameters'] / 1e9:.2f} B parameters), "
             f"{a['dataset']}: {a['n_train']} training rows x {a['epochs']:g} epochs, {a['tokens_per_row']:.0f} "
             f"tokens per row (tokenizer of {a['counted_with']}), {a['validations_per_run']} validations of {a['n_valid']} rows per run, "
             f"{a['n_test']} test rows", "",
             shown.to_string(index=False, float_format=lambda x: f"{x:,.1f}"), ""]
    for name, r in a["rates"].items():
        lines.append(f"{name}: {r['train_tokens_per_s']:,.0f} training tokens/s, {r['decode_s_per_prompt']:.2f} s per "
                     f"decoded prompt, {r['attribution_s_per_row']:.1f} s per attribution row, for SmolLM2-135M "
                     f"({r['source']})")
    lines.append(f"scaled by parameters x{a['parameters'] / MEASURED_ON:.1f}; GPU decoding lies between the two h200 "
                 "columns (scaled: an upper bound; not scaled: the lower bound of a latency-bound search)")
    return "\n".join(lines)
