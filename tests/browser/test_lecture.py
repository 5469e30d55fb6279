"""The app on a 1920×1080 projector, in headless Chromium (one server for the module): the lecture
step by step with the arrow keys, every page in presentation mode (first figure above the fold, no
text in a figure under 16 px), and the Translate view surviving a visit to another page. Saves
test-artifacts/lecture-step-N.png and present-PAGE.png.

Without Chromium (or Playwright) these tests skip, except under CI=true, where they fail."""

import json

import pytest

from tests.browser.chromium import ARTIFACTS, wait_until_idle
from webapp import lecture as app_lecture
from webapp import registry
from webapp.state import present as app_present

pytestmark = pytest.mark.browser  # end to end in Chromium: -m 'not browser' leaves them out

TIMEOUT_MS = 90_000


PROJECTOR = {"width": 1920, "height": 1080}
FOLD_MARGIN = 16  # pixels a first chart ends above the fold at least: a taller figure or font would cross it


LECTURE = app_lecture.load_lecture()
STEPS = len(LECTURE.steps)

# The first visible chart of the slide: its whole plot (Plotly's SVG, axis labels and titles inside it).
FIRST_CHART = ".js-plotly-plot >> visible=true"


PAGES = [path for path in ("inside",) if registry.page(path)]


PAGES = ["translate", "positional-encoding", "masks", *PAGES, "decoding", "model", "analysis", "lecture"]


FIGURES = ".js-plotly-plot, .st-key-head_view iframe"
# What the audience sees first: the lecture hides, on the projector, what its step's page draws
# before the step's figure (those figures are in the page, hidden).
VISIBLE_FIGURES = f"{FIGURES} >> visible=true"


# Pages whose main figure fits the screen whole, below their controls: the attention map, the next
# tokens, the layer's input, the rollout (Compare's and Train's: their own tests).
WHOLE_ABOVE_THE_FOLD = {
    "translate": "attention_map",
    "decoding": "next_tokens",
    "inside": "inside_input",
    "analysis": "rollout",
}


# The smallest font size of a visible text in the page's figures: Plotly's SVG, and the head
# view's, inside its iframe (same origin: srcdoc).
SMALLEST_FONT = """() => {
    const sizes = [];
    const collect = (root) => root.querySelectorAll("svg text").forEach((text) => {
        if (text.textContent.trim() && text.getClientRects().length) {
            sizes.push(parseFloat(getComputedStyle(text).fontSize));
        }
    });
    document.querySelectorAll(".js-plotly-plot").forEach(collect);
    document.querySelectorAll(".st-key-head_view iframe").forEach((frame) => collect(frame.contentDocument));
    return Math.min(...sizes);
}"""


@pytest.fixture
def projector(browser, server):
    page = browser.new_page()
    page.set_viewport_size(PROJECTOR)
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    page.close()


def top(page, selector: str) -> float:
    return page.locator(selector).first.evaluate("element => element.getBoundingClientRect().top")


def first_chart(page, number: int) -> dict:
    """The slide's first visible chart: its box, and whether it is the step's named figure."""
    chart = page.locator(FIRST_CHART).first
    chart.wait_for()
    page.wait_for_timeout(500)  # Plotly's last redraw at the final width
    box = chart.bounding_box()
    figure = LECTURE.steps[number - 1].figure
    named = figure is None or chart.evaluate("(element, key) => !!element.closest('.st-key-' + key)", figure)
    return {"top": box["y"], "bottom": box["y"] + box["height"], "named": named}


def test_the_lecture_step_by_step_with_the_arrow_keys(projector, server):
    """Every slide: no exception, and its first chart, the figure "What to look at" names, whole
    above the fold of a 1920 x 1080 projector (its axis labels included); the notes fold away."""
    page = projector
    page.goto(f"{server}/lecture?step=1")
    bottoms = {}
    for number in range(1, STEPS + 1):
        if number > 1:
            page.evaluate("document.activeElement?.blur()")  # the key goes to the page, not to a widget
            page.keyboard.press("ArrowRight")
        page.wait_for_url(f"**step={number}**")
        page.get_by_text(f"{number} / {STEPS} ·").wait_for()
        page.locator(f"{FIGURES} >> visible=true").first.wait_for()
        wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, number
        assert page.locator(".st-key-lecture_narrative").count() == 0, number  # folded away
        assert "present=1" in page.url
        bottoms[number] = first_chart(page, number)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"lecture-step-{number}.png")
    (ARTIFACTS / "lecture-chart-bottoms.json").write_text(json.dumps(bottoms, indent=1))
    assert all(box["bottom"] <= PROJECTOR["height"] - FOLD_MARGIN for box in bottoms.values()), bottoms
    assert all(box["named"] for box in bottoms.values()), bottoms
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**step={STEPS - 1}**")


