"""The README (the front door, at most 200 lines) and docs/: every relative link and image resolves
to a file of the repository, every `make` target the README names exists, and every page of the
app it lists is in the page registry."""

import re

import pytest

from tests.helpers import ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_is_at_most_200_lines():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_resolves(document):
    targets = [target for target in LINK.findall(document.read_text(encoding="utf-8")) if "://" not in target]
    missing = [
        target
        for target in targets
        if not target.startswith("#") and not (document.parent / target.split("#")[0]).exists()
    ]
    assert not missing, missing


def test_the_make_targets_the_readme_names_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", readme))
    assert {"run", "test", "serve"} <= named and named <= targets, named - targets


def test_the_readmes_pages_are_the_apps_pages():
    """The README's table of pages lists every page of the registry, each by its address."""
    from webapp.registry import PAGES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| \*\*[^*]+\*\* `/([a-z-]+)", readme, flags=re.M)
    assert listed == [page.url_path for page in PAGES]
