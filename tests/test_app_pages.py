"""The teaching pages (positional encoding, masks, decoding, model card) and presentation mode
through streamlit.testing (no browser): app.py with its sidebar, on the toy-reverse checkpoint
alone (the `checkpoints` fixture of test_app.py)."""

import base64
import shutil

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from test_app import TIMEOUT, TOY, chart_keys, chart_spec, checkpoints, run_app, texts  # noqa: F401 (checkpoints: a fixture)

import app_checkpoints
import app_present
from conftest import ROOT
from transformer import load_checkpoint
from transformer.data import collate

pytestmark = pytest.mark.usefixtures("checkpoints")

POSITIONAL, MASKS, DECODING, MODEL = (
    f"app_pages/{name}.py" for name in ("positional_encoding", "masks", "decoding", "model")
)
CHARTS = {
    POSITIONAL: {"pe_curves", "pe_table", "pe_similarity", "pe_distance", "pe_sentence"},
    MASKS: {"source_ids", "target_ids", "mask_padding", "mask_look_ahead", "mask_decoder"}
    | {"step_scores", "step_scaled", "step_masked", "step_weights"},
    DECODING: {"next_tokens", "step_attention"},
    MODEL: {"architecture", "parameters", "training_curves"},
}


def open_page(page: str, query_params: dict | None = None, **state) -> AppTest:
    """app.py, sidebar included, switched to page after its first run (AppTest must start on the
    default page); state seeds st.session_state. The link's query_params reach the page as they
    would in a browser that opens it directly: the default page's run does not see them."""
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    app.query_params.clear()  # the default page's own view
    app.query_params.update(query_params or {})
    del app.session_state["_url"]  # the link as app_url.url_param first reads it
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def spec_array(value) -> np.ndarray:
    """A data array of a chart's JSON: Plotly writes numpy arrays as base64 ("bdata")."""
    if isinstance(value, dict):
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return array.reshape([int(n) for n in value["shape"].split(",")]) if "shape" in value else array
    return np.asarray(value, dtype=float)


PAGES = sorted(f"app_pages/{script.name}" for script in (ROOT / "app_pages").glob("*.py"))
SHIPPED = app_checkpoints.checkpoints_dir()  # checkpoints/ (tests point the app elsewhere only per test)
SHIPPED_NAMES = app_checkpoints.checkpoint_names()
# The pages that show the sidebar's checkpoint, by their title (it names the checkpoint and its languages).
TITLES = {
    "app_pages/translate.py": "Translate",
    POSITIONAL: "Positional encoding",
    MASKS: "Masks",
    "app_pages/inside.py": "Inside a layer",
    DECODING: "Decoding, step by step",
    MODEL: "Model card",
    "app_pages/analysis.py": "Analysis",
}


def test_every_page_and_every_shipped_checkpoint_is_tested():
    assert {"app_pages/compare.py", "app_pages/translate.py", "app_pages/train.py", *CHARTS} <= set(PAGES)
    assert {"en-de", "toy-reverse"} <= set(SHIPPED_NAMES)


