"""The BertViz-style head view of one layer as a self-contained HTML page for st.iframe: query
tokens on the left, key tokens on the right, one line per (query, key) for each chosen head, its
opacity the weight, one colour per head.

The page carries its data as JSON in <script type="application/json" id="head-view-data"> and
draws it with head_view.js (plain DOM and SVG, nothing fetched): hovering a token keeps only its
lines, a click pins that focus, a click on a head in the legend hides its lines, and the buttons
under the drawing download it as PNG (2x) or SVG. The styles live in head_view.css.

Tokens travel as they are and reach the page as text (textContent), never as markup: unlike in
the Plotly figures, "<s>" needs no escaping by label(), which would show up here as "&lt;s&gt;".
"""

import json
from pathlib import Path

import numpy as np

from .attention import head_label
from .rows import writes_reads
from .style import HEAD_COLORS, TICK_COLOR

HEAD_VIEW_MIN_WEIGHT = 0.02  # lighter lines are invisible anyway; skipping them keeps the page small
HEAD_VIEW_FONT_SIZE = 13
ROW_HEIGHT = 1.8  # token rows, in font sizes
HEADER_ROWS = 2  # the title with the legend of heads, then the "query" / "key" column names
TOOLBAR_HEIGHT = 3  # the download buttons under the drawing, in font sizes
WEIGHT_DECIMALS = 3  # opacities need no more, and the page stays small

_HERE = Path(__file__).resolve().parent
STYLE = (_HERE / "head_view.css").read_text(encoding="utf-8")
SCRIPT = (_HERE / "head_view.js").read_text(encoding="utf-8")


def _strongest(weights: np.ndarray, tokens: list[str], n: int = 3) -> str:
    top = np.argsort(-weights, kind="stable")[:n]
    return ", ".join(f"{tokens[i]} ({i}) {weights[i]:.2f}" for i in top)


def _row_height(font_size: int) -> int:
    return round(font_size * ROW_HEIGHT)


def _drawing_height(rows: int, font_size: int) -> int:
    return (HEADER_ROWS + rows) * _row_height(font_size) + font_size  # a little room under the last row


def head_view_height(n_queries: int, n_keys: int, font_size: int = HEAD_VIEW_FONT_SIZE) -> int:
    """Pixels the page of head_view_html needs: the drawing and the buttons under it."""
    return _drawing_height(max(n_queries, n_keys), font_size) + round(font_size * TOOLBAR_HEIGHT)


def _script_json(data) -> str:
    """JSON that cannot end its <script> block early: no <, > or & appears literally (a token may
    be "</script>" or "<!--"); JSON.parse reads the \\u escapes back."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def head_view_html(
    weights,
    query_tokens: list[str],
    key_tokens: list[str],
    heads: list[int],
    title: str = "",
    font_size: int = HEAD_VIEW_FONT_SIZE,
    filename: str = "head-view",
    reads: list[str] | None = None,
    column_names: tuple[str, str] = ("query", "key"),
) -> str:
    """The head view of one layer as an HTML page. weights (heads, queries, keys) holds every head
    of the layer (colours stay tied to head numbers); heads are the ones drawn. Lines lighter than
    HEAD_VIEW_MIN_WEIGHT are left out. The downloads are named filename.png and filename.svg.
    For decoder rows named by the token they write (figures.rows), reads is what each query reads
    (in its tooltip) and column_names the two columns' headings (TokenAxes.titles)."""
    weights = np.asarray(weights, dtype=float)
    n_queries, n_keys = len(query_tokens), len(key_tokens)
    if weights.ndim != 3 or weights.shape[1:] != (n_queries, n_keys):
        raise ValueError(f"weights of shape {weights.shape} do not match (heads, {n_queries} queries, {n_keys} keys)")
    if any(not 0 <= h < len(weights) for h in heads):
        raise ValueError(f"heads {list(heads)} are not all among the {len(weights)} heads of weights")
    queries, keys = [str(t) for t in query_tokens], [str(t) for t in key_tokens]
    if reads is not None and len(reads) != n_queries:
        raise ValueError(f"{len(reads)} tokens read for {n_queries} queries")
    # Tooltips are text, not markup: tokens as they are.
    names = [f"query {q}" if reads is None else writes_reads(q, r) for q, r in zip(queries, reads or queries)]
    data = {
        "title": title,
        "filename": filename,
        "fontSize": font_size,
        "rowHeight": _row_height(font_size),
        "headerRows": HEADER_ROWS,
        "height": _drawing_height(max(n_queries, n_keys), font_size),
        "queries": queries,
        "keys": keys,
        "columnNames": list(column_names),
        # Tooltips: each token's strongest links per head, as the hover of the other figures.
        "queryTips": [
            f"{names[i]} ({i}) attends to\n"
            + "\n".join(f"{head_label(h)}: {_strongest(weights[h, i], keys)}" for h in heads)
            for i in range(n_queries)
        ],
        "keyTips": [
            f"key {keys[j]} ({j}) is attended by\n"
            + "\n".join(f"{head_label(h)}: {_strongest(weights[h, :, j], queries)}" for h in heads)
            for j in range(n_keys)
        ],
        "heads": [
            {"head": h, "name": head_label(h), "color": HEAD_COLORS[h % len(HEAD_COLORS)], "lines": _lines(weights[h])}
            for h in heads
        ],
    }
    return _page(data)


def _lines(weights: np.ndarray) -> list[list]:
    """[query, key, opacity] of one head's (queries, keys) weights, the invisible ones left out."""
    rows, columns = np.nonzero(weights >= HEAD_VIEW_MIN_WEIGHT)
    opacities = np.round(weights[rows, columns], WEIGHT_DECIMALS)
    return [[int(q), int(k), float(w)] for q, k, w in zip(rows, columns, opacities)]


def _page(data: dict) -> str:
    """The HTML page: the styles, an empty drawing, the download buttons, the data and the script."""
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            '<style id="head-view-style">\n',
            f":root {{ --tick-color: {TICK_COLOR}; }}\n",
            STYLE,
            "</style>\n</head>\n<body>\n",
            '<svg id="head-view" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Head view"></svg>\n',
            '<div class="toolbar">',
            '<button type="button" id="download-png">Download PNG</button>',
            '<button type="button" id="download-svg">Download SVG</button>',
            "</div>\n",
            '<script type="application/json" id="head-view-data">',
            _script_json(data),
            "</script>\n<script>\n",
            SCRIPT,
            "</script>\n</body>\n</html>\n",
        ]
    )
