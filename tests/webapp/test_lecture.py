"""webapp/lecture.py: the lecture file (lectures/attention.toml) follows the paper, a malformed one is
named by file, step and field, and a step falls back where its page is missing. The Lecture page
itself: tests/webapp/pages/test_lecture.py."""

import re

import pytest

from tests.helpers import ROOT
from webapp import lecture as app_lecture
from webapp import registry

LECTURE = app_lecture.load_lecture()


def test_the_lecture_follows_the_paper_in_at_least_16_steps():
    assert len(LECTURE.steps) >= 16
    for step in LECTURE.steps:
        assert app_lecture.step_view(step) is not None, step.title
        assert 2 <= len(re.findall(r"[.!?](\s|$)", step.narrative)) <= 4, step.title  # 2-4 sentences
    pages = [step.page for step in LECTURE.steps]
    assert pages[0] == "translate" and pages[-1] == "translate"  # from the bottleneck to a live translation
    assert {"positional-encoding", "masks", "inside", "model", "decoding", "analysis", "train"} <= set(pages)


def test_the_lecture_asks_names_its_figures_and_shows_code():
    assert sum(step.question is not None for step in LECTURE.steps) >= 4  # predict, then reveal
    assert all("{" in step.answer for step in LECTURE.steps if step.answer)  # answers measured on the model
    assert all(step.figure for step in LECTURE.steps if step.page not in ("analysis", "compare") or step.figure)
    assert sum(step.code is not None for step in LECTURE.steps) >= 10
    [train] = [step for step in LECTURE.steps if step.page == "train"]
    assert train.params["task"] and int(train.params["steps"]) <= 400  # learns in about 30 s


STEP = "title = 'x'\n[[steps]]\ntitle='a'\npage='masks'\nnarrative='n'\nlook='l'\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("question='q'", "a question needs its answer"),
        ("answer='a'", "a question needs its answer"),
        ("figure='a b'", "is not a chart key"),
        ("code={object='transformer.x'}", "code must be a table of object and line"),
        ("code={object='transformer/x', line='y'}", "is not a dotted name"),
        ("[[steps.claims]]\ncheck='top_key'", "a claim needs expect or range"),
        ("[[steps.claims]]\ncheck='top_key'\nexpect='x'\ncolour='red'", "claim 1: unknown field colour"),
        ("[[steps.claims]]\ncheck='period'\nrange=[2, 1]", "range [2, 1] is empty"),
        ("[[steps.claims]]\ncheck='period'\nrange=[1]", "range must be two numbers"),
    ],
)
def test_a_malformed_new_field_names_the_step_and_field(extra, message):
    with pytest.raises(app_lecture.LectureError, match=re.escape(message)):
        app_lecture.parse_lecture(STEP + extra, "lecture.toml")


def test_the_new_fields_are_read():
    text = (
        STEP
        + "figure='step_scores'\nquestion='q?'\nanswer='a'\ncode={object='transformer.masks.look_ahead_mask', line='tril'}\n"
    )
    text += "[[steps.claims]]\ncheck='period'\ndim=0\nrange=[6, 7]\n"
    [step] = app_lecture.parse_lecture(text, "lecture.toml").steps
    assert (step.figure, step.question, step.answer) == ("step_scores", "q?", "a")
    assert step.code == app_lecture.Code("transformer.masks.look_ahead_mask", "tril")
    assert step.claims == (app_lecture.Claim("period", {"dim": "0"}, None, (6.0, 7.0)),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title = 'x'", "no [[steps]]"),
        ("title = 'x'\n[[steps]]\ntitle = 'a'\npage = 'masks'\nnarrative = 'n'", "look must be non-empty text"),
        (
            "title = 'x'\n[[steps]]\ntitle='a'\npage='masks'\nnarrative='n'\nlook='l'\ncolour='red'",
            "unknown field colour",
        ),
        ("title = 'x'\n[[steps]]\ntitle='a'\npage='../x'\nnarrative='n'\nlook='l'", "is not a page name"),
        ("title = 'x'\n[[steps]]\ntitle='a'\npage='masks'\nnarrative='n'\nlook='l'\nparams={a=[1]}", "params must be"),
        ("title = ", "lecture.toml"),
    ],
)
def test_a_malformed_lecture_names_the_file_step_and_field(text, message):
    with pytest.raises(app_lecture.LectureError, match=re.escape(message)):
        app_lecture.parse_lecture(text, "lecture.toml")


def test_a_step_falls_back_where_its_page_is_missing():
    step = app_lecture.Step("t", "no-such-page", "n", "l", {"a": "1"}, "model", {"ckpt": "en-de"})
    assert app_lecture.step_view(step) == ("model", {"ckpt": "en-de"})
    assert app_lecture.step_view(app_lecture.Step("t", "no-such-page", "n", "l")) is None
    assert registry.page("positional-encoding").path == ROOT / "webapp" / "pages" / "positional_encoding.py"
