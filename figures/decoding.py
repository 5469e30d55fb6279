"""Figures of decoding one step at a time: the most probable next tokens, that step's
encoder-decoder attention in every layer and head, and the beam tree of a beam search (§6.1:
"beam search with a beam size of 4 and length penalty α = 0.6").

Pure functions of lists and arrays; the beam tree takes transformer.decoding.BeamNode lists.
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .attention import token_axis
from .style import (
    BLUE,
    CURRENT_STEP_SHADE,
    GREEN,
    HIGHLIGHT,
    LIGHT_GREY,
    PALE_BLUE,
    TRANSPARENT,
    WEIGHT_SCALE,
    colorbar,
    margin,
)
from .tokens import label

CHOSEN_COLOR, OTHER_COLOR = HIGHLIGHT, PALE_BLUE
MODEL_COLOR = LIGHT_GREY  # the model's own distribution, beside the reshaped one sampling draws from
PROBABILITY_AXIS = dict(title="probability", range=[0, 1], tickvals=[0, 0.25, 0.5, 0.75, 1], tickformat=".0%")
STATUS_COLORS = {"kept": BLUE, "finished": GREEN, "pruned": LIGHT_GREY}
STATUS_NAMES = {"kept": "kept in the beam", "finished": "finished (ends in EOS)", "pruned": "pruned"}


def row_bars(values, rows, colors, texts: list[str], hovertemplate: str, **extra) -> go.Bar:
    """Horizontal bars, one per row (a token, a key), each labelled with its text."""
    return go.Bar(
        x=values, y=rows, orientation="h", marker_color=colors, text=texts, hovertemplate=hovertemplate, **extra
    )


def next_token_bars(
    alternatives: list[tuple[str, float]], chosen: str, chosen_prob: float, forced: bool = False
) -> go.Figure:
    """The most probable next tokens (token, probability), best on top, with the token the output
    has at this step in red (added below the others if it is not among them). forced says that
    token was imposed by a forced prefix rather than picked."""
    bars = list(alternatives)
    if chosen not in [token for token, _ in bars]:
        bars.append((chosen, chosen_prob))
    names = [label(token) for token, _ in bars]
    probs = [prob for _, prob in bars]
    figure = go.Figure(
        row_bars(
            probs,
            list(range(len(bars))),
            [CHOSEN_COLOR if token == chosen else OTHER_COLOR for token, _ in bars],
            [f"{prob:.1%}" for prob in probs],
            "%{customdata}: %{x:.3f}<extra></extra>",
            textposition="auto",
            customdata=names,
        )
    )
    figure.update_layout(
        title=f"Next token: {label(chosen)} {'(forced by the prefix)' if forced else '(in red)'}",
        height=120 + 34 * len(bars),
        margin=margin(50, right=30),  # room for the axis' last label, 100 %
        xaxis=PROBABILITY_AXIS,
        yaxis=token_axis([token for token, _ in bars], autorange="reversed"),
    )
    return figure


def percent(probability: float) -> str:
    """A probability as a bar's label: a drawn token can be far below 0.1 %, but not 0."""
    return "<0.1%" if 0 < probability < 0.0005 else f"{probability:.1%}"


def sampling_bars(rows: list[tuple[str, float, float]], chosen: str, settings: str) -> go.Figure:
    """How sampling reshapes one step's distribution: for each of the most probable tokens
    (token, probability at temperature 1, probability sampling drew from; from
    transformer.sampling.top_tokens), the model's bar beside the reshaped one, whose colour marks
    the token drawn (chosen). settings names the reshaping ("temperature 0.5, top-k 10")."""
    names = [label(token) for token, _, _ in rows]
    positions = list(range(len(rows)))
    figure = go.Figure()
    for name, values, colors in (
        ("the model (temperature 1)", [p for _, p, _ in rows], MODEL_COLOR),
        (
            f"sampled from ({settings})",
            [s for _, _, s in rows],
            [CHOSEN_COLOR if t == chosen else OTHER_COLOR for t, _, _ in rows],
        ),
    ):
        figure.add_trace(
            row_bars(
                values,
                positions,
                colors,
                [percent(value) for value in values],
                f"%{{customdata}}: %{{x:.3f}}, {name}<extra></extra>",
                name=name,
                textposition="auto",
                customdata=names,
            )
        )
    figure.update_layout(
        title=f"Drawn: {label(chosen)} (in red)",
        barmode="group",
        height=150 + 50 * len(rows),
        margin=margin(50, right=30),
        xaxis=PROBABILITY_AXIS,
        yaxis=token_axis([token for token, _, _ in rows], autorange="reversed"),
        legend=dict(orientation="h", yanchor="top", y=-0.15),
    )
    return figure


