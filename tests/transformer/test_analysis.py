import copy
import math

import pytest
import torch

from tests.helpers import random_ids, tiny_config
from transformer import Transformer, Translator, load_checkpoint
from transformer.analysis import (
    DEV_SENTENCES,
    alignment,
    argmax_links,
    attention_entropy,
    attention_rollout,
    attention_shift,
    attention_steps,
    average_statistics,
    dev_translations,
    embedding_parts,
    group_heads,
    head_gates,
    head_importance,
    heads_by_importance,
    is_punctuation_or_eos,
    mean_attention_distance,
    parameter_counts,
    positional_similarity,
    pruning_counts,
    pruning_curve,
    sequence_log_prob,
    source_relevance,
    weight_on,
)
from transformer.data import SYMBOLS, collate, encode_pairs
from transformer.evaluation import score


def test_rollout_by_hand():
    # One head per layer, two tokens.
    a1 = torch.tensor([[0.5, 0.5], [0.0, 1.0]])
    a2 = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    rollout = attention_rollout(torch.stack([a1, a2])[:, None])
    m1 = torch.tensor([[0.75, 0.25], [0.0, 1.0]])  # 0.5 A + 0.5 I, rows already sum to 1
    m2 = torch.tensor([[1.0, 0.0], [0.25, 0.75]])
    torch.testing.assert_close(rollout[0], m1)
    torch.testing.assert_close(rollout[1], m2 @ m1)
    torch.testing.assert_close(rollout[1], torch.tensor([[0.75, 0.25], [0.1875, 0.8125]]))


def test_rollout_rows_stay_distributions_and_relevance_composes():
    enc = torch.rand(3, 4, 6, 6).softmax(-1)
    rollout = attention_rollout(enc)
    torch.testing.assert_close(rollout.sum(-1), torch.ones(3, 6))
    cross = torch.rand(2, 4, 5, 6).softmax(-1)
    relevance = source_relevance(cross, enc)
    torch.testing.assert_close(relevance, cross.mean(1) @ rollout[-1])
    torch.testing.assert_close(relevance.sum(-1), torch.ones(2, 5))


def test_entropy_and_distance_by_hand():
    maps = torch.tensor([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.25, 0.25, 0.5]]])  # (1, 3, 3)
    expected_entropy = (0 + math.log(2) + (-2 * 0.25 * math.log(0.25) - 0.5 * math.log(0.5))) / 3
    assert attention_entropy(maps).item() == pytest.approx(expected_entropy, abs=1e-6)
    # Distances: row 0: 0; row 1: 0.5*1 = 0.5; row 2: 0.25*2 + 0.25*1 = 0.75.
    assert mean_attention_distance(maps).item() == pytest.approx((0 + 0.5 + 0.75) / 3)
    uniform = torch.full((4, 4), 0.25)
    assert attention_entropy(uniform).item() == pytest.approx(math.log(4), abs=1e-6)


