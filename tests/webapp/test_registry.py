"""webapp/registry.py: the one list of the app's pages that app.py and the lecture read."""

from pathlib import Path

import pytest

from tests.helpers import ROOT
from webapp import registry


def test_every_page_script_exists_and_every_page_file_is_registered():
    scripts = [page.script for page in registry.PAGES]
    assert all((ROOT / script).is_file() for script in scripts)
    assert all(page.path == ROOT / page.script for page in registry.PAGES)
    # Every module of webapp/pages/ that draws a page is in the registry; comparison and sampling serve a page.
    helpers = {"__init__", "comparison", "sampling"}
    on_disk = {path.stem for path in (ROOT / "webapp" / "pages").glob("*.py")} - helpers
    assert {Path(script).stem for script in scripts} == on_disk


def test_url_paths_titles_and_icons_are_unique_and_well_formed():
    pages = registry.PAGES
    assert len({page.url_path for page in pages}) == len({page.title for page in pages}) == len(pages)
    assert all(page.url_path == page.url_path.lower() and " " not in page.url_path for page in pages)
    assert all(page.icon.startswith(":material/") and page.icon.endswith(":") for page in pages)
    assert registry.DEFAULT.url_path == "translate"  # the root forwards to Translate


def test_a_page_is_found_by_its_url_path():
    assert registry.page("positional-encoding").script == "webapp/pages/positional_encoding.py"
    assert registry.page("masks").title == "Masks"
    assert registry.page("nowhere") is None
    assert registry.script("train") == "webapp/pages/train.py"
    with pytest.raises(KeyError):
        registry.script("nowhere")
