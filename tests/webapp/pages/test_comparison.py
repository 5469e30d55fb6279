"""webapp/pages/comparison.py, the Compare page's state and results, without Streamlit."""

import numpy as np

from webapp.pages import comparison as app_compare


def test_alignment_of_reads_each_words_row_and_its_argmax():
    weights = np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]])  # rows writing y_1, y_2, </s>
    words, aligned, links = app_compare.alignment_of(weights, ["a", "b", "</s>"])
    assert words == ["a", "b"] and aligned.shape == (2, 2) and links == [(0, 1), (1, 0)]
    assert app_compare.alignment_of(weights[:1], ["</s>"])[2] == []  # an empty translation
