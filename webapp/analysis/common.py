"""Shared pieces of the Analysis page's tabs (webapp/pages/analysis.py): cached computations, the
pickers every tab uses, the heads switched off as the URL spells them, and where head importance
is read from (the checkpoint's shipped file, else a user cache folder, never the repository).

Session state: owns "_open_translate" (a click on a head, acted on by the next run); reads the
heads switched off, "ablate_{kind}" (the Ablation tab's widgets); a click on a head sets the
Translate page's "kind", "layer" and "head".
"""

import hashlib
import os
from pathlib import Path

import streamlit as st

from figures import KINDS, head_grid, head_grid_target
from transformer import CheckpointError, Translation
from transformer.analysis import read_importance_report
from transformer.checkpoint import (
    IMPORTANCE_FILE,
    SAMPLE_FILE,
    AttentionHistory,
    load_attention_history,
)
from webapp.state import checkpoints, present, url
from webapp.state.defaults import dev_sample

CACHE_ENV = "TRANSFORMER_ANALYSIS_CACHE"  # moves the importance cache (tests keep it in a temporary folder)
OPEN_TRANSLATE = "_open_translate"  # set by a click on a head, acted on at the start of the next run


# --- cached computations -------------------------------------------------------------------
# Keyed by checkpoint folder and version; the translator itself is not hashed (leading "_").


@st.cache_resource(max_entries=4, show_spinner="Loading the attention history…")
def attention_history(folder: str, version: str) -> AttentionHistory | None:
    """The probe snapshots the trainer saved (None if there are none); CheckpointError if they
    cannot be read. A resource: shared, never modified."""
    return load_attention_history(folder)


def dev_pairs(checkpoint: checkpoints.Checkpoint) -> list[tuple[str, str]]:
    """The dev sample, or [] with the reason shown."""
    try:
        pairs = dev_sample(str(checkpoint.folder), checkpoint.version)
    except CheckpointError as error:
        st.error(f"Cannot read the dev sample: {error}")
        return []
    if not pairs:
        st.info(f"This checkpoint ships no dev sample ({SAMPLE_FILE}).")
    return pairs


# --- head importance: shipped, else cached per user ----------------------------------------


def cache_dir() -> Path:
    """$TRANSFORMER_ANALYSIS_CACHE, else the user's cache folder ($XDG_CACHE_HOME or ~/.cache)."""
    if folder := os.environ.get(CACHE_ENV):
        return Path(folder)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "transformer-app" / "analysis"


def importance_cache(checkpoint: checkpoints.Checkpoint, pairs: list[tuple[str, str]]) -> Path:
    """One file per checkpoint version and dev sample (hashed: the version holds slashes)."""
    digest = hashlib.sha256(repr((checkpoint.version, pairs)).encode()).hexdigest()[:16]
    return cache_dir() / f"{checkpoint.name}-{digest}.json"


def saved_importance(checkpoint: checkpoints.Checkpoint, pairs: list[tuple[str, str]]) -> tuple[dict | None, Path]:
    """The importance report shipped with the checkpoint (written at export) if it fits this model,
    else the one an earlier visit cached; None if neither. Also where it is, or is to be cached."""
    config = checkpoint.translator.config
    shipped = checkpoint.folder / IMPORTANCE_FILE
    report = read_importance_report(shipped, config)
    if report is not None:
        return report, shipped
    cached = importance_cache(checkpoint, pairs)
    return read_importance_report(cached, config), cached


# --- the ablated heads in the URL ----------------------------------------------------------


def ablation_options(config) -> dict[str, list[tuple[int, int]]]:
    """Per kind, the (layer, head) pairs that can be switched off, 0-based."""
    return {
        kind: [(layer, head) for layer in range(config.layers(kind)) for head in range(config.n_heads)]
        for kind in KINDS
    }


def ablation_param() -> str | None:
    """The heads switched off as the URL spells them: kind-layer-head, numbers from 1, comma-separated."""
    heads = [
        f"{kind}-{url.url_value(layer)}-{url.url_value(head)}"
        for kind in KINDS
        for layer, head in st.session_state.get(f"ablate_{kind}", [])
    ]
    return ",".join(heads) or None


def parse_ablation(value: str, options: dict[str, list[tuple[int, int]]]) -> dict | None:
    """ablation_param's text back as the ablation widgets' state, or None if any item is not a head
    or there are more items than the model has heads. A head listed twice is switched off once:
    a link cannot multiply the work."""
    items = value.split(",")
    if len(items) > sum(map(len, options.values())):
        return None
    state = {f"ablate_{kind}": [] for kind in KINDS}
    for item in items:
        kind, _, numbers = item.partition("-")
        layer, _, head = numbers.partition("-")
        layer, head = url.url_number(layer), url.url_number(head)
        if layer is None or head is None or (layer - 1, head - 1) not in options.get(kind, []):
            return None
        if (layer - 1, head - 1) not in state[f"ablate_{kind}"]:
            state[f"ablate_{kind}"].append((layer - 1, head - 1))
    return state


# --- widgets -------------------------------------------------------------------------------


def open_clicked_head(chart_key: str) -> None:
    """A click on a head_grid cell: that head, on the Translate page (opened by the next run,
    since a callback cannot switch pages); the shared sentence goes along."""
    points = st.session_state[chart_key].selection.points
    target = head_grid_target(points[0]) if points else None
    if target is not None:
        st.session_state["kind"], st.session_state["layer"], st.session_state["head"] = target
        st.session_state[OPEN_TRANSLATE] = True


def clickable_head_grid(values: dict, key: str, filename: str, **options) -> None:
    present.plotly_chart(
        head_grid(values, hint="click to open this head on the Translate page", **options),
        key=key,
        filename=filename,
        on_select=lambda: open_clicked_head(key),
    )


def needs_sentence(translation: Translation | None) -> bool:
    if translation is None:
        st.info("Type a sentence above.")
    return translation is None
