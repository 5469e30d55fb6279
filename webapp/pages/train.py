"""Train: a small Transformer trained live on a toy task, its attention watched while it forms.

The settings live in the URL (/train?task=reverse&layers=1&...); the run is transformer.training's
own loop on a background thread (webapp.trainer.session.SessionTrainer), read by a fragment every
second.
"""

import contextlib
from dataclasses import asdict, fields

import streamlit as st
import torch
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from figures import (
    KIND_TITLES,
    attention_grid,
    axes_heatmap,
    curve_steps,
    head_label,
    head_map,
    label_smoothing_bars,
    learning_rate_curve,
    live_curves,
    row_convention,
    token_axes,
    written_tokens,
)
from transformer.data import SYMBOLS
from transformer.objective import learning_rate, smoothed_target
from transformer.tokenizer import EOS, SPECIAL_TOKENS
from webapp import registry
from webapp.state import checkpoints, present, url
from webapp.trainer import recipe, session, slots
from webapp.trainer.settings import BOUNDS, CHOICES, TASK_TITLES, TrainSetup, parse_setup
from webapp.widgets.pickers import kind_picker, layer_picker

DEFAULTS = TrainSetup()
PROBE_MAP_TOP = 620  # pixels above the probe's map on a 1920 x 1080 projector, the settings folded (measured: 616)
LABELS = {
    "task": "Task",
    "symbols": "Symbols",
    "min_len": "Shortest",
    "max_len": "Longest",
    "shift": "Rotate by k",
    "layers": "Layers (encoder and decoder each)",
    "heads": "Heads",
    "d_model": "d_model",
    "d_ff": "d_ff",
    "dropout": "Dropout",
    "norm": "LayerNorm",
    "steps": "Steps",
    "batch_tokens": "Batch tokens",
    "warmup": "Warm-up steps",
    "lr_scale": "LR scale",
    "smoothing": "Label smoothing ε",
    "seed": "Seed",
}
GROUPS = {
    "The task": ("task", "symbols", "min_len", "max_len", "shift"),
    "The model": ("layers", "heads", "d_model", "d_ff", "dropout", "norm"),
    "Training": ("steps", "batch_tokens", "warmup", "lr_scale", "smoothing", "seed"),
}
SMOOTHED_TOKEN = len(SPECIAL_TOKENS)  # the token whose smoothed target is drawn: the first symbol
MODEL_VIEW = "all"  # the head choice that shows every layer x head


def restore_from_url() -> None:
    values = {name: value for name in LABELS if (value := url.url_param(name)) is not None}
    parsed, rejected = parse_setup(values)
    for message in rejected:
        url.notice(message)
    st.session_state.update({f"train_{name}": value for name, value in parsed.items()})


def setting_widget(name: str) -> None:
    key, default = f"train_{name}", getattr(DEFAULTS, name)
    st.session_state.setdefault(key, default)
    if name in CHOICES:
        url.keep_valid(key, list(CHOICES[name]), default)
        titles = TASK_TITLES if name == "task" else {"post": "post-norm (paper)", "pre": "pre-norm"}
        st.selectbox(LABELS[name], CHOICES[name], key=url.kept(key), format_func=titles.get)
    else:  # no bounds on the widget: a bad value is explained below, it does not raise
        low, high = BOUNDS[name]
        step = 0.05 if isinstance(default, float) else 1
        st.number_input(LABELS[name], key=url.kept(key), step=step, help=f"{low:g} to {high:g}")


def read_settings() -> TrainSetup:
    for column, (group, names) in zip(st.columns(3), GROUPS.items()):
        with column:
            st.subheader(group)
            for name in names:
                if name != "shift" or st.session_state.get("train_task") == "rotate":
                    setting_widget(name)
    values = {f.name: st.session_state.get(f"train_{f.name}", getattr(DEFAULTS, f.name)) for f in fields(TrainSetup)}
    setup = TrainSetup(**values)
    url.set_url(**{k: v for k, v in asdict(setup).items() if v != getattr(DEFAULTS, k)})
    return setup


def show_teaching_plots(setup: TrainSetup) -> None:
    """The learning rate these settings train with, and the target label smoothing makes of one
    token: the trainer's own formulas (transformer.objective), drawn by figures.training."""
    lr_column, smoothing_column = st.columns(2)
    with lr_column:
        steps = curve_steps(setup.steps)
        rates = [learning_rate(step, setup.d_model, setup.warmup, setup.lr_scale) for step in steps]
        figure = learning_rate_curve(steps, rates, setup.warmup)
        present.plotly_chart(figure, key="lr_curve", filename="learning-rate")
    with smoothing_column:
        tokens = [*SPECIAL_TOKENS, *SYMBOLS[: setup.symbols]]
        target = SMOOTHED_TOKEN
        probabilities = smoothed_target(torch.tensor(target), len(tokens), setup.smoothing).tolist()
        figure = label_smoothing_bars(tokens, target, setup.smoothing, probabilities)
        present.plotly_chart(figure, key="smoothing_bars", filename="label-smoothing")


