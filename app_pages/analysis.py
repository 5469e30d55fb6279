"""Analysis: which heads matter and how information flows, computed live on the loaded checkpoint.

One tab each: attention rollout and source relevance (Abnar & Zuidema, 2020); per-head statistics
over the dev sample or the sentence; live head ablation; head importance and the pruning curve
(Michel et al., 2019), cached on disk; one head's attention across training, from the trainer's
probe snapshots; and the source-target alignment, plain or Shift-Att (Chen et al., 2020). Only
the open tab runs. The sentence and the tab live in the URL; a click on a head opens it on the
Translate page.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
import streamlit as st
import torch

import app_support
from figures import (
    KIND_TITLES,
    KINDS,
    alignment_heatmap,
    alignment_links,
    attention_change_heatmap,
    attention_heatmap,
    attention_shift,
    head_grid,
    head_grid_target,
    head_label,
    head_map,
    importance_ranking,
    pruning_figure,
    query_key_tokens,
    training_trend,
)
from transformer import CheckpointError, Translation, Translator
from transformer.analysis import (
    alignment,
    argmax_links,
    attention_entropy,
    attention_rollout,
    average_statistics,
    head_gates,
    head_importance,
    heads_by_importance,
    pruning_curve,
    source_relevance,
)
from transformer.checkpoint import AttentionHistory, load_attention_history, load_dev_sample, read_json, write_json

TABS = {  # URL value -> tab label
    "rollout": "Rollout",
    "statistics": "Head statistics",
    "ablation": "Ablation",
    "importance": "Head importance",
    "training": "Across training",
    "alignment": "Alignment",
}
TAB_KEY = "analysis_tab"
STATISTICS_SENTENCES = 20  # of the dev sample: enough for stable averages, a second or two to translate
IMPORTANCE_PAIRS = 40  # dev pairs for the gradients and for each point of the pruning curve
PRUNING_POINTS = 9  # points of the curve, from no head to every head switched off
CACHE_ENV = "TRANSFORMER_ANALYSIS_CACHE"  # lets tests keep the importance cache out of the repository
CACHE_DIR = app_support.ROOT / ".cache" / "analysis"
OPEN_TRANSLATE = "_open_translate"  # set by a click on a head, acted on at the start of the next run
AVERAGE = "avg"  # the head choice that averages over the heads, as on the Translate page
STATISTICS = {  # head_statistics name -> (title, colour bar title, value format, colour range or None)
    "entropy": ("Attention entropy: low = focused on few tokens, high = spread out", "nats", ".2f", None),
    "distance": ("Mean attention distance: how far from its own position a query looks", "positions", ".1f", None),
    "eos_punct": (
        "Share of weight on EOS and punctuation: where a head with nothing to do parks it",
        "share",
        ".2f",
        (0, 1),
    ),
}


# --- cached computations -------------------------------------------------------------------
# Keyed by checkpoint folder and version; the translator itself is not hashed (leading "_").


@st.cache_data(max_entries=8, show_spinner=False)
def _dev_sample(folder: str, version: str) -> list[tuple[str, str]] | str:
    """The checkpoint's dev pairs ([] if it ships none), or why they cannot be read."""
    try:
        return load_dev_sample(folder)
    except CheckpointError as error:
        return str(error)


@st.cache_data(max_entries=8, show_spinner="Translating the dev sample…")
def _dev_statistics(_translator: Translator, folder: str, version: str, sources: tuple[str, ...]) -> dict:
    """head_statistics averaged over the greedy translations of sources."""
    return average_statistics(_translator.translate(list(sources), beam_size=1))


