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


def draw_a_matrix(presenting: bool, show_marker: bool) -> None:
    """A script for AppTest.from_function: one Inside matrix through present.plotly_chart."""
    import numpy as np
    import streamlit as st

    from figures import Panel, matrices_figure
    from webapp.state import present

    st.session_state.update(present=presenting, show_marker=show_marker)
    panel = Panel("X", "(T, d)", np.arange(12.0).reshape(3, 4) - 6, ["▁Zwei", "▁Hunde", "</s>"])
    present.plotly_chart(matrices_figure([panel]), key="matrix", filename="matrix")


@pytest.mark.parametrize("present, show_marker", [(False, True), (True, False)])
def test_the_chart_streamlit_sends_is_the_legible_figure(present, show_marker):
    """plotly_chart hands Streamlit the finished JSON (FinishedFigure, not copied and checked
    again): what the browser gets is legible's figure, the projector's sizes and marker included."""
    import json

    import numpy as np
    import plotly.io as pio
    from streamlit.testing.v1 import AppTest

    from figures import Panel, matrices_figure
    from figures.legibility import (
        ASSUMED_WIDTH,
        legible,
        present_figure_height,
        present_plot_width,
        square_cells,
    )
    from webapp.state.present import PRESENT_FIGURE_SCALE, PRESENT_FONT_SIZE

    app = AppTest.from_function(draw_a_matrix, kwargs=dict(presenting=present, show_marker=show_marker))
    app.run()
    assert not app.exception
    sent = json.loads(app.get("plotly_chart")[0].proto.spec)
    panel = Panel("X", "(T, d)", np.arange(12.0).reshape(3, 4) - 6, ["▁Zwei", "▁Hunde", "</s>"])
    figure = matrices_figure([panel])
    width = present_plot_width(1)
    if present:
        figure.update_layout(height=round(figure.layout.height * PRESENT_FIGURE_SCALE))
        figure = square_cells(figure, width=width, max_height=present_figure_height())
    numbers = width if present else app_present.laptop_plot_width(1)
    expected = legible(figure, PRESENT_FONT_SIZE if present else None, min(ASSUMED_WIDTH, width), numbers, show_marker)
    want = json.loads(pio.to_json(expected, validate=False))
    assert sent == want
    assert ("▁Zwei (0)" in sent["data"][0]["y"]) == show_marker
