"""The Analysis page's tabs on which heads matter: per-head statistics over the dev sample or the
sentence, live head ablation, and head importance with the pruning curve (Michel et al., 2019),
shipped with the checkpoint or computed once and cached in the user's cache folder.

Session state: owns its widgets' keys, "stats_source", "ablate_{kind}" (one per kind) and
"moved_head"; reads "text" (the sentence the original translation is of).
"""

import numpy as np
import streamlit as st

from figures import (
    KIND_TITLES,
    KINDS,
    attention_change_heatmap,
    head_grid,
    head_grid_target,
    importance_ranking,
    pruning_figure,
    row_convention,
    translation_axes,
)
from transformer import Translation
from transformer.analysis import (
    DEV_SENTENCES,
    IMPORTANCE_PAIRS,
    attention_shift,
    average_statistics,
    group_heads,
    head_gates,
    heads_by_importance,
    importance_report,
    read_importance_report,
)
from transformer.checkpoint import IMPORTANCE_FILE, write_json
from webapp.analysis.common import (
    ablation_options,
    clickable_head_grid,
    dev_pairs,
    needs_sentence,
    saved_importance,
)
from webapp.state import checkpoints, present, results, url
from webapp.state.defaults import dev_statistics

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


def statistics_tab(checkpoint: checkpoints.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "What every head of every layer does, averaged over sentences. A head that parks its weight on "
        "`</s>` or punctuation is often idle (Clark et al., 2019). Click a cell to open that head on the "
        "Translate page with the sentence above."
    )
    pairs = dev_pairs(checkpoint)
    sources = {}
    if pairs:
        sources["dev"] = f"{min(len(pairs), DEV_SENTENCES)} dev sentences (greedy)"
    if translation is not None:
        sources["sentence"] = "the sentence above"
    if not sources:
        st.info("Type a sentence above.")
        return
    url.keep_valid("stats_source", list(sources), next(iter(sources)))
    source = st.radio(
        "Averaged over", list(sources), key=url.kept("stats_source"), format_func=sources.get, horizontal=True
    )
    if source == "dev":
        statistics = dev_statistics(checkpoint.translator, str(checkpoint.folder), checkpoint.version)
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


def _ablate(
    checkpoint: checkpoints.Checkpoint,
    original: Translation,
    text: str,
    beam_size: int,
    max_len: int | None,
    disabled: tuple[tuple[str, int, int], ...],
) -> tuple[Translation, Translation]:
    """The text translated anew with the disabled heads switched off, and the original translation
    teacher-forced through that same model: its probability and the attention that moved. Cached
    with the translations (results.results)."""

    def compute() -> tuple[Translation, Translation]:
        translator = checkpoint.translator
        gates = head_gates(translator, group_heads(disabled))
        with st.spinner("Translating with those heads switched off…"):
            [ablated] = translator.translate([text], beam_size=beam_size, max_len=max_len, head_gates=gates)
            return ablated, translator.explain(original.source_ids, original.output_ids, gates)

    key = ("ablate", str(checkpoint.folder), checkpoint.version, text, beam_size, max_len, disabled)
    return results.results().get(key, compute)


def heads_to_switch_off(config) -> list[tuple[str, int, int]]:
    """One multi-choice per kind; the (kind, layer, head) triples picked."""
    options_by_kind = ablation_options(config)
    disabled = []
    for kind, column in zip(KINDS, st.columns(len(KINDS))):
        options = options_by_kind[kind]
        key = f"ablate_{kind}"
        url.keep_valid_choices(key, options, [])
        heads = column.multiselect(
            f"{KIND_TITLES[kind]}: off",
            options,
            key=url.kept(key),
            format_func=lambda h: f"L{h[0] + 1} H{h[1] + 1}",
            placeholder="no head",
            on_change=lambda: st.session_state.pop("moved_head", None),  # show the new most moved head
        )
        disabled += [(kind, layer, head) for layer, head in sorted(heads)]
    return disabled


