"""The lecture of the Lecture page (webapp/pages/lecture.py): an ordered list of steps read from a
TOML file a teacher edits without touching code (lectures/attention.toml). Each step shows one
page of the app in a chosen view (its URL parameters), with a few sentences of narrative and what
to look at. A step names its page by URL path; the page's script is the registry's
(webapp.registry), and a page the registry does not list is not part of this app: the step's
fallback page is shown instead. No Streamlit here: the file is parsed and checked by plain
functions; the claims and {placeholders} a step makes about its figure are measured on the model by
webapp/claims.py.

Besides its view and narrative a step may name:
  figure    the chart key of the figure "What to look at" names: on the projector it is the first
            figure of the slide (what the page draws before it is hidden)
  question  a question put to the audience before the answer is shown; answer: the answer, revealed
            by a click or the key A (both or neither)
  code      { object = "transformer.attention.scaled_dot_product_attention", line = "softmax" }:
            the library's source of what the step illustrates, the first line containing `line` marked
  claims    [[steps.claims]] tables: what the figure shows, checked on the model (webapp.claims)
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from webapp import registry

LECTURE_FILE = registry.ROOT / "lectures" / "attention.toml"
STEP_FIELDS = {"title", "page", "params", "narrative", "look", "fallback_page", "fallback_params"}
STEP_FIELDS |= {"figure", "question", "answer", "code", "claims"}
CLAIM_FIELDS = {"check", "ckpt", "text", "kind", "layer", "head", "writes", "row", "dim", "off", "over"}
CLAIM_FIELDS |= {"expect", "range"}


class LectureError(ValueError):
    """The lecture file cannot be read or a step is malformed: the message names the file and step."""


@dataclass(frozen=True)
class Code:
    object: str  # dotted path of a function or class of the library, e.g. "transformer.layers.EncoderLayer"
    line: str  # a substring of the line to mark: the first line of its source that contains it


@dataclass(frozen=True)
class Claim:
    """What a figure shows, checked on the model: a measure (webapp.claims.MEASURES) with its
    arguments, and the expected result: a key (`expect`) and/or a range of its number."""

    check: str
    args: dict[str, str]  # the measure's arguments; ckpt and text default to the step's
    expect: str | None = None
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class Step:
    title: str
    page: str  # the page's URL path, e.g. "translate"
    narrative: str
    look: str
    params: dict[str, str] = field(default_factory=dict)  # the page's view, as its URL spells it
    fallback_page: str | None = None  # shown when page is not part of this app
    fallback_params: dict[str, str] = field(default_factory=dict)
    figure: str | None = None  # the chart key of the figure "look" names
    question: str | None = None
    answer: str | None = None
    code: Code | None = None
    claims: tuple[Claim, ...] = ()


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


def _optional_text(entry: dict, where: str, name: str) -> str | None:
    return None if entry.get(name) is None else _text(entry[name], where, name)


def _code(value, where: str) -> Code | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"object", "line"}:
        raise LectureError(f"{where}: code must be a table of object and line")
    dotted = _text(value["object"], where, "code.object")
    if not all(part.isidentifier() for part in dotted.split(".")):
        raise LectureError(f"{where}: code.object {dotted!r} is not a dotted name")
    return Code(dotted, _text(value["line"], where, "code.line"))


def _range(value, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    numbers = value if isinstance(value, list) else [None]
    if len(numbers) != 2 or not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
        raise LectureError(f"{where}: range must be two numbers, [low, high]")
    if numbers[0] > numbers[1]:
        raise LectureError(f"{where}: range {numbers} is empty")
    return float(numbers[0]), float(numbers[1])


def _table(entry, where: str, fields: set[str]) -> dict:
    """entry, a TOML table of only the known fields; LectureError naming the first stranger."""
    if not isinstance(entry, dict):
        raise LectureError(f"{where}: not a table")
    unknown = set(entry) - fields
    if unknown:
        raise LectureError(f"{where}: unknown field {', '.join(sorted(unknown))}")
    return entry


def parse_claim(entry, where: str) -> Claim:
    entry = _table(entry, where, CLAIM_FIELDS)
    args = _params({k: v for k, v in entry.items() if k not in ("check", "expect", "range")}, where, "claim")
    claim = Claim(
        check=_text(entry.get("check"), where, "check"),
        args=args,
        expect=_optional_text(entry, where, "expect"),
        range=_range(entry.get("range"), where),
    )
    if claim.expect is None and claim.range is None:
        raise LectureError(f"{where}: a claim needs expect or range")
    return claim


def _claims(value, where: str) -> tuple[Claim, ...]:
    if not isinstance(value, list):
        raise LectureError(f"{where}: claims must be [[steps.claims]] tables")
    return tuple(parse_claim(entry, f"{where}, claim {number}") for number, entry in enumerate(value, 1))


def parse_step(entry, where: str) -> Step:
    entry = _table(entry, where, STEP_FIELDS)
    fallback = entry.get("fallback_page")
    question, answer = _optional_text(entry, where, "question"), _optional_text(entry, where, "answer")
    if (question is None) != (answer is None):
        raise LectureError(f"{where}: a question needs its answer, and an answer its question")
    figure = _optional_text(entry, where, "figure")
    if figure is not None and not figure.replace("_", "").isalnum():
        raise LectureError(f"{where}: figure {figure!r} is not a chart key (letters, digits, _)")
    return Step(
        title=_text(entry.get("title"), where, "title"),
        page=_page(entry.get("page"), where, "page"),
        narrative=_text(entry.get("narrative"), where, "narrative"),
        look=_text(entry.get("look"), where, "look"),
        params=_params(entry.get("params", {}), where, "params"),
        fallback_page=None if fallback is None else _page(fallback, where, "fallback_page"),
        fallback_params=_params(entry.get("fallback_params", {}), where, "fallback_params"),
        figure=figure,
        question=question,
        answer=answer,
        code=_code(entry.get("code"), where),
        claims=_claims(entry.get("claims", []), where),
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
