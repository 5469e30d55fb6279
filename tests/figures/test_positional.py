"""The teaching pages' figure builders, without Streamlit or a browser: positional encoding,
masks and attention step by step, decoding step by step and the beam tree, the model card."""

import math

import numpy as np
import pytest
import torch

from figures.positional import (
    embedding_parts_figure,
    positional_curves,
    positional_heatmap,
    similarity_by_distance,
    similarity_heatmap,
    wavelength,
)
from transformer.analysis import positional_similarity
from transformer.embeddings import sinusoidal_table


# -- positional encoding ----------------------------------------------------------------------
def test_positional_curves_pair_sine_and_cosine_of_one_frequency():
    table = sinusoidal_table(50, 16)
    figure = positional_curves(table, [5, 0, 4, 1])
    assert [trace.name.split(" (")[0] for trace in figure.data] == ["dim 0", "dim 1", "dim 4", "dim 5"]
    np.testing.assert_allclose(figure.data[2].y, table[:, 4].numpy())
    assert [trace.line.dash for trace in figure.data] == ["solid", "dash", "solid", "dash"]
    colors = [trace.line.color for trace in figure.data]
    assert colors[0] == colors[1] and colors[2] == colors[3] and colors[0] != colors[2]  # one colour per frequency
    assert "period 6.3" in figure.data[0].name  # 2π at i = 0
    assert wavelength(5, 16) == pytest.approx(2 * math.pi * 10000 ** (4 / 16))


def test_positional_heatmap_is_the_table():
    table = sinusoidal_table(12, 8)
    heatmap = positional_heatmap(table).data[0]
    np.testing.assert_allclose(np.asarray(heatmap.z), table.numpy())
    assert (heatmap.zmin, heatmap.zmax) == (-1, 1)


def test_similarity_depends_on_the_distance_only():
    similarity = positional_similarity(40, 32)
    np.testing.assert_allclose(np.asarray(similarity_heatmap(similarity).data[0].z), similarity.numpy())
    figure = similarity_by_distance(similarity, [0, 15])
    curves = [dict(zip(trace.x.tolist(), trace.y.tolist())) for trace in figure.data]
    assert list(figure.data[1].x[:3]) == [-15, -14, -13]  # offsets from the reference position
    shared = set(curves[0]) & set(curves[1])
    assert len(shared) == 25
    for offset in shared:  # the two curves coincide where both exist
        assert curves[0][offset] == pytest.approx(curves[1][offset], abs=1e-3)


def test_embedding_parts_sit_side_by_side_on_one_scale():
    embeddings, positional = torch.randn(3, 8) * 3, sinusoidal_table(3, 8)
    figure = embedding_parts_figure(embeddings, positional, ["a", "<unk>", "</s>"])
    assert len(figure.data) == 3 and {trace.coloraxis for trace in figure.data} == {"coloraxis"}
    np.testing.assert_allclose(np.asarray(figure.data[2].z), (embeddings + positional).numpy(), rtol=1e-6)
    limit = float((embeddings + positional).abs().max().clamp_min(embeddings.abs().max()))
    assert (
        figure.layout.coloraxis.cmax == pytest.approx(limit)
        and figure.layout.coloraxis.cmin == -figure.layout.coloraxis.cmax
    )
    assert list(figure.layout.yaxis.ticktext) == ["a", "&lt;unk&gt;", "&lt;/s&gt;"]
    with pytest.raises(ValueError, match="do not match"):
        embedding_parts_figure(embeddings, positional, ["a"])
