"""The Compare page (webapp/pages/compare.py, webapp/pages/comparison.py) through streamlit.testing: one English
sentence through two checkpoints side by side, on a temporary checkpoints folder with the toy,
en-de and en-xx (a copy of en-de whose config says it translates into "xx")."""

import json

import pytest

from tests.helpers import language_copy
from tests.webapp.apptest import TOY, chart_keys, chart_spec, open_page, spec_array, texts
from webapp.pages import comparison as app_compare
from webapp.state import present as app_present

pytestmark = pytest.mark.usefixtures("checkpoints")


COMPARE = "webapp/pages/compare.py"


EN_DE = TOY.parent / "en-de"


SENTENCE = "The little girl is eating a red apple."


EN_DE_SHARPEST_LAYER = 3  # 1-based, as the Translate page opens en-de (tests/browser/test_app.py)


@pytest.fixture
def en_de(checkpoints):
    (checkpoints / "en-de").symlink_to(EN_DE, target_is_directory=True)
    return checkpoints


@pytest.fixture
def en_xx(en_de):
    language_copy(EN_DE, en_de, "en-xx", "xx")
    return en_de


def picker(app):
    [multiselect] = [widget for widget in app.multiselect if widget.key == "compare_ckpts"]
    return multiselect


def title(app, key: str) -> str:
    return chart_spec(app, key)["layout"]["title"]["text"].replace("<br>", " ")  # wrapped for a phone


def download_name(app, key: str) -> str:
    """The file name of a chart's PNG download (its toolbar's camera)."""
    [chart] = [chart for chart in app.get("plotly_chart") if chart.key == key]
    return json.loads(chart.proto.config)["toImageButtonOptions"]["filename"]


def link_pairs(spec: dict) -> list[tuple[int, int]]:
    """(target word, source position) of every line of an alignment_links figure."""
    lines = [trace for trace in spec["data"] if trace.get("mode") == "lines"]
    return [(-int(spec_array(line["y"])[0]), -int(spec_array(line["y"])[1])) for line in lines]


@pytest.mark.usefixtures("en_xx")
def test_two_checkpoints_side_by_side_translate_the_sentence_with_their_maps_and_links():
    app = open_page(COMPARE, {"ckpts": "en-de,en-xx", "text": SENTENCE})
    assert picker(app).options == ["en-de (en → de)", "en-xx (en → xx)"]  # the toy is not offered
    assert picker(app).value == ["en-de", "en-xx"]
    assert [s for s in texts(app.subheader) if "→" in s] == ["en-de (en → de)", "en-xx (en → xx)"]
    translations = texts(app.code)
    assert len(translations) == 2 and "Apfel" in translations[0]
    assert translations[0] == translations[1]  # the same weights
    assert {"compare_map_0", "compare_map_1", "compare_links_0", "compare_links_1"} <= chart_keys(app)
    assert not app.warning and not app.error and not app.info
    for index in (0, 1):
        heatmap = chart_spec(app, f"compare_map_{index}")
        assert title(app, f"compare_map_{index}") == f"Layer {EN_DE_SHARPEST_LAYER} (sharpest), average over heads"
        weights = spec_array(heatmap["data"][0]["z"]).reshape(len(heatmap["data"][0]["y"]), -1)
        words = len(weights) - 1  # rows: y_1 .. y_n, </s>, each named by the word it writes
        expected = list(enumerate(weights[:words].argmax(axis=1).tolist()))
        links = chart_spec(app, f"compare_links_{index}")
        assert link_pairs(links) == expected
        # A map's row and the link of the same word agree (on the old convention, the rows were the
        # decoder inputs <s>, y_1, ...: the row "kleine" pointed where the link of the next word did).
        [targets] = [trace for trace in links["data"] if trace.get("mode") == "markers+text" and trace["x"][0] == 0]
        assert heatmap["layout"]["yaxis"]["ticktext"][:words] == targets["text"]
        assert heatmap["layout"]["yaxis"]["ticktext"][words] == "&lt;/s&gt;"
    params = app.query_params
    assert (params["ckpts"], params["text"], params["layer"], params["head"]) == (
        "en-de,en-xx",
        SENTENCE,
        "sharpest",
        "avg",
    )


@pytest.mark.usefixtures("en_xx")
def test_the_layer_and_head_apply_to_every_column_and_stay_in_the_url():
    app = open_page(COMPARE, {"ckpts": "en-xx,en-de", "text": SENTENCE, "layer": "1", "head": "2"})
    assert not app.warning
    assert picker(app).value == ["en-xx", "en-de"]  # the link's order
    for index in (0, 1):
        assert title(app, f"compare_map_{index}") == "Layer 1, head 2"
    assert download_name(app, "compare_map_0") == "en-xx-cross-layer1-head-2"  # the head as the URL spells it
    app.selectbox(key="compare_head").select("average over heads").run()
    app.selectbox(key="compare_layer").select("Layer 2").run()
    assert not app.exception
    assert title(app, "compare_map_1") == "Layer 2, average over heads"
    assert download_name(app, "compare_links_1") == "alignment-links-en-de-cross-layer2-head-avg"
    assert (app.query_params["layer"], app.query_params["head"]) == ("2", "avg")
    picker(app).unselect("en-xx").run()
    assert len(texts(app.code)) == 1 and app.query_params["ckpts"] == "en-de"


