"""The attention view most pages pick — a kind, a layer and a head (or the average over the heads)
— as widgets, and as the link spells it: `kind=cross&layer=2&head=3` (1-based) or `head=avg`.

Session state: owns no key of its own; each page passes the keys of its widgets, all sharing one
`prefix` ("" on Translate, "inside_" on Inside a layer...), so that pages keep separate views, and
each kept across a visit to another page (url.kept).
"""

import streamlit as st

from figures import KIND_TITLES, KINDS, head_label
from webapp.state import url

AVERAGE = "avg"  # the head choice, and its URL value, that averages over the heads


def head_index(head: int | str) -> int | None:
    """A head choice as figures take it: 0-based, or None for the average."""
    return None if head == AVERAGE else head


def restore_head(key: str, n_heads: int, average: bool) -> None:
    """Seed the head widget `key` from the link's head (1-based, or avg where the average is a
    choice); a bad value keeps the default with a notice."""
    words = [AVERAGE] if average else []
    url.restore_param(
        "head",
        key,
        lambda head: head if head in words else url.parse_number(head, n_heads),
        f"The link's head is not between 1 and {n_heads}{f' (or {AVERAGE})' if average else ''}; "
        f"showing {'the average' if average else 'head 1'}.",
    )


def restore_view(config, prefix: str, default_kind: str, default_layer: int = 0, average: bool = False) -> None:
    """Seed the widgets {prefix}kind, {prefix}layer and {prefix}head from the link; bad values
    fall back to the defaults with a notice. The layer is checked against the kind the link names
    (or the page's default kind)."""
    url.restore_param(
        "kind",
        f"{prefix}kind",
        lambda kind: kind if kind in KINDS else None,
        f"The link's attention kind is not one of {', '.join(KINDS)}; showing {default_kind}.",
    )
    layers = config.layers(st.session_state.get(f"{prefix}kind", default_kind))
    url.restore_param(
        "layer",
        f"{prefix}layer",
        lambda layer: url.parse_number(layer, layers),
        f"The link's layer is not between 1 and {layers}; showing layer {min(default_layer, layers - 1) + 1}.",
    )
    restore_head(f"{prefix}head", config.n_heads, average)


def kind_picker(key: str, default: str, container=st) -> str:
    url.keep_valid(key, list(KINDS), default)
    return container.segmented_control("Kind", KINDS, format_func=KIND_TITLES.get, key=url.kept(key), required=True)


def layer_picker(label: str, n_layers: int, key: str, default: int | None = None, container=st) -> int:
    """A layer (0-based); by default the last, the one closest to the output."""
    url.keep_valid(key, list(range(n_layers)), n_layers - 1 if default is None else min(default, n_layers - 1))
    return container.selectbox(label, range(n_layers), key=url.kept(key), format_func=lambda i: f"Layer {i + 1}")


def head_picker(n_heads: int, key: str, average: bool = True, container=st) -> int | str:
    """A head (0-based), or AVERAGE where the average over the heads is a choice (its default)."""
    heads = [AVERAGE, *range(n_heads)] if average else list(range(n_heads))
    url.keep_valid(key, heads, heads[0])
    return container.selectbox("Head", heads, key=url.kept(key), format_func=lambda h: head_label(head_index(h)))
