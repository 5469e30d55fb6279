"""The Decoding page's sampling settings from a link (app_sampling): a value its widget cannot show
falls back with a notice naming the widget's range, instead of stopping the page."""

import pytest
from test_app import checkpoints, texts  # noqa: F401 (checkpoints: a fixture)
from test_app_pages import DECODING, open_page

pytestmark = pytest.mark.usefixtures("checkpoints")


@pytest.mark.parametrize("top_p", ["0.049", "0.01", "0.001"])  # 0.001 rounds to 0, no nucleus at all
def test_a_top_p_below_the_sliders_minimum_falls_back_with_a_notice(top_p):
    app = open_page(DECODING, {"text": "a b", "mode": "sample", "top_p": top_p})
    assert any("top_p is not between 0.05 and 1" in warning for warning in texts(app.warning))
    assert app.slider(key="top_p").value == 1.0
    app.slider(key="top_p").set_value(0.05).run()  # the slider's own minimum still draws
    assert not app.exception and app.query_params["top_p"] == "0.05"
