"""What a page opens on when neither the link nor the session says otherwise, measured on the
loaded checkpoint.

Session state: none; the measurements are cached per checkpoint version, for every session.
"""

import streamlit as st

from transformer import CheckpointError, Translator
from transformer.analysis import average_statistics, dev_translations
from transformer.checkpoint import load_dev_sample
from webapp.state.checkpoints import Checkpoint


# Keyed by checkpoint folder and version; the translator itself is not hashed (leading "_").
@st.cache_data(max_entries=8, show_spinner=False)
def dev_sample(folder: str, version: str) -> list[tuple[str, str]]:
    """The checkpoint's dev pairs ([] if it ships none); CheckpointError if they cannot be read."""
    return load_dev_sample(folder)


@st.cache_data(max_entries=8, show_spinner="Translating the dev sample…")
def dev_statistics(_translator: Translator, folder: str, version: str) -> dict:
    """head_statistics averaged over the dev sample's translations (transformer.analysis.dev_translations):
    the Analysis page's grids and the head a page opens on, computed once per checkpoint version."""
    return average_statistics(dev_translations(_translator, dev_sample(folder, version)))


@st.cache_data(max_entries=8, show_spinner=False)
def _sharpest_cross_attention(_translator: Translator, folder: str, version: str) -> tuple[int, int]:
    try:
        pairs = dev_sample(folder, version)
    except CheckpointError:
        pairs = []
    if not pairs:
        return 0, 0
    entropy = dev_statistics(_translator, folder, version)["cross"]["entropy"]  # (layers, heads)
    layer = int(entropy.mean(dim=1).argmin())
    return layer, int(entropy[layer].argmin())


def sharpest_cross_attention(checkpoint: Checkpoint) -> tuple[int, int]:
    """(layer, head), 0-based, of the encoder-decoder attention with the lowest mean entropy over
    the checkpoint's dev sample (greedy translations): the layer whose average map is the
    sharpest alignment, and that layer's sharpest head. (0, 0) without a dev sample."""
    return _sharpest_cross_attention(checkpoint.translator, str(checkpoint.folder), checkpoint.version)
