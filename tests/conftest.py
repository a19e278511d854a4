"""Shared fixtures: a synthetic dataset and a tiny random Llama saved like any local HF model, in a
session-wide temporary cache (GDRT_CACHE), so no test touches the repository's cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_CACHE = Path(tempfile.mkdtemp(prefix="gdrt-test-cache-"))
os.environ.setdefault("GDRT_CACHE", str(_SESSION_CACHE))


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    from gdrt.data.synthetic import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("synthetic"), seed=0)


@pytest.fixture(scope="session")
def tiny_model_path(synth_dir) -> str:
    from gdrt.book import tiny_model_dir
    from gdrt.data import get_preset

    return str(tiny_model_dir(synth_dir, get_preset("synthetic"), seed=0))
