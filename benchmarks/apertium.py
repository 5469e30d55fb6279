"""Our English->Spanish model against Apertium, the open rule-based translator, on the same
sentences in the same run: sacreBLEU, chrF and sentences per second for each.

    python benchmarks/apertium.py [--checkpoint checkpoints/en-es] [--recipe configs/en-es.toml]
                                  [--data-dir DIR] [--limit N] [--int8]

The sentences are the Tatoeba test split of the en-es recipe (never seen in training). Apertium
is run as `apertium -u eng-spa` (-u: no "*" marks on unknown words), its process start included;
our model's time excludes loading the checkpoint (printed apart). Apertium is optional: without
it the script says how to install it and scores our model alone.
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from transformer import load_checkpoint
from transformer.allocator import keep_freed_memory
from transformer.checkpoint import CONFIG_FILE
from transformer.evaluation import score, translate_all
from transformer.options import default_data_dir
from transformer.recipe import Recipe, load_split

ROOT = Path(__file__).resolve().parent.parent

INSTALL_HINT = "Apertium is not installed: apt-get install apertium apertium-eng-spa (then run this again)"


def parse_apertium(output: str, count: int) -> list[str]:
    """Apertium's stdout -> one translation per input line, without the spaces it keeps around
    them. Raises ValueError when the line count differs from the input's."""
    lines = output.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != count:
        raise ValueError(f"apertium answered {len(lines)} lines for {count} sentences")
    return [line.strip() for line in lines]


def run_apertium(sources: list[str]) -> tuple[list[str], float] | None:
    """Translations and wall seconds (process start included), or None when not installed."""
    if shutil.which("apertium") is None:
        return None
    text = "".join(source.replace("\n", " ") + "\n" for source in sources)
    start = time.perf_counter()
    done = subprocess.run(["apertium", "-u", "eng-spa"], input=text, capture_output=True, text=True, check=True)
    return parse_apertium(done.stdout, len(sources)), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "en-es")
    parser.add_argument(
        "--recipe", type=Path, default=ROOT / "configs" / "en-es.toml", help="where the test split is defined"
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--limit", type=int, help="only the first N test sentences")
    parser.add_argument("--int8", action="store_true", help="our model with int8 linear layers")
    args = parser.parse_args()
    if not (args.checkpoint / CONFIG_FILE).is_file():
        print(f"error: {args.checkpoint} is not a checkpoint folder (train configs/en-es.toml first)", file=sys.stderr)
        return 2
    specs = Recipe.load(args.recipe).data.get("test", {}).get("tatoeba_test")
    if not specs:
        print(f"error: {args.recipe} defines no [data.test] tatoeba_test split", file=sys.stderr)
        return 2
    pairs = load_split(specs, args.data_dir)[0][: args.limit]
    keep_freed_memory()  # as the CLI does
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]

    start = time.perf_counter()
    translator = load_checkpoint(args.checkpoint, "int8" if args.int8 else "fp32")
    print(f"{len(pairs)} Tatoeba test sentences; checkpoint loaded in {time.perf_counter() - start:.1f} s")
    rows = {}
    for name, beam in (("ours, greedy", 1), (f"ours, beam {translator.default_beam_size}", None)):
        start = time.perf_counter()
        outputs = translate_all(translator, sources, beam_size=beam)
        rows[name] = (score(outputs, references), time.perf_counter() - start)
    apertium = run_apertium(sources)
    if apertium is None:
        print(INSTALL_HINT)
    else:
        outputs, seconds = apertium
        rows["Apertium eng-spa"] = (score(outputs, references), seconds)

    print(f"{'system':22s} {'sacreBLEU':>9s} {'chrF':>6s} {'sentences/s':>12s}")
    for name, (scores, seconds) in rows.items():
        print(f"{name:22s} {scores['bleu']:9.2f} {scores['chrf']:6.2f} {len(sources) / seconds:12.0f}")
    if apertium is not None:
        (ours, ours_s), (theirs, theirs_s) = rows["ours, greedy"], rows["Apertium eng-spa"]
        print(
            f"ours (greedy) / Apertium: BLEU {ours['bleu'] / max(theirs['bleu'], 1e-9):.2f}x, "
            f"sentences/s {theirs_s / ours_s:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