def step_attention(weights, source_tokens: list[str], title: str = "") -> go.Figure:
    """One decoding step's encoder-decoder attention, weights (layers, heads, source tokens): a row
    per layer and head, a column per source token, layers separated by lines."""
    weights = np.asarray(weights, dtype=float)
    n_layers, n_heads, n_keys = weights.shape
    if n_keys != len(source_tokens):
        raise ValueError(f"weights of shape {weights.shape} do not match {len(source_tokens)} source tokens")
    rows = [f"layer {layer + 1}, head {head + 1}" for layer in range(n_layers) for head in range(n_heads)]
    figure = go.Figure(
        go.Heatmap(
            z=weights.reshape(n_layers * n_heads, n_keys),
            x=list(range(n_keys)),
            y=list(range(len(rows))),
            customdata=np.array([[row] * n_keys for row in rows], dtype=object),
            text=[[label(token) for token in source_tokens]] * len(rows),
            hovertemplate="%{customdata}<br>source: %{text} (%{x})<br>weight: %{z:.3f}<extra></extra>",
            zmin=0,
            zmax=1,
            colorscale=WEIGHT_SCALE,
            colorbar=colorbar("weight"),
        )
    )
    for layer in range(1, n_layers):
        figure.add_hline(y=layer * n_heads - 0.5, line=dict(color="white", width=4))
    figure.update_layout(
        title=title,
        height=min(900, max(300, 110 + 22 * len(rows))),
        margin=margin(50 if title else 20),
        xaxis=token_axis(source_tokens, title="source token", tickangle=-60 if n_keys > 8 else 0),
        yaxis=dict(
            tickmode="array",
            tickvals=list(range(len(rows))),
            ticktext=[f"L{layer + 1} H{head + 1}" for layer in range(n_layers) for head in range(n_heads)],
            autorange="reversed",
        ),
    )
    return figure


def beam_tree(
    trace: Sequence[Sequence], labels: list[list[str]], chosen: Sequence, root: str, current_step: int | None = None
) -> go.Figure:
    """The beam tree of transformer.decoding.beam_search: trace holds each step's candidate
    BeamNodes, labels their tokens as text, chosen the nodes of the best hypothesis (best_path);
    root names what the search started from (drawn at step first - 1). A node is drawn at (its
    step, its rank among the step's candidates), joined to the hypothesis it extends; the chosen
    path is drawn in red, and current_step (a node step) is shaded. Kept and chosen nodes are
    labelled with their token and log-probability; finished and pruned ones only on hover. Node steps count output
    positions from 0; the axis labels them from 1, as the page's step slider does.

    Traces: one per status (edges), one per status (nodes), then the chosen path, last.
    """
    if [len(nodes) for nodes in trace] != [len(names) for names in labels]:
        raise ValueError("labels must name every node of the trace")
    first_step = trace[0][0].step if trace and trace[0] else 0
    figure = go.Figure()
    for status, (xs, ys) in _beam_edges(trace).items():
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line=dict(color=STATUS_COLORS[status], width=1.5, dash="dot" if status == "pruned" else "solid"),
                hoverinfo="skip",
                showlegend=False,
            )
        )
    named = {id(node) for node in chosen}
    for status in STATUS_COLORS:
        figure.add_trace(_beam_nodes(trace, labels, status, named))
    figure.add_trace(_chosen_path(trace, chosen, root, first_step))
    if current_step is not None:
        figure.add_vrect(
            x0=current_step - 0.5,
            x1=current_step + 0.5,
            fillcolor=CURRENT_STEP_SHADE,
            opacity=0.6,
            line_width=0,
            layer="below",
        )
    return _beam_axes(figure, trace, first_step)


def _beam_edges(trace: Sequence[Sequence]) -> dict[str, tuple[list, list]]:
    """Per status, the (xs, ys) of the lines from each node to the node it extends, as one
    trace's points with None between the lines."""
    # A parent is a beam slot, the index among the previous step's kept nodes: find its rank.
    kept_ranks = [[rank for rank, node in enumerate(nodes) if node.status == "kept"] for nodes in trace]
    edges = {status: ([], []) for status in STATUS_COLORS}
    for index, nodes in enumerate(trace):
        for rank, node in enumerate(nodes):
            xs, ys = edges[node.status]
            xs += [node.step - 1, node.step, None]
            ys += [0 if index == 0 else kept_ranks[index - 1][node.parent], rank, None]
    return edges