@st.cache_data(max_entries=64, show_spinner="Translating with those heads switched off…")
def _ablate(
    _translator: Translator,
    _original: Translation,
    folder: str,
    version: str,
    text: str,
    beam_size: int,
    max_len: int | None,
    disabled: tuple[tuple[str, int, int], ...],
) -> tuple[Translation, Translation]:
    """The text translated anew with the disabled heads switched off, and the original translation
    teacher-forced through that same model: its probability and the attention that moved."""
    grouped: dict[str, list[tuple[int, int]]] = {}
    for kind, layer, head in disabled:
        grouped.setdefault(kind, []).append((layer, head))
    gates = head_gates(_translator, grouped)
    [ablated] = _translator.translate([text], beam_size=beam_size, max_len=max_len, head_gates=gates)
    return ablated, _translator.explain(_original.source_ids, _original.output_ids, gates)


@st.cache_resource(max_entries=4, show_spinner="Loading the attention history…")
def _history(folder: str, version: str) -> AttentionHistory | str | None:
    """The probe snapshots the trainer saved (None if there are none), or why they cannot be read.
    A resource: shared, never modified."""
    try:
        return load_attention_history(folder)
    except CheckpointError as error:
        return str(error)


# --- shared pieces -------------------------------------------------------------------------


def open_clicked_head(chart_key: str) -> None:
    """A click on a head_grid cell: that head, on the Translate page (opened by the next run,
    since a callback cannot switch pages); the shared sentence goes along."""
    points = st.session_state[chart_key].selection.points
    target = head_grid_target(points[0]) if points else None
    if target is not None:
        st.session_state["kind"], st.session_state["layer"], st.session_state["head"] = target
        st.session_state[OPEN_TRANSLATE] = True


def clickable_head_grid(values: dict, key: str, filename: str, **options) -> None:
    app_support.plotly_chart(
        head_grid(values, hint="click to open this head on the Translate page", **options),
        key=key,
        filename=filename,
        on_select=lambda: open_clicked_head(key),
    )


def layer_picker(label: str, n_layers: int, key: str) -> int:
    """A layer (0-based), the last by default: the one closest to the output."""
    app_support.keep_valid(key, list(range(n_layers)), n_layers - 1)
    return st.selectbox(label, range(n_layers), key=key, format_func=lambda i: f"Layer {i + 1}")


def head_picker(n_heads: int, key: str) -> int | None:
    """A head (0-based), or None for the average over the heads."""
    app_support.keep_valid(key, [AVERAGE, *range(n_heads)], AVERAGE)
    head = st.selectbox(
        "Head", [AVERAGE, *range(n_heads)], key=key, format_func=lambda h: head_label(None if h == AVERAGE else h)
    )
    return None if head == AVERAGE else head


def dev_pairs(checkpoint: app_support.Checkpoint) -> list[tuple[str, str]]:
    """The dev sample, or [] with the reason shown."""
    pairs = _dev_sample(str(checkpoint.folder), checkpoint.version)
    if isinstance(pairs, str):
        st.error(f"Cannot read the dev sample: {pairs}")
        return []
    if not pairs:
        st.info("This checkpoint ships no dev sample (dev_sample.tsv).")
    return pairs


def needs_sentence(translation: Translation | None) -> bool:
    if translation is None:
        st.info("Type a sentence above.")
    return translation is None


# --- the tabs ------------------------------------------------------------------------------


def rollout_tab(checkpoint: app_support.Checkpoint, translation: Translation | None) -> None:
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
        app_support.plotly_chart(
            attention_heatmap(
                rollout[layer].numpy(), tokens, tokens, f"Rollout after encoder layer {layer + 1}", value_name="share"
            ),
            key="rollout",
            filename=f"rollout-layer{layer + 1}",
        )
    with relevance_column:
        layer = layer_picker("Cross-attention of", len(relevance), "relevance_layer")
        app_support.plotly_chart(
            attention_heatmap(
                relevance[layer].numpy(),
                translation.output_tokens,
                tokens,
                f"Source relevance, decoder layer {layer + 1}",
                value_name="relevance",
            ),
            key="relevance",
            filename=f"source-relevance-layer{layer + 1}",
        )
        st.caption("A row is the step that produced that output token.")


