"""The Streamlit app through streamlit.testing (no browser): app.py with its sidebar, and the
Translate page on its own. Each test points the app at a temporary checkpoints folder
(TRANSFORMER_CHECKPOINTS) holding a link to the shipped toy-reverse model, so the results do not
depend on which other checkpoints exist."""

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

import app_support
from conftest import ROOT, head_view_data
from figures import HEAD_VIEW_FONT_SIZE
from transformer import Translator

TOY = ROOT / "checkpoints" / "toy-reverse"
TIMEOUT = 60  # seconds per run: the CPU may be busy with a training run
CHARTS = {"token_probs", "attention_map", "model_view"}
VIEWS = CHARTS | {"head_view"}  # the head view is an HTML page in an iframe, not a Plotly chart


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "toy-reverse").symlink_to(TOY, target_is_directory=True)
    monkeypatch.setenv(app_support.CHECKPOINTS_ENV, str(folder))
    return folder


def run_app(query_params: dict | None = None, script: str = "app.py") -> AppTest:
    app = AppTest.from_file(str(ROOT / script), default_timeout=TIMEOUT)
    app.query_params.update(query_params or {})
    app.run()
    assert not app.exception, app.exception
    return app


def chart_keys(app: AppTest) -> set[str]:
    return {chart.key for chart in app.get("plotly_chart")}


def head_view(app: AppTest) -> dict | None:
    """The data of the head view's page, None if the page shows none."""
    pages = [frame.proto.srcdoc for frame in app.get("iframe") if 'id="head-view-data"' in frame.proto.srcdoc]
    assert len(pages) <= 1
    return head_view_data(pages[0]) if pages else None


def view_keys(app: AppTest) -> set[str]:
    return chart_keys(app) | ({"head_view"} if head_view(app) else set())


def chart_spec(app: AppTest, key: str) -> dict:
    [chart] = [chart for chart in app.get("plotly_chart") if chart.key == key]
    return json.loads(chart.proto.spec)


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_default_checkpoint_prefers_en_de_then_toy_reverse():
    assert app_support.default_checkpoint(["a", "en-de", "toy-reverse"]) == "en-de"
    assert app_support.default_checkpoint(["a", "toy-reverse"]) == "toy-reverse"
    assert app_support.default_checkpoint(["a", "b"]) == "a"
    assert app_support.default_checkpoint([]) is None


def test_bleu_summary_prefers_test_sets():
    metrics = {"dev": {"bleu": 30.0}, "test_a": {"bleu": 28.25}, "test_b": {"bleu": 31.5}}
    assert app_support.bleu_summary(metrics) == "test_a 28.25, test_b 31.5"
    assert app_support.bleu_summary({"dev": {"bleu": 30.0}}) == "dev 30"
    assert app_support.bleu_summary({}) is None


def test_app_translates_the_example_and_shows_every_view(checkpoints):
    app = run_app()
    sidebar = app.sidebar
    assert sidebar.selectbox(key="ckpt").value == "toy-reverse"
    assert sidebar.selectbox(key="ckpt").options == ["toy-reverse"]
    assert sidebar.select_slider(key="beam_size").value == 1  # the checkpoint's default: greedy
    assert sidebar.number_input(key="max_len").value is None
    summary = " ".join(texts(sidebar.markdown))
    assert "symbols → reversed symbols" in summary and "M parameters" in summary
    assert "2 encoder + 2 decoder layers, 4 heads" in summary and "Test BLEU: fresh 99.95" in summary

    assert app.text_area(key="text").value == "a b c d e f g h"
    assert texts(app.code) == ["h g f e d c b a"]
    assert not app.error and not app.warning
    assert app.get("segmented_control")[0].value == "cross"
    assert app.selectbox(key="layer").options == ["Layer 1", "Layer 2"]
    assert app.selectbox(key="head").options == ["average over heads", "head 1", "head 2", "head 3", "head 4"]
    assert app.get("pills")[0].value == [0, 1, 2, 3]
    assert [button.key for button in app.get("download_button")] == ["download_csv"]
    assert view_keys(app) == VIEWS
    heatmap = chart_spec(app, "attention_map")
    assert heatmap["layout"]["xaxis"]["ticktext"] == ["a", "b", "c", "d", "e", "f", "g", "h", "&lt;/s&gt;"]
    assert heatmap["layout"]["yaxis"]["ticktext"][0] == "&lt;s&gt;"
    data = head_view(app)
    assert data["queries"][0] == "<s>" and data["keys"] == [*"abcdefgh", "</s>"]  # cross: target x source
    assert [head["name"] for head in data["heads"]] == ["head 1", "head 2", "head 3", "head 4"]
    assert data["title"] == "Layer 1" and data["filename"] == "head-view-cross-layer1"
    assert app.query_params["text"] == "a b c d e f g h"
    assert app.query_params["ckpt"] == "toy-reverse"


def test_translate_page_runs_on_its_own(checkpoints):
    app = run_app(script="app_pages/translate.py")
    assert texts(app.code) == ["h g f e d c b a"]
    assert view_keys(app) == VIEWS


