"""The Streamlit app through streamlit.testing (no browser): app.py with its sidebar, and the
Translate page on its own. Each test points the app at a temporary checkpoints folder
(TRANSFORMER_CHECKPOINTS) holding a link to the shipped toy-reverse model, so the results do not
depend on which other checkpoints exist."""

import functools
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button, DownloadButton

import app_checkpoints
import app_defaults
import app_present
import app_results
import app_url
from conftest import ROOT, head_view_data, language_copy
from figures import HEAD_VIEW_FONT_SIZE
from transformer import Translator, load_checkpoint
from transformer.analysis import average_statistics
from transformer.checkpoint import load_dev_sample

TOY = ROOT / "checkpoints" / "toy-reverse"
TIMEOUT = 60  # seconds per run: the CPU may be busy with a training run
CHARTS = {"token_probs", "attention_map", "model_view"}
# The toy's encoder-decoder attention is sharpest (lowest entropy on its dev sample) in layer 1,
# head 3: the Translate page opens on that layer, its head view on that head.
TOY_SHARPEST_LAYER, TOY_SHARPEST_HEAD = 0, 2
VIEWS = CHARTS | {"head_view"}  # the head view is an HTML page in an iframe, not a Plotly chart
ANALYSIS_TABS = ("rollout", "statistics", "ablation", "importance", "training", "alignment", "attribution")
# Every page with the link parameters that make it draw all its widgets (each view also gets a
# sentence): (page, parameters).
PAGE_VIEWS = [
    *(("translate", {}), ("masks", {}), ("decoding", {}), ("decoding", {"mode": "sample"}), ("inside", {})),
    *(("model", {}), ("positional_encoding", {}), ("train", {"task": "rotate"}), ("compare", {}), ("lecture", {})),
    *(("analysis", {"tab": tab, "off": "encoder-1-1"}) for tab in ANALYSIS_TABS),  # off: Ablation's heads
]
# The Train page's "Try it" and "Keep it" inputs, drawn once a run is done (test_app_train): not
# kept, since their defaults come from the run (its probe, its task) and a new run starts them afresh.
AFTER_A_RUN = {"train_try", "train_save_name"}
# Widgets whose values are not kept across a visit to another page (app_url.kept), and why.
NOT_KEPT = {
    # The example galleries: every run sets the example shown from the sentence (app_gallery.gallery).
    *("translate_example", "decoding_example", "inside_example", "compare_example"),
    *AFTER_A_RUN,
}


@pytest.fixture
def checkpoints(tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "toy-reverse").symlink_to(TOY, target_is_directory=True)
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(folder))
    return folder


def run_app(query_params: dict | None = None, script: str = "app.py") -> AppTest:
    app = AppTest.from_file(str(ROOT / script), default_timeout=TIMEOUT)
    app.query_params.update(query_params or {})
    app.run()
    assert not app.exception, app.exception
    return app


def head_view_pills(app: AppTest):
    [pills] = [pills for pills in app.get("pills") if pills.key == "head_view_heads"]
    return pills


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
    assert app_checkpoints.default_checkpoint(["a", "en-de", "toy-reverse"]) == "en-de"
    assert app_checkpoints.default_checkpoint(["a", "toy-reverse"]) == "toy-reverse"
    assert app_checkpoints.default_checkpoint(["a", "b"]) == "a"
    assert app_checkpoints.default_checkpoint([]) is None


def test_a_checkpoint_label_stats_only_its_config_and_follows_it(tmp_path, monkeypatch):
    """Every run labels every listed checkpoint (the sidebar's picker): one stat each, of the file
    the label is read from, whose modification time keys the cache; a changed config.json is read
    again."""
    copy = language_copy(TOY, tmp_path, "toy-xx", "xx")
    config_file = copy / "config.json"
    config = {**json.loads(config_file.read_text(encoding="utf-8")), "source_language": "en"}
    config_file.write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(tmp_path))
    assert app_checkpoints.checkpoint_label("toy-xx") == "toy-xx (en → xx)"
    stats, real_stat = [], Path.stat
    monkeypatch.setattr(Path, "stat", lambda path, **options: stats.append(path) or real_stat(path, **options))
    assert app_checkpoints.checkpoint_label("toy-xx") == "toy-xx (en → xx)"  # a rerun: from the cache
    assert [path for path in stats if path.is_relative_to(copy)] == [config_file]
    config_file.write_text(json.dumps({**config, "target_language": "yy"}), encoding="utf-8")
    modified = config_file.stat().st_mtime_ns + 1_000_000_000  # a second later, however coarse the clock
    os.utime(config_file, ns=(modified, modified))
    assert app_checkpoints.checkpoint_label("toy-xx") == "toy-xx (en → yy)"


