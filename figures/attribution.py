"""Figures of the Analysis page's Attribution tab: a gradient attribution (output tokens x source
tokens, signed) and, per output token, how far attention ranks the source tokens the same way.

Pure functions: arrays and token lists in, Plotly figures out."""

import numpy as np
import plotly.graph_objects as go

from .analysis import diverging_heatmap
from .style import BLUE, ORANGE, margin
from .tokens import label

AGREEMENT_COLORS = {"attention": BLUE, "rollout": ORANGE}


def attribution_heatmap(
    values, output_tokens: list[str], source_tokens: list[str], title: str = "", reads: list[str] | None = None
) -> go.Figure:
    """Attributions (output tokens, source tokens): red where a source token raised the output
    token's log-probability, blue where it lowered it. A row is named by the token written;
    reads, what each row reads (the decoder input), goes in its hover (figures.rows)."""
    titles = ("output token (written)", "source token")
    return diverging_heatmap(
        values, output_tokens, source_tokens, title, value_name="attribution", reads=reads, axis_titles=titles
    )


def rank_correlation_bars(output_tokens: list[str], correlations: dict[str, np.ndarray], title: str = "") -> go.Figure:
    """Spearman's correlation per output token, one bar group per token and one bar per
    comparison in correlations {name: (T,)}; a NaN (a row with no ranking) leaves a gap."""
    figure = go.Figure()
    for name, values in correlations.items():
        values = np.asarray(values, dtype=float)
        if values.shape != (len(output_tokens),):
            raise ValueError(f"{name}: {values.shape[0]} correlations for {len(output_tokens)} output tokens")
        figure.add_trace(
            go.Bar(
                x=list(range(len(output_tokens))),
                y=values,
                name=f"vs {name}",
                marker_color=AGREEMENT_COLORS.get(name),
                customdata=[label(token) for token in output_tokens],
                hovertemplate=f"%{{customdata}}<br>Spearman vs {name}: %{{y:+.2f}}<extra></extra>",
            )
        )
    figure.update_layout(
        title=title,
        barmode="group",
        height=340,
        margin=margin(60),
        xaxis=dict(
            tickmode="array", tickvals=list(range(len(output_tokens))), ticktext=[label(t) for t in output_tokens]
        ),
        yaxis=dict(title="Spearman ρ", range=[-1.05, 1.05], zeroline=True),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
    )
    return figure
