"""The Analysis page's Attribution tab: what each output token depends on, by gradients
(transformer/attribution.py), beside what attention says it looked at. Attention is not
explanation (Jain & Wallace, 2019; Wiegreffe & Pinter, 2019): the two are shown side by side,
with their rank correlation per output token.

Session state: owns "attribution_method" and "attribution_steps" (its widgets, in the URL as
method and steps).
"""

import streamlit as st
import torch

from figures import (
    attribution_heatmap,
    axes_heatmap,
    rank_correlation_bars,
    row_convention,
    translation_axes,
)
from transformer import Translation
from transformer.analysis import source_relevance
from transformer.attribution import DEFAULT_STEPS, Attribution, attribute, rank_agreement
from webapp.analysis.common import needs_sentence
from webapp.state import checkpoints, present, results, url

METHODS = {"ig": "Integrated gradients", "gxi": "Gradient × input"}  # URL value -> label
STEP_CHOICES = (16, 32, 64, DEFAULT_STEPS, 256)
COMPLETENESS_TOLERANCE = 0.01


def parse_method(value: str) -> str | None:
    return value if value in METHODS else None


def parse_steps(value: str) -> int | None:
    steps = url.url_number(value)
    return steps if steps in STEP_CHOICES else None


def _attribution(checkpoint: checkpoints.Checkpoint, translation: Translation, steps: int) -> Attribution:
    """Cached with the translations: per checkpoint, sentence and its output, and steps."""
    key = (
        "attribute",
        str(checkpoint.folder),
        checkpoint.version,
        tuple(translation.source_ids),
        tuple(translation.output_ids),
        steps,
    )

    def compute() -> Attribution:
        with st.spinner(f"Gradients along {steps} steps…"):
            return attribute(checkpoint.translator.model, translation.source_ids, translation.output_ids, steps)

    return results.results().get(key, compute)


def attribution_values(checkpoint: checkpoints.Checkpoint, translation: Translation) -> tuple[str, torch.Tensor]:
    """The method and integration steps picked, and the attribution they give: (method, values of
    shape (output tokens, source tokens)); for integrated gradients, whether its rows add up."""
    url.keep_valid("attribution_method", list(METHODS), "ig")
    url.keep_valid("attribution_steps", list(STEP_CHOICES), DEFAULT_STEPS)
    method_column, steps_column = st.columns([2, 1])
    method = method_column.segmented_control(
        "Method", list(METHODS), format_func=METHODS.get, key=url.kept("attribution_method"), required=True
    )
    steps = steps_column.select_slider("Integration steps", STEP_CHOICES, key=url.kept("attribution_steps"))
    result = _attribution(checkpoint, translation, steps)
    if method != "ig":
        return method, result.gradient_x_input
    error = result.completeness_error
    if error <= COMPLETENESS_TOLERANCE:
        st.caption(f"Completeness: each row sums to its output's change within {error:.1%} (checked).")
    else:
        st.warning(f"The rows miss their output's change by up to {error:.1%}: take more integration steps.")
    return method, result.integrated_gradients


def side_by_side(translation: Translation, values: torch.Tensor, method: str) -> None:
    """The attribution, the last layer's cross-attention and the rollout relevance, in a row."""
    cross, encoder = translation.attention["cross"], translation.attention["encoder"]
    axes = translation_axes("cross", translation)  # rows: the output tokens written
    maps = {
        "attribution": (
            attribution_heatmap(values.numpy(), axes.queries, axes.keys, METHODS[method], reads=axes.reads),
            "attribution",
        ),
        "attribution_attention": (
            axes_heatmap(cross[-1].mean(dim=0).numpy(), axes, "Cross-attention, last layer, head average"),
            "cross-attention",
        ),
        "attribution_rollout": (
            axes_heatmap(
                source_relevance(cross, encoder)[-1].numpy(),
                axes,
                "Rollout relevance, last layer",
                value_name="relevance",
            ),
            "rollout-relevance",
        ),
    }
    for (key, (figure, filename)), column in zip(maps.items(), st.columns(len(maps))):
        with column:
            present.plotly_chart(figure, key=key, filename=filename, columns=len(maps))
    st.caption(row_convention("cross"))


def attribution_tab(checkpoint: checkpoints.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "Attention shows where a head looked; a **gradient** shows what the output depends on. For each output "
        "token, the gradient of its log-probability with respect to the source token embeddings: "
        "**gradient × input** (Simonyan et al., 2014; Shrikumar et al., 2016) at the sentence itself, or "
        "**integrated gradients** (Sundararajan et al., 2017) along the path from all-padding embeddings to the "
        "sentence, whose values add up to how much the tokens raised the output's log-probability."
    )
    if needs_sentence(translation):
        return
    method, values = attribution_values(checkpoint, translation)
    side_by_side(translation, values, method)
    cross, encoder = translation.attention["cross"], translation.attention["encoder"]
    agreement = {name: rho.numpy() for name, rho in rank_agreement(values, cross, encoder).items()}
    present.plotly_chart(
        rank_correlation_bars(
            translation.output_tokens, agreement, "Do attention and the gradient rank the source tokens alike?"
        ),
        key="attribution_agreement",
        filename="attribution-rank-correlation",
    )
    st.markdown(
        "**What differs.** Attention weights are one step of the computation: a head can look at a token whose "
        "value it then ignores, and information reaches a position through the residual stream and the other "
        "layers without attention pointing at it. The gradient follows the whole computation, and its sign says "
        "whether a token raised (red) or lowered (blue) the output token's probability; attention only says how "
        "much weight. Spearman's ρ compares the *order* of the source tokens (by |attribution|): near 1, attention "
        "picks the tokens the output depends on; near 0 or below, it does not."
    )
