"""Command line: python -m transformer {translate, train, export, evaluate} ..."""

import argparse
import gc
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .limits import MAX_BATCH_TOKENS, MAX_BEAM_SIZE, MAX_INT_DIGITS, MAX_LINE_BYTES, MAX_POSITIONS, MAX_THREADS
from .options import BATCH_TOKENS, DATA_DIR_VARIABLE, PRECISIONS, TRAINING_PRECISIONS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line on stderr, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _count(high: int):
    """An argparse type: a whole number from 1 to high, the bound stated when it is refused."""

    def count(text: str) -> int:
        try:
            value = int(text) if len(text) <= MAX_INT_DIGITS else None
        except ValueError:
            value = None
        if value is None or not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {high:,}, got {text[:30]!r}")
        return value

    return count


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of minutes, got {text[:30]!r}")
    return value


def import_library() -> None:
    """Import torch and the modules the commands run on. In a fresh process (the command line) the
    garbage collector is paused meanwhile, and what the imports made is then frozen: ~170,000
    objects that live as long as the process, which every collection during the imports and every
    full one after them would walk again (0.1 s of importing torch, then an 80 ms collection
    while translating 2,000 sentences: issue #11). Frozen, they are left out of collections; what
    the command makes is collected as usual. Where torch is loaded already (a test, the app), the
    collector is left alone."""
    if "torch" in sys.modules:
        return
    collecting = gc.isenabled()
    gc.disable()
    try:
        from . import checkpoint, evaluation, precision, translator  # noqa: F401
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


DATA_DIR_HELP = (
    f"where a recipe's data paths start (default: ${DATA_DIR_VARIABLE}, else ../shared/data beside the repository)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m transformer", description="Train, run and score the from-scratch Transformer.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    translate = commands.add_parser(
        "translate", help="translate TEXT arguments, an --input file, or stdin, one sentence per line"
    )
    translate.add_argument("--checkpoint", required=True, help="checkpoint folder, e.g. checkpoints/en-de")
    translate.add_argument(
        "--beam-size", type=_count(MAX_BEAM_SIZE), help="1 = greedy (default: the checkpoint's setting)"
    )
    translate.add_argument("--max-len", type=_count(MAX_POSITIONS), help="maximum output tokens")
    translate.add_argument("--input", type=Path, help="a file of sentences, one per line (plain text)")
    translate.add_argument(
        "--batch-tokens", type=_count(MAX_BATCH_TOKENS), default=BATCH_TOKENS, help="source tokens per batch (x beam)"
    )
    _add_runtime_options(translate)
    translate.add_argument("text", nargs="*", help="sentences to translate (none: read --input or stdin)")

    train = commands.add_parser("train", help="train (or resume) a recipe from configs/")
    train.add_argument("recipe", type=Path, help="e.g. configs/toy-reverse.toml")
    train.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    train.add_argument("--max-minutes", type=_minutes, help="stop (resumably) after this long")
    train.add_argument("--no-progress", action="store_true")
    train.add_argument("--precision", choices=TRAINING_PRECISIONS, help="override the recipe's [train] precision")
    train.add_argument("--threads", type=_count(MAX_THREADS), help="override the recipe's [train] threads")

    export = commands.add_parser("export", help="write the checkpoint of a run now (averaging its last snapshots)")
    export.add_argument("recipe", type=Path)
    export.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    export.add_argument("--no-progress", action="store_true")

    evaluate = commands.add_parser("evaluate", help="score a checkpoint on a source file against references (JSON)")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--src", required=True, type=Path, help="one sentence per line (plain or .gz)")
    evaluate.add_argument("--ref", required=True, type=Path, help="references, line by line")
    evaluate.add_argument("--beam-size", type=_count(MAX_BEAM_SIZE))
    evaluate.add_argument("--no-progress", action="store_true")
    _add_runtime_options(evaluate)
    return parser


def _add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="int8/bf16: faster on the CPU")
    parser.add_argument("--int8", dest="precision", action="store_const", const="int8", help="= --precision int8")
    parser.add_argument("--threads", type=_count(MAX_THREADS), help="CPU threads (default: the idle cores)")


def text_lines(stream: BinaryIO) -> Iterator[str]:
    """The lines of a byte stream as text. Invalid UTF-8 becomes U+FFFD with a warning, never an
    exception: every line in gets its line out. A line over MAX_LINE_BYTES (/dev/zero) is a
    ValueError."""
    for number, raw in enumerate(iter(lambda: stream.readline(MAX_LINE_BYTES + 1), b""), 1):
        if len(raw) > MAX_LINE_BYTES:
            raise ValueError(f"input line {number}: longer than {MAX_LINE_BYTES:,} bytes, the most a line may have")
        line = raw.rstrip(b"\r\n")
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            print(f"warning: line {number}: invalid UTF-8 replaced by U+FFFD", file=sys.stderr)
            yield line.decode("utf-8", "replace")


