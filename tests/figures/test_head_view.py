"""The head view page (figures/head_view.py) without a browser: the data it carries, the lines
it draws, its size, and tokens that cannot break out of it. tests/browser/test_app.py drives it."""

import re

import numpy as np
import pytest

from figures import head_view_height, head_view_html
from figures.head_view import HEAD_COLORS, HEAD_VIEW_MIN_WEIGHT, SCRIPT, STYLE
from tests.helpers import head_view_data, page_scripts

QUERIES = ["<s>", "▁die", "▁Katze", "▁die"]  # "▁die" twice: each position keeps its own row


KEYS = ["▁the", "▁cat", "▁saw", "▁the", "▁dog", "</s>"]


HOSTILE = [
    "</script><script>alert(1)</script>",
    "</SCRIPT >",
    "<!--<script>",
    "\"double\" 'single' `back`",
    "a & b <c> &amp;",
    "🐕‍🦺",
    "שלום עולם",  # right to left
    "\u2028\u2029",
    "\\u003c",
]


@pytest.fixture
def rng(fresh_seed):
    return np.random.default_rng(fresh_seed)


def random_attention(rng, *shape) -> np.ndarray:
    """Softmax rows, peaked enough that some weights fall under the drawing threshold."""
    scores = np.exp(3 * rng.standard_normal(shape))
    return scores / scores.sum(axis=-1, keepdims=True)


def drawn_lines(data: dict) -> dict[int, dict[tuple[int, int], float]]:
    return {head["head"]: {(q, k): w for q, k, w in head["lines"]} for head in data["heads"]}


def test_lines_are_the_weights_above_the_threshold_with_the_weight_as_opacity(rng):
    n_heads = 4
    weights = random_attention(rng, n_heads, len(QUERIES), len(KEYS))
    weights[1, 0, :2] = [HEAD_VIEW_MIN_WEIGHT, np.nextafter(HEAD_VIEW_MIN_WEIGHT, 0)]  # on and just under
    heads = sorted({1, *rng.choice(n_heads, size=2, replace=False).tolist()})
    data = head_view_data(head_view_html(weights, QUERIES, KEYS, heads, title="Layer 2"))

    lines = drawn_lines(data)
    assert sorted(lines) == heads  # the chosen heads only, each once
    for h in heads:
        expected = {
            (q, k): weights[h, q, k]
            for q in range(len(QUERIES))
            for k in range(len(KEYS))
            if weights[h, q, k] >= HEAD_VIEW_MIN_WEIGHT
        }
        assert set(lines[h]) == set(expected), f"head {h}"
        for pair, weight in expected.items():
            assert lines[h][pair] == pytest.approx(weight, abs=5e-4), (h, pair)
    assert (0, 0) in lines[1] and (0, 1) not in lines[1]
    assert [(head["name"], head["color"]) for head in data["heads"]] == [
        (f"head {h + 1}", HEAD_COLORS[h]) for h in heads
    ]  # colours follow the head number, not its place among the chosen
    assert data["title"] == "Layer 2"


def test_page_holds_every_token_and_each_ones_strongest_links(rng):
    weights = random_attention(rng, 3, len(QUERIES), len(KEYS))
    data = head_view_data(head_view_html(weights, QUERIES, KEYS, [0, 2]))
    assert data["queries"] == QUERIES and data["keys"] == KEYS
    for i, tip in enumerate(data["queryTips"]):
        assert tip.startswith(f"query {QUERIES[i]} ({i}) attends to")
        for h in (0, 2):
            best = int(np.argmax(weights[h, i]))
            assert f"head {h + 1}: {KEYS[best]} ({best}) {weights[h, i, best]:.2f}" in tip
        assert "head 2:" not in tip
    for j, tip in enumerate(data["keyTips"]):
        best = int(np.argmax(weights[2, :, j]))
        assert f"key {KEYS[j]} ({j}) is attended by" in tip
        assert f"head 3: {QUERIES[best]} ({best}) {weights[2, best, j]:.2f}" in tip


def test_page_is_self_contained():
    page = head_view_html(random_attention(np.random.default_rng(), 2, 2, 3), ["a", "b"], ["x", "y", "z"], [0, 1])
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}  # a namespace, no fetch
    assert "src=" not in page and "<link" not in page and "plotly" not in page.lower()
    assert STYLE in page and SCRIPT in page
    assert 'id="download-png"' in page and 'id="download-svg"' in page


def test_hostile_tokens_stay_inside_the_json_block(rng):
    n = len(HOSTILE)
    queries, keys = HOSTILE, HOSTILE[::-1]
    weights = random_attention(rng, 2, n, n)
    page = head_view_html(weights, queries, keys, [0, 1], title=HOSTILE[0], filename="head-view")
    scripts = page_scripts(page)
    # As a browser splits the page: the data block, then the code, and no third script.
    assert [attributes.get("id") for attributes, _ in scripts] == ["head-view-data", None]
    assert scripts[1][1].strip() == SCRIPT.strip()
    data_text = scripts[0][1]
    assert not set("<>&") & set(data_text)
    data = head_view_data(page)
    assert data["queries"] == queries and data["keys"] == keys and data["title"] == HOSTILE[0]
    assert page.lower().count("</script") == 2


def test_height_grows_with_the_longer_side_and_the_font():
    assert head_view_height(3, 3) < head_view_height(3, 60) == head_view_height(60, 3)
    assert head_view_height(10, 10) < head_view_height(10, 10, font_size=16)
    for rows, font_size in ((1, 13), (60, 13), (20, 16)):
        data = head_view_data(head_view_html(np.ones((1, rows, 1)), ["q"] * rows, ["k"], [0], font_size=font_size))
        assert data["fontSize"] == font_size
        # The drawing holds its header and every row, and leaves room for the buttons under it.
        assert (data["headerRows"] + rows) * data["rowHeight"] <= data["height"] < head_view_height(rows, 1, font_size)


MISMATCH = r"do not match \(heads, 4 queries, 6 keys\)"


@pytest.mark.parametrize(
    "shape, heads, message",
    [
        ((2, 3, 3), [0], MISMATCH),
        ((2, 6, 4), [0], MISMATCH),  # queries and keys swapped
        ((4, 6), [0], MISMATCH),  # one head without its axis
        ((2, 4, 6), [2], "not all among the 2 heads"),
        ((2, 4, 6), [-1], "not all among the 2 heads"),
    ],
)
def test_rejects_weights_that_do_not_match(shape, heads, message):
    with pytest.raises(ValueError, match=message):
        head_view_html(np.full(shape, 0.5), QUERIES, KEYS, heads)
