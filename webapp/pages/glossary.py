"""Glossary: the paper's terms in a sentence or two, each with a link to the page (in the view) that
shows it. The entries are webapp/glossary.py's; a filter narrows them."""

import streamlit as st

from webapp import glossary, registry
from webapp.state import url


def entry_card(entry: glossary.Entry) -> None:
    with st.container(border=True, key=f"glossary_{glossary.ENTRIES.index(entry)}"):
        st.markdown(f"**{entry.term}**: {entry.meaning}")
        page = registry.page(entry.page)
        st.page_link(
            page.script,
            label=f"{page.title}: {entry.shows}" if entry.shows else page.title,
            icon=page.icon,
            query_params=entry.params,
        )


def main() -> None:
    st.title("Glossary")
    query = st.text_input("Find a term", key=url.kept("glossary_filter"), placeholder="query, mask, beam…")
    shown = [entry for entry in glossary.ENTRIES if query.strip().lower() in f"{entry.term} {entry.meaning}".lower()]
    if not shown:
        st.info("No term matches.")
    for column, half in zip(st.columns(2), (shown[::2], shown[1::2])):
        with column:
            for entry in half:
                entry_card(entry)


main()