def test_bleu_summary_prefers_test_sets():
    metrics = {"dev": {"bleu": 30.0}, "test_a": {"bleu": 28.25}, "test_b": {"bleu": 31.5}}
    assert app_checkpoints.bleu_summary(metrics) == "test_a 28.25, test_b 31.5"
    assert app_checkpoints.bleu_summary({"dev": {"bleu": 30.0}}) == "dev 30"
    assert app_checkpoints.bleu_summary({}) is None
    assert app_checkpoints.bleu_summary({"test": {"bleu": "n/a"}, "dev": {"bleu": None}, "x": {"bleu": True}}) is None


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
    assert head_view_pills(app).value == [TOY_SHARPEST_HEAD]  # one head, not a tangle of all of them
    assert [button.key for button in app.get("download_button")] == ["download_csv"]
    assert view_keys(app) == VIEWS
    heatmap = chart_spec(app, "attention_map")
    assert heatmap["layout"]["xaxis"]["ticktext"] == ["a", "b", "c", "d", "e", "f", "g", "h", "&lt;/s&gt;"]
    assert heatmap["layout"]["yaxis"]["ticktext"][0] == "&lt;s&gt;"
    data = head_view(app)
    assert data["queries"][0] == "<s>" and data["keys"] == [*"abcdefgh", "</s>"]  # cross: target x source
    assert [head["name"] for head in data["heads"]] == [f"head {TOY_SHARPEST_HEAD + 1}"]
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
    assert "heads" not in app.query_params  # the default head: the URL stays short
    head_view_pills(app).set_value([3, 1]).run()
    app.selectbox(key="layer").select(1).run()
    data = head_view(app)
    assert [head["head"] for head in data["heads"]] == [1, 3]
    assert data["title"] == "Layer 2" and data["filename"] == "head-view-cross-layer2"
    assert app.query_params["heads"] == "2,4"
    head_view_pills(app).set_value([]).run()
    assert head_view(app) is None
    assert any("Pick at least one head" in message for message in texts(app.info))
    assert app.query_params["heads"] == "none"
    app = run_app({"text": "a b c", "present": "1"})
    assert head_view(app)["fontSize"] == app_present.PRESENT_FONT_SIZE


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


def test_the_int8_switch_translates_with_the_quantized_model(checkpoints, monkeypatch):
    precisions = []
    real_load = app_checkpoints.load_checkpoint
    monkeypatch.setattr(
        app_checkpoints,
        "load_checkpoint",
        lambda folder, precision="fp32": precisions.append(precision) or real_load(folder, precision),
    )
    app = run_app({"text": "k l m n"})
    app.sidebar.toggle(key="int8").set_value(True).run()
    assert not app.exception
    assert texts(app.code) == ["n m l k"]
    assert "int8" in precisions
    assert view_keys(app) == VIEWS  # every attention view still drawn


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
    assert head_view_pills(app).value == [0, 2]
    assert [head["head"] for head in head_view(app)["heads"]] == [0, 2]
    assert app.text_area(key="text").value == "x y z"
    assert texts(app.code) == ["z y x"]
    assert app.get("segmented_control")[0].value == "decoder"
    assert app.selectbox(key="layer").value == 1
    assert app.selectbox(key="head").value == 3
    title = chart_spec(app, "attention_map")["layout"]["title"]["text"]
    assert title.replace("<br>", " ") == "Masked decoder self-attention, layer 2, head 4"  # wrapped for a phone


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
        # Beyond int()'s 4,300 digits: a ValueError that used to stop the page.
        ({"layer": "9" * 5000}, "layer is not between 1 and 2"),
        ({"head": "1" * 4301}, "head is not between 1 and 4"),
        ({"heads": "1," + "2" * 5000}, "head view heads are not numbers between 1 and 4"),
        ({"layer": "٢"}, "layer is not between 1 and 2"),  # a digit, but not as a link spells numbers
    ],
)
def test_bad_url_values_fall_back_with_a_notice(checkpoints, params, notice):
    app = run_app(params)
    assert any(notice in message for message in texts(app.warning)), texts(app.warning)
    assert app.sidebar.selectbox(key="ckpt").value == "toy-reverse"
    assert app.get("segmented_control")[0].value == "cross"
    assert app.selectbox(key="layer").value == TOY_SHARPEST_LAYER
    assert app.selectbox(key="head").value == "avg"
    assert head_view_pills(app).value == [TOY_SHARPEST_HEAD]
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
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(tmp_path / "nowhere"))
    app = run_app()
    assert "No checkpoint folders" in app.sidebar.error[0].value
    assert any("Pick a checkpoint" in message for message in texts(app.info))


def test_the_result_cache_keeps_the_latest_results_within_its_bytes():
    cache = app_results.ResultCache(max_bytes=10_000)
    calls = []

    def compute(key):
        calls.append(key)
        return torch.full((1000,), float(key))  # 4,000 bytes

    for key in (1, 2, 1, 3):  # 1 is used again before 3 arrives: 2 is the least recently used
        assert cache.get(key, functools.partial(compute, key))[0] == key
    assert calls == [1, 2, 3] and list(cache.entries) == [1, 3]
    assert cache.bytes == 8000 <= cache.max_bytes
    cache.get(1, lambda: compute(1)).zero_()  # a caller's copy: changing it leaves the cache as it was
    assert cache.get(1, lambda: compute(1))[0] == 1 and calls == [1, 2, 3]
    cache.get(4, lambda: torch.zeros(5000))  # 20,000 bytes: more than the whole budget, not kept
    assert list(cache.entries) == [3, 1]


