"""The classroom benchmark's own logic: its sentences and how it judges a page (its figures are
measured, never asserted; tests/deploy runs it through the balancer)."""

from benchmarks import classroom
from deploy.session_client import PageRun


def test_every_student_gets_sentences_of_its_own():
    for symbols in (False, True):
        sentences = classroom.make_sentences(200 * 3, symbols, seed=7)
        keys = [classroom.normalised(s) for s in sentences]
        assert len(set(keys)) == len(keys)
        assert not any(a in b for a in keys for b in keys if a is not b)
    assert classroom.make_sentences(5, False, seed=1) == classroom.make_sentences(5, False, seed=1)
    assert classroom.english_sentence(0) == "A young man in a red shirt is reading a book in the park."


def chart(tokens: list[str]) -> str:
    """A chart's spec as Streamlit sends it: JSON, the word-start marker escaped."""
    return '{"data":[{"x":[' + ",".join(f'"\\u2581{t}"' for t in tokens) + "]}]}"


def test_a_page_is_judged_by_its_text_box_url_and_figures():
    own, other = "A boy is eating an apple.", "A girl is reading a book."
    good = PageRun(
        0.3, "ckpt=en-de&text=A+boy+is+eating+an+apple.", [own, "Ein Junge isst einen Apfel.", chart(own.split())]
    )
    assert classroom.page_errors(good, own, {other}) == []
    stale = PageRun(0.3, "text=A+girl+is+reading+a+book.", [other, chart(other.split())])
    errors = classroom.page_errors(stale, own, {other})
    assert "the text box does not hold the student's sentence" in errors
    assert "no figure shows the student's sentence" in errors
    assert any(error.startswith("another student's sentence") for error in errors)
    crashed = PageRun(0.3, good.query_string, good.strings, exceptions=["ValueError: boom"])
    assert classroom.page_errors(crashed, own, set()) == ["exception: ValueError: boom"]
