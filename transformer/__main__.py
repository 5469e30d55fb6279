"""Command line: python -m transformer {translate, train, evaluate} ..."""

import argparse
import json
import sys
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line on stderr, exit 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m transformer", description="Train, run and score the from-scratch Transformer.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = commands.add_parser("translate", help="translate TEXT arguments, or stdin one sentence per line")
    t.add_argument("--checkpoint", required=True, help="checkpoint folder, e.g. checkpoints/en-de")
    t.add_argument("--beam-size", type=_positive, help="1 = greedy (default: the checkpoint's setting)")
    t.add_argument("--max-len", type=_positive, help="maximum output tokens")
    t.add_argument("--batch-size", type=_positive, default=32)
    t.add_argument("text", nargs="*", help="sentences to translate (none: read stdin)")

    tr = commands.add_parser("train", help="train (or resume) a recipe from configs/")
    tr.add_argument("recipe", type=Path, help="e.g. configs/toy-reverse.toml")
    tr.add_argument("--data-dir", type=Path, default=Path("../shared/data"), help="where relative data paths start")
    tr.add_argument("--max-minutes", type=float, help="stop (resumably) after this long")
    tr.add_argument("--no-progress", action="store_true")

    x = commands.add_parser("export", help="write the checkpoint of a run now (averaging its last snapshots)")
    x.add_argument("recipe", type=Path)
    x.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    x.add_argument("--no-progress", action="store_true")

    e = commands.add_parser("evaluate", help="score a checkpoint on a source file against references (JSON)")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--src", required=True, type=Path, help="one sentence per line (plain or .gz)")
    e.add_argument("--ref", required=True, type=Path, help="references, line by line")
    e.add_argument("--beam-size", type=_positive)
    e.add_argument("--no-progress", action="store_true")
    return parser


def cmd_translate(args) -> None:
    from .translator import load_checkpoint

    translator = load_checkpoint(args.checkpoint)
    lines = args.text if args.text else (line.rstrip("\r\n") for line in sys.stdin)
    batch: list[str] = []

    def flush():
        for result in translator.translate(batch, beam_size=args.beam_size, max_len=args.max_len):
            print(result.text, flush=True)
        batch.clear()

    for line in lines:
        batch.append(line)
        if len(batch) == args.batch_size or not args.text:  # stdin: answer each line at once
            flush()
    if batch:
        flush()


def cmd_train(args) -> None:
    from .training import Recipe, train

    if not args.recipe.is_file():
        raise FileNotFoundError(f"{args.recipe}: recipe not found")
    output = train(Recipe.load(args.recipe), args.data_dir, args.max_minutes, progress=not args.no_progress)
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
    from .translator import load_checkpoint

    translator = load_checkpoint(args.checkpoint)
    sources, references = (read_lines(path, ReadStats()) for path in (args.src, args.ref))
    if len(sources) != len(references):
        raise ValueError(f"{args.src} has {len(sources)} lines but {args.ref} has {len(references)}")
    if None in sources or None in references:
        raise ValueError("input files must be UTF-8")
    print(
        json.dumps(evaluate(translator, sources, references, args.beam_size, progress=not args.no_progress), indent=2)
    )


def main(argv: list[str] | None = None) -> int:
    from .checkpoint import CheckpointError

    args = build_parser().parse_args(argv)
    command = {"translate": cmd_translate, "train": cmd_train, "export": cmd_export, "evaluate": cmd_evaluate}[
        args.command
    ]
    try:
        command(args)
    except (CheckpointError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
