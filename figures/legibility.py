"""Figures readable from the back row and on a phone: every text of a Plotly figure at least a
given size, token axes that label every k-th token when their labels would otherwise overlap,
and titles wrapped to a phone's width below the chart's toolbar. Pure: a figure in, a new figure
out (the app applies them to every chart, presentation mode with 16 px)."""

import base64
import math

import numpy as np
import plotly.graph_objects as go

from .style import TICK_COLOR
from .tokens import strip_markers

PLOTLY_DEFAULT_FONT, PLOTLY_DEFAULT_HEIGHT = 12, 450
PLOTLY_DEFAULT_MARGIN = {"t": 100, "b": 80}
LINE_SPACING = 1.25  # a label needs this many font sizes of axis length
ASSUMED_WIDTH = 600  # an x axis' length when the figure does not say: presentation heatmaps are at least this wide
TITLE_CHARS = 40  # a title line that fits a chart on a 390 px wide phone
TITLE_SCALE = 1.4  # Plotly draws titles this much larger than the layout's font
MIN_CELL = 20  # pixels: a 16 px token label fits each cell of a square heatmap
PRESENT_PAGE_WIDTH, COLUMN_GAP = 1860, 20  # pixels of a 1920 px projector's page (less padding), between its columns
FIGURE_FURNITURE = 200  # pixels of a heatmap's width that its token labels, colour bar and margins take
# Pixels of the projector's screen, and of its top that the bar of pages covers (measured in
# Chromium): a figure scrolled to shows below it.
PRESENT_SCREEN_HEIGHT, PRESENT_PAGE_TOP = 1080, 75


def present_plot_width(columns: int = 1) -> float:
    """The widest plot a figure gets on a 1920 px projector, in one of `columns` equal columns."""
    return (PRESENT_PAGE_WIDTH - (columns - 1) * COLUMN_GAP) / columns - FIGURE_FURNITURE


def present_figure_height(top: float = PRESENT_PAGE_TOP) -> float:
    """The tallest a figure may be to end above the fold of a 1080 px projector, its top `top`
    pixels down the screen (by default: any figure, once scrolled to)."""
    return PRESENT_SCREEN_HEIGHT - top


PRESENT_WIDTH = present_plot_width()  # 1,660 px: a figure across the page
# A 1366 x 768 laptop (the smallest screen a student brings): Streamlit's wide page beside the open
# sidebar leaves this many pixels to the page's columns (measured in Chromium: tests/browser/test_rows.py).
LAPTOP_PAGE_WIDTH = 906
MIN_NUMBER_FONT = 12  # pixels: a number drawn in a figure is at least this large, or not drawn
DIGIT_WIDTH = 0.6  # a character's width, in font sizes (digits and signs of a sans-serif font)


