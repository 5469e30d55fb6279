"""Figures of the sinusoidal positional encoding (§3.5): its curves, the position x dimension table,
the dot-product similarity between positions, and what it adds to the token embeddings.

Pure functions: the table (positions, dimensions) and the similarity (positions, positions) come
from transformer.embeddings / transformer.analysis; dimensions and positions are 0-based.
"""

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .legibility import SQUARE_AXES
from .style import CATEGORY_COLORS, DIVERGING, SIMILARITY_SCALE, colorbar, margin
from .tokens import label

PAIR_COLORS = CATEGORY_COLORS  # one colour per sine/cosine pair, i.e. per frequency


def wavelength(dimension: int, d_model: int) -> float:
    """The period, in positions, of dimension 2i or 2i+1: 2π · 10000^(2i / d_model) (§3.5)."""
    return 2 * math.pi * 10000 ** ((dimension - dimension % 2) / d_model)


def positional_curves(table, dimensions: list[int]) -> go.Figure:
    """One curve per chosen dimension across the positions of table (positions, d_model): sine
    (even dimension) solid, cosine (odd) dashed, one colour per sine/cosine pair, i.e. per frequency."""
    table = np.asarray(table, dtype=float)
    n_positions, d_model = table.shape
    pairs = sorted({dimension // 2 for dimension in dimensions})
    figure = go.Figure()
    for dimension in sorted(dimensions):
        cosine = dimension % 2 == 1
        color = PAIR_COLORS[pairs.index(dimension // 2) % len(PAIR_COLORS)]
        figure.add_trace(
            go.Scatter(
                x=list(range(n_positions)),
                y=table[:, dimension],
                mode="lines",
                name=f"dim {dimension} ({'cos' if cosine else 'sin'}, period {wavelength(dimension, d_model):.1f})",
                line=dict(color=color, dash="dash" if cosine else "solid"),
                hovertemplate=f"dim {dimension}<br>position %{{x}}<br>value %{{y:.3f}}<extra></extra>",
            )
        )
    figure.update_layout(
        height=380,
        margin=margin(20),
        xaxis=dict(title="position"),
        yaxis=dict(title="PE(position, dim)", range=[-1.1, 1.1]),
        legend=dict(orientation="h", yanchor="top", y=-0.2),
    )
    return figure


def positional_heatmap(table) -> go.Figure:
    """The whole table (positions, d_model), position top to bottom: fast sinusoids on the left,
    slow ones on the right."""
    heatmap = go.Heatmap(
        z=np.asarray(table, dtype=float),
        zmin=-1,
        zmax=1,
        colorscale=DIVERGING,
        colorbar=colorbar("value"),
        hovertemplate="position %{y}<br>dim %{x}<br>value %{z:.3f}<extra></extra>",
    )
    return _table_figure(heatmap, "dimension", "position")


def similarity_heatmap(similarity) -> go.Figure:
    """Dot products PE(i) · PE(j) of every pair of positions: constant along each diagonal."""
    heatmap = go.Heatmap(
        z=np.asarray(similarity, dtype=float),
        colorscale=SIMILARITY_SCALE,
        colorbar=colorbar("PE(i)·PE(j)"),
        hovertemplate="i = %{y}, j = %{x}<br>PE(i)·PE(j) = %{z:.2f}<extra></extra>",
    )
    return _table_figure(heatmap, "position j", "position i").update_layout(SQUARE_AXES)


def _table_figure(heatmap: go.Heatmap, x_title: str, y_title: str) -> go.Figure:
    """A table of the encoding as a heatmap, its first row on top."""
    figure = go.Figure(heatmap)
    return figure.update_layout(
        height=420,
        margin=margin(20),
        xaxis=dict(title=x_title),
        yaxis=dict(title=y_title, autorange="reversed"),
    )


def similarity_by_distance(similarity, positions: list[int]) -> go.Figure:
    """PE(i) · PE(i + k) against the offset k for each position i in positions: the curves lie
    on top of each other because the dot product depends on k only."""
    similarity = np.asarray(similarity, dtype=float)
    n_positions = similarity.shape[0]
    figure = go.Figure()
    for index, position in enumerate(positions):
        figure.add_trace(
            go.Scatter(
                x=np.arange(n_positions) - position,
                y=similarity[position],
                mode="lines",
                name=f"from position {position}",
                # Each curve thinner than the one before: where they coincide, all stay visible.
                line=dict(color=PAIR_COLORS[index % len(PAIR_COLORS)], width=5 - 1.5 * min(index, 2)),
                hovertemplate=f"i = {position}<br>offset k = %{{x}}<br>PE(i)·PE(i+k) = %{{y:.2f}}<extra></extra>",
            )
        )
    figure.update_layout(
        height=420,
        margin=margin(20),
        xaxis=dict(title="offset k = j − i"),
        yaxis=dict(title="PE(i)·PE(i+k)"),
        legend=dict(orientation="h", yanchor="top", y=-0.2),
    )
    return figure


EMBEDDING_PANELS = ("token embedding × √d_model", "positional encoding", "sum: the encoder's input")


def embedding_parts_figure(embeddings, positional, tokens: list[str]) -> go.Figure:
    """The two summands of the encoder input (§3.4, §3.5), each (tokens, d_model), and their sum,
    side by side on one colour scale: a token per row, a dimension per column."""
    embeddings, positional = np.asarray(embeddings, dtype=float), np.asarray(positional, dtype=float)
    if embeddings.shape != positional.shape or embeddings.shape[0] != len(tokens):
        raise ValueError(f"parts of shapes {embeddings.shape}, {positional.shape} do not match {len(tokens)} tokens")
    parts = (embeddings, positional, embeddings + positional)
    limit = max((float(np.abs(part).max()) for part in parts if part.size), default=1.0)
    labels = [label(t) for t in tokens]
    figure = make_subplots(rows=1, cols=3, subplot_titles=EMBEDDING_PANELS, shared_yaxes=True, horizontal_spacing=0.03)
    for column, (name, part) in enumerate(zip(EMBEDDING_PANELS, parts), start=1):
        figure.add_trace(
            go.Heatmap(
                z=part,
                y=list(range(len(tokens))),
                customdata=np.repeat(np.array(labels, dtype=object)[:, None], part.shape[1], axis=1),
                coloraxis="coloraxis",
                hovertemplate=f"{name}<br>token %{{customdata}} (%{{y}})<br>dim %{{x}}<br>value %{{z:.3f}}<extra></extra>",
            ),
            row=1,
            col=column,
        )
        figure.update_xaxes(title_text="dimension", row=1, col=column)
    figure.update_yaxes(tickmode="array", tickvals=list(range(len(tokens))), ticktext=labels, autorange="reversed")
    figure.update_layout(
        height=min(900, max(320, 140 + 22 * len(tokens))),
        margin=margin(40),
        coloraxis=dict(colorscale=DIVERGING, cmin=-limit, cmax=limit, colorbar=colorbar("value")),
    )
    return figure
