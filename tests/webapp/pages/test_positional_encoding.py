"""The Positional encoding page (webapp/pages/positional_encoding.py) through streamlit.testing."""

import numpy as np
import pytest

from tests.webapp.apptest import POSITIONAL, chart_keys, chart_spec, open_page, spec_array, texts
from transformer.embeddings import sinusoidal_table

pytestmark = pytest.mark.usefixtures("checkpoints")


def test_positional_encoding_uses_the_checkpoints_sizes():
    app = open_page(POSITIONAL)
    assert "PE_{(pos,\\,2i)}" in app.latex[0].value
    assert "d_model = 128, positions 0 … 63" in app.caption[0].value
    assert app.multiselect(key="pe_dims").value == [0, 1, 8, 9, 32, 33]  # i = 0, d/32, d/8
    assert len(chart_spec(app, "pe_curves")["data"]) == 6
    table = spec_array(chart_spec(app, "pe_table")["data"][0]["z"])  # the whole table, every cell
    np.testing.assert_allclose(table, sinusoidal_table(64, 128).numpy(), atol=1e-6, rtol=0)
    sentence = chart_spec(app, "pe_sentence")
    assert sentence["layout"]["yaxis"]["ticktext"] == ["a", "b", "c", "d", "e", "f", "g", "h", "&lt;/s&gt;"]
    app.multiselect(key="pe_dims").set_value([]).run()
    assert any("Pick at least one dimension" in message for message in texts(app.info))
    assert "pe_curves" not in chart_keys(app) and "pe_table" in chart_keys(app)