@pytest.mark.parametrize("name", SHIPPED_NAMES)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_with_every_shipped_checkpoint(page, name, checkpoints):  # noqa: F811 (the fixture)
    """Each page of app_pages/, opened by its link with each checkpoint of checkpoints/: no
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


def test_a_language_pair_is_two_language_codes():
    assert app_checkpoints.language_pair({"source_language": "en", "target_language": "de"}) == ("en", "de")
    for info in (
        {"source_language": "symbols", "target_language": "reversed symbols"},  # the toy
        {"source_language": "en"},
        {"source_language": "en", "target_language": 7},
        {"source_language": "EN", "target_language": "de\n"},
    ):
        assert app_checkpoints.language_pair(info) is None, info


def test_the_sidebar_titles_and_text_box_name_the_checkpoints_languages(checkpoints):  # noqa: F811 (the fixture)
    (checkpoints / "en-de").symlink_to(SHIPPED / "en-de", target_is_directory=True)
    app = open_page("app_pages/translate.py", {"ckpt": "en-de"})
    picker = app.sidebar.selectbox(key="ckpt")
    assert picker.options == ["en-de (en → de)", "toy-reverse"]  # the toy keeps its name
    assert app.title[0].value == "Translate · en-de (en → de)"
    assert app.text_area(key="text").label == "Text (en → de)"
    picker.select("toy-reverse").run()
    assert app.title[0].value == "Translate · toy-reverse"
    assert app.text_area(key="text").label == "Text (symbols → reversed symbols)"


def test_positional_encoding_uses_the_checkpoints_sizes():
    app = open_page(POSITIONAL)
    assert "PE_{(pos,\\,2i)}" in app.latex[0].value
    assert "d_model = 128, positions 0 … 63" in app.caption[0].value
    assert app.multiselect(key="pe_dims").value == [0, 1, 8, 9, 32, 33]  # i = 0, d/32, d/8
    assert len(chart_spec(app, "pe_curves")["data"]) == 6
    assert spec_array(chart_spec(app, "pe_table")["data"][0]["z"]).shape == (64, 128)
    sentence = chart_spec(app, "pe_sentence")
    assert sentence["layout"]["yaxis"]["ticktext"] == ["a", "b", "c", "d", "e", "f", "g", "h", "&lt;/s&gt;"]
    app.multiselect(key="pe_dims").set_value([]).run()
    assert any("Pick at least one dimension" in message for message in texts(app.info))
    assert "pe_curves" not in chart_keys(app) and "pe_table" in chart_keys(app)


def test_masks_pad_the_batch_and_show_the_shortest_sentence_first():
    app = open_page(MASKS, batch="a b c d e f\nx y\n\n1 2 3")
    ids = spec_array(chart_spec(app, "source_ids")["data"][0]["z"]).reshape(3, -1)
    np.testing.assert_array_equal(ids, [[1] * 7, [1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0]])  # 1: a token, 0: <pad>
    assert app.selectbox(key="sentence").value == 1  # "x y": the most padding
    padding = chart_spec(app, "mask_padding")
    assert padding["layout"]["xaxis"]["ticktext"][-1] == "&lt;pad&gt;"
    assert app.query_params["batch"] == "a b c d e f\nx y\n\n1 2 3"
    assert any("`<pad>` *query* rows are computed" in caption for caption in texts(app.caption))


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


@pytest.mark.parametrize(
    "page, params, notice",
    [
        (MASKS, {"batch": "a b c\nx", "sentence": "9" * 5000}, "sentence is not between 1 and 2"),
        (MASKS, {"batch": "a b c\nx", "layer": "9" * 5000}, "layer is not between 1 and 2"),
        (DECODING, {"text": "a b c", "step": "9" * 5000}, "step is not between 1 and 4"),
    ],
)
def test_a_number_of_thousands_of_digits_in_the_link_falls_back_with_a_notice(page, params, notice):
    app = open_page(page, params)  # int() refuses more than 4,300 digits: the page used to stop there
    assert any(notice in message for message in texts(app.warning)), texts(app.warning)
    assert CHARTS[page] <= chart_keys(app)


@pytest.mark.parametrize(
    "page, params, notice",
    [
        (MASKS, {"batch": "a b\n" * 1000}, "batch was cut to 2000 characters"),
        (MASKS, {"targets": "b a\n" * 1000}, "targets was cut to 2000 characters"),
        (DECODING, {"text": "a b", "prefix": "b " * 300}, "prefix was cut to 500 characters"),
    ],
)
def test_a_link_longer_than_its_field_is_cut_with_a_notice(page, params, notice):
    app = open_page(page, params)
    assert any(notice in message for message in texts(app.warning)), texts(app.warning)


def test_masks_page_bounds_the_batch():
    app = open_page(MASKS, batch="\n".join("a b c" for _ in range(8)))
    assert any("Only the first 6 sentences" in message for message in texts(app.warning))
    assert spec_array(chart_spec(app, "source_ids")["data"][0]["z"]).size == 6 * 4
    app.text_area(key="batch").input("  \n ").run()
    assert not app.exception
    assert any("at least one sentence" in message for message in texts(app.info))


def test_decoding_steps_through_the_translation():
    app = open_page(DECODING)
    assert texts(app.code)[0] == "h g f e d c b a"
    slider = app.slider(key="step")
    assert (slider.min, slider.max, slider.value) == (1, 9, 1)
    slider.set_value(3).run()
    assert texts(app.code)[1] == "<s> h g"  # the decoder's input at step 3
    assert chart_spec(app, "next_tokens")["layout"]["title"]["text"].startswith("Next token: f")
    attention = spec_array(chart_spec(app, "step_attention")["data"][0]["z"]).reshape(8, 9)  # 2 layers x 4 heads
    assert attention.argmax(axis=1).tolist().count(5) >= 4  # step 3 reads "f", source position 5
    assert app.query_params["step"] == "3"
    assert any("pick a beam size above 1" in message for message in texts(app.caption))


def chosen_path(spec: dict) -> list[str]:
    """The node names the beam tree's red path goes through, root excluded."""
    names = {}
    for trace in spec["data"]:
        if trace.get("mode") == "markers+text":
            names.update(zip(zip(spec_array(trace["x"]), spec_array(trace["y"])), trace["text"]))
    path = spec["data"][-1]
    return [names[x, y] for x, y in zip(spec_array(path["x"])[1:], spec_array(path["y"])[1:])]


