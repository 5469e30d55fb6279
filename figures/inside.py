"""Figures of one layer seen from the inside (transformer.inside): matrices with a token on each
row and their shape in their title, a projection split into its heads, the values one output row
mixes, the neuron view of one query against every key, and the q ⊙ k bars of one key.

Pure functions of arrays and token lists. Matrices are drawn on a colour scale centred on 0 (red
positive, blue negative), each on its own range: their magnitudes differ from step to step. No
figure sets a font size, so presentation mode's larger font reaches every text.
"""

import functools
import json
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .attention import token_axis
from .style import (
    BLUE,
    DIVERGING,
    HIGHLIGHT,
    MASKED_COLOR,
    NEGATIVE_COLOR,
    PANEL_TITLE_SIZE,
    POSITIVE_COLOR,
    layout_json,
    margin,
    outline_shape,
)
from .tokens import label

LINE_COLOR = BLUE  # the query's lines to the keys it may attend to
ROW_PIXELS = 24  # the height of one token row
NEURON_COLUMNS = ("attention", "k", "q ⊙ k", "q·k / √d_k", "softmax")


class Panel(NamedTuple):
    """One matrix of matrices_figure: what it is, its shape in the paper's symbols, its values
    (rows, columns) and the token of each row."""

    title: str
    symbols: str
    matrix: np.ndarray
    tokens: list[str]


def shape_label(symbols: str, matrix) -> str:
    """A shape in symbols and in numbers: shape_label("(S, d_model)", x) -> "(S, d_model) = (12, 256)"."""
    return f"{symbols} = ({', '.join(str(n) for n in np.shape(matrix))})"


def _limit(values) -> float:
    """The half-range of a colour scale centred on 0: the largest magnitude (1 if all are 0)."""
    values = np.abs(np.asarray(values, dtype=float))
    return float(np.nanmax(values)) if values.size and np.nanmax(values) > 0 else 1.0


def _centred_scale(values) -> dict:
    """The heatmap options of DIVERGING centred on 0, reaching the largest magnitude of values."""
    limit = _limit(values)
    return dict(colorscale=DIVERGING, zmin=-limit, zmax=limit, showscale=False)


def _matrix_heatmap(matrix: np.ndarray, tokens: list[str], axes: str) -> dict:
    """A matrix as a heatmap trace on the subplot `axes` ("" for the first, "2"...). Its rows are
    categories named by their token, so that a hover names the row's token once per row: a hover
    text per cell was 60 % of the page's JSON (2 MB) and most of its time. Float32: the hover shows
    3 decimals, and the page sends half the bytes."""
    return dict(
        type="heatmap",
        z=matrix.astype(np.float32),
        y=[f"{label(token)} ({i})" for i, token in enumerate(tokens)],
        xaxis=f"x{axes}",
        yaxis=f"y{axes}",
        hovertemplate="%{y}, dimension %{x}: %{z:.3f}<extra></extra>",
        **_centred_scale(matrix),
    )


def _head_blocks(n_heads: int, head_size: int, head: int | None, axes: str) -> tuple[dict, list[dict]]:
    """The x axis of a matrix of heads side by side: "head i" under each block of head_size
    columns; and its shapes, a line between blocks and an outline around head `head`."""
    axis = dict(
        tickmode="array",
        tickvals=[h * head_size + (head_size - 1) / 2 for h in range(n_heads)],
        ticktext=[f"head {h + 1}" for h in range(n_heads)],
    )
    refs = dict(xref=f"x{axes}", yref=f"y{axes} domain")
    line = dict(type="line", y0=0, y1=1, line=dict(color="black", width=1), **refs)
    shapes = [{**line, "x0": b * head_size - 0.5, "x1": b * head_size - 0.5} for b in range(1, n_heads)]
    if head is not None:
        shapes.append(outline_shape((head * head_size - 0.5, (head + 1) * head_size - 0.5), (0, 1), **refs))
    return axis, shapes


def _panel_domains(count: int) -> list[list[float]]:
    """The x domains of count panels side by side, as make_subplots spaces them."""
    spacing = 0.12 / count + 0.04
    width = (1 - spacing * (count - 1)) / count
    return [[i * (width + spacing), i * (width + spacing) + width] for i in range(count)]


