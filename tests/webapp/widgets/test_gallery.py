"""The example gallery (app_gallery.py) on the Translate, Decoding and Inside pages, through
streamlit.testing on the shipped checkpoints."""

import pytest

from tests.webapp.apptest import DECODING, TOY, open_page, texts
from webapp.state import checkpoints as app_checkpoints
from webapp.widgets import gallery as app_gallery

EN_DE = TOY.parent / "en-de"


@pytest.fixture
def both_checkpoints(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for checkpoint in (TOY, EN_DE):
        (folder / checkpoint.name).symlink_to(checkpoint, target_is_directory=True)
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(folder))


def test_the_gallery_covers_what_a_teacher_shows():
    english = {example.label: example.text for example in app_gallery.examples("en")}
    assert english["Pronoun"] == "The animal didn't cross the street because it was too tired."
    assert english["Paper title"] == "Attention is all you need."
    assert {"Caption", "Everyday", "Long", "Verb at the end"} <= set(english)
    assert app_gallery.examples("symbols") and app_gallery.examples("klingon") == ()
    compare = {example.text for example in app_gallery.COMPARE}  # word order that differs by language
    assert {"The little girl is eating a red apple.", "I think that he has already bought the blue car."} <= compare
    assert compare <= app_gallery.gallery_texts()  # another checkpoint replaces them, as it does the others


def test_an_example_fills_the_text_and_says_what_to_look_at(both_checkpoints):
    app = open_page("webapp/pages/translate.py", ckpt="en-de")
    pills = app.get("pills")[0]
    assert pills.options[:2] == ["Caption", "Everyday"] and pills.value == "Caption"  # the default sentence
    pills.set_value("Verb at the end").run()
    assert app.text_area(key="text").value == "I know that the man has bought a new car."
    assert any("verb" in caption for caption in texts(app.caption))
    assert "gekauft" in texts(app.code)[0]


def test_switching_to_the_toy_loads_a_toy_example(both_checkpoints):
    app = open_page(DECODING, ckpt="en-de")
    app.get("pills")[0].set_value("Pronoun").run()
    assert app.text_input(key="text").value.startswith("The animal")
    app.sidebar.selectbox(key="ckpt").select("toy-reverse").run()
    assert app.text_input(key="text").value == "a b c d e f g h"
    assert app.get("pills")[0].options[0] == "Alphabet"


def test_the_inside_page_has_the_gallery_above_its_sentence(both_checkpoints):
    app = open_page("webapp/pages/inside.py", ckpt="toy-reverse")
    pills = app.get("pills")[0]
    assert pills.options[0] == "Alphabet" and pills.value == "Alphabet"  # the toy's default sentence
    pills.set_value("Short").run()
    assert app.text_input(key="text").value == "x y z" and app.query_params["text"] == "x y z"