def test_decoding_with_a_beam_draws_the_tree_whose_chosen_path_is_the_output():
    app = open_page(DECODING, {"text": "a b c d e"})
    app.sidebar.select_slider(key="beam_size").set_value(3).run()
    assert not app.exception
    assert texts(app.code)[0] == "e d c b a"
    assert chosen_path(chart_spec(app, "beam_tree")) == ["e", "d", "c", "b", "a", "&lt;/s&gt;"]


@pytest.mark.parametrize("beam_size", [1, 3])
def test_a_forced_prefix_starts_the_output_verbatim(beam_size):
    app = open_page(DECODING, {"text": "a b c d e f", "prefix": "z y"}, beam_size=beam_size)
    translation = texts(app.code)[0]
    assert translation.startswith("z y ") and translation != "z y"
    assert any("forced by the prefix" in message for message in texts(app.caption))
    assert "forced" in chart_spec(app, "next_tokens")["layout"]["title"]["text"]
    app.slider(key="step").set_value(3).run()
    assert "forced" not in chart_spec(app, "next_tokens")["layout"]["title"]["text"]  # the model's own choice
    assert app.query_params["prefix"] == "z y"
    if beam_size > 1:
        assert chosen_path(chart_spec(app, "beam_tree")) == translation.split()[2:] + ["&lt;/s&gt;"]


def test_a_prefix_that_cannot_be_forced_is_explained():
    app = open_page(DECODING, {"text": "a b", "prefix": "a b c d e f g h"})
    assert any("does not fit in the output limit" in message for message in texts(app.warning))
    app.text_input(key="prefix").input("x </s>").run()
    assert not app.exception
    assert "Cannot force this prefix" in app.error[0].value


def test_decoding_url_restores_the_step_and_rejects_a_bad_one():
    app = open_page(DECODING, {"text": "a b c", "step": "2"})
    assert app.slider(key="step").value == 2
    app = open_page(DECODING, {"text": "a b c", "step": "9"})
    assert any("step is not between 1 and 4" in message for message in texts(app.warning))
    assert app.slider(key="step").value == 1


