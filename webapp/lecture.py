"""The lecture of the Lecture page (webapp/pages/lecture.py): an ordered list of steps read from a
TOML file a teacher edits without touching code (lectures/attention.toml). Each step shows one
page of the app in a chosen view (its URL parameters), with a few sentences of narrative and what
to look at. A step names its page by URL path; the page's script is the registry's
(webapp.registry), and a page the registry does not list is not part of this app: the step's
fallback page is shown instead. No Streamlit here: the file is parsed and checked by plain
functions."""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from webapp import registry

LECTURE_FILE = registry.ROOT / "lectures" / "attention.toml"
STEP_FIELDS = {"title", "page", "params", "narrative", "look", "fallback_page", "fallback_params"}


class LectureError(ValueError):
    """The lecture file cannot be read or a step is malformed: the message names the file and step."""


@dataclass(frozen=True)
class Step:
    title: str
    page: str  # the page's URL path, e.g. "translate"
    narrative: str
    look: str
    params: dict[str, str] = field(default_factory=dict)  # the page's view, as its URL spells it
    fallback_page: str | None = None  # shown when page is not part of this app
    fallback_params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lecture:
    title: str
    steps: list[Step]


def _text(value, where: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LectureError(f"{where}: {name} must be non-empty text")
    return value.strip()


def _params(value, where: str, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value.values()
    ):
        raise LectureError(f"{where}: {name} must be a table of texts and numbers")
    return {key: str(v) for key, v in value.items()}


def _page(value, where: str, name: str) -> str:
    page = _text(value, where, name)
    if not page.replace("-", "").isalpha():
        raise LectureError(f"{where}: {name} {page!r} is not a page name (letters and hyphens)")
    return page


def parse_step(entry, where: str) -> Step:
    if not isinstance(entry, dict):
        raise LectureError(f"{where}: not a table")
    unknown = set(entry) - STEP_FIELDS
    if unknown:
        raise LectureError(f"{where}: unknown field {', '.join(sorted(unknown))}")
    fallback = entry.get("fallback_page")
    return Step(
        title=_text(entry.get("title"), where, "title"),
        page=_page(entry.get("page"), where, "page"),
        narrative=_text(entry.get("narrative"), where, "narrative"),
        look=_text(entry.get("look"), where, "look"),
        params=_params(entry.get("params", {}), where, "params"),
        fallback_page=None if fallback is None else _page(fallback, where, "fallback_page"),
        fallback_params=_params(entry.get("fallback_params", {}), where, "fallback_params"),
    )


def parse_lecture(text: str, name: str) -> Lecture:
    """The lecture in TOML text (name: the file, for messages); LectureError if it is malformed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LectureError(f"{name}: {error}") from None
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise LectureError(f"{name}: no [[steps]]")
    return Lecture(
        title=_text(data.get("title"), name, "title"),
        steps=[parse_step(entry, f"{name}, step {number}") for number, entry in enumerate(steps, 1)],
    )


def load_lecture(path: Path = LECTURE_FILE) -> Lecture:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LectureError(f"{path}: {error}") from None
    return parse_lecture(text, path.name)


def step_view(step: Step) -> tuple[str, dict[str, str]] | None:
    """(page, params) the step shows: its page, else its fallback where its page is not part of
    this app (not listed in webapp.registry); None if neither is."""
    for page, params in ((step.page, step.params), (step.fallback_page, step.fallback_params)):
        if page is not None and registry.page(page) is not None:
            return page, params
    return None
