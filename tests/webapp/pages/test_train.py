"""The Train page through streamlit.testing (no browser): settings from and to the URL, bad
settings refused, a tiny run trained, tried and saved (then opened on the Translate page), and a
busy server telling a third session to wait."""

import time

import pytest

from tests.webapp.apptest import AFTER_A_RUN, NOT_KEPT, chart_spec, open_page, texts, value_widget_keys
from webapp.state import url as app_url
from webapp.trainer import recipe as trainer_recipe
from webapp.trainer import slots as trainer_slots
from webapp.trainer.session import SessionTrainer
from webapp.trainer.settings import TrainSetup
from webapp.trainer.slots import Slots

pytestmark = pytest.mark.usefixtures("checkpoints")


PAGE = "webapp/pages/train.py"


TINY_URL = {"task": "copy", "min_len": "2", "max_len": "4", "layers": "1", "d_model": "16", "d_ff": "32"}


@pytest.fixture(autouse=True)
def small_runs(monkeypatch):
    monkeypatch.setattr(trainer_recipe, "TRAIN_PAIRS", 300)
    monkeypatch.setattr(trainer_recipe, "DEV_PAIRS", 20)
    monkeypatch.setattr(trainer_recipe, "TEST_PAIRS", 20)
    monkeypatch.setattr(trainer_slots, "SLOTS", Slots(1))


def test_the_settings_come_from_the_url_and_go_back_to_it():
    app = open_page(PAGE, {"task": "rotate", "shift": "3", "layers": "2", "steps": "300", "norm": "pre"})
    state = app.session_state
    assert (state["train_task"], state["train_shift"], state["train_layers"], state["train_norm"]) == (
        "rotate",
        3,
        2,
        "pre",
    )
    assert {"lr_curve", "smoothing_bars"} <= {chart.key for chart in app.get("plotly_chart")}
    assert not app.error and app.button(key="train_start")
    app.number_input(key="train_heads").set_value(4).run()
    params = app.query_params
    assert params["heads"] == "4" and params["task"] == "rotate" and params["shift"] == "3"
    assert "d_model" not in params  # defaults stay out of the link
    assert 'task = "rotate"' in app.get("code")[0].proto.code_text  # the recipe for the command line


@pytest.mark.parametrize(
    "params, message",
    [
        ({"layers": "0"}, "layers must be between 1 and 4"),
        ({"heads": "3"}, "heads (3) must divide d_model (64)"),
        ({"steps": "0"}, "steps must be between"),
        ({"d_model": "100000"}, "d_model must be between"),
        ({"min_len": "9", "max_len": "3"}, "min_len (9) is above max_len (3)"),
        ({"symbols": "40"}, "symbols must be between 2 and 36"),  # beyond a-z0-9: no probe sequence
        ({"symbols": "0"}, "symbols must be between 2 and 36"),
        ({"max_len": "0"}, "max_len must be between 1 and 30"),
        ({"warmup": "0"}, "warmup must be between 1 and 5000"),  # the learning rate divides by it
        ({"warmup": "-5"}, "warmup must be between 1 and 5000"),
        ({"d_model": "0"}, "d_model must be between 8 and 256"),
        ({"d_model": "-4"}, "d_model must be between 8 and 256"),
    ],
)
def test_bad_settings_are_explained_and_nothing_starts(params, message):
    app = open_page(PAGE, params)
    assert any(message in error for error in texts(app.error))
    assert not app.get("plotly_chart") and not app.get("code")  # no plot, no recipe of settings that cannot run
    assert not [button for button in app.button if button.key == "train_start"]
    assert "trainer" not in app.session_state


def test_a_bad_number_typed_in_is_explained_and_can_be_corrected():
    app = open_page(PAGE)
    app.number_input(key="train_symbols").set_value(40).run()
    assert not app.exception, app.exception
    assert any("symbols must be between 2 and 36" in error for error in texts(app.error))
    app.number_input(key="train_symbols").set_value(12).run()
    assert not app.error and app.button(key="train_start")
    assert {"lr_curve", "smoothing_bars"} <= {chart.key for chart in app.get("plotly_chart")}


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("layers", "many", "layers 'many' is not a whole number"),
        ("task", "shuffle", "task 'shuffle' is not one of reverse, copy, sort, rotate, swap"),
        ("norm", "middle", "norm 'middle' is not one of post, pre"),
    ],
)
def test_a_link_value_that_is_not_understood_falls_back_with_a_notice(name, value, message):
    app = open_page(PAGE, {name: value})
    assert app.session_state[f"train_{name}"] == getattr(TrainSetup(), name)
    assert any(message in warning for warning in texts(app.warning))