def _beam_nodes(trace: Sequence[Sequence], labels: list[list[str]], status: str, named: set[int]) -> go.Scatter:
    """The nodes of one status at (step, rank); named holds the ids of the chosen nodes."""
    cells = [(i, r) for i, nodes in enumerate(trace) for r, node in enumerate(nodes) if node.status == status]
    return go.Scatter(
        x=[trace[i][r].step for i, r in cells],
        y=[r for _, r in cells],
        mode="markers+text",
        marker=dict(size=11, color=STATUS_COLORS[status]),
        text=[label(labels[i][r]) for i, r in cells],
        # Only the live and the chosen nodes are named, with their scores: the rest is hover.
        texttemplate=[
            "%{text}<br>%{customdata[0]:.2f}" if status == "kept" or id(trace[i][r]) in named else "" for i, r in cells
        ],
        textposition="top center",
        customdata=[[trace[i][r].score, trace[i][r].normalized] for i, r in cells],
        hovertemplate=f"%{{text}}: {STATUS_NAMES[status]}<br>log-probability %{{customdata[0]:.3f}}"
        "<br>length-normalised %{customdata[1]:.3f}<extra></extra>",
        name=STATUS_NAMES[status],
    )


def _chosen_path(trace: Sequence[Sequence], chosen: Sequence, root: str, first_step: int) -> go.Scatter:
    """The chosen translation as a thick red line from the root through its nodes."""
    path = [(first_step - 1, 0)] + [(node.step, list(trace[node.step - first_step]).index(node)) for node in chosen]
    return go.Scatter(
        x=[x for x, _ in path],
        y=[y for _, y in path],
        mode="lines+markers+text",
        line=dict(color=CHOSEN_COLOR, width=4),
        marker=dict(size=15, color=TRANSPARENT, line=dict(color=CHOSEN_COLOR, width=3)),
        text=[label(root)] + [""] * len(chosen),  # the nodes name themselves; the root is named here
        textposition="top center",
        hoverinfo="skip",
        name="chosen translation",
    )


def _beam_axes(figure: go.Figure, trace: Sequence[Sequence], first_step: int) -> go.Figure:
    """Steps along x, labelled from 1 after "start"; ranks down y, as many as the widest step."""
    width = max((len(nodes) for nodes in trace), default=1)
    steps = list(range(first_step - 1, first_step + len(trace)))
    return figure.update_layout(
        height=160 + 45 * width,
        margin=margin(20),
        xaxis=dict(
            title="step",
            tickmode="array",
            tickvals=steps,
            ticktext=["start", *[str(step + 1) for step in steps[1:]]],
            range=[first_step - 1.6, first_step + len(trace) - 0.5],
        ),
        # Reversed, rank 0 on top, with room above it for the top nodes' two-line labels.
        yaxis=dict(title="rank among the step's candidates", range=[width - 0.5, -1.0], tickvals=list(range(width))),
        legend=dict(orientation="h", yanchor="top", y=-0.2),  # below: on a phone it takes several lines
        dragmode="pan",
    )


def finished_hypotheses(trace: Sequence[Sequence], labels: list[list[str]], chosen: Sequence) -> pd.DataFrame:
    """Every finished hypothesis of a beam search (trace and labels as for beam_tree), best first:
    its tokens, their number, the log-probability and the length-normalised score it is ranked by;
    "chosen" marks the translation (the last node of chosen)."""
    slots: list[list[str]] = [[]]  # the tokens of each beam slot so far, in the order of the kept nodes
    rows = []
    for nodes, names in zip(trace, labels):
        hypotheses = [slots[node.parent] + [name] for node, name in zip(nodes, names)]
        rows += [
            {
                "hypothesis": " ".join(tokens),
                "tokens": len(tokens),
                "log-probability": node.score,
                "length-normalised": node.normalized,
                "chosen": bool(chosen) and node is chosen[-1],
            }
            for node, tokens in zip(nodes, hypotheses)
            if node.status == "finished"
        ]
        slots = [tokens for node, tokens in zip(nodes, hypotheses) if node.status == "kept"]
    columns = ["hypothesis", "tokens", "log-probability", "length-normalised", "chosen"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values("length-normalised", ascending=False, ignore_index=True)
