"""The row convention and the figures' legibility in Chromium (figures/rows.py, figures/legibility.py):
the rendered map of en-de names each row by the word it writes, tick labels are dark enough to read,
and at 1366 x 768 no number in a figure is drawn below 12 px, on a page as wide as the figures assume."""

import re

import pytest

from figures.legibility import LAPTOP_PAGE_WIDTH, MIN_NUMBER_FONT, contrast_ratio
from figures.style import BACKGROUND, TICK_COLOR
from tests.browser.chromium import wait_until_idle

pytestmark = pytest.mark.browser

BAR = "/translate?text=Two%20dogs%20are%20playing%20in%20the%20snow.&kind=cross&layer=3&head=avg"


def rendered_ticks(page, key: str, axis: str) -> list[str]:
    ticks = page.locator(f".st-key-{key} .{axis}tick text")
    ticks.first.wait_for()
    return ticks.all_text_contents()


def as_hex(rgb: str) -> str:
    return "#" + "".join(f"{int(n):02x}" for n in re.findall(r"\d+", rgb)[:3])


def test_the_map_names_each_row_by_the_word_it_writes(page, server):
    page.goto(server + BAR)
    page.locator(".st-key-attention_map .js-plotly-plot").wait_for()
    wait_until_idle(page)
    rows = [token.lstrip("▁") for token in rendered_ticks(page, "attention_map", "y")]
    keys = [token.lstrip("▁") for token in rendered_ticks(page, "attention_map", "x")]
    assert rows[0] == "Zwei" and rows[-1] == "</s>"  # shown literally
    weights = page.evaluate(
        "Array.from(document.querySelector('.st-key-attention_map .js-plotly-plot')._fullData[0].z, row => Array.from(row))"
    )
    hunde = weights[rows.index("Hunde")]
    assert keys[hunde.index(max(hunde))] == "dogs"
    title = page.locator(".st-key-attention_map .g-ytitle").text_content()
    assert title == "query: token written"
    tick = page.locator(".st-key-attention_map .ytick text").first
    color = as_hex(tick.evaluate("element => getComputedStyle(element).fill"))
    assert color == TICK_COLOR and contrast_ratio(color, BACKGROUND) >= 4.5
    assert page.get_by_text("The map averages all 4 heads of its layer").count() == 1


def test_no_number_in_a_figure_is_smaller_than_12_px_on_a_laptop(page, server):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{server}/masks?kind=decoder")
    page.locator(".st-key-step_scores .js-plotly-plot").wait_for()
    wait_until_idle(page)
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot svg text')]
            .filter(text => /^[−+-]?[0-9][0-9.,%]*$/.test(text.textContent.trim()))
            .map(text => parseFloat(getComputedStyle(text).fontSize))"""
    )
    assert sizes and min(sizes) >= MIN_NUMBER_FONT
    content = page.evaluate(
        """() => { const block = document.querySelector('[data-testid="stMainBlockContainer"]');
            const style = getComputedStyle(block);
            return block.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight); }"""
    )
    sidebar = page.locator('[data-testid="stSidebar"]').bounding_box()
    assert sidebar and sidebar["width"] > 0  # open, beside the page
    assert abs(content - LAPTOP_PAGE_WIDTH) <= 10, content  # what laptop_plot_width counts on


def test_inside_titles_show_control_tokens(page, server):
    # toy-reverse writes "c b a </s>": the fourth decoder position writes </s>.
    page.goto(f"{server}/inside?ckpt=toy-reverse&text=a%20b%20c&kind=decoder&query=4")
    title = page.locator(".st-key-inside_neuron_view .gtitle")
    title.wait_for()
    wait_until_idle(page)
    assert title.text_content().endswith("query </s>")
    assert page.locator(".st-key-inside_mixture .gtitle").text_content() == "The output of </s>"
