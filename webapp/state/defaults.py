"""What a page opens on when neither the link nor the session says otherwise, measured on the
loaded checkpoint.

Session state: none; the measurements are cached per checkpoint version, for every session.
"""

import streamlit as st

from transformer import CheckpointError, Translator
from transformer.analysis import average_statistics, dev_translations
from transformer.checkpoint import load_dev_sample
from webapp.state.checkpoints import Checkpoint


@st.cache_data(max_entries=8, show_spinner="Finding this model's sharpest attention…")
def _sharpest_cross_attention(_translator: Translator, folder: str, version: str) -> tuple[int, int]:
    try:
        pairs = load_dev_sample(folder)
    except CheckpointError:
        pairs = []
    if not pairs:
        return 0, 0
    entropy = average_statistics(dev_translations(_translator, pairs))["cross"]["entropy"]  # (layers, heads)
    layer = int(entropy.mean(dim=1).argmin())
    return layer, int(entropy[layer].argmin())


def sharpest_cross_attention(checkpoint: Checkpoint) -> tuple[int, int]:
    """(layer, head), 0-based, of the encoder-decoder attention with the lowest mean entropy over
    the checkpoint's dev sample (greedy translations): the layer whose average map is the
    sharpest alignment, and that layer's sharpest head. (0, 0) without a dev sample."""
    return _sharpest_cross_attention(checkpoint.translator, str(checkpoint.folder), checkpoint.version)
