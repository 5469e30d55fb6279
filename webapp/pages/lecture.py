"""Lecture: the paper in order, one step at a time (lectures/attention.toml). Each step is a page
of the app in a chosen view under a few sentences of narrative and what to look at; Previous/Next
(or the arrow keys) move between steps, and the step lives in the URL (/lecture?step=N), so each
slide can be bookmarked. The lecture opens in presentation mode."""

import runpy
from pathlib import Path

import streamlit as st

from webapp import lecture, registry
from webapp.state import url

STEP_KEY = "lecture_step"  # 0-based step shown
SHOWN_KEY = "_lecture_shown"  # the step whose view was last handed to its page
# The step's heading stands in for its page's title.
STEP_CSS = """<style>
[data-testid="stMainBlockContainer"] h1 { display: none; }
</style>"""


@st.cache_data(max_entries=4, show_spinner=False)
def _read_lecture(path: str, modified: int) -> lecture.Lecture | str:
    """The lecture, or why it cannot be read; read again when the file changes."""
    try:
        return lecture.load_lecture(Path(path))
    except lecture.LectureError as error:
        return str(error)


def read_lecture() -> lecture.Lecture | str:
    path = lecture.LECTURE_FILE
    try:
        modified = path.stat().st_mtime_ns
    except OSError as error:
        return f"{path}: {error}"
    return _read_lecture(str(path), modified)


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


def step_bar(title: str, index: int, count: int) -> None:
    previous_column, title_column, next_column = st.columns([1, 8, 1], vertical_alignment="center")
    previous_column.button(
        "Previous",
        icon=":material/arrow_back:",
        key="lecture_previous",
        shortcut="Left",
        disabled=index == 0,
        on_click=move,
        args=(-1, count),
        width="stretch",
    )
    title_column.markdown(f"#### {index + 1} / {count} · {title}")
    next_column.button(
        "Next",
        icon=":material/arrow_forward:",
        key="lecture_next",
        shortcut="Right",
        disabled=index == count - 1,
        on_click=move,
        args=(1, count),
        width="stretch",
    )


def narrative(step: lecture.Step) -> None:
    with st.container(border=True, key="lecture_narrative"):
        story_column, look_column = st.columns([3, 2])
        story_column.markdown(step.narrative)
        look_column.markdown(f"**What to look at.** {step.look}")


def main() -> None:
    loaded = read_lecture()
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
    st.html(STEP_CSS)
    step_bar(step.title, index, count)
    narrative(step)
    with url.fixed_url(step=url.url_value(index)):
        if view is None:
            st.info(f"This step's page, /{step.page}, is not part of this version of the app.")
        else:
            runpy.run_path(str(registry.page(view[0]).path))
        url.set_url()


main()
