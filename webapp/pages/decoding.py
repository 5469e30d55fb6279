"""Decoding, step by step: a slider over the steps of one translation (with play/pause and
previous/next); at each step the prefix so far, the most probable next tokens and that step's
encoder-decoder attention in every layer and head; with a beam, the beam tree, the chosen path and
the finished hypotheses; a forced prefix, fed to the decoder as if the model had produced it
(teacher forcing made visible); and sampling (temperature, top-k, top-p, seed) beside greedy and
beam search. Text, prefix, mode, sampling settings and step live in the URL."""

import contextlib

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from figures import (
    beam_tree,
    finished_hypotheses,
    markdown_token,
    next_token_bars,
    query_hover,
    sampling_bars,
    step_attention,
)
from transformer import Translation
from transformer.decoding import BeamNode, best_path
from transformer.sampling import Sampling
from webapp.pages import sampling
from webapp.state import checkpoints, present, results, url
from webapp.widgets import gallery, sidebar

MAX_PREFIX_CHARS = 500
PLAY_SECONDS = 1.5  # between two steps while playing
SEARCH, SAMPLE = "search", "sample"  # the modes, as the URL spells them


def move_step(delta: int, n_steps: int) -> None:
    st.session_state["step"] = min(max(st.session_state["step"] + delta, 1), n_steps)


def step_buttons(n_steps: int) -> DeltaGenerator:
    """Previous, play/pause and next; returns the rest of their row (for the slider). Playing
    advances one step per run of the stepper (a fragment rerun every PLAY_SECONDS) and stops at
    the last; play at the last starts over."""
    playing = st.session_state.get("playing", False)
    if playing and st.session_state["step"] < n_steps:
        move_step(1, n_steps)
    elif playing:
        st.session_state["playing"] = False
        st.rerun()  # the whole page: the stepper stops rerunning itself
    step = st.session_state["step"]
    previous_column, play_column, next_column, rest = st.columns([1, 1, 1, 3], vertical_alignment="bottom")
    previous_column.button(
        "Previous", key="step_previous", on_click=move_step, args=(-1, n_steps), disabled=step == 1, width="stretch"
    )
    if play_column.button("Pause" if playing else "Play", key="step_play", type="primary", width="stretch"):
        st.session_state["playing"] = not playing
        if not playing and step == n_steps:
            st.session_state["step"] = 1
        st.rerun()  # the whole page: the stepper starts (or stops) rerunning itself
    next_column.button(
        "Next", key="step_next", on_click=move_step, args=(1, n_steps), disabled=step == n_steps, width="stretch"
    )
    return rest


def choose_step(n_steps: int) -> int:
    """The step shown, 0-based: a slider over the steps (from the URL once) with its buttons."""

    def slider_value(step: str) -> int | None:  # the slider counts from 1
        index = url.parse_number(step, n_steps)
        return None if index is None else index + 1

    url.restore_param("step", "step", slider_value, f"The link's step is not between 1 and {n_steps}; showing step 1.")
    url.keep_valid("step", list(range(1, n_steps + 1)), 1)
    if n_steps == 1:  # a slider needs two values
        return 0
    return (
        step_buttons(n_steps).slider(
            "Step",
            1,
            n_steps,
            key=url.kept("step"),
            help="Each step feeds the tokens so far and predicts one more.",
            # On a projector the heading under it names the step: the row stays as low as its buttons.
            label_visibility="collapsed" if present.presenting() else "visible",
        )
        - 1
    )


