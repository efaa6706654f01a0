"""HoloViews charts of run data (Bokeh backend, hover on every chart): plain data in, hv out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh options used below
import numpy as np

__all__ = ["exposure_histogram", "history_chart", "sweep_heatmap"]

SWEEP_LABELS = {
    "max_exp": "max exposure",
    "unused_share": "share of pool never given",
    "rmse": "RMSE of θ estimates",  # Bokeh fonts draw the combining hat of θ̂ badly
}
_HEIGHT = 300


def history_chart(history: Sequence[dict[str, Any]], title: str = "") -> hv.Overlay:
    """max_over and avg_exp per iteration, as two curves with points and hover values."""
    layers = []
    for name, color in (("max_over", "#d62728"), ("avg_exp", "#1f77b4")):
        points = [(row["iter"], row[name]) for row in history if name in row]
        curve = hv.Curve(points, "iter", ("value", "exposure"), label=name).opts(
            color=color, tools=["hover"], line_width=2
        )
        dots = hv.Scatter(points, "iter", ("value", "exposure"), label=name).opts(
            color=color, size=6, tools=["hover"]
        )
        layers += [curve, dots]
    return hv.Overlay(layers).opts(
        title=title or "max_over and avg_exp per iteration", height=_HEIGHT, responsive=True,
        legend_position="top_right", show_grid=True,
    )  # fmt: skip


def exposure_histogram(
    before: Sequence[float], after: Sequence[float], bins: int = 30
) -> hv.Overlay:
    """Histograms of item exposure rates under the old k (before) and the new k (after)."""
    values = np.asarray([*before, *after], dtype=float)
    top = float(values.max()) if values.size else 1.0
    edges = np.linspace(0.0, max(top, 1e-6), bins + 1)
    layers = []
    for label, rates, color in (("before", before, "#7f7f7f"), ("after", after, "#2ca02c")):
        counts, _ = np.histogram(np.asarray(rates, dtype=float), bins=edges)
        layers.append(
            hv.Histogram((edges, counts), kdims=[("exposure_rate", "exposure rate")],
                         vdims=["items"], label=label)
            .opts(color=color, alpha=0.5, tools=["hover"], line_color=None)
        )  # fmt: skip
    return hv.Overlay(layers).opts(
        title="Exposure rates of the items, before vs after", height=_HEIGHT, responsive=True,
        legend_position="top_right",
    )  # fmt: skip


def sweep_heatmap(cells: Sequence[dict[str, Any]], metric: str) -> hv.Overlay:
    """One metric over the tau × alpha grid, values written in the cells and on hover."""
    data = [(str(cell["tau"]), str(cell["alpha"]), cell[metric]) for cell in cells]
    heatmap = hv.HeatMap(data, ["tau", "alpha"], (metric, SWEEP_LABELS.get(metric, metric)))
    labels = hv.Labels(
        [(tau, alpha, f"{value:.3f}") for tau, alpha, value in data], ["tau", "alpha"], "text"
    ).opts(text_font_size="9pt", text_color="black")
    return (heatmap.opts(cmap="viridis", colorbar=True, tools=["hover"], height=_HEIGHT,
                         responsive=True, title=SWEEP_LABELS.get(metric, metric))
            * labels)  # fmt: skip
