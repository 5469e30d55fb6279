"""The sidebar (webapp/widgets/sidebar.py) through streamlit.testing: the checkpoint picker with broken
or missing checkpoints, the titles naming the languages, and the word-start marker switch."""

import json
import shutil

import pytest

from tests.webapp.apptest import TOY, chart_spec, head_view, open_page, run_app, texts, view_keys
from webapp.state import checkpoints as app_checkpoints


def test_the_show_marker_switch_reaches_every_figure_and_the_head_view():
    app = run_app({"ckpt": "en-de", "text": "Two dogs are playing."})
    switch = app.sidebar.toggle(key="show_marker")
    assert switch.value is True and "▁" in str(chart_spec(app, "attention_map"))
    switch.set_value(False).run()
    for key in ("attention_map", "token_probs", "model_view"):
        assert "▁" not in json.dumps(chart_spec(app, key), ensure_ascii=False), key
    assert "▁" not in json.dumps(head_view(app), ensure_ascii=False)
    assert "dogs" in str(chart_spec(app, "attention_map")["layout"]["xaxis"]["ticktext"])
    app.sidebar.toggle(key="present").set_value(True).run()  # presentation mode hides it by default ...
    assert app.sidebar.toggle(key="show_marker").value is False
    app.sidebar.toggle(key="present").set_value(False).run()  # ... and shows it again afterwards
    assert app.sidebar.toggle(key="show_marker").value is True
    assert run_app({"ckpt": "en-de", "present": "1"}).sidebar.toggle(key="show_marker").value is False


TRANSLATE_CHARTS = {"token_probs", "attention_map", "model_view"}


VIEWS = TRANSLATE_CHARTS | {"head_view"}  # the head view is an HTML page in an iframe, not a Plotly chart


def break_weights(folder):
    (folder / "model.safetensors").write_bytes((TOY / "model.safetensors").read_bytes()[:1000])


def break_config(folder):
    (folder / "config.json").write_text("{ not json")


@pytest.mark.parametrize("damage, file", [(break_weights, "model.safetensors"), (break_config, "config.json")])
def test_corrupt_checkpoint_is_reported_and_the_others_still_work(checkpoints, damage, file):
    broken = checkpoints / "en-de"  # the default checkpoint, so the app opens on the broken one
    shutil.copytree(TOY, broken)
    damage(broken)
    app = run_app()
    assert app.sidebar.selectbox(key="ckpt").options == ["en-de", "toy-reverse"]
    [error] = app.sidebar.error
    assert str(broken / file) in error.value
    assert not app.code
    app.sidebar.selectbox(key="ckpt").select("toy-reverse").run()
    assert not app.exception and not app.error
    assert texts(app.code) == ["h g f e d c b a"]
    assert view_keys(app) == VIEWS


def test_missing_checkpoints_folder_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(tmp_path / "nowhere"))
    app = run_app()
    assert "No checkpoint folders" in app.sidebar.error[0].value
    assert any("Pick a checkpoint" in message for message in texts(app.info))


SHIPPED = app_checkpoints.checkpoints_dir()  # checkpoints/ (tests point the app elsewhere only per test)


def test_the_sidebar_titles_and_text_box_name_the_checkpoints_languages(checkpoints):
    (checkpoints / "en-de").symlink_to(SHIPPED / "en-de", target_is_directory=True)
    app = open_page("webapp/pages/translate.py", {"ckpt": "en-de"})
    picker = app.sidebar.selectbox(key="ckpt")
    assert picker.options == ["en-de (en → de)", "toy-reverse"]  # the toy keeps its name
    assert app.title[0].value == "Translate · en-de (en → de)"
    assert app.text_area(key="text").label == "Text (en → de)"
    picker.select("toy-reverse").run()
    assert app.title[0].value == "Translate · toy-reverse"
    assert app.text_area(key="text").label == "Text (symbols → reversed symbols)"
