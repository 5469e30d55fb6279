"""speed_up: the paper modules build plain layers; one call swaps in the faster ones, changing nothing else."""

import ast

import pytest
import torch
from torch import nn

from tests.helpers import ROOT, random_ids, tiny_config
from transformer import Transformer, load_checkpoint, speed_up
from transformer.decoding import greedy_decode
from transformer.dropout import SixteenBitDropout
from transformer.linear import OneRowLinear
from transformer.precision import for_inference
from transformer.speed import plain_layers

PACKAGE = ROOT / "transformer"


PAPER_MODULES = ["attention.py", "layers.py", "model.py", "embeddings.py"]


def kinds(model: nn.Module) -> dict[str, type]:
    return {name: type(module) for name, module in model.named_modules()}


def test_the_paper_modules_build_plain_linear_and_dropout_layers():
    model = Transformer(tiny_config())
    built = set(kinds(model).values())
    assert {nn.Linear, nn.Dropout} <= built
    assert not {OneRowLinear, SixteenBitDropout} & built


@pytest.mark.parametrize("module", PAPER_MODULES)
def test_the_paper_modules_import_no_custom_linear_or_dropout(module):
    tree = ast.parse((PACKAGE / module).read_text())
    imported = {
        (node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert imported, "no imports found: the parse is looking at the wrong file"
    assert not {source for source, _ in imported} & {"linear", "dropout", "speed"}
    assert not {name for _, name in imported} & {"OneRowLinear", "SixteenBitDropout", "speed_up"}


def test_every_linear_and_dropout_is_swapped_and_nothing_else():
    model = Transformer(tiny_config())
    before = kinds(model)
    after = kinds(speed_up(model))
    assert after.keys() == before.keys()  # the same names: the state dict's keys cannot change
    faster = {nn.Linear: OneRowLinear, nn.Dropout: SixteenBitDropout}
    assert after == {name: faster.get(kind, kind) for name, kind in before.items()}


def test_the_parameters_themselves_are_kept_so_ties_state_dicts_and_optimizers_hold():
    model = Transformer(tiny_config(tgt_vocab_size=23, tie_embeddings=True))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)  # built before, as a trainer might
    parameters = dict(model.named_parameters())
    state = model.state_dict()
    speed_up(model)
    assert dict(model.named_parameters()).keys() == parameters.keys()
    assert all(p is parameters[name] for name, p in model.named_parameters())
    assert model.state_dict().keys() == state.keys()
    assert all(t.data_ptr() == state[name].data_ptr() for name, t in model.state_dict().items())
    assert model.generator.weight is model.src_embed.table.weight  # the tie holds
    before = model.generator.weight.detach().clone()
    src, tgt = random_ids(2, 5, 23, pad_to=[5, 3]), random_ids(2, 4, 23)
    loss, _, count = model.train()(src, tgt, targets=random_ids(2, 4, 23), smoothing=0.1)
    (loss / count).backward()
    optimizer.step()  # the optimizer's parameters are the model's: the step moves the model
    assert not torch.equal(model.generator.weight, before)


def test_the_settings_of_each_layer_are_kept():
    model = Transformer(tiny_config(dropout=0.2, attention_dropout=0.05)).train()
    model.encoder_layers[0].eval()  # a mixed model: each layer keeps its own mode
    plain = [(m.p, m.training) for m in model.modules() if isinstance(m, nn.Dropout)]
    linears = [(m.in_features, m.out_features, m.bias is None) for m in model.modules() if isinstance(m, nn.Linear)]
    speed_up(model)
    assert [(m.p, m.training) for m in model.modules() if isinstance(m, SixteenBitDropout)] == plain
    assert {p for p, _ in plain} == {0.2, 0.05} and {t for _, t in plain} == {True, False}
    assert [
        (m.in_features, m.out_features, m.bias is None) for m in model.modules() if isinstance(m, OneRowLinear)
    ] == (linears)


def test_a_second_call_changes_nothing():
    model = speed_up(Transformer(tiny_config()))
    modules = dict(model.named_modules())
    assert speed_up(model) is model
    assert all(module is modules[name] for name, module in model.named_modules())


@pytest.mark.parametrize("tie", [True, False])
def test_the_model_computes_what_it_computed(tie):
    model = Transformer(tiny_config(tgt_vocab_size=23, tie_embeddings=tie)).eval()
    c = model.config
    src, tgt = random_ids(3, 7, c.src_vocab_size, pad_to=[7, 3, 5]), random_ids(3, 6, c.tgt_vocab_size)
    one = src[:1, :4]  # one sentence: every decoding step is a one-row product
    with torch.inference_mode():
        expected = model(src, tgt), model.decode(tgt[:1, :1], model.start_decoding(*model.encode(one)[:2])).logits
        expected_tokens = greedy_decode(model, one, 8)
    speed_up(model)
    with torch.inference_mode():
        got = model(src, tgt), model.decode(tgt[:1, :1], model.start_decoding(*model.encode(one)[:2])).logits
        got_tokens = greedy_decode(model, one, 8)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)
    assert got_tokens == expected_tokens


def test_plain_layers_undoes_it():
    model = Transformer(tiny_config())
    before = kinds(model)
    parameters = list(model.parameters())
    assert kinds(plain_layers(speed_up(model))) == before
    assert all(p is q for p, q in zip(model.parameters(), parameters, strict=True))


def test_a_checkpoint_loaded_in_fp32_is_sped_up(tiny_checkpoint):
    built = set(kinds(load_checkpoint(tiny_checkpoint).model).values())
    assert {OneRowLinear, SixteenBitDropout} <= built
    assert not {nn.Linear, nn.Dropout} & built


def test_the_int8_copy_of_a_sped_up_model_quantizes_every_linear_layer():
    model = speed_up(Transformer(tiny_config())).eval()
    linears = sum(isinstance(m, nn.Linear) for m in model.modules())
    converted = list(kinds(for_inference(model, "int8")).values())
    assert converted.count(torch.ao.nn.quantized.dynamic.Linear) == linears > 0
    assert not {OneRowLinear, nn.Linear} & set(converted)
    assert sum(isinstance(m, OneRowLinear) for m in model.modules()) == linears  # the model itself is untouched
