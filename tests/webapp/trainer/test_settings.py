"""webapp/trainer/settings.py: the Train page's settings and the problems named before a run starts."""

import pytest

from webapp.trainer import recipe as trainer_recipe
from webapp.trainer.recipe import training_problems
from webapp.trainer.settings import TrainSetup, parse_setup, setup_problems


@pytest.fixture(autouse=True)
def small_data(monkeypatch):
    monkeypatch.setattr(trainer_recipe, "TRAIN_PAIRS", 300)
    monkeypatch.setattr(trainer_recipe, "DEV_PAIRS", 20)
    monkeypatch.setattr(trainer_recipe, "TEST_PAIRS", 20)


def test_bad_settings_are_named():
    assert setup_problems(TrainSetup()) == [] and training_problems(TrainSetup()) == []
    bad = TrainSetup(layers=0, heads=3, d_model=64, steps=0, d_ff=100_000, task="shuffle", min_len=8, max_len=4)
    assert training_problems(bad) == setup_problems(bad)  # no recipe is made of settings out of bounds
    problems = " / ".join(setup_problems(bad))
    for expected in ("layers must be between 1 and 4", "heads (3) must divide d_model (64)", "steps must be between"):
        assert expected in problems
    assert "d_ff must be between" in problems and "task must be one of" in problems
    assert "min_len (8) is above max_len (4)" in problems
    parsed, rejected = parse_setup({"layers": "2", "dropout": "nan", "heads": "two", "task": "sort", "other": "x"})
    assert parsed == {"layers": 2, "task": "sort"} and len(rejected) == 2


def test_the_recipes_own_checks_are_named_too(monkeypatch):
    """Settings within bounds whose model this machine cannot hold: the recipe's memory check says so."""
    from transformer import limits

    monkeypatch.setattr(limits, "available_memory", lambda: 1_000_000)  # 1 MB left
    setup = TrainSetup()
    assert setup_problems(setup) == []
    [problem] = training_problems(setup)
    assert "more than the 0.0 GiB this machine has free" in problem