def statistics_tab(checkpoint: app_support.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "What every head of every layer does, averaged over sentences. A head that parks its weight on "
        "`</s>` or punctuation is often idle (Clark et al., 2019). Click a cell to open that head on the "
        "Translate page with the sentence above."
    )
    pairs = dev_pairs(checkpoint)
    sources = {}
    if pairs:
        sample = tuple(source for source, _ in pairs[:STATISTICS_SENTENCES])
        sources["dev"] = f"{len(sample)} dev sentences (greedy)"
    if translation is not None:
        sources["sentence"] = "the sentence above"
    if not sources:
        st.info("Type a sentence above.")
        return
    app_support.keep_valid("stats_source", list(sources), next(iter(sources)))
    source = st.radio("Averaged over", list(sources), key="stats_source", format_func=sources.get, horizontal=True)
    if source == "dev":
        statistics = _dev_statistics(checkpoint.translator, str(checkpoint.folder), checkpoint.version, sample)
    else:
        statistics = average_statistics([translation])
    for name, (title, value_name, value_format, zrange) in STATISTICS.items():
        clickable_head_grid(
            {kind: statistics[kind][name].numpy() for kind in statistics},
            key=f"stats_{name}",
            filename=f"head-{name}",
            title=title,
            value_name=value_name,
            value_format=value_format,
            zrange=zrange,
        )


def select_moved_head() -> None:
    points = st.session_state["attention_moved"].selection.points
    target = head_grid_target(points[0]) if points else None
    if target is not None:
        st.session_state["moved_head"] = target


def ablation_options(config) -> dict[str, list[tuple[int, int]]]:
    """Per kind, the (layer, head) pairs that can be switched off, 0-based."""
    layers = {"encoder": config.n_encoder_layers, "decoder": config.n_decoder_layers, "cross": config.n_decoder_layers}
    return {kind: [(layer, head) for layer in range(layers[kind]) for head in range(config.n_heads)] for kind in KINDS}


def ablation_param() -> str | None:
    """The heads switched off as the URL spells them: kind-layer-head, numbers from 1, comma-separated."""
    heads = [
        f"{kind}-{layer + 1}-{head + 1}" for kind in KINDS for layer, head in st.session_state.get(f"ablate_{kind}", [])
    ]
    return ",".join(heads) or None


def parse_ablation(value: str, options: dict[str, list[tuple[int, int]]]) -> dict | None:
    """ablation_param's text back as the ablation widgets' state, or None if any item is not a head."""
    state = {f"ablate_{kind}": [] for kind in KINDS}
    for item in value.split(","):
        kind, _, numbers = item.partition("-")
        layer, _, head = numbers.partition("-")
        if not (layer.isdecimal() and head.isdecimal()):
            return None
        pair = (int(layer) - 1, int(head) - 1)
        if pair not in options.get(kind, []):
            return None
        state[f"ablate_{kind}"].append(pair)
    return state


