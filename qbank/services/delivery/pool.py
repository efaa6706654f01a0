"""An item pool as arrays for the core: no database, so file-based commands stay light."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from qbank.irt import ItemParams

__all__ = ["ItemPool", "StoredValues", "StratifiedK"]


class StoredValues(NamedTuple):
    """The pool's a, b, c and k exactly as stored (float64), for what goes back to users."""

    a: np.ndarray  # (n_items,) float64
    b: np.ndarray  # (n_items,) float64
    c: np.ndarray  # (n_items,) float64
    k: np.ndarray  # (n_items,) float64


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
    # The same a, b, c, k in float64, as stored or entered: ``items`` and ``k`` are their
    # float32 copies for the core. None: only the float32 values are known.
    stored: StoredValues | None = None
    # Per item, as stored: the rule that produced k (None: the seed's or by hand), and for
    # conditional S–H its θ cut points and one k per stratum (None: k for every θ).
    update_rules: list[str | None] | None = None
    stratified: list[StratifiedK | None] | None = None

    @property
    def n_items(self) -> int:
        """Pool size."""
        return len(self.qids)

    def k_by_stratum(self, strata: Sequence[float]) -> np.ndarray:
        """``(len(strata) + 1, n_items)`` k for these cut points, the start of a conditional run.

        An item stored with exactly these cut points keeps its k per stratum; any other item
        starts every stratum from its one k (``k``).
        """
        cuts = tuple(float(x) for x in strata)
        table = np.repeat(self.k[None, :], len(cuts) + 1, axis=0)
        for index, entry in enumerate(self.stratified or ()):
            same_cuts = entry is not None and len(entry.strata) == len(cuts)
            if same_cuts and np.allclose(entry.strata, cuts, atol=1e-9, rtol=0):  # type: ignore[union-attr]
                table[:, index] = entry.k  # type: ignore[union-attr]
        return table.astype(np.float32)


@dataclass(frozen=True, slots=True)
class StratifiedK:
    """Conditional S–H k of one item: increasing θ cut points and one k per stratum."""

    strata: tuple[float, ...]
    k: tuple[float, ...]
