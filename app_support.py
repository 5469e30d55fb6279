"""Streamlit helpers shared by app.py and every page: the checkpoint list, the cached model and
translations, the sidebar (presentation mode, checkpoint, decoding settings, model summary) and
the shareable URL.

Session state keys: "present", "show_marker", "ckpt", "beam_size", "max_len" (sidebar); "text", the sentence
every page shares; pages add their own (the Translate page: "kind", "layer", "head"). A URL value
is only ever used as text to translate or compared with the listed checkpoint folder names and
the model's layers, heads and steps: no path from a URL is ever opened.
"""

import copy
import dataclasses
import functools
import io
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import streamlit as st
import torch

import app_gallery
from figures.legibility import legible
from figures.tokens import display_token, without_marker
from transformer import CheckpointError, Translation, Translator, load_checkpoint
from transformer.checkpoint import (
    CONFIG_FILE,
    MAX_TEXT_BYTES,
    METRICS_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    read_bytes,
    read_json,
)
from transformer.decoding import BeamNode

ROOT = Path(__file__).resolve().parent
CHECKPOINTS_ENV = "TRANSFORMER_CHECKPOINTS"  # lets tests (or a deployment) point the app elsewhere
DEFAULT_CHECKPOINT, FALLBACK_CHECKPOINT = "en-de", "toy-reverse"
EXAMPLES = {"symbols": "a b c d e f g h"}  # source_language -> example text
DEFAULT_EXAMPLE = "Two dogs are playing in the snow."
MAX_TEXT_CHARS = 2000  # far beyond any model's max_len; only bounds the work a URL can ask for
BEAM_SIZES = (1, 2, 3, 4, 5, 6, 8)
MAX_URL_DIGITS = 6  # more than any layer, head, step or sentence number needs
# Translations and ablations kept per process. One of a max-length en-de input holds ~2.5 MB of
# attention maps: 256 entries of those added 624 MB to a server that otherwise runs in ~500 MB.
RESULT_CACHE_BYTES = 256 << 20
T = TypeVar("T")
TRAINING_LOG, MODEL_CARD = "training_log.csv", "README.md"  # optional files of a checkpoint folder

# One intra-op thread per translation: these models are small, sessions run side by side, and
# OpenMP threads competing for busy cores (other sessions, a training run) slow every call
# down many times over (about 1 s instead of 10 ms for the toy model on 2 shared cores).
torch.set_num_threads(1)


@dataclass(frozen=True)
class Checkpoint:
    name: str
    folder: Path
    version: str
    translator: Translator

    @property
    def example(self) -> str:
        return EXAMPLES.get(self.translator.info.get("source_language"), DEFAULT_EXAMPLE)


def checkpoints_dir() -> Path:
    return Path(os.environ.get(CHECKPOINTS_ENV, ROOT / "checkpoints"))


def checkpoint_names() -> list[str]:
    folder = checkpoints_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def default_checkpoint(names: list[str]) -> str | None:
    for name in (DEFAULT_CHECKPOINT, FALLBACK_CHECKPOINT):
        if name in names:
            return name
    return names[0] if names else None


def _version(folder: Path) -> str:
    """Modification times of the checkpoint's files: a re-exported checkpoint is loaded afresh
    instead of being served from the caches."""
    stamps = []
    for file in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE, METRICS_FILE):
        try:
            stamps.append(str((folder / file).stat().st_mtime_ns))
        except OSError:
            stamps.append("-")
    return "/".join(stamps)


@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def _load_once(folder: str, version: str, precision: str) -> Translator | CheckpointError:
    """One Translator per checkpoint version, precision and process, shared by every session: it
    only runs inference and keeps no state between calls. A failure is kept too (Streamlit caches
    no exception), so a broken folder is not read again on every rerun: load raises it."""
    try:
        return load_checkpoint(folder, precision)
    except CheckpointError as error:
        return error


def load(folder: str, version: str, precision: str = "fp32") -> Translator:
    """The shared Translator of a checkpoint folder; CheckpointError if it does not load."""
    loaded = _load_once(folder, version, precision)
    if isinstance(loaded, CheckpointError):
        raise CheckpointError(str(loaded))  # a new exception: the cached one gathers no tracebacks
    return loaded


def _selected() -> Checkpoint | None:
    """The checkpoint picked in the sidebar, loaded (None if there is none); CheckpointError if it
    does not load."""
    names = checkpoint_names()
    name = st.session_state.get("ckpt")
    if name not in names:
        name = default_checkpoint(names)
    if name is None:
        return None
    folder = checkpoints_dir() / name  # a listed folder name, never a value taken from the URL
    version = _version(folder)
    return Checkpoint(name, folder, version, load(str(folder), version))


