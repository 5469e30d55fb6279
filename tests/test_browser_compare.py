"""The Compare page in a real browser (Chromium and helpers of test_browser.py), on its own server
whose checkpoints folder holds en-de and en-xx (a copy of en-de said to translate into "xx"): two
checkpoints to compare until en-fr and en-es are trained. Saves test-artifacts/compare.png."""

from urllib.parse import quote

import pytest
from test_browser import ARTIFACTS, browser, page, streamlit_server, wait_until_idle  # noqa: F401 (fixtures)

import app_checkpoints
from conftest import ROOT, language_copy

EN_DE = ROOT / "checkpoints" / "en-de"
SENTENCE = "The little girl is eating a red apple."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on en-de, en-xx and the toy; yields its base URL (the page fixture opens this one)."""
    folder = tmp_path_factory.mktemp("checkpoints")
    (folder / "en-de").symlink_to(EN_DE, target_is_directory=True)
    (folder / "toy-reverse").symlink_to(EN_DE.parent / "toy-reverse", target_is_directory=True)
    language_copy(EN_DE, folder, "en-xx", "xx")
    with streamlit_server(tmp_path_factory.mktemp("streamlit"), {app_checkpoints.CHECKPOINTS_ENV: str(folder)}) as url:
        yield url


def test_compare_page_in_a_browser(page, server):  # noqa: F811 (the fixtures imported above)
    page.goto(f"{server}/compare?ckpts=en-de,en-xx&text={quote(SENTENCE)}")
    for key in ("compare_map_0", "compare_links_0", "compare_map_1", "compare_links_1"):
        page.locator(f".st-key-{key} .js-plotly-plot").wait_for()
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    translations = page.locator('[data-testid="stCode"]').all_inner_texts()
    assert len(translations) == 2 and all("Apfel" in text for text in translations), translations
    assert page.locator(".js-plotly-plot").count() >= 4  # a map and the links per checkpoint
    # Side by side: the second column's map starts level with the first's, to its right.
    first, second = (page.locator(f".st-key-compare_map_{i} .js-plotly-plot").bounding_box() for i in (0, 1))
    assert second["x"] >= first["x"] + first["width"] - 1 and abs(second["y"] - first["y"]) < 2
    assert "ckpts=en-de%2Cen-xx" in page.url and "layer=sharpest" in page.url
    assert page.get_by_text("en-xx (en → xx)").count() >= 1

    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1000, height)})
    page.wait_for_timeout(1000)  # let Plotly redraw at the new size
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "compare.png")
