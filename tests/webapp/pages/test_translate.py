"""The Translate page (webapp/pages/translate.py) through streamlit.testing (no browser): app.py opens
on it. Each test points the app at a temporary checkpoints folder (TRANSFORMER_CHECKPOINTS) holding a
link to the shipped toy-reverse model, so the results do not depend on which other checkpoints exist."""

import numpy as np
import pytest

from figures import HEAD_VIEW_FONT_SIZE, row_convention
from tests.webapp.apptest import (
    TOY,
    TOY_SHARPEST_HEAD,
    TOY_SHARPEST_LAYER,
    chart_spec,
    head_view,
    head_view_pills,
    run_app,
    spec_array,
    texts,
    view_keys,
)
from transformer import Translator
from webapp.state import checkpoints as app_checkpoints
from webapp.state import present as app_present


def test_the_translate_page_flags_unknown_parts_and_another_language():
    app = run_app({"ckpt": "en-de", "text": "Zwei Hunde 🐕 spielen im Schnee und der Mann ist müde."})
    warnings = texts(app.warning)
    assert any("read as `<unk>`: “🐕”" in message for message in warnings)
    assert any("looks like German" in message for message in warnings)
    assert len(app.code) == 1  # translated all the same
    app.text_area(key="text").input("Two dogs are playing in the snow.").run()
    assert not app.warning


TRANSLATE_CHARTS = {"token_probs", "attention_map", "model_view"}


VIEWS = TRANSLATE_CHARTS | {"head_view"}  # the head view is an HTML page in an iframe, not a Plotly chart


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
    assert heatmap["layout"]["yaxis"]["ticktext"][0] == "h"  # the token the first row writes, not <s>
    data = head_view(app)
    assert data["queries"][0] == "h" and data["keys"] == [*"abcdefgh", "</s>"]  # cross: written x source
    assert [head["name"] for head in data["heads"]] == [f"head {TOY_SHARPEST_HEAD + 1}"]
    assert data["title"] == "Layer 1" and data["filename"] == "head-view-cross-layer1"
    assert app.query_params["text"] == "a b c d e f g h"
    assert app.query_params["ckpt"] == "toy-reverse"


def test_translate_page_runs_on_its_own(checkpoints):
    app = run_app(script="webapp/pages/translate.py")
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


def test_the_view_survives_another_page_and_an_empty_text(checkpoints):
    app = run_app({"text": "a b c", "kind": "encoder", "layer": "2", "head": "2", "heads": "1,4"})
    app.switch_page("webapp/pages/masks.py").run()
    app.switch_page("webapp/pages/translate.py").run()
    app.text_area(key="text").set_value("").run()
    app.text_area(key="text").set_value("a b").run()
    assert app.get("segmented_control")[0].value == "encoder"
    assert app.selectbox(key="layer").value == 1 and app.selectbox(key="head").value == 1
    assert head_view_pills(app).value == [0, 3]


def test_the_en_de_map_names_each_row_by_the_word_it_writes():
    # The bar: the first row is Zwei, and the row Hunde looks at dogs. On the old convention
    # (rows named by the decoder input) the first row was <s> and the row Hunde looked at playing.
    text = "Two dogs are playing in the snow."
    app = run_app({"ckpt": "en-de", "text": text, "kind": "cross", "layer": "3", "head": "avg"})
    spec = chart_spec(app, "attention_map")
    rows = [token.replace("▁", "") for token in spec["layout"]["yaxis"]["ticktext"]]
    keys = [token.replace("▁", "") for token in spec["layout"]["xaxis"]["ticktext"]]
    assert rows[0] == "Zwei" and rows[-1] == "&lt;/s&gt;"
    weights = spec_array(spec["data"][0]["z"])
    assert keys[int(np.argmax(weights[rows.index("Hunde")]))] == "dogs"
    assert spec["data"][0]["text"][1][0].startswith("writes ▁Hunde · reads ▁Zwei (1)")
    assert spec["layout"]["yaxis"]["title"]["text"] == "query: token written"
    captions = " ".join(texts(app.caption))
    assert row_convention("cross") in captions
    assert "The map averages all 4 heads of its layer; the head view shows head " in captions
    data = head_view(app)
    assert data["queries"][0] == "▁Zwei" and data["columnNames"] == ["writes", "source"]


def test_decoder_self_attention_keys_are_the_tokens_written_so_far():
    app = run_app({"ckpt": "en-de", "text": "Two dogs.", "kind": "decoder", "layer": "1", "head": "2"})
    spec = chart_spec(app, "attention_map")
    assert spec["layout"]["xaxis"]["title"]["text"] == "keys: tokens written so far (decoder input)"
    assert (
        spec["layout"]["xaxis"]["ticktext"][0] == "&lt;s&gt;" and spec["layout"]["yaxis"]["ticktext"][0] != "&lt;s&gt;"
    )
    assert "The map shows head 2" in " ".join(texts(app.caption))