def matrices_figure(panels: list[Panel], title: str = "", head: int | None = None) -> go.Figure:
    """Matrices side by side, a token per row, each titled with what it is and its shape. A panel
    of shape (heads, rows, d_k) is drawn as its heads side by side, Concat(head_1, ..., head_h),
    cut into blocks of d_k columns, the block of head `head` outlined. Written as the figure's
    JSON and checked once: the Inside page draws a dozen of them a run."""
    matrices = [np.asarray(panel.matrix, dtype=float) for panel in panels]
    for panel, matrix in zip(panels, matrices):
        if matrix.ndim not in (2, 3) or matrix.shape[-2] != len(panel.tokens):
            raise ValueError(f"{panel.title}: a matrix of shape {matrix.shape} for {len(panel.tokens)} tokens")
    rows = max(len(panel.tokens) for panel in panels)
    layout = dict(title=title, height=min(900, 200 + ROW_PIXELS * rows), margin=margin(110 if title else 80))
    traces, annotations, shapes = [], [], []
    for number, (panel, matrix, domain) in enumerate(zip(panels, matrices, _panel_domains(len(panels))), start=1):
        axes = "" if number == 1 else str(number)
        drawn = np.concatenate(list(matrix), axis=1) if matrix.ndim == 3 else matrix
        traces.append(_matrix_heatmap(drawn, panel.tokens, axes))
        xaxis = dict(anchor=f"y{axes}", domain=domain, title=dict(text="dimension"))
        if matrix.ndim == 3:
            head_axis, head_shapes = _head_blocks(len(matrix), matrix.shape[2], head, axes)
            xaxis.update(head_axis)
            shapes += head_shapes
        layout[f"xaxis{axes}"] = xaxis
        layout[f"yaxis{axes}"] = dict(
            anchor=f"x{axes}", type="category", **token_axis(panel.tokens, autorange="reversed")
        )
        annotations.append(
            dict(
                text=f"{panel.title}<br>{shape_label(panel.symbols, drawn)}",
                x=sum(domain) / 2,
                y=1,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=PANEL_TITLE_SIZE),
            )
        )
    return go.Figure(dict(data=traces, layout=dict(layout, annotations=annotations, shapes=shapes)))


def mixture_figure(weights, weighted_values, output, key_tokens: list[str], query_token: str, title: str = ""):
    """What one output row of a head is a mixture of: row j is weight_j × v_j (weighted_values,
    (keys, d_k)), and the last row, their sum, is the head's output for the query (d_k,).
    One colour range for all, so that each key's share of the output can be compared."""
    weights, weighted = np.asarray(weights, dtype=float), np.asarray(weighted_values, dtype=float)
    output = np.asarray(output, dtype=float)[None, :]
    if weighted.shape != (len(key_tokens), output.shape[1]) or weights.shape != (len(key_tokens),):
        raise ValueError(
            f"weighted values {weighted.shape} do not match {len(key_tokens)} keys and d_k {output.shape[1]}"
        )
    rows = [f"{w:.2f} × v({label(token)}) ({j})" for j, (w, token) in enumerate(zip(weights, key_tokens))]
    style = _centred_scale(np.concatenate([weighted, output]))  # one range for all
    hover = "%{y}, dimension %{x}: %{z:.3f}<extra></extra>"
    output_row = f"= output of {label(query_token)}"
    traces = [
        dict(type="heatmap", z=weighted, y=rows, hovertemplate=hover, xaxis="x", yaxis="y", **style),
        dict(type="heatmap", z=output, y=[output_row], hovertemplate=hover, xaxis="x2", yaxis="y2", **style),
    ]
    layout = json.loads(_mixture_layout())
    layout.update(title=title, height=min(900, 220 + ROW_PIXELS * (len(key_tokens) + 2)), margin=margin(60))
    return go.Figure(data=traces, layout=layout)


@functools.cache
def _mixture_layout() -> str:
    """mixture_figure's two rows sharing one x axis, as layout JSON (style.layout_json)."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.85, 0.15], vertical_spacing=0.06)
    figure.update_yaxes(autorange="reversed", row=1, col=1)
    figure.update_xaxes(title_text="dimension of the head (d_k)", row=2, col=1)
    return layout_json(figure)


def neuron_key_target(point: dict) -> int | None:
    """The key of a click on neuron_view's figure (a key token's marker), None for any other point."""
    data = point.get("customdata")
    return int(data) if isinstance(data, int | float) and not isinstance(data, bool) else None


# make_subplots' axes of neuron_view's panels, (row, col) -> the axis suffix: q above k, then row 2.
NEURON_AXES = {(1, 2): "", (2, 1): "2", (2, 2): "3", (2, 3): "4", (2, 4): "5", (2, 5): "6"}


def _on(trace: dict, row: int, col: int) -> dict:
    """trace on neuron_view's panel (row, col)."""
    return {**trace, "xaxis": f"x{NEURON_AXES[row, col]}", "yaxis": f"y{NEURON_AXES[row, col]}"}


