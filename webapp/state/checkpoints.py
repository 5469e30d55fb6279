"""The checkpoints the app can show: the folders listed in checkpoints/ (or $TRANSFORMER_CHECKPOINTS:
webapp.registry.checkpoint_names) with the language pair their config.json names, the one picked
in the sidebar, loaded once per process and shared by every session, and the files a checkpoint
folder ships besides the model (metrics, training log, model card).

Session state: reads "ckpt" (the sidebar's checkpoint picker, webapp.widgets.sidebar); owns no key. A name is
only ever compared with the listed folder names: no path from a URL is ever opened.
"""

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st
import torch

from transformer import CheckpointError, Translator, load_checkpoint
from transformer.allocator import keep_freed_memory
from transformer.checkpoint import (
    CARD_FILE,
    CONFIG_FILE,
    LOG_FILE,
    MAX_TEXT_BYTES,
    METRICS_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    read_bytes,
    read_json,
)
from webapp.registry import CHECKPOINTS_ENV as CHECKPOINTS_ENV  # what tests set to point the app elsewhere
from webapp.registry import THREADS_ENV, checkpoint_names, checkpoints_dir

DEFAULT_CHECKPOINT, FALLBACK_CHECKPOINT = "en-de", "toy-reverse"
EXAMPLES = {"symbols": "a b c d e f g h"}  # source_language -> example text
DEFAULT_EXAMPLE = "Two dogs are playing in the snow."
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")  # "en", "de", "fra": a language, not the toy's "symbols"
ENGLISH = "en"

# Process-wide settings, made once, when the app first imports this module. One intra-op thread
# per translation: these models are small, sessions run side by side, and OpenMP threads competing
# for busy cores (other sessions, a training run) slow every call down many times over (about 1 s
# instead of 10 ms for the toy model on 2 shared cores). Freed memory kept for the next decoding
# step's tensors, as the CLI keeps it (transformer.allocator). A deployment may give each app
# process more threads (make serve's --threads sets THREADS_ENV; docs/deploy.md has the measurements).
torch.set_num_threads(int(os.environ.get(THREADS_ENV, "") or 1))
keep_freed_memory()


@dataclass(frozen=True)
class Checkpoint:
    name: str
    folder: Path
    version: str
    translator: Translator

    @property
    def example(self) -> str:
        return EXAMPLES.get(self.translator.info.get("source_language"), DEFAULT_EXAMPLE)


def default_checkpoint(names: list[str]) -> str | None:
    for name in (DEFAULT_CHECKPOINT, FALLBACK_CHECKPOINT):
        if name in names:
            return name
    return names[0] if names else None


def _modified(path: Path) -> int | None:
    """path's modification time (ns), None if it cannot be read: in a cache key, so that a file
    that changes is read afresh."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _version(folder: Path) -> str:
    """Modification times of the checkpoint's files: a re-exported checkpoint is loaded afresh
    instead of being served from the caches."""
    return "/".join(str(_modified(folder / file)) for file in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE, METRICS_FILE))


def checkpoint_version(name: str) -> str | None:
    """The version of a listed checkpoint (what the caches of its results are keyed by), None if
    no folder of that name is listed."""
    return _version(checkpoints_dir() / name) if name in checkpoint_names() else None


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


def load_named(name: str) -> Checkpoint:
    """The checkpoint of a listed folder name, loaded; CheckpointError if it does not load."""
    folder = checkpoints_dir() / name  # a listed folder name, never a value taken from the URL
    version = _version(folder)
    return Checkpoint(name, folder, version, load(str(folder), version))


def selected_checkpoint() -> Checkpoint | None:
    """The checkpoint picked in the sidebar, loaded (None if there is none); CheckpointError if it
    does not load."""
    names = checkpoint_names()
    name = st.session_state.get("ckpt")
    if name not in names:
        name = default_checkpoint(names)
    return None if name is None else load_named(name)


def current_checkpoint() -> Checkpoint | None:
    """The checkpoint picked in the sidebar, loaded; None if there is none or it is broken (the
    sidebar says why)."""
    try:
        return selected_checkpoint()
    except CheckpointError:
        return None


def checkpoint_for_page(title: str) -> Checkpoint | None:
    """The page's title with the checkpoint it shows ("Translate · en-de (en → de)"), and
    current_checkpoint(), or None after telling the user to pick one that loads."""
    checkpoint = current_checkpoint()
    st.title(title if checkpoint is None else f"{title} · {checkpoint_label(checkpoint.name)}")
    if checkpoint is None:
        st.info("Pick a checkpoint that loads in the sidebar.")
    return checkpoint


def language_pair(info: dict) -> tuple[str, str] | None:
    """(source, target) language of a checkpoint's config.json when both are language codes
    ("en", "de"), else None: the toy's "symbols" → "reversed symbols" is no language pair."""
    pair = info.get("source_language"), info.get("target_language")
    return pair if all(isinstance(code, str) and LANGUAGE_CODE.fullmatch(code) for code in pair) else None


@st.cache_data(max_entries=64, show_spinner=False)
def _info(path: str, modified: int | None) -> dict:
    try:
        return read_json(Path(path))
    except CheckpointError:
        return {}  # the sidebar reports it when the checkpoint is picked


def checkpoint_info(name: str) -> dict:
    """The config.json of a listed checkpoint, read without loading the model ({} if unreadable).
    Cached per modification time of that file alone: the labels of every listed checkpoint ask for
    it on every run."""
    path = checkpoints_dir() / name / CONFIG_FILE
    return _info(str(path), _modified(path))


def checkpoint_label(name: str) -> str:
    """A checkpoint's name with its language pair, "en-de (en → de)"; one that is no language
    pair (the toy) keeps its name alone."""
    pair = language_pair(checkpoint_info(name))
    return name if pair is None else f"{name} ({pair[0]} → {pair[1]})"


def english_checkpoints() -> list[str]:
    """The listed checkpoints that translate English into another language (what Compare offers)."""
    pairs = {name: language_pair(checkpoint_info(name)) for name in checkpoint_names()}
    return [name for name, pair in pairs.items() if pair and pair[0] == ENGLISH and pair[1] != ENGLISH]


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
    path = checkpoint.folder / LOG_FILE
    modified = _modified(path)
    return None if modified is None else _training_log(str(path), modified)


def model_card(checkpoint: Checkpoint) -> str | None:
    """The checkpoint's README.md (its model card, with the data credits), or None."""
    try:
        return read_bytes(checkpoint.folder / CARD_FILE, MAX_TEXT_BYTES).decode("utf-8")
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
    """'set BLEU, ...' for the test sets in metrics.json (the dev set only if there is nothing else);
    a score that is not a number (a hand-edited file) is left out."""
    scores = {name: m.get("bleu") for name, m in metrics.items() if isinstance(m, dict)}
    scores = {
        name: bleu for name, bleu in scores.items() if isinstance(bleu, int | float) and not isinstance(bleu, bool)
    }
    tests = {name: bleu for name, bleu in scores.items() if name != "dev"} or scores
    return ", ".join(f"{name} {bleu:g}" for name, bleu in tests.items()) or None
