"""The app's pages, in the order of its navigation: for each its URL path, title, icon and script.

The one list of pages: app.py builds the navigation from it (st.Page), the Lecture finds each
step's page in it by URL path (a step naming a page not listed here falls back), and the pages
that open another page (st.switch_page) take its script from it. A new page is one more Page in
PAGES and its script in webapp/pages/. Also where the app finds its checkpoints, and the settings
a deployment passes its app processes (deploy/serve.py imports them from here).

Standard library only: no Streamlit, no torch, no session state.
"""

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: app.py's folder
# Environment variables an app process reads: where its checkpoints are (tests and deployments
# point it elsewhere), its torch threads, and whether it translates with int8 by default.
CHECKPOINTS_ENV, THREADS_ENV, INT8_ENV = "TRANSFORMER_CHECKPOINTS", "TRANSFORMER_APP_THREADS", "TRANSFORMER_INT8"


@dataclass(frozen=True)
class Page:
    url_path: str  # /translate, the lecture's `page = "translate"`
    title: str
    icon: str  # a Material Symbol, as Streamlit spells it
    script: str  # relative to app.py's folder, as st.Page, st.switch_page and AppTest take it

    @property
    def path(self) -> Path:
        return ROOT / self.script


PAGES = (
    Page("translate", "Translate", ":material/translate:", "webapp/pages/translate.py"),
    Page("compare", "Compare", ":material/compare_arrows:", "webapp/pages/compare.py"),
    Page("positional-encoding", "Positional encoding", ":material/waves:", "webapp/pages/positional_encoding.py"),
    Page("masks", "Masks", ":material/grid_on:", "webapp/pages/masks.py"),
    Page("inside", "Inside a layer", ":material/layers:", "webapp/pages/inside.py"),
    Page("decoding", "Decoding, step by step", ":material/account_tree:", "webapp/pages/decoding.py"),
    Page("model", "Model card", ":material/schema:", "webapp/pages/model.py"),
    Page("analysis", "Analysis", ":material/insights:", "webapp/pages/analysis.py"),
    Page("lecture", "Lecture", ":material/school:", "webapp/pages/lecture.py"),
    Page("train", "Train", ":material/model_training:", "webapp/pages/train.py"),
    Page("glossary", "Glossary", ":material/menu_book:", "webapp/pages/glossary.py"),
)
DEFAULT = PAGES[0]  # where the root (/) forwards
_BY_URL_PATH = {page.url_path: page for page in PAGES}


def page(url_path: str) -> Page | None:
    """The page at /url_path, or None if the app has no such page."""
    return _BY_URL_PATH.get(url_path)


def script(url_path: str) -> str:
    """The script of a page of the app, for st.switch_page (KeyError for a page it does not have)."""
    return _BY_URL_PATH[url_path].script


@cache  # configs/ is part of the release: it does not change while the app runs
def shipped_checkpoints() -> frozenset[str]:
    """The shipped checkpoints' names (one recipe in configs/ each): never taken by a saved one."""
    return frozenset(path.stem for path in (ROOT / "configs").glob("*.toml"))


def checkpoints_dir() -> Path:
    return Path(os.environ.get(CHECKPOINTS_ENV, ROOT / "checkpoints"))


def checkpoint_names(folder: Path | None = None) -> list[str]:
    """The checkpoint folders the app lists: those of `folder` (default checkpoints_dir()), hidden
    ones left out."""
    folder = checkpoints_dir() if folder is None else folder
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
