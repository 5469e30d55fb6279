"""The app as a whole through streamlit.testing (no browser): every page opens with every shipped
checkpoint and follows another model's sizes, the sentence and every page's widgets survive a visit to
another page, and a link to a missing checkpoint. On the toy-reverse checkpoint alone (the
`checkpoints` fixture of tests/webapp/conftest.py) unless a test says otherwise."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.helpers import language_copy
from tests.webapp.apptest import (
    AFTER_A_RUN,
    CHARTS,
    DECODING,
    MASKS,
    MODEL,
    NOT_KEPT,
    POSITIONAL,
    TOY,
    chart_keys,
    open_page,
    run_app,
    texts,
    value_widget_keys,
)
from transformer import load_checkpoint
from webapp import registry
from webapp.state import checkpoints as app_checkpoints
from webapp.state import url as app_url

pytestmark = pytest.mark.usefixtures("checkpoints")

ANALYSIS_TABS = ("rollout", "statistics", "ablation", "importance", "training", "alignment", "attribution")


# Every page with the link parameters that make it draw all its widgets (each view also gets a
# sentence): (page, parameters).
PAGE_VIEWS = [
    *(("translate", {}), ("masks", {}), ("decoding", {}), ("decoding", {"mode": "sample"}), ("inside", {})),
    *(("model", {}), ("positional_encoding", {}), ("train", {"task": "rotate"}), ("compare", {}), ("lecture", {})),
    ("glossary", {}),
    *(("analysis", {"tab": tab, "off": "encoder-1-1"}) for tab in ANALYSIS_TABS),  # off: Ablation's heads
]


def test_every_pages_inputs_and_view_survive_a_visit_to_another_page(checkpoints):
    app = run_app({"text": "a b c"})
    app.switch_page("webapp/pages/masks.py").run()
    app.text_area(key="batch").input("a b c d\ne f").run()
    app.selectbox(key="steps_layer").select(1).run()
    app.switch_page("webapp/pages/decoding.py").run()
    app.text_input(key="prefix").input("c").run()
    app.switch_page("webapp/pages/train.py").run()
    app.number_input(key="train_symbols").set_value(7).run()
    app.switch_page("webapp/pages/positional_encoding.py").run()
    app.slider(key="pe_position").set_value(7).run()
    app.switch_page("webapp/pages/model.py").run()
    app.switch_page("webapp/pages/masks.py").run()
    assert app.text_area(key="batch").value == "a b c d\ne f" and app.selectbox(key="steps_layer").value == 1
    app.switch_page("webapp/pages/decoding.py").run()
    assert app.text_input(key="prefix").value == "c"
    app.switch_page("webapp/pages/train.py").run()
    assert app.number_input(key="train_symbols").value == 7
    app.switch_page("webapp/pages/positional_encoding.py").run()
    assert app.slider(key="pe_position").value == 7
    assert not app.exception


def test_every_pages_widgets_register_their_keys_to_be_kept_unless_listed(checkpoints):
    """A page's widget keeps its value across a visit to another page when it declares its key
    with app_url.kept (the sidebar keeps the keys registered): each page, run alone after the
    registry is emptied, registers every key of its widgets but those of NOT_KEPT."""
    english = language_copy(TOY, checkpoints, "en-toy", "xx")  # for the Compare page, which needs English
    config = json.loads((english / "config.json").read_text(encoding="utf-8"))
    (english / "config.json").write_text(json.dumps({**config, "source_language": "en"}), encoding="utf-8")
    app = run_app()
    drawn = set()
    for page, params in PAGE_VIEWS:
        app_url.KEPT.clear()  # as in a fresh process: only this run's widgets register their keys
        app.session_state["_url"] = {"text": "a b c", **params}  # as a link to the page hands it over
        app.switch_page(f"webapp/pages/{page}.py").run()
        assert not app.exception, (page, app.exception)
        keys = value_widget_keys(app)
        assert keys - NOT_KEPT <= app_url.KEPT, (page, params)
        if page == "analysis":  # a view of each tab: the link's tab is one of the page's
            assert len(app.tabs) == len(ANALYSIS_TABS) and not any("tab" in w for w in texts(app.warning))
        drawn |= keys
    assert not NOT_KEPT - AFTER_A_RUN - drawn  # each exclusion is a widget that exists
    assert {page for page, _ in PAGE_VIEWS} == {Path(page.script).stem for page in registry.PAGES}


def test_a_link_to_a_missing_checkpoint_names_the_one_the_session_keeps_showing(checkpoints):
    language_copy(TOY, checkpoints, "toy-b", "yy")
    app = run_app({"ckpt": "toy-b"})
    app.query_params.clear()
    app.query_params["ckpt"] = "no-such-model"
    app.session_state["_url"] = {"ckpt": "no-such-model"}  # as a lecture step hands its link over
    app.run()
    assert app.session_state["ckpt"] == "toy-b"
    assert any("showing 'toy-b' instead" in warning.value for warning in app.warning)


PAGES = sorted(page.script for page in registry.PAGES)


SHIPPED = app_checkpoints.checkpoints_dir()  # checkpoints/ (tests point the app elsewhere only per test)


SHIPPED_NAMES = app_checkpoints.checkpoint_names()


# The pages that show the sidebar's checkpoint, by their title (it names the checkpoint and its languages).
TITLES = {
    "webapp/pages/translate.py": "Translate",
    POSITIONAL: "Positional encoding",
    MASKS: "Masks",
    "webapp/pages/inside.py": "Inside a layer",
    DECODING: "Decoding, step by step",
    MODEL: "Model card",
    "webapp/pages/analysis.py": "Analysis",
}


def test_every_page_and_every_shipped_checkpoint_is_tested():
    assert {"webapp/pages/compare.py", "webapp/pages/translate.py", "webapp/pages/train.py", *CHARTS} <= set(PAGES)
    assert {"en-de", "toy-reverse"} <= set(SHIPPED_NAMES)


@pytest.mark.parametrize("name", SHIPPED_NAMES)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_with_every_shipped_checkpoint(page, name, checkpoints):
    """Each page of webapp/registry.py, opened by its link with each checkpoint of checkpoints/: no
    exception, no error, its default figures, and a title naming the checkpoint."""
    for shipped in SHIPPED_NAMES:
        if not (checkpoints / shipped).exists():
            (checkpoints / shipped).symlink_to(SHIPPED / shipped, target_is_directory=True)
    app = open_page(page, {"ckpt": name}, ckpt=name)  # asserts that no exception was raised
    assert not app.error, texts(app.error)
    assert CHARTS.get(page, set()) <= chart_keys(app)
    if page in TITLES:
        assert app.sidebar.selectbox(key="ckpt").value == name
        assert app.title[0].value == f"{TITLES[page]} · {app_checkpoints.checkpoint_label(name)}"
        assert not app.warning, texts(app.warning)
        assert app.query_params["ckpt"] == name and "present" not in app.query_params


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("page", [MASKS, POSITIONAL])
def test_pages_draw_a_model_on_the_gpu(page, monkeypatch):
    def on_gpu(folder, precision="fp32"):
        translator = load_checkpoint(folder, precision)
        translator.model.cuda()
        return translator

    monkeypatch.setattr(app_checkpoints, "load_checkpoint", on_gpu)
    app_checkpoints._load_once.clear()
    try:
        assert CHARTS[page] <= chart_keys(open_page(page))
    finally:
        app_checkpoints._load_once.clear()


def test_the_sentence_is_shared_between_pages():
    app = open_page(MODEL)
    app.switch_page("webapp/pages/translate.py").run()
    app.text_area(key="text").input("q w e").run()
    app.switch_page(MODEL).run()  # a page without the sentence
    app.switch_page(DECODING).run()
    assert app.text_input(key="text").value == "q w e"
    assert texts(app.code)[0] == "e w q"
    app.switch_page(POSITIONAL).run()
    assert app.text_input(key="text").value == "q w e"


@pytest.mark.parametrize("page", CHARTS)
def test_every_page_follows_another_models_sizes(page, tiny_checkpoint):
    """A random 32-wide model with 40 positions and none of the optional files, as "en-de" (the
    default): the pages take their sizes from the config, not from toy-reverse."""
    shutil.copytree(tiny_checkpoint, app_checkpoints.checkpoints_dir() / "en-de")
    app = open_page(page)
    assert app.sidebar.selectbox(key="ckpt").value == "en-de"
    assert CHARTS[page] - {"training_curves"} <= chart_keys(app)
    assert not app.error
    if page == POSITIONAL:
        assert "d_model = 32, positions 0 … 39" in app.caption[0].value
