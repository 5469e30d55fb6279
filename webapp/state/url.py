"""The shareable URL ⇄ session state: a link's parameters seed the widgets once (with a notice for
a value that does not fit), and the address bar then mirrors the view (set_url), except while a
page is shown inside another under its URL (fixed_url, a lecture step). A number in a URL counts
from 1, as on screen: parse_number reads one, url_value writes one, for every page.

Session state: owns "_url" (the link's parameters not handed out yet) and "_notices" (the warnings
app.py shows above the page); seeds "text", the sentence every page shares (sentence_input), and
"present" from the link; names the widget keys whose values outlive a visit to another page (kept,
KEPT: the sidebar keeps them). A URL value is only ever used as text to translate or compared with
the listed checkpoint folder names and the model's layers, heads and steps: no path from a URL is
ever opened.
"""

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import streamlit as st

from webapp.state.checkpoints import Checkpoint
from webapp.state.present import presentation_changed, presenting

MAX_TEXT_CHARS = 2000  # far beyond any model's max_len; only bounds the work a URL can ask for
MAX_URL_DIGITS = 6  # more than any layer, head, step or sentence number needs
# The keys of every page's inputs and view, registered by kept as their widgets are drawn; the
# sidebar keeps their values while another page is open. Shared by the process: the keys are fixed
# names, and a page's keys need keeping only once it has been shown, which registers them.
KEPT: set[str] = set()


def kept(key: str) -> str:
    """key, registered in KEPT: a widget declared with key=kept("layer") keeps its value across a
    visit to another page. (Each page checks a kept choice against what it can show now: keep_valid.)"""
    KEPT.add(key)
    return key


def url_param(key: str) -> str | None:
    """The value key had in the URL the session was opened with, handed out once: afterwards the
    widgets own the state and the URL only mirrors it (see set_url)."""
    if "_url" not in st.session_state:
        st.session_state["_url"] = st.query_params.to_dict()
    return st.session_state["_url"].pop(key, None)


def url_number(value: str) -> int | None:
    """A whole number as a link spells it (ASCII digits, at most MAX_URL_DIGITS), or None: int()
    refuses numbers of thousands of digits with a ValueError, which would stop the page."""
    return int(value) if value.isascii() and value.isdecimal() and len(value) <= MAX_URL_DIGITS else None


def parse_number(value: str, count: int) -> int | None:
    """A 1-based number from the URL as a 0-based index below count, or None if it is not one."""
    number = url_number(value)
    return number - 1 if number is not None and 1 <= number <= count else None


def url_value(choice: int | str | None) -> str | None:
    """A 0-based index (a layer, head, query, step, sentence) as the URL spells it, its 1-based
    number (parse_number reads it back); a word choice (avg, sharpest) as it is; None stays None
    (set_url leaves it out)."""
    if choice is None or isinstance(choice, str):
        return choice
    return str(choice + 1)


def restore_param(param: str, key: str | None, parse: Callable[[str], object | None], rejected: str) -> None:
    """Seed st.session_state[key] from the link's param, read by parse (key None: parse returns a
    dict of session-state entries); a value parse rejects (None) leaves the widgets' defaults and
    queues the notice rejected."""
    value = url_param(param)
    if value is None:
        return
    parsed = parse(value)
    if parsed is None:
        notice(rejected)
    else:
        st.session_state.update({key: parsed} if key is not None else parsed)


def keep_valid_choices(key: str, options, default) -> None:
    """keep_valid for a multi-choice widget: drop the chosen values this checkpoint lacks (default
    before the first choice)."""
    st.session_state[key] = [value for value in st.session_state.get(key, default) if value in options]


def keep_valid(key: str, options: list, default) -> None:
    # A value from another checkpoint (more layers, say) would not be among this one's options.
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def restore_text(param: str = "text", limit: int = MAX_TEXT_CHARS) -> None:
    """Seed st.session_state[param] (by default the shared sentence) from the link the session was
    opened with, cut to limit characters with a notice."""
    text = url_param(param)
    if text is not None:
        if len(text) > limit:
            notice(f"The link's {param} was cut to {limit} characters.")
        st.session_state[param] = text[:limit]


def sentence_input(checkpoint: Checkpoint) -> str:
    """A one-line editor of the sentence the pages share (the Translate page's text): from the
    link, else what another page left, else the checkpoint's example."""
    restore_text()
    st.session_state.setdefault("text", checkpoint.example)
    info = checkpoint.translator.info
    return st.text_input(
        f"Sentence ({info.get('source_language', 'source')})",
        key=kept("text"),
        max_chars=MAX_TEXT_CHARS,
        help=f"Up to {checkpoint.translator.max_source_tokens} tokens are used; Enter applies.",
    )


def restore_presentation() -> None:
    """Presentation mode from the link (?present=1), before the page is laid out (app.py)."""
    value = url_param("present")
    if value is None:
        return
    if value in ("0", "1"):
        if st.session_state.get("present", False) != (value == "1"):
            presentation_changed()  # as the toggle would
        st.session_state["present"] = value == "1"
    else:
        notice("The link's present value is not 0 or 1; presentation mode is off.")


def notice(message: str) -> None:
    """Queue a warning for the top of the page (app.py shows it after the page has run)."""
    st.session_state.setdefault("_notices", []).append(message)


def show_notices() -> None:
    for message in st.session_state.pop("_notices", []):
        st.warning(message, icon=":material/link_off:")


# The address bar's parameters while a page is shown inside another (a lecture step), else None.
_FIXED_URL: ContextVar[dict | None] = ContextVar("fixed_url", default=None)


@contextmanager
def fixed_url(**params) -> Iterator[None]:
    """Inside, set_url mirrors params (and presentation mode) instead of the page's view: a lecture
    shows pages under its own URL, /lecture?step=N."""
    token = _FIXED_URL.set(params)
    try:
        yield
    finally:
        _FIXED_URL.reset(token)


def fragment(function: Callable[..., None], run_every: float | None = None) -> Callable[..., None]:
    """st.fragment(function, run_every=...) that keeps the fixed_url of the run that drew it: on a
    lecture slide, the fragment rerun alone (without the lecture around it) still mirrors the
    lecture's URL, not its page's view."""
    fixed = _FIXED_URL.get()

    @functools.wraps(function)  # its name identifies the fragment
    def run(*args, **kwargs) -> None:
        token = _FIXED_URL.set(fixed)
        try:
            function(*args, **kwargs)
        finally:
            _FIXED_URL.reset(token)

    return st.fragment(run, run_every=run_every)


def set_url(**params) -> None:
    """Mirror the view in the address bar, so that it can be bookmarked or shared."""
    fixed = _FIXED_URL.get()
    view = {"ckpt": st.session_state.get("ckpt"), **params} if fixed is None else fixed
    values = {"present": 1 if presenting() else None, **view}
    values = {key: str(value) for key, value in values.items() if value is not None}
    if st.query_params.to_dict() != values:
        st.query_params.from_dict(values)
