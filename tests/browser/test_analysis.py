"""The Analysis page in a real browser, with the server and Chromium of tests/browser/conftest.py:
reached from the Translate page, a tab opened, a head statistics cell clicked, which opens that
head on the Translate page. Saves a screenshot to test-artifacts/analysis.png."""

import pytest

from tests.browser.chromium import ARTIFACTS, wait_for_map_title

pytestmark = pytest.mark.browser  # end to end in Chromium: -m 'not browser' leaves them out


def test_analysis_page_in_a_browser(page, server):
    page.goto(f"{server}/translate?ckpt=toy-reverse&text=a%20b%20c%20d")
    page.locator(".st-key-attention_map .js-plotly-plot").wait_for()
    page.get_by_role("link", name="Analysis").click()
    page.locator(".st-key-rollout .js-plotly-plot").wait_for()
    page.get_by_role("tab", name="Head statistics").click()
    grid = page.locator(".st-key-stats_entropy .js-plotly-plot")
    grid.wait_for()
    page.wait_for_url("**tab=statistics**")
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", polling=200)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".js-plotly-plot").count() == 3  # entropy, distance, share on EOS/punctuation
    # Each figure's title (wrapped to two lines) ends above its panels' titles ("Encoder self-attention").
    for key in ("stats_entropy", "stats_distance", "stats_eos_punct"):
        title = page.locator(f".st-key-{key} .gtitle").bounding_box()
        panel_title = page.locator(f".st-key-{key} .annotation").first.bounding_box()
        assert title["y"] + title["height"] <= panel_title["y"], key
    # A full-height window, so the screenshot holds the whole page (Streamlit scrolls inside it).
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1000, height)})
    page.wait_for_timeout(1000)  # let Plotly redraw at the new size
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "analysis.png")

    # The first panel is the encoder's: 2 layers x 4 heads. Its bottom-right cell is layer 2, head 4.
    panel = grid.locator(".nsewdrag").first
    panel.scroll_into_view_if_needed()
    box = panel.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 7 / 8, box["y"] + box["height"] * 3 / 4)
    page.wait_for_url("**/translate?**")
    wait_for_map_title(page, "Encoder self-attention, layer 2, head 4")
    assert "kind=encoder" in page.url and "layer=2" in page.url and "head=4" in page.url
    assert "text=a+b+c+d" in page.url  # the sentence went along
    assert page.locator('[data-testid="stException"]').count() == 0


def test_attribution_tab_in_a_browser(page, server):
    page.goto(f"{server}/analysis?ckpt=toy-reverse&text=a%20b%20c%20d&tab=attribution&steps=16")
    page.locator(".st-key-attribution_agreement .js-plotly-plot").wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", polling=200)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".js-plotly-plot").count() >= 2  # attribution, attention, rollout, agreement: 4
    assert "tab=attribution" in page.url and "steps=16" in page.url
