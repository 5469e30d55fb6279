"""What training minimises (§5.4) and its pace (§5.3): the smoothed target, the loss, the schedule."""

import math

import pytest
import torch

from tests.helpers import random_ids, tiny_config
from transformer import Transformer
from transformer.objective import label_smoothed_loss, learning_rate, output_layer_loss, smoothed_nll, smoothed_target
from transformer.precision import autocast


def test_the_smoothed_target_is_a_distribution_and_the_loss_is_the_cross_entropy_against_it():
    vocab, smoothing = 11, float(torch.rand(()) * 0.5)
    target = torch.randint(0, vocab, (3, 5))
    distribution = smoothed_target(target, vocab, smoothing)  # (3, 5, V)
    torch.testing.assert_close(distribution.sum(-1), torch.ones(3, 5))
    right = distribution.gather(-1, target[..., None])[..., 0]
    torch.testing.assert_close(right, torch.full((3, 5), 1 - smoothing + smoothing / vocab))
    log_probs = torch.randn(3, 5, vocab).log_softmax(-1)
    loss, _ = smoothed_nll(log_probs, target, smoothing)
    torch.testing.assert_close(loss, -(distribution * log_probs).sum(-1))


def test_learning_rate_follows_the_paper():
    d, warmup = 512, 4000
    assert learning_rate(warmup, d, warmup) == pytest.approx(512**-0.5 * 4000**-0.5)
    assert learning_rate(100, d, warmup) == pytest.approx(512**-0.5 * 100 * 4000**-1.5)
    assert learning_rate(16000, d, warmup) == pytest.approx(512**-0.5 * 16000**-0.5)
    assert learning_rate(16000, d, warmup, scale=2) == pytest.approx(2 * 512**-0.5 * 16000**-0.5)
    steps = range(1, 12000, 97)
    rates = [learning_rate(s, d, warmup) for s in steps]
    peak = max(range(len(rates)), key=rates.__getitem__)
    assert abs(list(steps)[peak] - warmup) < 97


def test_label_smoothed_loss_by_hand():
    logits = torch.tensor([[[2.0, 0.0, 1.0, -1.0], [0.5, 0.5, 0.5, 3.0]]])  # (1, 2, 4); second target is PAD
    target = torch.tensor([[2, 0]])
    log_z = math.log(math.exp(2) + 1 + math.exp(1) + math.exp(-1))
    nll = log_z - 1.0
    uniform = sum(log_z - x for x in (2.0, 0.0, 1.0, -1.0)) / 4
    loss, nll_sum, count = label_smoothed_loss(logits, target, 0.1, pad_id=0)
    assert count.item() == 1
    assert nll_sum.item() == pytest.approx(nll, abs=1e-5)
    assert loss.item() == pytest.approx(0.9 * nll + 0.1 * uniform, abs=1e-5)
    reference = torch.nn.functional.cross_entropy(logits[0], target[0], ignore_index=0, label_smoothing=0.1)
    assert loss.item() == pytest.approx(reference.item(), abs=1e-5)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_output_layer_loss_equals_the_loss_on_full_logits(smoothing, monkeypatch):
    """Chunked (three rows at a time here), pads skipped, gradients made in the forward pass:
    the same loss, NLL, token count and gradients as label_smoothed_loss on hidden @ W^T."""
    monkeypatch.setattr("transformer.objective.CHUNK_LOGITS", 3 * 37)
    hidden = torch.randn(3, 5, 8, requires_grad=True)
    weight = torch.randn(37, 8, requires_grad=True)
    target = random_ids(3, 5, 37, pad_to=[5, 2, 4])
    scale = torch.rand(()) + 0.5  # the incoming gradient scales the precomputed ones
    expected = label_smoothed_loss(hidden @ weight.t(), target, smoothing, pad_id=0)
    (expected[0] * scale).backward()
    grads = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    got = output_layer_loss(hidden, weight, target, smoothing, pad_id=0)
    (got[0] * scale).backward()
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b.to(a.dtype))
    torch.testing.assert_close(hidden.grad, grads[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weight.grad, grads[1], atol=1e-5, rtol=1e-5)
    assert hidden.grad[1, 2:].abs().sum() == 0  # pad positions get no gradient


def test_the_model_computes_its_training_loss_without_full_logits():
    """model(src, tgt, targets=...) is label_smoothed_loss(model(src, tgt), ...), close to it in bf16
    autocast, and the same without gradients (the dev loss's path, which makes none)."""
    model = Transformer(tiny_config(dropout=0.0, src_vocab_size=50, tgt_vocab_size=50, tie_embeddings=True)).train()
    src, tgt = random_ids(4, 7, 50, pad_to=[7, 3, 5, 6]), random_ids(4, 6, 50, pad_to=[6, 6, 2, 4])
    targets = tgt.roll(-1, 1)
    loss, nll, count = model(src, tgt, targets=targets, smoothing=0.1)
    expected = label_smoothed_loss(model(src, tgt), targets, 0.1, model.config.pad_id)
    torch.testing.assert_close((loss, nll, count), expected, atol=1e-4, rtol=1e-5)
    with autocast("bf16", torch.device("cpu")):
        bf16 = model(src, tgt, targets=targets, smoothing=0.1)[0]
    assert bf16.requires_grad and abs(bf16.item() - loss.item()) < 0.05 * loss.item()
    with torch.no_grad():
        assert model(src, tgt, targets=targets, smoothing=0.1)[0].item() == pytest.approx(loss.item(), rel=1e-6)
