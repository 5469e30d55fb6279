"""Presentation mode (webapp/state/present.py) through streamlit.testing: larger figures, hidden
controls, kept in the link."""

import pytest

from tests.webapp.apptest import DECODING, MASKS, chart_spec, open_page, run_app, texts
from webapp.state import present as app_present

pytestmark = pytest.mark.usefixtures("checkpoints")


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
