"""Plain helpers for the app's tests through streamlit.testing (no browser): the shipped toy-reverse
checkpoint, app.py run from a link or switched to a page, and readers of the charts, texts and head
view a run draws. The `checkpoints` fixture (a folder holding the toy alone) is in
tests/webapp/conftest.py."""

import base64
import json

import numpy as np
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button, DownloadButton

from tests.helpers import ROOT, head_view_data

TOY = ROOT / "checkpoints" / "toy-reverse"

TIMEOUT = 60  # seconds per run: the CPU may be busy with a training run

# The toy's encoder-decoder attention is sharpest (lowest entropy on its dev sample) in layer 1,
# head 3: the Translate page opens on that layer, its head view on that head.
TOY_SHARPEST_LAYER, TOY_SHARPEST_HEAD = 0, 2


def run_app(query_params: dict | None = None, script: str = "app.py") -> AppTest:
    app = AppTest.from_file(str(ROOT / script), default_timeout=TIMEOUT)
    app.query_params.update(query_params or {})
    app.run()
    assert not app.exception, app.exception
    return app


def head_view_pills(app: AppTest):
    [pills] = [pills for pills in app.get("pills") if pills.key == "head_view_heads"]
    return pills


def chart_keys(app: AppTest) -> set[str]:
    return {chart.key for chart in app.get("plotly_chart")}


def head_view(app: AppTest) -> dict | None:
    """The data of the head view's page, None if the page shows none."""
    pages = [frame.proto.srcdoc for frame in app.get("iframe") if 'id="head-view-data"' in frame.proto.srcdoc]
    assert len(pages) <= 1
    return head_view_data(pages[0]) if pages else None


def view_keys(app: AppTest) -> set[str]:
    return chart_keys(app) | ({"head_view"} if head_view(app) else set())


def chart_spec(app: AppTest, key: str) -> dict:
    [chart] = [chart for chart in app.get("plotly_chart") if chart.key == key]
    return json.loads(chart.proto.spec)


def texts(elements) -> list[str]:
    return [element.value for element in elements]


# The Train page's "Try it" and "Keep it" inputs, drawn once a run is done (tests/webapp/pages/test_train.py): not
# kept, since their defaults come from the run (its probe, its task) and a new run starts them afresh.
AFTER_A_RUN = {"train_try", "train_save_name"}

# Widgets whose values are not kept across a visit to another page (app_url.kept), and why.
NOT_KEPT = {
    # The example galleries: every run sets the example shown from the sentence (app_gallery.gallery).
    *("translate_example", "decoding_example", "inside_example", "compare_example"),
    *AFTER_A_RUN,
}


def value_widget_keys(app: AppTest) -> set[str]:
    """The keys of the page's widgets that hold a value from run to run (in st.session_state): not
    its buttons (a click lasts one run) nor its charts (a click on one is handled at once, by its
    callback)."""
    return {
        node.key
        for node in app.main
        if node.key
        and node.key in app.session_state
        and not isinstance(node, Button | DownloadButton)
        and node.type != "plotly_chart"
    }


POSITIONAL, MASKS, DECODING, MODEL = (
    f"webapp/pages/{name}.py" for name in ("positional_encoding", "masks", "decoding", "model")
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
