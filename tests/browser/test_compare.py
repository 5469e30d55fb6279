"""The Compare page in a real browser (tests/browser/conftest.py's server and Chromium), on the app as
`make run` starts it: English into German and French side by side, the issue's own link.
Saves test-artifacts/compare.png."""

from urllib.parse import quote

import pytest

from tests.browser.chromium import ARTIFACTS, wait_until_idle

pytestmark = pytest.mark.browser  # end to end in Chromium: -m 'not browser' leaves them out

SENTENCE = "The little girl is eating a red apple."


def test_compare_page_in_a_browser(page, server):
    page.goto(f"{server}/compare?ckpts=en-de,en-fr&text={quote(SENTENCE)}")
    for key in ("compare_map_0", "compare_links_0", "compare_map_1", "compare_links_1"):
        page.locator(f".st-key-{key} .js-plotly-plot").wait_for()
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    translations = page.locator('[data-testid="stCode"]').all_inner_texts()
    assert len(translations) == 2 and "Apfel" in translations[0] and "pomme" in translations[1], translations
    assert page.locator(".js-plotly-plot").count() >= 4  # a map and the links per checkpoint
    # Side by side: the second column's map starts level with the first's, to its right.
    first, second = (page.locator(f".st-key-compare_map_{i} .js-plotly-plot").bounding_box() for i in (0, 1))
    assert second["x"] >= first["x"] + first["width"] - 1 and abs(second["y"] - first["y"]) < 2
    assert "ckpts=en-de%2Cen-fr" in page.url and "layer=sharpest" in page.url
    assert page.get_by_text("en-fr (en → fr)").count() >= 1

    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1000, height)})
    page.wait_for_timeout(1000)  # let Plotly redraw at the new size
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "compare.png")


def test_three_maps_on_a_projector_fill_their_figures(page, server):
    """Presentation mode sizes each map for a third of the page: no blank band between the title
    and the cells (a map sized for the whole width drew one of 200 px), and every map whole above
    the fold, every token labelled."""
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server}/compare?present=1&ckpts=en-de,en-es,en-fr&text={quote(SENTENCE)}")
    for index in range(3):
        page.locator(f".st-key-compare_map_{index} .js-plotly-plot").wait_for()
    wait_until_idle(page)
    page.wait_for_timeout(500)  # Plotly's last redraw at the final width
    assert page.locator('[data-testid="stException"]').count() == 0
    for index in range(3):
        figure = page.locator(f".st-key-compare_map_{index} .js-plotly-plot").bounding_box()
        plot = page.locator(f".st-key-compare_map_{index} .nsewdrag").first.bounding_box()
        assert plot["y"] - figure["y"] < 130, index  # a two-line title at 16 px, no more
        assert figure["y"] + figure["height"] <= 1080, index
        labels, rows = page.locator(f".st-key-compare_map_{index} .js-plotly-plot").evaluate(
            "chart => [chart.layout.yaxis.ticktext.length, chart.data[0].text.length]"  # text: a hover per cell
        )
        assert labels == rows, index