@functools.lru_cache(maxsize=32)
def _neuron_layout(n_keys: int) -> str:
    """neuron_view's panels for n_keys keys as layout JSON (make_subplots and the axes' settings,
    style.layout_json). Built once per number of keys: make_subplots and its per-panel updates
    were half of the figure's time."""
    figure = make_subplots(
        rows=2,
        cols=5,
        column_widths=[0.22, 0.25, 0.25, 0.14, 0.14],
        row_heights=[1 / (n_keys + 1), n_keys / (n_keys + 1)],
        specs=[[None, {}, None, None, None], [{}, {}, {}, {}, {}]],
        subplot_titles=["q (query)", *NEURON_COLUMNS],
        horizontal_spacing=0.02,
        vertical_spacing=0.08,
    )
    figure.update_xaxes(visible=False, range=[-0.8, 1.9], row=2, col=1)
    figure.update_yaxes(visible=False, range=[n_keys - 0.5, -0.5], row=2, col=1)
    for col in (2, 3, 4, 5):
        figure.update_yaxes(autorange="reversed", showticklabels=False, row=2, col=col)
    figure.update_xaxes(range=[0, 1], row=2, col=5)
    figure.update_yaxes(showticklabels=False, row=1, col=2)
    figure.update_xaxes(showticklabels=False, row=1, col=2)
    figure.update_layout(height=min(1000, 220 + 30 * n_keys), dragmode=False, bargap=0.25)
    return layout_json(figure)


def neuron_view(neuron, query_token: str, key_tokens: list[str], selected_key: int | None = None, title: str = ""):
    """BertViz's neuron view of one query of one head: neuron holds (transformer.inside.NeuronView)
    query (d_k,), keys and products (keys, d_k), scores, scaled, allowed and weights (keys,).

    Left, lines from the query to every key, their opacity the softmax weight; then the key
    vectors k (the query's q above them), the elementwise products q ⊙ k, whose sum is the
    score, the scaled score and the weight. Masked keys are grey. The key markers carry their
    index as customdata (neuron_key_target); selected_key is outlined."""
    arrays = _neuron_arrays(neuron, len(key_tokens))
    n_keys, d_k = len(key_tokens), arrays.query.size
    key_names = [f"{label(token)} ({j})" for j, token in enumerate(key_tokens)]
    key_colors = [LINE_COLOR if allowed else MASKED_COLOR for allowed in arrays.allowed]
    traces = [
        *_query_key_lines(query_token, key_tokens, arrays.weights, key_colors),
        *_neuron_vectors(arrays, query_token, key_names),
        *_score_bars(arrays, key_names, key_colors),
    ]
    layout = json.loads(_neuron_layout(n_keys))
    layout.update(title=title, margin=margin(90 if title else 60))
    if selected_key is not None:
        box = (-0.5, d_k - 0.5), (selected_key - 0.5, selected_key + 0.5)
        layout["shapes"] = [outline_shape(*box, xref=f"x{NEURON_AXES[2, 3]}", yref=f"y{NEURON_AXES[2, 3]}")]
    return go.Figure(data=traces, layout=layout)


class _NeuronArrays(NamedTuple):
    query: np.ndarray
    keys: np.ndarray
    products: np.ndarray
    scores: np.ndarray
    scaled: np.ndarray
    allowed: np.ndarray
    weights: np.ndarray


def _neuron_arrays(neuron, n_keys: int) -> _NeuronArrays:
    """neuron's arrays as numbers (allowed as booleans), checked against n_keys keys."""
    arrays = _NeuronArrays(
        *(np.asarray(getattr(neuron, name), dtype=float) for name in ("query", "keys", "products", "scores", "scaled")),
        allowed=np.asarray(neuron.allowed, dtype=bool),
        weights=np.asarray(neuron.weights, dtype=float),
    )
    d_k = arrays.query.size
    if (
        arrays.products.shape != (n_keys, d_k)
        or arrays.keys.shape != (n_keys, d_k)
        or arrays.weights.shape != (n_keys,)
    ):
        raise ValueError(f"neuron arrays do not match {n_keys} keys of d_k = {d_k}")
    return arrays


