"""The Analysis page through streamlit.testing (no browser): every tab on the shipped toy-reverse
model (through a temporary TRANSFORMER_CHECKPOINTS folder, the `checkpoints` fixture), with the head
importance cache in a temporary folder too. A click on a heatmap cell cannot be simulated here:
tests/browser/test_analysis.py clicks one."""

import base64
import json
import math
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import transformer.analysis
from figures import KIND_TITLES, KINDS
from tests.helpers import ROOT
from tests.webapp.apptest import TIMEOUT, TOY, chart_keys, chart_spec, run_app, texts
from transformer.analysis import IMPORTANCE_FILE
from webapp.analysis import common as app_analysis
from webapp.state import checkpoints as app_checkpoints

pytestmark = pytest.mark.usefixtures("checkpoints")  # toy-reverse alone (a test may point elsewhere)


PAGE = "webapp/pages/analysis.py"


CACHE_ENV = app_analysis.CACHE_ENV


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "analysis-cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def open_tab(tab: str, **params) -> AppTest:
    return run_app({"tab": tab, **params}, script=PAGE)


def array(value) -> np.ndarray:
    """A figure's array from its JSON: a list, or Plotly's base64 typed array for a NumPy one."""
    if isinstance(value, dict):
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return data.reshape([int(n) for n in str(value["shape"]).split(",")]) if "shape" in value else data
    return np.asarray(value, dtype=float)


def heatmap(app, key: str, trace: int = 0) -> np.ndarray:
    return array(chart_spec(app, key)["data"][trace]["z"])


def test_the_page_is_in_the_app_with_its_tabs():
    app = run_app()
    app.switch_page(PAGE).run()
    assert not app.exception
    assert app.title[0].value == "Analysis · toy-reverse"  # the toy is no language pair: its name alone
    assert app.sidebar.selectbox(key="ckpt").value == "toy-reverse"
    assert [tab.label for tab in app.tabs] == [
        "Rollout",
        "Head statistics",
        "Ablation",
        "Head importance",
        "Across training",
        "Alignment",
        "Attribution",
    ]
    assert chart_keys(app) == {"rollout", "relevance"}  # only the open tab runs
    assert app.query_params["tab"] == "rollout" and app.query_params["text"] == "a b c d e f g h"


def test_a_bad_tab_in_the_link_falls_back_with_a_notice():
    app = run_app({"tab": "heads"})
    app.switch_page(PAGE).run()
    assert any("tab is not one of rollout, statistics" in message for message in texts(app.warning))
    assert chart_keys(app) == {"rollout", "relevance"}


def test_rollout_and_source_relevance_have_tokens_on_the_axes():
    app = open_tab("rollout", text="a b c d")
    assert app.selectbox(key="rollout_layer").value == 1  # the last encoder layer
    rollout = chart_spec(app, "rollout")
    assert rollout["layout"]["title"]["text"] == "Rollout after encoder layer 2"
    assert rollout["layout"]["xaxis"]["ticktext"] == ["a", "b", "c", "d", "&lt;/s&gt;"]
    np.testing.assert_allclose(heatmap(app, "rollout").sum(axis=1), 1, atol=1e-5)  # rows stay distributions
    relevance = chart_spec(app, "relevance")
    assert relevance["layout"]["yaxis"]["ticktext"] == ["d", "c", "b", "a", "&lt;/s&gt;"]  # the output tokens
    assert relevance["data"][0]["text"][1][0].startswith("writes c · reads d (1)")
    app.selectbox(key="rollout_layer").select(0).run()
    assert chart_spec(app, "rollout")["layout"]["title"]["text"] == "Rollout after encoder layer 1"


