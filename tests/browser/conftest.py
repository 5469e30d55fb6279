"""The browser tests' fixtures: one Streamlit server and one Chromium per test module (a test file runs
in one pytest-xdist process with --dist loadfile), and a fresh page per test."""

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, streamlit_server, unavailable


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app as `make run` starts it, on the shipped checkpoints; yields its base URL."""
    with streamlit_server(tmp_path_factory.mktemp("streamlit")) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.is_file():
        unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),  # a fresh profile: no cached state
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    page.close()
