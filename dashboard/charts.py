"""HoloViews charts of run data (Bokeh backend): plain data in, hv out.

Every chart has hover tooltips that name their series and show 3 significant digits, padding so
that points on the edges are not cut, and a minimum width, so a narrow screen wraps charts
rather than squeezing them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh options used below
import numpy as np
from bokeh.models import HoverTool

__all__ = ["exposure_histogram", "history_chart", "sweep_heatmap"]

SWEEP_LABELS = {
    "max_exp": "max exposure",
    "unused_share": "share of pool never given",
    "rmse": "RMSE of θ estimates",  # Bokeh fonts draw the combining hat of θ̂ badly
}
_HEIGHT = 280
MIN_WIDTH = 250  # px: below this a chart cannot be read


def _hover(series: str, fields: Sequence[tuple[str, str]]) -> HoverTool:
    """A tooltip naming the series, numbers to 3 significant digits (printf %.3g)."""
    tooltips = [("series", series), *((label, f"@{{{name}}}{{%.3g}}") for label, name in fields)]
    return HoverTool(tooltips=tooltips, formatters={f"@{{{name}}}": "printf" for _, name in fields})


def _series(
    history: Sequence[dict[str, Any]], name: str, label: str, color: str
) -> list[hv.Element]:
    points = [(row["iter"], row[name]) for row in history if name in row]
    fields = [("iteration", "iter"), (name, name)]
    curve = hv.Curve(points, "iter", (name, label), label=label).opts(
        color=color, line_width=2, tools=[_hover(label, fields)]
    )
    dots = hv.Scatter(points, "iter", (name, label), label=label).opts(
        color=color, size=6, tools=[_hover(label, fields)]
    )
    return [curve, dots]


def _values(history: Sequence[dict[str, Any]], key: str) -> list[float]:
    found = [row.get(key) for row in history]
    return [float(v) for v in found if isinstance(v, int | float) and math.isfinite(v)]


def _padded(values: Sequence[float]) -> tuple[float, float] | tuple[None, None]:
    """A y range around the values with 8 % room (the points at the edges are not clipped)."""
    if not values:
        return (None, None)
    low, high = min(values), max(values)
    room = 0.08 * (high - low) if high > low else 0.05
    return (low - room, high + room)


def history_chart(history: Sequence[dict[str, Any]], tau: float | None = None) -> hv.Layout:
    """Two panels per iteration: max_exp against the τ line, and avg_exp on its own axis."""
    top = _series(history, "max_exp", "max exposure", "#d62728")
    if tau is not None:
        top.append(hv.HLine(float(tau), label=f"tau = {tau:g}").opts(
            color="black", line_dash="dashed", line_width=1.5))  # fmt: skip
    # The y range always holds the tau line (HLine does not widen it): far above tau, the
    # admin still sees how far. Mean exposure starts at 0: a constant series (it is test
    # length / pool size whenever every simulee gets a full test) would otherwise span ±1.
    max_exp = _values(history, "max_exp") + ([float(tau)] if tau is not None else [])
    upper = hv.Overlay(top).opts(
        title="max exposure per iteration, against tau", height=_HEIGHT, responsive=True,
        min_width=MIN_WIDTH, legend_position="top_right", show_grid=True, padding=0.1,
        ylabel="max exposure", ylim=_padded(max_exp),
    )  # fmt: skip
    avg_exp = _values(history, "avg_exp")
    lower = hv.Overlay(_series(history, "avg_exp", "mean exposure", "#1f77b4")).opts(
        title="mean exposure per iteration", height=_HEIGHT - 60, responsive=True,
        min_width=MIN_WIDTH, show_legend=False, show_grid=True, padding=0.1,
        ylabel="mean exposure", ylim=(0.0, 1.25 * max(avg_exp)) if avg_exp else (0.0, 1.0),
    )  # fmt: skip
    return (upper + lower).cols(1).opts(shared_axes=False)


def exposure_histogram(
    before: Sequence[float], after: Sequence[float], bins: int = 30, tau: float | None = None
) -> hv.Overlay:
    """Item exposure rates under the old k (before) and the new k (after), log count axis.

    Most items of a large pool are rarely given, so on a linear axis the first bin hides the
    top of the distribution, where the decision is; a log axis shows the few items there.
    """
    values = np.asarray([*before, *after], dtype=float)
    top = float(values.max()) if values.size else 1.0
    edges = np.linspace(0.0, max(top, 1e-6), bins + 1)
    layers: list[hv.Element] = []
    for label, rates, color in (("before", before, "#7f7f7f"), ("after", after, "#2ca02c")):
        counts, _ = np.histogram(np.asarray(rates, dtype=float), bins=edges)
        # Empty bins are left out: a log axis has no 0, and a bar down to 0.5 reads as 1 item.
        shown = counts > 0
        frame = {"left": edges[:-1][shown], "right": edges[1:][shown],
                 "bottom": np.full(int(shown.sum()), 0.5), "items": counts[shown]}  # fmt: skip
        hover = HoverTool(
            tooltips=[("series", f"{label} (items)"), ("exposure rate", "@left{%.3g}–@right{%.3g}"),
                      ("items", "@items")],
            formatters={"@left": "printf", "@right": "printf"},
        )  # fmt: skip
        layers.append(
            hv.Rectangles(frame, kdims=["left", "bottom", "right", "items"], label=label).opts(
                color=color, alpha=0.5, line_color=None, tools=[hover]
            )
        )
    if tau is not None:
        layers.append(hv.VLine(float(tau), label=f"tau = {tau:g}").opts(
            color="black", line_dash="dashed", line_width=1.5))  # fmt: skip
    return hv.Overlay(layers).opts(
        title="Exposure rates of the items, before vs after (log count)", height=_HEIGHT,
        responsive=True, min_width=MIN_WIDTH, legend_position="top_right", logy=True,
        xlabel="exposure rate", ylabel="items", padding=(0.02, 0.05), show_grid=True,
    )  # fmt: skip


def _label_color(value: float, data: Sequence[tuple[str, str, float]]) -> str:
    """White on viridis's dark lower half, black on its light upper half: readable in any cell."""
    values = [float(v) for *_, v in data if v is not None and v == v]
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    share = 0.5 if high <= low or value is None or value != value else (value - low) / (high - low)
    return "white" if share < 0.5 else "black"


def sweep_heatmap(cells: Sequence[dict[str, Any]], metric: str) -> hv.Overlay:
    """One metric over the tau × alpha grid, values written in the cells and on hover."""
    label = SWEEP_LABELS.get(metric, metric)
    data = [(str(cell["tau"]), str(cell["alpha"]), cell[metric]) for cell in cells]
    heatmap = hv.HeatMap(data, ["tau", "alpha"], (metric, label))
    labels = hv.Labels(
        [(tau, alpha, f"{value:.3g}", _label_color(value, data)) for tau, alpha, value in data],
        ["tau", "alpha"], ["text", "color"],
    ).opts(text_font_size="9pt", text_color="color")  # fmt: skip
    hover = HoverTool(
        tooltips=[("series", label), ("tau", "@tau"), ("alpha", "@alpha"),
                  (metric, f"@{{{metric}}}{{%.3g}}")],
        formatters={f"@{{{metric}}}": "printf"},
    )  # fmt: skip
    return (heatmap.opts(cmap="viridis", colorbar=True, tools=[hover], height=_HEIGHT,
                         responsive=True, min_width=MIN_WIDTH, title=label)
            * labels)  # fmt: skip
