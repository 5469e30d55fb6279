"""Sampling on the Decoding page: its controls (temperature, top-k, top-p, seed; kept in the URL as
?mode=sample&temperature=0.8&top_k=10&top_p=0.9&seed=3) and the sampled translation, cached like
webapp.state.results' translations, with every step's distribution before and after the reshaping.

Session state: owns "temperature", "top_k", "top_p" and "seed" (its widgets, kept across pages).
"""

from collections.abc import Callable

import streamlit as st
import torch

from transformer import Translation
from transformer.sampling import Sampling, sample_decode, step_distributions, top_tokens
from webapp.state import checkpoints, results, url

# (low, high) of each setting: its widget's, and so what a link may set (outside, a notice)
BOUNDS = {"temperature": (0.0, 2.0), "top_k": (1, 1000), "top_p": (0.05, 1.0), "seed": (0, 999_999)}
SLIDER_STEP = 0.05
TOP_TOKENS = 5
DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "seed": 0}  # top_k: None, every token


def parse_decimal(value: str, low: float, high: float) -> float | None:
    """A link's number from low to high, to the sliders' two decimals; None if it is not one."""
    try:
        number = float(value)
    except ValueError:
        return None
    return round(number, 2) if low <= number <= high else None


def parse_whole(value: str, low: int, high: int) -> int | None:
    """A link's whole number from low to high; None if it is not one."""
    number = url.url_number(value)
    return number if number is not None and low <= number <= high else None


def _restore(name: str, parse: Callable[[str, float, float], float | None], fallback: str) -> None:
    """The setting name from the link, if the widget can show it (BOUNDS), else a notice."""
    low, high = BOUNDS[name]
    notice = f"The link's {name} is not between {low:g} and {high:g}; {fallback}."
    url.restore_param(name, name, lambda value: parse(value, low, high), notice)


def _restore_from_url() -> None:
    _restore("temperature", parse_decimal, "showing 1")
    _restore("top_k", parse_whole, "every token is kept")
    _restore("top_p", parse_decimal, "no nucleus cut")
    _restore("seed", parse_whole, "seed 0")


def _slider(column, name: str, label: str, help: str) -> float:
    """A setting with a continuous range (BOUNDS[name]) as a slider in column, kept across pages."""
    return column.slider(label, *BOUNDS[name], step=SLIDER_STEP, key=url.kept(name), help=help)


def controls() -> Sampling:
    """The sampling settings, in one row."""
    _restore_from_url()
    for key, default in DEFAULTS.items():
        st.session_state.setdefault(key, default)
    temperature_column, top_k_column, top_p_column, seed_column = st.columns(4)
    temperature = _slider(
        temperature_column,
        "temperature",
        "Temperature",
        "Log-probabilities are divided by it: below 1 sharper, above 1 flatter; 0 is greedy.",
    )
    top_k = top_k_column.number_input(
        "Top-k",
        *BOUNDS["top_k"],
        value=None,
        key=url.kept("top_k"),
        placeholder="every token",
        help="Draw only among the k most probable tokens.",
    )
    top_p = _slider(
        top_p_column,
        "top_p",
        "Top-p (nucleus)",
        "Draw only among the most probable tokens that together reach this probability; 1 keeps all.",
    )
    seed = seed_column.number_input(
        "Seed", *BOUNDS["seed"], key=url.kept("seed"), help="The same seed draws the same translation."
    )
    return Sampling(temperature, top_k, None if top_p >= 1 else top_p, int(seed))


def describe(settings: Sampling) -> str:
    """The settings as a short phrase: "temperature 0.5, top-k 10, top-p 0.9"."""
    parts = [f"temperature {settings.temperature:g}"]
    if settings.top_k is not None:
        parts.append(f"top-k {settings.top_k}")
    if settings.top_p is not None:
        parts.append(f"top-p {settings.top_p:g}")
    return ", ".join(parts)


def url_params(settings: Sampling) -> dict:
    """The sampling part of the page's URL: only what differs from the defaults."""
    return dict(
        mode="sample",
        temperature=None if settings.temperature == 1 else f"{settings.temperature:g}",
        top_k=settings.top_k,
        top_p=None if settings.top_p is None else f"{settings.top_p:g}",
        seed=settings.seed or None,
    )


def sample(
    checkpoint: checkpoints.Checkpoint, text: str, settings: Sampling
) -> tuple[Translation, list[list[tuple[str, float, float]]]]:
    """The translation sampled with settings (the sidebar's output limit), and for every step
    its most probable tokens as (token, probability at temperature 1, probability drawn from)
    (transformer.sampling.top_tokens). Cached per (checkpoint, text, settings)."""
    translator = checkpoint.translator
    _, max_len = results.decoding_settings(checkpoint)

    def compute():
        source, truncated = translator.encode_source(text)
        src = torch.tensor([source], device=translator.device)
        limit = translator.output_limit(len(source), max_len)
        with st.spinner("Sampling…"):
            output = sample_decode(translator.model, src, limit, settings)
            model_probs, sampled = step_distributions(translator.model, src, output, settings)
        steps = []
        for step, chosen in enumerate(output):
            rows = top_tokens(model_probs[step].cpu(), sampled[step].cpu(), chosen, TOP_TOKENS)
            names = translator.tokenizer.tokens([token for token, _, _ in rows])
            steps.append([(name, p, s) for name, (_, p, s) in zip(names, rows)])
        return translator.explain(source, output, truncated=truncated), steps

    key = ("sample", str(checkpoint.folder), checkpoint.version, text, max_len, settings)
    return results.results().get(key, compute)
