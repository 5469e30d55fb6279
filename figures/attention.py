"""Attention figures: one map and the grid of every layer x head (model view); plus the
long-format table behind the CSV export. The BertViz-style head view is an HTML page of its own
(head_view.py).

Pure functions: arrays and token lists in, Plotly figures (or a DataFrame) out. Layers and heads
are 0-based indices here and 1-based in every label a person reads; positions stay 0-based.
"""

import functools
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from transformer.config import ATTENTION_KINDS

from .rows import TokenAxes, query_hover
from .style import SMALL_FONT_SIZE, WEIGHT_SCALE, colorbar, layout_json, margin, outline_shape
from .tokens import label

KINDS = ATTENTION_KINDS  # the library's one list of kinds, under the name the figures and pages use
KIND_TITLES = {
    "encoder": "Encoder self-attention",
    "decoder": "Masked decoder self-attention",
    "cross": "Encoder–decoder attention",
}


def head_label(head: int | None) -> str:
    return "average over heads" if head is None else f"head {head + 1}"


def head_map(weights, layer: int, head: int | None) -> np.ndarray:
    """The (queries, keys) map of one layer and head of weights (layers, heads, queries, keys);
    head None averages over the heads."""
    maps = np.asarray(weights, dtype=float)[layer]
    return maps.mean(axis=0) if head is None else maps[head]


def token_axis(tokens: list[str], **extra) -> dict:
    # Positions are the axis values, tokens only the tick text: a repeated token keeps its own row.
    return dict(tickmode="array", tickvals=list(range(len(tokens))), ticktext=[label(t) for t in tokens], **extra)


def query_names(query_tokens: list[str], reads: list[str] | None = None) -> list[str]:
    """Each row's name in a hover, with its position: "query: Hund (2)", or for a decoder row
    named by the token it writes (figures.rows), "writes Hunde · reads Zwei (2)"."""
    if reads is None:
        return [f"query: {label(q)} ({i})" for i, q in enumerate(query_tokens)]
    if len(reads) != len(query_tokens):
        raise ValueError(f"{len(reads)} tokens read for {len(query_tokens)} rows")
    return [f"{query_hover(q, r)} ({i})" for i, (q, r) in enumerate(zip(query_tokens, reads))]


def _hover_text(query_tokens: list[str], key_tokens: list[str], reads: list[str] | None) -> list[list[str]]:
    keys = [f"key: {label(k)} ({j})" for j, k in enumerate(key_tokens)]
    return [[f"{query}<br>{key}" for key in keys] for query in query_names(query_tokens, reads)]


def attention_heatmap(
    weights,
    query_tokens: list[str],
    key_tokens: list[str],
    title: str = "",
    *,
    value_name: str = "weight",
    value_format: str = ".3f",
    colorscale=WEIGHT_SCALE,
    zrange: tuple[float, float] = (0, 1),
    show_values: bool = False,
    show_scale: bool = True,
    reads: list[str] | None = None,
    axis_titles: tuple[str, str] = ("query", "key"),
) -> go.Figure:
    """One attention map (queries, keys) with the tokens on both axes, queries top to bottom.

    The defaults draw weights; the keyword options serve the other (queries, keys) matrices of
    attention (scores, masks): value_name and value_format (d3) name and write the value in the
    hover and the colour bar, show_values also writes it in each cell. For decoder rows named by
    the token they write, reads (what each row reads) and axis_titles carry the row convention:
    pass figures.rows.TokenAxes.options.
    """
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (len(query_tokens), len(key_tokens)):
        raise ValueError(
            f"weights of shape {weights.shape} do not match {len(query_tokens)} x {len(key_tokens)} tokens"
        )
    heatmap = go.Heatmap(
        z=weights,
        x=list(range(len(key_tokens))),
        y=list(range(len(query_tokens))),
        text=_hover_text(query_tokens, key_tokens, reads),
        hovertemplate=f"%{{text}}<br>{value_name}: %{{z:{value_format}}}<extra></extra>",
        texttemplate=f"%{{z:{value_format}}}" if show_values else None,
        zmin=zrange[0],
        zmax=zrange[1],
        colorscale=colorscale,
        colorbar=colorbar(value_name),
        showscale=show_scale,
    )
    figure = go.Figure(heatmap)
    figure.update_layout(
        title=title,
        height=min(900, max(320, 140 + 22 * len(query_tokens))),
        margin=margin(50 if title else 20),
        xaxis=token_axis(key_tokens, title=axis_titles[1], tickangle=-60 if len(key_tokens) > 8 else 0),
        yaxis=token_axis(query_tokens, title=axis_titles[0], autorange="reversed"),
    )
    return figure


def axes_heatmap(weights, axes: TokenAxes, title: str = "", **options) -> go.Figure:
    """attention_heatmap of a (queries, keys) map on `axes` (figures.rows.TokenAxes): its query
    and key tokens, and for decoder rows the row convention (named by the token they write)."""
    return attention_heatmap(weights, axes.queries, axes.keys, title, **axes.options, **options)


