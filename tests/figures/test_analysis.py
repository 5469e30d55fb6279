"""The Analysis page's figure builders, without Streamlit or a browser: panels, click targets,
values and token labels."""

import numpy as np
import pytest

from figures import (
    KIND_TITLES,
    alignment_heatmap,
    alignment_links,
    attention_change_heatmap,
    head_grid,
    head_grid_target,
    importance_ranking,
    pruning_figure,
    training_trend,
)
from figures.legibility import legible

SOURCE = ["▁the", "▁cat", "▁sat", "</s>"]


WORDS = ["▁die", "▁Katze", "▁saß"]


def per_head_values() -> dict[str, np.ndarray]:
    # Kinds given out of order, and with a different number of layers: panels follow KINDS.
    return {
        "cross": np.arange(6, dtype=float).reshape(2, 3) / 10,
        "encoder": np.arange(9, dtype=float).reshape(3, 3),
    }


def test_head_grid_has_a_panel_per_kind_with_layer_rows_and_head_columns():
    values = per_head_values()
    figure = head_grid(values, "entropy", value_name="nats")
    heatmaps = [trace for trace in figure.data if trace.type == "heatmap"]
    np.testing.assert_array_equal(np.asarray(heatmaps[0].z), values["encoder"])
    np.testing.assert_array_equal(np.asarray(heatmaps[1].z), values["cross"])
    assert [a.text for a in figure.layout.annotations] == [KIND_TITLES["encoder"], KIND_TITLES["cross"]]
    assert list(figure.layout.xaxis.ticktext) == ["H1", "H2", "H3"]
    assert list(figure.layout.yaxis.ticktext) == ["L1", "L2", "L3"]
    assert list(figure.layout.yaxis2.ticktext) == ["L1", "L2"]
    assert figure.layout.yaxis.autorange == "reversed"  # layer 1 on top
    assert {trace.coloraxis for trace in heatmaps} == {"coloraxis"}
    assert (figure.layout.coloraxis.cmin, figure.layout.coloraxis.cmax) == (0, 8)  # 0 to the largest value


def test_head_grid_takes_an_explicit_colour_range():
    figure = head_grid(per_head_values(), zrange=(0, 1))
    assert (figure.layout.coloraxis.cmin, figure.layout.coloraxis.cmax) == (0, 1)


def test_every_head_grid_cell_is_a_click_target_on_its_own_panel():
    values = per_head_values()
    figure = head_grid(values, value_name="nats", hint="click me")
    heatmaps = {trace.xaxis: trace for trace in figure.data if trace.type == "heatmap"}
    targets = [trace for trace in figure.data if trace.type == "scatter"]
    assert len(targets) == 2
    for trace in targets:
        kind = trace.customdata[0][0]
        assert trace.xaxis in heatmaps and kind == ("encoder" if trace.xaxis == "x" else "cross")
        for index, (x, y, text) in enumerate(zip(trace.x, trace.y, trace.text)):
            clicked = {"curve_number": 0, "point_index": index, "customdata": list(trace.customdata[index])}
            assert head_grid_target(clicked) == (kind, y, x)
            assert text.startswith(f"layer {y + 1}, head {x + 1}<br>nats: {values[kind][y, x]:.2f}")
        assert "click me" in trace.hovertemplate


def test_head_grid_target_ignores_points_that_are_not_cells():
    assert head_grid_target({"curve_number": 0}) is None
    assert head_grid_target({"customdata": ["self", 0, 1]}) is None
    assert head_grid_target({"customdata": [0.5]}) is None


def test_head_grid_outlines_marked_heads_on_their_panel():
    figure = head_grid(per_head_values(), marked={("cross", 1, 2), ("encoder", 0, 0)})
    outlines = {(shape.xref, shape.x0, shape.y0) for shape in figure.layout.shapes}
    assert outlines == {("x2", 1.55, 0.55), ("x", -0.45, -0.45)}


def test_attention_change_is_drawn_on_a_scale_centred_on_zero():
    change = np.array([[0.2, -0.05], [0.0, 0.1]])
    heatmap = attention_change_heatmap(change, ["a", "b"], ["c", "d"], "change").data[0]
    np.testing.assert_array_equal(np.asarray(heatmap.z), change)
    assert (heatmap.zmin, heatmap.zmax) == (-0.2, 0.2)
    assert heatmap.colorscale[0][1] != heatmap.colorscale[-1][1]  # diverging: two different ends
    unchanged = attention_change_heatmap(np.zeros((2, 2)), ["a", "b"], ["c", "d"]).data[0]
    assert (unchanged.zmin, unchanged.zmax) == (-0.01, 0.01)  # rounding noise does not fill the scale


def test_importance_ranking_names_heads_from_one():
    importance = {"encoder": np.array([[0.1, 0.9]]), "cross": np.array([[0.5, 0.3]])}
    order = [("encoder", 0, 1), ("cross", 0, 0), ("cross", 0, 1), ("encoder", 0, 0)]
    table = importance_ranking(order, importance)
    assert list(table.columns) == ["rank", "kind", "layer", "head", "importance"]
    assert table.iloc[0].to_dict() == {"rank": 1, "kind": "encoder", "layer": 1, "head": 2, "importance": 0.9}
    assert list(table["importance"]) == [0.9, 0.5, 0.3, 0.1]


