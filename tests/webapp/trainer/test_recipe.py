"""webapp/trainer/recipe.py: the Train page's settings as the recipe the command line trains, in memory
and as a TOML file."""

import tomllib
from pathlib import Path

import pytest

from transformer.data import toy_task_pairs
from webapp.trainer.recipe import DEV_PAIRS, TRAIN_PAIRS, probe_pair, recipe_for, recipe_toml, recipe_values
from webapp.trainer.settings import TrainSetup

SETUP = TrainSetup(task="rotate", shift=2, min_len=3, max_len=6, layers=2, heads=2, d_model=16, d_ff=24, norm="pre")


@pytest.mark.parametrize("setup", [SETUP, TrainSetup(task="copy", norm="post", dropout=0.0)])
def test_the_toml_file_reads_back_as_the_values_the_page_trains(setup):
    values = tomllib.loads(recipe_toml(setup))
    expected = recipe_values(setup, Path("runs") / f"live-{setup.task}")
    assert values == {**expected, "output": f"checkpoints/live-{setup.task}"}  # every field, every type


def test_the_settings_reach_the_model_training_and_data():
    recipe = recipe_for(SETUP, Path("/tmp/run"))
    values = recipe_values(SETUP, Path("/tmp/run"))
    assert values["model"] == {
        "d_model": 16,
        "n_heads": 2,
        "n_encoder_layers": 2,
        "n_decoder_layers": 2,
        "d_ff": 24,
        "dropout": SETUP.dropout,
        "max_len": 8,  # the longest sequence and EOS, and one more
        "pre_norm": True,
        "tie_embeddings": True,
    }
    [train], [dev] = values["data"]["train"], values["data"]["dev"]
    assert train["task"] == dev["task"] == "rotate" and train["shift"] == 2
    assert (train["count"], dev["count"]) == (TRAIN_PAIRS, DEV_PAIRS)
    assert len({train["seed"], dev["seed"], values["data"]["test"]["fresh"][0]["seed"]}) == 3  # three draws
    assert recipe.name == "live-rotate" and recipe.model == values["model"]


def test_the_probe_is_one_of_the_longest_pairs_of_the_task():
    source, target = probe_pair(SETUP)
    assert len(source.split()) == len(target.split()) == SETUP.max_len
    assert [(source, target)] == toy_task_pairs("rotate", 1, 7, 6, 6, SETUP.symbols, 2)
