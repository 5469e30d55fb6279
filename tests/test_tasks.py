"""The toy tasks of the Train page (transformer.data.toy_task_pairs) and their recipe data source."""

import random

import pytest

from app_trainer import TrainSetup, recipe_values
from transformer import data as D
from transformer.training import Recipe, load_pairs


def sequences(task: str, **options) -> list[tuple[list[str], list[str]]]:
    pairs = D.toy_task_pairs(task, 200, random.randrange(10_000), **options)
    return [(source.split(), target.split()) for source, target in pairs]


@pytest.mark.parametrize("task", D.TASKS)
def test_every_task_draws_within_its_lengths_and_alphabet(task):
    for source, target in sequences(task, min_len=3, max_len=7, symbols=5):
        assert 3 <= len(source) <= 7 and set(source) <= set("abcde")
        assert sorted(target) == sorted(source)  # a rearrangement: same symbols, same counts


def test_each_task_rearranges_as_named():
    source = ["a", "b", "c", "d", "e"]
    expected = {
        "reverse": "e d c b a",
        "copy": "a b c d e",
        "sort": "a b c d e",
        "rotate": "c d e a b",
        "swap": "c d e a b",  # the second half (with the middle) first
    }
    for task, target in expected.items():
        assert " ".join(D.TASKS[task](source, 2)) == target
    assert D.TASKS["sort"](["9", "b", "a", "0"], 0) == ["a", "b", "0", "9"]  # in the order of SYMBOLS
    assert D.TASKS["swap"](["a", "b", "c", "d"], 0) == ["c", "d", "a", "b"]
    assert D.TASKS["rotate"](["a", "b", "c"], 4) == ["b", "c", "a"]  # k beyond the length wraps


@pytest.mark.parametrize("task", D.TASKS)
def test_targets_follow_the_task_on_random_sequences(task):
    for source, target in sequences(task, max_len=12, shift=3):
        n = len(source)
        if task == "reverse":
            assert all(target[i] == source[n - 1 - i] for i in range(n))
        elif task == "copy":
            assert target == source
        elif task == "sort":
            assert [D.SYMBOLS.index(s) for s in target] == sorted(D.SYMBOLS.index(s) for s in source)
        elif task == "rotate":
            assert all(target[i] == source[(i + 3) % n] for i in range(n))
        else:
            assert target == source[n // 2 :] + source[: n // 2]


def test_generation_is_deterministic_and_reverse_task_pairs_unchanged():
    assert D.toy_task_pairs("sort", 20, 5) == D.toy_task_pairs("sort", 20, 5)
    assert D.toy_task_pairs("sort", 20, 5) != D.toy_task_pairs("sort", 20, 6)
    # The shipped toy-reverse checkpoint's data: the generator's original algorithm, unchanged.
    rng, original = random.Random(11), []
    for _ in range(50):
        symbols = rng.choices(D.SYMBOLS, k=rng.randint(1, 20))
        original.append((" ".join(symbols), " ".join(reversed(symbols))))
    assert D.reverse_task_pairs(50, 11) == original


def test_bad_task_settings_are_refused():
    with pytest.raises(ValueError, match="unknown task"):
        D.toy_task_pairs("shuffle", 1, 0)
    with pytest.raises(ValueError, match="min_len"):
        D.toy_task_pairs("copy", 1, 0, min_len=5, max_len=3)


def test_a_recipe_trains_a_task_from_its_data_table(tmp_path):
    spec = {"kind": "task", "task": "swap", "count": 30, "seed": 4, "min_len": 2, "max_len": 6, "symbols": 8}
    pairs, stats = load_pairs(spec, tmp_path)
    assert pairs == D.toy_task_pairs("swap", 30, 4, 2, 6, 8) and stats.read == 0
    values = recipe_values(TrainSetup(task="rotate", shift=3), tmp_path)
    assert Recipe.from_values(values).data["train"][0]["shift"] == 3
    for bad, message in (
        ({"task": "shuffle"}, "unknown task 'shuffle'"),
        ({"min_len": 9, "max_len": 3}, "min_len is above max_len"),
        ({"symbols": 99}, "'symbols' must be"),
    ):
        broken = recipe_values(TrainSetup(), tmp_path)
        broken["data"]["train"][0] |= bad
        with pytest.raises(ValueError, match=message):
            Recipe.from_values(broken, "page")
