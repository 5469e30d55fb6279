"""The "Inside a layer" page through streamlit.testing (no browser): app.py with its sidebar, on the
toy-reverse checkpoint alone (the `checkpoints` fixture of tests/webapp/conftest.py), opened as in
tests/webapp/apptest.open_page."""

import re

import numpy as np
import pytest
import torch

from tests.helpers import tiny_config
from tests.webapp.apptest import TOY, chart_keys, chart_spec, open_page, spec_array, texts
from transformer import Transformer, load_checkpoint, save_checkpoint
from webapp.state import checkpoints as app_checkpoints
from webapp.state import present as app_present

pytestmark = pytest.mark.usefixtures("checkpoints")


INSIDE = "webapp/pages/inside.py"


CHARTS = {
    f"inside_{name}"
    for name in ("input", "split", "qkv", "scores", "scaled", "masked", "weights", "neuron_view", "products")
    + ("head_output", "mixture", "concat", "residual", "ff_hidden", "ff_output")
}


def widgets(app) -> tuple:
    """(kind, layer, head, query) as the page shows them, 0-based."""
    keys = ("inside_layer", "inside_head", "inside_query")
    return (app.get("segmented_control")[0].value, *(app.selectbox(key=key).value for key in keys))


def test_the_page_walks_through_the_layer_with_the_defaults():
    app = open_page(INSIDE)
    assert chart_keys(app) >= CHARTS
    assert not app.error and not app.warning
    assert widgets(app) == ("encoder", 0, 0, 0)
    assert {key: app.query_params[key] for key in ("ckpt", "kind", "layer", "head", "query")} == {
        "ckpt": "toy-reverse",
        "kind": "encoder",
        "layer": "1",
        "head": "1",
        "query": "1",
    }
    prose = " ".join(texts(app.markdown) + texts(app.header))
    assert "W^O" in prose and "feed-forward" in prose and "post-norm" in prose
    assert any("W^O" in latex for latex in texts(app.latex))
    # Shapes beside the tensors: toy-reverse has d_model 128, 4 heads, d_ff 256; "a b c d e f g h </s>".
    assert "(S, d_model) = (9, 128)" in chart_spec(app, "inside_input")["layout"]["annotations"][0]["text"]
    assert "(S, d_k) = (9, 32)" in chart_spec(app, "inside_qkv")["layout"]["annotations"][0]["text"]
    assert "(S, d_ff) = (9, 256)" in chart_spec(app, "inside_ff_hidden")["layout"]["annotations"][0]["text"]
    assert any("the input X of encoder layer 2" in message for message in texts(app.success))


@pytest.mark.parametrize("kind", ["encoder", "decoder", "cross"])
def test_the_url_opens_that_head_and_its_weights_are_the_translations(kind):
    text = "a b c d e"
    app = open_page(INSIDE, {"text": text, "kind": kind, "layer": "2", "head": "3", "query": "4"})
    assert not app.warning
    assert widgets(app) == (kind, 1, 2, 3)
    [translation] = load_checkpoint(TOY).translate([text])
    expected = translation.attention[kind][1, 2].numpy()
    weights = spec_array(chart_spec(app, "inside_weights")["data"][0]["z"]).reshape(expected.shape)
    np.testing.assert_allclose(weights, expected, atol=1e-5)
    # The neuron view's softmax bars are the query's row; its lines' opacities too.
    neuron = chart_spec(app, "inside_neuron_view")["data"]
    bars = [trace for trace in neuron if trace["type"] == "bar"]
    np.testing.assert_allclose(spec_array(bars[1]["x"]), expected[3], atol=1e-5)
    assert app.selectbox(key="inside_key").value == int(expected[3].argmax())  # the strongest key first
    app.selectbox(key="inside_head").select(0).run()
    assert {key: app.query_params[key] for key in ("text", "kind", "layer", "head", "query")} == {
        "text": text,
        "kind": kind,
        "layer": "2",
        "head": "1",
        "query": "4",
    }
    assert ("inside_cross_result" in chart_keys(app)) == (kind == "decoder")


def test_the_encoder_decoder_attention_names_what_its_queries_keys_and_values_come_from():
    app = open_page(INSIDE, {"text": "a b c", "kind": "cross"})
    inputs = [a["text"].split("<br>")[0] for a in chart_spec(app, "inside_input")["layout"]["annotations"]]
    assert inputs[1:] == ["Y, X after masked self-attention", "E, the encoder output: gives K and V"]
    assert any(r"Q = Y\, W^Q,\quad K = E\, W^K,\quad V = E\, W^V" in latex for latex in texts(app.latex))
    split = [a["text"].split("<br>")[0] for a in chart_spec(app, "inside_split")["layout"]["annotations"]]
    assert split == ["Q = Y·W_Q, cut into heads", "K = E·W_K", "V = E·W_V"]
    # M names the mask alone: it appears only in the formulas with the softmax.
    assert all("softmax" in latex for latex in texts(app.latex) if re.search(r"\bM\b", latex))


def test_bad_url_values_fall_back_with_notices():
    app = open_page(INSIDE, {"text": "a b", "kind": "sideways", "layer": "0", "head": "x", "query": "99"})
    warnings = " ".join(texts(app.warning))
    for part in (
        "kind is not one of",
        "layer is not between 1 and 2",
        "head is not between 1 and 4",
        "query is not between 1 and 3",
    ):
        assert part in warnings
    assert widgets(app) == ("encoder", 0, 0, 0)
    assert chart_keys(app) >= CHARTS


