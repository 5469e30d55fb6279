"""bf16 and int8 inference copies, and the thread count chosen for a busy machine."""

import pytest
import torch

from tests.helpers import random_ids, tiny_config
from transformer import Transformer, load_checkpoint, speed_up
from transformer.linear import OneRowLinear
from transformer.precision import autocast, for_inference
from transformer.speed import output_layer_by_columns


# Mean |Δ log p|: int8 at most 0.048 over 3,400 seeds, bf16 at most 0.011 over 400; the worst single entry of
# int8 reached 0.23, so the mean is the statistic to bound closely. A wrong computation (the same model
# fed shuffled targets) is off by 0.12 at least and 0.4 typically; one wrong position of the 18 would
# move the mean less, so the worst entry has a loose bound of its own.
@pytest.mark.parametrize("precision,tolerance", [("bf16", 0.03), ("int8", 0.08)])
def test_inference_copies_compute_nearly_what_fp32_computes(precision, tolerance):
    model = speed_up(Transformer(tiny_config()).eval())
    c = model.config
    src, tgt = random_ids(3, 7, c.src_vocab_size, pad_to=[7, 3, 5]), random_ids(3, 6, c.tgt_vocab_size)
    converted = for_inference(model, precision)
    assert converted is not model
    with torch.inference_mode():
        expected = model(src, tgt).log_softmax(-1)
        got = converted(src, tgt).float().log_softmax(-1)
    assert (got - expected).abs().mean() < tolerance and (got - expected).abs().max() < 0.5
    assert next(model.parameters()).dtype == torch.float32  # the original is untouched ...
    assert all(type(module) is OneRowLinear for module in model.modules() if "Linear" in type(module).__name__)
    if precision == "int8":  # ... and every linear layer of the copy is quantized
        kinds = [type(module) for module in converted.modules()]
        assert kinds.count(torch.ao.nn.quantized.dynamic.Linear) == 10 * c.n_decoder_layers + 6 * c.n_encoder_layers + 1
        assert not {OneRowLinear, torch.nn.Linear} & set(kinds)


def test_fp32_is_the_model_itself():
    model = Transformer(tiny_config())
    assert for_inference(model, "fp32") is model


@pytest.mark.parametrize("tie", [True, False])
def test_the_output_layer_by_columns_computes_what_it_computed(tie):
    model = Transformer(tiny_config(tie_embeddings=tie, src_vocab_size=29)).eval()
    c = model.config
    src, tgt = random_ids(3, 7, c.src_vocab_size, pad_to=[7, 3, 5]), random_ids(3, 6, c.tgt_vocab_size)
    with torch.inference_mode():
        expected = model(src, tgt)
    output_layer_by_columns(model)  # outside inference mode, as load_checkpoint does it
    with torch.inference_mode():
        got = model(src, tgt)
    weight = model.generator.weight
    assert weight.shape == (c.tgt_vocab_size, c.d_model) and weight.stride() == (1, c.tgt_vocab_size)
    assert (weight is model.tgt_embed.table.weight) == tie  # a tie stays one tensor
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_a_checkpoint_loaded_in_fp32_decodes_with_its_output_layer_by_columns(tiny_checkpoint):
    translator = load_checkpoint(tiny_checkpoint)
    model = translator.model
    assert model.generator.weight.stride() == (1, model.config.tgt_vocab_size)
    assert model.generator.weight is model.src_embed.table.weight
    assert load_checkpoint(tiny_checkpoint, "bf16").model.generator.weight.is_contiguous()  # fp32 only


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_attention_maps_survive_every_precision(tiny_checkpoint, precision):
    translator = load_checkpoint(tiny_checkpoint, precision)
    result = translator.translate(["a b c d"], beam_size=1, max_len=5)[0]
    for maps in result.attention.values():
        assert maps.dtype == torch.float32
        torch.testing.assert_close(maps.sum(-1), torch.ones(maps.shape[:-1]), atol=1e-2, rtol=0)


def test_bad_precisions_are_refused(tiny_checkpoint):
    with pytest.raises(ValueError, match="precision"):
        load_checkpoint(tiny_checkpoint, "fp8")
    with pytest.raises(ValueError, match="fp32 or bf16"):
        autocast("int8", torch.device("cpu"))
