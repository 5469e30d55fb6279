"""The one home of how the figures look: their colours, colour scales, margins, colour bars and
the few font sizes a figure sets itself. A figure module names a colour by its role (CHOSEN_COLOR,
MASKED_COLOR) and takes its value from here, so that one change restyles every page.

The colours are D3's (Plotly's default traces) and the scales Plotly's named ones; hex codes are
written in lower case, as the figures' JSON has always had them."""

import json

import plotly.graph_objects as go
from plotly.colors import qualitative

# D3's category colours, by name: what most figures draw with.
BLUE, ORANGE, GREEN, RED, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f"
LIGHT_GREY = "#c7c7c7"
PALE_BLUE = "#9ecae1"  # the other bars beside a blue or red one
MASKED_COLOR = "#9e9e9e"  # what attention may not see: masked keys, −∞ scores
HIGHLIGHT = RED  # what a figure points at: the chosen token, a selected map, an outlined head
CATEGORY_COLORS = qualitative.D3  # one colour per sine/cosine pair
# One colour per head in the head view: Okabe & Ito's eight, told apart with every common colour
# vision deficiency (D3's green and red heads were not); yellow last, the faintest line on white.
HEAD_COLORS = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#000000", "#f0e442"]
# Tick labels, axis and colour bar titles: 7.8:1 on the page's white (Streamlit's Plotly theme
# draws them in its faded grey #808495, 3.7:1, below the 4.5:1 of WCAG AA). legibility.legible sets it.
BACKGROUND, TICK_COLOR = "#ffffff", "#4e5261"
TRANSPARENT = "rgba(0,0,0,0)"
CURRENT_STEP_SHADE = "#ffe9a8"  # the step a slider shows elsewhere on the page

# The red and blue ends of DIVERGING, for bars of signed values.
POSITIVE_COLOR, NEGATIVE_COLOR = "#d6604d", "#4393c3"

# Masks: allowed blue, blocked light grey; in a padded batch, real tokens light blue.
ALLOWED_COLOR, BLOCKED_COLOR, TOKEN_COLOR = "#3b7dd8", "#e3e3e3", "#cfe0f7"

# The model card: the colours of the paper's Figure 1, its lines, and the bars of parameters.
FIGURE_1_COLORS = {
    "embedding": "#f8d0d8",
    "positional": "#ffffff",
    "attention": "#fbd49c",
    "norm": "#f3f1a8",
    "feed_forward": "#c5e3f6",
    "linear": "#d9ccef",
    "softmax": "#c9efc4",
}
ARROW_COLOR, BOX_LINE_COLOR, FRAME_LINE_COLOR, FRAME_FILL = "#555", "#444", "#888", "#f5f5f5"
PARAMETER_COLOR = "#4c78a8"

# Colour scales.
WEIGHT_SCALE = "Blues"  # attention weights, 0 to 1
DIVERGING = "RdBu_r"  # signed values centred on 0: red positive, blue negative, white zero
PROBABILITY_SCALE = "RdYlBu"  # red = unsure, blue = sure; readable without telling red from green
SIMILARITY_SCALE = "Viridis"
MASK_SCALE = [[0, BLOCKED_COLOR], [1, ALLOWED_COLOR]]
PADDING_SCALE = [[0, BLOCKED_COLOR], [1, TOKEN_COLOR]]

# Font sizes a figure sets itself (legibility.legible raises them all in presentation mode).
SMALL_FONT_SIZE = 11  # the titles of attention_grid's many small panels
NOTE_FONT_SIZE = 12  # panel titles, notes and cell texts: Plotly's default size
LABEL_FONT_SIZE = 14  # a label that must stand out of its cell or frame
PANEL_TITLE_SIZE = 16  # the title of a panel among several: what make_subplots gives them

SIDE_MARGIN = 10  # pixels left, right and below a plot: the page has its own padding


def margin(top: int, *, left: int = SIDE_MARGIN, right: int = SIDE_MARGIN) -> dict:
    """A layout's margin: top pixels above the plot (room for its titles), SIDE_MARGIN elsewhere."""
    return dict(l=left, r=right, t=top, b=SIDE_MARGIN)


def outline(figure: go.Figure, x: tuple[float, float], y: tuple[float, float], **where) -> go.Figure:
    """Outline the rectangle x = (x0, x1), y = (y0, y1) in HIGHLIGHT: a selected map, head or key.
    where places it (row and col of a subplot, or xref and yref)."""
    return figure.add_shape(outline_shape(x, y), **where)


def outline_shape(x: tuple[float, float], y: tuple[float, float], **refs) -> dict:
    """outline's rectangle as a layout shape; refs (xref, yref) place it."""
    return dict(type="rect", x0=x[0], x1=x[1], y0=y[0], y1=y[1], line=dict(color=HIGHLIGHT, width=3), **refs)


def layout_json(figure: go.Figure) -> str:
    """A figure's layout as JSON, to be kept across calls (a subplot grid made once per shape):
    without its template, which each figure built from it takes from its own time."""
    layout = figure.layout.to_plotly_json()
    layout.pop("template", None)
    return json.dumps(layout)


def colorbar(title: str) -> dict:
    """A thin colour bar, titled with what its colours measure."""
    return dict(title=title, thickness=12)