def test_head_view_follows_the_heads_layer_and_presentation_mode(checkpoints):
    app = run_app({"text": "a b c"})
    assert head_view(app)["fontSize"] == HEAD_VIEW_FONT_SIZE
    assert "heads" not in app.query_params  # every head: the URL stays short
    app.get("pills")[0].set_value([3, 1]).run()
    app.selectbox(key="layer").select(1).run()
    data = head_view(app)
    assert [head["head"] for head in data["heads"]] == [1, 3]
    assert data["title"] == "Layer 2" and data["filename"] == "head-view-cross-layer2"
    assert app.query_params["heads"] == "2,4"
    app.get("pills")[0].set_value([]).run()
    assert head_view(app) is None
    assert any("Pick at least one head" in message for message in texts(app.info))
    assert app.query_params["heads"] == "none"
    app = run_app({"text": "a b c", "present": "1"})
    assert head_view(app)["fontSize"] == app_support.PRESENT_FONT_SIZE


def test_changing_layer_and_head_does_not_translate_again(checkpoints, monkeypatch):
    calls = []
    translate = Translator.translate
    monkeypatch.setattr(Translator, "translate", lambda self, *a, **k: calls.append(a) or translate(self, *a, **k))
    app = run_app({"text": "q w e r t y"})
    translated = len(calls)  # 0 if an earlier test already translated this text: the cache is per process
    assert texts(app.code) == ["y t r e w q"]
    app.selectbox(key="layer").select(1).run()
    app.selectbox(key="head").select(2).run()
    app.get("segmented_control")[0].set_value("encoder").run()
    assert not app.exception
    assert len(calls) == translated
    assert chart_spec(app, "attention_map")["layout"]["title"]["text"] == "Encoder self-attention, layer 2, head 3"
    assert app.query_params["layer"] == "2" and app.query_params["head"] == "3"
    assert app.query_params["kind"] == "encoder"


def test_decoding_settings_apply(checkpoints):
    app = run_app({"text": "a b c d e f"})
    app.sidebar.select_slider(key="beam_size").set_value(4).run()
    assert texts(app.code) == ["f e d c b a"]
    assert "beam 4" in app.caption[0].value
    app.sidebar.number_input(key="max_len").set_value(2).run()
    assert not app.exception
    assert texts(app.code) == ["f e"]


def test_empty_text_shows_a_hint(checkpoints):
    app = run_app()
    app.text_area(key="text").input("   ").run()
    assert not app.exception and not app.error
    assert any("Type a sentence" in message for message in texts(app.info))
    assert not app.code and not view_keys(app)


def test_too_long_text_is_truncated_with_a_warning(checkpoints):
    app = run_app()
    app.text_area(key="text").input(" ".join("abcdefghij" * 10)).run()  # 100 symbols, the model takes 63
    assert not app.exception
    assert any("longer than this model's limit of 63 tokens" in message for message in texts(app.warning))
    assert len(app.code[0].value.split()) <= 64
    assert view_keys(app) == VIEWS


def test_any_unicode_text_is_translated(checkpoints):
    app = run_app({"text": "Zwei Hunde 🐕 spielen im Schnee — ü ß 日本語 a"})
    assert not app.error
    assert len(app.code) == 1
    assert view_keys(app) == VIEWS


def test_url_restores_the_view(checkpoints):
    app = run_app(
        {"ckpt": "toy-reverse", "text": "x y z", "kind": "decoder", "layer": "2", "head": "4", "heads": "3,1"}
    )
    assert not app.warning
    assert app.get("pills")[0].value == [0, 2]
    assert [head["head"] for head in head_view(app)["heads"]] == [0, 2]
    assert app.text_area(key="text").value == "x y z"
    assert texts(app.code) == ["z y x"]
    assert app.get("segmented_control")[0].value == "decoder"
    assert app.selectbox(key="layer").value == 1
    assert app.selectbox(key="head").value == 3
    title = chart_spec(app, "attention_map")["layout"]["title"]["text"]
    assert title == "Masked decoder self-attention, layer 2, head 4"


@pytest.mark.parametrize(
    "params, notice",
    [
        ({"ckpt": "../../etc"}, "checkpoint that is not available"),
        ({"ckpt": str(TOY)}, "checkpoint that is not available"),  # a path, even a real one, is not a name
        ({"kind": "self"}, "attention kind"),
        ({"layer": "3"}, "layer is not between 1 and 2"),
        ({"layer": "-1"}, "layer is not between 1 and 2"),
        ({"head": "0"}, "head is not between 1 and 4"),
        ({"head": "two"}, "head is not between 1 and 4"),
        ({"heads": "1,5"}, "head view heads are not numbers between 1 and 4"),
        ({"heads": ""}, "head view heads are not numbers between 1 and 4"),
    ],
)
def test_bad_url_values_fall_back_with_a_notice(checkpoints, params, notice):
    app = run_app(params)
    assert any(notice in message for message in texts(app.warning)), texts(app.warning)
    assert app.sidebar.selectbox(key="ckpt").value == "toy-reverse"
    assert app.get("segmented_control")[0].value == "cross"
    assert app.selectbox(key="layer").value == 0
    assert app.selectbox(key="head").value == "avg"
    assert app.get("pills")[0].value == [0, 1, 2, 3]
    assert texts(app.code) == ["h g f e d c b a"]
    app.selectbox(key="layer").select(1).run()
    assert not app.warning  # a notice is shown once, not on every rerun


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
    monkeypatch.setenv(app_support.CHECKPOINTS_ENV, str(tmp_path / "nowhere"))
    app = run_app()
    assert "No checkpoint folders" in app.sidebar.error[0].value
    assert any("Pick a checkpoint" in message for message in texts(app.info))
