"""webapp/trainer/slots.py: the server-wide training slots."""

import pytest

from webapp.trainer import recipe as trainer_recipe
from webapp.trainer import slots as trainer_slots
from webapp.trainer.slots import Slots


@pytest.fixture(autouse=True)
def small_data(monkeypatch):
    monkeypatch.setattr(trainer_recipe, "TRAIN_PAIRS", 300)
    monkeypatch.setattr(trainer_recipe, "DEV_PAIRS", 20)
    monkeypatch.setattr(trainer_recipe, "TEST_PAIRS", 20)


def test_slots_let_n_train_and_queue_the_rest(monkeypatch):
    slots = Slots(2)
    assert slots.acquire("a") == 0 and slots.acquire("b") == 0
    assert slots.acquire("c") == 1 and slots.acquire("d") == 2
    assert slots.acquire("a") == 0  # a holder asking again keeps its slot
    slots.release("a")
    assert slots.acquire("d") == 2  # not d's turn: c is first in line
    assert slots.acquire("c") == 0 and slots.acquire("d") == 1 and slots.busy() == 2
    monkeypatch.setattr(Slots, "WAIT_TIMEOUT_S", 0.0)  # d stops asking (its session closed)...
    slots.release("b")
    assert slots.acquire("e") == 0  # ...and loses its place
    monkeypatch.setenv(trainer_slots.SLOTS_ENV, "3")
    assert trainer_slots.default_slot_count() == 3
    monkeypatch.setenv(trainer_slots.SLOTS_ENV, "0")
    assert trainer_slots.default_slot_count() >= 1
