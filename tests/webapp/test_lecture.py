"""webapp/lecture.py: the lecture file (lectures/attention.toml) follows the paper, a malformed one is
named by file, step and field, and a step falls back where its page is missing. The Lecture page
itself: tests/webapp/pages/test_lecture.py."""

import re

import pytest

from tests.helpers import ROOT
from webapp import lecture as app_lecture
from webapp import registry

LECTURE = app_lecture.load_lecture()


def test_the_lecture_follows_the_paper_in_at_least_12_steps():
    assert len(LECTURE.steps) >= 12
    for step in LECTURE.steps:
        assert app_lecture.step_view(step) is not None, step.title
        assert 2 <= len(re.findall(r"[.!?](\s|$)", step.narrative)) <= 4, step.title  # 2-4 sentences
    pages = [step.page for step in LECTURE.steps]
    assert pages[0] == "translate" and pages[-1] == "translate"  # from the bottleneck to a live translation
    assert {"positional-encoding", "masks", "inside", "model", "decoding", "analysis"} <= set(pages)


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