def test_a_translations_size_is_measured_by_its_attention_maps():
    translator = load_checkpoint(TOY)
    [translation] = translator.translate([" ".join("abcdefghij" * 10)])  # beyond max_len: the largest maps
    maps = sum(maps.nbytes for maps in translation.attention.values())
    assert maps > 100_000
    assert maps <= app_results.result_bytes((translation, [], 0.1)) <= 1.5 * maps
    assert app_results.RESULT_CACHE_BYTES <= 256 << 20  # with ~500 MB of its own, the server stays under 1 GB


def test_the_sharpest_cross_attention_is_measured_on_the_dev_sample():
    translator = load_checkpoint(TOY)
    sharpest = app_defaults.sharpest_cross_attention(app_checkpoints.Checkpoint("toy-reverse", TOY, "test", translator))
    assert sharpest == (TOY_SHARPEST_LAYER, TOY_SHARPEST_HEAD)
    results = translator.translate([source for source, _ in load_dev_sample(TOY)[:20]], beam_size=1)
    entropy = average_statistics(results)["cross"]["entropy"]  # (layers, heads)
    assert (
        entropy.mean(dim=1).argmin() == TOY_SHARPEST_LAYER and entropy[TOY_SHARPEST_LAYER].argmin() == TOY_SHARPEST_HEAD
    )


def test_the_view_survives_another_page_and_an_empty_text(checkpoints):
    app = run_app({"text": "a b c", "kind": "encoder", "layer": "2", "head": "2", "heads": "1,4"})
    app.switch_page("app_pages/masks.py").run()
    app.switch_page("app_pages/translate.py").run()
    app.text_area(key="text").set_value("").run()
    app.text_area(key="text").set_value("a b").run()
    assert app.get("segmented_control")[0].value == "encoder"
    assert app.selectbox(key="layer").value == 1 and app.selectbox(key="head").value == 1
    assert head_view_pills(app).value == [0, 3]


def test_every_pages_inputs_and_view_survive_a_visit_to_another_page(checkpoints):
    app = run_app({"text": "a b c"})
    app.switch_page("app_pages/masks.py").run()
    app.text_area(key="batch").input("a b c d\ne f").run()
    app.selectbox(key="steps_layer").select(1).run()
    app.switch_page("app_pages/decoding.py").run()
    app.text_input(key="prefix").input("c").run()
    app.switch_page("app_pages/train.py").run()
    app.number_input(key="train_symbols").set_value(7).run()
    app.switch_page("app_pages/positional_encoding.py").run()
    app.slider(key="pe_position").set_value(7).run()
    app.switch_page("app_pages/model.py").run()
    app.switch_page("app_pages/masks.py").run()
    assert app.text_area(key="batch").value == "a b c d\ne f" and app.selectbox(key="steps_layer").value == 1
    app.switch_page("app_pages/decoding.py").run()
    assert app.text_input(key="prefix").value == "c"
    app.switch_page("app_pages/train.py").run()
    assert app.number_input(key="train_symbols").value == 7
    app.switch_page("app_pages/positional_encoding.py").run()
    assert app.slider(key="pe_position").value == 7
    assert not app.exception


def value_widget_keys(app: AppTest) -> set[str]:
    """The keys of the page's widgets that hold a value from run to run (in st.session_state): not
    its buttons (a click lasts one run) nor its charts (a click on one is handled at once, by its
    callback)."""
    return {
        node.key
        for node in app.main
        if node.key
        and node.key in app.session_state
        and not isinstance(node, Button | DownloadButton)
        and node.type != "plotly_chart"
    }


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
        app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception, (page, app.exception)
        keys = value_widget_keys(app)
        assert keys - NOT_KEPT <= app_url.KEPT, (page, params)
        if page == "analysis":  # a view of each tab: the link's tab is one of the page's
            assert len(app.tabs) == len(ANALYSIS_TABS) and not any("tab" in w for w in texts(app.warning))
        drawn |= keys
    assert not NOT_KEPT - AFTER_A_RUN - drawn  # each exclusion is a widget that exists
    assert {page for page, _ in PAGE_VIEWS} == {script.stem for script in (ROOT / "app_pages").glob("*.py")}


def test_a_link_to_a_missing_checkpoint_names_the_one_the_session_keeps_showing(checkpoints):
    language_copy(TOY, checkpoints, "toy-b", "yy")
    app = run_app({"ckpt": "toy-b"})
    app.query_params.clear()
    app.query_params["ckpt"] = "no-such-model"
    app.session_state["_url"] = {"ckpt": "no-such-model"}  # as a lecture step hands its link over
    app.run()
    assert app.session_state["ckpt"] == "toy-b"
    assert any("showing 'toy-b' instead" in warning.value for warning in app.warning)
