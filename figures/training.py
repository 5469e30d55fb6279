"""Figures of the Train page: the two plots the Annotated Transformer teaches training with (the
§5.3 learning-rate schedule, the label-smoothed target of §5.4) and the live curves of a run.

Pure functions: numbers in, Plotly figures out. The caller computes the numbers with
transformer.objective, the trainer's own formulas, so that figures/ never imports torch and
never types a formula of the objective again.
"""

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import BLUE, PALE_BLUE, margin

HEIGHT = 300
CURVE_POINTS = 400  # enough for a smooth curve; a run's every step would only weigh the page down


def curve_steps(steps: int) -> list[int]:
    """The steps, from 1 to steps, at which to compute a schedule for learning_rate_curve."""
    return list(range(1, steps + 1, max(1, steps // CURVE_POINTS)))


def learning_rate_curve(steps: Sequence[int], rates: Sequence[float], warmup: int) -> go.Figure:
    """The learning rate at each of steps (transformer.objective.learning_rate), the end of the
    warm-up marked when it falls within them."""
    figure = go.Figure(go.Scatter(x=list(steps), y=list(rates), mode="lines"))
    if steps and warmup <= steps[-1]:
        figure.add_vline(x=warmup, line_dash="dot", annotation_text=f"warm-up ends ({warmup})")
    figure.update_layout(
        title="Learning rate (§5.3): warm-up, then 1/√step",
        height=HEIGHT,
        margin=margin(50),
        xaxis_title="step",
        yaxis_title="learning rate",
        yaxis_exponentformat="e",
    )
    return figure


def label_smoothing_bars(tokens: list[str], target: int, smoothing: float, probabilities: Sequence[float]):
    """The label-smoothed target of the token tokens[target] with ε = smoothing: probabilities,
    one per vocabulary token (transformer.objective.smoothed_target), the target's bar in blue."""
    if len(probabilities) != len(tokens):
        raise ValueError(f"{len(probabilities)} probabilities for {len(tokens)} tokens")
    colors = [BLUE if i == target else PALE_BLUE for i in range(len(tokens))]
    figure = go.Figure(go.Bar(x=list(range(len(tokens))), y=list(probabilities), marker_color=colors))
    figure.update_layout(
        title=f"Target of the token {tokens[target]!r} with ε = {smoothing:g} (§5.4)",
        height=HEIGHT,
        margin=margin(50),
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
    figure.update_layout(height=HEIGHT, margin=margin(40), legend=dict(orientation="h", y=-0.25))
    return figure
