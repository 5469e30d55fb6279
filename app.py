"""The app (`make run`): navigation over the pages in app_pages/, the shared sidebar, then the page.

A new page is one more st.Page in PAGES; it reads the loaded model with
app_checkpoints.current_checkpoint() and the decoding settings from the sidebar's session state.
"""

import streamlit as st

import app_present
import app_sidebar
import app_url

# The folder is not called pages/: when one exists, Streamlit starts in its legacy multipage mode
# and runs a page opened by its URL (/translate) without this script, so without the sidebar.
TRANSLATE = st.Page("app_pages/translate.py", title="Translate", icon=":material/translate:", url_path="translate")
PAGES = [
    TRANSLATE,
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page(
        "app_pages/positional_encoding.py",
        title="Positional encoding",
        icon=":material/waves:",
        url_path="positional-encoding",
    ),
    st.Page("app_pages/masks.py", title="Masks", icon=":material/grid_on:", url_path="masks"),
    st.Page("app_pages/inside.py", title="Inside a layer", icon=":material/layers:", url_path="inside"),
    st.Page(
        "app_pages/decoding.py", title="Decoding, step by step", icon=":material/account_tree:", url_path="decoding"
    ),
    st.Page("app_pages/model.py", title="Model card", icon=":material/schema:", url_path="model"),
    st.Page("app_pages/analysis.py", title="Analysis", icon=":material/insights:", url_path="analysis"),
    st.Page("app_pages/lecture.py", title="Lecture", icon=":material/school:", url_path="lecture"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
]


def open_default_page() -> None:
    # Streamlit serves its default page at the root only, so /translate would be "not found" if
    # Translate were the default: the root forwards to it instead, keeping the link's parameters.
    st.switch_page(TRANSLATE, query_params=st.query_params.to_dict())


# On a projector the sidebar starts collapsed and the pages are a bar at the top.
app_url.restore_presentation()
st.set_page_config(
    page_title="Transformer from scratch",
    page_icon=":material/translate:",
    layout="wide",
    initial_sidebar_state="collapsed" if app_present.presenting() else "auto",
)
page = st.navigation(
    [st.Page(open_default_page, title="Home", default=True, visibility="hidden"), *PAGES],
    position="top" if app_present.presenting() else "sidebar",
)
notices = st.container()  # filled after the page has run, so the page's own notices are included
app_sidebar.sidebar()
page.run()
with notices:
    app_url.show_notices()