def test_train_try_and_save_then_translate_with_it():
    app = open_page(PAGE, {**TINY_URL, "steps": "40", "batch_tokens": "96"})
    app.button(key="train_start").click().run()
    trainer = app.session_state["trainer"]
    trainer.thread.join(120)
    assert trainer.progress.status == "finished", trainer.progress.error
    app.run()
    assert not app.exception, app.exception
    assert {"live_curves", "train_attention", "try_attention"} <= {chart.key for chart in app.get("plotly_chart")}
    # The probe's rows are named by the token each position writes: the reference, then </s>.
    probe = chart_spec(app, "train_attention")["layout"]["yaxis"]
    assert probe["ticktext"][-1] == "&lt;/s&gt;" and "&lt;s&gt;" not in probe["ticktext"]
    assert chart_spec(app, "try_attention")["layout"]["yaxis"]["title"]["text"] == "query: token written"
    assert app.select_slider(key="train_replay").value == len(trainer.progress.frames) - 1
    assert value_widget_keys(app) >= AFTER_A_RUN and value_widget_keys(app) - NOT_KEPT <= app_url.KEPT
    app.selectbox(key="train_head").select(0).run()
    app.select_slider(key="train_replay").set_value(0).run()
    app.switch_page("webapp/pages/model.py").run()
    app.switch_page(PAGE).run()  # the attention view as it was left
    assert (app.selectbox(key="train_head").value, app.select_slider(key="train_replay").value) == (0, 0)
    app.text_input(key="train_save_name").input("toy-reverse").run()
    app.button(key="train_save").click().run()
    assert any("taken" in error for error in texts(app.error))  # a shipped checkpoint is never replaced
    app.text_input(key="train_save_name").input("my-copy").run()
    app.button(key="train_save").click().run()
    assert any("my-copy" in message for message in texts(app.success))
    assert "my-copy · saved on the Train page" in app.sidebar.selectbox(key="ckpt").options  # after the shipped ones
    app.sidebar.selectbox(key="ckpt").select("my-copy").run()
    app.switch_page("webapp/pages/translate.py").run()
    assert not app.exception, app.exception
    app.text_area(key="text").input("a b c").run()
    assert not app.exception, app.exception
    assert "attention_map" in {chart.key for chart in app.get("plotly_chart")}


def test_a_third_session_is_told_the_server_is_busy(monkeypatch):
    monkeypatch.setattr(trainer_slots, "SLOTS", Slots(2))
    busy = TrainSetup(**{**TrainSetup().__dict__, "task": "copy", "d_model": 16, "d_ff": 32, "steps": 5000})
    sessions = [SessionTrainer(busy, owner) for owner in ("first", "second")]
    try:
        assert all(session.start() for session in sessions)
        app = open_page(PAGE, TINY_URL)
        app.button(key="train_start").click().run()
        warning = " ".join(texts(app.warning))
        assert "The server is busy" in warning and "You are next" in warning
        assert app.session_state["trainer"].progress.status == "waiting"
        while sessions[0].progress.step < 2:
            time.sleep(0.05)
        assert all(session.training for session in sessions)
        sessions[0].stop()  # a slot frees: the waiting session starts at its next look
        app.session_state["trainer"].start()
        assert app.session_state["trainer"].progress.status in ("preparing", "training")
        app.session_state["trainer"].close()
    finally:
        for session in sessions:
            session.close()


def test_stop_resume_and_reset_from_the_page():
    app = open_page(PAGE, {**TINY_URL, "steps": "3000"})
    app.button(key="train_start").click().run()
    trainer = app.session_state["trainer"]
    assert app.button(key="train_stop").disabled is False and app.button(key="train_resume").disabled
    while trainer.progress.step < 2:
        time.sleep(0.05)
    app.button(key="train_stop").click().run()
    assert trainer.progress.status == "stopped" and not trainer.training
    assert app.button(key="train_resume").disabled is False and app.button(key="train_stop").disabled
    step = trainer.progress.step
    app.button(key="train_resume").click().run()
    assert trainer.training and app.button(key="train_resume").disabled
    while trainer.progress.step <= step:
        time.sleep(0.05)
    app.button(key="train_reset").click().run()
    assert "trainer" not in app.session_state and not trainer.training and not trainer.run_dir.exists()
    assert app.button(key="train_start")
