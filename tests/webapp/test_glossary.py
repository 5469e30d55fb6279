"""webapp/glossary.py: the glossary covers the paper's terms and every entry links to a page of the
app's registry, in a view its URL parameters spell."""

from webapp import glossary, registry

TERMS = ("query", "key", "value", "head", "residual", "layernorm", "logits", "softmax", "beam", "mask")
TERMS += ("embedding", "positional encoding", "label smoothing")


def test_the_glossary_has_the_papers_terms():
    text = " ".join(entry.term.lower() for entry in glossary.ENTRIES)
    assert all(term in text for term in TERMS), [term for term in TERMS if term not in text]


def test_every_entry_links_to_a_page_of_the_registry():
    for entry in glossary.ENTRIES:
        page = registry.page(entry.page)
        assert page is not None and page.path.is_file(), entry.term
        assert entry.link.startswith(f"/{entry.page}")
        assert all(isinstance(value, str) for value in entry.params.values())


def test_the_glossary_is_a_page_of_the_app():
    assert registry.page("glossary").path.is_file()
