"""Figures for the app: Plotly figures, and the head view as a self-contained HTML page. Pure
functions of arrays and token lists, no Streamlit: they are unit-tested without a browser and
reused by every page."""

from .analysis import (
    alignment_heatmap,
    alignment_links,
    attention_change_heatmap,
    diverging_heatmap,
    head_grid,
    head_grid_target,
    importance_ranking,
    pruning_figure,
    training_trend,
)
from .attention import (
    KIND_TITLES,
    KINDS,
    attention_grid,
    attention_heatmap,
    attention_table,
    axes_heatmap,
    grid_target_index,
    head_label,
    head_map,
)
from .attribution import attribution_heatmap, rank_correlation_bars
from .decoding import beam_tree, finished_hypotheses, next_token_bars, sampling_bars, step_attention
from .head_view import HEAD_VIEW_FONT_SIZE, head_view_height, head_view_html
from .inside import Panel, matrices_figure, mixture_figure, neuron_key_target, neuron_view, product_bars, shape_label
from .masks import attention_step_figures, mask_heatmap, padded_ids
from .model_card import DIAGRAM_MIN_WIDTH, architecture_diagram, parameter_bars, training_curves
from .positional import (
    embedding_parts_figure,
    positional_curves,
    positional_heatmap,
    similarity_by_distance,
    similarity_heatmap,
)
from .rows import (
    TokenAxes,
    markdown_token,
    query_hover,
    row_convention,
    shift_markdown,
    token_axes,
    translation_axes,
    written_tokens,
)
from .tokens import label, token_probabilities
from .training import curve_steps, label_smoothing_bars, learning_rate_curve, live_curves

__all__ = [
    "DIAGRAM_MIN_WIDTH",
    "curve_steps",
    "live_curves",
    "learning_rate_curve",
    "label_smoothing_bars",
    "HEAD_VIEW_FONT_SIZE",
    "KINDS",
    "KIND_TITLES",
    "TokenAxes",
    "Panel",
    "alignment_heatmap",
    "alignment_links",
    "architecture_diagram",
    "attention_change_heatmap",
    "attention_grid",
    "attention_heatmap",
    "axes_heatmap",
    "attention_step_figures",
    "attention_table",
    "attribution_heatmap",
    "beam_tree",
    "diverging_heatmap",
    "embedding_parts_figure",
    "finished_hypotheses",
    "grid_target_index",
    "head_grid",
    "head_grid_target",
    "head_label",
    "head_map",
    "head_view_height",
    "head_view_html",
    "importance_ranking",
    "label",
    "markdown_token",
    "mask_heatmap",
    "matrices_figure",
    "mixture_figure",
    "neuron_key_target",
    "neuron_view",
    "next_token_bars",
    "padded_ids",
    "parameter_bars",
    "positional_curves",
    "positional_heatmap",
    "product_bars",
    "pruning_figure",
    "query_hover",
    "rank_correlation_bars",
    "row_convention",
    "sampling_bars",
    "shift_markdown",
    "shape_label",
    "similarity_by_distance",
    "similarity_heatmap",
    "step_attention",
    "token_axes",
    "token_probabilities",
    "training_curves",
    "training_trend",
    "translation_axes",
    "written_tokens",
]
