"""figures/legibility.py: every text of a figure at least the projector's size, and token axes
that label every k-th token instead of overlapping, titles wrapped under the toolbar."""

import numpy as np
import plotly.graph_objects as go
import pytest

from figures import (
    architecture_diagram,
    attention_grid,
    attention_heatmap,
    head_grid,
    mask_heatmap,
    positional_heatmap,
    similarity_heatmap,
)
from figures.inside import Panel, matrices_figure
from figures.legibility import (
    LABEL_ROOM,
    LINE_SPACING,
    MIN_CELL,
    MULTILINE_LIFT,
    PRESENT_WIDTH,
    TITLE_SCALE,
    TOOLBAR_HEIGHT,
    legible,
    present_figure_height,
    present_plot_width,
    square_cells,
    square_cells_spec,
    thinned_ticks,
    wrapped_title,
)
from transformer import ModelConfig


def font_sizes(node) -> list[float]:
    """Every explicit font size in a figure's JSON (markers have sizes too: only fonts count)."""
    if isinstance(node, dict):
        own = [
            font["size"]
            for key, font in node.items()
            if key.endswith("font") and isinstance(font, dict) and "size" in font
        ]
        return own + [size for value in node.values() for size in font_sizes(value)]
    if isinstance(node, list):
        return [size for item in node for size in font_sizes(item)]
    return []


def test_thinned_ticks_keep_every_label_that_fits_and_every_kth_otherwise():
    assert thinned_ticks(10, 500, 16) == list(range(10))  # 50 px a label, 20 needed
    assert thinned_ticks(60, 600, 16) == list(range(0, 60, 2))  # 10 px a label: every 2nd
    assert thinned_ticks(100, 300, 16) == list(range(0, 100, 7))
    assert thinned_ticks(0, 300, 16) == []


def test_legible_raises_every_text_to_the_size_and_keeps_larger_ones():
    tokens = [f"t{i}" for i in range(6)]
    figures = [
        attention_heatmap(np.random.rand(6, 6), tokens, tokens, "title", show_values=True),
        attention_grid(np.random.rand(2, 4, 6, 6)),  # subplot titles at 11 px
        mask_heatmap(np.ones((6, 6), dtype=bool), tokens, tokens, "mask"),
        architecture_diagram(ModelConfig(src_vocab_size=10, tgt_vocab_size=10)),
    ]
    for figure in figures:
        spec = legible(figure, 16).to_plotly_json()
        sizes = font_sizes(spec)
        assert sizes and min(sizes) >= 16
        assert spec["layout"]["font"]["size"] >= 16
        for name, axis in spec["layout"].items():
            if name.startswith(("xaxis", "yaxis")):
                assert axis["tickfont"]["size"] >= 16
    big = attention_heatmap(np.random.rand(2, 2), ["a", "b"], ["a", "b"], "t")
    big.update_layout(title_font_size=30)
    assert legible(big, 16).layout.title.font.size == 30


def test_a_long_sentence_thins_its_labels_instead_of_overlapping_them():
    tokens = [f"▁w{i}" for i in range(80)]
    figure = legible(attention_heatmap(np.random.rand(80, 80), tokens, tokens), 16)
    shown = figure.layout.yaxis.ticktext
    assert 1 < len(shown) < 80 and shown[0] == "▁w0"
    step = figure.layout.yaxis.tickvals[1] - figure.layout.yaxis.tickvals[0]
    assert list(figure.layout.yaxis.tickvals) == list(range(0, 80, step))
    short = legible(attention_heatmap(np.random.rand(5, 5), tokens[:5], tokens[:5]))
    assert list(short.layout.xaxis.ticktext) == tokens[:5]  # nothing to thin


def test_a_narrow_plot_keeps_fewer_token_labels_on_its_x_axis():
    tokens = [f"▁w{i}" for i in range(25)]  # 25 labels of 16 px need 500 px: a third of a projector has 406
    figure = attention_heatmap(np.random.rand(25, 25), tokens, tokens)
    assert len(legible(figure, 16).layout.xaxis.ticktext) == 25
    narrow = legible(figure, 16, width=present_plot_width(3)).layout.xaxis
    assert len(narrow.ticktext) * 16 * LINE_SPACING <= present_plot_width(3) and len(narrow.ticktext) < 25


def test_wrapped_title_breaks_at_spaces_within_the_width():
    assert wrapped_title("Encoder–decoder attention, layer 3, average over heads", 40) == (
        "Encoder–decoder attention, layer 3,<br>average over heads"
    )
    assert wrapped_title("short") == "short"
    assert wrapped_title("a<br>b c", 3) == "a<br>b c"  # its own breaks are kept
    assert wrapped_title("unbreakable_word_longer_than_width x", 5) == "unbreakable_word_longer_than_width<br>x"
    assert all(len(line) <= 40 for line in wrapped_title("word " * 30).split("<br>"))


