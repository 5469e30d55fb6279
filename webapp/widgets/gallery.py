"""The example gallery of the Translate, Decoding, Inside and Compare pages: a row of curated
sentences for the loaded checkpoint's source language (Compare: English sentences whose word order
differs between the target languages), each with one line on what to look at. A click puts the
sentence in the shared text.

Session state: owns the key each page gives its row ("translate_example", ...: the example shown,
set from the sentence on every run); a click sets "text", the sentence the pages share.
"""

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Example:
    label: str
    text: str
    look: str


GALLERY = {  # source_language -> examples
    "en": (
        Example(
            "Caption",
            "Two dogs are playing in the snow.",
            "An image caption like most of the training data: a clean word-for-word alignment.",
        ),
        Example(
            "Everyday",
            "Where is the train station?",
            "An everyday question (Tatoeba): two English words, “train station”, become one German word.",
        ),
        Example(
            "Long",
            "A young woman in a red jacket is walking her two dogs along the beach while the sun sets behind the hills.",
            "A long sentence: the alignment stays sharp far from the start; the maps thin their labels.",
        ),
        Example(
            "Pronoun",
            "The animal didn't cross the street because it was too tired.",
            "Which noun is “it”? The model writes “es” (das Tier): look at that row of the cross-attention.",
        ),
        Example(
            "Paper title",
            "Attention is all you need.",
            "The paper's title, far from the captions the model learned from: watch it fail, and where it looked.",
        ),
        Example(
            "Verb at the end",
            "I know that the man has bought a new car.",
            "German puts the verb of the subordinate clause last: the alignment crosses over at “gekauft”.",
        ),
    ),
    "symbols": (
        Example("Alphabet", "a b c d e f g h", "The toy reverses its input: the alignment is the anti-diagonal."),
        Example("Short", "x y z", "Three symbols: one sharp cell per row, from the last to the first."),
        Example("Repeats", "a a b b c c", "Repeated symbols: which copy does each output look at?"),
        Example("Digits", "1 2 3 4 5 6 7 8 9", "Digits reversed; the last output looks at the first input."),
    ),
}


# English sentences that German, French and Spanish reorder, merge or split in different ways.
COMPARE = (
    Example(
        "Adjective after the noun",
        "The little girl is eating a red apple.",
        "German keeps the order (einen roten Apfel); French and Spanish put the colour after the noun "
        "(une pomme rouge, una manzana roja): there the links of “red” and “apple” cross.",
    ),
    Example(
        "Verb at the end",
        "I think that he has already bought the blue car.",
        "German sends “bought” and “has” to the end of the clause (… bereits gekauft hat): their links cross "
        "back over the object; French and Spanish keep them in place but put “blue” after “car”.",
    ),
    Example(
        "Compound",
        "The children are playing football in the school yard.",
        "German joins “school yard” into one word (Schulhof) and puts the place before the object; French "
        "and Spanish keep only “yard” (le jardin, el patio): “school” gets no word of its own.",
    ),
    Example(
        "Elision",
        "The man opens the window of the hotel.",
        "French elides “the” before a vowel (l'hôtel) and Spanish merges “of the” (del hotel): one target "
        "token links to two English words, or two to one.",
    ),
    Example(
        "Old man in the park",
        "The old man is reading a newspaper in the park.",
        "“in the” becomes one word in German (im Park); Spanish may say “the old man” in one word (el anciano).",
    ),
)


def examples(source_language: str | None) -> tuple[Example, ...]:
    return GALLERY.get(source_language, ())


def gallery_texts() -> set[str]:
    """Every sentence of the gallery, whatever the language: text a checkpoint change may replace."""
    return {example.text for language in (*GALLERY.values(), COMPARE) for example in language}


def _use_example(key: str, by_label: dict[str, Example]) -> None:
    chosen = st.session_state.get(key)
    if chosen in by_label:
        st.session_state["text"] = by_label[chosen].text


def gallery(source_language: str | None, key: str, choices: tuple[Example, ...] | None = None) -> None:
    """The row of examples (choices, by default the source language's), above the sentence's
    editor (it sets st.session_state["text"]), and what to look at for the one shown."""
    by_label = {example.label: example for example in (examples(source_language) if choices is None else choices)}
    if not by_label:
        return
    shown = next((e for e in by_label.values() if e.text == st.session_state.get("text")), None)
    st.session_state[key] = shown.label if shown else None
    st.pills(
        "Examples",
        list(by_label),
        key=key,
        on_change=_use_example,
        args=(key, by_label),
        help="Curated sentences, each showing something; type your own below.",
    )
    if shown:
        st.caption(f"**What to look at:** {shown.look}")