def show_step(translation: Translation, step: int, n_forced: int, sampled: list | None, settings: str) -> None:
    """One step: the decoder's input, the next tokens (sampled: before and after the reshaping)
    and the step's encoder-decoder attention."""
    forced = step < n_forced
    prefix = translation.target_tokens[: step + 1]
    st.markdown(f"**Step {step + 1} of {len(translation.output_tokens)}: the decoder's input so far**")
    st.code(" ".join(sidebar.shown_tokens(prefix)), language=None, wrap_lines=True)
    read, written = sidebar.shown_tokens([prefix[-1], translation.output_tokens[step]])
    if n_forced:
        st.caption(f"The first {n_forced} tokens after `<s>` are forced by the prefix; the model continues after them.")
    bars_column, attention_column = st.columns([2, 3])
    with bars_column:
        if sampled:
            figure = sampling_bars(sampled[step], translation.output_tokens[step], settings)
        else:
            figure = next_token_bars(
                translation.alternatives[step], translation.output_tokens[step], translation.token_probs[step], forced
            )
        present.plotly_chart(figure, key="next_tokens", filename=f"next-token-step-{step + 1}")
        if forced:
            st.caption("Forced: the model was not asked, the bars show what it would have preferred.")
    with attention_column:
        present.plotly_chart(
            step_attention(
                translation.attention["cross"][:, :, step].numpy(),
                translation.source_tokens,
                title=f"Step {step + 1}, the row that {query_hover(written, read)}: encoder–decoder attention, "
                "every layer and head",
            ),
            key="step_attention",
            filename=f"cross-attention-step-{step + 1}",
        )
    # Under the figures: above them it would push the next tokens below a projector's fold.
    st.caption(
        f"The shift: this step reads **{markdown_token(read)}**, the last token of its input, and writes "
        f"**{markdown_token(written)}**, the next one: the decoder's input is its output one step behind. "
        "The attention maps on the other pages name this row by the token it writes."
    )


