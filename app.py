"""The app (`make run`): navigation over the pages of webapp/registry.py, the shared sidebar, then
the page. Everything else of the app is in the package webapp/ (its __init__ maps it).

A new page is one more Page in webapp/registry.py and its script in webapp/pages/; it reads the
loaded model with webapp.state.checkpoints.current_checkpoint() and the decoding settings from the
sidebar's session state.
"""

import streamlit as st

from webapp import registry
from webapp.state import present, url
from webapp.widgets import sidebar

# The scripts are in webapp/pages/, not in a pages/ folder beside this script: when one exists,
# Streamlit starts in its legacy multipage mode and runs a page opened by its URL (/translate)
# without this script, so without the sidebar.
PAGES = {
    page.url_path: st.Page(page.script, title=page.title, icon=page.icon, url_path=page.url_path)
    for page in registry.PAGES
}


def open_default_page() -> None:
    # Streamlit serves its default page at the root only, so /translate would be "not found" if
    # Translate were the default: the root forwards to it instead, keeping the link's parameters.
    st.switch_page(PAGES[registry.DEFAULT.url_path], query_params=st.query_params.to_dict())


# On a projector the sidebar starts collapsed and the pages are a bar at the top.
url.restore_presentation()
st.set_page_config(
    page_title="Transformer from scratch",
    page_icon="🔤",  # an emoji: a :material/...: favicon is fetched from fonts.gstatic.com (issue #28)
    layout="wide",
    initial_sidebar_state="collapsed" if present.presenting() else "auto",
)
page = st.navigation(
    [st.Page(open_default_page, title="Home", default=True, visibility="hidden"), *PAGES.values()],
    position="top" if present.presenting() else "sidebar",
)
notices = st.container()  # filled after the page has run, so the page's own notices are included
sidebar.sidebar()
page.run()
with notices:
    url.show_notices()
