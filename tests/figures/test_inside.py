"""figures/inside.py without a browser: the figures draw the arrays they are given, with their shapes
in their titles, the heads' blocks where a matrix holds every head, the neuron view's lines, bars and
clickable keys, and no font size of their own (presentation mode's larger font reaches all text)."""

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from figures import Panel, matrices_figure, mixture_figure, neuron_key_target, neuron_view, product_bars, shape_label
from tests.helpers import random_ids, tiny_config
from transformer import Transformer
from transformer.inside import inside_layer

SOURCE = ["▁a", "b", "<pad>", "</s>"]


TARGET = ["<s>", "x", "y"]


def cross_trace():
    """The encoder-decoder attention of a tiny random model; the source's third key is padding."""
    model = Transformer(tiny_config()).eval()
    src = torch.tensor([[5, 6, 0, 2]])
    return inside_layer(model, src, random_ids(1, 3, 29), "cross", 1)


def test_shape_label_writes_symbols_and_numbers():
    assert shape_label("(S, d_model)", np.zeros((12, 256))) == "(S, d_model) = (12, 256)"
    assert shape_label("(d_k)", np.zeros(64)) == "(d_k) = (64)"


def test_matrices_figure_draws_each_matrix_with_its_shape_and_tokens():
    x, y = np.random.randn(3, 8), np.random.randn(4, 5)
    figure = matrices_figure([Panel("X", "(T, d_model)", x, TARGET), Panel("M", "(S, d)", y, SOURCE)], title="t")
    np.testing.assert_array_equal(figure.data[0].z, x.astype(np.float32))  # what the hover's 3 decimals need
    np.testing.assert_array_equal(figure.data[1].z, y.astype(np.float32))
    # A row is named once, by its token and position: the hover names it, no text per cell.
    assert list(figure.data[1].y) == ["▁a (0)", "b (1)", "&lt;pad&gt; (2)", "&lt;/s&gt; (3)"]
    assert figure.data[1].hovertemplate.startswith("%{y}, dimension %{x}") and figure.data[1].text is None
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == ["X<br>(T, d_model) = (3, 8)", "M<br>(S, d) = (4, 5)"]
    assert list(figure.layout.yaxis2.ticktext) == ["▁a", "b", "&lt;pad&gt;", "&lt;/s&gt;"]
    assert figure.data[0].zmin == -figure.data[0].zmax == -np.abs(x).max()  # centred on 0
    with pytest.raises(ValueError, match="for 3 tokens"):
        matrices_figure([Panel("X", "(T, D)", np.zeros((4, 2)), TARGET)])


def test_a_matrix_of_heads_is_drawn_side_by_side_in_blocks_with_the_chosen_head_outlined():
    heads = np.random.randn(4, 3, 2)  # (H, T, d_k)
    figure = matrices_figure([Panel("Concat", "(T, h·d_k)", heads, TARGET)], head=2)
    concat = np.concatenate(list(heads), axis=1).astype(np.float32)  # Concat(head_1..head_4)
    np.testing.assert_array_equal(figure.data[0].z, concat)
    assert "(T, h·d_k) = (3, 8)" in figure.layout.annotations[0].text
    assert list(figure.layout.xaxis.ticktext) == ["head 1", "head 2", "head 3", "head 4"]
    lines = [shape for shape in figure.layout.shapes if shape.type == "line"]
    assert sorted(shape.x0 for shape in lines) == [1.5, 3.5, 5.5]
    [outline] = [shape for shape in figure.layout.shapes if shape.type == "rect"]
    assert (outline.x0, outline.x1) == (3.5, 5.5)


def test_the_mixture_sums_the_weighted_values_into_the_output():
    neuron = cross_trace().attention.neuron(head=1, query=2)
    figure = mixture_figure(neuron.weights, neuron.weighted_values, neuron.output, SOURCE, "y")
    weighted, output = np.asarray(figure.data[0].z), np.asarray(figure.data[1].z)
    np.testing.assert_allclose(weighted.sum(axis=0), output[0], atol=1e-6)
    assert figure.data[0].y[0] == f"{neuron.weights[0].item():.2f} × v(▁a) (0)"
    assert figure.data[0].y[2].startswith("0.00 × v(&lt;pad&gt;)")  # the padding gets no weight
    assert figure.data[1].y == ("= output of y",)
    assert figure.data[0].zmax == figure.data[1].zmax  # one colour range