def _query_key_lines(query_token: str, key_tokens: list[str], weights, key_colors) -> list[dict]:
    """The left panel: the key markers (trace 0, clickable: customdata = key index), a line from
    the query to each key as opaque as its weight, and the query's marker."""
    n_keys = len(key_tokens)
    middle = (n_keys - 1) / 2
    keys = dict(
        type="scatter",
        x=[1] * n_keys,
        y=list(range(n_keys)),
        mode="markers+text",
        text=[label(token) for token in key_tokens],
        textposition="middle right",
        customdata=list(range(n_keys)),
        hovertext=[f"{w:.3f}" for w in weights],
        marker=dict(size=12, color=key_colors),
        hovertemplate="key %{text}: weight %{hovertext}<br>click to see its q ⊙ k<extra></extra>",
        showlegend=False,
    )
    line = dict(type="scatter", x=[0, 1], mode="lines", line=dict(color=LINE_COLOR, width=3), hoverinfo="skip")
    lines = [
        {**line, "y": [middle, j], "opacity": float(weight), "showlegend": False} for j, weight in enumerate(weights)
    ]
    query = dict(
        type="scatter",
        x=[0],
        y=[middle],
        mode="markers+text",
        text=[label(query_token)],
        textposition="middle left",
        marker=dict(size=12, color=HIGHLIGHT),
        hovertemplate="query %{text}<extra></extra>",
        showlegend=False,
    )
    return [_on(trace, 2, 1) for trace in (keys, *lines, query)]


def _neuron_vectors(arrays: _NeuronArrays, query_token: str, key_names: list[str]) -> list[dict]:
    """The vectors as heatmaps, each on its own range: q above the keys k, and q ⊙ k."""
    vectors = (
        ("q", arrays.query[None, :], [label(query_token)], 1, 2),  # above the keys
        ("k", arrays.keys, key_names, 2, 2),
        ("q ⊙ k", arrays.products, key_names, 2, 3),
    )
    hover = "%{y}, dimension %{x}: %{z:.3f}<extra>%{meta}</extra>"
    return [
        _on(dict(type="heatmap", z=matrix, y=rows, hovertemplate=hover, meta=name, **_centred_scale(matrix)), row, col)
        for name, matrix, rows, row, col in vectors
    ]


def _score_bars(arrays: _NeuronArrays, key_names: list[str], key_colors: list[str]) -> list[dict]:
    """The last two columns: each key's scaled score ("masked" where it may not be attended) and
    its softmax weight, the unscaled score q·k in the hover."""
    scaled_labels = [f"{s:.2f}" if a else "masked" for s, a in zip(arrays.scaled, arrays.allowed)]
    bars = (
        (arrays.scaled, scaled_labels, "q·k = %{customdata:.3f}, / √d_k = %{x:.3f}"),
        (arrays.weights, [f"{w:.2f}" for w in arrays.weights], "weight %{x:.3f}"),
    )
    bar = dict(type="bar", y=key_names, orientation="h", marker=dict(color=key_colors), textposition="outside")
    bar.update(cliponaxis=False, customdata=arrays.scores, showlegend=False)
    return [
        _on({**bar, "x": values, "text": text, "hovertemplate": f"%{{y}}: {hover}<extra></extra>"}, 2, col)
        for col, (values, text, hover) in enumerate(bars, start=4)
    ]


def product_bars(products, query_token: str, key_token: str, score: float, weight: float):
    """The elementwise products q ⊙ k of one query and one key, a bar per dimension of the head:
    their sum is the score q·k."""
    products = np.asarray(products, dtype=float)
    figure = go.Figure(
        go.Bar(
            x=list(range(products.size)),
            y=products,
            marker_color=np.where(products >= 0, POSITIVE_COLOR, NEGATIVE_COLOR),
            hovertemplate="dimension %{x}: q × k = %{y:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=(
            f"q ⊙ k for query {label(query_token)} and key {label(key_token)}: "
            f"the bars sum to q·k = {score:.3f} (weight {weight:.3f})"
        ),
        height=320,
        margin=margin(60),
        xaxis_title="dimension of the head (d_k)",
        yaxis_title="q × k",
    )
    return figure