def current_checkpoint() -> Checkpoint | None:
    """The checkpoint picked in the sidebar, loaded; None if there is none or it is broken (the
    sidebar says why)."""
    try:
        return _selected()
    except CheckpointError:
        return None


def checkpoint_for_page() -> Checkpoint | None:
    """current_checkpoint(), or None after telling the user to pick one that loads."""
    checkpoint = current_checkpoint()
    if checkpoint is None:
        st.info("Pick a checkpoint that loads in the sidebar.")
    return checkpoint


def decoding_settings(checkpoint: Checkpoint) -> tuple[int, int | None]:
    """(beam size, max output tokens or None for the checkpoint's default) from the sidebar."""
    beam_size = st.session_state.get("beam_size", checkpoint.translator.default_beam_size)
    return beam_size, st.session_state.get("max_len")


def translation_precision() -> str:
    """The sidebar's precision for translations ("int8" or "fp32"). Translations only: the
    analysis pages take gradients, which need the fp32 model (checkpoint.translator)."""
    return "int8" if st.session_state.get("int8") else "fp32"


def decoding_label(beam_size: int) -> str:
    return "greedy" if beam_size == 1 else f"beam {beam_size}"


def result_bytes(value) -> int:
    """About how much memory a cached result holds: tensors by their data, containers and
    dataclasses (a Translation, a beam tree) by their items, anything else by sys.getsizeof."""
    if isinstance(value, torch.Tensor):
        return value.nbytes
    if isinstance(value, list | tuple):
        return sys.getsizeof(value) + sum(map(result_bytes, value))
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(result_bytes(k) + result_bytes(v) for k, v in value.items())
    if dataclasses.is_dataclass(value):
        return sys.getsizeof(value) + sum(result_bytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return sys.getsizeof(value)


class ResultCache:
    """The least recently used results, up to max_bytes in all: a count of entries alone does not
    bound the memory, since one translation of a max-length input holds megabytes of attention.
    Thread-safe; each caller gets its own copy, as from st.cache_data."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.bytes = max_bytes, 0
        self.entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The result stored under key, else compute() (stored if it fits)."""
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return copy.deepcopy(self.entries[key][0])
        value = compute()  # outside the lock: other sessions go on meanwhile
        size = result_bytes(value)
        with self.lock:
            if key not in self.entries and size <= self.max_bytes:
                self.entries[key] = (value, size)
                self.bytes += size
                while self.bytes > self.max_bytes:
                    _, (_, freed) = self.entries.popitem(last=False)
                    self.bytes -= freed
        return copy.deepcopy(value)


@st.cache_resource
def results() -> ResultCache:
    """The process's cache of translations and ablations, shared by every session."""
    return ResultCache(RESULT_CACHE_BYTES)


def _translate(
    folder: str,
    version: str,
    text: str,
    settings: tuple[int, int | None],
    prefix: str | None = None,
) -> tuple[Translation, list[list[BeamNode]], float]:
    """The translation, its beam tree (empty when greedy) and the seconds it took, cached.
    settings: (beam size, max output tokens) as decoding_settings gives them."""
    (beam_size, max_len), precision = settings, translation_precision()

    def compute() -> tuple[Translation, list[list[BeamNode]], float]:
        translator = load(folder, version, precision)
        trace = [] if beam_size > 1 else None  # a trace would turn greedy decoding into a beam of one
        with st.spinner("Translating…"):
            start = time.perf_counter()
            [translation] = translator.translate(
                [text], beam_size=beam_size, max_len=max_len, prefix=prefix, trace=trace
            )
            return translation, trace or [], time.perf_counter() - start

    return results().get(("translate", folder, version, text, settings, precision, prefix), compute)


def translate(checkpoint: Checkpoint, text: str) -> tuple[Translation, float]:
    """Translation of text with the sidebar's settings, and the seconds it took. Cached per
    (checkpoint, text, settings): reruns that only change a view never run the model."""
    translation, _, seconds = _translate(
        str(checkpoint.folder), checkpoint.version, text, decoding_settings(checkpoint)
    )
    return translation, seconds


def decode(checkpoint: Checkpoint, text: str, prefix: str | None) -> tuple[Translation, list[list[BeamNode]]]:
    """Translation of text with the sidebar's settings, its start forced to prefix (None: free), and
    the beam tree of transformer.decoding (empty when greedy). Cached like translate."""
    settings = decoding_settings(checkpoint)
    translation, trace, _ = _translate(str(checkpoint.folder), checkpoint.version, text, settings, prefix)
    return translation, trace


@st.cache_data(max_entries=32, show_spinner=False)
def _metrics(folder: str, version: str) -> dict:
    path = Path(folder) / METRICS_FILE
    return read_json(path) if path.exists() else {}


def metrics(checkpoint: Checkpoint) -> dict:
    """The checkpoint's metrics.json ({set: {bleu, chrf, ...}}, {} if absent); CheckpointError
    if it cannot be read."""
    return _metrics(str(checkpoint.folder), checkpoint.version)


@st.cache_data(max_entries=32, show_spinner=False)
def _training_log(path: str, modified: int) -> pd.DataFrame:
    try:
        return pd.read_csv(io.BytesIO(read_bytes(path, MAX_TEXT_BYTES)))
    except ValueError as error:  # pandas' parser errors are ValueErrors
        raise CheckpointError(f"{path}: {error}") from None


def training_log(checkpoint: Checkpoint) -> pd.DataFrame | None:
    """training_log.csv as a table, None if the checkpoint has none; CheckpointError if it cannot
    be read. Cached per modification time: a log that grows is read again."""
    path = checkpoint.folder / TRAINING_LOG
    try:
        modified = path.stat().st_mtime_ns
    except OSError:
        return None
    return _training_log(str(path), modified)


def model_card(checkpoint: Checkpoint) -> str | None:
    """The checkpoint's README.md (its model card, with the data credits), or None."""
    try:
        return read_bytes(checkpoint.folder / MODEL_CARD, MAX_TEXT_BYTES).decode("utf-8")
    except (CheckpointError, UnicodeDecodeError):
        return None


def without_section(markdown: str, heading: str) -> str:
    """markdown without its level-2 sections whose heading starts with heading ("## Scores (…)"
    up to the next "## "): the Model card page draws its scores once, from metrics.json."""
    kept, skipping = [], False
    for line in markdown.splitlines(keepends=True):
        if line.startswith("## "):
            skipping = line[3:].startswith(heading)
        if not skipping:
            kept.append(line)
    return "".join(kept)


def bleu_summary(metrics: dict) -> str | None:
    """'set BLEU, ...' for the test sets in metrics.json (the dev set only if there is nothing else)."""
    scores = {name: m["bleu"] for name, m in metrics.items() if isinstance(m, dict) and "bleu" in m}
    tests = {name: bleu for name, bleu in scores.items() if name != "dev"} or scores
    return ", ".join(f"{name} {bleu:g}" for name, bleu in tests.items()) or None


# --- the shareable URL ---------------------------------------------------------------------


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
        key="text",
        max_chars=MAX_TEXT_CHARS,
        help=f"Up to {checkpoint.translator.max_source_tokens} tokens are used; Enter applies.",
    )


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


