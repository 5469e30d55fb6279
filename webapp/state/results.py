"""Cached results: the translations with the sidebar's decoding settings, and the process's cache
that keeps them (and the pages' ablations and samples) by size, shared by every session.

Session state: reads "beam_size", "max_len" and "int8" (the sidebar's decoding widgets,
webapp.widgets.sidebar); owns no key.
"""

import copy
import dataclasses
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

import streamlit as st
import torch

from transformer import Translation, Translator
from transformer.decoding import BeamNode
from webapp.registry import INT8_ENV
from webapp.state.checkpoints import Checkpoint, load

# Translations and ablations kept per process. One of a max-length en-de input holds ~2.5 MB of
# attention maps: 256 entries of those added 624 MB to a server that otherwise runs in ~500 MB.
RESULT_CACHE_BYTES = 256 << 20
# A deployment may translate with the int8 model by default (make serve INT8=1; docs/deploy.md):
# the sidebar's toggle then starts on, and a student may still turn it off.
INT8_DEFAULT = os.environ.get(INT8_ENV, "") == "1"
T = TypeVar("T")


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


def output_limit_rule(translator: Translator) -> str:
    """The checkpoint's output limit without "Max output tokens", in words: the rule of
    Translator.output_limit, "1.5 × source tokens + 10"."""
    return f"{translator.max_len_a:g} × source tokens + {translator.max_len_b}"


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
    precision: str | None = None,
) -> tuple[Translation, list[list[BeamNode]], float]:
    """The translation, its beam tree (empty when greedy) and the seconds it took, cached.
    settings: (beam size, max output tokens) as decoding_settings gives them; precision: the
    sidebar's (translation_precision) unless given."""
    beam_size, max_len = settings
    precision = precision or translation_precision()

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


def translate(checkpoint: Checkpoint, text: str, precision: str | None = None) -> tuple[Translation, float]:
    """Translation of text with the sidebar's settings, and the seconds it took. Cached per
    (checkpoint, text, settings): reruns that only change a view never run the model. The
    analysis pages pass precision "fp32": they compare it with what the fp32 model does."""
    settings = decoding_settings(checkpoint)
    translation, _, seconds = _translate(
        str(checkpoint.folder), checkpoint.version, text, settings, precision=precision
    )
    return translation, seconds


def decode(checkpoint: Checkpoint, text: str, prefix: str | None) -> tuple[Translation, list[list[BeamNode]]]:
    """Translation of text with the sidebar's settings, its start forced to prefix (None: free), and
    the beam tree of transformer.decoding (empty when greedy). Cached like translate."""
    settings = decoding_settings(checkpoint)
    translation, trace, _ = _translate(str(checkpoint.folder), checkpoint.version, text, settings, prefix)
    return translation, trace