def test_head_statistics_over_the_dev_sample_or_the_sentence():
    app = open_tab("statistics")
    assert app.radio(key="stats_source").value == "dev"
    assert chart_keys(app) == {"stats_entropy", "stats_distance", "stats_eos_punct"}
    dev_entropy = heatmap(app, "stats_entropy")
    assert dev_entropy.shape == (2, 4)  # encoder panel: 2 layers x 4 heads
    assert ((dev_entropy >= 0) & (dev_entropy <= math.log(64))).all()
    share = chart_spec(app, "stats_eos_punct")["layout"]["coloraxis"]
    assert (share["cmin"], share["cmax"]) == (0, 1)
    app.radio(key="stats_source").set_value("sentence").run()
    assert not app.exception
    assert not np.allclose(heatmap(app, "stats_entropy"), dev_entropy)


def test_ablation_translates_again_and_shows_what_moved():
    app = open_tab("ablation", text="a b c d e f")
    assert any("Pick heads" in message for message in texts(app.info))
    assert not chart_keys(app)

    # Every head of the last encoder layer: a gate acts after the attention weights, so no encoder
    # map moves; the decoder reads a changed memory, so its encoder-decoder attention does.
    app.multiselect(key="ablate_encoder").set_value([(1, head) for head in range(4)]).run()
    assert chart_keys(app) == {"attention_moved", "attention_change"}
    encoder, cross = heatmap(app, "attention_moved", 0), heatmap(app, "attention_moved", 4)  # panels 1 and 3
    np.testing.assert_allclose(encoder, 0, atol=1e-6)
    assert cross.max() > 0.01
    assert len(chart_spec(app, "attention_moved")["layout"]["shapes"]) == 4  # the heads switched off

    # Every encoder-decoder head: the decoder no longer sees the source.
    app.multiselect(key="ablate_encoder").set_value([]).run()
    app.multiselect(key="ablate_cross").set_value([(layer, head) for layer in range(2) for head in range(4)]).run()
    original, ablated = texts(app.code)
    assert original == "f e d c b a" and ablated != original
    [metric] = app.metric
    assert float(metric.delta) < -1  # the original translation became much less likely
    kind, layer, head = app.selectbox(key="moved_head").value  # the head that moved most, shown by default
    title = chart_spec(app, "attention_change")["layout"]["title"]["text"].replace("<br>", " ")  # wrapped for a phone
    assert title.startswith(f"{KIND_TITLES[kind]}, layer {layer + 1}, head {head + 1}")
    assert kind != "encoder"  # switching off cross-attention changes nothing before it
    change = chart_spec(app, "attention_change")
    assert change["layout"]["yaxis"]["ticktext"][0] == "f"  # the token the first row writes, not <s>
    assert change["data"][0]["text"][0][0].startswith("writes f · reads &lt;s&gt; (0)")


def test_with_int8_translation_on_the_ablation_still_compares_the_fp32_model_with_itself():
    """The sidebar's int8 switch is for translations; the page compares the fp32 model's
    translation with the fp32 model's ablation, so a cross-attention head moves no encoder map."""
    app = AppTest.from_file(str(ROOT / PAGE), default_timeout=TIMEOUT)
    app.query_params.update({"tab": "ablation", "text": "a b c d e f", "off": "cross-2-1"})
    app.session_state["int8"] = True  # the sidebar's switch
    app.run()
    assert not app.exception
    assert heatmap(app, "attention_moved", 0).max() == 0  # panel 1: the encoder (int8 against fp32: ~0.01)


def test_the_heads_switched_off_live_in_the_url():
    app = open_tab("ablation", text="a b c d e f", off="cross-1-2,encoder-2-4")
    assert not app.warning
    assert app.multiselect(key="ablate_encoder").value == [(1, 3)]
    assert app.multiselect(key="ablate_cross").value == [(0, 1)]
    assert chart_keys(app) == {"attention_moved", "attention_change"}
    assert app.query_params["off"] == "encoder-2-4,cross-1-2"
    app.multiselect(key="ablate_cross").set_value([]).run()
    assert app.query_params["off"] == "encoder-2-4"
    app.multiselect(key="ablate_encoder").set_value([]).run()
    assert "off" not in app.query_params


