"""How fast the Translate page answers a new sentence with a warm model: the translation (no
cache) plus every figure the page draws, serialised as st.plotly_chart sends it. Target: < 1 s.

    python benchmarks/app_speed.py [--checkpoint NAME] [--runs N]
"""

import argparse
import random
import statistics
import sys
import time

import plotly.io
import streamlit.logger
import torch

streamlit.logger.set_log_level("error")  # else webapp.state.checkpoints' caches warn that no Streamlit server runs

from figures import (  # noqa: E402
    attention_grid,
    axes_heatmap,
    head_map,
    head_view_html,
    token_probabilities,
    translation_axes,
)
from transformer import load_checkpoint  # noqa: E402
from webapp.state.checkpoints import EXAMPLES, checkpoint_names, checkpoints_dir, default_checkpoint  # noqa: E402

SENTENCES = [
    "Two dogs are playing in the snow.",
    "A man in a blue shirt is standing on a ladder.",
    "I don't know what you mean.",
    "A little girl is climbing into a wooden playhouse.",
    "We have to leave before it gets dark.",
    "Several people are waiting at a bus stop in the rain.",
    "She has been reading the same book for weeks.",
    "A woman with a red umbrella crosses the busy street.",
    "Could you tell me where the station is?",
    "Three children are jumping into a lake on a sunny day.",
    "He forgot his keys at the office again.",
]
KIND, LAYER, HEAD = "cross", 0, None  # the Translate page's default view


def new_sentences(symbols: bool, count: int) -> list[str]:
    if not symbols:
        return [SENTENCES[i % len(SENTENCES)] for i in range(count)]
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    rng = random.Random(0)
    return [" ".join(rng.choices(alphabet, k=rng.randint(8, 16))) for _ in range(count)]


def page_steps(translator, text: str) -> dict[str, float]:
    """Seconds per step of what the Translate page does for a sentence it has not seen."""
    times = {}

    def timed(name, build):
        start = time.perf_counter()
        result = build()
        times[name] = time.perf_counter() - start
        return result

    [translation] = timed("translate", lambda: translator.translate([text]))
    weights = translation.attention[KIND].numpy()
    axes = translation_axes(KIND, translation)  # as the Translate page draws them
    n_heads = weights.shape[1]
    # What the browser receives: Plotly figures as JSON, the head view as its HTML page.
    as_json = lambda build: lambda: plotly.io.to_json(build(), validate=False)
    payloads = {
        "token probabilities": as_json(lambda: token_probabilities(translation.output_tokens, translation.token_probs)),
        "attention map": as_json(lambda: axes_heatmap(head_map(weights, LAYER, HEAD), axes, title="map")),
        "head view": lambda: head_view_html(
            weights[LAYER],
            axes.queries,
            axes.keys,
            list(range(n_heads)),
            title="head view",
            reads=axes.reads,
            column_names=axes.short_titles,
        ),
        "model view": as_json(lambda: attention_grid(weights, selected=(LAYER, HEAD))),
    }
    for name, build in payloads.items():
        timed(name, build)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=default_checkpoint(checkpoint_names()))
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    if args.checkpoint not in checkpoint_names():
        sys.exit(f"no checkpoint {args.checkpoint!r} in {checkpoints_dir()}")
    translator = load_checkpoint(checkpoints_dir() / args.checkpoint)
    symbols = translator.info.get("source_language") in EXAMPLES
    warm_up, *sentences = new_sentences(symbols, args.runs + 1)
    page_steps(translator, warm_up)  # first calls pay for imports and allocator warm-up
    runs = [page_steps(translator, text) for text in sentences]

    beam = "greedy" if translator.default_beam_size == 1 else f"beam {translator.default_beam_size}"
    print(f"checkpoint {args.checkpoint} ({beam}), {args.runs} new sentences, torch threads {torch.get_num_threads()}")
    print(f"{'step':<22}{'median ms':>10}")
    for name in runs[0]:
        print(f"{name:<22}{statistics.median(run[name] for run in runs) * 1000:>10.1f}")
    total = statistics.median(sum(run.values()) for run in runs)
    print(f"{'total':<22}{total * 1000:>10.1f}   under 1 s: {'yes' if total < 1 else 'NO'}")


if __name__ == "__main__":
    main()