def show_beam(checkpoint: checkpoints.Checkpoint, trace: list[list[BeamNode]], forced: list[int], step: int) -> None:
    beam_size, _ = results.decoding_settings(checkpoint)
    st.header("Beam tree")
    st.markdown(
        f"Beam size {beam_size}: at each step every kept hypothesis is extended by every token, the "
        f"{2 * beam_size} best extensions are scored (log-probability); the best {beam_size} live on (blue), "
        "those ending in `</s>` are finished (green), the rest pruned (grey). The finished hypothesis with "
        "the best length-normalised score is the translation: its path is red."
    )
    tokens = checkpoint.translator.tokenizer.tokens
    present.plotly_chart(
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
    st.subheader("Finished hypotheses")
    st.dataframe(
        finished_hypotheses(
            trace, [sidebar.shown_tokens(tokens([n.token for n in nodes])) for nodes in trace], best_path(trace)
        ),
        hide_index=True,
        key="finished_hypotheses",
        column_config={
            "log-probability": st.column_config.NumberColumn(format="%.3f"),
            "length-normalised": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    st.caption(
        f"Ranked by the log-probability divided by the length penalty ((5 + length) / 6)^α, α = "
        f"{checkpoint.translator.length_penalty:g}: without it, shorter hypotheses would always win."
    )


def choose_mode(checkpoint: checkpoints.Checkpoint) -> str:
    """Greedy or beam search (the sidebar's beam size), or sampling; from the URL once."""
    url.restore_param(
        "mode",
        "decoding_mode",
        lambda mode: mode if mode in (SEARCH, SAMPLE) else None,
        f"The link's mode is not {SEARCH} or {SAMPLE}; showing {SEARCH}.",
    )
    url.keep_valid("decoding_mode", [SEARCH, SAMPLE], SEARCH)
    beam_size, _ = results.decoding_settings(checkpoint)
    names = {SEARCH: f"{results.decoding_label(beam_size).capitalize()} (sidebar)", SAMPLE: "Sampling"}
    return st.segmented_control("Decoding", names, format_func=names.get, key=url.kept("decoding_mode"), required=True)


def stepper(
    checkpoint: checkpoints.Checkpoint,
    translation: Translation,
    trace: list[list[BeamNode]],
    forced: list[int],
    sampled: list | None,
    settings: str,
    link: dict,
) -> None:
    """The step controls and what they show, rerun on their own (a fragment, every PLAY_SECONDS
    while playing). sampled: each step's (token, model, sampling probability) when sampling,
    described by settings."""
    n_steps = len(translation.output_tokens)
    step = choose_step(n_steps)
    show_step(translation, step, min(len(forced), n_steps), sampled, settings)
    if trace:
        show_beam(checkpoint, trace, forced, step)
    elif not sampled:
        st.caption("Greedy decoding keeps one hypothesis: pick a beam size above 1 in the sidebar to see a beam tree.")
    url.set_url(**link, step=url.url_value(step))


def decode(checkpoint: checkpoints.Checkpoint, text: str, prefix: str, settings: Sampling | None):
    """(translation, beam tree, forced ids, each step's sampling bars or None): sampled with settings,
    else searched with the sidebar's beam and the prefix forced; None after an error on a bad prefix."""
    if settings is not None:
        translation, sampled = sampling.sample(checkpoint, text, settings)
        return translation, [], [], sampled
    try:
        translation, trace = results.decode(checkpoint, text, prefix if prefix.strip() else None)
    except ValueError as error:  # a prefix holding <s>, </s> or <pad>
        st.error(f"Cannot force this prefix: {error}.")
        return None
    return translation, trace, checkpoint.translator.tokenizer.encode(prefix), None


def main() -> None:
    checkpoint = checkpoints.checkpoint_for_page("Decoding, step by step")
    if checkpoint is None:
        return
    url.restore_text("prefix", MAX_PREFIX_CHARS)
    url.restore_text()  # before the gallery, which says what to look at in the sentence
    # On a projector the examples share a row with the mode, and the translation one with the
    # sentence and the prefix: the step's figures start above the fold.
    gallery_column, mode_column = present.side_by_side([2, 1])
    with gallery_column:
        gallery.gallery(checkpoint.translator.info.get("source_language"), key="decoding_example")
    with mode_column:
        mode = choose_mode(checkpoint)
    settings = sampling.controls() if mode == SAMPLE else None
    text_column, prefix_column, translation_column = (
        st.columns(3) if present.presenting() else (*st.columns(2), contextlib.nullcontext())
    )
    with text_column:
        text = url.sentence_input(checkpoint)
    with prefix_column:
        prefix = st.text_input(
            f"Force a prefix ({checkpoint.translator.info.get('target_language', 'target')})",
            key=url.kept("prefix"),
            max_chars=MAX_PREFIX_CHARS,
            placeholder="the beginning of the translation",
            disabled=mode == SAMPLE,
            help="These tokens are fed to the decoder as if the model had produced them; it continues from there "
            "(greedy and beam search).",
        )
    link = dict(text=text, prefix=prefix or None, **(sampling.url_params(settings) if settings else {}))
    if not text.strip():
        st.info("Type a sentence to decode it step by step.")
        url.set_url(**link)
        return
    decoded = decode(checkpoint, text, prefix, settings)
    if decoded is None:
        url.set_url(**link)
        return
    translation, trace, forced, sampled = decoded
    if translation.output_ids[: len(forced)] != forced:
        st.warning(
            "The prefix does not fit in the output limit: shorten it or raise “Max output tokens” in the sidebar."
        )
    with translation_column:
        st.markdown("**Translation**")
        st.code(translation.text, language=None, wrap_lines=True)
        beam_size, _ = results.decoding_settings(checkpoint)
        described = sampling.describe(settings) if settings else ""
        how = f"sampled: {described}, seed {settings.seed}" if settings else results.decoding_label(beam_size)
        st.caption(f"{len(translation.output_tokens)} tokens, {how}.")
    if not translation.output_tokens:
        url.set_url(**link)
        return
    playing = st.session_state.get("playing", False)
    url.fragment(stepper, run_every=PLAY_SECONDS if playing else None)(
        checkpoint, translation, trace, forced, sampled, described, link
    )


main()
