"""Sampling on the Decoding page: its controls (temperature, top-k, top-p, seed; kept in the URL as
?mode=sample&temperature=0.8&top_k=10&top_p=0.9&seed=3) and the sampled translation, cached like
app_results' translations, with every step's distribution before and after the reshaping."""

import streamlit as st
import torch

import app_checkpoints
import app_results
import app_url
from transformer import Translation
from transformer.sampling import Sampling, sample_decode, step_distributions, top_tokens

MAX_TEMPERATURE, MAX_TOP_K, MAX_SEED = 2.0, 1000, 999_999
TOP_TOKENS = 5
DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "seed": 0}  # top_k: None, every token


def parse_temperature(value: str) -> float | None:
    try:
        temperature = float(value)
    except ValueError:
        return None
    return round(temperature, 2) if 0 <= temperature <= MAX_TEMPERATURE else None


def parse_top_p(value: str) -> float | None:
    try:
        top_p = float(value)
    except ValueError:
        return None
    return round(top_p, 2) if 0 < top_p <= 1 else None


def _restore_from_url() -> None:
    app_url.restore_param(
        "temperature",
        "temperature",
        parse_temperature,
        f"The link's temperature is not between 0 and {MAX_TEMPERATURE:g}; showing 1.",
    )
    app_url.restore_param(
        "top_k",
        "top_k",
        lambda value: top_k if (top_k := app_url.url_number(value)) and top_k <= MAX_TOP_K else None,
        f"The link's top_k is not between 1 and {MAX_TOP_K}; every token is kept.",
    )
    app_url.restore_param("top_p", "top_p", parse_top_p, "The link's top_p is not in (0, 1]; no nucleus cut.")
    app_url.restore_param(
        "seed", "seed", app_url.url_number, f"The link's seed is not a number up to {MAX_SEED}; seed 0."
    )


def controls() -> Sampling:
    """The sampling settings, in one row."""
    _restore_from_url()
    for key, default in DEFAULTS.items():
        st.session_state.setdefault(key, default)
    temperature_column, top_k_column, top_p_column, seed_column = st.columns(4)
    temperature = temperature_column.slider(
        "Temperature",
        0.0,
        MAX_TEMPERATURE,
        step=0.05,
        key="temperature",
        help="Log-probabilities are divided by it: below 1 sharper, above 1 flatter; 0 is greedy.",
    )
    top_k = top_k_column.number_input(
        "Top-k",
        min_value=1,
        max_value=MAX_TOP_K,
        value=None,
        key="top_k",
        placeholder="every token",
        help="Draw only among the k most probable tokens.",
    )
    top_p = top_p_column.slider(
        "Top-p (nucleus)",
        0.05,
        1.0,
        step=0.05,
        key="top_p",
        help="Draw only among the most probable tokens that together reach this probability; 1 keeps all.",
    )
    seed = seed_column.number_input(
        "Seed", min_value=0, max_value=MAX_SEED, key="seed", help="The same seed draws the same translation."
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
    checkpoint: app_checkpoints.Checkpoint, text: str, settings: Sampling
) -> tuple[Translation, list[list[tuple[str, float, float]]]]:
    """The translation sampled with settings (the sidebar's output limit), and for every step
    its most probable tokens as (token, probability at temperature 1, probability drawn from)
    (transformer.sampling.top_tokens). Cached per (checkpoint, text, settings)."""
    translator = checkpoint.translator
    _, max_len = app_results.decoding_settings(checkpoint)

    def compute():
        source, truncated = translator.encode_source(text)
        src = torch.tensor([source], device=translator.device)
        limit = max_len or int(translator.max_len_a * len(source) + translator.max_len_b)
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
    return app_results.results().get(key, compute)
