"""figures/masks.py: the padded ids, the masks as heatmaps and the attention of every step of Eq. 1 with
its mask."""

import numpy as np
import pytest
import torch

from figures.masks import attention_step_figures, mask_heatmap, padded_ids
from tests.helpers import tiny_config
from transformer import Transformer
from transformer.analysis import attention_steps
from transformer.masks import padding_mask

SOURCE = ["▁the", "▁cat", "</s>", "<pad>"]


TARGET = ["<s>", "▁die", "▁Katze"]


# -- masks and attention step by step ---------------------------------------------------------
def test_padded_ids_grey_out_the_padding():
    ids = np.array([[5, 6, 2], [7, 2, 0]])
    figure = padded_ids(ids, [["a", "b", "</s>"], ["c", "</s>", "<pad>"]], pad_id=0, title="ids")
    heatmap = figure.data[0]
    np.testing.assert_array_equal(np.asarray(heatmap.z), [[1, 1, 1], [1, 1, 0]])
    assert heatmap.text[1][2] == "0<br>&lt;pad&gt;"
    assert list(heatmap.y) == ["sentence 1", "sentence 2"]
    with pytest.raises(ValueError, match="do not match"):
        padded_ids(ids, [["a"]], pad_id=0)


def test_a_padding_row_broadcasts_over_the_queries():
    src = torch.tensor([[5, 6, 2, 0]])
    figure = mask_heatmap(padding_mask(src, 0)[0, 0], TARGET, SOURCE, "padding")
    np.testing.assert_array_equal(np.asarray(figure.data[0].z), [[1, 1, 1, 0]] * 3)
    assert "may attend" in figure.data[0].hovertemplate


def test_mask_key_labels_stand_upright_and_are_thinned_where_they_would_collide():
    figure = mask_heatmap(np.ones((3, 4), dtype=bool), TARGET, SOURCE)
    assert figure.layout.xaxis.tickangle == -90 and len(figure.layout.xaxis.ticktext) == 4  # short: all
    tokens = [f"▁word{i}" for i in range(40)]
    axis = mask_heatmap(np.ones((40, 40), dtype=bool), tokens, tokens).layout.xaxis
    assert 0 < len(axis.tickvals) < 40 and axis.tickvals[0] == 0
    assert len(axis.tickvals) * 12 * 1.25 <= 280 + 12 * 1.25  # 12 px labels fit the column's axis
    assert [axis.ticktext[i] for i in range(2)] == [tokens[axis.tickvals[0]], tokens[axis.tickvals[1]]]


def test_attention_steps_figures_show_every_step_of_the_models_own_math():
    model = Transformer(tiny_config()).eval()
    src, tgt = torch.tensor([[5, 6, 7, 2, 0, 0]]), torch.tensor([[1, 8, 9, 10]])
    steps = attention_steps(model, src, tgt, "cross", 1, 2)
    figures = attention_step_figures(steps, TARGET + ["▁ist"], ["a", "b", "c", "</s>", "<pad>", "<pad>"])
    assert list(figures) == ["scores", "scaled", "masked", "weights"]
    np.testing.assert_allclose(np.asarray(figures["scores"].data[0].z), steps["scores"].numpy())
    assert "√8 = 2.83" in figures["scaled"].layout.title.text  # d_k = d_model / heads = 32 / 4
    ranges = {name: (figures[name].data[0].zmin, figures[name].data[0].zmax) for name in ("scores", "scaled", "masked")}
    assert len(set(ranges.values())) == 1  # one colour range: the scaling is seen to shrink the scores
    masked, overlay = figures["masked"].data
    assert np.isnan(np.asarray(masked.z, dtype=float)[:, 4:]).all()  # the padded keys
    overlay_z = np.asarray(overlay.z, dtype=float)
    assert (overlay_z[:, 4:] == 0).all() and np.isnan(overlay_z[:, :4]).all()  # grey "−∞" cells on top
    assert overlay.text[0][5] == "−∞" and overlay.text[0][0] == ""
    # The last map is the weights the model itself computes for that layer and head.
    with torch.no_grad():
        _, attention = model.forward_with_attention(src, tgt)
    np.testing.assert_allclose(np.asarray(figures["weights"].data[0].z), attention["cross"][0, 1, 2].numpy(), atol=1e-6)