@pytest.mark.parametrize(
    "off",
    [
        "cross-3-1",
        "encoder-1-5",
        "sideways-1-1",
        "cross-1",
        "cross-a-b",
        "",
        f"cross-1-{'9' * 5000}",  # beyond int()'s 4,300 digits
        ",".join(["cross-1-2"] * 25),  # more items than the model has heads (24)
    ],
)
def test_a_link_with_heads_this_model_lacks_switches_none_off(off):
    app = run_app({"tab": "ablation", "text": "a b c d e f", "off": off})  # app.py shows the notices
    app.switch_page(PAGE).run()
    assert any("not all heads of this model" in message for message in texts(app.warning))
    assert all(not app.multiselect(key=f"ablate_{kind}").value for kind in KINDS)


def test_a_head_listed_many_times_is_switched_off_once():
    app = open_tab("ablation", text="a b c d e f", off=",".join(["cross-1-2", "encoder-2-4"] * 12))
    assert not app.warning
    assert app.multiselect(key="ablate_cross").value == [(0, 1)]
    assert app.multiselect(key="ablate_encoder").value == [(1, 3)]
    assert app.query_params["off"] == "encoder-2-4,cross-1-2"


@pytest.fixture
def unshipped(checkpoints, tmp_path, monkeypatch):
    """toy-reverse without the head importance it ships: the tab computes it and caches it."""
    folder = tmp_path / "unshipped-checkpoints" / "toy-reverse"
    shutil.copytree(TOY, folder, ignore=shutil.ignore_patterns(IMPORTANCE_FILE))
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(folder.parent))
    return folder