def laptop_plot_width(columns: int = 1) -> float:
    """The plot width a figure gets on a 1366 px laptop, in one of `columns` equal columns."""
    return max((LAPTOP_PAGE_WIDTH - (columns - 1) * COLUMN_GAP) / columns - FIGURE_FURNITURE, 1)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2's contrast ratio of two "#rrggbb" colours, 1 to 21 (text needs 4.5)."""

    def luminance(color: str) -> float:
        channels = [int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


LABEL_ROOM = 150  # pixels Plotly's automargin may take below a heatmap for its slanted token labels
TOOLBAR_HEIGHT = 30  # pixels of Plotly's toolbar (the mode bar) at the top right, kept clear of the title
MULTILINE_LIFT = 0.75  # measured in Chromium: see _clear_toolbar
# The layout of a heatmap with square cells: the y axis takes the x axis' scale (one side only:
# Plotly ignores the other side of a scaleanchor loop), each axis shrunk to its data, not padded.
SQUARE_AXES = {"yaxis": dict(scaleanchor="x", scaleratio=1, constrain="domain"), "xaxis": dict(constrain="domain")}


def wrapped_title(text: str, width: int = TITLE_CHARS) -> str:
    """text in lines of at most width characters, broken at spaces (a longer word stays whole)
    and joined by <br>, as Plotly breaks lines; its own <br> breaks are kept."""
    lines = []
    for paragraph in text.split("<br>"):
        line = ""
        for word in paragraph.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "<br>".join(lines)


def thinned_ticks(count: int, axis_pixels: float, font_size: float) -> list[int]:
    """Indices of the count labels to keep on an axis of axis_pixels: every k-th, k the smallest
    step at which labels of font_size do not overlap; all of them when they fit."""
    if count <= 0:
        return []
    step = max(1, math.ceil(count * font_size * LINE_SPACING / max(axis_pixels, 1)))
    return list(range(0, count, step))


def _enlarge(node, font_size: float) -> None:
    """Raise every font size in a figure's JSON (layout and traces) below font_size to it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("font") and isinstance(value, dict) and "size" in value:
                size = value["size"]
                value["size"] = [max(s, font_size) for s in size] if isinstance(size, list) else max(size, font_size)
            _enlarge(value, font_size)
    elif isinstance(node, list):
        for item in node:
            _enlarge(item, font_size)


def _font(owner: dict, key: str, font_size: float) -> None:
    owner.setdefault(key, {}).setdefault("size", font_size)


def _axis_fonts(spec: dict):
    """The fonts of every axis' tick labels and title and every colour bar's (heatmaps' and colour
    axes'), made where the figure leaves them to the template: legible sizes and colours them."""
    layout = spec["layout"]
    colorbars = [trace.setdefault("colorbar", {}) for trace in spec.get("data", []) if trace.get("type") == "heatmap"]
    for name, value in layout.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(value, dict):
            yield value.setdefault("tickfont", {})
            yield value.setdefault("title", {}).setdefault("font", {})
        elif name.startswith("coloraxis") and isinstance(value, dict):
            colorbars.append(value.setdefault("colorbar", {}))
    for colorbar in colorbars:
        yield colorbar.setdefault("tickfont", {})
        yield colorbar.setdefault("title", {}).setdefault("font", {})


def _set_sizes(spec: dict, font_size: float) -> None:
    """Write font_size where the figure leaves a text's size to its template: the app's theme
    would otherwise draw tick labels, legends and colour bars smaller than the layout's font."""
    layout = spec["layout"]
    _font(layout.setdefault("legend", {}), "font", font_size)
    _font(layout.setdefault("title", {}), "font", font_size)
    for annotation in layout.get("annotations", []):
        _font(annotation, "font", font_size)
    for font in _axis_fonts(spec):
        font.setdefault("size", font_size)
    for trace in spec.get("data", []):
        if "text" in trace or "texttemplate" in trace:
            _font(trace, "textfont", font_size)


def _color_ticks(spec: dict) -> None:
    """Tick labels, axis titles and colour bars in TICK_COLOR where the figure leaves them to the
    template: Streamlit's theme draws them in a grey too faint to read (3.7:1)."""
    for font in _axis_fonts(spec):
        font.setdefault("color", TICK_COLOR)


def _number_size(texts: list[str], font: float) -> tuple[float, float]:
    """The pixels (width, height) the longest of texts takes at font, its lines split at <br>."""
    lines = [line for text in texts for line in str(text).split("<br>")] or [""]
    rows = max(str(text).count("<br>") + 1 for text in texts) if texts else 1
    return max(len(line) for line in lines) * font * DIGIT_WIDTH, rows * font * LINE_SPACING


def _array(value) -> np.ndarray:
    """A trace's array as to_plotly_json gives it: a list, or Plotly's typed array (base64 bytes)."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array
    return np.asarray(value if value is not None else [], dtype=object)


def _cell_texts(trace: dict) -> list[str]:
    """What a heatmap writes in its cells: its z formatted as its texttemplate says, or its text."""
    template = trace.get("texttemplate") or ""
    if template.startswith("%{z:") and template.endswith("}"):
        spec = template[4:-1].replace("~", "")
        values = _array(trace.get("z")).astype(float).ravel()
        return [format(v, spec) for v in values[np.isfinite(values)]]
    text = trace.get("text")
    return [str(t) for t in _array(text).ravel()] if text is not None else []


def _fit_numbers(spec: dict, width: float) -> None:
    """Every heatmap that writes numbers in its cells at a size Plotly picks (none set, or below
    MIN_NUMBER_FONT): at MIN_NUMBER_FONT pixels, or, where its cells (on a plot `width` pixels wide)
    are too small for them, none written: the hover still shows each value. Plotly would otherwise
    shrink them to fit, to 8 px and below. A heatmap that sets its cell text's size to
    MIN_NUMBER_FONT or more (ids with their tokens, say) keeps it."""
    layout = spec["layout"]
    heatmaps = [t for t in spec.get("data", []) if t.get("type") == "heatmap" and t.get("texttemplate")]
    for trace in heatmaps:
        if (trace.get("textfont", {}).get("size") or 0) >= MIN_NUMBER_FONT and not trace["texttemplate"].startswith(
            "%{z"
        ):
            continue
        shape = _array(trace.get("z")).shape
        if len(shape) != 2 or not all(shape):
            continue
        xaxis = layout.get("xaxis" + trace.get("xaxis", "x")[1:], {})
        start, end = xaxis.get("domain", [0, 1])
        cell = _square_cell(layout)
        cell_width = cell or width * (end - start) / shape[1]
        cell_height = cell or (_plot_height(layout) - LABEL_ROOM * _labelled(xaxis)) / shape[0]
        font = max(trace.get("textfont", {}).get("size") or PLOTLY_DEFAULT_FONT, MIN_NUMBER_FONT)
        needed_width, needed_height = _number_size(_cell_texts(trace), font)
        if needed_width > cell_width or needed_height > cell_height:
            trace["texttemplate"] = ""
        else:
            trace.setdefault("textfont", {})["size"] = font


def _plot_height(layout: dict) -> float:
    margin = {**PLOTLY_DEFAULT_MARGIN, **layout.get("margin", {})}
    return (layout.get("height") or PLOTLY_DEFAULT_HEIGHT) - margin["t"] - margin["b"]


def _labelled(axis: dict) -> bool:
    """Whether an axis is labelled by an array of texts, a text for each value (a token axis)."""
    values, texts = axis.get("tickvals"), axis.get("ticktext")
    return axis.get("tickmode") == "array" and values is not None and texts is not None and len(values) == len(texts)


def _square_cell(layout: dict) -> float | None:
    """The side of a heatmap's square cells (its y axis tied to the x axis' scale: square_cells),
    what the plot's height less the labels' room holds for its rows, a value of its token axis each;
    None for other figures, and for a square map without token labels (nothing to thin)."""
    yaxis = layout.get("yaxis", {})
    if yaxis.get("scaleanchor") != "x" or not _labelled(yaxis) or not yaxis["tickvals"]:
        return None
    return (_plot_height(layout) - LABEL_ROOM) / len(yaxis["tickvals"])


def _thin_axes(layout: dict, font_size: float, width: float) -> None:
    """Thin every axis labelled by an array of texts (the token axes) to what its length holds (the
    x axes': `width` pixels, or their domain's share of it; a map with square cells: its cells')."""
    cell = _square_cell(layout)
    for name, axis in layout.items():
        if not (name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict)):
            continue
        if not _labelled(axis):
            continue
        values, texts = axis["tickvals"], axis["ticktext"]
        if cell is None:
            start, end = axis.get("domain", [0, 1])
            length = (_plot_height(layout) if name.startswith("y") else width) * (end - start)
        else:
            length = cell * len(values)
        keep = thinned_ticks(len(values), length, font_size)
        axis["tickvals"], axis["ticktext"] = [values[i] for i in keep], [texts[i] for i in keep]


def _clear_toolbar(layout: dict) -> None:
    """Wrap the title (wrapped_title) and put it under the toolbar's height, with the top margin
    to hold both, and the panels' titles of a figure of subplots under it: on a narrow chart a long
    title would run under the toolbar's buttons, or into the panels' titles."""
    title = layout.get("title")
    if not isinstance(title, dict) or not title.get("text"):
        return
    title["text"] = wrapped_title(title["text"])
    lines = title["text"].count("<br>") + 1
    font = title.get("font", {}).get("size", layout.get("font", {}).get("size", PLOTLY_DEFAULT_FONT) * TITLE_SCALE)
    height = layout.get("height") or PLOTLY_DEFAULT_HEIGHT
    # Plotly puts a multi-line title's top about MULTILINE_LIFT of its size per extra line above its anchor.
    top = TOOLBAR_HEIGHT + (lines - 1) * MULTILINE_LIFT * font
    title.update(yref="container", y=1 - top / height, yanchor="top")
    margin = layout.setdefault("margin", {})
    needed = TOOLBAR_HEIGHT + lines * font * LINE_SPACING + 8
    # make_subplots' panel titles stand on the plots' top edge, in the top margin: under the title.
    panel_titles = [
        note.get("font", {}).get("size", PLOTLY_DEFAULT_FONT)
        for note in layout.get("annotations", ())
        if note.get("yref") == "paper" and note.get("yanchor") == "bottom" and note.get("y", 0) >= 1
    ]
    needed += max(panel_titles, default=0) * LINE_SPACING
    margin["t"] = max(margin.get("t", PLOTLY_DEFAULT_MARGIN["t"]), round(needed))


def legible(
    figure: go.Figure,
    font_size: float | None = None,
    width: float = ASSUMED_WIDTH,
    numbers_width: float | None = None,
    show_marker: bool = True,
) -> go.Figure:
    """figure with every text at least font_size (None: as it is), its token axes thinned so
    that their labels, at the figure's font size, do not overlap on a plot `width` pixels wide (a
    map with square cells: on its cells, as large as its height allows), and its title clear of the
    toolbar on any width (_clear_toolbar); its tick labels and axis titles in TICK_COLOR, and the
    numbers in its heatmaps' cells MIN_NUMBER_FONT pixels or more, or hidden where the cells of a
    plot numbers_width pixels wide (default: width) are too small for them (_fit_numbers). With
    show_marker False, the word-start marker is then taken out of every text (tokens.without_marker)."""
    return go.Figure(legible_spec(figure.to_plotly_json(), font_size, width, numbers_width, show_marker))


def legible_spec(
    spec: dict,
    font_size: float | None = None,
    width: float = ASSUMED_WIDTH,
    numbers_width: float | None = None,
    show_marker: bool = True,
) -> dict:
    """legible on a figure's JSON (to_plotly_json), which it changes: the app hands the result
    to the browser as it is, neither copied nor checked again."""
    layout = spec.setdefault("layout", {})
    if font_size is not None:
        _font(layout, "font", font_size)
        _set_sizes(spec, font_size)
        _enlarge(spec, font_size)
    _clear_toolbar(layout)  # first: it may deepen the top margin, which shortens the y axes
    _thin_axes(layout, layout.get("font", {}).get("size", PLOTLY_DEFAULT_FONT), width)
    _color_ticks(spec)
    _fit_numbers(spec, width if numbers_width is None else numbers_width)
    return spec if show_marker else strip_markers(spec)


def square_cells(
    figure: go.Figure,
    width: float = PRESENT_WIDTH,
    min_width: float = ASSUMED_WIDTH,
    min_cell: float = MIN_CELL,
    max_height: float = present_figure_height(),
) -> go.Figure:
    """A figure with one heatmap on one pair of axes (click targets may lie over it) drawn with
    square cells (for the projector): the y axis is tied to the x axis' scale and the height set to
    hold rows of cells of max(min_width / columns, min_cell) pixels, but no more than width / columns
    (the width draws no larger cells: a taller figure would only add blank space) and no taller than
    max_height in all (the screen below the figure's top: smaller cells, the plot narrower), down to
    cells of min_cell for a map with token labels, which a longer sentence takes past max_height.
    Other figures come back unchanged, and so does a table with token labels on one axis only (a
    vector per token, such as (T, d_ff) activations: square cells would flatten it to a strip)."""
    spec = square_cells_spec(figure.to_plotly_json(), width, min_width, min_cell, max_height)
    return figure if spec is None else go.Figure(spec)


def square_cells_spec(
    spec: dict,
    width: float = PRESENT_WIDTH,
    min_width: float = ASSUMED_WIDTH,
    min_cell: float = MIN_CELL,
    max_height: float = present_figure_height(),
) -> dict | None:
    """square_cells on a figure's JSON, which it changes: None for a figure it leaves as it is."""
    traces = spec.get("data", [])
    heatmaps = [trace for trace in traces if trace.get("type") == "heatmap"]
    if len(heatmaps) != 1 or {trace.get("xaxis") or "x" for trace in traces} != {"x"}:
        return None
    shape = np.shape(_array(heatmaps[0].get("z")))
    if len(shape) != 2 or not shape[0] or not shape[1]:
        return None
    layout = spec.setdefault("layout", {})
    labelled = [_labelled(layout.get(name, {})) for name in ("xaxis", "yaxis")]
    if labelled.count(True) == 1:
        return None
    rows, columns = shape
    _clear_toolbar(layout)  # first: the top margin that legible keeps, so that the cells keep their size
    margin = {**PLOTLY_DEFAULT_MARGIN, **layout.get("margin", {})}
    furniture = margin["t"] + margin["b"] + LABEL_ROOM
    cell = min(max(min_width / columns, min_cell), width / columns)
    # The screen's room shrinks the cells, a token map's no smaller than a label: a longer sentence
    # reaches past the fold rather than lose its labels.
    smallest = min(cell, min_cell) if any(labelled) else 1
    cell = max(min(cell, (max_height - furniture) / rows), smallest)
    layout["height"] = round(rows * cell + furniture)
    for name, settings in SQUARE_AXES.items():
        layout.setdefault(name, {}).update(settings)
    return spec
