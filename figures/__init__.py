"""Plotly figures for the app. Pure functions of arrays and token lists, no Streamlit: they are
unit-tested without a browser and reused by every page."""

from .attention import (
    KIND_TITLES,
    KINDS,
    attention_grid,
    attention_heatmap,
    attention_table,
    grid_target_index,
    head_label,
    head_map,
    head_view,
    query_key_tokens,
)
from .tokens import token_probabilities

__all__ = [
    "KINDS",
    "KIND_TITLES",
    "attention_grid",
    "attention_heatmap",
    "attention_table",
    "grid_target_index",
    "head_label",
    "head_map",
    "head_view",
    "query_key_tokens",
    "token_probabilities",
]
