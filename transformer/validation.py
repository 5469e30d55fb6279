"""Checks of the settings read from files (a checkpoint's config.json, a training recipe): every
field of the right type and within its range, before anything is built from it. A bad value
raises ValueError naming the file and the field, so that it is one line on the command line or
in the app instead of a traceback deep inside the model.
"""

import math
import types
import typing
from dataclasses import MISSING, fields

from .config import ModelConfig, check_heads
from .limits import (
    MAX_BEAM_SIZE,
    MAX_FF_WIDTH,
    MAX_HEADS,
    MAX_LAYERS,
    MAX_POSITIONS,
    MAX_VOCABULARY,
    MAX_WIDTH,
    check_memory,
    inference_bytes,
)

DECODING_TYPES = {"beam_size": int, "length_penalty": float, "max_len_a": float, "max_len_b": int}
DECODING_RANGES = {
    "beam_size": (1, MAX_BEAM_SIZE),
    "length_penalty": (0, None),
    "max_len_a": (0, None),
    "max_len_b": (0, None),
}
MODEL_RANGES = {
    "src_vocab_size": (1, MAX_VOCABULARY),
    "tgt_vocab_size": (1, MAX_VOCABULARY),
    "d_model": (1, MAX_WIDTH),
    "n_heads": (1, MAX_HEADS),
    "n_encoder_layers": (1, MAX_LAYERS),
    "n_decoder_layers": (1, MAX_LAYERS),
    "d_ff": (1, MAX_FF_WIDTH),
    "dropout": (0, 1),
    "attention_dropout": (0, 1),
    "max_len": (2, MAX_POSITIONS),  # room for one token and EOS
    "pad_id": (0, None),
    "bos_id": (0, None),
    "eos_id": (0, None),
}
_TYPE_NAMES = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    dict: "a table",
    list: "a list",
}


def _matches(value, hint) -> bool:
    """Whether a value parsed from JSON or TOML fits a type annotation (lists stand for tuples)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # JSON and TOML booleans are Python ints: not a count
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if origin is tuple:
        return isinstance(value, list | tuple) and len(value) == len(args) and all(map(_matches, value, args))
    if origin is list:
        return isinstance(value, list) and all(_matches(item, args[0]) for item in value)
    return isinstance(value, origin or hint)


def _describe(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        return f"a list of {len(args)} {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    return _TYPE_NAMES.get(origin or hint, str(hint))


def check_fields(values, hints: dict, where: str, ranges: dict | None = None, required: tuple[str, ...] = ()) -> dict:
    """values if it is a table whose fields are all known (hints: name -> type), of their type,
    within ranges (name -> (low, high), either None for no bound), with the required ones present;
    else ValueError naming `where` and the field."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a table of settings, got {values!r:.40}")
    for name in required:
        if name not in values:
            raise ValueError(f"{where}: {name!r} is missing")
    for name, value in values.items():
        if name not in hints:
            raise ValueError(f"{where}: unknown field {name!r} (known: {', '.join(hints)})")
        if not _matches(value, hints[name]):
            raise ValueError(f"{where}: {name!r} must be {_describe(hints[name])}, got {value!r:.40}")
        low, high = (ranges or {}).get(name, (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            raise ValueError(f"{where}: {name!r} must be {bounds}, got {value!r}")
    return values


def dataclass_hints(cls) -> tuple[dict, tuple[str, ...]]:
    """(name -> type, the names without a default) of a dataclass's fields."""
    hints = typing.get_type_hints(cls)
    required = tuple(f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING)
    return {f.name: hints[f.name] for f in fields(cls)}, required


def model_fields(values: dict) -> dict:
    """Every ModelConfig field: values over the defaults."""
    return {f.name: f.default for f in fields(ModelConfig) if f.default is not MISSING} | values


def check_model_settings(values, where: str) -> dict:
    """ModelConfig's fields, checked one by one, and the relations between them that the model
    relies on (heads dividing d_model, special ids inside both vocabularies)."""
    hints, required = dataclass_hints(ModelConfig)
    check_fields(values, hints, where, MODEL_RANGES, required)
    full = model_fields(values)
    check_heads(full["d_model"], full["n_heads"], where)
    vocabulary = min(full["src_vocab_size"], full["tgt_vocab_size"])
    for name in ("pad_id", "bos_id", "eos_id"):
        if full[name] >= vocabulary:
            raise ValueError(f"{where}: {name!r} {full[name]} is outside the vocabulary of {vocabulary} tokens")
    if full["tie_embeddings"] and full["src_vocab_size"] != full["tgt_vocab_size"]:
        raise ValueError(f"{where}: 'tie_embeddings' needs 'src_vocab_size' == 'tgt_vocab_size'")
    return values


def check_model_memory(values: dict, where: str) -> None:
    """ValueError naming `where` unless a model of these (checked) settings fits in memory to be
    loaded and run: asked before any tensor is allocated."""
    check_memory(inference_bytes(model_fields(values)), where, "the model (loaded and run)")


def check_decoding(values, where: str) -> dict:
    """The default decoding settings a checkpoint (or a recipe) carries."""
    return check_fields(values, DECODING_TYPES, where, DECODING_RANGES)
