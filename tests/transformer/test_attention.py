import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.helpers import random_ids
from tests.transformer.reference import copy_into_reference
from transformer.attention import CPU_WRITTEN_OUT_KEYS, MultiHeadAttention, scaled_dot_product_attention
from transformer.masks import look_ahead_mask, padding_mask

SDPA = F.scaled_dot_product_attention


@pytest.mark.parametrize("t_q,t_k", [(7, 7), (5, 9)])
def test_multi_head_attention_equals_torch(t_q, t_k):
    d_model, heads, batch = 32, 4, 3
    ours = MultiHeadAttention(d_model, heads).eval()
    for p in ours.parameters():  # non-zero biases, so a missed bias would show
        nn.init.normal_(p, std=0.3)
    ref = nn.MultiheadAttention(d_model, heads, batch_first=True).eval()
    copy_into_reference(ours, ref)
    query, source = torch.randn(batch, t_q, d_model), torch.randn(batch, t_k, d_model)
    keep = torch.ones(batch, t_k, dtype=torch.bool)
    keep[0, t_k - 2 :] = False  # padding in two rows
    keep[2, 1:] = False
    out, weights = ours(query, source, keep[:, None, None, :])
    ref_out, ref_weights = ref(query, source, source, key_padding_mask=~keep, need_weights=True)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(weights.mean(dim=1), ref_weights, atol=1e-5, rtol=0)


def test_scaled_dot_product_matches_functional():
    q, k, v = torch.randn(2, 3, 6, 8), torch.randn(2, 3, 9, 8), torch.randn(2, 3, 9, 8)
    mask = torch.rand(2, 1, 6, 9) > 0.3
    mask[..., 0] = True  # every query keeps one key
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-5, rtol=0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 6))
    assert (weights[~mask.expand_as(weights)] == 0).all()


def test_padded_keys_get_zero_weight_and_rows_sum_to_one():
    mha = MultiHeadAttention(16, 2).eval()
    ids = torch.randint(3, 10, (2, 6))
    ids[1, 3:] = 0
    x = torch.randn(2, 6, 16)
    _, weights = mha(x, x, padding_mask(ids, 0))
    assert (weights[1, :, :, 3:] == 0).all()
    assert (weights[1, :, :, :3] > 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 6))


def test_head_gate_zero_equals_zeroing_output_projection_columns():
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 5, 16)
    gate = torch.tensor([1.0, 0.0, 1.0, 1.0])
    gated, _ = mha(x, x, head_gate=gate)
    assert not torch.allclose(gated, mha(x, x)[0])  # the gate does something
    with torch.no_grad():
        mha.out_proj.weight[:, 4:8] = 0  # head 1's slice of W^O's input
    zeroed, _ = mha(x, x)
    torch.testing.assert_close(gated, zeroed)


def test_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(30, 4)


@pytest.mark.parametrize("keys", [9, CPU_WRITTEN_OUT_KEYS + 7])  # written out on the CPU, then the kernel
@pytest.mark.parametrize("mask_kind", ["none", "padding", "look-ahead"])
def test_fused_path_equals_the_reference(mask_kind, keys, monkeypatch):
    """need_weights=False (torch's fused scaled_dot_product_attention where it is faster) computes
    what Eq. 1 written out computes, masks and head gates included."""
    kernel_calls = []
    monkeypatch.setattr(F, "scaled_dot_product_attention", lambda *a, **k: kernel_calls.append(1) or SDPA(*a, **k))
    mha = MultiHeadAttention(32, 4).eval()
    query, source = torch.randn(3, keys - 3, 32), torch.randn(3, keys, 32)
    if mask_kind == "look-ahead":
        query = source = torch.randn(3, keys, 32)
        mask = look_ahead_mask(keys)
    else:
        mask = None if mask_kind == "none" else padding_mask(random_ids(3, keys, 20, pad_to=[keys, 4, 1]), 0)
    gate = torch.rand(4)
    reference, weights = mha(query, source, mask, gate)
    fused, no_weights = mha(query, source, mask, gate, need_weights=False)
    assert weights is not None and no_weights is None
    assert len(kernel_calls) == (keys > CPU_WRITTEN_OUT_KEYS)
    torch.testing.assert_close(fused, reference, atol=1e-5, rtol=0)


def test_attention_dropout_drops_the_mixing_not_the_returned_map():
    mha = MultiHeadAttention(16, 2, dropout=0.5).train()
    x = torch.randn(2, 5, 16)
    _, weights = mha(x, x)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 5))  # the map before dropout
    out_a, _ = mha(x, x)
    out_b, _ = mha(x, x)
    assert not torch.allclose(out_a, out_b)  # different dropout noise reaches the output