def session_alive():
    """A function telling whether this browser session is still open (its run stops once not)."""
    session_id = get_script_run_ctx().session_id
    if not Runtime.exists():  # AppTest: no server, the session lives as long as the test
        return session_id, lambda: True
    runtime = Runtime.instance()
    return session_id, lambda: runtime.is_active_session(session_id)


def controls(setup: TrainSetup) -> session.SessionTrainer | None:
    trainer = st.session_state.get("trainer")
    train, stop, resume, reset, _ = st.columns([1, 1, 1, 1, 4])
    if trainer is None:
        if train.button("Train", key="train_start", type="primary"):
            owner, alive = session_alive()
            trainer = st.session_state["trainer"] = session.SessionTrainer(setup, owner, alive)
            trainer.start()
            st.rerun()  # Stop, Resume and Reset in place of Train
        return trainer
    status = trainer.progress.status
    if stop.button("Stop", key="train_stop", disabled=status not in ("preparing", "training", "waiting")):
        trainer.stop()
        st.rerun()  # the buttons of the new state
    if resume.button("Resume", key="train_resume", disabled=status != "stopped"):
        trainer.start()
        st.rerun()
    if reset.button("Reset", key="train_reset", help="Forget this run: its model, curves and attention"):
        trainer.close()
        del st.session_state["trainer"]
        st.rerun()
    if trainer.setup != setup:
        st.info("The settings changed: **Reset** to train a model with them.")
    return trainer


def pick_view(n_layers: int, n_heads: int) -> tuple[str, int, int | str | None]:
    kind = kind_picker("train_kind", "cross")  # a row of its own: the kinds' names are long
    layer_column, head_column, _ = st.columns([1, 2, 1])  # the head's choices include the model view's long name
    layer = layer_picker("Layer", n_layers, "train_layer", container=layer_column)
    heads = [MODEL_VIEW, "avg", *range(n_heads)]
    url.keep_valid("train_head", heads, "avg")
    labels = {MODEL_VIEW: "model view (every layer × head)", "avg": head_label(None)}
    head = head_column.selectbox(
        "Head", heads, key=url.kept("train_head"), format_func=lambda h: labels.get(h) or head_label(h)
    )
    return kind, layer, None if head == "avg" else head


def attention_figure(maps, kind, layer, head, source_tokens, target_tokens, title, output_tokens=None):
    """The map of one head (or the model view) of maps (layers, heads, queries, keys). Decoder rows
    are named by the token they write: output_tokens, or for the teacher-forced probe (its reference
    ends in </s>) the next decoder input (figures.rows)."""
    if head == MODEL_VIEW:
        return attention_grid(maps.numpy(), title)
    written = written_tokens(target_tokens, EOS) if output_tokens is None else output_tokens
    axes = token_axes(kind, source_tokens, target_tokens, written)
    return axes_heatmap(head_map(maps.numpy(), layer, head), axes, title)


def status_line(progress: session.Progress) -> None:
    if progress.status == "waiting":
        place = "you are next" if progress.place_in_line == 1 else f"you are number {progress.place_in_line} in line"
        st.warning(
            f"The server is busy: it trains {slots.SLOTS.limit} model(s) at once. {place.capitalize()}; "
            "your run starts by itself when one finishes (keep this page open), or try again later.",
            icon=":material/hourglass_top:",
        )
    elif progress.status == "failed":
        st.error(f"The run failed: {progress.error}")
    elif progress.status == "preparing":
        st.info("Generating the data and building the model…")
    else:
        eta = f" · ETA {progress.eta_s:.0f} s" if progress.eta_s is not None and progress.status == "training" else ""
        match = f" · dev exact match {progress.exact_match:g} %" if progress.exact_match is not None else ""
        text = f"{progress.status}: step {progress.step} / {progress.steps} · {progress.steps_per_s:.1f} steps/s{eta}{match}"
        st.progress(min(1.0, progress.step / max(1, progress.steps)), text=text)


def live_view() -> None:
    """Progress, curves and attention: a fragment rerun every second while the run goes on."""
    trainer = st.session_state["trainer"]
    if trainer.progress.status == "waiting":
        trainer.start()  # keeps the session's place in line, and starts the run once it is first
    progress = trainer.snapshot()
    status_line(progress)
    running = progress.status in ("preparing", "training", "waiting")
    if st.session_state.get("train_was_running") and not running:
        st.session_state["train_was_running"] = False
        st.rerun(scope="app")  # the run ended: show "Try it" and "Save"
    st.session_state["train_was_running"] = running
    # On a projector the curves and the attention stand side by side, both above the fold; else
    # one under the other, straight in the fragment.
    columns = 2 if present.presenting() else 1
    curves_column, attention_column = present.side_by_side(2)
    if progress.train_curve:
        with curves_column:
            present.plotly_chart(
                live_curves(progress.train_curve, progress.dev_curve, progress.steps),
                key="live_curves",
                filename="curves",
            )
    if progress.frames:
        with attention_column:
            probe_attention(progress, running, columns)


