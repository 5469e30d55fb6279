"""The real app in a real browser: `streamlit run app.py` on a free port, opened in headless
Chromium through Playwright. Saves screenshots to test-artifacts/ (translate.png, head-view.png,
and the head view's own PNG download, head-view-download.png).

Without Chromium (or Playwright) these tests skip, except under CI=true, where they fail."""

import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.browser.chromium import ARTIFACTS, map_title, wait_for_map_title, wait_until_idle

pytestmark = pytest.mark.browser  # end to end in Chromium: -m 'not browser' leaves them out

SENTENCE = "Two dogs are playing in the snow."


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_every_kind_of_attention_is_in_sight(page, server):
    """The Kind picker's three long names all show where it is drawn, on a laptop's width as on a
    smaller one: none scrolled out of its box (as they were in half of the page's width)."""
    for width in (1400, 1024):
        page.set_viewport_size({"width": width, "height": 1000})
        page.goto(f"{server}/translate")
        page.locator(".st-key-attention_map .js-plotly-plot").wait_for()
        box = page.locator(".st-key-kind").bounding_box()
        buttons = page.locator(".st-key-kind button")
        assert buttons.count() == 3
        for button in buttons.all():
            place = button.bounding_box()
            assert box["x"] <= place["x"] and place["x"] + place["width"] <= box["x"] + box["width"] + 1, width


def test_translate_page_in_a_browser(page, server):
    page.goto(f"{server}/translate?text=Two%20dogs%20are%20playing%20in%20the%20snow.")
    translation = page.locator('[data-testid="stCode"]')
    translation.wait_for()
    for key in ("token_probs", "attention_map", "model_view"):
        page.locator(f".st-key-{key} .js-plotly-plot").wait_for()
    head_view_frame(page)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", polling=200)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stTextArea"] textarea').input_value() == SENTENCE
    assert translation.inner_text().strip()
    assert "layer 3" in map_title(page)  # en-de's sharpest encoder-decoder attention
    assert "layer=3" in page.url and "text=Two+dogs" in page.url

    # A full-height window, so the screenshot holds the whole page (Streamlit scrolls inside it).
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1000, height)})
    page.wait_for_timeout(1000)  # let Plotly redraw at the new size
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "translate.png")

    # Another layer: the map is redrawn and the URL follows.
    page.locator(".st-key-layer [role=combobox]").click()
    page.get_by_role("option", name="Layer 2").click()
    wait_for_map_title(page, "layer 2")
    page.wait_for_url("**layer=2**")
    assert page.locator('[data-testid="stException"]').count() == 0


def test_clicking_the_model_view_enlarges_that_map(page, server):
    page.goto(f"{server}/translate?text=a%20b%20c%20d&ckpt=toy-reverse&kind=encoder")
    grid = page.locator(".st-key-model_view .js-plotly-plot")
    grid.wait_for()
    wait_for_map_title(page, "Encoder self-attention, layer 1")
    # Subplots are numbered row by row: the 6th is layer 2, head 2 (4 heads a row).
    cell = grid.locator(".nsewdrag").nth(5)
    cell.scroll_into_view_if_needed()
    box = cell.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_for_map_title(page, "layer 2, head 2")
    page.wait_for_url("**head=2**")
    assert page.locator('[data-testid="stException"]').count() == 0


def head_view_frame(page):
    """The head view's iframe, once its script has drawn the tokens."""
    frame = page.frame_locator(".st-key-head_view iframe")
    frame.locator("#head-view .token").first.wait_for()
    return frame


def drawn_lines(frame) -> set[tuple[int, int, int]]:
    """(head, query, key) of every line in the data the page carries."""
    data = json.loads(frame.locator("#head-view-data").text_content())
    return {(head["head"], q, k) for head in data["heads"] for q, k, _ in head["lines"]}


def visible_lines(frame) -> set[tuple[int, int, int]]:
    """(head, query, key) of the lines the page shows now (none of them, nor a parent, hidden)."""
    # Element.checkVisibility() misses an SVG element hidden by its parent group: walk up instead.
    lines = frame.locator("#head-view").evaluate(
        """svg => {
            const shown = (element) => element === svg || (getComputedStyle(element).display !== "none"
                && shown(element.parentNode));
            return [...svg.querySelectorAll("line.link")].filter(shown)
                .map(line => [+line.parentNode.dataset.head, +line.dataset.query, +line.dataset.key]);
        }"""
    )
    return {tuple(line) for line in lines}


def token(frame, side: str, index: int):
    return frame.locator(f'#head-view .token[data-side="{side}"][data-index="{index}"]')


