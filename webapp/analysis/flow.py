"""The Analysis page's tabs on how information flows: attention rollout and source relevance
(Abnar & Zuidema, 2020), one head's attention across training from the trainer's probe
snapshots, and the source-target alignment, plain or Shift-Att (Chen et al., 2020).

Session state: owns its widgets' keys, "rollout_layer", "relevance_layer", "history_probe",
"history_kind", "history_layer", "history_head", "history_step", "alignment_layer" and "shift_att".
"""

import streamlit as st
import torch

from figures import (
    KIND_TITLES,
    alignment_heatmap,
    alignment_links,
    attention_heatmap,
    axes_heatmap,
    head_label,
    head_map,
    row_convention,
    token_axes,
    training_trend,
    translation_axes,
    written_tokens,
)
from transformer import CheckpointError, Translation
from transformer.analysis import alignment, argmax_links, attention_entropy, attention_rollout, source_relevance
from transformer.tokenizer import EOS
from webapp.analysis.common import attention_history, needs_sentence
from webapp.state import checkpoints, present, url
from webapp.widgets.pickers import head_index, head_picker, kind_picker, layer_picker

ROLLOUT_TOP = 580  # pixels above the rollout and relevance maps on a 1920 x 1080 projector (measured: 577)


def rollout_tab(checkpoint: checkpoints.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "**Attention rollout** (Abnar & Zuidema, 2020) follows information through the encoder: each "
        "layer's attention, averaged over its heads, is mixed half and half with the identity for the "
        "residual connection (0.5·A + 0.5·I, rows renormalised) and multiplied through the layers. Row i "
        "says which input tokens flowed into position i. **Source relevance** composes the full encoder "
        "rollout with a decoder layer's cross-attention: which input tokens each output token drew on."
    )
    if needs_sentence(translation):
        return
    encoder, cross = translation.attention["encoder"], translation.attention["cross"]
    rollout, relevance = attention_rollout(encoder), source_relevance(cross, encoder)
    tokens = translation.source_tokens
    rollout_column, relevance_column = st.columns(2)
    with rollout_column:
        layer = layer_picker("Encoder rollout after", len(rollout), "rollout_layer")
        present.plotly_chart(
            attention_heatmap(
                rollout[layer].numpy(), tokens, tokens, f"Rollout after encoder layer {layer + 1}", value_name="share"
            ),
            key="rollout",
            filename=f"rollout-layer{layer + 1}",
            columns=2,
            top=ROLLOUT_TOP,
        )
    with relevance_column:
        layer = layer_picker("Cross-attention of", len(relevance), "relevance_layer")
        axes = translation_axes("cross", translation)
        present.plotly_chart(
            axes_heatmap(
                relevance[layer].numpy(), axes, f"Source relevance, decoder layer {layer + 1}", value_name="relevance"
            ),
            key="relevance",
            filename=f"source-relevance-layer{layer + 1}",
            columns=2,
            top=ROLLOUT_TOP,
        )
        st.caption(row_convention("cross"))


def training_tab(checkpoint: checkpoints.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "At every evaluation the trainer fed a few probe sentences through the model (teacher-forced) and "
        "kept their attention: slide through the training steps to watch a head take shape. On the toy "
        "model, the encoder–decoder attention turns into the anti-diagonal that reverses the sequence."
    )
    try:
        history = attention_history(str(checkpoint.folder), checkpoint.version)
    except CheckpointError as error:
        st.error(f"Cannot read the attention history: {error}")
        return
    if history is None or not history.steps or not history.probes:
        st.info("This checkpoint has no attention history: the trainer saves one with each checkpoint it exports.")
        return
    probes = list(range(len(history.probes)))
    url.keep_valid("history_probe", probes, 0)
    probe = st.selectbox(
        "Probe sentence", probes, key=url.kept("history_probe"), format_func=lambda i: history.probes[i]["source"]
    )
    kind = kind_picker("history_kind", "cross")
    layer_column, head_column, _ = st.columns([1, 1, 2])
    n_layers, n_heads = history.at(history.steps[0], probe, kind).shape[:2]
    with layer_column:
        layer = layer_picker("Layer", n_layers, "history_layer")
    with head_column:
        head = head_index(head_picker(n_heads, "history_head"))
    url.keep_valid("history_step", history.steps, history.steps[-1])
    step = st.select_slider("Training step", history.steps, key=url.kept("history_step"))

    maps = {s: head_map(history.at(s, probe, kind).numpy(), layer, head) for s in history.steps}
    # Probes are teacher-forced on a reference that ends in </s>: each position writes the next input.
    inputs = history.probes[probe]["target_tokens"]
    axes = token_axes(kind, history.probes[probe]["source_tokens"], inputs, written_tokens(inputs, EOS))
    name = f"{KIND_TITLES[kind]}, layer {layer + 1}, {head_label(head)}"
    map_column, trend_column = st.columns([3, 2])
    with map_column:
        present.plotly_chart(
            axes_heatmap(maps[step], axes, f"{name}, step {step}"),
            key="history_map",
            filename=f"history-{kind}-layer{layer + 1}-step{step}",
        )
        if convention := row_convention(kind):
            st.caption(convention)
    with trend_column:
        entropy = [attention_entropy(torch.from_numpy(maps[s])).item() for s in history.steps]
        present.plotly_chart(
            training_trend(history.steps, entropy, step, "Entropy of this map over training", "entropy (nats)"),
            key="history_entropy",
            filename=f"history-entropy-{kind}-layer{layer + 1}",
        )
        st.caption("Falling entropy: the head stops spreading its weight and settles on particular tokens.")


def alignment_tab(checkpoint: checkpoints.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "The cross-attention of one decoder layer, averaged over its heads, read as a source–target "
        "alignment; circles and lines mark each target word's most attended source token. Standard reading: "
        "a word is aligned by the row that writes it, as every map names its rows. **Shift-Att** (Chen et al., 2020) reads the step "
        "where the word is the decoder's input instead: the decoder has seen it, which often aligns better."
    )
    if needs_sentence(translation):
        return
    words = translation.output_tokens[:-1]  # the rows that write a word: all but the one writing </s>
    if not words:
        st.info("The translation has no words to align.")
        return
    layer_column, shift_column = st.columns([1, 3])
    with layer_column:
        layer = layer_picker("Decoder layer", checkpoint.translator.config.n_decoder_layers, "alignment_layer")
    shifted = shift_column.toggle("Shift-Att: one step later", key=url.kept("shift_att"))
    aligned = alignment(translation, layer, shifted)
    links = argmax_links(aligned)
    reading = "Shift-Att" if shifted else "standard"
    heatmap_column, links_column = st.columns([3, 2])
    with heatmap_column:
        present.plotly_chart(
            alignment_heatmap(
                aligned.numpy(), words, translation.source_tokens, links, f"Layer {layer + 1}, {reading} reading"
            ),
            key="alignment",
            filename=f"alignment-layer{layer + 1}-{'shift-att' if shifted else 'standard'}",
        )
    with links_column:
        present.plotly_chart(
            alignment_links(aligned.numpy(), words, translation.source_tokens, links),
            key="alignment_links",
            filename=f"alignment-links-layer{layer + 1}",
        )
