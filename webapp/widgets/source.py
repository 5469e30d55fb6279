"""The library's own source of what a page or a lecture step illustrates, read at run time with
inspect.getsource from the installed module, so it never drifts from the code that runs; the line
that matters (the first one containing a given substring) is marked with a comment, and the
caption names the file and its line number.

source_lines is a plain function (SourceError when the object or the line is
gone: a rename fails loudly in the tests); show_source draws it.
"""

import inspect
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import streamlit as st

from webapp import registry

MARK = "  # ◀ here"


class SourceError(LookupError):
    """The object is not in the library any more, or its source has no such line."""


@dataclass(frozen=True)
class Source:
    dotted: str
    path: str  # relative to the repository
    first_line: int  # the file's number of the source's first line
    lines: list[str]
    marked: int  # index in lines of the marked line

    @property
    def text(self) -> str:
        """The source with the marked line's comment added."""
        lines = list(self.lines)
        lines[self.marked] = lines[self.marked].rstrip("\n") + MARK + "\n"
        return "".join(lines).rstrip("\n")

    @property
    def marked_line_number(self) -> int:
        return self.first_line + self.marked


def resolve(dotted: str):
    """The object at a dotted path: the longest importable module, then attributes (pkgutil.resolve_name)."""
    try:
        return pkgutil.resolve_name(dotted)
    except ImportError:
        raise SourceError(f"{dotted}: no such module") from None
    except AttributeError as error:
        owner = getattr(error.obj, "__name__", error.obj)
        raise SourceError(f"{dotted}: {owner} has no {error.name!r}") from None


@lru_cache(maxsize=32)  # the source does not change while the app runs (a SourceError is not cached)
def source_lines(dotted: str, line: str) -> Source:
    """The source of the object at `dotted`, its first line containing `line` marked."""
    target = inspect.unwrap(resolve(dotted))
    try:
        lines, first = inspect.getsourcelines(target)
        path = Path(inspect.getsourcefile(target) or "")
    except (OSError, TypeError) as error:
        raise SourceError(f"{dotted}: no source ({error})") from None
    matches = [index for index, text in enumerate(lines) if line in text]
    if not matches:
        raise SourceError(f"{dotted}: no line contains {line!r}")
    try:
        shown_path = str(path.resolve().relative_to(registry.ROOT))
    except ValueError:
        shown_path = str(path)
    return Source(dotted, shown_path, first, lines, matches[0])


def show_source(dotted: str, line: str, *, key: str) -> None:
    """The source of `dotted` with its line marked, under a caption naming the file and line."""
    try:
        source = source_lines(dotted, line)
    except SourceError as error:
        st.warning(f"The code cannot be shown: {error}")
        return
    with st.container(key=key):
        st.caption(
            f"`{source.dotted}`, {source.path} from line {source.first_line}, read from the installed "
            f"library; marked ◀: line {source.marked_line_number}."
        )
        st.code(source.text, language="python", line_numbers=True)


def source_expander(dotted: str, line: str, *, key: str, label: str = "The library's code") -> None:
    """show_source folded away in an expander: the one call a page makes."""
    with st.expander(f"{label}: `{dotted.rsplit('.', 1)[-1]}`", icon=":material/code:"):
        show_source(dotted, line, key=key)