def test_a_title_is_wrapped_and_placed_under_the_toolbar():
    figure = attention_heatmap(
        np.eye(3), list("abc"), list("abc"), title="Encoder self-attention, layer 1, head 1 of 4"
    )
    spec = legible(figure).layout
    assert spec.title.text.count("<br>") == 1
    assert spec.title.yref == "container" and spec.title.yanchor == "top"
    # Its top at the toolbar's bottom (Plotly lifts a second line's worth): the browser test measures it.
    assert (1 - spec.title.y) * spec.height == pytest.approx(TOOLBAR_HEIGHT + MULTILINE_LIFT * 12 * TITLE_SCALE)
    assert spec.margin.t >= TOOLBAR_HEIGHT + 2 * 12 * TITLE_SCALE  # room for both lines
    untitled = legible(attention_heatmap(np.eye(3), list("abc"), list("abc"))).layout
    assert untitled.margin.t == 20 and untitled.title.y is None  # no title: nothing moves


def test_a_wrapped_title_leaves_room_for_the_panels_titles_under_it():
    values = {kind: np.random.rand(2, 4) for kind in ("encoder", "decoder", "cross")}
    title = "Attention entropy: low = focused on few tokens, high = spread out"  # two lines
    layout = legible(head_grid(values, title)).layout
    title_bottom = TOOLBAR_HEIGHT + 2 * 12 * TITLE_SCALE * LINE_SPACING  # two lines under the toolbar
    panel_title = layout.annotations[0].font.size * LINE_SPACING  # standing on the plots' top edge
    assert layout.margin.t >= title_bottom + panel_title
    untitled = legible(head_grid(values)).layout
    assert untitled.margin.t == 40  # nothing to clear: as head_grid set it


def test_a_heatmap_on_the_projector_has_square_cells_at_least_600_px_wide():
    z = np.random.rand(7, 12)  # as the figure builders pass it: an array
    figure = square_cells(go.Figure(go.Heatmap(z=z)).update_layout(margin={"t": 90, "b": 70}))
    layout = figure.layout
    assert layout.yaxis.scaleanchor == "x" and layout.yaxis.scaleratio == 1
    cell = (layout.height - 90 - 70 - LABEL_ROOM) / 7
    assert cell * 12 >= 600 and cell >= 20  # wide enough, and a 16 px label fits a cell
    tokens = [f"t{i}" for i in range(60)]
    long = square_cells(attention_heatmap(np.random.rand(60, 60), tokens, tokens))
    assert (long.layout.height - 20 - 10 - LABEL_ROOM) / 60 == 20  # many tokens: cells no smaller than a label
    assert long.layout.height > present_figure_height()  # so a very long sentence reaches past the fold


def test_a_map_in_one_of_three_columns_gets_cells_that_fit_its_column():
    tokens = [f"t{i}" for i in range(9)]
    width = present_plot_width(3)
    assert width < present_plot_width(2) < PRESENT_WIDTH
    figure = square_cells(attention_heatmap(np.random.rand(7, 9), tokens[:7], tokens), width=width)
    assert cell_size(figure, 7) * 9 == pytest.approx(width, rel=0.01)  # 600 px would not fit: the column decides


def cell_size(figure: go.Figure, rows: int) -> float:
    """The side of square_cells' cell: the height it set less the margins and the labels' room."""
    return (figure.layout.height - figure.layout.margin.t - figure.layout.margin.b - LABEL_ROOM) / rows


def test_a_large_matrix_on_the_projector_gets_the_cells_its_width_allows_within_one_screen():
    # The positional encoding table and its similarities: no token labels, too many columns for 20 px cells.
    for figure, (rows, columns) in (
        (positional_heatmap(np.random.rand(128, 256)), (128, 256)),
        (similarity_heatmap(np.random.rand(128, 128)), (128, 128)),
    ):
        square = square_cells(figure)
        assert cell_size(square, rows) * columns <= PRESENT_WIDTH
        assert square.layout.height == present_figure_height()  # as large as the screen allows


def test_a_map_taller_than_the_screen_below_it_shrinks_its_cells_down_to_a_label():
    """A main map whose top is far down the projector's screen: its cells shrink to end above the
    fold (the plot narrower, not squashed), but no smaller than a 16 px label: further down, the
    map reaches past the fold with every token labelled."""
    tokens = [f"▁w{i}" for i in range(12)]
    figure = attention_heatmap(np.random.rand(12, 12), tokens, tokens, "Encoder self-attention, layer 1")
    roomy = square_cells(figure)
    assert cell_size(roomy, 12) == 50  # 600 px over 12 tokens: no cap reached
    room = present_figure_height(top=500)
    capped = square_cells(figure, max_height=room)
    assert capped.layout.height <= room and MIN_CELL < cell_size(capped, 12) < 50
    assert (capped.layout.yaxis.scaleanchor, capped.layout.yaxis.scaleratio) == ("x", 1)
    low = square_cells(figure, max_height=present_figure_height(top=800))
    assert cell_size(low, 12) == MIN_CELL and low.layout.height > present_figure_height(top=800)
    for shrunk in (roomy, capped, low):
        for axis in ("xaxis", "yaxis"):
            assert len(legible(shrunk, 16).layout[axis].ticktext) == 12
    short = attention_heatmap(np.random.rand(2, 12), tokens[:2], tokens)  # fits below that top: unchanged
    assert square_cells(short, max_height=room).layout == square_cells(short).layout


