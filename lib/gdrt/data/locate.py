"""Where the data is: ``$GDRT_DATA`` if set, else the repository's ``data/`` folder.

``data/fetch.py`` downloads the MSL-format files into ``data/<Dataset>/``; ``GDRT_DATA`` points at
any folder laid out the same way (for instance the read-only ``shared/datasets``). When neither
holds the dataset, callers fall back to :func:`gdrt.data.synthetic.make_synthetic`. :func:`dataset_dir` is the shipped
folder; :func:`usable_dataset_dir` the folder to read splits from (a derived one for Book, Clothing
and Toy, see :mod:`gdrt.data.derive`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import GDRTInputError
from .presets import Preset, get_preset

__all__ = ["ENV_VAR", "repo_data_dir", "data_root", "dataset_dir", "usable_dataset_dir", "is_dataset_dir"]

ENV_VAR = "GDRT_DATA"


def repo_data_dir() -> Path:
    """The repository's ``data/`` folder (``lib/gdrt/data/locate.py`` -> ``<repo>/data``)."""
    return Path(__file__).resolve().parents[3] / "data"


def is_dataset_dir(path) -> bool:
    """A folder holding a dataset: ``id2name4Rec.json`` or at least one ``.csv`` split."""
    path = Path(path)
    return path.is_dir() and ((path / "id2name4Rec.json").is_file() or any(path.glob("*.csv")))


def data_root() -> Path | None:
    """``$GDRT_DATA`` if set (an error if it is not a directory); else the repository's ``data/``
    if it holds at least one dataset folder; else ``None``."""
    env = os.environ.get(ENV_VAR, "")
    if env.strip():
        root = Path(env).expanduser()
        if not root.is_dir():
            raise GDRTInputError(root, f"${ENV_VAR} is set but is not a directory", field=ENV_VAR)
        return root
    repo = repo_data_dir()
    if repo.is_dir() and any(is_dataset_dir(p) for p in sorted(repo.iterdir())):
        return repo
    return None


def dataset_dir(preset_or_name: Preset | str) -> Path | None:
    """The folder of one dataset under :func:`data_root` (``Preset.dirname``, e.g. ``"Office"``), or
    ``None`` when there is no data root or the dataset is not in it. A name that is not a preset is
    taken as a folder name."""
    if isinstance(preset_or_name, Preset):
        dirname = preset_or_name.dirname
    else:
        try:
            dirname = get_preset(preset_or_name).dirname
        except KeyError:
            dirname = preset_or_name
    root = data_root()
    if root is None:
        return None
    path = root / dirname
    return path if is_dataset_dir(path) else None


def usable_dataset_dir(preset_or_name: Preset | str, out_root=None) -> Path | None:
    """The folder to read a dataset's splits from: :func:`dataset_dir`, completed by
    :func:`gdrt.data.derive.complete_dataset` when it ships no valid split (Book, Clothing: a derived
    folder in the cache, valid carved from train) or no train split (Toy: evaluation only). ``None``
    when the dataset is not found."""
    from .derive import complete_dataset

    path = dataset_dir(preset_or_name)
    return None if path is None else complete_dataset(path, out_root)