def test_the_shipped_head_importance_is_read_not_computed(cache, monkeypatch):
    def recompute(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(transformer.analysis, "head_importance", recompute)
    app = open_tab("importance")
    assert chart_keys(app) == {"importance", "pruning"}
    assert not cache.exists()  # nothing written anywhere
    assert any("shipped with it" in caption for caption in texts(app.caption))


@pytest.mark.usefixtures("unshipped")
@pytest.mark.parametrize("saved", ["{}", '{"importance": {"cross": [[1.0]]}, "curve": []}', '{"curve": 3}'])
def test_an_importance_file_this_tab_cannot_use_is_computed_again(cache, saved):
    open_tab("importance")
    [file] = cache.iterdir()
    file.write_text(saved)
    app = open_tab("importance")
    assert chart_keys(app) == {"importance", "pruning"}
    assert set(json.loads(file.read_text())["importance"]) == set(KINDS)


@pytest.mark.usefixtures("unshipped")
def test_head_importance_is_computed_once_then_read_from_disk(cache, monkeypatch):
    app = open_tab("importance")
    assert chart_keys(app) == {"importance", "pruning"}
    [file] = cache.iterdir()
    assert file.name.startswith("toy-reverse-") and file.suffix == ".json"
    saved = json.loads(file.read_text())
    assert set(saved["importance"]) == set(KINDS)
    assert [point["pruned"] for point in saved["curve"]] == [0, 3, 6, 9, 12, 15, 18, 21, 24]
    assert saved["curve"][0]["bleu"] > 90 > saved["curve"][-1]["bleu"]  # all 24 heads off: nothing left
    ranking = app.dataframe[0].value
    assert len(ranking) == 24 and list(ranking["rank"]) == list(range(1, 25))
    assert ranking["importance"].is_monotonic_decreasing

    def recompute(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(transformer.analysis, "head_importance", recompute)
    monkeypatch.setattr(transformer.analysis, "pruning_curve", recompute)
    again = open_tab("importance")
    assert chart_keys(again) == {"importance", "pruning"}
    assert again.dataframe[0].value.equals(ranking)


def test_attention_across_training_follows_the_slider():
    app = open_tab("training")
    assert app.get("segmented_control")[0].value == "cross"
    assert app.select_slider(key="history_step").value == 3000  # the last snapshot
    assert chart_spec(app, "history_map")["layout"]["title"]["text"].endswith("average over heads, step 3000")
    probe = chart_spec(app, "history_map")["layout"]["yaxis"]
    assert probe["ticktext"][-1] == "&lt;/s&gt;" and probe["title"]["text"] == "query: token written"
    entropy = array(chart_spec(app, "history_entropy")["data"][0]["y"])
    assert entropy[0] > 2 * entropy[-1]  # the anti-diagonal sharpened out of a spread map
    app.select_slider(key="history_step").set_value(250).run()
    assert chart_spec(app, "history_map")["layout"]["title"]["text"].endswith("step 250")


def test_alignment_links_each_reversed_symbol_to_its_source():
    app = open_tab("alignment", text="a b c d")
    spec = chart_spec(app, "alignment")
    assert spec["layout"]["yaxis"]["ticktext"] == ["d", "c", "b", "a"]  # the target words, no <s>
    circles = spec["data"][1]
    assert list(zip(array(circles["y"]), array(circles["x"]))) == [(0, 3), (1, 2), (2, 1), (3, 0)]
    app.toggle(key="shift_att").set_value(True).run()
    assert chart_spec(app, "alignment")["layout"]["title"]["text"] == "Layer 2, Shift-Att reading"
    assert "alignment_links" in chart_keys(app)


def test_a_checkpoint_without_dev_sample_or_history_says_so(tmp_path, monkeypatch):
    folder = tmp_path / "bare-checkpoints" / "bare"
    shutil.copytree(TOY, folder, ignore=shutil.ignore_patterns("dev_sample.tsv", "attention_history*"))
    monkeypatch.setenv(app_checkpoints.CHECKPOINTS_ENV, str(folder.parent))
    statistics = open_tab("statistics")
    assert any("no dev sample" in message for message in texts(statistics.info))
    assert statistics.radio(key="stats_source").options == ["the sentence above"]
    assert "stats_entropy" in chart_keys(statistics)
    importance = open_tab("importance")
    assert any("no dev sample" in message for message in texts(importance.info)) and not chart_keys(importance)
    training = open_tab("training")
    assert any("no attention history" in message for message in texts(training.info))


def test_an_empty_sentence_asks_for_one():
    for tab in ("rollout", "ablation", "alignment"):
        app = open_tab(tab)
        app.text_input(key="text").input(" ").run()
        assert not app.exception and not chart_keys(app)
        assert any("Type a sentence" in message for message in texts(app.info))


def test_attribution_beside_attention_with_its_view_in_the_url():
    app = open_tab("attribution", text="a b c d", method="gxi", steps="16")
    assert not app.warning
    assert chart_keys(app) == {"attribution", "attribution_attention", "attribution_rollout", "attribution_agreement"}
    assert heatmap(app, "attribution").shape == (5, 5)  # output tokens (d c b a </s>) x source tokens
    assert chart_spec(app, "attribution")["layout"]["title"]["text"] == "Gradient × input"
    assert app.query_params["method"] == "gxi" and app.query_params["steps"] == "16"
    agreement = chart_spec(app, "attribution_agreement")["data"]
    assert [trace["name"] for trace in agreement] == ["vs attention", "vs rollout"]
    assert all(-1 <= value <= 1 for value in array(agreement[0]["y"]) if not np.isnan(value))
    app.get("segmented_control")[0].set_value("ig").run()
    assert chart_spec(app, "attribution")["layout"]["title"]["text"] == "Integrated gradients"
    assert app.query_params["method"] == "ig"


def test_an_attribution_link_with_bad_steps_falls_back_with_a_notice():
    app = run_app({"tab": "attribution", "text": "a b", "steps": "7", "method": "saliency"})
    app.switch_page(PAGE).run()
    warnings = texts(app.warning)
    assert any("steps are not one of" in message for message in warnings)
    assert any("method is not one of" in message for message in warnings)
    assert app.query_params["steps"] == "128" and app.query_params["method"] == "ig"
