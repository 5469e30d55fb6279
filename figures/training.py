"""Figures of the Train page: the two plots the Annotated Transformer teaches training with (the
§5.3 learning-rate schedule, the label-smoothed target of §5.4) and the live curves of a run.

Pure functions: numbers in, Plotly figures out; the learning rates come from
transformer.objective.learning_rate, the one the trainer uses.
"""

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from transformer.objective import learning_rate

HEIGHT = 300


def learning_rate_curve(steps: int, d_model: int, warmup: int, scale: float) -> go.Figure:
    """lrate(step) over the run's steps, the warm-up's end marked."""
    xs = list(range(1, steps + 1, max(1, steps // 400)))
    figure = go.Figure(go.Scatter(x=xs, y=[learning_rate(s, d_model, warmup, scale) for s in xs], mode="lines"))
    if warmup <= steps:
        figure.add_vline(x=warmup, line_dash="dot", annotation_text=f"warm-up ends ({warmup})")
    figure.update_layout(
        title="Learning rate (§5.3): warm-up, then 1/√step",
        height=HEIGHT,
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis_title="step",
        yaxis_title="learning rate",
        yaxis_exponentformat="e",
    )
    return figure


def smoothed_target(vocab_size: int, target: int, smoothing: float) -> list[float]:
    """The distribution a token is trained towards (§5.4): (1 − ε) on the right token plus ε
    spread uniformly over the whole vocabulary, as transformer.objective.label_smoothed_loss does."""
    return [(1 - smoothing) * (i == target) + smoothing / vocab_size for i in range(vocab_size)]


def label_smoothing_bars(tokens: list[str], target: int, smoothing: float) -> go.Figure:
    """The label-smoothed target of one token over the vocabulary tokens."""
    probabilities = smoothed_target(len(tokens), target, smoothing)
    colors = ["#1f77b4" if i == target else "#9ecae1" for i in range(len(tokens))]
    figure = go.Figure(go.Bar(x=list(range(len(tokens))), y=probabilities, marker_color=colors))
    figure.update_layout(
        title=f"Target of the token {tokens[target]!r} with ε = {smoothing:g} (§5.4)",
        height=HEIGHT,
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(tickmode="array", tickvals=list(range(len(tokens))), ticktext=tokens, title="token"),
        yaxis=dict(title="target probability", range=[0, 1]),
    )
    return figure


def live_curves(
    train_curve: list[tuple[int, float]], dev_curve: list[tuple[int, float, float]], steps: int
) -> go.Figure:
    """Training and dev loss (left), dev exact match (right), over the run's steps so far."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Dev exact match"), horizontal_spacing=0.1)
    if train_curve:
        xs, ys = zip(*train_curve)
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="training loss (label-smoothed)"), row=1, col=1)
    if dev_curve:
        xs, losses, matches = zip(*dev_curve)
        figure.add_trace(go.Scatter(x=xs, y=losses, mode="lines+markers", name="dev loss"), row=1, col=1)
        figure.add_trace(
            go.Scatter(x=xs, y=matches, mode="lines+markers", name="dev exact match", showlegend=False), row=1, col=2
        )
    figure.update_xaxes(title_text="step", range=[0, steps])
    figure.update_yaxes(title_text="nats per token", rangemode="tozero", row=1, col=1)
    figure.update_yaxes(title_text="% of sequences", range=[0, 100], row=1, col=2)
    figure.update_layout(height=HEIGHT, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return figure
