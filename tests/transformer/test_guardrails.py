"""Input guardrails (transformer/guardrails.py): the parts of a text that became <unk>, the
warning for text that is probably not in the checkpoint's source language; and the sidebar's "Show ▁" switch."""

import pytest

from tests.helpers import ROOT
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
