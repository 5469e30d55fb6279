"""The Lecture page (webapp/pages/lecture.py) through streamlit.testing on the shipped checkpoints: every
step renders its page in the step's view, its notes (narrative and what to look at, measured on the
model) folded away on the projector and shown by Notes; Previous/Next move between steps; a question's
answer shows once revealed; Code shows the library's source with its line marked."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import ROOT
from tests.webapp.apptest import chart_keys, open_page
from webapp import claims
from webapp import lecture as app_lecture
from webapp.state import checkpoints as app_checkpoints
from webapp.widgets import source

LECTURE = app_lecture.load_lecture()


LECTURE_PAGE = "webapp/pages/lecture.py"


MAIN_CHART = {  # page -> a chart that page always draws
    "translate": "attention_map",
    "positional-encoding": "pe_curves",
    "masks": "step_weights",
    "decoding": "next_tokens",
    "model": "architecture",
    "train": "lr_curve",
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
    assert "What to look at" not in shown  # the notes fold away on the projector
    app.button(key="lecture_notes_button").click().run()
    shown = normalized(markdown(app))
    assert normalized(step.narrative.split("{")[0]) in shown and normalized(step.look.split("{")[0]) in shown
    assert "{" not in shown.split("What to look at")[1][:400]  # every placeholder measured
    assert chart_keys(app), "no figure"
    expected = ANALYSIS_CHART[params["tab"]] if page == "analysis" else MAIN_CHART.get(page)
    assert expected is None or expected in chart_keys(app)
    state = app.session_state
    assert state["ckpt"] == params.get("ckpt", "en-de") and state["present"]  # the lecture opens in presentation mode
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


def test_a_question_is_answered_from_the_model_once_revealed():
    number = next(n for n, step in enumerate(LECTURE.steps, 1) if step.question and "Schnee" in step.question)
    app = open_lecture(str(number))
    shown = markdown(app)
    assert "Which English word will the row writing *Schnee* look at?" in shown and "Answer" not in shown
    app.button(key="lecture_reveal").click().run()
    assert "**Answer:** The row writing *Schnee* puts" in markdown(app) and "on *snow*" in markdown(app)
    app.button(key="lecture_next").click().run()  # a new step asks again
    assert "Answer" not in markdown(app)


def test_a_deployment_without_the_lectures_checkpoint_shows_the_step_without_its_numbers(checkpoints):
    """The toy alone (the `checkpoints` fixture): the claims about en-de are not checked and its
    placeholders read as measured elsewhere, quietly: no warning of the lecture's (the page's own
    notice says which checkpoint it shows instead)."""
    app = open_lecture("1")
    assert not [element.value for element in app.warning if element.value.startswith("Step ")]
    assert "Which English word" in markdown(app) and not app.error
    app.button(key="lecture_notes_button").click().run()
    app.button(key="lecture_reveal").click().run()
    shown = markdown(app)
    assert claims.absent("en-de") in shown and not claims.PLACEHOLDER.search(shown)


def test_the_measures_follow_the_checkpoints_folder(checkpoints, monkeypatch):
    """The step's measures are cached per checkpoints folder and checkpoint version: the same step
    measured without en-de, then with it (the folder of the shipped ones), is measured afresh."""
    assert claims.absent("en-de") in markdown(open_lecture("1").button(key="lecture_reveal").click().run())
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(ROOT / "checkpoints"))
    app = open_lecture("1").button(key="lecture_reveal").click().run()
    assert claims.absent("en-de") not in markdown(app) and "**Answer:** The row writing *Schnee* puts" in markdown(app)
    assert not app.warning


def test_code_shows_the_librarys_source_with_its_line_marked():
    app = open_lecture("1")
    assert not [element for element in app.code if source.MARK in element.value]
    app.button(key="lecture_code_button").click().run()
    [code] = [element for element in app.code if source.MARK in element.value]
    assert "def scaled_dot_product_attention" in code.value
    assert [line for line in code.value.splitlines() if line.endswith(source.MARK)][0].strip().startswith("weights =")
