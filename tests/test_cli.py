"""The command line, run as a user would: a subprocess, exit codes, stdout and stderr."""

import json
import subprocess
import sys

from conftest import ROOT
from transformer import load_checkpoint


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
    (tiny_checkpoint / "model.safetensors").write_bytes(b"garbage")
    done = cli("translate", "--checkpoint", tiny_checkpoint, "a")
    assert_one_line_error(done)
    assert "model.safetensors" in done.stderr


def test_bad_arguments_exit_2_with_one_line(tiny_checkpoint):
    assert_one_line_error(cli())
    assert_one_line_error(cli("translate", "a"))  # no --checkpoint
    assert_one_line_error(cli("translate", "--checkpoint", tiny_checkpoint, "--beam-size", 0, "a"))
    assert_one_line_error(cli("translate", "--checkpoint", tiny_checkpoint, "--beam-size", "many", "a"))
    assert_one_line_error(cli("frobnicate"))
    assert_one_line_error(cli("train", "configs/does-not-exist.toml"))
    assert_one_line_error(cli("export", "configs/does-not-exist.toml"))


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
