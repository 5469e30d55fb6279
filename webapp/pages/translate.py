"""Translate: type a sentence, read its translation token by token and explore every attention
map of the model that produced it. The view (text, checkpoint, kind, layer, head) lives in the
URL, so a bookmark restores it."""

import streamlit as st

import figures
from transformer import Translation
from transformer.guardrails import language_warning, unknown_parts
from webapp import registry
from webapp.state import checkpoints, defaults, present, results, url
from webapp.widgets import gallery, pickers, sidebar

NO_HEADS = "none"  # the URL value of a head view with every head unselected
# The cross-attention shows the alignment; its layer and the head view's one head are the
# checkpoint's sharpest (defaults.sharpest_cross_attention).
DEFAULT_KIND = "cross"


def head_view_param(heads: list[int], default: list[int]) -> str | None:
    """The head view's heads as the URL spells them: "1,3" (from 1), "none", or None for the default."""
    heads = sorted(heads)
    if heads == sorted(default):
        return None
    return ",".join(url.url_value(h) for h in heads) or NO_HEADS


def parse_head_view_param(value: str, n_heads: int) -> list[int] | None:
    if value == NO_HEADS:
        return []
    heads = [url.parse_number(number, n_heads) for number in value.split(",")]
    return None if None in heads else sorted(set(heads))


def restore_from_url(checkpoint: checkpoints.Checkpoint, default_layer: int) -> None:
    """Seed the widgets from the link the session was opened with; bad values fall back to the
    defaults with a notice."""
    url.restore_text()
    config = checkpoint.translator.config
    pickers.restore_view(config, "", DEFAULT_KIND, default_layer, average=True)
    url.restore_param(
        "heads",
        "head_view_heads",
        lambda value: parse_head_view_param(value, config.n_heads),
        f"The link's head view heads are not numbers between 1 and {config.n_heads} (or {NO_HEADS}); showing one.",
    )


def input_guardrails(checkpoint: checkpoints.Checkpoint, text: str) -> None:
    """Under the input: the parts the model cannot read (they became <unk>), and a warning when
    the text is probably not in the model's source language (transformer.guardrails)."""
    if unknown := unknown_parts(text, checkpoint.translator.tokenizer):
        st.warning(
            f"Unknown to this model, read as `<unk>`: {', '.join(f'“{part}”' for part in unknown)}.",
            icon=":material/help:",
        )
    if warning := language_warning(text, checkpoint.translator.info.get("source_language")):
        st.warning(warning, icon=":material/translate:")


def enlarge_clicked_map(n_layers: int, n_heads: int) -> None:
    points = st.session_state["model_view"].selection.points
    target = figures.grid_target_index(points[0]["curve_number"], n_layers, n_heads) if points else None
    if target is not None:
        st.session_state["layer"], st.session_state["head"] = target


def show_translation(checkpoint: checkpoints.Checkpoint, text: str) -> Translation:
    translation, seconds = results.translate(checkpoint, text)
    limit = checkpoint.translator.max_source_tokens
    if translation.truncated:
        st.warning(
            f"The text is longer than this model's limit of {limit} tokens: only the first {limit} were translated."
        )
    st.markdown("**Translation**")
    st.code(translation.text, language=None, wrap_lines=True)
    beam_size, _ = results.decoding_settings(checkpoint)
    st.caption(
        f"{len(translation.output_tokens)} tokens, {results.decoding_label(beam_size)}, "
        f"translated in {seconds * 1000:.0f} ms. Below, each token coloured by the probability the "
        "model gave it: blue sure, red unsure (hover for the value)."
    )
    present.plotly_chart(
        figures.token_probabilities(translation.output_tokens, translation.token_probs),
        key="token_probs",
        filename="token-probabilities",
    )
    return translation


def enlarged_map(weights, axes: figures.TokenAxes, layer: int, head: int | str) -> None:
    """The chosen head's map (or the average), its CSV export and the way inside its layer."""
    head_index, kind = pickers.head_index(head), axes.kind
    present.plotly_chart(
        figures.axes_heatmap(
            figures.head_map(weights, layer, head_index),
            axes,
            title=f"{figures.KIND_TITLES[kind]}, layer {layer + 1}, {figures.head_label(head_index)}",
        ),
        key="attention_map",
        filename=f"{kind}-layer{layer + 1}-head-{url.url_value(head)}",
        columns=2,
    )
    if convention := figures.row_convention(kind):
        st.caption(convention)
    st.download_button(
        f"Download every {figures.KIND_TITLES[kind].lower()} weight (CSV)",
        # Built only when clicked: a rerun never pays for it.
        data=lambda: figures.attention_table(kind, weights, axes.queries, axes.keys, axes.reads).to_csv(index=False),
        file_name=f"attention-{kind}.csv",
        mime="text/csv",
        on_click="ignore",
        key="download_csv",
    )
    if st.button("Open this head inside its layer", key="open_inside", help="The average opens head 1."):
        st.session_state.update(inside_kind=kind, inside_layer=layer, inside_head=head_index or 0)
        st.switch_page(registry.script("inside"))


def heads_shown(n_heads: int, head: int | str, heads: list[int]) -> str:
    """The caption that says which heads the map and the head view show: they may differ."""
    shown = ", ".join(str(h + 1) for h in sorted(heads))
    view = f"head {shown}" if len(heads) == 1 else f"heads {shown}"
    if head == pickers.AVERAGE:
        return f"The map averages all {n_heads} heads of its layer; the head view shows {view} only."
    return f"The map shows head {head + 1}; the head view shows {view}."