def test_a_token_map_too_wide_for_labelled_cells_gets_the_cells_its_width_allows():
    tokens = [f"t{i}" for i in range(100)]  # 20 px a token would need 2000 px
    figure = square_cells(attention_heatmap(np.random.rand(10, 100), tokens[:10], tokens))
    assert cell_size(figure, 10) * 100 == pytest.approx(PRESENT_WIDTH)


def test_a_table_of_one_vector_per_token_keeps_its_shape_on_the_projector():
    """(T, d_ff) activations on the Inside page: square cells of 1700 / 1024 px would flatten them."""
    tokens = [f"t{i}" for i in range(9)]
    figure = matrices_figure([Panel("FFN hidden", "(T, d_ff)", np.random.rand(9, 1024), tokens)])
    assert square_cells(figure) is figure
    spec = figure.to_plotly_json()
    assert square_cells_spec(spec) is None and spec["layout"] == figure.to_plotly_json()["layout"]


def test_the_similarity_map_ties_one_axis_to_the_other_on_screen_and_on_the_projector():
    """Plotly ignores one side of a scaleanchor loop: the y axis alone takes the other's scale."""
    figure = similarity_heatmap(np.random.rand(8, 8))
    for layout in (figure.layout, square_cells(figure).layout):
        assert (layout.yaxis.scaleanchor, layout.xaxis.scaleanchor) == ("x", None)
        assert (layout.yaxis.scaleratio, layout.yaxis.constrain, layout.xaxis.constrain) == (1, "domain", "domain")


def test_square_cells_leave_other_figures_alone():
    bars = go.Figure(go.Bar(x=[1, 2], y=[3, 4]))
    assert square_cells(bars) is bars
    two = go.Figure([go.Heatmap(z=[[1]]), go.Heatmap(z=[[2]])])
    assert square_cells(two) is two


def test_the_translate_heatmap_with_its_click_targets_gets_square_cells():
    figure = attention_heatmap(np.random.rand(5, 8), list("abcde"), list("ABCDEFGH"), "map")
    assert square_cells(figure).layout.yaxis.scaleanchor == "x"


def test_tick_labels_and_axis_titles_are_drawn_in_the_dark_tick_colour():
    from figures.style import TICK_COLOR

    tokens = ["a", "b", "c"]
    spec = legible(attention_heatmap(np.eye(3), tokens, tokens)).to_plotly_json()
    for axis in ("xaxis", "yaxis"):
        assert spec["layout"][axis]["tickfont"]["color"] == TICK_COLOR
        assert spec["layout"][axis]["title"]["font"]["color"] == TICK_COLOR
    assert spec["data"][0]["colorbar"]["tickfont"]["color"] == TICK_COLOR
    grid = legible(attention_grid(np.full((2, 2, 3, 3), 1 / 3))).to_plotly_json()
    assert grid["layout"]["coloraxis"]["colorbar"]["tickfont"]["color"] == TICK_COLOR


def score_map(n: int) -> go.Figure:
    tokens = [f"t{i}" for i in range(n)]
    scores = np.linspace(-9.99, 9.99, n * n).reshape(n, n)
    return attention_heatmap(scores, tokens, tokens, zrange=(-10, 10), value_format=".2f", show_values=True)


def test_numbers_in_cells_are_at_least_12_px_or_not_drawn():
    from figures.legibility import MIN_NUMBER_FONT, laptop_plot_width

    # Two columns on a 1366 px laptop: "-9.99" at 12 px needs 36 px, a cell of 12 tokens gets 20.
    small = legible(score_map(12), numbers_width=laptop_plot_width(2)).to_plotly_json()["data"][0]
    assert not small["texttemplate"]  # hidden: the hover still has each value
    wide = legible(score_map(4), numbers_width=laptop_plot_width(1)).to_plotly_json()["data"][0]
    assert wide["texttemplate"] == "%{z:.2f}" and wide["textfont"]["size"] == MIN_NUMBER_FONT
    # On the projector, in 16 px, numbers stay where square cells hold them.
    projected = legible(square_cells(score_map(6)), 16, numbers_width=PRESENT_WIDTH).to_plotly_json()["data"][0]
    assert projected["texttemplate"] == "%{z:.2f}" and projected["textfont"]["size"] == 16


def test_ids_a_figure_sizes_itself_keep_their_size():
    from figures import padded_ids

    figure = padded_ids(np.arange(24).reshape(2, 12), [["▁token"] * 12] * 2, pad_id=0)
    trace = legible(figure, numbers_width=100).to_plotly_json()["data"][0]
    assert trace["texttemplate"] == "%{text}" and trace["textfont"]["size"] >= 12
