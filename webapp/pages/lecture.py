"""Lecture: the paper in order, one step at a time (lectures/attention.toml). Each step is a page
of the app in a chosen view; Previous/Next (or the arrow keys) move between steps, and the step
lives in the URL (/lecture?step=N), so each slide can be bookmarked. The lecture opens in
presentation mode.

On the projector the slide is the figure: the step's `figure` comes first (what its page draws
before it is hidden) and the lecturer's notes, the narrative and what to look at, fold away (N
shows them). A step may ask the audience a question, answered with a click or A; and show the
library's code of what it illustrates (K). Its {placeholders} are measured on the model and its
claims checked at every render (webapp.claims): a claim the model contradicts shows a warning."""

import runpy
from pathlib import Path

import streamlit as st

from transformer import CheckpointError
from webapp import claims, lecture, registry
from webapp.state import checkpoints, present, url
from webapp.widgets import source

STEP_KEY = "lecture_step"  # 0-based step shown
SHOWN_KEY = "_lecture_shown"  # the step whose view was last handed to its page
NOTES_KEY, CODE_KEY, REVEALED_KEY = "lecture_notes", "lecture_code", "lecture_revealed"
# The step's heading stands in for its page's title; inside a step, its page's own Previous/Next
# (the Decoding page's) are hidden: one "Next" per slide, the lecture's.
STEP_CSS = """<style>
[data-testid="stMainBlockContainer"] h1 { display: none; }
.st-key-lecture_page .st-key-step_previous, .st-key-lecture_page .st-key-step_next { display: none; }
</style>"""


def figure_first_css(chart_key: str) -> str:
    """On the projector, what the page draws before the chart `chart_key` is hidden, at every level
    of the page's layout (a sibling before it, or before a block that holds it): it comes first."""
    page, chart = ".st-key-lecture_page", f".st-key-{chart_key}"
    return f"<style>{page} *:has(~ {chart}), {page} *:has(~ * {chart}) {{ display: none; }}</style>"


@st.cache_data(max_entries=4, show_spinner=False)
def _read_lecture(path: str, modified: int) -> lecture.Lecture | str:
    """The lecture, or why it cannot be read; read again when the file changes."""
    try:
        return lecture.load_lecture(Path(path))
    except lecture.LectureError as error:
        return str(error)


def read_lecture() -> tuple[lecture.Lecture | str, int]:
    path = lecture.LECTURE_FILE
    try:
        modified = path.stat().st_mtime_ns
    except OSError as error:
        return f"{path}: {error}", 0
    return _read_lecture(str(path), modified), modified


def load_checkpoint(name: str) -> checkpoints.Checkpoint:
    """A checkpoint a step's placeholder or claim names: only a listed folder name is opened; one
    this deployment does not list is Unavailable (no warning: the step reads without its numbers)."""
    if name not in checkpoints.checkpoint_names():
        raise claims.Unavailable(name)
    try:
        return checkpoints.load_named(name)
    except CheckpointError as error:
        raise claims.ClaimError(str(error)) from None


def checkpoint_versions(step: lecture.Step) -> tuple[str, tuple[tuple[str, str | None], ...]]:
    """What the step's measures depend on besides the lecture file: the checkpoints folder, and the
    version of each checkpoint the step names (None: not listed there)."""
    names = sorted(claims.step_checkpoints(step))
    return str(checkpoints.checkpoints_dir()), tuple((name, checkpoints.checkpoint_version(name)) for name in names)


@st.cache_data(max_entries=64, show_spinner="Measuring the step's claims on the model…")
def measured_step(
    modified: int, index: int, versions: tuple[str, tuple[tuple[str, str | None], ...]]
) -> tuple[dict[str, str | None], list[str]]:
    """The step's texts with their placeholders filled in, and every problem: a placeholder that
    cannot be measured, a claim the model contradicts. Cached per lecture file version, step, and
    checkpoints folder and version of each checkpoint the step names (checkpoint_versions): a
    retrained model, or another folder, is measured afresh. A claim about a checkpoint that is not
    here is left out."""
    step = read_lecture()[0].steps[index]
    texts, problems = {}, []
    for name in ("narrative", "look", "question", "answer"):
        text = getattr(step, name)
        texts[name], missing = (None, []) if text is None else claims.fill(text, step, load_checkpoint)
        problems += missing
    for claim in step.claims:
        try:
            _, problem = claims.check(claim, step, load_checkpoint)
        except claims.Unavailable:
            continue
        if problem is not None:
            problems.append(f"the claim `{claim.check}` ({claim.expect or claim.range}) does not hold: {problem}")
    return texts, problems


def restore_step(count: int) -> None:
    """The step from the link, once per session (the Decoding page has a step of its own)."""
    if STEP_KEY in st.session_state:
        return
    url.restore_param(
        "step",
        STEP_KEY,
        lambda value: url.parse_number(value, count),
        f"The link's step is not between 1 and {count}; showing step 1.",
    )