def test_weight_on_eos_and_punctuation():
    assert [is_punctuation_or_eos(t) for t in ["</s>", ".", "▁,", "▁Hund", "▁", "?!", "<s>"]] == [
        True,
        True,
        True,
        False,
        False,
        True,
        False,
    ]
    maps = torch.tensor([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    assert weight_on(maps, ["▁a", ".", "</s>"]).item() == pytest.approx((0.9 + 0.5) / 2)


@pytest.fixture
def translator(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def random_text(n):
    return " ".join(SYMBOLS[i] for i in torch.randint(0, 36, (n,)).tolist())


def test_ablating_no_head_reproduces_the_model(translator):
    text = random_text(6)
    plain = translator.translate([text], max_len=8)[0]
    gated = translator.translate([text], max_len=8, head_gates=head_gates(translator))[0]
    assert gated.output_ids == plain.output_ids
    for kind in plain.attention:
        torch.testing.assert_close(gated.attention[kind], plain.attention[kind])
    assert sequence_log_prob(translator, plain) == pytest.approx(plain.log_prob, abs=1e-4)


@pytest.mark.parametrize("kind", ["encoder", "decoder", "cross"])
def test_ablating_a_head_equals_zeroing_its_slice_of_the_output_projection(translator, kind):
    c = translator.config
    layer, head = int(torch.randint(0, 2, ())), int(torch.randint(0, c.n_heads, ()))
    result = translator.translate([random_text(7)], max_len=6)[0]
    gated = translator.explain(result.source_ids, result.output_ids, head_gates(translator, {kind: [(layer, head)]}))
    layers = translator.model.encoder_layers if kind == "encoder" else translator.model.decoder_layers
    attention = layers[layer].cross_attn if kind == "cross" else layers[layer].self_attn
    d_k = c.d_model // c.n_heads
    with torch.no_grad():
        attention.out_proj.weight[:, head * d_k : (head + 1) * d_k] = 0
    zeroed = translator.explain(result.source_ids, result.output_ids)
    torch.testing.assert_close(torch.tensor(gated.token_probs), torch.tensor(zeroed.token_probs), atol=1e-6, rtol=0)
    assert not torch.allclose(torch.tensor(gated.token_probs), torch.tensor(result.token_probs))
    if kind == "encoder":  # layers before the ablated one are untouched, the ablated layer's own map too
        torch.testing.assert_close(gated.attention["encoder"][: layer + 1], result.attention["encoder"][: layer + 1])


def test_head_importance_is_finite_and_reproducible(translator):
    pairs = [(random_text(5), random_text(5)) for _ in range(6)]
    first = head_importance(translator, pairs, batch_size=4)
    again = head_importance(translator, pairs, batch_size=2)
    for kind in ("encoder", "decoder", "cross"):
        assert first[kind].shape == (2, translator.config.n_heads)
        assert torch.isfinite(first[kind]).all() and (first[kind] >= 0).all()
        torch.testing.assert_close(first[kind], again[kind])
        # Normalised per layer, as Michel et al. (2019) do: each layer's row has norm 1.
        torch.testing.assert_close(first[kind].norm(dim=-1), torch.ones(2))


def test_head_importance_is_the_mean_absolute_gradient_by_finite_differences(translator):
    """I_h = mean over pairs of |dL/d xi_h|, each layer's row divided by its norm: the gradients
    checked against central differences of the loss, in float64."""
    model = copy.deepcopy(translator.model).double()
    exact = Translator(model, translator.tokenizer, translator.info)
    pairs = [(random_text(4), random_text(4)) for _ in range(3)]
    c, eps = translator.config, 1e-6  # small: a ReLU input near 0 must not change sides

    def loss(src, tgt, gates):
        logits, _ = model.forward_with_attention(src, tgt[:, :-1], gates)
        nll = -logits.double().log_softmax(-1).gather(-1, tgt[:, 1:, None])
        return nll[tgt[:, 1:] != c.pad_id].mean().item()

    expected = {kind: torch.zeros_like(gates, dtype=torch.float64) for kind, gates in head_gates(exact).items()}
    for i in range(len(pairs)):
        src, tgt = collate(encode_pairs(exact.tokenizer, pairs, c.max_len), [i], c.pad_id, "cpu")
        for kind, layer, head in heads_by_importance(expected):
            moved = []
            for step in (eps, -eps):
                gates = {k: g.double() for k, g in head_gates(exact).items()}
                gates[kind][layer, head] += step
                moved.append(loss(src, tgt, gates))
            expected[kind][layer, head] += abs(moved[0] - moved[1]) / (2 * eps) / len(pairs)
    importance = head_importance(exact, pairs)
    for kind in expected:
        normalised = expected[kind] / expected[kind].norm(dim=-1, keepdim=True)
        torch.testing.assert_close(importance[kind].double(), normalised, rtol=1e-3, atol=1e-5)


def test_gates_and_importance_follow_the_models_device(translator, monkeypatch):
    # The meta device stands in for a GPU: a tensor left on the CPU fails there the same way.
    # (Boolean indexing on meta tensors needs this flag: it has no data to count.)
    monkeypatch.setattr(torch.fx.experimental._config, "meta_nonzero_assume_all_nonzero", True)
    translator.model.to("meta")
    assert {gates.device.type for gates in head_gates(translator).values()} == {"meta"}
    importance = head_importance(translator, [(random_text(3), random_text(3))])
    assert {values.device.type for values in importance.values()} == {"meta"}
    tokens, positions = embedding_parts(translator.model, [4, 5, 6])
    assert tokens.device.type == positions.device.type == "meta"


def test_statistics_shapes(translator):
    results = translator.translate([random_text(4), random_text(9), ""], max_len=5)
    stats = average_statistics(results)
    for kind in ("encoder", "decoder", "cross"):
        for name in ("entropy", "distance", "eos_punct"):
            assert stats[kind][name].shape == (2, translator.config.n_heads)


def test_dev_translations_are_the_greedy_translations_of_the_first_sources(translator):
    pairs = [(random_text(int(n)), "") for n in torch.randint(1, 8, (DEV_SENTENCES + 3,))]
    results = dev_translations(translator, pairs)
    greedy = translator.translate([source for source, _ in pairs[:DEV_SENTENCES]], beam_size=1)
    assert [(r.source_ids, r.output_ids) for r in results] == [(r.source_ids, r.output_ids) for r in greedy]
    assert len(dev_translations(translator, pairs[:3])) == 3


def test_alignment_reading_and_shift(translator):
    result = translator.translate([random_text(5)], max_len=6)[0]
    cross = result.attention["cross"][1].mean(0)
    plain, shifted = alignment(result, 1), alignment(result, 1, shifted=True)
    n = len(result.target_tokens) - 1
    assert plain.shape == shifted.shape == (n, len(result.source_tokens))
    torch.testing.assert_close(plain, cross[:n])
    torch.testing.assert_close(shifted, cross[1 : n + 1])
    links = argmax_links(plain)
    assert [i for i, _ in links] == list(range(n)) and all(0 <= j < len(result.source_tokens) for _, j in links)


@pytest.mark.parametrize("kind", ["encoder", "decoder", "cross"])
def test_attention_steps_reproduce_the_models_map(kind):
    model = Transformer(tiny_config()).eval()
    src = random_ids(1, 7, 23, pad_to=[5])
    tgt = random_ids(1, 6, 29)
    layer, head = int(torch.randint(0, 2, ())), int(torch.randint(0, 4, ()))
    steps = attention_steps(model, src, tgt, kind, layer, head)
    _, attention = model.forward_with_attention(src, tgt)
    torch.testing.assert_close(steps["weights"], attention[kind][0, layer, head], atol=1e-6, rtol=0)
    torch.testing.assert_close(steps["scaled"], steps["scores"] / 8**0.5)
    assert (steps["masked"][~steps["mask"]] == float("-inf")).all()
    if kind != "decoder":
        assert not steps["mask"][:, 5:].any()  # the padded source keys
    else:
        assert torch.equal(steps["mask"], torch.ones(6, 6, dtype=torch.bool).tril())


def test_embedding_parts_sum_to_the_encoder_input():
    model = Transformer(tiny_config(dropout=0.0)).eval()
    ids = random_ids(1, 6, 23)[0].tolist()
    tokens, positions = embedding_parts(model, ids)
    torch.testing.assert_close(tokens + positions, model.positional(model.src_embed(torch.tensor([ids])))[0])
    similarity = positional_similarity(30, 16)
    torch.testing.assert_close(similarity, similarity.T)
    # Depends on the distance only: the same for (2, 5) and (10, 13).
    assert similarity[2, 5].item() == pytest.approx(similarity[10, 13].item(), abs=1e-4)
    assert similarity[4, 4].item() == pytest.approx(8.0, abs=1e-4)  # d_model / 2: sin^2 + cos^2 per pair


def test_parameter_counts_add_up():
    for tie in (False, True):
        model = Transformer(tiny_config(tgt_vocab_size=23, tie_embeddings=tie))
        counts = parameter_counts(model)
        assert sum(counts.values()) == sum(p.numel() for p in model.parameters())
        assert counts["encoder self-attention"] == 2 * 4 * (32 * 32 + 32)
        assert ("output projection" in counts) is not tie


def test_pruning_curve_starts_at_the_unpruned_score(translator):
    pairs = [(random_text(4), random_text(4)) for _ in range(5)]
    importance = head_importance(translator, pairs)
    order = heads_by_importance(importance)
    assert len(order) == 3 * 2 * translator.config.n_heads
    values = [importance[k][layer, head].item() for k, layer, head in order]
    assert values == sorted(values)
    curve = pruning_curve(translator, pairs, importance, [0, 3, 24])
    plain = translator.translate([s for s, _ in pairs], beam_size=1)
    assert curve[0]["bleu"] == score([r.text for r in plain], [t for _, t in pairs])["bleu"]
    assert [len(point["heads"]) for point in curve] == [0, 3, 24]
    assert curve[1]["heads"] == order[:3]


def test_attention_shift_is_the_total_variation_per_query_averaged():
    original = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]])  # (1 layer, 1 head, 2 queries, 2 keys)
    moved = torch.tensor([[[[0.0, 1.0], [0.5, 0.5]]]])  # query 0 moved entirely, query 1 not at all
    torch.testing.assert_close(
        attention_shift({"encoder": original}, {"encoder": moved})["encoder"], torch.tensor([[0.5]])
    )
    torch.testing.assert_close(
        attention_shift({"cross": original}, {"cross": original})["cross"], torch.tensor([[0.0]])
    )


def test_heads_are_grouped_by_kind_and_pruning_counts_run_from_none_to_all():
    assert group_heads([("cross", 0, 1), ("encoder", 1, 3), ("cross", 1, 0)]) == {
        "cross": [(0, 1), (1, 0)],
        "encoder": [(1, 3)],
    }
    assert pruning_counts(24) == [0, 3, 6, 9, 12, 15, 18, 21, 24]
    assert pruning_counts(4) == [0, 1, 2, 3, 4]