def test_pruning_figure_plots_bleu_and_names_the_heads_newly_off():
    heads = [("cross", 0, 1), ("encoder", 1, 0), ("decoder", 0, 3)]
    curve = [
        {"pruned": 0, "bleu": 30.0, "heads": []},
        {"pruned": 2, "bleu": 29.5, "heads": heads[:2]},
        {"pruned": 3, "bleu": 12.25, "heads": heads},
    ]
    line = pruning_figure(curve).data[0]
    assert list(line.x) == [0, 2, 3] and list(line.y) == [30.0, 29.5, 12.25]
    assert line.text[0].endswith("newly off: none")
    assert line.text[1].endswith("newly off: cross L1 H2, encoder L2 H1")
    assert line.text[2] == "3 heads off: BLEU 12.25<br>newly off: decoder L1 H4"


def test_training_trend_marks_the_current_step():
    figure = training_trend([100, 200, 300], [2.0, 1.0, 0.5], 200, "entropy", "nats")
    assert list(figure.data[0].x) == [100, 200, 300] and list(figure.data[0].y) == [2.0, 1.0, 0.5]
    [marker] = figure.layout.shapes
    assert (marker.x0, marker.x1) == (200, 200)


def test_alignment_heatmap_circles_the_links():
    aligned = np.array([[0.1, 0.8, 0.1, 0.0], [0.7, 0.2, 0.1, 0.0], [0.0, 0.1, 0.9, 0.0]])
    links = [(0, 1), (1, 0), (2, 2)]
    figure = alignment_heatmap(aligned, WORDS, SOURCE, links, "layer 1")
    heatmap, circles = figure.data
    np.testing.assert_array_equal(np.asarray(heatmap.z), aligned)
    assert list(circles.x) == [1, 0, 2] and list(circles.y) == [0, 1, 2]  # (source, target word)
    assert list(figure.layout.yaxis.ticktext) == WORDS
    assert list(figure.layout.xaxis.ticktext)[-1] == "&lt;/s&gt;"
    assert (figure.layout.xaxis.title.text, figure.layout.yaxis.title.text) == (
        "source token",
        "target word (its row: the step writing it)",
    )


def test_alignment_links_join_source_and_target_with_the_weight_as_opacity():
    aligned = np.array([[0.1, 0.8, 0.1, 0.0], [0.7, 0.2, 0.1, 0.0], [0.0, 0.1, 0.05, 0.0]])
    figure = alignment_links(aligned, WORDS, SOURCE, [(0, 1), (1, 0), (2, 2)])
    lines = [trace for trace in figure.data if trace.mode == "lines"]
    assert [(tuple(line.x), tuple(line.y)) for line in lines] == [
        ((0, 1), (0, -1)),  # target word (left) to source token (right), as in the head view
        ((0, 1), (-1, 0)),
        ((0, 1), (-2, -2)),
    ]
    assert [line.opacity for line in lines] == [0.8, 0.7, 0.2]  # a faint link stays visible
    tokens = [trace for trace in figure.data if trace.mode == "markers+text"]
    assert [len(trace.text) for trace in tokens] == [len(WORDS), len(SOURCE)]
    assert "▁Katze ← ▁the: 0.70" in lines[1].hovertemplate


def test_alignment_links_cross_where_a_language_reorders_and_are_legible_on_a_projector():
    # "a red apple" -> "une pomme rouge": the adjective after the noun, as the Compare page shows it.
    source, words = ["▁a", "▁red", "▁apple", "</s>"], ["▁une", "▁pomme", "▁rouge"]
    aligned = np.array([[0.9, 0.05, 0.05, 0.0], [0.1, 0.1, 0.8, 0.0], [0.0, 0.7, 0.3, 0.0]])
    links = list(enumerate(aligned.argmax(axis=1).tolist()))
    lines = [trace for trace in alignment_links(aligned, words, source, links).data if trace.mode == "lines"]
    (_, pomme), (_, rouge) = (tuple(line.y) for line in lines[1:])
    assert pomme < rouge  # "pomme" (above "rouge") reaches lower, to "apple": the two lines cross
    spec = legible(alignment_links(aligned, words, source, links), 16).to_plotly_json()
    sizes = [trace["textfont"]["size"] for trace in spec["data"] if "text" in trace]
    sizes += [note["font"]["size"] for note in spec["layout"]["annotations"]]
    assert len(sizes) == 4 and min(sizes) >= 16  # both token columns and both headings


@pytest.mark.parametrize("builder", [alignment_heatmap, alignment_links])
def test_alignment_figures_reject_a_mismatched_alignment(builder):
    with pytest.raises(ValueError, match="does not match"):
        builder(np.zeros((2, 4)), WORDS, SOURCE, [])
