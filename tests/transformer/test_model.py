import pytest
import torch
from torch import nn

from tests.helpers import random_ids, tiny_config
from tests.transformer.reference import copy_into_reference
from transformer import ModelConfig, Transformer


def reference_transformer(model: Transformer) -> nn.Transformer:
    """torch.nn.Transformer with our weights copied in."""
    c = model.config
    ref = nn.Transformer(
        c.d_model,
        c.n_heads,
        c.n_encoder_layers,
        c.n_decoder_layers,
        c.d_ff,
        dropout=0.0,
        batch_first=True,
        norm_first=c.pre_norm,
    )
    copy = lambda dst, src: dst.load_state_dict(src.state_dict())
    for ours, theirs in zip(model.encoder_layers, ref.encoder.layers):
        copy_into_reference(ours.self_attn, theirs.self_attn)
        copy(theirs.linear1, ours.feed_forward.w1)
        copy(theirs.linear2, ours.feed_forward.w2)
        copy(theirs.norm1, ours.attn_residual.norm)
        copy(theirs.norm2, ours.ff_residual.norm)
    for ours, theirs in zip(model.decoder_layers, ref.decoder.layers):
        copy_into_reference(ours.self_attn, theirs.self_attn)
        copy_into_reference(ours.cross_attn, theirs.multihead_attn)
        copy(theirs.linear1, ours.feed_forward.w1)
        copy(theirs.linear2, ours.feed_forward.w2)
        copy(theirs.norm1, ours.self_residual.norm)
        copy(theirs.norm2, ours.cross_residual.norm)
        copy(theirs.norm3, ours.ff_residual.norm)
    if c.pre_norm:
        copy(ref.encoder.norm, model.encoder_norm)
        copy(ref.decoder.norm, model.decoder_norm)
    else:  # nn.Transformer always adds final LayerNorms; the post-norm paper model has none
        ref.encoder.norm = None
        ref.decoder.norm = None
    return ref.eval()


def randomise_norms(model: nn.Module) -> None:
    """LayerNorms start at weight 1, bias 0: perturb them so a mis-wired norm would show."""
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            nn.init.normal_(m.weight, 1.0, 0.2)
            nn.init.normal_(m.bias, 0.0, 0.2)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_equals_torch_transformer_with_copied_weights(pre_norm):
    model = Transformer(tiny_config(pre_norm=pre_norm)).eval()
    randomise_norms(model)
    ref = reference_transformer(model)
    c = model.config
    src = random_ids(3, 9, c.src_vocab_size, pad_to=[9, 4, 6])
    tgt = random_ids(3, 7, c.tgt_vocab_size, pad_to=[7, 7, 3])
    ours = model(src, tgt)
    src_x = model.positional(model.src_embed(src))
    tgt_x = model.positional(model.tgt_embed(tgt))
    hidden = ref(
        src_x,
        tgt_x,
        tgt_mask=torch.ones(tgt.size(1), tgt.size(1), dtype=torch.bool).triu(1),
        src_key_padding_mask=src == 0,
        tgt_key_padding_mask=tgt == 0,
        memory_key_padding_mask=src == 0,
    )
    torch.testing.assert_close(ours, model.generator(hidden), atol=1e-5, rtol=0)


def test_future_target_tokens_do_not_change_earlier_logits():
    model = Transformer(tiny_config()).eval()
    c = model.config
    src, tgt = random_ids(2, 8, c.src_vocab_size), random_ids(2, 10, c.tgt_vocab_size)
    t = torch.randint(0, 9, ()).item()
    changed = tgt.clone()
    changed[:, t + 1 :] = random_ids(2, 9 - t, c.tgt_vocab_size)
    changed[:, t + 1] = (tgt[:, t + 1] - 3 + 1) % (c.tgt_vocab_size - 3) + 3  # surely different
    before, after = model(src, tgt), model(src, changed)
    torch.testing.assert_close(before[:, : t + 1], after[:, : t + 1], atol=1e-5, rtol=0)
    assert not torch.allclose(before[:, t + 1 :], after[:, t + 1 :])


