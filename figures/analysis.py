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

from .attention import KIND_TITLES, KINDS, attention_heatmap, click_targets
from .style import DIVERGING, GREY, HIGHLIGHT, NOTE_FONT_SIZE, WEIGHT_SCALE, colorbar, margin, outline
from .tokens import label


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
        _head_panel(figure, column, kind, grids[kind], value_name, value_format, hint)
        _outline_heads(figure, column, [(layer, head) for marked_kind, layer, head in marked if marked_kind == kind])
        _layer_head_axes(figure, column, *grids[kind].shape)
    figure.update_xaxes(showgrid=False, zeroline=False)
    figure.update_yaxes(showgrid=False, zeroline=False)
    figure.update_annotations(font_size=NOTE_FONT_SIZE)
    n_rows = max(grid.shape[0] for grid in grids.values())
    figure.update_layout(
        title=title,
        height=150 + 64 * n_rows,
        margin=margin(80 if title else 40),
        coloraxis=dict(colorscale=WEIGHT_SCALE, cmin=zrange[0], cmax=zrange[1], colorbar=colorbar(value_name)),
        dragmode=False,
        hoverdistance=30,
    )
    return figure


def _head_panel(
    figure: go.Figure, column: int, kind: str, grid: np.ndarray, value_name: str, value_format: str, hint: str
) -> None:
    """One kind's (layers, heads) grid with its values written in, under a click target per cell."""
    figure.add_trace(
        go.Heatmap(z=grid, coloraxis="coloraxis", texttemplate=f"%{{z:{value_format}}}", hoverinfo="skip"),
        row=1,
        col=column,
    )
    layers, heads = (index.ravel() for index in np.indices(grid.shape))
    targets = click_targets(
        heads,
        layers,
        30,
        f"{KIND_TITLES[kind]}<br>%{{text}}<br>{hint}<extra></extra>",
        customdata=[[kind, int(layer), int(head)] for layer, head in zip(layers, heads)],
        # customdata holds 0-based indices, so the hover's 1-based names are written out here.
        text=[
            f"layer {layer + 1}, head {head + 1}<br>{value_name}: {value:{value_format}}"
            for layer, head, value in zip(layers, heads, grid.ravel())
        ],
    )
    figure.add_trace(targets, row=1, col=column)


def _outline_heads(figure: go.Figure, column: int, heads: list[tuple[int, int]]) -> None:
    """Outline each (layer, head) cell of one panel."""
    for layer, head in heads:
        outline(figure, (head - 0.45, head + 0.45), (layer - 0.45, layer + 0.45), row=1, col=column)


def _layer_head_axes(figure: go.Figure, column: int, n_layers: int, n_heads: int) -> None:
    """Head columns named H1, H2, ... and layer rows L1, L2, ..., the first layer on top."""
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


def head_grid_target(point: dict) -> tuple[str, int, int] | None:
    """(kind, layer, head) of a click on head_grid's figure, from the clicked point's customdata;
    None for a point that is not a cell."""
    data = point.get("customdata")
    if not isinstance(data, list | tuple) or len(data) != 3 or data[0] not in KINDS:
        return None
    kind, layer, head = data
    return kind, int(layer), int(head)


def diverging_heatmap(
    values, query_tokens: list[str], key_tokens: list[str], title: str = "", value_name: str = "change", **axes
) -> go.Figure:
    """A signed (queries, keys) matrix on a diverging scale centred on 0: blue below, red above.
    axes: attention_heatmap's reads and axis_titles (figures.rows.TokenAxes.options)."""
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
        colorscale=DIVERGING,  # blue = less weight than before, red = more; white = unchanged
        zrange=(-span, span),
        **axes,
    )


def attention_change_heatmap(
    change, query_tokens: list[str], key_tokens: list[str], title: str = "", **axes
) -> go.Figure:
    """A difference of two attention maps (queries, keys) on a diverging scale centred on 0; axes
    as for diverging_heatmap."""
    return diverging_heatmap(change, query_tokens, key_tokens, title, value_name="change", **axes)


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
        margin=margin(50),
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
        margin=margin(50),
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
    figure.update_yaxes(title_text="target word (its row: the step writing it)")
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
                marker=dict(size=8, color=GREY),
                hoverinfo="skip",
                showlegend=False,
            )
        )
    rows = max(len(source_tokens), len(target_words), 1)
    figure.update_layout(
        height=110 + 24 * rows,
        margin=margin(40),
        xaxis=dict(visible=False, range=[-1.0, 2.0], fixedrange=True),
        yaxis=dict(visible=False, range=[-rows + 0.4, 0.6], fixedrange=True),
        annotations=[
            dict(x=x, y=0.6, text=text, showarrow=False, yanchor="bottom", font=dict(size=NOTE_FONT_SIZE))
            for x, text in ((0, "target"), (1, "source"))
        ],
        dragmode=False,
    )
    return figure
