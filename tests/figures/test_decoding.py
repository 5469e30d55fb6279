"""figures/decoding.py: the next-token bars, the sampling bars, the attention of one decoding step, the
beam tree and the finished hypotheses, the last three on the shipped toy's own beam search."""

import numpy as np
import pytest
import torch

from figures.decoding import beam_tree, finished_hypotheses, next_token_bars, sampling_bars, step_attention
from tests.helpers import ROOT
from transformer import load_checkpoint
from transformer.decoding import best_path

SOURCE = ["▁the", "▁cat", "</s>", "<pad>"]


@pytest.fixture(scope="module")
def toy():
    return load_checkpoint(ROOT / "checkpoints" / "toy-reverse")


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
