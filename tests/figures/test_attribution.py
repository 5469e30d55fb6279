"""figures/attribution.py: the Attribution tab's heatmap (output tokens x source tokens, signed) and
the bars of how far attention ranks the source tokens as the attribution does."""

import numpy as np
import pytest

from figures.attribution import AGREEMENT_COLORS, attribution_heatmap, rank_correlation_bars

SOURCE = ["▁the", "▁cat", "</s>"]
OUTPUT = ["▁die", "</s>"]


def test_attribution_heatmap_draws_the_values_on_a_scale_centred_on_zero():
    values = np.array([[0.5, -2.0, 0.25], [1.0, 0.0, -0.75]])
    figure = attribution_heatmap(values, OUTPUT, SOURCE, title="Attribution")
    [heatmap] = figure.data
    np.testing.assert_array_equal(np.asarray(heatmap.z, dtype=float), values)
    assert (heatmap.zmin, heatmap.zmax) == (-2.0, 2.0)  # the largest magnitude, on both sides
    assert figure.layout.xaxis.title.text == "source token"
    assert figure.layout.yaxis.title.text == "output token (written)"
    assert "attribution" in heatmap.hovertemplate


def test_rank_correlation_bars_are_one_group_per_output_token_and_one_bar_per_comparison():
    correlations = {"attention": np.array([0.5, -0.25]), "rollout": np.array([np.nan, 1.0])}
    figure = rank_correlation_bars(OUTPUT, correlations, title="Agreement")
    assert [trace.name for trace in figure.data] == ["vs attention", "vs rollout"]
    assert [trace.marker.color for trace in figure.data] == [AGREEMENT_COLORS["attention"], AGREEMENT_COLORS["rollout"]]
    np.testing.assert_array_equal(np.asarray(figure.data[0].y, dtype=float), [0.5, -0.25])
    np.testing.assert_array_equal(np.asarray(figure.data[1].y, dtype=float), [np.nan, 1.0])  # a gap, not a zero
    assert list(figure.layout.xaxis.ticktext) == ["▁die", "&lt;/s&gt;"]  # escaped for Plotly's HTML
    assert list(figure.data[0].customdata) == ["▁die", "&lt;/s&gt;"]
    assert tuple(figure.layout.yaxis.range) == (-1.05, 1.05)
    assert figure.layout.barmode == "group"


def test_rank_correlation_bars_refuse_a_row_per_output_token_too_few():
    with pytest.raises(ValueError, match="rollout: 1 correlations for 2 output tokens"):
        rank_correlation_bars(OUTPUT, {"rollout": np.array([0.5])})