def head_view(weights, axes: figures.TokenAxes, name: str, default_heads: list[int], title: str) -> list[int]:
    """BertViz's head view of one layer's weights (H, queries, keys) for the heads picked above it;
    returns those heads."""
    n_heads = weights.shape[0]
    url.keep_valid_choices("head_view_heads", range(n_heads), default_heads)
    heads = st.pills(
        "Head view: heads",
        range(n_heads),
        selection_mode="multi",
        format_func=lambda h: str(h + 1),
        key=url.kept("head_view_heads"),
    )
    if not heads:
        st.info("Pick at least one head for the head view.")
        return []
    font_size = present.PRESENT_FONT_SIZE if present.presenting() else figures.HEAD_VIEW_FONT_SIZE
    page = figures.head_view_html(
        weights,
        sidebar.shown_tokens(axes.queries),
        sidebar.shown_tokens(axes.keys),
        sorted(heads),
        title=title,
        font_size=font_size,
        filename=f"head-view-{name}",
        reads=None if axes.reads is None else sidebar.shown_tokens(axes.reads),
        column_names=axes.short_titles,
    )
    with st.container(key="head_view"):
        st.iframe(page, height=figures.head_view_height(len(axes.queries), len(axes.keys), font_size), alt="Head view")
    st.caption(
        "Hover a token to see only its lines; click it to pin them, click again to unpin; click a head in "
        "the legend to hide its lines. Download PNG below the view."
    )
    return heads


def attention_explorer(
    checkpoint: checkpoints.Checkpoint,
    translation: Translation,
    default_layer: int,
    default_heads: list[int],
    beside: tuple | None = None,
) -> tuple[str, int, int | str]:
    """Kind, layer and head pickers, the enlarged map, the head view, the CSV export and the model
    view; returns the (kind, layer, head) shown. beside = (controls, figure) columns: the pickers
    and the head view go in the first, the map in the second (a projector's layout)."""
    n_heads = checkpoint.translator.config.n_heads
    if beside is None:
        st.header("Attention")
        # The kinds' long names need the page's width (in a column the first ones scroll out of sight).
        kind_column, (layer_column, head_column, _) = st.container(), st.columns([1, 1, 2])
        map_column, head_view_column = st.columns(2)
    else:
        controls, map_column = beside
        kind_column = controls.container()
        layer_column, head_column = controls.columns(2)
        head_view_column = controls.container()
    kind = pickers.kind_picker("kind", DEFAULT_KIND, kind_column)
    n_layers = checkpoint.translator.config.layers(kind)
    layer = pickers.layer_picker("Layer", n_layers, "layer", default_layer, layer_column)
    head = pickers.head_picker(n_heads, "head", container=head_column)

    weights = translation.attention[kind].numpy()
    axes = figures.translation_axes(kind, translation)
    with map_column:
        enlarged_map(weights, axes, layer, head)
    with head_view_column:
        heads = head_view(weights[layer], axes, f"{kind}-layer{layer + 1}", default_heads, title=f"Layer {layer + 1}")
    if heads:
        map_column.caption(heads_shown(n_heads, head, heads))

    st.subheader("Model view: every layer × head")
    caption = "Click a map to enlarge it above."
    if kind != "encoder":  # the small maps have no labels: their rows are in the enlarged map's order
        caption += " Each map's rows, top to bottom, are the positions writing the output tokens in order."
    st.caption(caption)
    present.plotly_chart(
        figures.attention_grid(weights, selected=(layer, pickers.head_index(head))),
        key="model_view",
        filename=f"model-view-{kind}",
        on_select=lambda: enlarge_clicked_map(n_layers, n_heads),
    )
    return kind, layer, head


def main() -> None:
    checkpoint = checkpoints.checkpoint_for_page("Translate")
    if checkpoint is None:
        return
    default_layer, default_head = defaults.sharpest_cross_attention(checkpoint)
    restore_from_url(checkpoint, default_layer)
    st.session_state.setdefault("text", checkpoint.example)
    info = checkpoint.translator.info
    gallery.gallery(info.get("source_language"), key="translate_example")
    # On a projector the text, its translation and the pickers stand left of the attention map,
    # which starts level with the text: the whole map above the fold.
    beside = st.columns(2) if present.presenting() else None
    input_column = beside[0] if beside else st.container()
    text = input_column.text_area(
        f"Text ({info.get('source_language', 'source')} → {info.get('target_language', 'target')})",
        key=url.kept("text"),
        max_chars=url.MAX_TEXT_CHARS,
        height=90,
        help=f"Up to {checkpoint.translator.max_source_tokens} tokens are translated; Ctrl+Enter applies.",
    )
    if not text.strip():
        st.info("Type a sentence above to see its translation and attention maps.")
        url.set_url(text=text)
        return
    with input_column:
        input_guardrails(checkpoint, text)
        translation = show_translation(checkpoint, text)
    kind, layer, head = attention_explorer(checkpoint, translation, default_layer, [default_head], beside)
    url.set_url(
        text=text,
        kind=kind,
        layer=url.url_value(layer),
        head=url.url_value(head),
        heads=head_view_param(st.session_state["head_view_heads"], [default_head]),
    )


main()
