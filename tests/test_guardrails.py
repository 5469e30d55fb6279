"""Input guardrails (transformer/guardrails.py): the parts of a text that became <unk>, the
warning for text that is probably not in the checkpoint's source language; and the sidebar's "Show ▁" switch."""

import json

import pytest
from test_app import chart_spec, head_view, run_app, texts

from conftest import ROOT
from transformer import load_checkpoint
from transformer.guardrails import FUNCTION_WORDS, language_warning, latin_share, unknown_parts


@pytest.fixture(scope="module")
def en_de():
    return load_checkpoint(ROOT / "checkpoints" / "en-de").tokenizer


@pytest.fixture(scope="module")
def toy():
    return load_checkpoint(ROOT / "checkpoints" / "toy-reverse").tokenizer


def test_unknown_parts_name_what_became_unk_as_typed(en_de):
    assert unknown_parts("Two dogs are playing in the snow.", en_de) == []
    assert unknown_parts("Two dogs 😀 play in Москва, 😀!", en_de) == ["😀", "Москва"]  # each part once
    assert unknown_parts("Привет мир", en_de) == ["Привет мир"]  # neighbours are one part


def test_unknown_parts_of_a_word_level_vocabulary_are_whole_words(toy):
    assert unknown_parts("a b hello c", toy) == ["hello"]


def test_function_word_lists_share_no_word():
    languages = list(FUNCTION_WORDS)
    for i, first in enumerate(languages):
        for second in languages[i + 1 :]:
            assert not FUNCTION_WORDS[first] & FUNCTION_WORDS[second]


@pytest.mark.parametrize(
    "text",
    [
        "Two dogs are playing in the snow.",
        "Where is the train station?",
        "Attention is all you need.",
        "A man in a café.",  # one accented word is still English
        "München",  # a name: no evidence either way
        "",
    ],
)
def test_english_passes(text):
    assert language_warning(text, "en") is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Zwei Hunde spielen im Schnee und der Mann ist müde.", "looks like German (im, und, der, ist)"),
        ("Le chien est dans la maison avec les enfants.", "looks like French"),
        ("El perro está en la casa con los niños.", "looks like Spanish"),
        ("Две собаки играют в снегу.", "not Latin"),
        ("两只狗在雪地里玩", "not Latin"),
    ],
)
def test_other_languages_are_named(text, says):
    warning = language_warning(text, "en")
    assert warning is not None and says in warning and "English" in warning


def test_a_language_the_check_does_not_know_is_never_warned_about():
    assert language_warning("der die das und ist", "symbols") is None
    assert language_warning("der die das und ist", None) is None
    assert language_warning("Zwei Hunde spielen im Schnee und der Mann ist müde.", "de") is None


def test_latin_share_counts_letters_only():
    assert latin_share("abc 123 !") == 1.0
    assert latin_share("ab Жж") == 0.5
    assert latin_share("123 😀") is None


def test_the_translate_page_flags_unknown_parts_and_another_language():
    app = run_app({"ckpt": "en-de", "text": "Zwei Hunde 🐕 spielen im Schnee und der Mann ist müde."})
    warnings = texts(app.warning)
    assert any("read as `<unk>`: “🐕”" in message for message in warnings)
    assert any("looks like German" in message for message in warnings)
    assert len(app.code) == 1  # translated all the same
    app.text_area(key="text").input("Two dogs are playing in the snow.").run()
    assert not app.warning


def test_the_show_marker_switch_reaches_every_figure_and_the_head_view():
    app = run_app({"ckpt": "en-de", "text": "Two dogs are playing."})
    switch = app.sidebar.toggle(key="show_marker")
    assert switch.value is True and "▁" in str(chart_spec(app, "attention_map"))
    switch.set_value(False).run()
    for key in ("attention_map", "token_probs", "model_view"):
        assert "▁" not in json.dumps(chart_spec(app, key), ensure_ascii=False), key
    assert "▁" not in json.dumps(head_view(app), ensure_ascii=False)
    assert "dogs" in str(chart_spec(app, "attention_map")["layout"]["xaxis"]["ticktext"])
    app.sidebar.toggle(key="present").set_value(True).run()  # presentation mode hides it by default ...
    assert app.sidebar.toggle(key="show_marker").value is False
    app.sidebar.toggle(key="present").set_value(False).run()  # ... and shows it again afterwards
    assert app.sidebar.toggle(key="show_marker").value is True
    assert run_app({"ckpt": "en-de", "present": "1"}).sidebar.toggle(key="show_marker").value is False
