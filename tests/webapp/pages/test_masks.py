"""The Masks page (webapp/pages/masks.py) through streamlit.testing: the padded batch, Eq. 1 step by
step, and its link."""

import numpy as np
import pytest
import torch

from tests.webapp.apptest import MASKS, TOY, chart_spec, open_page, spec_array, texts
from transformer import load_checkpoint
from transformer.data import collate

pytestmark = pytest.mark.usefixtures("checkpoints")


def test_masks_pad_the_batch_and_show_the_shortest_sentence_first():
    app = open_page(MASKS, batch="a b c d e f\nx y\n\n1 2 3")
    ids = spec_array(chart_spec(app, "source_ids")["data"][0]["z"]).reshape(3, -1)
    np.testing.assert_array_equal(ids, [[1] * 7, [1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0]])  # 1: a token, 0: <pad>
    assert app.selectbox(key="sentence").value == 1  # "x y": the most padding
    padding = chart_spec(app, "mask_padding")
    assert padding["layout"]["xaxis"]["ticktext"][-1] == "&lt;pad&gt;"
    assert app.query_params["batch"] == "a b c d e f\nx y\n\n1 2 3"
    assert any("`<pad>` *query* rows are computed" in caption for caption in texts(app.caption))


def test_masks_show_the_shift_and_name_decoder_rows_by_the_token_written():
    app = open_page(MASKS, batch="a b c\nx", targets="c b a")
    app.selectbox(key="sentence").set_value(0).run()
    [shift] = [markdown for markdown in texts(app.markdown) if markdown.startswith("| position")]
    reads, writes = shift.splitlines()[2:4]
    assert reads == "| reads (decoder input) | \\<s\\> | c | b | a |"
    assert writes == "| writes (its output: the row's name) | c | b | a | \\</s\\> |"
    look_ahead = chart_spec(app, "mask_look_ahead")["layout"]
    assert look_ahead["yaxis"]["ticktext"] == ["c", "b", "a", "&lt;/s&gt;"]  # the row writing c sees <s> only
    assert look_ahead["xaxis"]["ticktext"] == ["&lt;s&gt;", "c", "b", "a"]
    assert look_ahead["xaxis"]["title"]["text"] == "keys: tokens written so far (decoder input)"


@pytest.mark.parametrize("kind", ["encoder", "decoder", "cross"])
def test_masks_step_by_step_ends_in_the_models_own_attention(kind):
    batch, targets = "a b c d e f\nx y", "f e d c b a\ny"
    app = open_page(MASKS, batch=batch, targets=targets)
    app.get("segmented_control")[0].set_value(kind).run()
    app.selectbox(key="steps_layer").select(1).run()
    app.selectbox(key="steps_head").select(2).run()
    assert not app.exception
    weights = spec_array(chart_spec(app, "step_weights")["data"][0]["z"])

    translator = load_checkpoint(TOY)
    bos = translator.config.bos_id
    pairs = [
        (translator.encode_source(source)[0], [bos, *translator.tokenizer.encode(target)])
        for source, target in zip(batch.splitlines(), targets.splitlines())
    ]
    src, tgt = collate(pairs, [0, 1], translator.config.pad_id, "cpu")
    with torch.no_grad():
        _, attention = translator.model.forward_with_attention(src, tgt)
    expected = attention[kind][1, 1, 2].numpy()  # sentence 2 (padded), layer 2, head 3
    np.testing.assert_allclose(weights.reshape(expected.shape), expected, atol=1e-5)


def test_masks_url_holds_the_sentence_kind_layer_and_head():
    app = open_page(MASKS, {"batch": "a b c\nx y z w", "sentence": "2", "kind": "cross", "layer": "2", "head": "3"})
    assert not app.warning
    assert app.selectbox(key="sentence").value == 1  # 0-based: the link's sentence 2, not the shortest
    assert app.get("segmented_control")[0].value == "cross"
    assert (app.selectbox(key="steps_layer").value, app.selectbox(key="steps_head").value) == (1, 2)
    assert any("Sentence 2, encoder–decoder attention, layer 2, head 3" in caption for caption in texts(app.caption))
    app.selectbox(key="steps_head").select(0).run()
    assert {key: app.query_params[key] for key in ("sentence", "kind", "layer", "head")} == {
        "sentence": "2",
        "kind": "cross",
        "layer": "2",
        "head": "1",
    }


def test_masks_url_with_bad_values_falls_back_with_notices():
    app = open_page(MASKS, {"batch": "a b c\nx", "sentence": "5", "kind": "sideways", "layer": "0", "head": "x"})
    warnings = " ".join(texts(app.warning))
    for part in ("sentence is not between 1 and 2", "kind is not one of", "layer is not between 1 and 2", "head"):
        assert part in warnings
    assert app.selectbox(key="sentence").value == 1  # the shortest
    assert app.get("segmented_control")[0].value == "decoder"
    assert (app.selectbox(key="steps_layer").value, app.selectbox(key="steps_head").value) == (0, 0)


def test_masks_page_bounds_the_batch():
    app = open_page(MASKS, batch="\n".join("a b c" for _ in range(8)))
    assert any("Only the first 6 sentences" in message for message in texts(app.warning))
    assert spec_array(chart_spec(app, "source_ids")["data"][0]["z"]).size == 6 * 4
    app.text_area(key="batch").input("  \n ").run()
    assert not app.exception
    assert any("at least one sentence" in message for message in texts(app.info))