def ablation_tab(checkpoint: app_support.Checkpoint, original: Translation | None) -> None:
    st.markdown(
        "Switch heads off (their output is zeroed before the output projection) and the sentence is "
        "translated again at once. The original translation is also fed through the changed model: its "
        "probability and its attention maps show what the heads contributed."
    )
    if needs_sentence(original):
        return
    options_by_kind = ablation_options(checkpoint.translator.config)
    disabled = []
    for kind, column in zip(KINDS, st.columns(len(KINDS))):
        options = options_by_kind[kind]
        key = f"ablate_{kind}"
        app_support.keep_valid_choices(key, options, [])
        heads = column.multiselect(
            f"{KIND_TITLES[kind]}: off",
            options,
            key=key,
            format_func=lambda h: f"L{h[0] + 1} H{h[1] + 1}",
            placeholder="no head",
            on_change=lambda: st.session_state.pop("moved_head", None),  # show the new most moved head
        )
        disabled += [(kind, layer, head) for layer, head in sorted(heads)]
    if not disabled:
        st.info("Pick heads to switch off above.")
        return
    beam_size, max_len = app_support.decoding_settings(checkpoint)
    ablated, forced = _ablate(
        checkpoint.translator,
        original,
        str(checkpoint.folder),
        checkpoint.version,
        st.session_state["text"],  # the sentence the original translation is of
        beam_size,
        max_len,
        tuple(disabled),
    )
    before, after, change = st.columns([2, 2, 1])
    before.markdown(f"**Original translation** ({app_support.decoding_label(beam_size)})")
    before.code(original.text, language=None, wrap_lines=True)
    after.markdown(f"**With {len(disabled)} head{'s' if len(disabled) > 1 else ''} off**")
    after.code(ablated.text, language=None, wrap_lines=True)
    change.metric(
        "log P(original translation)",
        f"{forced.log_prob:.3f}",
        delta=f"{forced.log_prob - original.log_prob:+.3f}",
        help=f"Under the changed model; {original.log_prob:.3f} with every head on.",
    )

    st.subheader("The attention that moved")
    st.caption(
        "How far each head's attention moved on the original translation (total variation, averaged over "
        "queries); the heads switched off are outlined. Click a head to see its change below."
    )
    shift = attention_shift(original.attention, forced.attention)
    app_support.plotly_chart(
        head_grid(shift, value_name="moved", zrange=(0, 1), hint="click to see its change", marked=disabled),
        key="attention_moved",
        filename="attention-moved",
        on_select=select_moved_head,
    )
    options = [(kind, layer, head) for kind in shift for layer, head in np.ndindex(shift[kind].shape)]
    most_moved = max(options, key=lambda h: shift[h[0]][h[1], h[2]])
    app_support.keep_valid("moved_head", options, most_moved)
    kind, layer, head = st.selectbox(
        "Head",
        options,
        key="moved_head",
        format_func=lambda h: f"{KIND_TITLES[h[0]]}, layer {h[1] + 1}, head {h[2] + 1}",
    )
    queries, keys = query_key_tokens(kind, original.source_tokens, original.target_tokens)
    app_support.plotly_chart(
        attention_change_heatmap(
            forced.attention[kind][layer, head].numpy() - original.attention[kind][layer, head].numpy(),
            queries,
            keys,
            f"{KIND_TITLES[kind]}, layer {layer + 1}, head {head + 1}: switched off − original",
        ),
        key="attention_change",
        filename=f"attention-change-{kind}-layer{layer + 1}-head{head + 1}",
    )


def importance_cache(checkpoint: app_support.Checkpoint, pairs: list[tuple[str, str]]) -> Path:
    """One file per checkpoint version and dev sample (hashed: the version holds slashes)."""
    digest = hashlib.sha256(repr((checkpoint.version, pairs)).encode()).hexdigest()[:16]
    return Path(os.environ.get(CACHE_ENV, CACHE_DIR)) / f"{checkpoint.name}-{digest}.json"


def pruning_counts(n_heads: int) -> list[int]:
    """PRUNING_POINTS numbers of heads to switch off, evenly from none to all."""
    return sorted({round(i * n_heads / (PRUNING_POINTS - 1)) for i in range(PRUNING_POINTS)})


def compute_importance(translator: Translator, pairs: list[tuple[str, str]]) -> dict:
    """Importance and pruning curve as JSON-ready values, with a progress bar. The gradients are
    quick; the curve translates the pairs once per point, so it gets most of the bar."""
    bar = st.progress(0.0, text="Head importance: gradients on the dev pairs…")
    importance = head_importance(translator, pairs, batch_size=8, progress=lambda done: bar.progress(0.2 * done))
    n_heads = sum(values.numel() for values in importance.values())
    curve = pruning_curve(
        translator,
        pairs,
        importance,
        pruning_counts(n_heads),
        progress=lambda done: bar.progress(0.2 + 0.8 * done, text="Pruning: BLEU with heads switched off…"),
    )
    bar.empty()
    return {
        "importance": {kind: values.tolist() for kind, values in importance.items()},
        "curve": [{**point, "heads": [list(head) for head in point["heads"]]} for point in curve],
    }


