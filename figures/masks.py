"""Figures of the masks (§3.2.3) and of one head's attention computed step by step (Eq. 1):
the padded batch of ids, the masks as (queries, keys) grids, and the four matrices
scores -> scaled -> masked -> softmax.

Pure functions of arrays and token lists; masks are True where attention is allowed, as in
transformer.masks.
"""

import math

import numpy as np
import plotly.graph_objects as go

from .attention import attention_heatmap
from .legibility import PLOTLY_DEFAULT_FONT, thinned_ticks
from .style import DIVERGING, MASK_SCALE, MASKED_COLOR, NOTE_FONT_SIZE, PADDING_SCALE, margin
from .tokens import label

MASK_KEY_AXIS = 280  # pixels of a mask's key axis: a third of the page, less its margins
MAX_CELLS_WITH_VALUES = 160  # beyond this, numbers in the cells would be unreadable
STEP_TITLES = {
    "scores": "1. Scores Q·Kᵀ",
    "scaled": "2. Scaled: Q·Kᵀ / √d_k",
    "masked": "3. Masked: −∞ where the mask forbids",
    "weights": "4. Softmax: the attention weights",
}


def padded_ids(ids, tokens: list[list[str]], pad_id: int, title: str = "") -> go.Figure:
    """A batch padded to one length, ids (sentences, positions): each cell shows the id and its
    token, padding greyed out."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or [len(row) for row in tokens] != [ids.shape[1]] * ids.shape[0]:
        raise ValueError(f"ids of shape {ids.shape} do not match the tokens")
    text = [[f"{i}<br>{label(t)}" for i, t in zip(row, row_tokens)] for row, row_tokens in zip(ids, tokens)]
    figure = go.Figure(
        go.Heatmap(
            z=(ids != pad_id).astype(float),
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=NOTE_FONT_SIZE),
            hovertemplate="%{y}, position %{x}<br>id and token: %{text}<extra></extra>",
            y=[f"sentence {row + 1}" for row in range(len(ids))],
            zmin=0,
            zmax=1,
            colorscale=PADDING_SCALE,
            showscale=False,
            xgap=2,
            ygap=2,
        )
    )
    figure.update_layout(
        title=title,
        height=110 + 50 * len(ids),
        margin=margin(50 if title else 20),
        xaxis=dict(title="position", dtick=1),
        yaxis=dict(autorange="reversed"),
    )
    return figure


def mask_heatmap(mask, query_tokens: list[str], key_tokens: list[str], title: str = "", **axes) -> go.Figure:
    """One mask as a (queries, keys) grid, blue where the query may attend to the key; mask may
    be any shape that broadcasts to (queries, keys), such as a padding mask's single row. The key
    labels stand upright and are thinned to fit MASK_KEY_AXIS: three masks share a row of the page.
    axes: attention_heatmap's reads and axis_titles (figures.rows.TokenAxes.options)."""
    grid = np.broadcast_to(np.asarray(mask, dtype=bool), (len(query_tokens), len(key_tokens)))
    figure = attention_heatmap(
        grid.astype(float),
        query_tokens,
        key_tokens,
        title,
        value_name="may attend",
        value_format=".0f",
        colorscale=MASK_SCALE,
        show_scale=False,
        **axes,
    )
    # Three masks stand side by side: the key labels stand upright, every k-th if they would collide.
    keep = thinned_ticks(len(key_tokens), MASK_KEY_AXIS, PLOTLY_DEFAULT_FONT)
    axis = figure.layout.xaxis
    return figure.update_xaxes(
        tickangle=-90, tickvals=[axis.tickvals[i] for i in keep], ticktext=[axis.ticktext[i] for i in keep]
    )


def attention_step_figures(steps: dict, query_tokens: list[str], key_tokens: list[str], **axes) -> dict[str, go.Figure]:
    """The four matrices of Eq. 1 for one head, from transformer.analysis.attention_steps, in order:
    "scores" Q·Kᵀ, "scaled" by 1/√d_k, "masked" (-inf where the mask forbids) and "weights" (the
    softmax). The first three share one colour range, so the scaling is seen to shrink them. axes:
    attention_heatmap's reads and axis_titles (figures.rows.TokenAxes.options)."""
    scores, scaled = np.asarray(steps["scores"], dtype=float), np.asarray(steps["scaled"], dtype=float)
    mask = np.asarray(steps["mask"], dtype=bool)
    d_k = np.asarray(steps["queries"]).shape[-1]
    limit = float(np.abs(scores).max()) or 1.0
    show_values = scores.size <= MAX_CELLS_WITH_VALUES
    score_style = dict(
        colorscale=DIVERGING, zrange=(-limit, limit), value_format=".2f", show_values=show_values, **axes
    )

    def scores_map(values, name: str, title: str) -> go.Figure:
        return attention_heatmap(values, query_tokens, key_tokens, title, value_name=name, **score_style)

    masked = scores_map(np.where(mask, scaled, np.nan), "masked score", STEP_TITLES["masked"])
    masked.add_trace(  # the forbidden cells drawn on top in grey, as -inf
        go.Heatmap(
            z=np.where(mask, np.nan, 0.0),
            x=list(range(len(key_tokens))),
            y=list(range(len(query_tokens))),
            colorscale=[[0, MASKED_COLOR], [1, MASKED_COLOR]],
            showscale=False,
            text=np.where(mask, "", "−∞"),
            texttemplate="%{text}" if show_values else None,
            hovertemplate="masked: −∞ (weight 0)<extra></extra>",
            hoverongaps=False,
        )
    )
    return {
        "scores": scores_map(scores, "score", STEP_TITLES["scores"]),
        "scaled": scores_map(scaled, "scaled score", f"{STEP_TITLES['scaled']}, √{d_k} = {math.sqrt(d_k):.3g}"),
        "masked": masked,
        "weights": attention_heatmap(
            steps["weights"],
            query_tokens,
            key_tokens,
            STEP_TITLES["weights"],
            value_format=".2f",
            show_values=show_values,
            **axes,
        ),
    }