def _checkpoint_changed() -> None:
    """Another model: its own decoding defaults, and its own example unless the text was edited."""
    for key in ("beam_size", "max_len"):
        st.session_state.pop(key, None)
    if st.session_state.get("text") in {DEFAULT_EXAMPLE, *EXAMPLES.values(), *app_gallery.gallery_texts()}:
        del st.session_state["text"]


def _restore_checkpoint_from_url(names: list[str]) -> None:
    requested = url_param("ckpt")
    if requested is None:
        return
    if requested in names:
        st.session_state["ckpt"] = requested
    else:
        notice(f"The link names a checkpoint that is not available; showing {default_checkpoint(names)!r} instead.")


def _decoding_widgets(translator: Translator) -> None:
    st.session_state.setdefault("beam_size", translator.default_beam_size)
    st.select_slider(
        "Beam size",
        sorted({*BEAM_SIZES, translator.default_beam_size}),
        key="beam_size",
        format_func=decoding_label,
        help="Greedy takes the most probable token at each step; a beam keeps that many candidate translations.",
    )
    st.number_input(
        "Max output tokens",
        min_value=1,
        max_value=translator.config.max_len,
        value=None,
        key="max_len",
        placeholder="automatic",
        help=f"Empty: {translator.max_len_a:g} × source tokens + {translator.max_len_b}.",
    )
    st.toggle(
        "int8 inference",
        key="int8",
        help="Translate with int8 linear layers (dynamic quantization): faster on the CPU, attention maps "
        "unchanged in kind, scores within about half a BLEU point. The analysis pages keep the fp32 model.",
    )


