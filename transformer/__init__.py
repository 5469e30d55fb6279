"""A from-scratch encoder-decoder Transformer (Vaswani et al., 2017, "Attention Is All You Need").

The public names are imported on first use (PEP 562), so that `python -m transformer` can pause
the garbage collector before torch loads (see __main__.import_library).
"""

from importlib import import_module

# Each public name and the module that defines it.
_HOMES = {
    "CheckpointError": "checkpoint",
    "ModelConfig": "config",
    "Tokenizer": "tokenizer",
    "Transformer": "model",
    "Translation": "translator",
    "Translator": "translator",
    "load_checkpoint": "translator",
    "save_checkpoint": "checkpoint",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