def test_decoding_buttons_step_and_play_through_the_translation():
    app = open_page(DECODING, {"text": "a b c"})  # 4 steps
    assert app.button(key="step_previous").disabled
    app.button(key="step_next").click().run()
    assert app.slider(key="step").value == 2 and app.query_params["step"] == "2"
    app.button(key="step_previous").click().run()
    assert app.slider(key="step").value == 1
    app.button(key="step_play").click().run()  # playing: each run of the stepper advances one step
    assert app.session_state["playing"] and app.slider(key="step").value == 2
    assert app.button(key="step_play").label == "Pause"
    app.run().run()
    assert app.slider(key="step").value == 4 and app.button(key="step_next").disabled
    app.run()  # at the last step playing stops
    assert not app.session_state["playing"] and app.button(key="step_play").label == "Play"
    assert app.slider(key="step").value == 4


def test_sampling_mode_draws_with_its_settings_and_keeps_them_in_the_url():
    app = open_page(DECODING, {"text": "a b c d", "mode": "sample", "temperature": "0", "seed": "3"})
    assert app.segmented_control(key="decoding_mode").value == "sample"
    assert texts(app.code)[0] == "d c b a"  # temperature 0 is greedy
    assert app.text_input(key="prefix").disabled
    spec = chart_spec(app, "next_tokens")
    model, sampled = spec["data"]
    assert "temperature 0" in sampled["name"] and max(spec_array(sampled["x"])) == 1.0  # all mass on one token
    assert "beam_tree" not in chart_keys(app)
    app.slider(key="temperature").set_value(2.0).run()
    app.number_input(key="top_k").set_value(3).run()
    assert not app.exception
    params = app.query_params
    assert (params["mode"], params["temperature"], params["top_k"], params["seed"]) == ("sample", "2", "3", "3")
    sampled = chart_spec(app, "next_tokens")["data"][1]
    assert (spec_array(sampled["x"]) > 0).sum() <= 3  # top-k 3 cuts the rest
    first = texts(app.code)[0]
    assert texts(open_page(DECODING, dict(params)).code)[0] == first  # the link draws the same sample


@pytest.mark.parametrize("top_p", ["0.049", "0.01", "0.001"])  # 0.001 rounds to 0, no nucleus at all
def test_a_top_p_below_the_sliders_minimum_falls_back_with_a_notice(top_p):
    app = open_page(DECODING, {"text": "a b", "mode": "sample", "top_p": top_p})
    assert any("top_p is not between 0.05 and 1" in warning for warning in texts(app.warning))
    assert app.slider(key="top_p").value == 1.0
    app.slider(key="top_p").set_value(0.05).run()  # the slider's own minimum still draws
    assert not app.exception and app.query_params["top_p"] == "0.05"


def test_sampling_link_with_bad_settings_falls_back_with_notices():
    app = open_page(DECODING, {"text": "a b", "mode": "sample", "temperature": "9", "top_p": "0", "top_k": "x"})
    warnings = " ".join(texts(app.warning))
    assert "temperature is not between 0 and 2" in warnings and "top_p is not between 0.05 and 1" in warnings
    assert "top_k is not between" in warnings
    assert app.slider(key="temperature").value == 1.0 and app.number_input(key="top_k").value is None
    app = open_page(DECODING, {"text": "a b", "mode": "nonsense"})
    assert any("mode is not search or sample" in message for message in texts(app.warning))


def test_decoding_with_a_beam_lists_the_finished_hypotheses():
    app = open_page(DECODING, {"text": "a b c"}, beam_size=3)
    [table] = app.dataframe
    assert table.value["chosen"].tolist()[0] and table.value["hypothesis"][0] == "c b a </s>"


def test_model_card_shows_config_counts_curves_scores_and_credits():
    app = open_page(MODEL)
    settings, scores = (element.value for element in app.dataframe)
    assert settings.set_index("setting").loc["d_model", "value"] == "128"
    assert settings.set_index("setting").loc["training steps", "value"] == "3,000"
    assert scores["set"].tolist() == ["dev", "fresh"] and scores["BLEU"].tolist() == [99.98, 99.95]
    assert "lrate" in app.latex[0].value
    curves = chart_spec(app, "training_curves")
    assert {trace["name"] for trace in curves["data"]} >= {"learning rate", "dev BLEU"}
    assert any("Data" in markdown and "reverse_task_pairs" in markdown for markdown in texts(app.markdown))
    assert not any("## Scores" in markdown for markdown in texts(app.markdown))  # the scores once: the table
    total = sum(p.numel() for p in load_checkpoint(TOY).model.parameters())
    assert chart_spec(app, "parameters")["layout"]["title"]["text"] == f"{total:,} parameters"


