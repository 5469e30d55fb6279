"""Figures of the model card: the architecture of Figure 1 drawn from a model's config, its
parameters per component, and its training curves (loss, the learning rate of §5.3, dev BLEU).

Pure functions of a config (any object with transformer.ModelConfig's fields), a dict of counts
and a table (pandas DataFrame) with training_log.csv's columns.
"""

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import (
    ARROW_COLOR,
    BOX_LINE_COLOR,
    FIGURE_1_COLORS,
    FRAME_FILL,
    FRAME_LINE_COLOR,
    LABEL_FONT_SIZE,
    NOTE_FONT_SIZE,
    PARAMETER_COLOR,
    margin,
)

BOX_WIDTH, BOX_HEIGHT, GAP = 4.4, 0.8, 0.25
ENCODER_X, DECODER_X = 2.6, 8.4  # column centres
DIAGRAM_MIN_WIDTH = 760  # pixels under which the boxes' texts would overflow them: scroll sideways instead
FRAME_MARGIN = 0.5  # between a layer's boxes and its frame: room for the residual connections
RESIDUAL_OFFSET, RESIDUAL_WIDTH = 0.25, 1.5  # where a residual connection runs, beside the boxes, and its line


@dataclass(frozen=True)
class Box:
    x: float  # centre
    y: float  # bottom
    text: str
    kind: str


def _sublayers(config, decoder: bool) -> list[tuple[str, str]]:
    """(text, colour kind) of one layer's boxes, bottom to top (§3.1-§3.3)."""
    d, h, d_ff = config.d_model, config.n_heads, config.d_ff
    heads = f"{h} heads, d_k = d_v = {d // h}"
    # Post-norm (the paper) normalises after the residual sum; pre-norm before each sub-layer.
    norm_first = "LayerNorm → " if config.pre_norm else ""
    residual = ("Add (residual)", "norm") if config.pre_norm else ("Add & LayerNorm", "norm")
    attention = [(f"{norm_first}Multi-head self-attention<br>{heads}", "attention")]
    if decoder:
        attention = [
            (f"{norm_first}Masked multi-head self-attention<br>{heads}", "attention"),
            residual,
            (f"{norm_first}Encoder–decoder attention<br>{heads}", "attention"),
        ]
    return [*attention, residual, (f"{norm_first}Feed-forward, ReLU<br>{d} → {d_ff} → {d}", "feed_forward"), residual]


def _column(config, x: float, decoder: bool) -> tuple[list[Box], tuple[float, float]]:
    """The boxes of one stack from its embedding up, and the (bottom, top) of its repeated layer."""
    vocab = config.tgt_vocab_size if decoder else config.src_vocab_size
    side = "Output embedding (shifted right)" if decoder else "Input embedding"
    below = [
        (f"{side}<br>{vocab} × {config.d_model}, × √d_model", "embedding"),
        (f"+ positional encoding<br>sinusoidal, up to {config.max_len} positions", "positional"),
    ]
    boxes, y = [], 0.0
    for text, kind in below:
        boxes.append(Box(x, y, text, kind))
        y += BOX_HEIGHT + GAP
    layer_bottom = y
    for text, kind in _sublayers(config, decoder):
        y += GAP
        boxes.append(Box(x, y, text, kind))
        y += BOX_HEIGHT
    layer_top = y + GAP
    y = layer_top + GAP
    if config.pre_norm:  # pre-norm stacks end un-normalised: one LayerNorm after the last layer
        boxes.append(Box(x, y, "Final LayerNorm", "norm"))
        y += BOX_HEIGHT + GAP
    if decoder:
        boxes.append(Box(x, y, f"Linear {config.d_model} → {vocab}", "linear"))
        boxes.append(Box(x, y + BOX_HEIGHT + GAP, "Softmax: next-token probabilities", "softmax"))
    return boxes, (layer_bottom, layer_top)


def _arrow(figure: go.Figure, x_from: float, x_to: float, y: float, width: float) -> None:
    """A horizontal arrow at height y, in data coordinates."""
    figure.add_annotation(
        x=x_to,
        y=y,
        ax=x_from,
        ay=y,
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        text="",
        showarrow=True,
        arrowhead=2,
        arrowwidth=width,
        arrowcolor=ARROW_COLOR,
    )


