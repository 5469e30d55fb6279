"""Model card: the loaded checkpoint's architecture drawn from its config, its parameters per
component, hyperparameters, training curves (training_log.csv), test scores (metrics.json) and
data credits (README.md)."""

import pandas as pd
import streamlit as st

from figures import DIAGRAM_MIN_WIDTH, architecture_diagram, parameter_bars, training_curves
from transformer import CheckpointError
from transformer.analysis import parameter_counts
from transformer.checkpoint import LOG_FILE, METRICS_FILE
from webapp.state import checkpoints, present, results, url

# Pixels above the training curves on a 1920 x 1080 projector once the lecture has scrolled to them
# (measured: 140), and 20 more: the curves end that far above the fold, not 4 px.
CURVES_TOP = 160
LEARNING_RATE = r"lrate = d_{model}^{-0.5} \cdot \min\left(step^{-0.5},\ step \cdot warmup\_steps^{-1.5}\right)"
SCORE_COLUMNS = {  # metrics.json key -> column title
    "bleu": "BLEU",
    "chrf": "chrF",
    "bleu_tok_lc": "BLEU (tokenized, lowercased)",
    "exact_match": "exact match %",
    "sentences": "sentences",
    "beam_size": "beam size",
}
TRAINING_FACTS = {  # config.json's "training" key -> label
    "steps": "training steps",
    "tokens": "training tokens",
    "hours": "hours",
    "processes": "processes",
    "hardware": "hardware",
    "averaged_snapshots": "averaged snapshots",
}


def settings_table(checkpoint: checkpoints.Checkpoint) -> pd.DataFrame:
    """The model's hyperparameters, then how it was trained and how it decodes, as text."""
    translator = checkpoint.translator
    rows = [("model", name, value) for name, value in translator.config.to_dict().items()]
    training = translator.info.get("training", {})
    rows += [("training", label, training[key]) for key, label in TRAINING_FACTS.items() if key in training]
    rows += [
        ("decoding", "beam size", translator.default_beam_size),
        ("decoding", "length penalty α", translator.length_penalty),
        ("decoding", "output limit", results.output_limit_rule(translator)),
    ]
    # One column of mixed types would not convert to Arrow: every value is shown as text.
    return pd.DataFrame(
        [(group, name, as_text(value)) for group, name, value in rows], columns=["group", "setting", "value"]
    )


def as_text(value) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def show_training(checkpoint: checkpoints.Checkpoint) -> None:
    st.header("Training")
    try:
        log = checkpoints.training_log(checkpoint)
    except CheckpointError as error:
        st.error(f"The training log cannot be read: {error}")
        return
    if log is None:
        st.info(f"This checkpoint has no {LOG_FILE}.")
        return
    try:
        figure = training_curves(log)
    except ValueError as error:
        st.error(f"The training log cannot be drawn: {error}.")
        return
    st.markdown("The learning rate rises linearly during the warm-up, then decays with 1/√step (§5.3):")
    st.latex(LEARNING_RATE)
    present.plotly_chart(figure, key="training_curves", filename=f"training-{checkpoint.name}", top=CURVES_TOP)


def show_scores(checkpoint: checkpoints.Checkpoint) -> bool:
    """The scores of metrics.json as a table; whether there were any."""
    st.header("Scores")
    try:
        metrics = checkpoints.metrics(checkpoint)
    except CheckpointError as error:
        st.error(f"{METRICS_FILE} cannot be read: {error}")
        return False
    sets = {name: values for name, values in metrics.items() if isinstance(values, dict)}
    if not sets:
        st.info(f"This checkpoint has no {METRICS_FILE}.")
        return False
    table = pd.DataFrame(
        [
            {"set": name, **{title: values.get(key) for key, title in SCORE_COLUMNS.items()}}
            for name, values in sets.items()
        ]
    )
    st.dataframe(table, hide_index=True, key="scores")
    st.caption(f"From {METRICS_FILE}: BLEU and chrF by sacreBLEU on detokenized text (signatures in the file).")
    return True


def show_architecture(checkpoint: checkpoints.Checkpoint) -> None:
    """What the checkpoint is, its architecture diagram, its parameters and hyperparameters."""
    info, config = checkpoint.translator.info, checkpoint.translator.config
    st.markdown(
        f"**{info.get('name', checkpoint.name)}**: {info.get('source_language', '?')} → "
        f"{info.get('target_language', '?')}. {info.get('description', '')}"
    )
    st.header("Architecture")
    # On a phone the diagram keeps the width its texts need and scrolls sideways.
    st.html(
        f"<style>.st-key-architecture_frame {{ overflow-x: auto; }} "
        f".st-key-architecture {{ min-width: {DIAGRAM_MIN_WIDTH}px; }}</style>"
    )
    with st.container(key="architecture_frame"):
        present.plotly_chart(architecture_diagram(config), key="architecture", filename="architecture")
    counts_column, settings_column = st.columns(2)
    with counts_column:
        st.header("Parameters")
        counts = parameter_counts(checkpoint.translator.model)
        present.plotly_chart(parameter_bars(counts), key="parameters", filename="parameters")
    with settings_column:
        st.header("Hyperparameters")
        st.dataframe(settings_table(checkpoint), hide_index=True, key="settings")


def show_card(checkpoint: checkpoints.Checkpoint, scored: bool) -> None:
    """The checkpoint's own README.md, without its scores where the table above shows them."""
    card = checkpoints.model_card(checkpoint)
    if card is not None and scored:  # the scores once: the table above, not again in the card
        card = checkpoints.without_section(card, "Scores")
    if card is not None:
        st.header("Model card and data credits")
        with st.container(border=True):
            st.markdown(card)


def main() -> None:
    checkpoint = checkpoints.checkpoint_for_page("Model card")
    if checkpoint is None:
        return
    show_architecture(checkpoint)
    show_training(checkpoint)
    show_card(checkpoint, scored=show_scores(checkpoint))
    url.set_url()


main()
