"""Figures of the Analysis page: per-head values (statistics, importance, how far attention moved)
as layer x head grids, the change of an attention map under head ablation, the pruning curve of
Michel et al. (2019), a value across training steps, and a source-target alignment with its
argmax links (Chen et al., 2020, for the Shift-Att reading).

Pure functions: arrays, token lists and dicts in, Plotly figures (or a DataFrame) out. Layers and
heads are 0-based indices here and 1-based in every label a person reads.
"""

from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .attention import COLORSCALE, KIND_TITLES, KINDS, attention_heatmap, label

CHANGE_COLORSCALE = "RdBu_r"  # blue = less weight than before, red = more; white = unchanged
HIGHLIGHT = "#d62728"  # argmax links, marked heads, the current step


def head_grid(
    values: dict,
    title: str = "",
    *,
    value_name: str = "value",
    value_format: str = ".2f",
    zrange: tuple[float, float] | None = None,
    hint: str = "",
    marked: Iterable[tuple[str, int, int]] = (),
) -> go.Figure:
    """One panel per attention kind of values {kind: (layers, heads)}, layer rows (first on top) x
    head columns, every value written in its cell, all panels on one colour scale (zrange, or
    0 to the largest value). marked (kind, layer, head) cells are outlined (switched-off heads, say).

    Heatmaps cannot be clicked in Plotly, so every cell also carries an invisible marker whose
    customdata is [kind, layer, head]: head_grid_target turns a click on one back into the head.
    hint ends each cell's hover text (what a click does).
    """
    kinds = [kind for kind in KINDS if kind in values]
    grids = {kind: np.asarray(values[kind], dtype=float) for kind in kinds}
    if zrange is None:
        zrange = (0.0, max(float(grid.max(initial=0.0)) for grid in grids.values()) or 1.0)
    figure = make_subplots(
        rows=1, cols=len(kinds), subplot_titles=[KIND_TITLES[kind] for kind in kinds], horizontal_spacing=0.06
    )
    for column, kind in enumerate(kinds, start=1):
        grid = grids[kind]
        n_layers, n_heads = grid.shape
        figure.add_trace(
            go.Heatmap(z=grid, coloraxis="coloraxis", texttemplate=f"%{{z:{value_format}}}", hoverinfo="skip"),
            row=1,
            col=column,
        )
        layers, heads = np.indices(grid.shape)
        figure.add_trace(
            go.Scatter(
                x=heads.ravel(),
                y=layers.ravel(),
                mode="markers",
                marker=dict(size=30, opacity=0),
                customdata=[[kind, int(layer), int(head)] for layer, head in zip(layers.ravel(), heads.ravel())],
                # customdata holds 0-based indices, so the hover's 1-based names are written out here.
                text=[
                    f"layer {layer + 1}, head {head + 1}<br>{value_name}: {value:{value_format}}"
                    for layer, head, value in zip(layers.ravel(), heads.ravel(), grid.ravel())
                ],
                hovertemplate=f"{KIND_TITLES[kind]}<br>%{{text}}<br>{hint}<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=column,
        )
        for marked_kind, layer, head in marked:
            if marked_kind == kind:
                figure.add_shape(
                    type="rect",
                    x0=head - 0.45,
                    x1=head + 0.45,
                    y0=layer - 0.45,
                    y1=layer + 0.45,
                    line=dict(color=HIGHLIGHT, width=3),
                    row=1,
                    col=column,
                )
        figure.update_xaxes(
            tickmode="array", tickvals=list(range(n_heads)), ticktext=[f"H{h + 1}" for h in range(n_heads)], col=column
        )
        figure.update_yaxes(
            tickmode="array",
            tickvals=list(range(n_layers)),
            ticktext=[f"L{layer + 1}" for layer in range(n_layers)],
            autorange="reversed",
            col=column,
        )
    figure.update_xaxes(showgrid=False, zeroline=False)
    figure.update_yaxes(showgrid=False, zeroline=False)
    figure.update_annotations(font_size=12)
    n_rows = max(grid.shape[0] for grid in grids.values())
    figure.update_layout(
        title=title,
        height=150 + 64 * n_rows,
        margin=dict(l=10, r=10, t=80 if title else 40, b=10),
        coloraxis=dict(
            colorscale=COLORSCALE, cmin=zrange[0], cmax=zrange[1], colorbar=dict(title=value_name, thickness=12)
        ),
        dragmode=False,
        hoverdistance=30,
    )
    return figure


def head_grid_target(point: dict) -> tuple[str, int, int] | None:
    """(kind, layer, head) of a click on head_grid's figure, from the clicked point's customdata;
    None for a point that is not a cell."""
    data = point.get("customdata")
    if not isinstance(data, list | tuple) or len(data) != 3 or data[0] not in KINDS:
        return None
    kind, layer, head = data
    return kind, int(layer), int(head)


def diverging_heatmap(
    values, query_tokens: list[str], key_tokens: list[str], title: str = "", value_name: str = "change"
) -> go.Figure:
    """A signed (queries, keys) matrix on a diverging scale centred on 0: blue below, red above."""
    values = np.asarray(values, dtype=float)
    # At least ±0.01: rounding noise of an unchanged map must not fill the scale.
    span = max(float(np.abs(values).max(initial=0.0)), 0.01)
    return attention_heatmap(
        values,
        query_tokens,
        key_tokens,
        title,
        value_name=value_name,
        value_format="+.3f",
        colorscale=CHANGE_COLORSCALE,
        zrange=(-span, span),
    )


def attention_change_heatmap(change, query_tokens: list[str], key_tokens: list[str], title: str = "") -> go.Figure:
    """A difference of two attention maps (queries, keys) on a diverging scale centred on 0."""
    return diverging_heatmap(change, query_tokens, key_tokens, title, value_name="change")


def importance_ranking(order: list[tuple[str, int, int]], importance: dict) -> pd.DataFrame:
    """One row per head of order (kind, layer, head), most important first: rank, kind, layer and
    head (both from 1) and its importance from importance {kind: (layers, heads)}."""
    return pd.DataFrame(
        {
            "rank": range(1, len(order) + 1),
            "kind": [kind for kind, _, _ in order],
            "layer": [layer + 1 for _, layer, _ in order],
            "head": [head + 1 for _, _, head in order],
            "importance": [float(np.asarray(importance[kind])[layer, head]) for kind, layer, head in order],
        }
    )


def _head_names(heads) -> str:
    return ", ".join(f"{kind} L{layer + 1} H{head + 1}" for kind, layer, head in heads) or "none"


def pruning_figure(curve: list[dict]) -> go.Figure:
    """BLEU against the number of heads switched off, least important first (Michel et al.,
    2019, Fig. 3); curve holds {"pruned": n, "bleu": ..., "heads": [(kind, layer, head), ...]}
    in increasing n. The hover names the heads switched off since the previous point."""
    hover = [
        f"{point['pruned']} heads off: BLEU {point['bleu']:.2f}<br>"
        f"newly off: {_head_names(point['heads'][previous['pruned'] if previous else 0 :])}"
        for previous, point in zip([None, *curve[:-1]], curve)
    ]
    figure = go.Figure(
        go.Scatter(
            x=[point["pruned"] for point in curve],
            y=[point["bleu"] for point in curve],
            mode="lines+markers",
            text=hover,
            hovertemplate="%{text}<extra></extra>",
        )
    )
    figure.update_layout(
        title="BLEU as the least important heads are switched off",
        height=380,
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(title="heads switched off (least important first)", rangemode="tozero"),
        yaxis=dict(title="BLEU (greedy)", rangemode="tozero"),
    )
    return figure


def training_trend(steps: list[int], values: list[float], current_step: int, title: str, value_name: str) -> go.Figure:
    """A value at each training step, the step shown elsewhere marked by a vertical line."""
    figure = go.Figure(
        go.Scatter(
            x=steps,
            y=values,
            mode="lines+markers",
            hovertemplate=f"step %{{x}}<br>{value_name}: %{{y:.3f}}<extra></extra>",
        )
    )
    figure.add_vline(x=current_step, line=dict(color=HIGHLIGHT, width=2, dash="dot"))
    figure.update_layout(
        title=title,
        height=300,
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(title="training step"),
        yaxis=dict(title=value_name, rangemode="tozero"),
    )
    return figure


def _check_alignment(aligned: np.ndarray, target_words: list[str], source_tokens: list[str]) -> None:
    if aligned.shape != (len(target_words), len(source_tokens)):
        raise ValueError(
            f"alignment of shape {aligned.shape} does not match {len(target_words)} x {len(source_tokens)} tokens"
        )


def alignment_heatmap(
    aligned, target_words: list[str], source_tokens: list[str], links: list[tuple[int, int]], title: str = ""
) -> go.Figure:
    """A source-target alignment (target words, source tokens) as a map, each (target word,
    source position) pair of links circled."""
    aligned = np.asarray(aligned, dtype=float)
    _check_alignment(aligned, target_words, source_tokens)
    figure = attention_heatmap(aligned, target_words, source_tokens, title)
    figure.add_trace(
        go.Scatter(
            x=[source for _, source in links],
            y=[target for target, _ in links],
            mode="markers",
            marker=dict(symbol="circle-open", size=16, line=dict(color=HIGHLIGHT, width=2)),
            name="argmax link",
            hoverinfo="skip",
        )
    )
    figure.update_xaxes(title_text="source token")
    figure.update_yaxes(title_text="target word")
    figure.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"))
    return figure


def alignment_links(
    aligned, target_words: list[str], source_tokens: list[str], links: list[tuple[int, int]]
) -> go.Figure:
    """The links (target word, source position) as lines between the target words (left) and
    the source tokens (right), as the head view puts queries and keys; each line as opaque as its
    weight in aligned (target words, source tokens)."""
    aligned = np.asarray(aligned, dtype=float)
    _check_alignment(aligned, target_words, source_tokens)
    figure = go.Figure()
    for target, source in links:
        weight = aligned[target, source]
        figure.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[-target, -source],
                mode="lines",
                line=dict(color=HIGHLIGHT, width=2),
                opacity=max(0.2, weight),  # a faint link stays visible
                hovertemplate=f"{label(target_words[target])} ← {label(source_tokens[source])}: {weight:.2f}"
                "<extra></extra>",
                showlegend=False,
            )
        )
    for x, tokens, position in ((0, target_words, "middle left"), (1, source_tokens, "middle right")):
        figure.add_trace(
            go.Scatter(
                x=[x] * len(tokens),
                y=[-i for i in range(len(tokens))],
                mode="markers+text",
                text=[label(token) for token in tokens],
                textposition=position,
                marker=dict(size=8, color="#7f7f7f"),
                hoverinfo="skip",
                showlegend=False,
            )
        )
    rows = max(len(source_tokens), len(target_words), 1)
    figure.update_layout(
        height=110 + 24 * rows,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(visible=False, range=[-1.0, 2.0], fixedrange=True),
        yaxis=dict(visible=False, range=[-rows + 0.4, 0.6], fixedrange=True),
        annotations=[
            dict(x=x, y=0.6, text=text, showarrow=False, yanchor="bottom", font=dict(size=12))
            for x, text in ((0, "target"), (1, "source"))
        ],
        dragmode=False,
    )
    return figure
