"""transformer.inside: the intermediates of one layer are the model's own computation. Each check
compares the trace with what the model itself computes in its ordinary forward pass (read with
forward hooks, which the library never uses) or returns from translate(), for post-norm and
pre-norm models whose every parameter is random (no zero bias or unit LayerNorm gain can hide a
missing term), in float32, with padded sources."""

import math
from contextlib import contextmanager

import pytest
import torch
from torch import nn

from tests.helpers import random_ids, tiny_config
from transformer import Transformer, Translator
from transformer.config import ATTENTION_KINDS
from transformer.inside import inside_layer

ATOL = 1e-5


def close(actual, expected):
    torch.testing.assert_close(actual, expected, atol=ATOL, rtol=0)


def random_model(pre_norm: bool, **overrides) -> Transformer:
    model = Transformer(tiny_config(pre_norm=pre_norm, **overrides)).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return model


def stack(model: Transformer, kind: str) -> nn.ModuleList:
    return model.encoder_layers if kind == "encoder" else model.decoder_layers


def attention_module(model: Transformer, kind: str, layer: int) -> nn.Module:
    block = stack(model, kind)[layer]
    return block.cross_attn if kind == "cross" else block.self_attn


@contextmanager
def recorded(modules: dict[str, nn.Module]):
    """{name: (first positional input, output)} of each module's last call while inside."""
    calls = {}

    def hook(name):
        return lambda module, args, output: calls.__setitem__(name, (args[0], output))

    handles = [module.register_forward_hook(hook(name)) for name, module in modules.items()]
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def padded_batch():
    """Two sentences; the first, the one traced, is padded (source and target)."""
    src = random_ids(2, 7, 23, pad_to=[5, 7])
    tgt = random_ids(2, 6, 29, pad_to=[4, 6])
    tgt[:, 0] = 1  # BOS
    return src, tgt


@pytest.mark.parametrize("pre_norm", [False, True])
@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_every_intermediate_is_what_the_model_computes(kind, pre_norm):
    model = random_model(pre_norm)
    src, tgt = padded_batch()
    layer = int(torch.randint(0, 2, ()))
    block = stack(model, kind)[layer]
    attention = attention_module(model, kind, layer)
    modules = {
        "layer": block,
        "out_proj": attention.out_proj,
        "w1": block.feed_forward.w1,
        "feed_forward": block.feed_forward,
    }
    with recorded(modules) as calls, torch.no_grad():
        _, maps = model.forward_with_attention(src, tgt)
    trace = inside_layer(model, src, tgt, kind, layer)

    close(trace.input, calls["layer"][0][0])
    close(trace.output, calls["layer"][1][0][0])
    close(trace.attention.weights, maps[kind][0, layer])
    # The heads side by side are what W^O reads; times W^O plus b^O, the sub-layer's output.
    concat = torch.cat(list(trace.attention.heads), dim=-1)  # (T_q, H d_k)
    close(concat, calls["out_proj"][0][0])
    close(concat @ attention.out_proj.weight.T + attention.out_proj.bias, calls["out_proj"][1][0])
    close(trace.attention.output, calls["out_proj"][1][0])
    # The feed-forward network: ReLU of the first linear map, then its output.
    close(trace.feed_forward.hidden, calls["w1"][1][0].relu())
    close(trace.feed_forward.output, calls["feed_forward"][1][0])
    assert trace.feed_forward.zero_share == pytest.approx((calls["w1"][1][0] <= 0).float().mean().item())
    # The residual, then LayerNorm after the sub-layer (post-norm) or before it (pre-norm).
    residual = {"encoder": "attn_residual", "decoder": "self_residual", "cross": "cross_residual"}[kind]
    for sublayer, norm in (
        (trace.attention, getattr(block, residual).norm),
        (trace.feed_forward, block.ff_residual.norm),
    ):
        close(sublayer.residual_sum, sublayer.x + sublayer.output)
        close(sublayer.input, norm(sublayer.x) if pre_norm else sublayer.x)
        close(sublayer.result, sublayer.residual_sum if pre_norm else norm(sublayer.residual_sum))
    assert trace.pre_norm is pre_norm and trace.kind == kind and trace.layer == layer
    if kind == "encoder":
        assert trace.memory is None
        close(trace.attention.key_input, trace.attention.input)
    else:
        memory, _, _ = model.encode(src[:1])
        close(trace.memory, memory[0])
        close(trace.attention.key_input, memory[0] if kind == "cross" else trace.attention.input)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_each_layers_output_is_the_next_layers_input_and_the_last_the_stacks_output(pre_norm):
    model = random_model(pre_norm)
    src, tgt = padded_batch()
    for kind in ATTENTION_KINDS:
        traces = [inside_layer(model, src, tgt, kind, layer) for layer in range(2)]
        close(traces[0].output, traces[1].input)
        if kind == "decoder":  # the same decoder layers, traced at another sub-layer
            for traced, other in zip(traces, [inside_layer(model, src, tgt, "cross", layer) for layer in range(2)]):
                close(traced.output, other.output)
    with recorded({"generator": model.generator}) as calls, torch.no_grad():
        memory, _, _ = model.encode(src)
        logits = model(src, tgt)
    close(model.encoder_norm(traces_of(model, src, tgt, "encoder")[-1].output), memory[0])
    last = traces_of(model, src, tgt, "cross")[-1]
    close(model.decoder_norm(last.output), calls["generator"][0][0])  # the decoder's final hidden state
    close(model.generator(model.decoder_norm(last.output)), logits[0])