def probe_attention(progress: session.Progress, running: bool, columns: int) -> None:
    """The probe's attention at the last frame, or, once the run is over, at the replay slider's;
    in one of `columns` side by side. On a projector the map comes before its pickers, which would
    push it below the fold."""
    st.subheader("The probe's attention")
    place = st.container() if present.presenting() else contextlib.nullcontext()
    first_maps = progress.frames[0][1]
    kind, layer, head = pick_view(*first_maps["cross"].shape[:2])
    steps = [step for step, _ in progress.frames]
    frame = len(steps) - 1
    if not running and len(steps) > 1:
        url.keep_valid("train_replay", list(range(len(steps))), len(steps) - 1)
        frame = st.select_slider(
            "Replay: training step",
            list(range(len(steps))),
            key=url.kept("train_replay"),
            format_func=lambda i: f"step {steps[i]}",
        )
    step, maps = progress.frames[frame]
    title = f"{KIND_TITLES[kind]} at step {step}"
    figure = attention_figure(maps[kind], kind, layer, head, *progress.probe_tokens, title)
    with place:
        present.plotly_chart(
            figure, key="train_attention", filename=f"train-{kind}-step{step}", columns=columns, top=PROBE_MAP_TOP
        )
    if head != MODEL_VIEW and (convention := row_convention(kind)):
        st.caption(convention)


def try_and_save(trainer: session.SessionTrainer) -> None:
    if trainer.training or trainer.run is None or trainer.progress.status == "preparing":
        return
    st.header("Try it")
    source = " ".join(trainer.run.probes[0][0].split())
    text = st.text_input("A sequence of symbols, space-separated", value=source, key="train_try")
    if text.strip():
        translation = trainer.try_input(text)
        st.markdown(f"Output: `{translation.text}`")
        kind, layer, head = (st.session_state.get(k) for k in ("train_kind", "train_layer", "train_head"))
        kind, layer = kind or "cross", layer or 0
        head = None if head in (None, "avg") else head
        maps = translation.attention[kind]
        tokens = translation.source_tokens, translation.target_tokens
        figure = attention_figure(maps, kind, layer, head, *tokens, text, translation.output_tokens)
        present.plotly_chart(figure, key="try_attention", filename="try-attention")
    st.header("Keep it")
    name_column, button_column = st.columns([3, 1])
    name = name_column.text_input("Checkpoint name", value=f"my-{trainer.setup.task}", key="train_save_name")
    if button_column.button("Save as checkpoint", key="train_save"):
        reserved = set(registry.shipped_checkpoints())
        try:
            folder = trainer.save(name.strip(), checkpoints.checkpoints_dir(), reserved)
        except (ValueError, RuntimeError) as error:
            st.error(f"Not saved: {error}")
        else:
            st.session_state["train_saved"] = folder.name
            st.rerun()  # the sidebar, drawn before this page, lists the new folder
    if saved := st.session_state.pop("train_saved", None):
        st.success(f"Saved as `{saved}`: pick it in the sidebar's checkpoint list to explore it on every page.")


def main() -> None:
    st.title("Watch a Transformer learn")
    st.markdown(
        "Pick a toy task and a small model, press **Train**, and watch the encoder–decoder attention of a "
        "probe sequence go from noise to the task's pattern: an anti-diagonal for reversal, the diagonal for "
        "copying, two blocks for swapping the halves. The run is the command line trainer's own loop "
        "(`python -m transformer train`), on data generated on the fly."
    )
    restore_from_url()
    # On a projector, once a run exists, its settings fold away: its curves and attention come up.
    folded = present.presenting() and st.session_state.get("trainer") is not None
    with st.expander("Settings: the task, the model, training") if folded else st.container():
        setup = read_settings()
        problems = recipe.training_problems(setup)  # the plots and the recipe need valid settings
        if not problems:
            show_teaching_plots(setup)
    if problems:
        for problem in problems:
            st.error(f"Cannot train with these settings: {problem}.")
        return
    with st.expander("The same run from the command line"):
        st.code(recipe.recipe_toml(setup), language="toml")
    trainer = controls(setup)
    if trainer is not None:
        running = trainer.progress.status in ("preparing", "training", "waiting")
        st.fragment(live_view, run_every=1.0 if running else None)()
        try_and_save(trainer)


main()
