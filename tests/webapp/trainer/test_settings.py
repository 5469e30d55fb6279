"""webapp/trainer/settings.py: the Train page's settings and the problems named before a run starts."""

import pytest

from webapp.trainer import recipe as trainer_recipe
from webapp.trainer.settings import TrainSetup, parse_setup, setup_problems


@pytest.fixture(autouse=True)
def small_data(monkeypatch):
    monkeypatch.setattr(trainer_recipe, "TRAIN_PAIRS", 300)
    monkeypatch.setattr(trainer_recipe, "DEV_PAIRS", 20)
    monkeypatch.setattr(trainer_recipe, "TEST_PAIRS", 20)


def test_bad_settings_are_named():
    assert setup_problems(TrainSetup()) == []
    bad = TrainSetup(layers=0, heads=3, d_model=64, steps=0, d_ff=100_000, task="shuffle", min_len=8, max_len=4)
    problems = " / ".join(setup_problems(bad))
    for expected in ("layers must be between 1 and 4", "heads (3) must divide d_model (64)", "steps must be between"):
        assert expected in problems
    assert "d_ff must be between" in problems and "task must be one of" in problems
    assert "min_len (8) is above max_len (4)" in problems
    parsed, rejected = parse_setup({"layers": "2", "dropout": "nan", "heads": "two", "task": "sort", "other": "x"})
    assert parsed == {"layers": 2, "task": "sort"} and len(rejected) == 2