def traces_of(model, src, tgt, kind):
    return [inside_layer(model, src, tgt, kind, layer) for layer in range(len(stack(model, kind)))]


@pytest.mark.parametrize("pre_norm", [False, True])
def test_the_weights_are_translates_maps(pre_norm, word_tokenizer):
    vocab = word_tokenizer.vocab_size
    model = random_model(pre_norm, src_vocab_size=vocab, tgt_vocab_size=vocab)
    [result] = Translator(model, word_tokenizer).translate(["a b c d e f"], beam_size=1)
    src = torch.tensor([result.source_ids])
    tgt = torch.tensor([[model.config.bos_id, *result.output_ids[:-1]]])
    for kind in ATTENTION_KINDS:
        for layer in range(2):
            close(inside_layer(model, src, tgt, kind, layer).attention.weights, result.attention[kind][layer])


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_the_neuron_view_sums_products_into_scores_and_softmaxes_them_into_the_weights(kind):
    model = random_model(pre_norm=bool(torch.randint(0, 2, ())))
    src, tgt = padded_batch()
    trace = inside_layer(model, src, tgt, kind, 1)
    _, maps = model.forward_with_attention(src, tgt)
    d_k = model.config.d_model // model.config.n_heads
    for head in range(model.config.n_heads):
        for query in range(trace.attention.queries.size(1)):
            neuron = trace.attention.neuron(head, query)
            close(neuron.products, neuron.query * neuron.keys)
            close(neuron.products.sum(dim=-1), neuron.scores)
            close(neuron.scores, trace.attention.queries[head, query] @ trace.attention.keys[head].T)
            close(neuron.scaled, neuron.scores / math.sqrt(d_k))
            weights = neuron.scaled.masked_fill(~neuron.allowed, float("-inf")).softmax(dim=-1)
            close(neuron.weights, weights)
            close(neuron.weights, maps[kind][0, 1, head, query].detach())
            # The head's output for the query: a mixture of the values, weighted by attention.
            close(neuron.weighted_values.sum(dim=0), neuron.output)
    if kind != "decoder":
        assert not trace.attention.mask[..., 5:].any()  # the traced sentence's padded source keys
    assert (trace.attention.weights[~trace.attention.mask] == 0).all()


def test_steps_are_one_heads_slice_of_the_trace():
    model = random_model(pre_norm=False)
    src, tgt = padded_batch()
    trace = inside_layer(model, src, tgt, "cross", 0)
    steps = trace.attention.steps(3)
    assert list(steps) == ["queries", "keys", "scores", "scaled", "mask", "masked", "weights"]
    assert steps["queries"].shape == (6, 8) and steps["keys"].shape == (7, 8) and steps["weights"].shape == (6, 7)
    assert torch.equal(steps["weights"], trace.attention.weights[3])


def test_a_bad_kind_or_layer_is_refused():
    model = random_model(pre_norm=False)
    src, tgt = padded_batch()
    with pytest.raises(ValueError, match="kind must be one of"):
        inside_layer(model, src, tgt, "sideways", 0)
    with pytest.raises(IndexError):
        inside_layer(model, src, tgt, "encoder", 2)
