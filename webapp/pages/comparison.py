"""The Compare page's state and results (webapp/pages/compare.py): which checkpoints it compares (two
or three of those that translate English into another language), the layer and head of their
encoder–decoder attention, each read from the link with a notice for a value that does not fit;
and, per checkpoint, the translation with the alignment of that layer and head.

Session state: owns "compare_ckpts", "compare_layer" and "compare_head" (the page's widgets; the
sidebar keeps them across pages); reads "ckpt" (the sidebar's checkpoint, compared first).
Translations come from the process's cache (webapp.state.results), each model's sharpest layer
from webapp.state.defaults: changing the layer or head never runs a model again.
"""

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from figures import head_map
from transformer import Translation
from transformer.analysis import argmax_links
from webapp.state import defaults, results, url
from webapp.state.checkpoints import Checkpoint, checkpoint_names
from webapp.widgets import pickers

MAX_COMPARED = 3  # side by side, each column still wide enough for its maps
SHARPEST = "sharpest"  # the layer choice, and its URL value: each model's own sharpest cross-attention


@dataclass(frozen=True)
class Compared:
    """One checkpoint's column: its translation, the layer and head shown (0-based; head None
    averages) and their alignment: the map's rows of the output words y_1..y_n (the row writing
    each, the name the map gives it), (words, source tokens), and each word's most attended source
    position."""

    checkpoint: Checkpoint
    translation: Translation
    seconds: float
    layer: int
    head: int | None
    weights: np.ndarray  # (target tokens, source tokens): the whole map of that layer and head
    words: list[str]
    aligned: np.ndarray
    links: list[tuple[int, int]]


def default_choice(comparable: list[str], sidebar: str | None) -> list[str]:
    """The sidebar's checkpoint first when it can be compared, then the others, at most MAX_COMPARED."""
    first = [sidebar] if sidebar in comparable else []
    return (first + [name for name in comparable if name != sidebar])[:MAX_COMPARED]


def parse_checkpoints(value: str, comparable: list[str], listed: list[str]) -> tuple[list[str], list[str]]:
    """The link's ckpts ("en-de,en-fr") as the comparable names it lists, in its order, once each,
    at most MAX_COMPARED; and the notices for what was left out. Only listed folder names are ever
    repeated in a notice."""
    names = list(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    chosen = [name for name in names if name in comparable]
    notices = []
    if other := [name for name in names if name in listed and name not in comparable]:
        notices.append(
            f"The link names {', '.join(other)}, which does not translate English into another language: left out."
        )
    if unknown := sum(name not in listed for name in names):
        notices.append(f"The link names {unknown} checkpoint(s) that are not available: left out.")
    if len(chosen) > MAX_COMPARED:
        notices.append(f"The link names {len(chosen)} checkpoints; comparing the first {MAX_COMPARED}.")
    return chosen[:MAX_COMPARED], notices


def restore_checkpoints(comparable: list[str]) -> None:
    """Seed the checkpoints to compare from the link; with none left that fits, the defaults."""
    value = url.url_param("ckpts")
    if value is None:
        return
    chosen, notices = parse_checkpoints(value, comparable, checkpoint_names())
    for message in notices:
        url.notice(message)
    if chosen:
        st.session_state["compare_ckpts"] = chosen
    elif not notices:
        url.notice("The link's ckpts names no checkpoint; comparing the defaults.")


def restore_view(n_layers: int, n_heads: int) -> None:
    """Seed the layer and head from the link (1-based, or sharpest / avg); a bad value falls back
    to the default with a notice."""
    url.restore_param(
        "layer",
        "compare_layer",
        lambda layer: SHARPEST if layer == SHARPEST else url.parse_number(layer, n_layers),
        f"The link's layer is not between 1 and {n_layers} (or {SHARPEST}); showing each model's sharpest.",
    )
    pickers.restore_head("compare_head", n_heads, average=True)


def alignment_of(weights: np.ndarray, output_tokens: list[str]) -> tuple[list[str], np.ndarray, list[tuple[int, int]]]:
    """The output words y_1..y_n of a (output tokens, source tokens) cross-attention map whose row i
    writes output_tokens[i] (figures.rows: the map's row names), their rows of weights, and the
    argmax link (word, source position) of each. The last row, which writes </s> (or the last word
    of a translation cut at its length limit), is left out, as in transformer.analysis.alignment."""
    words = output_tokens[:-1]
    aligned = weights[: len(words)]
    return words, aligned, argmax_links(torch.from_numpy(aligned)) if words else []


def compare(checkpoint: Checkpoint, text: str, layer: int | str, head: int | str) -> Compared:
    """The checkpoint's translation of text (cached, the sidebar's decoding) and its alignment in
    the chosen layer (SHARPEST: the model's own sharpest) and head (AVERAGE: all heads)."""
    translation, seconds = results.translate(checkpoint, text)
    if layer == SHARPEST:
        layer = defaults.sharpest_cross_attention(checkpoint)[0]
    head = pickers.head_index(head)
    weights = head_map(translation.attention["cross"].numpy(), layer, head)
    words, aligned, links = alignment_of(weights, translation.output_tokens)
    return Compared(checkpoint, translation, seconds, layer, head, weights, words, aligned, links)