def test_neuron_view_draws_products_scores_weights_and_lines_of_the_weights_opacity():
    neuron = cross_trace().attention.neuron(head=3, query=1)
    figure = neuron_view(neuron, "x", SOURCE, selected_key=1)
    markers, *lines, query = figure.data[:6]
    assert list(markers.customdata) == [0, 1, 2, 3] and list(markers.text) == ["▁a", "b", "&lt;pad&gt;", "&lt;/s&gt;"]
    np.testing.assert_allclose([line.opacity for line in lines], neuron.weights.numpy(), atol=1e-6)
    assert query.text == ("x",)
    by_meta = {trace.meta: trace for trace in figure.data if trace.type == "heatmap"}
    np.testing.assert_allclose(by_meta["q"].z[0], neuron.query.numpy())
    np.testing.assert_allclose(by_meta["k"].z, neuron.keys.numpy())
    products = np.asarray(by_meta["q ⊙ k"].z)
    scaled_bars, weight_bars = [trace for trace in figure.data if trace.type == "bar"]
    # Each row of q ⊙ k sums to its key's score, drawn scaled by 1/sqrt(d_k) beside it.
    np.testing.assert_allclose(products.sum(axis=1), scaled_bars.customdata, atol=1e-5)
    np.testing.assert_allclose(np.asarray(scaled_bars.x) * np.sqrt(8), scaled_bars.customdata, atol=1e-5)
    np.testing.assert_allclose(weight_bars.x, neuron.weights.numpy())
    assert scaled_bars.text[2] == "masked" and weight_bars.text[2] == "0.00"
    [outline] = figure.layout.shapes
    assert (outline.y0, outline.y1) == (0.5, 1.5)  # the selected key's row
    with pytest.raises(ValueError, match="do not match 3 keys"):
        neuron_view(neuron, "x", SOURCE[:3])


def test_a_click_on_a_key_marker_names_the_key_and_other_points_nothing():
    assert neuron_key_target({"curve_number": 0, "point_index": 2, "customdata": 2}) == 2
    assert neuron_key_target({"curve_number": 12, "point_index": 0}) is None
    assert neuron_key_target({"curve_number": 3, "customdata": True}) is None


def test_product_bars_sum_to_the_score_in_the_title():
    neuron = cross_trace().attention.neuron(head=0, query=0)
    figure = product_bars(neuron.products[1], "<s>", "b", neuron.scores[1].item(), neuron.weights[1].item())
    assert sum(figure.data[0].y) == pytest.approx(neuron.scores[1].item(), abs=1e-5)
    assert f"q·k = {neuron.scores[1].item():.3f}" in figure.layout.title.text
    assert "query &lt;s&gt;" in figure.layout.title.text


def test_no_figure_sets_a_font_size_of_its_own_below_16_pixels():
    trace = cross_trace()
    neuron = trace.attention.neuron(0, 0)
    figures = [
        matrices_figure([Panel("Q", "(T, d_model)", trace.attention.queries, TARGET)], head=0),
        mixture_figure(neuron.weights, neuron.weighted_values, neuron.output, SOURCE, "<s>"),
        neuron_view(neuron, "<s>", SOURCE, 0),
        product_bars(neuron.products[0], "<s>", "▁a", 1.0, 0.5),
    ]
    for figure in figures:
        figure.update_layout(font_size=16)  # what presentation mode does
        sizes = [a.font.size for a in figure.layout.annotations if a.font.size is not None]
        assert all(size >= 16 for size in sizes)
        assert all(getattr(trace, "textfont", None) is None or trace.textfont.size is None for trace in figure.data)


@pytest.mark.parametrize("template", ["plotly_white", "simple_white"])
def test_figures_from_cached_layouts_take_the_template_of_their_time(template, monkeypatch):
    """neuron_view and mixture_figure keep their panels' layout from the first call: not its
    template (the app's theme is set when Streamlit loads, maybe after a first figure)."""
    import plotly.io as pio

    neuron = cross_trace().attention.neuron(0, 1)
    neuron_view(neuron, "x", SOURCE)  # the layout cached under another template
    mixture_figure(neuron.weights, neuron.weighted_values, neuron.output, SOURCE, "x")
    monkeypatch.setattr(pio.templates, "default", template)
    expected = go.Figure(layout=dict(template=template)).layout.template
    assert neuron_view(neuron, "x", SOURCE).layout.template == expected
    assert (
        mixture_figure(neuron.weights, neuron.weighted_values, neuron.output, SOURCE, "x").layout.template == expected
    )