def _residuals(figure: go.Figure, boxes: list[Box], side: int) -> None:
    """The residual connections of one stack (side -1: drawn on its left, 1: its right): from the
    data path just below each sub-layer, around it, into the side of the Add box above it."""
    for below, add in zip(boxes, boxes[1:]):
        if not add.text.startswith("Add"):
            continue
        start, middle = below.y - GAP / 2, add.y + BOX_HEIGHT / 2
        edge, bypass = add.x + side * BOX_WIDTH / 2, add.x + side * (BOX_WIDTH / 2 + RESIDUAL_OFFSET)
        figure.add_shape(
            type="path",
            path=f"M {add.x},{start} H {bypass} V {middle}",
            line=dict(color=ARROW_COLOR, width=RESIDUAL_WIDTH),
        )
        _arrow(figure, bypass, edge, middle, RESIDUAL_WIDTH)


def architecture_diagram(config) -> go.Figure:
    """Figure 1 of the paper for this config: the encoder (left) and decoder (right) stacks with
    their sub-layers and sizes, each repeated layer framed with its count, the residual connection
    around every sub-layer into its Add box (on the outer side of each stack), and the encoder
    output feeding every decoder layer's encoder-decoder attention."""
    encoder, (encoder_bottom, encoder_top) = _column(config, ENCODER_X, decoder=False)
    decoder, (decoder_bottom, decoder_top) = _column(config, DECODER_X, decoder=True)
    top = max(box.y for box in encoder + decoder) + BOX_HEIGHT
    figure = go.Figure()
    for x in (ENCODER_X, DECODER_X):  # the data path, drawn under the boxes
        y1 = top if x == DECODER_X else encoder_top
        figure.add_shape(type="line", x0=x, x1=x, y0=0, y1=y1, line=dict(color=ARROW_COLOR), layer="below")
    _draw_boxes(figure, encoder + decoder)
    _residuals(figure, encoder, side=-1)
    _residuals(figure, decoder, side=1)
    _frame(figure, ENCODER_X, encoder_bottom, encoder_top, f"Encoder<br>× {config.n_encoder_layers}", side=-1)
    _frame(figure, DECODER_X, decoder_bottom, decoder_top, f"Decoder<br>× {config.n_decoder_layers}", side=1)
    _memory_arrow(figure, encoder_top, next(box for box in decoder if "Encoder–decoder" in box.text))
    figure.add_annotation(
        x=(ENCODER_X + DECODER_X) / 2,
        y=-0.25,
        text="<br>".join(_notes(config)),
        showarrow=False,
        yanchor="top",
        font=dict(size=NOTE_FONT_SIZE),
    )
    figure.update_layout(
        height=int(70 * (top + 2)),
        margin=margin(10),
        xaxis=dict(visible=False, range=[-1.0, 12.0], fixedrange=True),
        yaxis=dict(visible=False, range=[-1.4, top + 0.3], fixedrange=True),
        plot_bgcolor="white",
        dragmode=False,
    )
    return figure


def _draw_boxes(figure: go.Figure, boxes: list[Box]) -> None:
    for box in boxes:
        figure.add_shape(
            type="rect",
            x0=box.x - BOX_WIDTH / 2,
            x1=box.x + BOX_WIDTH / 2,
            y0=box.y,
            y1=box.y + BOX_HEIGHT,
            fillcolor=FIGURE_1_COLORS[box.kind],
            line=dict(color=BOX_LINE_COLOR, width=1),
        )
        figure.add_annotation(
            x=box.x, y=box.y + BOX_HEIGHT / 2, text=box.text, showarrow=False, font=dict(size=NOTE_FONT_SIZE)
        )


def _frame(figure: go.Figure, x: float, bottom: float, top: float, label: str, side: int) -> None:
    """The frame around a stack's repeated layer, labelled with its count on the outer side."""
    figure.add_shape(
        type="rect",
        x0=x - BOX_WIDTH / 2 - FRAME_MARGIN,
        x1=x + BOX_WIDTH / 2 + FRAME_MARGIN,
        y0=bottom,
        y1=top,
        fillcolor=FRAME_FILL,
        line=dict(color=FRAME_LINE_COLOR, width=2),
        layer="below",
    )
    figure.add_annotation(
        x=x + side * (BOX_WIDTH / 2 + FRAME_MARGIN + 0.15),
        y=(bottom + top) / 2,
        text=f"<b>{label}</b>",
        showarrow=False,
        xanchor="right" if side < 0 else "left",
        font=dict(size=LABEL_FONT_SIZE),
    )


