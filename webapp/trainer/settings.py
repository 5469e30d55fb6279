"""The Train page's settings (TrainSetup): each one a URL parameter of /train, with its bounds,
read from a link (parse_setup) and checked (setup_problems) before anything is trained.

No Streamlit, no session state: the page (webapp/pages/train.py) keeps each setting in the
session key "train_{name}".
"""

import math
from dataclasses import dataclass, fields

from transformer.data import SYMBOLS, TASKS

TASK_TITLES = {
    "reverse": "Reverse",
    "copy": "Copy",
    "sort": "Sort",
    "rotate": "Rotate by k",
    "swap": "Swap the halves",
}


@dataclass(frozen=True)
class TrainSetup:
    """The Train page's settings (each one a URL parameter of /train), with their bounds: small
    enough that any allowed run finishes on a laptop CPU in minutes."""

    task: str = "reverse"
    symbols: int = 10  # the first `symbols` of a-z0-9
    min_len: int = 3
    max_len: int = 10
    shift: int = 2  # rotate: by this many positions
    layers: int = 1  # encoder and decoder layers each
    heads: int = 2
    d_model: int = 64
    d_ff: int = 128
    dropout: float = 0.0
    norm: str = "post"  # "post" (the paper) or "pre"
    steps: int = 800
    batch_tokens: int = 1024  # padded tokens per batch
    warmup: int = 100
    lr_scale: float = 0.5  # the peak rate of a small d_model is high: halved, training is steadier
    smoothing: float = 0.1
    seed: int = 1


BOUNDS = {  # TrainSetup field -> (low, high)
    "symbols": (2, len(SYMBOLS)),
    "min_len": (1, 30),
    "max_len": (1, 30),
    "shift": (0, 29),
    "layers": (1, 4),
    "heads": (1, 8),
    "d_model": (8, 256),
    "d_ff": (8, 1024),
    "dropout": (0.0, 0.5),
    "steps": (1, 5000),
    "batch_tokens": (64, 8192),
    "warmup": (1, 5000),
    "lr_scale": (0.01, 10.0),
    "smoothing": (0.0, 0.9),
    "seed": (0, 999_999),
}
CHOICES = {"task": tuple(TASKS), "norm": ("post", "pre")}


def setup_problems(setup: TrainSetup) -> list[str]:
    """What is wrong with these settings themselves (empty if nothing): values out of bounds, heads
    not dividing d_model, an empty length range. webapp.trainer.recipe.training_problems adds the
    recipe's own checks."""
    problems = []
    for name, choices in CHOICES.items():
        if getattr(setup, name) not in choices:
            problems.append(f"{name} must be one of {', '.join(choices)}")
    for name, (low, high) in BOUNDS.items():
        if not low <= getattr(setup, name) <= high:
            problems.append(f"{name} must be between {low:g} and {high:g}, got {getattr(setup, name):g}")
    if setup.heads >= 1 and setup.d_model % setup.heads:
        problems.append(f"heads ({setup.heads}) must divide d_model ({setup.d_model})")
    if setup.min_len > setup.max_len:
        problems.append(f"min_len ({setup.min_len}) is above max_len ({setup.max_len})")
    return problems


def parse_setup(values: dict[str, str]) -> tuple[dict, list[str]]:
    """TrainSetup fields from URL parameters (text): (the values that parse, a notice per value
    that does not, a task or norm not among its CHOICES included). Bounds are checked later, by
    setup_problems."""
    types = {f.name: f.type for f in fields(TrainSetup)}
    parsed, rejected = {}, []
    for name, text in values.items():
        if name not in types:
            continue
        if name in CHOICES and text not in CHOICES[name]:
            choices = ", ".join(CHOICES[name])
            rejected.append(f"The link's {name} {text[:20]!r} is not one of {choices}; using the default.")
            continue
        try:
            value = types[name](text) if types[name] is not str else text
        except ValueError:
            kind = {int: "whole number", float: "number"}[types[name]]
            rejected.append(f"The link's {name} {text[:20]!r} is not a {kind}; using the default.")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            rejected.append(f"The link's {name} is not a finite number; using the default.")
            continue
        parsed[name] = value
    return parsed, rejected
