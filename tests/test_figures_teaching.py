"""The teaching pages' figure builders, without Streamlit or a browser: positional encoding,
masks and attention step by step, decoding step by step and the beam tree, the model card."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import ROOT, tiny_config
from figures import (
    architecture_diagram,
    attention_step_figures,
    beam_tree,
    embedding_parts_figure,
    finished_hypotheses,
    mask_heatmap,
    next_token_bars,
    padded_ids,
    parameter_bars,
    positional_curves,
    positional_heatmap,
    sampling_bars,
    similarity_by_distance,
    similarity_heatmap,
    step_attention,
    training_curves,
)
from figures.positional import wavelength
from transformer import Transformer, load_checkpoint
from transformer.analysis import attention_steps, parameter_counts, positional_similarity
from transformer.decoding import best_path
from transformer.embeddings import sinusoidal_table
from transformer.masks import padding_mask

SOURCE = ["▁the", "▁cat", "</s>", "<pad>"]
TARGET = ["<s>", "▁die", "▁Katze"]


@pytest.fixture(scope="module")
def toy():
    return load_checkpoint(ROOT / "checkpoints" / "toy-reverse")


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


# -- decoding step by step --------------------------------------------------------------------
def test_next_token_bars_mark_the_chosen_token():
    alternatives = [("▁Hund", 0.6), ("▁Katze", 0.3), ("</s>", 0.05)]
    bars = next_token_bars(alternatives, "▁Katze", 0.3).data[0]
    assert list(bars.x) == [0.6, 0.3, 0.05]
    assert bars.marker.color[1] != bars.marker.color[0] == bars.marker.color[2]
    forced = next_token_bars(alternatives, "▁Maus", 0.001, forced=True)
    assert list(forced.data[0].customdata) == ["▁Hund", "▁Katze", "&lt;/s&gt;", "▁Maus"]  # added below the others
    assert "forced" in forced.layout.title.text
    assert forced.layout.xaxis.range == (0, 1) and forced.layout.xaxis.tickvals[-1] == 1  # the axis reaches 100 %


def test_sampling_bars_put_the_reshaped_distribution_beside_the_models():
    rows = [("▁Hund", 0.6, 0.8), ("▁Katze", 0.3, 0.2), ("</s>", 0.05, 0.0)]
    figure = sampling_bars(rows, "▁Katze", "temperature 0.5")
    model, sampled = figure.data
    assert list(model.x) == [0.6, 0.3, 0.05] and list(sampled.x) == [0.8, 0.2, 0.0]
    assert "temperature 1" in model.name and "temperature 0.5" in sampled.name
    assert sampled.marker.color[1] != sampled.marker.color[0] == sampled.marker.color[2]  # the drawn token
    assert figure.layout.barmode == "group" and "▁Katze" in figure.layout.title.text
    assert list(figure.layout.yaxis.ticktext) == ["▁Hund", "▁Katze", "&lt;/s&gt;"]
    rare = sampling_bars([("▁Hund", 0.9, 0.9), ("▁Maus", 1e-5, 2e-4)], "▁Maus", "temperature 2").data[1]
    assert list(rare.text) == ["90.0%", "<0.1%"]  # drawn, so not 0


def test_step_attention_has_a_row_per_layer_and_head():
    weights = torch.rand(2, 3, len(SOURCE)).softmax(-1).numpy()
    figure = step_attention(weights, SOURCE, title="step 1")
    np.testing.assert_allclose(np.asarray(figure.data[0].z), weights.reshape(6, len(SOURCE)))
    assert list(figure.layout.yaxis.ticktext) == ["L1 H1", "L1 H2", "L1 H3", "L2 H1", "L2 H2", "L2 H3"]
    assert len(figure.layout.shapes) == 1  # the line between the layers
    with pytest.raises(ValueError, match="do not match"):
        step_attention(weights, SOURCE[:2])


def chosen_tokens(figure) -> list[str]:
    """The token names of the nodes the red path goes through, root excluded."""
    names = {
        (x, y): text
        for trace in figure.data
        if trace.mode == "markers+text"
        for x, y, text in zip(trace.x, trace.y, trace.text)
    }
    path = figure.data[-1]
    return [names[x, y] for x, y in zip(path.x[1:], path.y[1:])]


@pytest.mark.parametrize("prefix", [None, "z y"])
def test_beam_trees_chosen_path_is_the_beam_search_output(toy, prefix):
    trace = []
    [result] = toy.translate(["a b c d e f"], beam_size=3, prefix=prefix, trace=trace)
    labels = [toy.tokenizer.tokens([node.token for node in nodes]) for nodes in trace]
    figure = beam_tree(trace, labels, best_path(trace), root="start", current_step=2)
    forced = 2 if prefix else 0
    assert chosen_tokens(figure) == [t.replace("<", "&lt;").replace(">", "&gt;") for t in result.output_tokens[forced:]]
    assert figure.data[-1].x[0] == forced - 1  # the path starts at the root, right before the free steps
    statuses = {trace.name for trace in figure.data if trace.mode == "markers+text"}
    assert statuses == {"kept in the beam", "finished (ends in EOS)", "pruned"}
    drawn = sum(len(trace.x) for trace in figure.data if trace.mode == "markers+text")
    assert drawn == sum(len(nodes) for nodes in trace)  # every hypothesis, kept or pruned
    assert figure.layout.shapes[0].x0 == 1.5  # the current step is shaded
    with pytest.raises(ValueError, match="labels"):
        beam_tree(trace, labels[:-1], best_path(trace), root="start")


def test_beam_tree_names_only_kept_and_chosen_nodes_with_their_scores(toy):
    trace = []
    toy.translate(["a b c d e f"], beam_size=3, trace=trace)
    labels = [toy.tokenizer.tokens([node.token for node in nodes]) for nodes in trace]
    chosen = best_path(trace)
    figure = beam_tree(trace, labels, chosen, root="start")
    nodes = {trace.name: trace for trace in figure.data if trace.mode == "markers+text"}
    assert all(template == "%{text}<br>%{customdata[0]:.2f}" for template in nodes["kept in the beam"].texttemplate)
    assert set(nodes["pruned"].texttemplate) == {""}
    finished = nodes["finished (ends in EOS)"]
    named = [x for x, template in zip(finished.x, finished.texttemplate) if template]
    assert named == [chosen[-1].step]  # of the finished, only the translation's last node


def test_finished_hypotheses_list_every_finished_one_best_first(toy):
    trace = []
    [result] = toy.translate(["a b c d"], beam_size=3, trace=trace)
    labels = [toy.tokenizer.tokens([node.token for node in nodes]) for nodes in trace]
    table = finished_hypotheses(trace, labels, best_path(trace))
    finished = [node for nodes in trace for node in nodes if node.status == "finished"]
    assert len(table) == len(finished) >= 1
    assert list(table["length-normalised"]) == sorted(table["length-normalised"], reverse=True)
    assert table["chosen"].tolist() == [True] + [False] * (len(table) - 1)
    assert table["hypothesis"][0] == " ".join(result.output_tokens)
    assert table["tokens"][0] == len(result.output_tokens)
    assert sorted(table["log-probability"]) == sorted(node.score for node in finished)


# -- the model card ---------------------------------------------------------------------------
def diagram_text(figure) -> str:
    return " ".join(annotation.text for annotation in figure.layout.annotations)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_architecture_is_drawn_from_the_config(pre_norm):
    config = tiny_config(n_encoder_layers=3, pre_norm=pre_norm, tie_embeddings=False)
    text = diagram_text(architecture_diagram(config))
    assert "Encoder<br>× 3" in text and "Decoder<br>× 2" in text
    assert "4 heads, d_k = d_v = 8" in text and "32 → 48 → 32" in text
    assert "Linear 32 → 29" in text and "23 × 32" in text and "up to 40 positions" in text
    assert ("Final LayerNorm" in text) == pre_norm and ("Add & LayerNorm" in text) != pre_norm
    assert "tied" not in text
    figure = architecture_diagram(config)
    residuals = [a for a in figure.layout.annotations if a.showarrow and a.arrowwidth == 1.5]
    adds = [a for a in figure.layout.annotations if a.text.startswith("Add")]
    assert len(residuals) == len(adds) == 2 + 3  # one into every Add: 2 sub-layers per encoder layer, 3 per decoder
    for arrow in residuals:  # each ends at the side of its Add box, at its height
        add = min(adds, key=lambda a: abs(a.y - arrow.y) + abs(a.x - arrow.x))
        assert arrow.y == add.y and abs(arrow.x - add.x) == pytest.approx(2.2)
    assert "residual connection" in text
    tied = tiny_config(tgt_vocab_size=23, tie_embeddings=True)
    assert "share one 23 × 32 matrix" in diagram_text(architecture_diagram(tied))


def test_parameter_bars_add_up_to_the_models_parameters():
    model = Transformer(tiny_config())
    counts = parameter_counts(model)
    figure = parameter_bars(counts)
    assert list(figure.data[0].y) == list(counts) and list(figure.data[0].x) == list(counts.values())
    assert f"{sum(p.numel() for p in model.parameters()):,} parameters" == figure.layout.title.text


def test_training_curves_show_loss_warm_up_and_dev_bleu():
    log = pd.DataFrame(
        {
            "step": [100, 200, 300, 400],
            "train_loss": [5.0, 4.0, 3.5, 3.2],
            "lr": [1e-4, 2e-4, 1.6e-4, 1.4e-4],
            "dev_loss": [None, 3.9, None, 3.1],
            "dev_bleu": [None, 10.0, None, 20.0],
        }
    )
    figure = training_curves(log)
    by_name = {trace.name: trace for trace in figure.data}
    assert set(by_name) == {"training loss (label-smoothed)", "dev loss", "learning rate", "dev BLEU"}
    assert list(by_name["dev BLEU"].x) == [200, 400] and list(by_name["dev BLEU"].y) == [10.0, 20.0]
    assert "warm-up ends near step 200" in diagram_text(figure)
    with pytest.raises(ValueError, match="no lr column"):
        training_curves(log.drop(columns="lr"))