def test_empty_text_shows_a_hint():
    app = open_page(INSIDE, {"text": " "})
    assert any("Type a sentence" in message for message in texts(app.info))
    assert not chart_keys(app)


def test_presentation_mode_draws_every_figure_at_16_pixels():
    app = open_page(INSIDE, {"present": "1"})
    for key in chart_keys(app):
        layout = chart_spec(app, key)["layout"]
        assert layout["font"]["size"] == app_present.PRESENT_FONT_SIZE
        assert all(a.get("font", {}).get("size", 16) >= 16 for a in layout.get("annotations", []))


def test_the_translate_page_opens_its_head_inside_its_layer():
    app = open_page("webapp/pages/translate.py", {"text": "a b c d", "kind": "cross", "layer": "2", "head": "3"})
    app.button(key="open_inside").click().run()
    assert not app.exception
    assert widgets(app) == ("cross", 1, 2, 0)
    assert app.query_params["text"] == "a b c d" and app.query_params["head"] == "3"
    assert chart_keys(app) >= CHARTS


def test_a_pre_norm_model_shows_the_layer_norm_before_each_sublayer(word_tokenizer):
    """A random pre-norm model as "en-de" (the default): the page follows its config and sizes."""
    vocab = word_tokenizer.vocab_size
    model = Transformer(tiny_config(src_vocab_size=vocab, tgt_vocab_size=vocab, pre_norm=True)).eval()
    save_checkpoint(app_checkpoints.checkpoints_dir() / "en-de", model, word_tokenizer, {}, dtype=torch.float32)
    app = open_page(INSIDE, {"text": "a b c", "kind": "cross"})
    assert chart_keys(app) >= CHARTS and not app.error
    assert any("pre-norm" in markdown for markdown in texts(app.markdown))
    titles = [a["text"] for a in chart_spec(app, "inside_input")["layout"]["annotations"]]
    assert titles[-1].startswith("LayerNorm: what the attention reads") and "(T, d_model) = (" in titles[-1]
    split = [a["text"].split("<br>")[0] for a in chart_spec(app, "inside_split")["layout"]["annotations"]]
    assert split == ["Q = LayerNorm(Y)·W_Q, cut into heads", "K = E·W_K", "V = E·W_V"]  # E: normed by the encoder
    assert any(r"Q = \mathrm{LayerNorm}(Y)\, W^Q,\quad K = E\, W^K" in latex for latex in texts(app.latex))
    assert len(chart_spec(app, "inside_residual")["layout"]["annotations"]) == 1  # x + MultiHead, no LayerNorm after
    assert "(T, d_ff) = (" in chart_spec(app, "inside_ff_hidden")["layout"]["annotations"][0]["text"]


def test_decoder_queries_are_named_by_the_token_they_write_and_titles_show_control_tokens():
    # toy-reverse writes "d c b a </s>" reading "<s> d c b a". On the old convention the first
    # query was "<s>", and the titles naming it lost it (Plotly read "<s>" as markup).
    app = open_page(INSIDE, {"text": "a b c d", "kind": "decoder", "query": "1"})
    picker = app.selectbox(key="inside_query")
    assert picker.label == "Query: the token it writes"
    assert picker.options[:2] == ["1: d (reads <s>)", "2: c (reads d)"]
    assert chart_spec(app, "inside_neuron_view")["layout"]["title"]["text"] == "Head 1, query d"
    assert any(r"**d**" in markdown for markdown in texts(app.markdown))
    app.selectbox(key="inside_key").set_value(0).run()
    assert "key &lt;s&gt;" in chart_spec(app, "inside_products")["layout"]["title"]["text"]
    scores = chart_spec(app, "inside_weights")
    assert scores["layout"]["yaxis"]["ticktext"][0] == "d" and scores["layout"]["xaxis"]["ticktext"][0] == "&lt;s&gt;"
    assert scores["layout"]["xaxis"]["title"]["text"] == "keys: tokens written so far (decoder input)"
    app.selectbox(key="inside_query").set_value(4).run()
    assert chart_spec(app, "inside_neuron_view")["layout"]["title"]["text"] == "Head 1, query &lt;/s&gt;"
    assert "The output of &lt;/s&gt;" in chart_spec(app, "inside_mixture")["layout"]["title"]["text"]
    assert any(r"**\</s\>**" in markdown for markdown in texts(app.markdown))


def test_presentation_mode_pickers_hide_the_word_start_marker(checkpoints):
    (checkpoints / "en-de").symlink_to(TOY.parent / "en-de", target_is_directory=True)
    query = {"ckpt": "en-de", "text": "Two dogs.", "kind": "cross"}
    shown = open_page(INSIDE, query).selectbox(key="inside_query").options
    assert shown[0].startswith("1: ▁Zwei (reads <s>)")  # "Show ▁" is on outside presentation mode
    presented = open_page(INSIDE, {**query, "present": "1"})
    assert presented.selectbox(key="inside_query").options[0] == "1: Zwei (reads <s>)"
    assert not any("▁" in option for option in presented.selectbox(key="inside_key").options)
