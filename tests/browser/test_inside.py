"""The "Inside a layer" page in a real browser, with the server and Chromium of
tests/browser/conftest.py: opened by its URL on the shipped en-de model, drawn without an exception,
and a click on a key of the neuron view shows that key's q ⊙ k bars. Saves the whole page to
test-artifacts/inside.png."""

import pytest

from tests.browser.chromium import ARTIFACTS, wait_until_idle

pytestmark = pytest.mark.browser  # end to end in Chromium: -m 'not browser' leaves them out

URL = "/inside?ckpt=en-de&text=Two%20dogs%20are%20playing%20in%20the%20snow.&kind=cross&layer=2&head=3&query=4"


def rows_name_their_tokens(page) -> None:
    """The layer's input X: a row per token, top to bottom, its tick the token; the hover over a
    cell names its row's token and position and the cell's dimension."""
    chart = page.locator(".st-key-inside_input .js-plotly-plot")
    ticks = chart.locator(".yaxislayer-above .ytick text")
    labels = [tick.text_content() for tick in ticks.all()]
    assert len(labels) >= 3 and labels[0] == "▁Zwei"  # the decoder's first row writes "Zwei"
    tops = [tick.bounding_box()["y"] for tick in ticks.all()]
    assert tops == sorted(tops)  # the first token on top
    plot = chart.locator(".nsewdrag").first.bounding_box()  # the first panel's plot area
    row_height = plot["height"] / len(labels)
    page.mouse.move(plot["x"] + plot["width"] / 2, plot["y"] + row_height * 1.5)  # the second row
    hover = chart.locator(".hoverlayer .hovertext")
    hover.wait_for()
    assert hover.text_content().startswith(f"{labels[1]} (1), dimension ")


def test_inside_page_in_a_browser(page, server):
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"{server}{URL}")
    page.locator(".st-key-inside_ff_output .js-plotly-plot").wait_for()
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".js-plotly-plot").count() >= 6
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "W^O" in text and "feed-forward" in text
    assert "kind=cross" in page.url and "query=4" in page.url
    rows_name_their_tokens(page)

    # A click on a key's marker in the neuron view shows that key's q ⊙ k bars.
    neuron_view = page.locator(".st-key-inside_neuron_view .js-plotly-plot")
    neuron_view.scroll_into_view_if_needed()
    marker = neuron_view.locator(".scatterlayer .trace").first.locator(".point").nth(1)  # key 2, "▁dogs"
    box = marker.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(  # the title is wrapped into lines, which textContent joins
        "() => document.querySelector('.st-key-inside_products .gtitle')?.textContent.includes('key ▁dogs:')",
        polling=200,
    )
    wait_until_idle(page)

    # A full-height window, so the screenshot holds the whole page (Streamlit scrolls inside it).
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1000, height)})
    page.wait_for_timeout(1000)  # let Plotly redraw at the new size
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "inside.png")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors
