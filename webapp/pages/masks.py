"""Masks (§3.2.3): a small batch of sentences padded to one length, the padding and look-ahead
masks that keep attention off the padding and off the future, and one head's attention computed
step by step (Eq. 1), so that each mask's effect is visible. The batch, the typed decoder
inputs, the sentence and the kind, layer and head shown live in the URL."""

import streamlit as st

from figures import (
    KIND_TITLES,
    attention_step_figures,
    head_label,
    mask_heatmap,
    padded_ids,
    row_convention,
    shift_markdown,
    token_axes,
    written_tokens,
)
from transformer.analysis import attention_steps
from transformer.data import collate
from transformer.masks import decoder_mask, look_ahead_mask, padding_mask
from transformer.tokenizer import EOS, PAD
from webapp.state import checkpoints, present, results, url
from webapp.widgets import pickers

MAX_SENTENCES = 6  # enough to show padding; the grids stay legible
BATCH_EXAMPLES = {"symbols": "a b c d e f g h\nx y z\n1 2 3 4 5"}  # source_language -> example batch
DEFAULT_BATCH = "Two dogs are playing in the snow.\nA man sleeps.\nThe children are singing a song together."
DEFAULT_KIND = "decoder"  # the only kind with both masks
EQUATION = (
    r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d_k}} + M\right)V,"
    r"\qquad M_{ij} = \begin{cases} 0 & \text{if query } i \text{ may attend to key } j \\"
    r" -\infty & \text{otherwise} \end{cases}"
)


def restore_from_url() -> None:
    for key in ("batch", "targets"):
        url.restore_text(key)


def mirror_url() -> None:
    """Numbers in the URL count from 1, as on screen."""
    state = st.session_state
    url.set_url(
        batch=state["batch"],
        targets=state.get("targets") or None,
        sentence=url.url_value(state.get("sentence")),
        kind=state.get("steps_kind"),
        layer=url.url_value(state.get("steps_layer")),
        head=url.url_value(state.get("steps_head")),
    )


def read_batch(checkpoint: checkpoints.Checkpoint) -> list[str]:
    """The sentences typed, one a line (blank lines skipped), at most MAX_SENTENCES."""
    st.session_state.setdefault(
        "batch", BATCH_EXAMPLES.get(checkpoint.translator.info.get("source_language"), DEFAULT_BATCH)
    )
    sources_column, targets_column = st.columns(2)
    batch = sources_column.text_area(
        "Source sentences, one a line", key=url.kept("batch"), height=120, max_chars=url.MAX_TEXT_CHARS
    )
    targets_column.text_area(
        "Decoder inputs, one a line (optional)",
        key=url.kept("targets"),
        height=120,
        max_chars=url.MAX_TEXT_CHARS,
        help="Line i is fed to the decoder for sentence i (after `<s>`); an empty or missing line feeds the "
        "model's own translation, as during decoding.",
    )
    sentences = [line for line in batch.splitlines() if line.strip()]
    if len(sentences) > MAX_SENTENCES:
        st.warning(f"Only the first {MAX_SENTENCES} sentences are used.")
    return sentences[:MAX_SENTENCES]


def decoder_inputs(checkpoint: checkpoints.Checkpoint, sentences: list[str]) -> list[tuple[list[int], list[int]]]:
    """(source ids + EOS, decoder input <s> y1 …) per sentence: the typed target, else the model's
    own translation (cached with the sidebar's decoding settings) fed back as during decoding."""
    translator = checkpoint.translator
    config, tokenizer = translator.config, translator.tokenizer
    targets = st.session_state.get("targets", "").splitlines()
    pairs = []
    for index, sentence in enumerate(sentences):
        source, truncated = translator.encode_source(sentence)
        if truncated:
            st.warning(f"Sentence {index + 1} is longer than this model's {translator.max_source_tokens} tokens: cut.")
        typed = targets[index].strip() if index < len(targets) else ""
        if typed:
            target = [config.bos_id, *tokenizer.encode(typed)][: config.max_len]
        else:
            translation, _ = results.translate(checkpoint, sentence)
            # The decoder's inputs are <s> then every output token but the last (Translation.target_tokens).
            target = [config.bos_id, *translation.output_ids[:-1]]
        pairs.append((source, target))
    return pairs


def sentence_axes(kind: str, source_tokens: list[str], inputs: list[str]):
    """The axes of `kind` for one padded sentence: each decoder position writes what it would be
    trained to write, the next input, and </s> after the last (figures.rows)."""
    return token_axes(kind, source_tokens, inputs, written_tokens(inputs, EOS, PAD))


def show_shift(inputs: list[str]) -> None:
    """The shift once, with the sentence's own tokens: what each decoder position reads and writes."""
    real = [token for token in inputs if token != PAD]
    st.markdown(
        "**The shift.** The decoder reads the target one step behind: position i reads token i of its input "
        "and writes token i + 1. The decoder's rows below are named by what they write."
    )
    st.markdown(shift_markdown(real, written_tokens(real, EOS, PAD)))