def importance_tab(checkpoint: app_support.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "**Head importance** (Michel et al., 2019): the expected absolute gradient of the loss with respect "
        "to a gate on each head's output, over dev pairs, normalised per attention kind. Then heads are "
        "switched off, least important first, and BLEU is measured on the same pairs: many heads can go "
        "before the translation suffers. Click a cell to open that head on the Translate page."
    )
    pairs = dev_pairs(checkpoint)[:IMPORTANCE_PAIRS]
    if not pairs:
        return
    path = importance_cache(checkpoint, pairs)
    try:
        result = read_json(path)
    except CheckpointError:  # not computed yet for this version, or a damaged file: compute it again
        result = compute_importance(checkpoint.translator, pairs)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, result)
    importance = {kind: torch.tensor(values) for kind, values in result["importance"].items()}
    clickable_head_grid(
        {kind: values.numpy() for kind, values in importance.items()},
        key="importance",
        filename="head-importance",
        title=f"Head importance on {len(pairs)} dev pairs",
        value_name="importance",
    )
    ranking_column, curve_column = st.columns([2, 3])
    with ranking_column:
        st.markdown("**Ranking, most important first**")
        order = heads_by_importance(importance)[::-1]
        st.dataframe(importance_ranking(order, importance), hide_index=True, height=340)
    with curve_column:
        app_support.plotly_chart(pruning_figure(result["curve"]), key="pruning", filename="pruning-curve")
    st.caption(f"Computed once per checkpoint version and kept in {path}.")


def training_tab(checkpoint: app_support.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "At every evaluation the trainer fed a few probe sentences through the model (teacher-forced) and "
        "kept their attention: slide through the training steps to watch a head take shape. On the toy "
        "model, the encoder–decoder attention turns into the anti-diagonal that reverses the sequence."
    )
    history = _history(str(checkpoint.folder), checkpoint.version)
    if isinstance(history, str):
        st.error(f"Cannot read the attention history: {history}")
        return
    if history is None or not history.steps or not history.probes:
        st.info("This checkpoint has no attention history: the trainer saves one with each checkpoint it exports.")
        return
    probes = list(range(len(history.probes)))
    app_support.keep_valid("history_probe", probes, 0)
    probe = st.selectbox(
        "Probe sentence", probes, key="history_probe", format_func=lambda i: history.probes[i]["source"]
    )
    app_support.keep_valid("history_kind", list(KINDS), "cross")
    kind = st.segmented_control("Kind", KINDS, format_func=KIND_TITLES.get, key="history_kind", required=True)
    layer_column, head_column, _ = st.columns([1, 1, 2])
    n_layers, n_heads = history.at(history.steps[0], probe, kind).shape[:2]
    with layer_column:
        layer = layer_picker("Layer", n_layers, "history_layer")
    with head_column:
        head = head_picker(n_heads, "history_head")
    app_support.keep_valid("history_step", history.steps, history.steps[-1])
    step = st.select_slider("Training step", history.steps, key="history_step")

    maps = {s: head_map(history.at(s, probe, kind).numpy(), layer, head) for s in history.steps}
    queries, keys = query_key_tokens(
        kind, history.probes[probe]["source_tokens"], history.probes[probe]["target_tokens"]
    )
    name = f"{KIND_TITLES[kind]}, layer {layer + 1}, {head_label(head)}"
    map_column, trend_column = st.columns([3, 2])
    with map_column:
        app_support.plotly_chart(
            attention_heatmap(maps[step], queries, keys, f"{name}, step {step}"),
            key="history_map",
            filename=f"history-{kind}-layer{layer + 1}-step{step}",
        )
    with trend_column:
        entropy = [attention_entropy(torch.from_numpy(maps[s])).item() for s in history.steps]
        app_support.plotly_chart(
            training_trend(history.steps, entropy, step, "Entropy of this map over training", "entropy (nats)"),
            key="history_entropy",
            filename=f"history-entropy-{kind}-layer{layer + 1}",
        )
        st.caption("Falling entropy: the head stops spreading its weight and settles on particular tokens.")


