"""The Lecture page (webapp/pages/lecture.py) through streamlit.testing on the shipped checkpoints: every
step renders its page in the step's view under its narrative, and Previous/Next move between steps."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.webapp.apptest import chart_keys, open_page
from webapp import lecture as app_lecture

LECTURE = app_lecture.load_lecture()


LECTURE_PAGE = "webapp/pages/lecture.py"


MAIN_CHART = {  # page -> a chart that page always draws
    "translate": "attention_map",
    "positional-encoding": "pe_curves",
    "masks": "step_weights",
    "decoding": "next_tokens",
    "model": "architecture",
}


ANALYSIS_CHART = {"statistics": "stats_entropy", "ablation": "attention_moved"}  # tab -> chart


def open_lecture(step: str | None) -> AppTest:
    """app.py switched to the lecture as a link /lecture?step=step opens it."""
    return open_page(LECTURE_PAGE, {} if step is None else {"step": step})


def markdown(app: AppTest) -> str:
    return "\n".join(element.value for element in app.markdown)


def normalized(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("number", range(1, len(LECTURE.steps) + 1))
def test_every_step_shows_its_page_in_its_view_with_its_narrative(number):
    step = LECTURE.steps[number - 1]
    page, params = app_lecture.step_view(step)
    app = open_lecture(str(number))
    assert not app.warning and not app.error, [element.value for element in [*app.warning, *app.error]]
    shown = normalized(markdown(app))
    assert f"{number} / {len(LECTURE.steps)} · {step.title}" in shown
    assert normalized(step.narrative) in shown and normalized(step.look) in shown
    assert chart_keys(app), "no figure"
    expected = ANALYSIS_CHART[params["tab"]] if page == "analysis" else MAIN_CHART.get(page)
    assert expected is None or expected in chart_keys(app)
    state = app.session_state
    assert state["ckpt"] == params["ckpt"] and state["present"]  # the lecture opens in presentation mode
    assert not state["show_marker"]  # with presentation mode's default: no ▁ on the projector
    if "text" in params:
        assert state["text"] == params["text"]
    if page == "translate":
        assert state["kind"] == params["kind"]
        assert state["layer"] == int(params["layer"]) - 1
        assert state["head"] == ("avg" if params["head"] == "avg" else int(params["head"]) - 1)
    if page == "compare":
        assert state["compare_ckpts"] == params["ckpts"].split(",")
    assert app.query_params["step"] == str(number) and app.query_params["present"] == "1"


def test_previous_and_next_move_between_steps_and_the_url_follows():
    app = open_lecture(None)
    assert f"1 / {len(LECTURE.steps)}" in markdown(app)
    assert app.button(key="lecture_previous").disabled
    app.button(key="lecture_next").click().run()
    assert f"2 / {len(LECTURE.steps)} · {LECTURE.steps[1].title}" in markdown(app)
    assert app.query_params["step"] == "2"
    app.button(key="lecture_previous").click().run()
    assert app.query_params["step"] == "1" and "attention_map" in chart_keys(app)


def test_a_step_out_of_range_opens_the_first_with_a_notice():
    app = open_lecture("99")
    assert any("step is not between 1 and" in element.value for element in app.warning)
    assert f"1 / {len(LECTURE.steps)}" in markdown(app)


def test_the_link_can_keep_presentation_mode_off():
    app = open_page(LECTURE_PAGE, {"step": "2", "present": "0"})
    assert not app.session_state["present"] and app.session_state["show_marker"]
