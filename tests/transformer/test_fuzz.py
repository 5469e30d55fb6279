"""Property-based tests (hypothesis) of what a file or an option can hold: the config validator, the
recipe validator, the JSON and TOML readers and the command line's input path either accept a value
or refuse it with one line naming the file (or option), whatever the value. Derandomized, with few
examples each: the same inputs on every run, a few seconds in all."""

import copy
import io
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import ROOT
from transformer import CheckpointError
from transformer.__main__ import build_parser, main, text_lines
from transformer.checkpoint import CONFIG_FILE, check_config
from transformer.limits import MAX_LINE_BYTES, parse_json, parse_toml
from transformer.recipe import Recipe

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
WHERE = "fuzzed.file"
TOY = ROOT / "checkpoints" / "toy-reverse"
# Anything a JSON or TOML file can hold, and numbers at and past every bound.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.text(max_size=20),
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
)


def one_line(message: str, where: str) -> bool:
    return "\n" not in message and message.startswith(where)


@FUZZ
@given(field=st.sampled_from(list(json.loads((TOY / CONFIG_FILE).read_text())["model"])), value=VALUES)
def test_a_config_field_of_any_value_is_accepted_or_refused_in_one_line(field, value):
    config = json.loads((TOY / CONFIG_FILE).read_text())
    config["model"][field] = value
    try:
        check_config(config, Path(WHERE))
    except CheckpointError as error:
        assert one_line(str(error), WHERE), error


SYNTAX = {parse_json: '[]{}":,0123456789-eE.tfnrul ', parse_toml: "[]{}=\"'\n.,0123456789_abx +-"}


@pytest.mark.parametrize("parse", SYNTAX, ids=["json", "toml"])
@FUZZ
@given(data=st.data())
def test_a_file_of_any_bytes_is_read_or_refused_in_one_line(parse, data):
    text = data.draw(st.binary(max_size=200) | st.text(alphabet=SYNTAX[parse]).map(str.encode))
    try:
        parse(text, WHERE)
    except ValueError as error:
        assert one_line(str(error), WHERE), error


BASE_RECIPE = parse_toml((ROOT / "configs" / "toy-reverse.toml").read_bytes(), "toy-reverse.toml")
RECIPE_FIELDS = [("train", name) for name in BASE_RECIPE["train"]] + [("model", n) for n in BASE_RECIPE["model"]]
RECIPE_FIELDS += [(None, "seed"), (None, "name"), ("tokenizer", "vocab_size"), ("decoding", "beam_size")]


@FUZZ
@given(where=st.sampled_from(RECIPE_FIELDS), value=VALUES)
def test_a_recipe_field_of_any_value_is_accepted_or_refused_in_one_line(where, value):
    values = copy.deepcopy(BASE_RECIPE)
    table, name = where
    (values[table] if table else values)[name] = value
    try:
        Recipe.from_values(values, WHERE)
    except ValueError as error:
        assert one_line(str(error), WHERE), error


@FUZZ
@given(
    option=st.sampled_from(["--threads", "--beam-size", "--max-len", "--batch-tokens"]),
    value=st.integers(min_value=-(10**6), max_value=10**30).map(str) | st.text(max_size=30),
)
def test_an_option_of_any_value_is_taken_or_refused_by_argparse(option, value, capsys):
    try:
        args = build_parser().parse_args(["translate", "--checkpoint", "x", f"{option}={value}", "text"])
    except SystemExit as exit:
        assert exit.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and option in lines[0], lines
    else:
        assert 1 <= getattr(args, option.removeprefix("--").replace("-", "_")) <= 10**6


@FUZZ
@given(data=st.binary(max_size=300))
def test_input_lines_of_any_bytes_come_out_one_for_one(data):
    assert len(list(text_lines(io.BytesIO(data)))) == len(io.BytesIO(data).readlines())


def test_an_input_line_over_the_bound_is_refused():
    with pytest.raises(ValueError, match=f"input line 2: longer than {MAX_LINE_BYTES:,} bytes"):
        list(text_lines(io.BytesIO(b"ok\n" + b"x" * (MAX_LINE_BYTES + 1))))


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(text=st.text(max_size=300) | st.sampled_from(["[" * 5000, '{"model": ' + "9" * 5000 + "}"]))
def test_the_cli_on_a_checkpoint_with_any_config_text_exits_0_or_2_in_one_line(text, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("fuzzed") / "ckpt"
    shutil.copytree(TOY, folder)
    (folder / CONFIG_FILE).write_text(text)
    status = main(["translate", "--checkpoint", str(folder), "--threads", "1", "a b"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and str(folder / CONFIG_FILE) in err[0], err
