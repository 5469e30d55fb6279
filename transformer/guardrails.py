"""Guardrails for the text a user types: which parts of it the model cannot read (they became
<unk>), and whether it is probably not written in the checkpoint's source language. Plain
Python: the tokenizer is only asked for its tokens and their offsets.

The language check is a heuristic, stated in full so that a teacher can explain it:
1. script: for a language written in Latin letters, at least half of the input's letters must be
   Latin (a Cyrillic, Greek, Arabic or CJK sentence fails);
2. function words: the input's words are compared with short lists of the most frequent words
   of a few languages (only words that belong to one list count: "la" is French and Spanish, so
   it counts for neither). If another language has at least two such words and more than the source language,
   the input probably is in that language.
"""

import re
import unicodedata

from .tokenizer import UNK, Tokenizer

LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}
LATIN_SCRIPT = set(LANGUAGE_NAMES)  # the languages above are all written in Latin letters
_FREQUENT_WORDS = {
    "en": "the a an and is are of to in it that this with for on was were he she they you not be at by from have has",
    "de": "der die das und ist sind ein eine nicht ich du er sie wir mit auf den dem des zu im von für es auch",
    "fr": "le la les et est sont un une des du de pas je tu il elle nous avec sur dans pour que qui au aux ce",
    "es": "el la los las y es son un una del de no yo tú él ella con en por para que se al lo muy está",
}
_WORD_LISTS = {language: set(words.split()) for language, words in _FREQUENT_WORDS.items()}
# A word in two lists tells nothing about which language it is.
FUNCTION_WORDS = {
    language: {w for w in words if sum(w in other for other in _WORD_LISTS.values()) == 1}
    for language, words in _WORD_LISTS.items()
}
MIN_FUNCTION_WORDS = 2  # fewer is no evidence: a name or a borrowed word
MIN_LATIN_SHARE = 0.5
WORD = re.compile(r"[^\W\d_]+")  # runs of letters


def unknown_parts(text: str, tokenizer: Tokenizer) -> list[str]:
    """The parts of text (as typed) that became <unk>, in order, each once: adjacent unknown
    tokens are one part ("Привет", "😀")."""
    encoding = tokenizer.backend.encode(text, add_special_tokens=False)
    spans: list[list[int]] = []
    for token, (start, end) in zip(encoding.tokens, encoding.offsets):
        if token != UNK:
            continue
        if spans and text[spans[-1][1] : start].strip() == "":
            spans[-1][1] = end  # adjacent, or only a space between: one part
        else:
            spans.append([start, end])
    return list(dict.fromkeys(text[start:end].strip() for start, end in spans))


def latin_share(text: str) -> float | None:
    """The share of the letters of text that are Latin; None if it has none."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    return sum(unicodedata.name(c, "").startswith("LATIN") for c in letters) / len(letters)


def function_words(text: str) -> dict[str, list[str]]:
    """The function words of each language (FUNCTION_WORDS) found in text, in order."""
    words = WORD.findall(text.lower())
    return {language: [w for w in words if w in vocabulary] for language, vocabulary in FUNCTION_WORDS.items()}


def language_warning(text: str, source_language: str | None) -> str | None:
    """One line saying why text is probably not in source_language (a code of LANGUAGE_NAMES),
    or None: it looks right, or the language is not one this check knows (a toy's symbols)."""
    if source_language not in LANGUAGE_NAMES:
        return None
    name = LANGUAGE_NAMES[source_language]
    share = latin_share(text)
    if source_language in LATIN_SCRIPT and share is not None and share < MIN_LATIN_SHARE:
        return f"Most of its letters are not Latin: this model reads {name} and may not translate it."
    found = function_words(text)
    best = max(found, key=lambda language: len(found[language]))
    if (
        best != source_language
        and len(found[best]) >= MIN_FUNCTION_WORDS
        and len(found[best]) > len(found[source_language])
    ):
        words = ", ".join(dict.fromkeys(found[best]))
        return f"This looks like {LANGUAGE_NAMES[best]} ({words}), not {name}: the model may not translate it."
    return None