def alignment_tab(checkpoint: app_support.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "The cross-attention of one decoder layer, averaged over its heads, read as a source–target "
        "alignment; circles and lines mark each target word's most attended source token. Standard reading: "
        "a word is aligned by the step that predicted it. **Shift-Att** (Chen et al., 2020) reads the step "
        "where the word is the decoder's input instead: the decoder has seen it, which often aligns better."
    )
    if needs_sentence(translation):
        return
    words = translation.target_tokens[1:]
    if not words:
        st.info("The translation has no words to align.")
        return
    layer_column, shift_column = st.columns([1, 3])
    with layer_column:
        layer = layer_picker("Decoder layer", checkpoint.translator.config.n_decoder_layers, "alignment_layer")
    shifted = shift_column.toggle("Shift-Att: one step later", key="shift_att")
    aligned = alignment(translation, layer, shifted)
    links = argmax_links(aligned)
    reading = "Shift-Att" if shifted else "standard"
    heatmap_column, links_column = st.columns([3, 2])
    with heatmap_column:
        app_support.plotly_chart(
            alignment_heatmap(
                aligned.numpy(), words, translation.source_tokens, links, f"Layer {layer + 1}, {reading} reading"
            ),
            key="alignment",
            filename=f"alignment-layer{layer + 1}-{'shift-att' if shifted else 'standard'}",
        )
    with links_column:
        app_support.plotly_chart(
            alignment_links(aligned.numpy(), words, translation.source_tokens, links),
            key="alignment_links",
            filename=f"alignment-links-layer{layer + 1}",
        )


SECTIONS = {
    "rollout": rollout_tab,
    "statistics": statistics_tab,
    "ablation": ablation_tab,
    "importance": importance_tab,
    "training": training_tab,
    "alignment": alignment_tab,
}


def restore_tab_from_url() -> None:
    tab = app_support.url_param("tab")
    if tab is None:
        return
    if tab in TABS:
        st.session_state[TAB_KEY] = TABS[tab]
    else:
        app_support.notice(f"The link's tab is not one of {', '.join(TABS)}; showing {next(iter(TABS))}.")


def main() -> None:
    if st.session_state.pop(OPEN_TRANSLATE, False):
        st.switch_page("app_pages/translate.py")
    st.title("Analysis")
    checkpoint = app_support.checkpoint_for_page()
    if checkpoint is None:
        return
    restore_tab_from_url()
    app_support.restore_param(
        "off",
        None,
        lambda value: parse_ablation(value, ablation_options(checkpoint.translator.config)),
        "The link's heads to switch off (off=kind-layer-head,...) are not all heads of this model; none is off.",
    )
    text = app_support.sentence_input(checkpoint)
    translation = None
    if text.strip():
        translation, _ = app_support.translate(checkpoint, text)
        if translation.truncated:
            st.warning(
                f"The sentence is longer than this model's limit: only its first {checkpoint.translator.max_source_tokens} tokens are used."
            )
    # Tabs that track the open one run only that one: the importance tab may compute for a while.
    tabs = st.tabs(list(TABS.values()), key=TAB_KEY, on_change="rerun")
    opened = next(iter(TABS))
    for (name, section), tab in zip(SECTIONS.items(), tabs):
        if tab.open:
            opened = name
            with tab:
                section(checkpoint, translation)
    app_support.set_url(text=text, tab=opened, off=ablation_param())


main()
