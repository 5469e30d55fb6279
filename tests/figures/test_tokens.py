"""figures/tokens.py: tokens as the figures show them (the word-start marker) and the token
probabilities figure."""

import numpy as np
import pytest

from figures import (
    step_attention,
    token_probabilities,
)
from figures.tokens import display_token, without_marker


def test_token_probabilities_wrap_rows_and_keep_labels_inside_their_cells():
    tokens = [f"t{i}" for i in range(12)] + ["<s>"]
    probs = list(np.linspace(0, 1, 13))
    figure = token_probabilities(tokens, probs, per_row=5)
    [cells] = figure.data
    assert list(cells.y) == [0] * 5 + [1] * 5 + [2] * 3  # three rows, the last one short
    assert list(cells.base) == [0, 1, 2, 3, 4] * 2 + [0, 1, 2] and set(cells.x) == {1}
    np.testing.assert_allclose(cells.marker.color, probs)
    assert (cells.marker.cmin, cells.marker.cmax) == (0, 1)
    assert cells.text[12] == "&lt;s&gt;"
    assert cells.textposition == "inside"  # Plotly shrinks a label to its cell rather than overflowing it
    assert list(cells.customdata[5]) == [5, probs[5]]  # the token's position and probability, shown on hover
    assert "probability: %{customdata[1]" in cells.hovertemplate
    assert tuple(figure.layout.xaxis.range) == (0, 5)


def test_token_probabilities_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 tokens but 1 probabilities"):
        token_probabilities(["a", "b"], [0.5])


def test_display_token_drops_only_the_word_start_marker():
    assert display_token("▁Hund") == "▁Hund"  # shown as the vocabulary has it by default
    assert [display_token(t, show_marker=False) for t in ["▁Hund", "e", "▁", "<s>", "▁▁x"]] == [
        "Hund",
        "e",
        "▁",  # a space token stays visible
        "<s>",
        "x",
    ]


def test_without_marker_reaches_every_text_of_a_figure():
    figure = step_attention(np.full((1, 2, 3), 1 / 3), ["▁Zwei", "▁Hunde", "</s>"], title="▁Hunde at step 1")
    stripped = without_marker(figure)
    assert list(stripped.layout.xaxis.ticktext) == ["Zwei", "Hunde", "&lt;/s&gt;"]
    assert stripped.layout.title.text == "Hunde at step 1"
    assert "▁" not in str(stripped.to_plotly_json())  # hover texts, cell texts, custom data too
    assert stripped.to_plotly_json()["data"][0]["z"] == figure.to_plotly_json()["data"][0]["z"]  # numbers kept
    assert "▁" in figure.layout.title.text  # pure: the figure given is unchanged