def _memory_arrow(figure: go.Figure, encoder_top: float, cross: Box) -> None:
    """The encoder's output is the keys and values of every encoder-decoder attention: up out of
    the encoder, across the gap between the stacks, into the cross-attention box."""
    gap_x, rise, cross_y = (ENCODER_X + DECODER_X) / 2, encoder_top + 0.5, cross.y + BOX_HEIGHT / 2
    figure.add_shape(
        type="path",
        path=f"M {ENCODER_X},{encoder_top} V {rise} H {gap_x} V {cross_y}",  # the arrow below draws the last stretch
        line=dict(color=ARROW_COLOR, width=2),
    )
    _arrow(figure, gap_x, DECODER_X - BOX_WIDTH / 2, cross_y, 2)


def _notes(config) -> list[str]:
    notes = [
        f"d_model {config.d_model}, dropout {config.dropout:g} on every sub-layer output and embedding sum",
        "arrows beside each sub-layer: its residual connection, x + Sublayer(…), into the Add",
    ]
    if config.tie_embeddings:
        notes.append(
            f"tied: source, target and output embeddings share one {config.tgt_vocab_size} × {config.d_model} matrix (§3.4)"
        )
    return notes


def parameter_bars(counts: dict[str, int]) -> go.Figure:
    """Parameters per component (transformer.analysis.parameter_counts), in the model's order,
    with each one's share of the total."""
    total = sum(counts.values())
    names = list(counts)
    values = [counts[name] for name in names]
    figure = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=PARAMETER_COLOR,
            text=[f"{value:,} ({value / total:.1%})" for value in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} parameters<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{total:,} parameters",
        height=120 + 32 * len(names),
        margin=margin(50),
        xaxis=dict(title="parameters"),
        yaxis=dict(autorange="reversed"),
    )
    return figure


CURVE_COLUMNS = ("step", "train_loss", "lr")  # what training_curves needs; dev_loss and dev_bleu are optional


def training_curves(log: pd.DataFrame) -> go.Figure:
    """Three panels over the training steps: training (and dev) loss, the learning rate with the
    end of its warm-up marked (§5.3: linear growth, then decay with 1/√step), and dev BLEU. Dev
    values exist only at evaluations; rows without them are skipped."""
    missing = [column for column in CURVE_COLUMNS if column not in log.columns]
    if missing:
        raise ValueError(f"the training log has no {', '.join(missing)} column")
    figure = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=("Loss", "Learning rate", "Dev BLEU")
    )
    lines = [
        (1, "train_loss", "training loss (label-smoothed)"),
        (1, "dev_loss", "dev loss"),
        (2, "lr", "learning rate"),
        (3, "dev_bleu", "dev BLEU"),
    ]
    for row, column, name in lines:
        if column not in log.columns:
            continue
        points = log[["step", column]].dropna()
        figure.add_trace(
            go.Scatter(
                x=points["step"],
                y=points[column],
                mode="lines" if column in ("train_loss", "lr") else "lines+markers",
                name=name,
                hovertemplate=f"step %{{x}}<br>{name}: %{{y:.4g}}<extra></extra>",
            ),
            row=row,
            col=1,
        )
    if log["lr"].notna().any():
        peak = log.loc[log["lr"].idxmax()]
        figure.add_vline(x=float(peak["step"]), line=dict(color=FRAME_LINE_COLOR, dash="dot"), row=2, col=1)
        figure.add_annotation(
            x=float(peak["step"]),
            y=float(peak["lr"]),
            text=f"warm-up ends near step {int(peak['step'])}",
            showarrow=True,
            ax=60,
            ay=10,
            row=2,
            col=1,
        )
    figure.update_xaxes(title_text="step", row=3, col=1)
    figure.update_layout(height=720, margin=margin(40), legend=dict(orientation="h", yanchor="bottom", y=1.04))
    return figure
