"""webapp/state/defaults.py: the layer and head the Translate page opens on."""

from tests.webapp.apptest import TOY, TOY_SHARPEST_HEAD, TOY_SHARPEST_LAYER
from transformer import load_checkpoint
from transformer.analysis import average_statistics
from transformer.checkpoint import load_dev_sample
from webapp.state import checkpoints as app_checkpoints
from webapp.state import defaults as app_defaults


def test_the_sharpest_cross_attention_is_measured_on_the_dev_sample():
    translator = load_checkpoint(TOY)
    sharpest = app_defaults.sharpest_cross_attention(app_checkpoints.Checkpoint("toy-reverse", TOY, "test", translator))
    assert sharpest == (TOY_SHARPEST_LAYER, TOY_SHARPEST_HEAD)
    results = translator.translate([source for source, _ in load_dev_sample(TOY)[:20]], beam_size=1)
    entropy = average_statistics(results)["cross"]["entropy"]  # (layers, heads)
    assert (
        entropy.mean(dim=1).argmin() == TOY_SHARPEST_LAYER and entropy[TOY_SHARPEST_LAYER].argmin() == TOY_SHARPEST_HEAD
    )
