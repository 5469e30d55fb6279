"""The translation token by token, each cell coloured by the probability the model gave it."""

import numpy as np
import plotly.graph_objects as go

from .attention import label

PROBABILITY_COLORSCALE = "RdYlBu"  # red = unsure, blue = sure; readable without telling red from green


def token_probabilities(tokens: list[str], probs: list[float], per_row: int = 10) -> go.Figure:
    """Tokens in reading order, per_row to a row, coloured by probability (0..1); hover shows
    token, position and probability."""
    if len(tokens) != len(probs):
        raise ValueError(f"{len(tokens)} tokens but {len(probs)} probabilities")
    n_rows = max(1, -(-len(tokens) // per_row))
    cells = n_rows * per_row
    # Unused cells at the end of the last row stay empty (NaN is not drawn).
    z = np.full(cells, np.nan)
    z[: len(probs)] = probs
    text = [label(t) for t in tokens] + [""] * (cells - len(tokens))
    positions = list(range(len(tokens))) + [None] * (cells - len(tokens))
    heatmap = go.Heatmap(
        z=z.reshape(n_rows, per_row),
        text=np.array(text, dtype=object).reshape(n_rows, per_row),
        customdata=np.array(positions, dtype=object).reshape(n_rows, per_row),
        texttemplate="%{text}",
        hovertemplate="token: %{text}<br>position: %{customdata}<br>probability: %{z:.3f}<extra></extra>",
        hoverongaps=False,
        zmin=0,
        zmax=1,
        colorscale=PROBABILITY_COLORSCALE,
        textfont=dict(size=14),
        showscale=False,  # a one-row strip leaves no room for a legible colour bar; hover gives the value
        xgap=2,
        ygap=2,
    )
    figure = go.Figure(heatmap)
    figure.update_layout(
        height=40 + 44 * n_rows,
        margin=dict(l=0, r=0, t=10, b=10),
        xaxis=dict(visible=False, fixedrange=True),
        yaxis=dict(visible=False, autorange="reversed", fixedrange=True),
    )
    return figure
