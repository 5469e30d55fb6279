"""The command line, run as a user would: a subprocess, exit codes, stdout and stderr."""

import json
import os
import shlex
import subprocess
import sys

import pytest
import torch

import transformer.__main__ as cli_module
from tests.helpers import ROOT
from transformer import load_checkpoint
from transformer.checkpoint import WEIGHTS_FILE
from transformer.options import DATA_DIR_VARIABLE


def cli(*args, stdin: str = ""):
    return subprocess.run(
        [sys.executable, "-m", "transformer", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_translate_arguments(tiny_checkpoint):
    done = cli("translate", "--checkpoint", tiny_checkpoint, "--max-len", 4, "a b c", "z 9")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and all(len(line.split()) <= 4 for line in lines)


def test_translate_stdin_gives_one_line_per_line(tiny_checkpoint):
    done = cli("translate", "--checkpoint", tiny_checkpoint, "--beam-size", 2, "--max-len", 3, stdin="a b\n\nc d e\n")
    assert done.returncode == 0, done.stderr
    translator = load_checkpoint(tiny_checkpoint)
    expected = [r.text for r in translator.translate(["a b", "", "c d e"], beam_size=2, max_len=3)]
    assert done.stdout.split("\n") == [*expected, ""]  # one line per input line, the empty one empty
    assert expected[1] == ""


def assert_one_line_error(done):
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_bad_checkpoint_exits_2_with_one_line(tiny_checkpoint, tmp_path):
    assert_one_line_error(cli("translate", "--checkpoint", tmp_path / "missing", "a"))
    (tiny_checkpoint / WEIGHTS_FILE).write_bytes(b"garbage")
    done = cli("translate", "--checkpoint", tiny_checkpoint, "a")
    assert_one_line_error(done)
    assert WEIGHTS_FILE in done.stderr


def test_bad_arguments_exit_2_with_one_line(tiny_checkpoint):
    assert_one_line_error(cli())
    assert_one_line_error(cli("translate", "a"))  # no --checkpoint
    assert_one_line_error(cli("translate", "--checkpoint", tiny_checkpoint, "--beam-size", 0, "a"))
    assert_one_line_error(cli("translate", "--checkpoint", tiny_checkpoint, "--beam-size", "many", "a"))
    assert_one_line_error(cli("frobnicate"))
    assert_one_line_error(cli("train", "configs/does-not-exist.toml"))
    assert_one_line_error(cli("export", "configs/does-not-exist.toml"))


def test_a_closed_stdin_is_one_line(tiny_checkpoint):
    command = f"exec {shlex.quote(sys.executable)} -m transformer translate --checkpoint {shlex.quote(str(tiny_checkpoint))} <&-"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert_one_line_error(done)
    assert "nothing to translate" in done.stderr


def test_evaluate_prints_json(tiny_checkpoint, tmp_path):
    (tmp_path / "src.txt").write_text("a b\nc d\n")
    (tmp_path / "ref.txt").write_text("b a\nd c\n")
    done = cli(
        "evaluate",
        "--checkpoint",
        tiny_checkpoint,
        "--src",
        tmp_path / "src.txt",
        "--ref",
        tmp_path / "ref.txt",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    assert {"bleu", "bleu_signature", "chrf", "bleu_tok_lc", "exact_match"} <= set(scores)
    assert scores["sentences"] == 2 and 0 <= scores["bleu"] <= 100
    (tmp_path / "ref.txt").write_text("only one line\n")
    assert_one_line_error(
        cli("evaluate", "--checkpoint", tiny_checkpoint, "--src", tmp_path / "src.txt", "--ref", tmp_path / "ref.txt")
    )
    (tmp_path / "src.txt").write_text("")
    (tmp_path / "ref.txt").write_text("")
    done = cli(
        "evaluate", "--checkpoint", tiny_checkpoint, "--src", tmp_path / "src.txt", "--ref", tmp_path / "ref.txt"
    )
    assert_one_line_error(done)
    assert "no sentences to score" in done.stderr


def test_the_module_docstring_names_every_command():
    commands = cli_module.build_parser()._subparsers._group_actions[0].choices
    assert all(command in cli_module.__doc__ for command in commands)


def run_bytes(*args, stdin: bytes = b"", **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "transformer", *args], input=stdin, capture_output=True, cwd=ROOT, timeout=120, **kwargs
    )


def test_invalid_utf8_is_replaced_and_every_line_answered():
    toy = str(ROOT / "checkpoints" / "toy-reverse")
    done = run_bytes("translate", "--checkpoint", toy, stdin=b"a b c\nx \xff y\n\nd e f\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().split("\n")
    assert lines[0] == "c b a" and lines[3] == "f e d" and lines[2] == "" and len(lines) == 5
    assert b"line 2: invalid UTF-8" in done.stderr and b"Traceback" not in done.stderr
    done = run_bytes("translate", "--checkpoint", toy, b"a \xff b", "c d")  # bad bytes in an argument
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines()[1] == "d c"


def test_a_piped_file_is_batched_by_length_and_answered_in_order(tmp_path):
    toy = ROOT / "checkpoints" / "toy-reverse"
    symbols = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
    texts = [" ".join(symbols[: int(n)]) for n in torch.randint(1, 11, (150,)).tolist()]
    expected = [" ".join(reversed(text.split())) for text in texts]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    for args, stdin in ((["--input", tmp_path / "in.txt"], ""), ([], "\n".join(texts) + "\n")):
        done = cli("translate", "--checkpoint", toy, "--batch-tokens", 50, "--int8", *args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        outputs = done.stdout.splitlines()
        assert len(outputs) == len(texts)
        assert sum(o == e for o, e in zip(outputs, expected)) >= 0.95 * len(texts)  # in order, and right


def test_a_reader_that_goes_away_ends_the_command_quietly():
    toy = ROOT / "checkpoints" / "toy-reverse"
    command = [sys.executable, "-m", "transformer", "translate", "--checkpoint", str(toy)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.close()  # as `... | head -0` would, before a line is written
    _, stderr = process.communicate(b"a b c\n" * 20_000, timeout=120)
    assert process.returncode == 141 and stderr == b""


def test_bad_precision_and_threads_exit_2(tiny_checkpoint):
    assert_one_line_error(cli("translate", "--checkpoint", tiny_checkpoint, "--precision", "fp8", "a"))
    assert_one_line_error(cli("translate", "--checkpoint", tiny_checkpoint, "--threads", 0, "a"))
    assert_one_line_error(cli("train", "configs/toy-reverse.toml", "--precision", "int8"))


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_package_loads_its_names_on_first_use():
    """`import transformer` loads no torch (the command line prepares the process first); each
    public name is found where it is defined, and a misspelt one is an AttributeError."""
    import transformer

    done = run_python("import sys, transformer; print('torch' in sys.modules)")
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr
    for name in transformer.__all__:
        assert getattr(transformer, name).__name__ == name
    assert set(transformer.__all__) <= set(dir(transformer))
    with pytest.raises(AttributeError, match="no attribute 'Transfomer'"):
        transformer.Transfomer  # noqa: B018


def test_the_command_line_imports_with_the_collector_paused_then_freezes_what_it_imported():
    check = (
        "import gc, transformer.__main__ as m; {}collections = []; "
        "gc.callbacks.append(lambda phase, info: collections.append(phase)); m.import_library(); "
        "print(gc.isenabled(), gc.get_freeze_count(), collections.count('start'))"
    )
    enabled, frozen, collected = run_python(check.format("")).stdout.split()
    assert enabled == "True" and int(frozen) > 50_000 and collected == "0"  # torch's and the library's objects
    enabled, frozen, _ = run_python(check.format("import torch; ")).stdout.split()  # torch loaded: a caller's
    assert enabled == "True" and frozen == "0"
    enabled, _, _ = run_python(check.format("gc.disable(); ")).stdout.split()  # a caller who collects by hand
    assert enabled == "False"


def test_help_and_argument_errors_answer_before_torch_loads():
    """--help and a wrong argument are answered from the parser alone: torch (about 1 s) is loaded
    only for a command that runs."""
    check = (
        "import sys\nfrom transformer.__main__ import main\n"
        "try:\n    main({})\nexcept SystemExit as e:\n    print(e.code, 'torch' in sys.modules, file=sys.stderr)"
    )
    for argv, status in (
        (["--help"], "0"),
        (["translate", "--help"], "0"),
        (["translate", "--checkpoint", "x", "--beam-size", "0"], "2"),
        (["evaluate", "--checkpoint", "x", "--src", "a", "--ref", "b", "--precision", "fp64"], "2"),
        (["train"], "2"),
    ):
        done = run_python(check.format(argv))
        assert done.stderr.splitlines()[-1] == f"{status} False", (argv, done.stderr)


MISSING_DATA_RECIPE = """
name = "where"
output = "{folder}/out"
run_dir = "{folder}/run"
source_language = "en"
target_language = "de"
[model]
d_model = 16
n_heads = 2
[train]
max_steps = 1
threads = 1
[data]
train = [{{ kind = "parallel", src = "nowhere/train.en", tgt = "nowhere/train.de" }}]
dev = [{{ kind = "reverse", count = 2, seed = 1 }}]
"""


def test_train_finds_its_data_beside_the_repository_not_the_working_folder(tmp_path):
    """A recipe's data paths start at --data-dir, else $TRANSFORMER_DATA_DIR, else ../shared/data
    beside the repository, wherever the command runs from (here: a folder of its own)."""
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(MISSING_DATA_RECIPE.format(folder=tmp_path))
    environment = {k: v for k, v in os.environ.items() if k != DATA_DIR_VARIABLE} | {"OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "transformer", "train", str(recipe), "--no-progress"]
    for extra, variable, expected in (
        ([], None, ROOT.parent / "shared" / "data"),
        ([], tmp_path / "variable", tmp_path / "variable"),
        (["--data-dir", tmp_path / "flag"], tmp_path / "variable", tmp_path / "flag"),
    ):
        env = environment | ({DATA_DIR_VARIABLE: str(variable)} if variable else {})
        done = subprocess.run([*command, *map(str, extra)], capture_output=True, text=True, cwd=tmp_path, env=env)
        assert_one_line_error(done)
        assert str(expected / "nowhere" / "train.en") in done.stderr, done.stderr
