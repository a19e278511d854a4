"""What a measurement ran on (CPU model and the features that decide its speed, cores, versions, GPU),
and whether bf16 is fast here. Recorded next to every benchmark and reference result.

bf16 halves the memory traffic of a forward pass, but it is fast only where the hardware computes in
it: a GPU, or a CPU with AMX or AVX-512 bf16 instructions. Elsewhere PyTorch emulates it, and a bf16
step is many times slower than fp32 (``python benchmarks/train_speed.py --bf16`` measures both side
by side). :func:`fast_bf16` says which case this machine is; the ``cpu`` profile trains and decodes
in bf16 only where it is fast.
"""

from __future__ import annotations

import os
import platform

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The CPU features that decide matrix-multiply speed (AMX, AVX-512, AVX2), where /proc shows them."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return sorted(f for f in flags if f.startswith(("amx", "avx512_bf16", "avx512f", "avx2")))
    except OSError:
        pass
    return []


def fast_bf16() -> bool:
    """True on a CUDA GPU and on a CPU with AMX or AVX-512 bf16 instructions."""
    import torch

    if torch.cuda.is_available():
        return True
    return any(f in cpu_flags() for f in BF16_CPU_FLAGS)


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine() -> dict:
    """The machine and the library versions, as a flat dict (JSON-ready)."""
    import torch

    info = {
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "fast_bf16": fast_bf16(),
    }
    for mod in ("transformers", "peft", "accelerate", "bitsandbytes", "captum"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - a missing optional package is just not recorded
            pass
    return info