def open_step(view: dict[str, str]) -> None:
    """Hand the step's view to its page as a link would (each page checks its own values), then
    run again: the sidebar reads the checkpoint before the page runs. The lecture's first step in a
    session turns presentation mode on, unless the link says present=0."""
    if SHOWN_KEY not in st.session_state and "present" not in st.query_params:
        view = {**view, "present": "1"}
    st.session_state["_url"] = dict(view)
    st.session_state[SHOWN_KEY] = st.session_state[STEP_KEY]
    st.rerun()


def move(offset: int, count: int) -> None:
    st.session_state[STEP_KEY] = min(max(st.session_state[STEP_KEY] + offset, 0), count - 1)
    st.session_state.pop(REVEALED_KEY, None)


def toggle(key: str) -> None:
    st.session_state[key] = not st.session_state.get(key, not present.presenting())


def step_bar(step: lecture.Step, index: int, count: int) -> None:
    previous, title, notes, code, following = st.columns([2, 12, 2, 2, 2], vertical_alignment="center")
    previous.button(
        "Previous",
        icon=":material/arrow_back:",
        key="lecture_previous",
        shortcut="Left",
        disabled=index == 0,
        on_click=move,
        args=(-1, count),
        width="stretch",
    )
    title.markdown(f"#### {index + 1} / {count} · {step.title}")
    toggles = (  # column, label, icon, state key, key, help
        (notes, "Notes", "notes", NOTES_KEY, "N", "the narrative and what to look at"),
        (code, "Code", "code", CODE_KEY, "K", "the library's code of this step"),
    )
    for column, label, icon, state_key, shortcut, shows in toggles:
        column.button(
            label,
            icon=f":material/{icon}:",
            key=f"{state_key}_button",
            shortcut=shortcut,
            on_click=toggle,
            args=(state_key,),
            width="stretch",
            disabled=state_key == CODE_KEY and step.code is None,
            help=f"Show or hide {shows} ({shortcut})",
        )
    following.button(
        "Next",
        icon=":material/arrow_forward:",
        key="lecture_next",
        shortcut="Right",
        disabled=index == count - 1,
        on_click=move,
        args=(1, count),
        width="stretch",
    )


def reveal(index: int) -> None:
    st.session_state[REVEALED_KEY] = index


def question(texts: dict[str, str | None], index: int) -> None:
    """The step's question to the audience; its answer, computed from the model, once revealed."""
    if texts["question"] is None:
        return
    revealed = st.session_state.get(REVEALED_KEY) == index
    with st.container(key="lecture_question", horizontal=True, vertical_alignment="center"):
        st.markdown(f"**Predict.** {texts['question']}" + (f" **Answer:** {texts['answer']}" if revealed else ""))
        if not revealed:
            st.button(
                "Reveal",
                icon=":material/visibility:",
                key="lecture_reveal",
                shortcut="A",
                on_click=reveal,
                args=(index,),
                help="Show the answer, measured on the model (A)",
            )


def notes(texts: dict[str, str | None]) -> None:
    if not st.session_state.get(NOTES_KEY, not present.presenting()):
        return
    with st.container(border=True, key="lecture_narrative"):
        story_column, look_column = st.columns([3, 2])
        story_column.markdown(texts["narrative"])
        look_column.markdown(f"**What to look at.** {texts['look']}")


def main() -> None:
    loaded, modified = read_lecture()
    if isinstance(loaded, str):
        st.title("Lecture")
        st.error(f"The lecture cannot be read: {loaded}")
        return
    count = len(loaded.steps)
    restore_step(count)
    url.keep_valid(STEP_KEY, list(range(count)), 0)
    index = st.session_state[STEP_KEY]
    step = loaded.steps[index]
    view = lecture.step_view(step)
    if view is not None and st.session_state.get(SHOWN_KEY) != index:
        open_step(view[1])
    st.html(STEP_CSS + (figure_first_css(step.figure) if step.figure and present.presenting() else ""))
    versions = checkpoint_versions(step)
    texts, problems = measured_step(modified, index, versions)
    # One block for what the lecture draws above the page, whatever it holds (notes shown or not, a
    # question or none): the page's block keeps its place, so a rerun never draws the page's old
    # elements, stale, inside a block of the lecture's that took their place (the notes' box).
    with st.container(key="lecture_header"):
        step_bar(step, index, count)
        for problem in problems:
            st.warning(f"Step {index + 1}: {problem}", icon=":material/fact_check:")
        question(texts, index)
        notes(texts)
        if step.code is not None and st.session_state.get(CODE_KEY, False):
            source.show_source(step.code.object, step.code.line, key="lecture_source")
    with url.fixed_url(step=url.url_value(index)), st.container(key="lecture_page"):
        if view is None:
            st.info(f"This step's page, /{step.page}, is not part of this version of the app.")
        else:
            runpy.run_path(str(registry.page(view[0]).path))
        url.set_url()


main()
