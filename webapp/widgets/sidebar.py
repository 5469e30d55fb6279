"""The sidebar every page shares (app.py draws it before the page): presentation mode, the "Show ▁"
switch, the checkpoint picker, the decoding settings and a short summary of the model.

Session state: owns "present", "show_marker", "ckpt", "beam_size", "max_len" and "int8" (its
widgets, read by webapp.state's present, checkpoints and results), and keeps the pages' inputs and
views (url.KEPT) alive while another page is open.
"""

import streamlit as st

from figures.tokens import display_token
from transformer import CheckpointError, Translator
from webapp import registry
from webapp.state import url
from webapp.state.checkpoints import (
    DEFAULT_EXAMPLE,
    EXAMPLES,
    Checkpoint,
    bleu_summary,
    checkpoint_label,
    checkpoint_names,
    checkpoints_dir,
    default_checkpoint,
    metrics,
    selected_checkpoint,
)
from webapp.state.present import PRESENTATION_CSS, presentation_changed, presenting
from webapp.state.results import INT8_DEFAULT, decoding_label, output_limit_rule
from webapp.state.url import notice, url_param
from webapp.widgets import gallery

BEAM_SIZES = (1, 2, 3, 4, 5, 6, 8)


def _checkpoint_changed() -> None:
    """Another model: its own decoding defaults, and its own example unless the text was edited."""
    for key in ("beam_size", "max_len"):
        st.session_state.pop(key, None)
    if st.session_state.get("text") in {DEFAULT_EXAMPLE, *EXAMPLES.values(), *gallery.gallery_texts()}:
        del st.session_state["text"]


def _restore_checkpoint_from_url(names: list[str]) -> None:
    requested = url_param("ckpt")
    if requested is None:
        return
    if requested in names:
        st.session_state["ckpt"] = requested
    else:
        notice(f"The link names a checkpoint that is not available; showing {st.session_state['ckpt']!r} instead.")


def _decoding_widgets(translator: Translator) -> None:
    st.session_state.setdefault("beam_size", translator.default_beam_size)
    st.select_slider(
        "Beam size",
        sorted({*BEAM_SIZES, translator.default_beam_size}),
        key="beam_size",
        format_func=decoding_label,
        help="Greedy takes the most probable token at each step; a beam keeps that many candidate translations.",
    )
    st.number_input(
        "Max output tokens",
        min_value=1,
        max_value=translator.config.max_len,
        value=None,
        key="max_len",
        placeholder="automatic",
        help=f"Empty: {output_limit_rule(translator)}.",
    )
    st.session_state.setdefault("int8", INT8_DEFAULT)
    st.toggle(
        "int8 inference",
        key="int8",
        help="Translate with int8 linear layers (dynamic quantization): faster on the CPU, attention maps "
        "unchanged in kind, scores within about half a BLEU point. The analysis pages keep the fp32 model.",
    )


def _summary(checkpoint: Checkpoint) -> None:
    translator = checkpoint.translator
    info, config = translator.info, translator.config
    # parameters() yields a tied embedding matrix once, so this counts each weight once.
    parameters = sum(p.numel() for p in translator.model.parameters())
    lines = [
        f"**{info.get('source_language', '?')} → {info.get('target_language', '?')}**",
        f"{parameters / 1e6:.2f} M parameters",
        f"{config.n_encoder_layers} encoder + {config.n_decoder_layers} decoder layers, "
        f"{config.n_heads} heads, d_model {config.d_model}",
    ]
    try:
        if summary := bleu_summary(metrics(checkpoint)):
            lines.append(f"Test BLEU: {summary}")
    except CheckpointError as error:
        lines.append(f"Test BLEU unavailable: {error}")
    st.markdown("  \n".join(lines))
    if info.get("description"):
        st.caption(info["description"])


def shown_tokens(tokens: list[str]) -> list[str]:
    """tokens as the sidebar's "Show ▁" switch displays them (figures.tokens.display_token)."""
    return [display_token(token, st.session_state.get("show_marker", True)) for token in tokens]


def sidebar() -> None:
    """Presentation mode, checkpoint picker, decoding settings and a short model summary; the
    settings live in st.session_state, where current_checkpoint and translate read them."""
    # A widget's value is dropped at the end of a run that shows no widget with its key: assigning
    # it to itself keeps each page's inputs and view while another page is open (or Translate shows
    # no map, its text empty). A copy of KEPT: other sessions' runs may add to it meanwhile.
    for key in tuple(url.KEPT):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    shipped = registry.shipped_checkpoints()
    names = sorted(checkpoint_names(), key=lambda name: name not in shipped)  # then those saved on /train
    label = lambda name: checkpoint_label(name) + ("" if name in shipped else " · saved on the Train page")
    with st.sidebar:
        st.toggle(
            "Presentation mode",
            key="present",
            on_change=presentation_changed,
            help="Larger text and figures, fewer controls: for a projector.",
        )
        if presenting():
            st.html(PRESENTATION_CSS)
        st.session_state.setdefault("show_marker", not presenting())
        st.toggle(
            "Show ▁ (word start)",
            key="show_marker",
            help="Subword tokens that start a word begin with ▁ in the vocabulary; off, every figure shows them "
            "without it (off by default in presentation mode).",
        )
        if not names:
            st.error(f"No checkpoint folders in {checkpoints_dir()}.")
            return
        if st.session_state.get("ckpt") not in names:
            st.session_state["ckpt"] = default_checkpoint(names)
        _restore_checkpoint_from_url(names)
        st.selectbox(
            "Checkpoint",
            names,
            key="ckpt",
            format_func=label,
            on_change=_checkpoint_changed,
            help="Each checkpoint folder, with the languages it translates between.",
        )
        try:
            selected = selected_checkpoint()
        except CheckpointError as error:
            st.error(f"Cannot load this checkpoint: {error}")
            return
        # Hidden, not skipped, in presentation mode: a widget that is not drawn loses its value.
        with st.container(key="sidebar_details"):
            st.subheader("Decoding")
            _decoding_widgets(selected.translator)
            st.subheader("Model")
            _summary(selected)