def ablation_tab(checkpoint: checkpoints.Checkpoint, original: Translation | None) -> None:
    st.markdown(
        "Switch heads off (their output is zeroed before the output projection) and the sentence is "
        "translated again at once. The original translation is also fed through the changed model: its "
        "probability and its attention maps show what the heads contributed."
    )
    if needs_sentence(original):
        return
    disabled = heads_to_switch_off(checkpoint.translator.config)
    if not disabled:
        st.info("Pick heads to switch off above.")
        return
    beam_size, max_len = results.decoding_settings(checkpoint)
    text = st.session_state["text"]  # the sentence the original translation is of
    ablated, forced = _ablate(checkpoint, original, text, beam_size, max_len, tuple(disabled))
    before, after, change = st.columns([2, 2, 1])
    before.markdown(f"**Original translation** ({results.decoding_label(beam_size)})")
    before.code(original.text, language=None, wrap_lines=True)
    after.markdown(f"**With {len(disabled)} head{'s' if len(disabled) > 1 else ''} off**")
    after.code(ablated.text, language=None, wrap_lines=True)
    change.metric(
        "log P(original translation)",
        f"{original.log_prob:.3f} → {forced.log_prob:.3f}",
        delta=f"{forced.log_prob - original.log_prob:+.3f}",
        help="With every head on → under the changed model; the change below.",
    )
    attention_that_moved(original, forced, disabled)


def attention_that_moved(original: Translation, forced: Translation, disabled: list[tuple[str, int, int]]) -> None:
    """How far each head's attention moved on the original translation, and one head's change."""
    st.subheader("The attention that moved")
    st.caption(
        "How far each head's attention moved on the original translation (total variation, averaged over "
        "queries); the heads switched off are outlined. Click a head to see its change below."
    )
    shift = {kind: moved.numpy() for kind, moved in attention_shift(original.attention, forced.attention).items()}
    present.plotly_chart(
        head_grid(shift, value_name="moved", zrange=(0, 1), hint="click to see its change", marked=disabled),
        key="attention_moved",
        filename="attention-moved",
        on_select=select_moved_head,
    )
    options = [(kind, layer, head) for kind in shift for layer, head in np.ndindex(shift[kind].shape)]
    most_moved = max(options, key=lambda h: shift[h[0]][h[1], h[2]])
    url.keep_valid("moved_head", options, most_moved)
    kind, layer, head = st.selectbox(
        "Head",
        options,
        key=url.kept("moved_head"),
        format_func=lambda h: f"{KIND_TITLES[h[0]]}, layer {h[1] + 1}, head {h[2] + 1}",
    )
    axes = translation_axes(kind, original)
    present.plotly_chart(
        attention_change_heatmap(
            forced.attention[kind][layer, head].numpy() - original.attention[kind][layer, head].numpy(),
            axes.queries,
            axes.keys,
            f"{KIND_TITLES[kind]}, layer {layer + 1}, head {head + 1}: switched off − original",
            **axes.options,
        ),
        key="attention_change",
        filename=f"attention-change-{kind}-layer{layer + 1}-head{head + 1}",
    )
    if convention := row_convention(kind):
        st.caption(convention)


def computed_importance(checkpoint: checkpoints.Checkpoint, pairs: list[tuple[str, str]], path) -> dict:
    """importance_report with a progress bar, cached at path and read back as the tab draws it."""
    bar = st.progress(0.0, text="Head importance…")
    report = importance_report(
        checkpoint.translator, pairs, progress=lambda done, what: bar.progress(done, text=f"Head importance: {what}…")
    )
    bar.empty()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, report)
    return read_importance_report(path, checkpoint.translator.config)


def importance_tab(checkpoint: checkpoints.Checkpoint, translation: Translation | None) -> None:
    st.markdown(
        "**Head importance** (Michel et al., 2019): the expected absolute gradient of the loss with respect "
        "to a gate on each head's output, over dev pairs, normalised within each layer (as in the paper). Then heads are "
        "switched off, least important first, and BLEU is measured on the same pairs: many heads can go "
        "before the translation suffers. Click a cell to open that head on the Translate page."
    )
    pairs = dev_pairs(checkpoint)[:IMPORTANCE_PAIRS]
    if not pairs:
        return
    result, path = saved_importance(checkpoint, pairs)
    if result is None:  # not shipped, not computed yet for this version, or a file this tab cannot use
        result = computed_importance(checkpoint, pairs, path)
    importance = result["importance"]
    clickable_head_grid(
        {kind: values.numpy() for kind, values in importance.items()},
        key="importance",
        filename="head-importance",
        title=f"Head importance on {result.get('pairs', len(pairs))} dev pairs",
        value_name="importance",
    )
    ranking_column, curve_column = st.columns([2, 3])
    with ranking_column:
        st.markdown("**Ranking, most important first**")
        order = heads_by_importance(importance)[::-1]
        st.dataframe(importance_ranking(order, importance), hide_index=True, height=340)
    with curve_column:
        present.plotly_chart(pruning_figure(result["curve"]), key="pruning", filename="pruning-curve")
    if path.name == IMPORTANCE_FILE:
        st.caption("Computed when the checkpoint was exported, and shipped with it.")
    else:
        st.caption(f"Computed once per checkpoint version and kept in {path}.")
