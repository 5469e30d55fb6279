"""Compare: one English sentence through two or three checkpoints side by side, each with its
translation, its encoder–decoder attention in the chosen layer and head, and the alignment links
that show how each language orders the words. The view lives in the URL:
/compare?ckpts=en-de,en-fr&text=…&layer=sharpest&head=avg."""

import streamlit as st

from figures import alignment_links, axes_heatmap, head_label, row_convention, translation_axes
from transformer import CheckpointError
from transformer.guardrails import language_warning
from webapp.pages import comparison
from webapp.pages.comparison import MAX_COMPARED, SHARPEST
from webapp.state import checkpoints, present, results, url
from webapp.widgets import gallery
from webapp.widgets.pickers import head_picker

MAP_TOP = 650  # pixels above the maps on a 1920 x 1080 projector, under the pickers and translations (measured: 640)


def explain_missing(comparable: list[str]) -> None:
    """What the page needs when fewer than two checkpoints translate English into another language."""
    if not comparable:
        st.info(
            "No checkpoint here translates English into another language, so there is nothing to compare. "
            "Train one (`python -m transformer train configs/en-de.toml`) into `checkpoints/`."
        )
    else:
        st.info(
            f"Only one checkpoint translates English into another language: {comparable[0]}. A comparison needs "
            "two: train en-fr or en-es (`configs/en-fr.toml`, `configs/en-es.toml`) into `checkpoints/` and they "
            "appear here. Below, what this one does alone."
        )


def pickers(comparable: list[str]) -> list[checkpoints.Checkpoint]:
    """The checkpoints to compare (restored from the link), loaded; those that do not load are reported."""
    comparison.restore_checkpoints(comparable)
    default = comparison.default_choice(comparable, st.session_state.get("ckpt"))
    url.keep_valid_choices("compare_ckpts", comparable, default)
    names = st.multiselect(
        "Checkpoints",
        comparable,
        key=url.kept("compare_ckpts"),
        max_selections=MAX_COMPARED,
        format_func=checkpoints.checkpoint_label,
        help=f"Up to {MAX_COMPARED} of the checkpoints that translate from English, side by side.",
    )
    loaded = []
    for name in names:
        try:
            loaded.append(checkpoints.load_named(name))
        except CheckpointError as error:
            st.error(f"Cannot load {name}: {error}")
    return loaded


def view_pickers(models: list[checkpoints.Checkpoint], layer_column, head_column) -> tuple[int | str, int | str]:
    """The layer (SHARPEST or 0-based) and head (AVERAGE or 0-based) every column shows."""
    n_layers = min(checkpoint.translator.config.layers("cross") for checkpoint in models)
    n_heads = min(checkpoint.translator.config.n_heads for checkpoint in models)
    comparison.restore_view(n_layers, n_heads)
    layers = [SHARPEST, *range(n_layers)]
    url.keep_valid("compare_layer", layers, SHARPEST)
    layer = layer_column.selectbox(
        "Layer",
        layers,
        key=url.kept("compare_layer"),
        format_func=lambda layer: "Sharpest (each model's)" if layer == SHARPEST else f"Layer {layer + 1}",
        help="Sharpest: the layer whose encoder–decoder attention is the sharpest alignment, for each model "
        "(as the Translate page opens).",
    )
    head = head_picker(n_heads, "compare_head", container=head_column)
    return layer, head


def column(index: int, n_columns: int, result: comparison.Compared, sharpest: bool, head: str) -> None:
    """One checkpoint's translation, map and links, in one of n_columns side by side; head: the
    head as the URL spells it (file names)."""
    checkpoint, translation = result.checkpoint, result.translation
    st.subheader(checkpoints.checkpoint_label(checkpoint.name))
    if translation.truncated:
        st.warning(f"Only the first {checkpoint.translator.max_source_tokens} tokens were translated.")
    st.code(translation.text, language=None, wrap_lines=True)
    if not present.presenting():  # on a projector the map takes its room, to end above the fold
        beam_size, _ = results.decoding_settings(checkpoint)
        st.caption(
            f"{len(translation.output_tokens)} tokens, {results.decoding_label(beam_size)}, "
            f"{result.seconds * 1000:.0f} ms."
        )
    view = f"Layer {result.layer + 1}{' (sharpest)' if sharpest else ''}, {head_label(result.head)}"
    name = f"{checkpoint.name}-cross-layer{result.layer + 1}-head-{head}"
    axes = translation_axes("cross", translation)
    present.plotly_chart(
        axes_heatmap(result.weights, axes, title=view),
        key=f"compare_map_{index}",
        filename=name,
        columns=n_columns,
        top=MAP_TOP,
    )
    present.plotly_chart(
        alignment_links(result.aligned, result.words, translation.source_tokens, result.links),
        key=f"compare_links_{index}",
        filename=f"alignment-links-{name}",
    )


def main() -> None:
    st.title("Compare")
    st.markdown(
        "One English sentence through several models at once. For each: its translation, its encoder–decoder "
        "attention (rows: the target tokens, columns: the English tokens) and, below, each target word joined "
        "to the English token it attends to most. Parallel lines keep the English order; **crossing lines** are "
        "where the language reorders — an adjective after its noun, a verb sent to the end — and two words "
        "joined to one are a compound or an elision."
    )
    comparable = checkpoints.english_checkpoints()
    if len(comparable) < 2:
        explain_missing(comparable)
    if not comparable:
        return
    pick_column, layer_column, head_column = st.columns([3, 1, 1], vertical_alignment="bottom")
    with pick_column:
        models = pickers(comparable)
    if not models:
        st.info("Pick two or three checkpoints to compare.")
        url.set_url(ckpts=None)
        return
    layer, head = view_pickers(models, layer_column, head_column)
    # On a projector the examples stand beside the sentence: the maps end above the fold.
    gallery_column, text_column = present.side_by_side(2)
    with gallery_column:
        gallery.gallery(checkpoints.ENGLISH, key="compare_example", choices=gallery.COMPARE)
    with text_column:
        text = url.sentence_input(models[0])
    names = ",".join(checkpoint.name for checkpoint in models)
    view = dict(ckpts=names, layer=url.url_value(layer), head=url.url_value(head))
    if not text.strip():
        st.info("Type an English sentence above to compare its translations.")
        url.set_url(text=text, **view)
        return
    if warning := language_warning(text, checkpoints.ENGLISH):
        st.warning(warning, icon=":material/translate:")
    for index, (place, checkpoint) in enumerate(zip(st.columns(len(models)), models)):
        with place:
            compared = comparison.compare(checkpoint, text, layer, head)
            column(index, len(models), compared, layer == SHARPEST, view["head"])
    # Under the maps, not above them: on a projector they end above the fold.
    st.caption(f"{row_convention('cross')} A map's row and the link under it name the same word.")
    url.set_url(text=text, **view)


main()
