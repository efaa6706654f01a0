"""An item pool as arrays for the core: no database, so file-based commands stay light."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qbank.irt import ItemParams

__all__ = ["ItemPool"]


@dataclass(frozen=True, slots=True)
class ItemPool:
    """Items with identities, topics, 3PL parameters and S–H k, as arrays for the core."""

    qids: list[str]
    versions: list[int]
    topics: list[str]
    items: ItemParams  # float32 arrays, each (n_items,)
    k: np.ndarray  # (n_items,) float32 in [0, 1]
    # (n_items,) bool: k came from Sympson & Hetter's (1985) rule, so delivery sets the item
    # aside for the rest of a quiz when it loses its lottery; None means none does.
    sets_aside: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        """Pool size."""
        return len(self.qids)
