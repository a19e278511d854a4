"""Data: readers (MSL, D3, raw Amazon), the catalog, prompts, presets, synthetic data."""

from .catalog import Catalog
from .presets import PRESETS, Preset, get_preset
from .prompts import build_prompt, encode_prompt, encode_response, response_text
from .msl import Row, available_splits, read_catalog, read_msl
from .d3 import read_d3, read_d3_info
from .locate import data_root, dataset_dir, usable_dataset_dir
from .windows import carve_valid, make_windows, split_windows, write_msl
from .synthetic import make_synthetic


# load_catalog, load_split and complete_dataset come from derive.py (the msl readers, aware of derived
# folders: a derived catalog may hold an empty title its rows never target, and a split a dataset
# cannot have gets a one-line error saying why). They are looked up on first use (PEP 562), so that
# ``python -m gdrt.data.derive`` does not find its module already imported by this package.
_FROM_DERIVE = ("load_catalog", "load_split", "complete_dataset")


def __getattr__(name):
    if name in _FROM_DERIVE:
        from . import derive

        return getattr(derive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Catalog", "PRESETS", "Preset", "get_preset", "build_prompt", "encode_prompt", "encode_response", "response_text",
           "Row", "available_splits", "load_catalog", "load_split", "read_catalog", "read_msl", "read_d3",
           "read_d3_info", "data_root", "dataset_dir", "usable_dataset_dir", "complete_dataset", "carve_valid", "make_windows", "split_windows",
           "write_msl", "make_synthetic"]
