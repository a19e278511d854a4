"""Data: readers (MSL, D3, raw Amazon), the catalog, prompts, presets, synthetic data."""

from .catalog import Catalog
from .presets import PRESETS, Preset, get_preset
from .prompts import build_prompt, encode_prompt, encode_response, response_text
from .msl import Row, available_splits, read_catalog, read_msl
from .d3 import read_d3, read_d3_info
from .locate import data_root, dataset_dir, usable_dataset_dir
from .windows import carve_valid, make_windows, split_windows, write_msl
from .synthetic import make_synthetic


# load_catalog / load_split: the msl readers, aware of derived folders (derive.py, imported on first
# use so that ``python -m gdrt.data.derive`` runs it cleanly): a derived folder's catalog may hold an
# empty title (its rows never target one), and a split a dataset cannot have (Toy's train, a shipped
# Book's valid) gets a one-line error saying why.
def load_catalog(data_dir, allow_empty_titles: bool | None = None) -> Catalog:
    """:func:`gdrt.data.derive.load_catalog` (``allow_empty_titles=None``: allowed in a derived folder)."""
    from .derive import load_catalog as _load_catalog

    return _load_catalog(data_dir, allow_empty_titles)


def load_split(data_dir, split: str, catalog: Catalog | None = None) -> list[Row]:
    """:func:`gdrt.data.derive.load_split`: :func:`gdrt.data.msl.load_split` with clearer errors."""
    from .derive import load_split as _load_split

    return _load_split(data_dir, split, catalog)


def complete_dataset(src_dir, out_root=None):
    """:func:`gdrt.data.derive.complete_dataset`: the folder to read a dataset's splits from."""
    from .derive import complete_dataset as _complete_dataset

    return _complete_dataset(src_dir, out_root)

__all__ = ["Catalog", "PRESETS", "Preset", "get_preset", "build_prompt", "encode_prompt", "encode_response", "response_text",
           "Row", "available_splits", "load_catalog", "load_split", "read_catalog", "read_msl", "read_d3",
           "read_d3_info", "data_root", "dataset_dir", "usable_dataset_dir", "complete_dataset", "carve_valid", "make_windows", "split_windows",
           "write_msl", "make_synthetic"]
