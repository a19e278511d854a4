"""Data: readers (MSL, D3, raw Amazon), the catalog, prompts, presets, synthetic data."""

from .catalog import Catalog
from .presets import PRESETS, Preset, get_preset
from .prompts import build_prompt, encode_prompt, encode_response, response_text
from .msl import Row, available_splits, load_catalog, load_split, read_catalog, read_msl
from .d3 import read_d3, read_d3_info
from .locate import data_root, dataset_dir
from .windows import carve_valid, make_windows, split_windows, write_msl
from .synthetic import make_synthetic

__all__ = ["Catalog", "PRESETS", "Preset", "get_preset", "build_prompt", "encode_prompt", "encode_response", "response_text",
           "Row", "available_splits", "load_catalog", "load_split", "read_catalog", "read_msl", "read_d3",
           "read_d3_info", "data_root", "dataset_dir", "carve_valid", "make_windows", "split_windows",
           "write_msl", "make_synthetic"]