def test_without_section_drops_one_level_two_section():
    card = "# toy\n\n## Data\nd\n\n## Scores (`metrics.json`)\n| a |\n\n## Limits\nl\n"
    assert app_checkpoints.without_section(card, "Scores") == "# toy\n\n## Data\nd\n\n## Limits\nl\n"
    assert app_checkpoints.without_section(card, "Speed") == card


def test_model_card_without_the_optional_files():
    bare = app_checkpoints.checkpoints_dir() / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        shutil.copy(TOY / name, bare / name)
    app = open_page(MODEL, {"ckpt": "bare"})
    assert any("no training_log.csv" in message for message in texts(app.info))
    assert any("no metrics.json" in message for message in texts(app.info))
    assert {"architecture", "parameters"} <= chart_keys(app) and "training_curves" not in chart_keys(app)
    (bare / app_checkpoints.TRAINING_LOG).write_text("step,train_loss\n1,2.0\n")
    app = open_page(MODEL, {"ckpt": "bare"})
    assert "cannot be drawn: the training log has no lr column" in app.error[0].value


def test_model_card_reports_unreadable_scores_and_log_and_draws_the_rest():
    broken = app_checkpoints.checkpoints_dir() / "broken"
    shutil.copytree(TOY, broken)
    (broken / "metrics.json").write_text("{ not json")
    (broken / app_checkpoints.TRAINING_LOG).unlink()
    (broken / app_checkpoints.TRAINING_LOG).mkdir()  # a folder where the log should be
    app = open_page(MODEL, {"ckpt": "broken"})
    errors = texts(app.error)
    assert any("metrics.json cannot be read" in e and "not valid JSON" in e for e in errors), errors
    assert any("training log cannot be read" in e and "a directory" in e for e in errors), errors
    assert any("Test BLEU unavailable" in markdown for markdown in texts(app.sidebar.markdown))
    assert {"architecture", "parameters"} <= chart_keys(app)


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


def test_presentation_mode_enlarges_figures_hides_controls_and_stays_in_the_url():
    plain = open_page(MASKS)
    app = open_page(MASKS, {"present": "1"})
    assert app.sidebar.toggle(key="present").value is True
    assert any("font-size" in element.proto.body for element in app.get("html"))
    for key in ("mask_padding", "step_weights"):  # taller; a heatmap so that its cells are square
        height, layout = chart_spec(plain, key)["layout"]["height"], chart_spec(app, key)["layout"]
        if layout.get("yaxis", {}).get("scaleanchor") == "x":
            assert layout["height"] >= round(height * app_present.PRESENT_FIGURE_SCALE)
        else:
            assert layout["height"] == round(height * app_present.PRESENT_FIGURE_SCALE)
    assert chart_spec(app, "step_weights")["layout"]["yaxis"]["scaleanchor"] == "x"
    assert app.query_params["present"] == "1"
    app.switch_page(DECODING).run()
    assert app.query_params["present"] == "1" and not app.exception
    app.sidebar.toggle(key="present").set_value(False).run()
    assert "present" not in app.query_params and not app.get("html")


def test_presentation_mode_works_on_the_translate_page_and_rejects_a_bad_link():
    app = run_app({"present": "1"})
    assert app.sidebar.toggle(key="present").value is True and app.query_params["present"] == "1"
    assert chart_spec(app, "attention_map")["layout"]["font"]["size"] == app_present.PRESENT_FONT_SIZE
    app = run_app({"present": "yes"})
    assert any("present value is not 0 or 1" in message for message in texts(app.warning))
    assert app.sidebar.toggle(key="present").value is False


def test_the_sentence_is_shared_between_pages():
    app = open_page(MODEL)
    app.switch_page("app_pages/translate.py").run()
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