def test_the_notes_the_answer_and_the_code_come_with_a_key(projector, server):
    page = projector
    page.goto(f"{server}/lecture?step=1")
    page.locator(".st-key-attention_map .js-plotly-plot").wait_for()
    wait_until_idle(page)
    page.evaluate("document.activeElement?.blur()")
    page.keyboard.press("n")
    page.locator(".st-key-lecture_narrative").get_by_text("What to look at").wait_for()
    assert "The row writing Hunde puts" in page.locator(".st-key-lecture_narrative").inner_text()
    page.keyboard.press("a")
    page.locator(".st-key-lecture_question").get_by_text("Answer:").wait_for()
    assert "Schnee puts" in page.locator(".st-key-lecture_question").inner_text()
    page.keyboard.press("k")
    page.locator(".st-key-lecture_source").get_by_text("◀ here").wait_for()


@pytest.mark.parametrize("path", PAGES)
def test_presentation_mode_on_a_projector(projector, server, path):
    """The first figure starts above the fold (the main one of some pages whole) and no text in any
    figure is under 16 px."""
    page = projector
    page.goto(f"{server}/{path}?present=1")
    page.locator(VISIBLE_FIGURES).first.wait_for()
    wait_until_idle(page)
    page.wait_for_timeout(500)  # Plotly's last redraw at the final width
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stSidebar"]').get_attribute("aria-expanded") != "true"
    assert top(page, VISIBLE_FIGURES) < PROJECTOR["height"]
    if path in WHOLE_ABOVE_THE_FOLD:
        main_figure = page.locator(f".st-key-{WHOLE_ABOVE_THE_FOLD[path]} .js-plotly-plot").first.bounding_box()
        assert main_figure["y"] + main_figure["height"] <= PROJECTOR["height"]
    if path == "translate":  # its attention map: square cells, >= 600 px wide
        plot = page.locator(".st-key-attention_map .nsewdrag").first.bounding_box()
        rows = page.locator(".st-key-attention_map .yaxislayer-above .ytick").count()
        columns = page.locator(".st-key-attention_map .xaxislayer-above .xtick").count()
        assert plot["width"] >= 600
        assert plot["width"] / columns == pytest.approx(plot["height"] / rows, rel=0.05)
    assert page.evaluate(SMALLEST_FONT) >= app_present.PRESENT_FONT_SIZE
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"present-{path}.png")


def choose(page, key: str, option: str) -> None:
    page.locator(f".st-key-{key} [role=combobox]").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_the_translate_view_survives_a_visit_to_another_page(projector, server):
    page = projector
    page.goto(f"{server}/translate")
    page.locator(".st-key-attention_map .js-plotly-plot").wait_for()
    page.locator(".st-key-kind").get_by_text("Encoder self-attention", exact=True).click()
    choose(page, "layer", "Layer 3")
    choose(page, "head", "head 2")
    title = "Encoder self-attention, layer 3, head 2"
    page.locator(".st-key-attention_map .gtitle", has_text=title).wait_for()
    wait_until_idle(page)
    page.get_by_role("link", name="Masks").click()
    page.locator(".st-key-step_weights .js-plotly-plot").wait_for()
    wait_until_idle(page)
    page.get_by_role("link", name="Translate").click()
    page.locator(".st-key-attention_map .gtitle", has_text=title).wait_for()
    # The address bar follows once the page's run ends, a moment after the map is drawn.
    page.wait_for_function(
        "() => ['kind=encoder', 'layer=3', 'head=2'].every((part) => location.href.includes(part))", polling=200
    )
