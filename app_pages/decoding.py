"""Decoding, step by step: a slider over the steps of one translation; at each step the prefix so
far, the most probable next tokens and that step's encoder-decoder attention in every layer and
head; with a beam, the beam tree and the chosen path; and a forced prefix, fed to the decoder as
if the model had produced it (teacher forcing made visible). Text, prefix and step live in the URL."""

import streamlit as st

import app_support
from figures import beam_tree, next_token_bars, step_attention
from transformer import Translation
from transformer.decoding import BeamNode, best_path

MAX_PREFIX_CHARS = 500


def restore_prefix_from_url() -> None:
    prefix = app_support.url_param("prefix")
    if prefix is not None:
        st.session_state["prefix"] = prefix[:MAX_PREFIX_CHARS]


def choose_step(n_steps: int) -> int:
    """The step shown, 0-based: a slider over the steps (from the URL once)."""

    def slider_value(step: str) -> int | None:  # the slider counts from 1
        index = app_support.parse_number(step, n_steps)
        return None if index is None else index + 1

    app_support.restore_param(
        "step", "step", slider_value, f"The link's step is not between 1 and {n_steps}; showing step 1."
    )
    app_support.keep_valid("step", list(range(1, n_steps + 1)), 1)
    if n_steps == 1:  # a slider needs two values
        return 0
    return (
        st.slider("Step", 1, n_steps, key="step", help="Each step feeds the tokens so far and predicts one more.") - 1
    )


def show_step(translation: Translation, step: int, n_forced: int) -> None:
    forced = step < n_forced
    prefix = translation.target_tokens[: step + 1]
    st.markdown(f"**Step {step + 1} of {len(translation.output_tokens)}: the decoder's input so far**")
    st.code(" ".join(prefix), language=None, wrap_lines=True)
    if n_forced:
        st.caption(f"The first {n_forced} tokens after `<s>` are forced by the prefix; the model continues after them.")
    bars_column, attention_column = st.columns([2, 3])
    with bars_column:
        app_support.plotly_chart(
            next_token_bars(
                translation.alternatives[step], translation.output_tokens[step], translation.token_probs[step], forced
            ),
            key="next_tokens",
            filename=f"next-token-step-{step + 1}",
        )
        if forced:
            st.caption("Forced: the model was not asked, the bars show what it would have preferred.")
    with attention_column:
        app_support.plotly_chart(
            step_attention(
                translation.attention["cross"][:, :, step].numpy(),
                translation.source_tokens,
                title=f"Step {step + 1}: encoder–decoder attention, every layer and head",
            ),
            key="step_attention",
            filename=f"cross-attention-step-{step + 1}",
        )


def show_beam(checkpoint: app_support.Checkpoint, trace: list[list[BeamNode]], forced: list[int], step: int) -> None:
    beam_size, _ = app_support.decoding_settings(checkpoint)
    st.header("Beam tree")
    st.markdown(
        f"Beam size {beam_size}: at each step every kept hypothesis is extended by every token, the "
        f"{2 * beam_size} best extensions are scored (log-probability); the best {beam_size} live on (blue), "
        "those ending in `</s>` are finished (green), the rest pruned (grey). The finished hypothesis with "
        "the best length-normalised score is the translation: its path is red."
    )
    tokens = checkpoint.translator.tokenizer.tokens
    app_support.plotly_chart(
        beam_tree(
            trace,
            [tokens([node.token for node in nodes]) for nodes in trace],
            best_path(trace),
            root=" ".join(tokens([checkpoint.translator.config.bos_id, *forced])),
            current_step=step,
        ),
        key="beam_tree",
        filename="beam-tree",
    )


def main() -> None:
    st.title("Decoding, step by step")
    checkpoint = app_support.checkpoint_for_page()
    if checkpoint is None:
        return
    restore_prefix_from_url()
    text_column, prefix_column = st.columns(2)
    with text_column:
        text = app_support.sentence_input(checkpoint)
    with prefix_column:
        prefix = st.text_input(
            f"Force a prefix ({checkpoint.translator.info.get('target_language', 'target')})",
            key="prefix",
            max_chars=MAX_PREFIX_CHARS,
            placeholder="the beginning of the translation",
            help="These tokens are fed to the decoder as if the model had produced them; it continues from there.",
        )
    if not text.strip():
        st.info("Type a sentence to decode it step by step.")
        app_support.set_url(text=text, prefix=prefix or None)
        return
    try:
        translation, trace = app_support.decode(checkpoint, text, prefix if prefix.strip() else None)
    except ValueError as error:  # a prefix holding <s>, </s> or <pad>
        st.error(f"Cannot force this prefix: {error}.")
        app_support.set_url(text=text, prefix=prefix)
        return
    forced = checkpoint.translator.tokenizer.encode(prefix)
    beam_size, _ = app_support.decoding_settings(checkpoint)
    if translation.output_ids[: len(forced)] != forced:
        st.warning(
            "The prefix does not fit in the output limit: shorten it or raise “Max output tokens” in the sidebar."
        )
    st.markdown("**Translation**")
    st.code(translation.text, language=None, wrap_lines=True)
    st.caption(f"{len(translation.output_tokens)} tokens, {app_support.decoding_label(beam_size)}.")
    n_steps = len(translation.output_tokens)
    if not n_steps:
        app_support.set_url(text=text, prefix=prefix or None)
        return
    step = choose_step(n_steps)
    show_step(translation, step, min(len(forced), n_steps))
    if trace:
        show_beam(checkpoint, trace, forced, step)
    else:
        st.caption("Greedy decoding keeps one hypothesis: pick a beam size above 1 in the sidebar to see a beam tree.")
    app_support.set_url(text=text, prefix=prefix or None, step=step + 1)


main()
