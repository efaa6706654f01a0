"""Charts of a design preview (``qbank simulate``'s figures): exposure by item, test lengths.

Same conventions as ``dashboard.charts``: hover names the series with 3 significant digits,
padding keeps edge points in view, and a minimum width makes narrow screens wrap the charts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh options used below
import numpy as np
import numpy.typing as npt
from bokeh.models import HoverTool

from dashboard.charts import MIN_WIDTH

__all__ = ["conditional_exposure_chart", "exposure_by_item_chart", "lengths_chart"]

_HEIGHT = 260


def exposure_by_item_chart(
    rates: npt.ArrayLike, qids: Sequence[str], topics: Sequence[str], mean_length: float
) -> hv.Overlay:
    """Each item's exposure rate, most exposed first, against the rate of an even use.

    An even use of the pool would give every item ``mean_length / n_items``; how far the first
    bars stand above that line, and how many items sit at 0 on the right, is the story.
    """
    values = np.asarray(rates, dtype=float)
    order = np.argsort(-values, kind="stable")
    frame = {
        "rank": np.arange(1, len(order) + 1),
        "rate": values[order],
        "qid": [str(qids[i]) for i in order],
        "topic": [str(topics[i]) for i in order],
    }
    hover = HoverTool(
        tooltips=[("series", "exposure rate"), ("rank", "@rank"), ("question", "@qid"),
                  ("topic", "@topic"), ("exposure rate", "@rate{%.3g}")],
        formatters={"@rate": "printf"},
    )  # fmt: skip
    bars = hv.Bars(frame, "rank", ["rate", "qid", "topic"], label="exposure rate").opts(
        color="#1f77b4", line_color=None, tools=[hover], xticks=_rank_ticks(len(order))
    )
    even = mean_length / max(len(order), 1)
    line = hv.HLine(even, label=f"even use = {even:.3g}").opts(
        color="black", line_dash="dashed", line_width=1.5
    )
    top = max(float(values.max()) if values.size else 0.0, even)
    return (bars * line).opts(
        title=f"Exposure by item, most exposed first (dashed: even use {even:.3g})",
        height=_HEIGHT, ylim=(0, _headroom(top)),
        responsive=True, min_width=MIN_WIDTH, xlabel="items by exposure rank",
        ylabel="exposure rate", show_grid=True, legend_position="top_right",
        padding=(0.02, 0.05),
    )  # fmt: skip


def _headroom(top: float) -> float:
    """The top of a bar chart's axis: room above the highest bar (HoloViews pads only below)."""
    return 1.1 * top if top > 0 else 1.0


def _rank_ticks(n_items: int) -> list[int]:
    step = max(1, int(np.ceil(n_items / 10)))
    return [rank for rank in range(1, n_items + 1) if rank == 1 or rank % step == 0]


def lengths_chart(lengths: npt.ArrayLike) -> hv.Bars:
    """How many simulees took each test length."""
    values, counts = np.unique(np.asarray(lengths, dtype=int), return_counts=True)
    share = counts / max(int(counts.sum()), 1)
    hover = HoverTool(
        tooltips=[("series", "simulees"), ("test length", "@length"), ("simulees", "@simulees"),
                  ("share", "@share{%.3g}")],
        formatters={"@share": "printf"},
    )  # fmt: skip
    frame = {"length": [str(value) for value in values], "simulees": counts, "share": share}
    return hv.Bars(frame, "length", ["simulees", "share"], label="simulees").opts(
        title="Test length", height=_HEIGHT, responsive=True, min_width=MIN_WIDTH,
        ylim=(0, _headroom(float(counts.max()) if counts.size else 0.0)),
        color="#2ca02c", line_color=None, tools=[hover], xlabel="items given",
        ylabel="simulees", show_grid=True, padding=(0.02, 0.05),
    )  # fmt: skip


def conditional_exposure_chart(max_by_stratum: npt.ArrayLike, strata: Sequence[float]) -> hv.Bars:
    """The largest item exposure rate within each true-θ stratum."""
    edges = [f"{edge:g}" for edge in strata]
    names = ([f"θ < {edges[0]}"]
             + [f"{low} ≤ θ < {high}" for low, high in itertools.pairwise(edges)]
             + [f"θ ≥ {edges[-1]}"]) if edges else ["all"]  # fmt: skip
    hover = HoverTool(
        tooltips=[("series", "max exposure in stratum"), ("stratum", "@stratum"),
                  ("max exposure", "@max_exp{%.3g}")],
        formatters={"@max_exp": "printf"},
    )  # fmt: skip
    values = np.asarray(max_by_stratum, dtype=float)
    frame = {"stratum": names[: len(values)], "max_exp": values}
    return hv.Bars(frame, "stratum", "max_exp", label="max exposure").opts(
        title="Max exposure by true-θ stratum", height=_HEIGHT, responsive=True,
        ylim=(0, _headroom(float(values.max()) if values.size else 0.0)),
        min_width=MIN_WIDTH, color="#d62728", line_color=None, tools=[hover],
        xlabel="true θ", ylabel="max exposure", show_grid=True, padding=(0.02, 0.05),
    )  # fmt: skip
