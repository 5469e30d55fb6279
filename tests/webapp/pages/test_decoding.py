"""The Decoding page (webapp/pages/decoding.py) through streamlit.testing: step by step, with a beam,
a forced prefix, its buttons and its link."""

import pytest

from tests.webapp.apptest import DECODING, chart_spec, open_page, spec_array, texts

pytestmark = pytest.mark.usefixtures("checkpoints")


def test_decoding_steps_through_the_translation():
    app = open_page(DECODING)
    assert texts(app.code)[0] == "h g f e d c b a"
    slider = app.slider(key="step")
    assert (slider.min, slider.max, slider.value) == (1, 9, 1)
    slider.set_value(3).run()
    assert texts(app.code)[1] == "<s> h g"  # the decoder's input at step 3
    assert chart_spec(app, "next_tokens")["layout"]["title"]["text"].startswith("Next token: f")
    attention = spec_array(chart_spec(app, "step_attention")["data"][0]["z"]).reshape(8, 9)  # 2 layers x 4 heads
    assert attention.argmax(axis=1).tolist().count(5) >= 4  # step 3 writes "f", source position 5
    # The shift, once, with the real tokens; the step's figure names its row by both.
    assert any("reads **g**" in caption and "writes **f**" in caption for caption in texts(app.caption))
    assert "the row that writes f · reads g" in chart_spec(app, "step_attention")["layout"]["title"]["text"]
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


def test_decoding_with_a_beam_lists_the_finished_hypotheses():
    app = open_page(DECODING, {"text": "a b c"}, beam_size=3)
    [table] = app.dataframe
    assert table.value["chosen"].tolist()[0] and table.value["hypothesis"][0] == "c b a </s>"