def _summary(checkpoint: Checkpoint) -> None:
    translator = checkpoint.translator
    info, config = translator.info, translator.config
    # parameters() yields a tied embedding matrix once, so this counts each weight once.
    parameters = sum(p.numel() for p in translator.model.parameters())
    lines = [
        f"**{info.get('source_language', '?')} → {info.get('target_language', '?')}**",
        f"{parameters / 1e6:.2f} M parameters",
        f"{config.n_encoder_layers} encoder + {config.n_decoder_layers} decoder layers, "
        f"{config.n_heads} heads, d_model {config.d_model}",
    ]
    try:
        if summary := bleu_summary(metrics(checkpoint)):
            lines.append(f"Test BLEU: {summary}")
    except CheckpointError as error:
        lines.append(f"Test BLEU unavailable: {error}")
    st.markdown("  \n".join(lines))
    if info.get("description"):
        st.caption(info["description"])


# --- presentation mode ---------------------------------------------------------------------

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


def restore_presentation() -> None:
    """Presentation mode from the link (?present=1), before the page is laid out (app.py)."""
    value = url_param("present")
    if value is None:
        return
    if value in ("0", "1"):
        st.session_state["present"] = value == "1"
    else:
        notice("The link's present value is not 0 or 1; presentation mode is off.")


# --- the sidebar ---------------------------------------------------------------------------

KEPT_ACROSS_PAGES = ("text", "kind", "layer", "head", "head_view_heads")  # widget keys kept per session


def _presentation_changed() -> None:
    st.session_state["show_marker"] = not st.session_state["present"]


def shown_tokens(tokens: list[str]) -> list[str]:
    """tokens as the sidebar's "Show ▁" switch displays them (figures.tokens.display_token)."""
    return [display_token(token, st.session_state.get("show_marker", True)) for token in tokens]


def sidebar() -> None:
    """Presentation mode, checkpoint picker, decoding settings and a short model summary; the
    settings live in st.session_state, where current_checkpoint and translate read them."""
    # A widget's value is dropped at the end of a run that shows no widget with its key: assigning
    # it to itself keeps the shared sentence and the Translate view while another page is open (or
    # Translate shows no map, its text empty).
    for key in KEPT_ACROSS_PAGES:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
    names = checkpoint_names()
    with st.sidebar:
        st.toggle(
            "Presentation mode",
            key="present",
            on_change=_presentation_changed,
            help="Larger text and figures, fewer controls: for a projector.",
        )
        if presenting():
            st.html(PRESENTATION_CSS)
        st.session_state.setdefault("show_marker", not presenting())
        st.toggle(
            "Show ▁ (word start)",
            key="show_marker",
            help="Subword tokens that start a word begin with ▁ in the vocabulary; off, every figure shows them "
            "without it (off by default in presentation mode).",
        )
        if not names:
            st.error(f"No checkpoint folders in {checkpoints_dir()}.")
            return
        _restore_checkpoint_from_url(names)
        if st.session_state.get("ckpt") not in names:
            st.session_state["ckpt"] = default_checkpoint(names)
        st.selectbox("Checkpoint", names, key="ckpt", on_change=_checkpoint_changed)
        try:
            selected = _selected()
        except CheckpointError as error:
            st.error(f"Cannot load this checkpoint: {error}")
            return
        # Hidden, not skipped, in presentation mode: a widget that is not drawn loses its value.
        with st.container(key="sidebar_details"):
            st.subheader("Decoding")
            _decoding_widgets(selected.translator)
            st.subheader("Model")
            _summary(selected)


def plotly_chart(figure, key: str, filename: str, on_select: Callable[[], None] | None = None) -> None:
    """st.plotly_chart with the toolbar's PNG download named after the figure; on_select makes a
    click on a point call it (the chart's selection is then in st.session_state[key]). Token axes
    too long for their labels show every k-th; in presentation mode the figure is drawn taller and
    no text in it is smaller than PRESENT_FONT_SIZE; with "Show ▁" off its tokens lose their
    word-start marker."""
    if presenting():
        figure.update_layout(height=round((figure.layout.height or PLOTLY_DEFAULT_HEIGHT) * PRESENT_FIGURE_SCALE))
    figure = legible(figure, PRESENT_FONT_SIZE if presenting() else None)
    if not st.session_state.get("show_marker", True):
        figure = without_marker(figure)
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}
    if on_select is None:
        st.plotly_chart(figure, key=key, config=config)
    else:
        st.plotly_chart(figure, key=key, config=config, on_select=on_select, selection_mode="points")
