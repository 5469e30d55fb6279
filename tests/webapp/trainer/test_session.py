"""The Train page's background trainer (webapp/trainer/), without Streamlit: it runs the command line
trainer's own loop, its server-wide slots, stop/resume, a closed session, and saving."""

import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import assert_same_weights, cli_env
from transformer import load_checkpoint
from transformer.checkpoint import load_attention_history
from webapp.trainer import recipe as trainer_recipe
from webapp.trainer.recipe import recipe_toml
from webapp.trainer.session import MAX_SAVED, SessionTrainer
from webapp.trainer.settings import TrainSetup
from webapp.trainer.slots import Slots

TINY = TrainSetup(task="copy", min_len=2, max_len=4, layers=1, heads=2, d_model=16, d_ff=32, dropout=0.1)


@pytest.fixture(autouse=True)
def small_data(monkeypatch):
    monkeypatch.setattr(trainer_recipe, "TRAIN_PAIRS", 300)
    monkeypatch.setattr(trainer_recipe, "DEV_PAIRS", 20)
    monkeypatch.setattr(trainer_recipe, "TEST_PAIRS", 20)


def finish(trainer: SessionTrainer, timeout: float = 120) -> None:
    trainer.thread.join(timeout)
    assert not trainer.training and trainer.progress.status in ("finished", "stopped"), trainer.progress.error


def test_the_page_run_stopped_and_resumed_gives_the_cli_trainers_weights(tmp_path):
    setup = TrainSetup(**{**TINY.__dict__, "steps": 40, "batch_tokens": 96, "warmup": 10, "seed": 5})
    (tmp_path / "recipe.toml").write_text(recipe_toml(setup))
    command = [sys.executable, "-m", "transformer", "train", "recipe.toml", "--no-progress"]
    done = subprocess.run(command, cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    cli_weights = torch.load(tmp_path / "runs" / "live-copy" / "state.pt", weights_only=True)["model"]

    trainer = SessionTrainer(setup, "page", slots=Slots(1))
    assert trainer.start()
    while trainer.progress.step < 5 and trainer.training:
        time.sleep(0.01)
    trainer.stop()  # somewhere in the middle: the resumed run must not notice
    assert trainer.progress.status == "stopped" and 0 < trainer.run.step < 40
    assert trainer.start()
    finish(trainer)
    assert trainer.progress.status == "finished" and trainer.run.step == 40
    assert_same_weights(trainer.run.model.state_dict(), cli_weights)
    progress = trainer.snapshot()
    assert progress.dev_curve and progress.dev_curve[-1][0] == 40 and 0 <= progress.exact_match <= 100
    assert [step for step, _ in progress.train_curve] == sorted({step for step, _ in progress.train_curve})
    steps = [step for step, _ in progress.frames]
    assert steps[0] == 0 and steps[-1] == 40 and steps == sorted(steps)
    assert progress.frames[-1][1]["cross"].shape == (1, 2, 5, 5)  # layers, heads, 4 symbols + </s> each side
    trainer.close()
    assert not trainer.run_dir.exists()


def test_a_closed_session_stops_its_run_and_frees_slot_and_memory():
    slots, open_ = Slots(1), [True]
    trainer = SessionTrainer(TrainSetup(**{**TINY.__dict__, "steps": 5000}), "gone", lambda: open_[0], slots)
    assert trainer.start()
    while trainer.progress.step < 3:
        time.sleep(0.01)
    open_[0] = False  # the browser tab was closed
    trainer.thread.join(30)
    assert trainer.progress.status == "closed" and trainer.run is None and not trainer.run_dir.exists()
    assert slots.busy() == 0


def test_saving_writes_a_checkpoint_every_page_can_open(tmp_path):
    trainer = SessionTrainer(TrainSetup(**{**TINY.__dict__, "steps": 30, "batch_tokens": 96}), "saver", slots=Slots(1))
    checkpoints = tmp_path / "checkpoints"
    (checkpoints / "taken").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="stop the run"):
        trainer.save("mine", checkpoints, set())
    trainer.start()
    finish(trainer)
    for name, message in (("Bad Name", "lowercase"), ("../up", "lowercase"), ("en-de", "taken"), ("taken", "taken")):
        with pytest.raises(ValueError, match=message):
            trainer.save(name, checkpoints, {"en-de"})
    folder = trainer.save("mine", checkpoints, {"en-de"})
    translator = load_checkpoint(folder)
    assert translator.translate(["a b"], beam_size=1)[0].text == trainer.try_input("a b").text
    history = load_attention_history(folder)
    assert history.steps and history.probes[0]["source"] == trainer.run.probes[0][0]
    card = (folder / "README.md").read_text()
    assert "| `task` | copy |" in card and "fresh" in card and "[data]" in card
    with pytest.raises(ValueError, match="taken"):
        trainer.save("mine", checkpoints, set())  # never overwrites a checkpoint folder
    for number in range(MAX_SAVED - 2):  # "taken" and "mine" count; a shipped one would not
        (checkpoints / f"saved-{number}").mkdir()
    with pytest.raises(ValueError, match=f"at most {MAX_SAVED} saved checkpoints"):
        trainer.save("one-more", checkpoints, set())  # issue #28: no endless sidebar for every visitor


def test_a_finished_run_of_a_closed_session_is_swept_with_its_folder():
    open_ = [True]
    trainer = SessionTrainer(TrainSetup(**{**TINY.__dict__, "steps": 3}), "left", lambda: open_[0], Slots(1))
    trainer.start()
    finish(trainer)
    open_[0] = False  # the tab closes after the run finished: nothing runs to notice
    SessionTrainer(TINY, "next", slots=Slots(1))  # the next trainer the server makes sweeps
    assert trainer.progress.status == "closed" and not trainer.run_dir.exists()
