"""Catalog: item id <-> title. Several ids can share a title; a title maps to all of its ids."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Catalog:
    """``id2title`` as read from ``id2name4Rec.json`` (int ids).

    ``titles`` lists each distinct title once, ordered by its smallest id; ``title2ids`` gives the
    sorted ids of a title. Explained in chapter 2, "Duplicate titles".
    """

    id2title: dict[int, str]
    source: str = ""
    title2ids: dict[str, tuple[int, ...]] = field(init=False)
    titles: list[str] = field(init=False)

    def __post_init__(self):
        groups: dict[str, list[int]] = {}
        for item_id in sorted(self.id2title):
            groups.setdefault(self.id2title[item_id], []).append(item_id)
        self.title2ids = {t: tuple(ids) for t, ids in groups.items()}
        self.titles = list(groups)

    def __len__(self) -> int:
        return len(self.id2title)

    def __contains__(self, item_id) -> bool:
        return item_id in self.id2title

    def title(self, item_id: int) -> str:
        return self.id2title[item_id]

    @property
    def n_titles(self) -> int:
        return len(self.titles)

    @property
    def n_shared(self) -> int:
        """Items whose title is shared with at least one other item."""
        return sum(len(ids) for ids in self.title2ids.values() if len(ids) > 1)
