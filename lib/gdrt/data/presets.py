"""Dataset presets: the category words each dataset's prompt uses (docs/design.md §3)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """Words of the prompt for one dataset. ``dirname`` is the folder under the data root."""

    name: str
    dirname: str
    plural: str      # "toys"
    singular: str    # "toy"
    verb: str        # "played"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("toy", "Toy", "toys", "toy", "played"),
        Preset("book", "Book", "books", "book", "read"),
        Preset("clothing", "Clothing", "clothing", "clothing", "worn"),
        Preset("office", "Office", "office products", "office product", "used"),
        Preset("game", "Game", "video games", "video game", "played"),
        Preset("synthetic", "Synthetic", "products", "product", "bought"),
    ]
}


def get_preset(name: str) -> Preset:
    """Preset by name, case-insensitive (``"Office"`` and ``"office"`` both work)."""
    key = name.lower()
    if key not in PRESETS:
        raise KeyError(f"unknown dataset preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    return PRESETS[key]
