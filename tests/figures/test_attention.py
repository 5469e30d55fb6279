"""The app's figure builders, without Streamlit or a browser: shapes, token labels, values."""

import numpy as np
import pytest
import torch

from figures import (
    attention_grid,
    attention_heatmap,
    attention_table,
    axes_heatmap,
    grid_target_index,
    head_map,
    token_axes,
)

SOURCE = ["▁the", "▁cat", "▁saw", "▁the", "▁dog", "</s>"]  # "the" twice: rows must not merge


TARGET = ["<s>", "▁die", "▁Katze"]  # the decoder input: what each position reads
OUTPUT = ["▁die", "▁Katze", "</s>"]  # what each position writes: the decoder rows' names


# Plotly reads "<s>" as a strike-through tag, so labels escape it.
SOURCE_LABELS = [*SOURCE[:-1], "&lt;/s&gt;"]


TARGET_LABELS = ["&lt;s&gt;", *TARGET[1:]]


def random_attention(*shape) -> np.ndarray:
    return torch.rand(shape).softmax(dim=-1).numpy()  # torch: seeded per test by conftest


def test_attention_table_has_what_a_decoder_row_writes_and_reads():
    weights = random_attention(1, 1, len(OUTPUT), len(SOURCE))
    axes = token_axes("cross", SOURCE, TARGET, OUTPUT)
    table = attention_table("cross", weights, axes.queries, axes.keys, axes.reads)
    first = table[table["query_position"] == 0].iloc[0]
    assert (first["query_writes"], first["query_reads"]) == ("▁die", "<s>")
    last = table[table["query_position"] == 2].iloc[0]
    assert (last["query_writes"], last["query_reads"]) == ("</s>", "▁Katze")
    encoder = attention_table("encoder", random_attention(1, 1, 2, 2), SOURCE[:2], SOURCE[:2])
    assert list(encoder["query_writes"]) == [""] * 4 and list(encoder["query_reads"]) == [
        "▁the",
        "▁the",
        "▁cat",
        "▁cat",
    ]


def test_head_map_picks_one_head_or_averages():
    weights = random_attention(2, 4, 3, 6)
    np.testing.assert_array_equal(head_map(weights, 1, 2), weights[1, 2])
    np.testing.assert_allclose(head_map(weights, 0, None), weights[0].mean(axis=0), rtol=1e-6)  # float32 sums


def test_heatmap_has_tokens_on_both_axes_and_repeated_tokens_stay_apart():
    weights = random_attention(len(TARGET), len(SOURCE))
    figure = attention_heatmap(weights, TARGET, SOURCE, title="cross")
    heatmap = figure.data[0]
    np.testing.assert_array_equal(np.asarray(heatmap.z), weights)
    assert list(heatmap.x) == list(range(len(SOURCE)))  # positions, so "▁the" x2 are two columns
    assert list(heatmap.y) == list(range(len(TARGET)))
    assert list(figure.layout.xaxis.ticktext) == SOURCE_LABELS
    assert list(figure.layout.yaxis.ticktext) == TARGET_LABELS
    assert (heatmap.zmin, heatmap.zmax) == (0, 1)
    assert heatmap.text[2][3] == "query: ▁Katze (2)<br>key: ▁the (3)"
    assert "weight: %{z" in heatmap.hovertemplate
    assert figure.layout.yaxis.autorange == "reversed"  # first query on top


def test_heatmap_rejects_weights_that_do_not_match_the_tokens():
    with pytest.raises(ValueError, match="do not match"):
        attention_heatmap(random_attention(2, 6), TARGET, SOURCE)


def test_grid_has_one_map_per_layer_and_head_on_a_shared_scale():
    weights = random_attention(2, 3, len(TARGET), len(SOURCE))
    figure = attention_grid(weights, title="grid", selected=(1, 2))
    heatmaps = [trace for trace in figure.data if trace.type == "heatmap"]
    assert len(heatmaps) == 6
    np.testing.assert_array_equal(np.asarray(heatmaps[1 * 3 + 2].z), weights[1, 2])
    assert {trace.coloraxis for trace in heatmaps} == {"coloraxis"}
    assert (figure.layout.coloraxis.cmin, figure.layout.coloraxis.cmax) == (0, 1)
    assert [a.text for a in figure.layout.annotations][:4] == ["L1 H1", "L1 H2", "L1 H3", "L2 H1"]
    [outline] = figure.layout.shapes
    assert (outline.xref, outline.yref) == ("x6 domain", "y6 domain")  # layer 2, head 3 = 6th map


def test_grid_outlines_a_whole_layer_when_heads_are_averaged():
    figure = attention_grid(random_attention(2, 3, 4, 4), selected=(0, None))
    assert [shape.xref for shape in figure.layout.shapes] == ["x domain", "x2 domain", "x3 domain"]


def test_grid_click_targets_map_back_to_layer_and_head():
    n_layers, n_heads = 2, 3
    figure = attention_grid(random_attention(n_layers, n_heads, 4, 5))
    for number, trace in enumerate(figure.data):
        target = grid_target_index(number, n_layers, n_heads)
        if trace.type == "heatmap":
            assert target is None
        else:
            layer, head = target
            assert f"layer {layer + 1}, head {head + 1}" in trace.hovertemplate
            # The target sits on the same subplot as the map it stands for.
            assert (trace.xaxis, trace.yaxis) == (
                figure.data[layer * n_heads + head].xaxis,
                figure.data[layer * n_heads + head].yaxis,
            )


def test_attention_table_is_long_format():
    weights = random_attention(2, 3, len(TARGET), len(SOURCE))
    table = attention_table("cross", weights, OUTPUT, SOURCE, TARGET)
    assert list(table.columns) == [
        "kind",
        "layer",
        "head",
        "query_position",
        "query_writes",
        "query_reads",
        "key_position",
        "key_token",
        "weight",
    ]
    assert len(table) == weights.size
    row = table[
        (table["layer"] == 2) & (table["head"] == 3) & (table["query_position"] == 1) & (table["key_position"] == 3)
    ]
    assert row.iloc[0].to_dict() == {
        "kind": "cross",
        "layer": 2,
        "head": 3,
        "query_position": 1,
        "query_writes": "▁Katze",
        "query_reads": "▁die",
        "key_position": 3,
        "key_token": "▁the",
        "weight": weights[1, 2, 1, 3],
    }
    assert "<s>" in table.to_csv(index=False)  # the CSV keeps tokens as they are: no escaping there


def test_axes_heatmap_draws_a_map_on_its_token_axes_with_the_row_convention():
    source, inputs, outputs = ["▁a", "b", "</s>"], ["<s>", "x", "y"], ["x", "y", "</s>"]
    weights = np.random.rand(3, 3)
    for kind in ("encoder", "decoder", "cross"):
        axes = token_axes(kind, source, inputs, outputs)
        drawn = axes_heatmap(weights, axes, "t", value_name="share")
        expected = attention_heatmap(weights, axes.queries, axes.keys, "t", value_name="share", **axes.options)
        assert drawn.to_json() == expected.to_json()
    assert list(drawn.layout.yaxis.ticktext) == ["x", "y", "&lt;/s&gt;"]  # cross rows: the tokens written


def test_the_model_view_takes_the_template_of_its_time(monkeypatch):
    """attention_grid keeps its layout per shape from the first call, not that call's template."""
    import plotly.graph_objects as go
    import plotly.io as pio

    weights = random_attention(2, 3, 4, 4)
    attention_grid(weights)
    monkeypatch.setattr(pio.templates, "default", "simple_white")
    assert attention_grid(weights).layout.template == go.Figure(layout=dict(template="simple_white")).layout.template