def click_targets(x, y, size: int, hovertemplate: str, **extra) -> go.Scatter:
    """Invisible markers of size pixels at (x, y): heatmaps cannot be clicked in Plotly, so a
    clickable heatmap carries these over its cells, and a click names the marker it hit."""
    return go.Scatter(
        x=x,
        y=y,
        mode="markers",
        marker=dict(size=size, opacity=0),
        showlegend=False,
        hovertemplate=hovertemplate,
        **extra,
    )


def grid_target_index(curve_number: int, n_layers: int, n_heads: int) -> tuple[int, int] | None:
    """(layer, head) of a click on attention_grid's figure, given the clicked trace's number."""
    cell = curve_number - n_layers * n_heads  # the click targets follow the heatmaps
    return divmod(cell, n_heads) if 0 <= cell < n_layers * n_heads else None


@functools.lru_cache(maxsize=16)
def _grid_layout(n_layers: int, n_heads: int) -> str:
    """The layout of attention_grid's small multiples as JSON: make_subplots' axes and panel titles
    with the grid's axis, title and colour settings. Built once per shape: make_subplots and
    Plotly's per-subplot updates cost ten times the figure itself."""
    figure = make_subplots(
        rows=n_layers,
        cols=n_heads,
        subplot_titles=[f"L{layer + 1} H{head + 1}" for layer in range(n_layers) for head in range(n_heads)],
        horizontal_spacing=0.1 / n_heads,
        vertical_spacing=0.3 / n_layers,
    )
    figure.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False)
    figure.update_yaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, autorange="reversed")
    figure.update_annotations(font_size=SMALL_FONT_SIZE)
    figure.update_layout(
        coloraxis=dict(colorscale=WEIGHT_SCALE, cmin=0, cmax=1, colorbar=colorbar("weight")),
        dragmode=False,
        hoverdistance=30,
    )
    return layout_json(figure)


def attention_grid(weights, title: str = "", selected: tuple[int, int | None] | None = None) -> go.Figure:
    """Small multiples of every layer (rows) x head (columns) of weights (layers, heads, queries,
    keys) on one shared colour scale. selected = (layer, head) outlines that map, or the whole
    row when head is None.

    Heatmaps cannot be clicked in Plotly, so each map carries a lattice of invisible markers
    (traces n_layers * n_heads and on): grid_target_index turns a click on one into (layer, head).
    """
    weights = np.asarray(weights, dtype=float)
    n_layers, n_heads, n_queries, n_keys = weights.shape
    layout = json.loads(_grid_layout(n_layers, n_heads))
    layout.update(title={"text": title}, height=60 + 150 * n_layers, margin=margin(60 if title else 30))
    axes = [("x", "y")] + [(f"x{n}", f"y{n}") for n in range(2, n_layers * n_heads + 1)]  # row by row
    heatmaps = [
        dict(type="heatmap", z=weights[layer, head], coloraxis="coloraxis", hoverinfo="skip")
        for layer in range(n_layers)
        for head in range(n_heads)
    ]
    # 6 x 6 targets of 24 px per map: a click anywhere on a map lands within reach of one of them.
    xs, ys = np.meshgrid(np.linspace(0, max(n_keys - 1, 0), 6), np.linspace(0, max(n_queries - 1, 0), 6))
    targets = click_targets(xs.ravel(), ys.ravel(), 24, "").to_plotly_json()
    targets = [
        {**targets, "hovertemplate": f"layer {layer + 1}, head {head + 1}: click to enlarge<extra></extra>"}
        for layer in range(n_layers)
        for head in range(n_heads)
    ]
    traces = [{**trace, "xaxis": x, "yaxis": y} for trace, (x, y) in zip(heatmaps + targets, axes + axes)]
    if selected is not None:  # in the layout before the figure is made: one check, not one per outline
        layer, head = selected
        suffixes = [str(layer * n_heads + column + 1) for column in (range(n_heads) if head is None else [head])]
        suffixes = ["" if suffix == "1" else suffix for suffix in suffixes]
        layout["shapes"] = [outline_shape((0, 1), (0, 1), xref=f"x{s} domain", yref=f"y{s} domain") for s in suffixes]
    return go.Figure(data=traces, layout=layout)


def attention_table(
    kind: str, weights, query_tokens: list[str], key_tokens: list[str], reads: list[str] | None = None
) -> pd.DataFrame:
    """Long format, one row per weight of weights (layers, heads, queries, keys): kind, layer, head
    (both from 1), query_position, query_writes and query_reads, key_position, key_token (positions
    from 0), weight. query_tokens name the rows as the map does; for decoder kinds they are the
    tokens written and reads the decoder inputs (figures.rows), for the encoder (reads None) a row
    reads its own source token and writes none (query_writes empty)."""
    weights = np.asarray(weights, dtype=float)
    layer, head, query, key = (index.ravel() for index in np.indices(weights.shape))
    rows = np.asarray(query_tokens, dtype=object)
    written = np.full(len(query_tokens), "", dtype=object) if reads is None else rows
    read = rows if reads is None else np.asarray(reads, dtype=object)
    return pd.DataFrame(
        {
            "kind": kind,
            "layer": layer + 1,
            "head": head + 1,
            "query_position": query,
            "query_writes": written[query],
            "query_reads": read[query],
            "key_position": key,
            "key_token": np.asarray(key_tokens, dtype=object)[key],
            "weight": weights.ravel(),
        }
    )
