"""The stratum × item-rank heatmap shows each stratum's exposure, most exposed first."""

import numpy as np
import pytest

from dashboard.stratum_chart import stratum_exposure_heatmap, stratum_labels, stratum_rank_table


def test_labels_name_each_stratum_by_its_cut_points():
    assert stratum_labels([-0.5, 0.5]) == ["θ < -0.5", "-0.5 ≤ θ < 0.5", "θ ≥ 0.5"]
    assert stratum_labels([]) == ["all θ"]


def test_ranks_are_within_each_stratum():
    by_stratum = [[0.1, 0.9, 0.3], [0.5, 0.2, 0.7]]
    table = stratum_rank_table(by_stratum, top=2)
    assert table.tolist() == [[0.9, 0.3], [0.7, 0.5]]


def test_the_heatmap_carries_both_sides_on_one_scale():
    rng = np.random.default_rng(0)
    before = rng.uniform(0, 0.9, (3, 50))
    after = rng.uniform(0, 0.25, (3, 50))
    layout = stratum_exposure_heatmap(before.tolist(), after.tolist(), [-0.5, 0.5], tau=0.2, top=10)
    shown_before, shown_after = layout
    for shown, source in ((shown_before, before), (shown_after, after)):
        data = shown.dframe()
        assert len(data) == 3 * 10
        for s, label in enumerate(stratum_labels([-0.5, 0.5])):
            row = data[data["stratum"] == label].sort_values("rank")
            assert row["rate"].iloc[0] == pytest.approx(source[s].max(), abs=1e-4)
            assert list(row["rank"]) == list(range(1, 11))
    assert shown_before.opts.get().kwargs["clim"] == shown_after.opts.get().kwargs["clim"]
    assert shown_after.opts.get().kwargs["clim"][1] == pytest.approx(before.max(), abs=1e-4)
    assert "τ = 0.2" in shown_after.opts.get().kwargs["title"]
