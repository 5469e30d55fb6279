"""Sampling on the Decoding page (webapp/pages/sampling.py) through streamlit.testing: its settings,
kept in the link, and bad ones falling back with a notice."""

import pytest

from tests.webapp.apptest import DECODING, chart_keys, chart_spec, open_page, spec_array, texts

pytestmark = pytest.mark.usefixtures("checkpoints")


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
