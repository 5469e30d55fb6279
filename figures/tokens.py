"""How tokens are shown, and the translation token by token, each cell coloured by the
probability the model gave it.

display_token is the one place that decides a token's display form: as the vocabulary spells it,
or without the SentencePiece-style word-start marker "▁"; without_marker applies it to every text
of a finished figure, so that every figure builder's token labels follow one switch (the app's
"Show ▁" setting)."""

import html
import re

import numpy as np
import plotly.graph_objects as go

from .style import LABEL_FONT_SIZE, PROBABILITY_SCALE, margin

SUBWORD_MARKER = "▁"  # starts a word in a BPE vocabulary with SentencePiece-style pre-tokenization
_MARKER_BEFORE_TEXT = re.compile(SUBWORD_MARKER + r"(?=\S)")  # a lone "▁" (a space token) stays


def label(token: str) -> str:
    """Plotly reads tags in labels as markup ("<s>" would strike the rest through): escape them.
    The one escape of a token (or a title naming one) in a Plotly figure."""
    return html.escape(token, quote=False)


def display_token(token: str, show_marker: bool = True) -> str:
    """token as shown: as the vocabulary has it, or without its word-start marker ("▁Hund" ->
    "Hund"); a token that is only the marker stays, or it would vanish."""
    return token if show_marker else _MARKER_BEFORE_TEXT.sub("", token)


def strip_markers(node):
    if isinstance(node, str):
        return display_token(node, show_marker=False)
    if isinstance(node, dict):
        return {key: strip_markers(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [strip_markers(item) for item in node]
    if isinstance(node, np.ndarray) and node.dtype.kind in "OU":  # texts, as arrays of strings
        return strip_markers(node.tolist())
    return node


def without_marker(figure: go.Figure) -> go.Figure:
    """figure with the word-start marker taken out of every text it holds: tick labels, cell
    and marker texts, hover texts, titles. Pure: a new figure."""
    return go.Figure(strip_markers(figure.to_plotly_json()))


def token_probabilities(tokens: list[str], probs: list[float], per_row: int = 10) -> go.Figure:
    """Tokens in reading order, per_row to a row, each a cell coloured by its probability (0..1);
    hover shows token, position and probability. The cells are bars, whose labels Plotly shrinks
    to fit inside them: on a narrow screen a long token stays in its cell."""
    if len(tokens) != len(probs):
        raise ValueError(f"{len(tokens)} tokens but {len(probs)} probabilities")
    n_rows = max(1, -(-len(tokens) // per_row))
    positions = range(len(tokens))
    cells = go.Bar(
        x=[1] * len(tokens),  # each cell one unit wide, from its column
        base=[i % per_row for i in positions],
        y=[i // per_row for i in positions],
        orientation="h",
        width=0.92,
        marker=dict(
            color=list(probs),
            cmin=0,
            cmax=1,
            colorscale=PROBABILITY_SCALE,
            line=dict(color="white", width=2),  # the gap between cells
        ),
        text=[label(t) for t in tokens],
        textposition="inside",
        insidetextanchor="middle",
        textangle=0,  # shrunk to fit, never turned on its side
        textfont=dict(size=LABEL_FONT_SIZE),
        customdata=np.array([[i, p] for i, p in zip(positions, probs)], dtype=float).reshape(-1, 2),
        hovertemplate="token: %{text}<br>position: %{customdata[0]}<br>probability: %{customdata[1]:.3f}"
        "<extra></extra>",
    )
    figure = go.Figure(cells)
    figure.update_layout(
        height=40 + 44 * n_rows,
        margin=margin(10, left=0, right=0),  # the cells reach the page's edges
        xaxis=dict(visible=False, range=[0, per_row], fixedrange=True),
        yaxis=dict(visible=False, range=[n_rows - 0.5, -0.5], fixedrange=True),  # the first row on top
        showlegend=False,
    )
    return figure
