"""transformer/validation.py: every field of a config.json or a recipe checked for its type and range
before anything is built from it, a bad one named in one line."""

import math
from dataclasses import dataclass, field

import pytest

from tests.helpers import tiny_config
from transformer.limits import MAX_HEADS
from transformer.validation import (
    MAX_BEAM_SIZE,
    MAX_POSITIONS,
    check_decoding,
    check_fields,
    check_model_settings,
    dataclass_hints,
)

HINTS = {"count": int, "rate": float, "name": str, "flag": bool, "pair": tuple[int, int], "words": list[str]}
HINTS |= {"maybe": int | None}
GOOD = {"count": 3, "rate": 0.5, "name": "x", "flag": True, "pair": [1, 2], "words": ["a", "b"], "maybe": None}


def test_good_fields_pass_unchanged():
    assert check_fields(GOOD, HINTS, "f.toml") is GOOD
    assert check_fields({**GOOD, "rate": 2, "maybe": 7}, HINTS, "f.toml")["rate"] == 2  # an int is a number


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("count", True, "'count' must be an integer, got True"),  # JSON true is an int to Python
        ("count", 1.5, "'count' must be an integer"),
        ("rate", math.inf, "'rate' must be a number"),
        ("rate", math.nan, "'rate' must be a number"),
        ("rate", "0.5", "'rate' must be a number"),
        ("flag", 1, "'flag' must be true or false"),
        ("name", 3, "'name' must be a string"),
        ("pair", [1, 2, 3], "'pair' must be a list of 2 integers"),
        ("pair", [1, "2"], "'pair' must be a list of 2 integers"),
        ("words", ["a", 2], "'words' must be"),
        ("maybe", "x", "'maybe' must be"),
    ],
)
def test_a_field_of_the_wrong_type_is_named_with_the_file(name, value, message):
    with pytest.raises(ValueError, match=f"^f.toml: {message}"):
        check_fields({**GOOD, name: value}, HINTS, "f.toml")


def test_unknown_missing_and_non_table_settings_are_refused():
    with pytest.raises(ValueError, match=r"^f.toml: unknown field 'bogus' \(known: count, rate"):
        check_fields({"bogus": 1}, HINTS, "f.toml")
    with pytest.raises(ValueError, match="^f.toml: 'name' is missing"):
        check_fields({"count": 1}, HINTS, "f.toml", required=("name",))
    with pytest.raises(ValueError, match="^f.toml: expected a table of settings"):
        check_fields([1, 2], HINTS, "f.toml")


def test_ranges_bound_from_below_and_above():
    ranges = {"count": (1, 4), "rate": (0, None)}
    assert check_fields({"count": 1, "rate": 0}, HINTS, "f", ranges)  # the bounds themselves pass
    assert check_fields({"count": 4, "rate": 1e9}, HINTS, "f", ranges)
    with pytest.raises(ValueError, match="'count' must be between 1 and 4, got 5"):
        check_fields({"count": 5}, HINTS, "f", ranges)
    with pytest.raises(ValueError, match="'count' must be between 1 and 4, got 0"):
        check_fields({"count": 0}, HINTS, "f", ranges)
    with pytest.raises(ValueError, match="'rate' must be >= 0, got -0.5"):
        check_fields({"rate": -0.5}, HINTS, "f", ranges)


def test_dataclass_hints_name_the_fields_without_a_default():
    @dataclass
    class Settings:
        name: str
        size: int = 2
        tags: list[str] | None = None
        words: list[str] = field(default_factory=list)

    hints, required = dataclass_hints(Settings)
    assert hints == {"name": str, "size": int, "tags": list[str] | None, "words": list[str]}
    assert required == ("name",)


def test_a_models_settings_are_checked_field_by_field_and_together():
    values = tiny_config().to_dict()
    assert check_model_settings(values, "config.json") == values
    for change, message in [
        ({"n_heads": 5}, "'d_model' 32 is not divisible by 'n_heads' 5"),
        ({"n_heads": 0}, f"'n_heads' must be between 1 and {MAX_HEADS}"),
        ({"dropout": 1.5}, "'dropout' must be between 0 and 1"),
        ({"max_len": MAX_POSITIONS + 1}, f"'max_len' must be between 2 and {MAX_POSITIONS}"),
        ({"eos_id": 23}, "'eos_id' 23 is outside the vocabulary of 23 tokens"),  # the smaller vocabulary
        ({"tie_embeddings": True}, "'tie_embeddings' needs 'src_vocab_size' == 'tgt_vocab_size'"),
        ({"d_model": "32"}, "'d_model' must be an integer"),
    ]:
        with pytest.raises(ValueError, match=f"^config.json: {message}"):
            check_model_settings({**values, **change}, "config.json")
    with pytest.raises(ValueError, match="'src_vocab_size' is missing"):
        check_model_settings({"tgt_vocab_size": 9}, "config.json")


def test_decoding_settings_are_bounded():
    good = {"beam_size": MAX_BEAM_SIZE, "length_penalty": 0.6, "max_len_a": 1, "max_len_b": 50}
    assert check_decoding(good, "config.json") == good
    with pytest.raises(ValueError, match=f"'beam_size' must be between 1 and {MAX_BEAM_SIZE}"):
        check_decoding({"beam_size": MAX_BEAM_SIZE + 1}, "config.json")
    with pytest.raises(ValueError, match="'max_len_b' must be an integer"):
        check_decoding({"max_len_b": 1.5}, "config.json")
    with pytest.raises(ValueError, match="unknown field 'beam'"):
        check_decoding({"beam": 4}, "config.json")