def test_padding_changes_nothing():
    model = Transformer(tiny_config()).eval()
    c = model.config
    src, tgt = random_ids(1, 6, c.src_vocab_size), random_ids(1, 5, c.tgt_vocab_size)
    padded_src = torch.cat([src, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    padded_tgt = torch.cat([tgt, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    plain = model(src, tgt)
    torch.testing.assert_close(model(padded_src, padded_tgt)[:, :5], plain, atol=1e-5, rtol=0)
    with torch.no_grad():  # whatever the PAD embedding holds is never seen
        model.src_embed.weight[c.pad_id].normal_()
        model.tgt_embed.weight[c.pad_id].normal_()
    torch.testing.assert_close(model(padded_src, padded_tgt)[:, :5], plain, atol=1e-5, rtol=0)


def test_attention_maps_are_proper_distributions():
    model = Transformer(tiny_config()).eval()
    c = model.config
    src = random_ids(2, 7, c.src_vocab_size, pad_to=[7, 4])
    tgt = random_ids(2, 6, c.tgt_vocab_size)
    logits, attention = model.forward_with_attention(src, tgt)
    assert attention["encoder"].shape == (2, 2, 4, 7, 7)
    assert attention["decoder"].shape == (2, 2, 4, 6, 6)
    assert attention["cross"].shape == (2, 2, 4, 6, 7)
    for maps in attention.values():
        torch.testing.assert_close(maps.sum(-1), torch.ones(maps.shape[:-1]))
    above = torch.ones(6, 6, dtype=torch.bool).triu(1)
    assert (attention["decoder"][..., above] == 0).all()
    assert (attention["decoder"][..., ~above] > 0).all()
    assert (attention["encoder"][1, ..., 4:] == 0).all()
    assert (attention["cross"][1, ..., 4:] == 0).all()
    torch.testing.assert_close(logits, model(src, tgt))


def test_tied_embeddings_share_one_matrix():
    model = Transformer(tiny_config(tgt_vocab_size=23, tie_embeddings=True))
    assert model.src_embed.weight is model.tgt_embed.weight is model.generator.weight
    with pytest.raises(ValueError, match="tie_embeddings"):
        ModelConfig(src_vocab_size=10, tgt_vocab_size=11, tie_embeddings=True)


@pytest.mark.parametrize("tie", [True, False])
def test_a_model_from_saved_weights_computes_what_the_original_computes(tie):
    original = Transformer(tiny_config(tgt_vocab_size=23, tie_embeddings=tie)).eval()
    saved = {name: t.clone() for name, t in original.state_dict().items()}
    if tie:  # a checkpoint holds tied weights once
        saved = {k: v for k, v in saved.items() if k not in ("tgt_embed.table.weight", "generator.weight")}
    rebuilt = Transformer.skeleton(original.config).assign_weights(saved).eval()
    src, tgt = random_ids(2, 5, 23), random_ids(2, 4, 23)
    torch.testing.assert_close(rebuilt(src, tgt), original(src, tgt), rtol=0, atol=0)
    assert (rebuilt.generator.weight is rebuilt.src_embed.weight) == tie
    assert all(p.requires_grad and not p.is_meta for p in rebuilt.parameters())
    with pytest.raises(ValueError, match="no weights given for .*w1"):
        Transformer.skeleton(original.config).assign_weights({k: v for k, v in saved.items() if "w1" not in k})


def test_embeddings_are_scaled_by_sqrt_d_model():
    model = Transformer(tiny_config())
    ids = random_ids(1, 4, 23)
    torch.testing.assert_close(model.src_embed(ids), model.src_embed.table(ids) * 32**0.5)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_fused_forward_equals_the_explicit_one(pre_norm, fused_kernel):
    """forward (fused attention, no maps) and forward_with_attention (Eq. 1 written out)."""
    model = Transformer(tiny_config(pre_norm=pre_norm)).eval()
    randomise_norms(model)
    c = model.config
    src = random_ids(3, 9, c.src_vocab_size, pad_to=[9, 4, 6])
    tgt = random_ids(3, 7, c.tgt_vocab_size, pad_to=[7, 7, 3])
    explicit, _ = model.forward_with_attention(src, tgt)
    torch.testing.assert_close(model(src, tgt), explicit, atol=1e-5, rtol=0)


def test_training_on_either_path_gives_the_same_losses(fused_kernel):
    """Seeded training steps without dropout: the fused path and the explicit path learn alike."""
    config = tiny_config(dropout=0.0)
    fused = Transformer(config).train()
    explicit = Transformer(config).train()
    explicit.load_state_dict(fused.state_dict())
    # SGD, not Adam: Adam turns the rounding noise of gradients that are zero in exact arithmetic
    # (the key bias's: softmax ignores a shift shared by a query's scores) into full-size steps.
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (fused, explicit)]
    batches = [(random_ids(4, 8, 23, pad_to=[8, 5, 7, 2]), random_ids(4, 6, 29, pad_to=[6, 6, 3, 4])) for _ in range(5)]
    for src, tgt in batches:
        losses = []
        for model, optimizer in zip((fused, explicit), optimizers):
            logits = fused(src, tgt) if model is fused else explicit.forward_with_attention(src, tgt)[0]
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt.roll(-1, 1).flatten(), ignore_index=0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[0] == pytest.approx(losses[1], rel=2e-4)
    # Usually 1e-6 apart; but for about 1 seed in 200, a ReLU input within rounding of zero falls on
    # different sides on the two paths, and the next SGD steps carry that unit's gradient into
    # weights ~5e-4 apart (losses ~2e-5). A wrong mask or path moves them by 1e-2 and more.
    for a, b in zip(fused.parameters(), explicit.parameters()):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=0)