def repaired(argument: str) -> str:
    """A command-line argument with the bytes that were not UTF-8 (which Python keeps as lone
    surrogates) replaced by U+FFFD."""
    return argument.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def load_translator(args):
    """The checkpoint of translate/evaluate, ready to run: freed memory kept in the process, and
    torch's threads set to --threads before the load, or else to the cores left idle while it loaded
    (the load is the sampling window: no wait)."""
    from .allocator import keep_freed_memory
    from .threads import CoreSample, configure_threads
    from .translator import load_checkpoint

    keep_freed_memory()
    if args.threads:
        configure_threads(args.threads)
        return load_checkpoint(args.checkpoint, args.precision)
    load_window = CoreSample()
    translator = load_checkpoint(args.checkpoint, args.precision)
    configure_threads(since=load_window)
    return translator


def cmd_translate(args) -> None:
    from .evaluation import translate_all

    translator = load_translator(args)
    translate = lambda texts: translate_all(translator, texts, args.beam_size, args.max_len, args.batch_tokens)
    if args.text:
        texts = [repaired(text) for text in args.text]
    elif args.input:
        with open(args.input, "rb") as f:
            texts = list(text_lines(f))
    elif sys.stdin is None:  # started with stdin closed (`<&-`)
        raise ValueError("nothing to translate: give TEXT, --input FILE, or lines on stdin")
    elif sys.stdin.isatty():  # someone typing: answer each line at once
        for line in text_lines(sys.stdin.buffer):
            print(translate([line])[0], flush=True)
        return
    else:  # piped: read everything, translate in length-sorted batches
        texts = list(text_lines(sys.stdin.buffer))
    sys.stdout.write("".join(line + "\n" for line in translate(texts)))


def cmd_train(args) -> None:
    from .allocator import keep_freed_memory
    from .training import Recipe, train

    keep_freed_memory()
    if not args.recipe.is_file():
        raise FileNotFoundError(f"{args.recipe}: recipe not found")
    recipe = Recipe.load(args.recipe)
    recipe.train.precision = args.precision or recipe.train.precision
    recipe.train.threads = args.threads or recipe.train.threads
    output = train(recipe, args.data_dir, args.max_minutes, progress=not args.no_progress)
    if output:
        print(f"checkpoint written to {output}")


def cmd_export(args) -> None:
    from .training import Recipe, TrainingRun

    if not args.recipe.is_file():
        raise FileNotFoundError(f"{args.recipe}: recipe not found")
    run = TrainingRun(Recipe.load(args.recipe), args.data_dir, progress=not args.no_progress)
    if run.step == 0:
        raise ValueError(f"{run.run_dir}: no saved training state to export")
    print(f"checkpoint written to {run.export()}")


def cmd_evaluate(args) -> None:
    from .data import ReadStats, read_lines
    from .evaluation import evaluate

    translator = load_translator(args)
    sources, references = (read_lines(path, ReadStats()) for path in (args.src, args.ref))
    if len(sources) != len(references):
        raise ValueError(f"{args.src} has {len(sources)} lines but {args.ref} has {len(references)}")
    if None in sources or None in references:
        raise ValueError("input files must be UTF-8")
    if not sources:
        raise ValueError(f"{args.src}: no sentences to score")
    print(
        json.dumps(evaluate(translator, sources, references, args.beam_size, progress=not args.no_progress), indent=2)
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # without torch: --help and argument errors answer at once
    import_library()
    from .checkpoint import CheckpointError

    command = {"translate": cmd_translate, "train": cmd_train, "export": cmd_export, "evaluate": cmd_evaluate}[
        args.command
    ]
    try:
        command(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`... | head -1`): stop quietly, as Unix tools do. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the status of a tool the signal ended
    except (CheckpointError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


QUICK_EXIT = ("translate", "evaluate")  # commands that leave nothing behind but what they printed


if __name__ == "__main__":
    status = main()
    if sys.argv[1:2] and sys.argv[1] in QUICK_EXIT:
        # The interpreter's teardown with torch loaded takes about 0.7 s here (`import torch` alone:
        # 2.1 s with a normal exit, 1.3 s without), a sixth of translating 2,000 sentences. All
        # output is written; flush it and leave without the teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
