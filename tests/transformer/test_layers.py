"""The encoder and decoder layers (§3.1, §3.3): each sub-layer against its equation, the encoder
layer against torch's on copied weights, the decoder layer's cache against one full pass."""

import pytest
import torch
from torch import nn

from tests.helpers import tiny_config
from transformer.layers import DecoderLayer, EncoderLayer, FeedForward, KVCache, Residual
from transformer.masks import look_ahead_mask


def randomize(module: nn.Module) -> nn.Module:
    """Non-zero biases and LayerNorm affine parameters, so a missed term would show."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(std=0.3)
    return module.eval()


def test_feed_forward_is_equation_2():
    ffn = randomize(FeedForward(12, 20))
    x = torch.randn(3, 5, 12)
    by_hand = torch.clamp(x @ ffn.w1.weight.T + ffn.w1.bias, min=0) @ ffn.w2.weight.T + ffn.w2.bias
    torch.testing.assert_close(ffn(x), by_hand, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_residual_wraps_a_sublayer_as_the_paper_or_pre_norm(pre_norm):
    residual = randomize(Residual(8, dropout=0.5, pre_norm=pre_norm))  # eval: dropout off
    x, sublayer = torch.randn(2, 4, 8), nn.Linear(8, 8)
    out = residual.output(x, sublayer(residual.input(x)))
    norm = residual.norm
    expected = x + sublayer(norm(x)) if pre_norm else norm(x + sublayer(x))
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def copy_encoder_layer(ours: EncoderLayer, ref: nn.TransformerEncoderLayer) -> None:
    attention = ours.self_attn
    with torch.no_grad():
        projections = (attention.q_proj, attention.k_proj, attention.v_proj)
        ref.self_attn.in_proj_weight.copy_(torch.cat([p.weight for p in projections]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([p.bias for p in projections]))
        ref.self_attn.out_proj.load_state_dict(attention.out_proj.state_dict())
        ref.linear1.load_state_dict(ours.feed_forward.w1.state_dict())
        ref.linear2.load_state_dict(ours.feed_forward.w2.state_dict())
        ref.norm1.load_state_dict(ours.attn_residual.norm.state_dict())
        ref.norm2.load_state_dict(ours.ff_residual.norm.state_dict())


@pytest.mark.parametrize("pre_norm", [False, True])
def test_encoder_layer_equals_torch_with_copied_weights(pre_norm):
    config = tiny_config(pre_norm=pre_norm)
    ours = randomize(EncoderLayer(config))
    ref = nn.TransformerEncoderLayer(
        config.d_model, config.n_heads, config.d_ff, dropout=0.0, batch_first=True, norm_first=pre_norm
    ).eval()
    copy_encoder_layer(ours, ref)
    x = torch.randn(3, 7, config.d_model)
    keep = torch.ones(3, 7, dtype=torch.bool)
    keep[1, 4:] = False  # one padded row
    out, weights = ours(x, keep[:, None, None, :])
    ref_out = ref(x, src_key_padding_mask=~keep)
    torch.testing.assert_close(out[keep], ref_out[keep], atol=1e-5, rtol=0)  # padded queries are thrown away
    assert weights.shape == (3, config.n_heads, 7, 7)


def test_decoder_layer_step_by_step_with_its_cache_equals_one_masked_pass():
    config = tiny_config()
    layer = randomize(DecoderLayer(config))
    batch, steps, source_len = 2, 6, 5
    x = torch.randn(batch, steps, config.d_model)
    cross_kv = layer.cross_attn.project_kv(torch.randn(batch, source_len, config.d_model))
    cross_mask = torch.ones(batch, 1, 1, source_len, dtype=torch.bool)
    whole = layer(x, cross_kv, look_ahead_mask(steps)[None, None], cross_mask)

    d_k = config.d_model // config.n_heads
    cache = KVCache(*(torch.full((batch, config.n_heads, steps, d_k), float("nan")) for _ in range(2)))
    for t in range(steps):  # the unwritten positions hold NaN: reading one would show
        step = layer(x[:, t : t + 1], cross_kv, None, cross_mask, cache=cache, start=t)
        torch.testing.assert_close(step.hidden[:, 0], whole.hidden[:, t], atol=1e-5, rtol=0)
        torch.testing.assert_close(step.self_weights[:, :, 0], whole.self_weights[:, :, t, : t + 1], atol=1e-5, rtol=0)
        torch.testing.assert_close(step.cross_weights[:, :, 0], whole.cross_weights[:, :, t], atol=1e-5, rtol=0)


def test_selecting_cache_rows_copies_exactly_the_written_positions():
    keys, values = torch.randn(4, 2, 6, 3), torch.randn(4, 2, 6, 3)
    picked = KVCache(keys, values).select(torch.tensor([3, 1]), length=4)
    torch.testing.assert_close(picked.keys[:, :, :4], keys[[3, 1], :, :4], atol=0, rtol=0)
    torch.testing.assert_close(picked.values[:, :, :4], values[[3, 1], :, :4], atol=0, rtol=0)
    assert picked.keys.shape == (2, 2, 6, 3)