def test_head_view_hover_focuses_a_tokens_lines_and_a_click_pins_them(page, server):
    """Saves a screenshot of the hover state to test-artifacts/head-view.png."""
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"{server}/translate?text=Two%20dogs%20are%20playing%20in%20the%20snow.&heads=1,2,3,4")
    frame = head_view_frame(page)
    every = drawn_lines(frame)
    assert visible_lines(frame) == every
    key, query = 1, 2
    lines_of_key = {line for line in every if line[2] == key}
    lines_of_query = {line for line in every if line[1] == query}
    assert lines_of_key and lines_of_query and lines_of_key != every

    # Hover: only the token's lines stay; it is the current token, the queries it reaches stand out.
    page.locator(".st-key-head_view").scroll_into_view_if_needed()  # the screenshot must not scroll the token away
    token(frame, "key", key).hover()
    assert visible_lines(frame) == lines_of_key
    assert "current" in token(frame, "key", key).get_attribute("class")
    linked = frame.locator("#head-view .token.linked").evaluate_all("tokens => tokens.map(t => +t.dataset.index)")
    assert set(linked) == {q for _, q, _ in lines_of_key}
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".st-key-head_view").screenshot(path=ARTIFACTS / "head-view.png")
    page.mouse.move(2, 2)  # out of the iframe
    assert visible_lines(frame) == every

    # A click pins the focus: hovering elsewhere leaves it; a click on another token moves it,
    # a second click on it unpins (its lines stay only while the pointer is on it).
    token(frame, "key", key).click()
    token(frame, "query", query).hover()
    assert visible_lines(frame) == lines_of_key
    page.mouse.move(2, 2)
    assert visible_lines(frame) == lines_of_key
    token(frame, "query", query).click()
    assert visible_lines(frame) == lines_of_query
    assert "pinned" in token(frame, "query", query).get_attribute("class")
    token(frame, "query", query).click()
    assert visible_lines(frame) == lines_of_query
    page.mouse.move(2, 2)
    assert visible_lines(frame) == every

    # The legend hides a head's lines, focused or not, and shows them again.
    frame.locator('#head-view .legend-item[data-head="0"]').click()
    assert visible_lines(frame) == {line for line in every if line[0] != 0}
    token(frame, "key", key).hover()
    assert visible_lines(frame) == {line for line in lines_of_key if line[0] != 0}
    frame.locator('#head-view .legend-item[data-head="0"]').click()
    assert visible_lines(frame) == every
    assert not errors


def test_head_view_downloads_png_and_svg(page, server):
    """The iframe's sandbox allows downloads: the buttons save real files. Keeps the PNG as
    test-artifacts/head-view-download.png."""
    page.goto(f"{server}/translate?text=Two%20dogs%20are%20playing%20in%20the%20snow.")
    frame = head_view_frame(page)
    data = json.loads(frame.locator("#head-view-data").text_content())
    width, height = frame.locator("#head-view").evaluate("svg => [svg.width.baseVal.value, svg.height.baseVal.value]")

    with page.expect_download() as download:
        frame.get_by_role("button", name="Download PNG").click()
    assert download.value.suggested_filename == "head-view-cross-layer3.png"
    png = Path(download.value.path()).read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    assert struct.unpack(">II", png[16:24]) == (2 * width, 2 * height)  # IHDR: drawn at 2x
    ARTIFACTS.mkdir(exist_ok=True)
    download.value.save_as(ARTIFACTS / "head-view-download.png")

    with page.expect_download() as download:
        frame.get_by_role("button", name="Download SVG").click()
    assert download.value.suggested_filename == "head-view-cross-layer3.svg"
    svg = ET.parse(download.value.path()).getroot()  # a standalone, well-formed SVG file
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {text.text for text in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert {*data["queries"], *data["keys"], "head 4", "Layer 3"} <= texts  # en-de's sharpest head
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}line"))) >= len(drawn_lines(frame))


TEACHING_PAGES = ("positional-encoding", "masks", "decoding", "model")


def test_teaching_pages_in_a_browser(page, server):
    for path in TEACHING_PAGES:
        page.goto(f"{server}/{path}")
        page.locator(".js-plotly-plot").first.wait_for()
        wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, path
        assert page.locator(".js-plotly-plot").count() >= 1, path


def test_presentation_mode_in_a_browser(page, server):
    """Larger text, no decoding controls, and the mode follows the presenter from page to page.
    Saves a screenshot to test-artifacts/presentation.png."""
    page.goto(f"{server}/masks?present=1")
    page.locator(".st-key-step_weights .js-plotly-plot").wait_for()
    wait_until_idle(page)
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "20px"
    assert page.locator(".st-key-sidebar_details").is_hidden()
    assert page.locator(".st-key-ckpt").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "presentation.png")
    page.get_by_role("link", name="Decoding, step by step").click()
    page.locator(".st-key-next_tokens .js-plotly-plot").wait_for()
    page.wait_for_url("**present=1**")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".st-key-sidebar_details").is_hidden()


def boxes_inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


def test_a_phone_keeps_titles_clear_of_the_toolbar_and_tokens_inside_their_cells(page, server):
    """At 390 px wide: the map's title under its toolbar, each token of the translation inside its
    coloured cell. Saves test-artifacts/phone.png."""
    page.set_viewport_size({"width": 390, "height": 1600})
    page.goto(f"{server}/translate?text=Two%20dogs%20are%20playing%20in%20the%20snow.")
    chart = page.locator(".st-key-attention_map .js-plotly-plot")
    chart.wait_for()
    wait_until_idle(page)
    chart.scroll_into_view_if_needed()
    chart.hover()
    toolbar = page.locator(".st-key-attention_map .modebar").bounding_box()
    title = page.locator(".st-key-attention_map .gtitle").bounding_box()
    assert title["y"] >= toolbar["y"] + toolbar["height"] - 1, (title, toolbar)
    cells = page.locator(".st-key-token_probs .trace.bars .point")
    assert cells.count() >= 7  # "Zwei Hunde spielen im Schnee." and </s>
    for index in range(cells.count()):
        cell = cells.nth(index)
        assert boxes_inside(cell.locator("text").bounding_box(), cell.locator("path").bounding_box()), index
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "phone.png")
