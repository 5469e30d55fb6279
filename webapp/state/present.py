"""Presentation mode (a projector: larger text and figures, fewer controls) and the chart wrapper
every page draws its Plotly figures with, which applies it and the "Show ▁" switch.

Session state: reads "present" (the sidebar's presentation toggle, seeded from the link by
url.restore_presentation) and "show_marker" (the sidebar's "Show ▁" switch); owns no key.
"""

import contextlib
from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

from figures.legibility import (
    ASSUMED_WIDTH,
    laptop_plot_width,
    legible_spec,
    present_figure_height,
    present_plot_width,
    square_cells_spec,
)

PRESENT_FIGURE_SCALE, PRESENT_FONT_SIZE = 1.3, 16  # figures on the projector: taller, larger text
PLOTLY_DEFAULT_HEIGHT = 450  # what Plotly draws when a figure sets no height
# Streamlit sizes its text in rem, so a larger root font enlarges all of it; the page's margins
# shrink to leave the figures their width and height. The sidebar keeps only this toggle and the checkpoint;
# download buttons are hidden too.
PRESENTATION_CSS = """<style>
html { font-size: 20px; }
[data-testid="stMainBlockContainer"] { padding: 3.5rem 1.5rem 1.5rem !important; max-width: none; }
.st-key-sidebar_details, [data-testid="stDownloadButton"] { display: none; }
</style>"""


def presenting() -> bool:
    return bool(st.session_state.get("present"))


def side_by_side(spec: int | list[float]) -> list:
    """st.columns(spec) in presentation mode; otherwise one stand-in per column whose `with`
    block writes in the page's flow, where it runs (one under the other, as without columns)."""
    if presenting():
        return st.columns(spec)
    return [contextlib.nullcontext() for _ in range(spec if isinstance(spec, int) else len(spec))]


def presentation_changed() -> None:
    """Presentation mode changed (its toggle, or a link): "Show ▁" goes back to the mode's default,
    which the sidebar sets (on, or off when presenting)."""
    st.session_state.pop("show_marker", None)


class FinishedFigure(go.Figure):
    """A figure's finished JSON, for st.plotly_chart: Streamlit takes a go.Figure's to_dict(),
    which copies the figure, and checks any other dict by building a go.Figure from it, while
    this JSON comes from a checked figure (to_plotly_json) and only changes that legible_spec makes.
    Handing it over as it is saves a third of the Inside page's time."""

    def __init__(self, spec: dict):
        super().__init__()
        self._finished = spec

    def to_dict(self) -> dict:
        return self._finished


def plotly_chart(
    figure,
    key: str,
    filename: str,
    on_select: Callable[[], None] | None = None,
    columns: int = 1,
    top: int | None = None,
) -> None:
    """st.plotly_chart with the toolbar's PNG download named after the figure; on_select makes a
    click on a point call it (the chart's selection is then in st.session_state[key]). Token axes
    too long for their labels show every k-th; in presentation mode the figure is drawn taller (a
    heatmap with square cells, as large as the projector allows in one of `columns` equal columns
    and within its screen: square_cells) and no text in it is smaller than PRESENT_FONT_SIZE; with
    "Show ▁" off its tokens lose their word-start marker. In several columns, token axes are
    thinned for a column's width. A page's main figure gives `top`, the pixels above it on the
    projector's screen (measured): it then ends above the fold, a map with smaller cells, another
    figure shorter."""
    width = present_plot_width(columns)
    spec = figure.to_plotly_json()  # a copy, which the steps below change
    if presenting():
        layout = spec.setdefault("layout", {})
        height = round((layout.get("height") or PLOTLY_DEFAULT_HEIGHT) * PRESENT_FIGURE_SCALE)
        if top is None:  # a map within the screen once scrolled to
            room = present_figure_height()
        else:  # a page's main figure, whatever it is, whole above the fold
            room = present_figure_height(top)
            height = min(height, room)
        layout["height"] = height
        # Before legible: its token axes are thinned for the final height.
        spec = square_cells_spec(spec, width=width, max_height=room) or spec
    # Numbers in cells are sized (or hidden) for the smallest screen that shows the figure: the
    # projector's, or else a 1366 px laptop's.
    numbers_width = width if presenting() else laptop_plot_width(columns)
    font_size = PRESENT_FONT_SIZE if presenting() else None
    show_marker = st.session_state.get("show_marker", True)
    figure = FinishedFigure(legible_spec(spec, font_size, min(ASSUMED_WIDTH, width), numbers_width, show_marker))
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}
    if on_select is None:
        st.plotly_chart(figure, key=key, config=config)
    else:
        st.plotly_chart(figure, key=key, config=config, on_select=on_select, selection_mode="points")