@pytest.mark.usefixtures("en_xx")
def test_bad_link_values_fall_back_with_notices():
    app = open_page(
        COMPARE, {"ckpts": "toy-reverse,../en-de,en-de", "text": SENTENCE, "layer": "x", "head": "9" * 5000}
    )
    warnings = " ".join(texts(app.warning))
    assert "toy-reverse, which does not translate English" in warnings
    assert "1 checkpoint(s) that are not available" in warnings and "../" not in warnings
    assert "layer is not between 1 and 3 (or sharpest)" in warnings
    assert "head is not between 1 and 4 (or avg)" in warnings
    assert picker(app).value == ["en-de"]
    assert len(texts(app.code)) == 1 and {"compare_map_0", "compare_links_0"} <= chart_keys(app)
    assert (app.selectbox(key="compare_layer").value, app.selectbox(key="compare_head").value) == ("sharpest", "avg")

    app = open_page(COMPARE, {"ckpts": "nothing,here", "text": SENTENCE})
    assert any("2 checkpoint(s) that are not available" in w for w in texts(app.warning))
    assert picker(app).value == ["en-de", "en-xx"]  # the defaults
    assert len(texts(app.code)) == 2


def test_a_link_names_at_most_three_checkpoints_once_each():
    comparable = ["en-de", "en-fr", "en-es", "en-it"]
    listed = [*comparable, "toy-reverse"]
    chosen, notices = app_compare.parse_checkpoints("en-fr, en-fr,en-de,en-es,en-it,", comparable, listed)
    assert chosen == ["en-fr", "en-de", "en-es"]
    assert notices == ["The link names 4 checkpoints; comparing the first 3."]
    assert app_compare.parse_checkpoints("en-de", comparable, listed) == (["en-de"], [])
    many = ",".join(["toy-reverse", *(f"n{i}" for i in range(10_000)), "n1"])  # n1 twice: counted once
    chosen, notices = app_compare.parse_checkpoints(many, comparable, listed)
    assert chosen == [] and len(notices) == 2 and "10000 checkpoint(s)" in notices[1]
    assert app_compare.default_choice(comparable, "en-es") == ["en-es", "en-de", "en-fr"]
    assert app_compare.default_choice(comparable, "toy-reverse") == ["en-de", "en-fr", "en-es"]


def test_a_checkpoint_that_does_not_load_is_reported_and_the_other_compared(en_de):
    broken = language_copy(EN_DE, en_de, "en-zz", "zz")
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    app = open_page(COMPARE, {"ckpts": "en-zz,en-de", "text": SENTENCE})
    assert any("Cannot load en-zz" in message and "model.safetensors" in message for message in texts(app.error))
    assert len(texts(app.code)) == 1 and {"compare_map_0", "compare_links_0"} <= chart_keys(app)


@pytest.mark.usefixtures("en_de")
def test_one_english_checkpoint_is_explained_and_still_shown():
    app = open_page(COMPARE, {"text": SENTENCE})
    assert any("Only one checkpoint translates English" in message for message in texts(app.info))
    assert picker(app).options == ["en-de (en → de)"]
    assert len(texts(app.code)) == 1 and {"compare_map_0", "compare_links_0"} <= chart_keys(app)


def test_without_an_english_checkpoint_the_page_says_so():
    app = open_page(COMPARE, {"ckpts": "toy-reverse"})
    assert any("No checkpoint here translates English" in message for message in texts(app.info))
    assert not chart_keys(app) and not app.code


@pytest.mark.usefixtures("en_xx")
def test_presentation_mode_enlarges_every_compare_figure():
    app = open_page(COMPARE, {"ckpts": "en-de,en-xx", "text": SENTENCE, "present": "1"})
    for key in ("compare_map_0", "compare_links_1"):
        layout = chart_spec(app, key)["layout"]
        assert layout["font"]["size"] == app_present.PRESENT_FONT_SIZE
        assert all(note["font"]["size"] >= app_present.PRESENT_FONT_SIZE for note in layout.get("annotations", []))
    assert chart_spec(app, "compare_map_0")["layout"]["yaxis"]["scaleanchor"] == "x"  # square cells


@pytest.mark.usefixtures("en_xx")
def test_a_compare_example_fills_the_sentence():
    app = open_page(COMPARE, {"ckpts": "en-de,en-xx"})
    [pills] = [pills for pills in app.get("pills") if pills.key == "compare_example"]
    pills.set_value("Verb at the end").run()
    assert app.text_input(key="text").value == "I think that he has already bought the blue car."
    assert "gekauft" in texts(app.code)[0]
    assert any("to the end of the clause" in caption for caption in texts(app.caption))
