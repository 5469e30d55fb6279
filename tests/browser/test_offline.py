"""The app loads nothing from outside its own server: a classroom without internet, or a school that
blocks outside hosts, gets every page whole and no failed request (issue #28). Chromium records
every request a page makes while each page of the app opens and settles."""

from urllib.parse import urlparse

import pytest

from tests.browser.chromium import wait_until_idle
from webapp import registry

pytestmark = pytest.mark.browser
LOCAL = {"127.0.0.1", "localhost"}


def test_no_page_asks_for_anything_outside_the_server(page, server):
    outside = []
    page.on("request", lambda request: outside.append(request.url) if _leaves(request.url) else None)
    for listed in registry.PAGES:
        page.goto(f"{server}/{listed.url_path}")
        page.wait_for_selector("[data-testid='stSidebar']")
        wait_until_idle(page)
        page.wait_for_timeout(500)  # the favicon and fonts are asked for after the page settles
    assert outside == []


def _leaves(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme not in ("data", "blob", "about") and parsed.hostname not in LOCAL
