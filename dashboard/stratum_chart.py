"""The stratum × item-rank heatmap of a run's exposure, before and after (conditional S–H).

Conditional S–H promises every item's exposure ≤ τ within every θ stratum. The question an
admin asks is whether the top of each stratum's distribution came down to τ, so each row is a
stratum and each column an item rank within it (rank 1: that stratum's most exposed item), for
the ``top`` ranks where the decision is.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh options used below
import numpy as np

__all__ = ["stratum_exposure_heatmap", "stratum_labels", "stratum_rank_table"]

_HEIGHT = 260
MIN_WIDTH = 320


def stratum_labels(strata: Sequence[float]) -> list[str]:
    """``θ < c1``, ``c1 ≤ θ < c2``, …, ``θ ≥ cn``: one label per stratum, in stratum order."""
    cuts = [f"{c:g}" for c in strata]
    if not cuts:
        return ["all θ"]
    middle = [f"{low} ≤ θ < {high}" for low, high in itertools.pairwise(cuts)]
    return [f"θ < {cuts[0]}", *middle, f"θ ≥ {cuts[-1]}"]


def stratum_rank_table(by_stratum: Sequence[Sequence[float]], top: int) -> np.ndarray:
    """``(n_strata, top)``: each stratum's exposure rates, largest first, cut at ``top`` ranks."""
    table = -np.sort(-np.asarray(by_stratum, dtype=float), axis=1)
    return table[:, :top]


def stratum_exposure_heatmap(
    before: Sequence[Sequence[float]],
    after: Sequence[Sequence[float]],
    strata: Sequence[float],
    tau: float | None = None,
    top: int = 40,
) -> hv.Layout:
    """Exposure by stratum and item rank under the old k and the new k, on one colour scale."""
    labels = stratum_labels(strata)
    tables = {name: stratum_rank_table(rates, top) for name, rates in
              (("before", before), ("after", after))}  # fmt: skip
    highest = max(float(t.max()) if t.size else 0.0 for t in tables.values())
    limit = max(highest, tau or 0.0, 1e-6)
    panels = []
    for name, table in tables.items():
        cells = [(rank + 1, labels[s], round(float(table[s, rank]), 4))
                 for s in range(table.shape[0]) for rank in range(table.shape[1])]  # fmt: skip
        title = f"Exposure by θ stratum and item rank, {name}"
        if tau is not None and name == "after" and not math.isnan(tau):
            title += f" (τ = {tau:g})"
        panels.append(
            hv.HeatMap(cells, [("rank", "item rank in stratum"), ("stratum", "θ stratum")],
                       ("rate", "exposure rate"))
            .redim.values(stratum=labels)
            .opts(cmap="magma_r", clim=(0.0, limit), colorbar=True, tools=["hover"],
                  height=_HEIGHT, min_width=MIN_WIDTH, responsive=True, title=title,
                  xlabel="item rank within the stratum (1 = most exposed)", ylabel="")
        )  # fmt: skip
    return hv.Layout(panels).cols(1)