def show_masks(src, tgt, source_tokens, target_tokens, pad_id: int, sentence: int) -> None:
    st.header("The masks")
    st.markdown(
        "True (blue) where a query may attend to a key. The **padding mask** hides the `<pad>` keys in "
        "every attention; the **look-ahead mask** hides the future from the decoder, so that training on "
        "a whole sentence at once cannot peek at the word it must predict; the **decoder mask** is both."
    )
    tokens_s, tokens_t = source_tokens[sentence], target_tokens[sentence]
    show_shift(tokens_t)
    decoder = sentence_axes("decoder", tokens_s, tokens_t)
    masks = (
        ("padding", padding_mask(src, pad_id)[sentence, 0], sentence_axes("encoder", tokens_s, tokens_t)),
        ("look_ahead", look_ahead_mask(tgt.size(1)), decoder),
        ("decoder", decoder_mask(tgt, pad_id)[sentence, 0], decoder),
    )
    titles = {"padding": "Source padding mask", "look_ahead": "Look-ahead mask", "decoder": "Decoder mask: both"}
    for column, (name, mask, axes) in zip(st.columns(3), masks):
        with column:
            present.plotly_chart(
                mask_heatmap(mask, axes.queries, axes.keys, titles[name], **axes.options),
                key=f"mask_{name}",
                filename=f"mask-{name}-{sentence + 1}",
                columns=3,
            )
    st.caption(
        "The source padding mask is one row, (batch, 1, 1, keys), broadcast over the queries; the "
        "encoder–decoder attention uses it too, with the decoder's tokens as queries. The masks hide "
        "`<pad>` *keys* only: the `<pad>` *query* rows are computed like the others (a batch is one "
        "rectangle) and thrown away — no loss is taken at a padded position and no real token reads them. "
        f"{row_convention('decoder')}"
    )


def attention_by_steps(checkpoint: checkpoints.Checkpoint, src, tgt, source_tokens, target_tokens, sentence: int):
    st.header("One head, step by step")
    config = checkpoint.translator.config
    st.latex(EQUATION)
    pickers.restore_view(config, "steps_", DEFAULT_KIND)
    kind = pickers.kind_picker("steps_kind", DEFAULT_KIND)
    layer_column, head_column, _ = st.columns([1, 1, 2])
    layer = pickers.layer_picker("Layer", config.layers(kind), "steps_layer", 0, layer_column)
    head = pickers.head_picker(config.n_heads, "steps_head", average=False, container=head_column)

    rows = slice(sentence, sentence + 1)  # the sentence with its padding, as in the batch
    # The batch stays on the CPU for the figures; the model may be on a GPU.
    device = checkpoint.translator.device
    steps = attention_steps(checkpoint.translator.model, src[rows].to(device), tgt[rows].to(device), kind, layer, head)
    steps = {name: value.cpu() for name, value in steps.items()}
    axes = sentence_axes(kind, source_tokens[sentence], target_tokens[sentence])
    figures = attention_step_figures(steps, axes.queries, axes.keys, **axes.options)
    st.caption(
        f"Sentence {sentence + 1}, {KIND_TITLES[kind].lower()}, layer {layer + 1}, {head_label(head)}: "
        f"d_k = {steps['queries'].shape[-1]}. The last map is the one the model itself computes. "
        f"{row_convention(kind)}"
    )
    for row in range(0, len(figures), 2):
        for column, (name, figure) in zip(st.columns(2), list(figures.items())[row : row + 2]):
            with column:
                present.plotly_chart(
                    figure, key=f"step_{name}", filename=f"{kind}-layer{layer + 1}-head{head + 1}-{name}", columns=2
                )


def main() -> None:
    checkpoint = checkpoints.checkpoint_for_page("Masks")
    if checkpoint is None:
        return
    restore_from_url()
    st.markdown(
        "Sentences in a batch differ in length, so the shorter ones are padded with `<pad>` (id "
        f"{checkpoint.translator.config.pad_id}) to one rectangle of ids. Masks keep attention from "
        "looking at the padding, and the decoder from looking ahead (§3.2.3)."
    )
    sentences = read_batch(checkpoint)
    if not sentences:
        st.info("Type at least one sentence.")
        mirror_url()
        return
    pad_id = checkpoint.translator.config.pad_id
    pairs = decoder_inputs(checkpoint, sentences)
    src, tgt = collate(pairs, list(range(len(pairs))), pad_id, "cpu")
    tokens = checkpoint.translator.tokenizer.tokens
    source_tokens, target_tokens = [tokens(row) for row in src.tolist()], [tokens(row) for row in tgt.tolist()]

    st.header("The padded batch")
    batches = (
        (src, source_tokens, "Source ids, each ending in EOS", "source_ids", "source-ids"),
        (tgt, target_tokens, "Decoder input ids: BOS, then the target", "target_ids", "decoder-input-ids"),
    )
    for column, (ids, tokens_of, title, key, filename) in zip(st.columns(2), batches):
        with column:
            present.plotly_chart(padded_ids(ids, tokens_of, pad_id, title), key=key, filename=filename, columns=2)
    # The shortest source has the most padding: the default shows the masks at work.
    shortest = min(range(len(pairs)), key=lambda i: len(pairs[i][0]))
    url.restore_param(
        "sentence",
        "sentence",
        lambda number: url.parse_number(number, len(pairs)),
        f"The link's sentence is not between 1 and {len(pairs)}; showing the shortest.",
    )
    url.keep_valid("sentence", list(range(len(pairs))), shortest)
    sentence = st.selectbox(
        "Sentence", range(len(pairs)), key=url.kept("sentence"), format_func=lambda i: f"{i + 1}: {sentences[i]}"
    )
    show_masks(src, tgt, source_tokens, target_tokens, pad_id, sentence)
    attention_by_steps(checkpoint, src, tgt, source_tokens, target_tokens, sentence)
    mirror_url()


main()
