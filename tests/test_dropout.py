import pytest
import torch

from transformer.dropout import Dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_zeroes_a_fraction_p_and_keeps_the_mean(p):
    x = torch.rand(400, 500) + 0.5
    y = Dropout(p).train()(x)
    dropped = (y == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.01)  # 200,000 draws: the standard error is about 0.001
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))
    assert y.mean().item() == pytest.approx(x.mean().item(), rel=0.01)


@pytest.mark.parametrize("piece", range(4))
def test_each_16_bit_piece_of_a_random_word_is_a_fair_draw(piece):
    """The mask cuts 64-bit random integers in four: every piece (the top one included, whose
    highest bit torch's random_() alone never sets) drops a fraction p."""
    mask = keep_mask(torch.Size([400_000]), 0.1, torch.device("cpu"))
    dropped = 1 - mask[piece::4].float().mean().item()  # 100,000 draws: standard error 0.001
    assert dropped == pytest.approx(0.1, abs=0.005)


def test_dropout_gradient_flows_through_the_kept_elements_only():
    x = torch.randn(50, 60, requires_grad=True)
    y = Dropout(0.3).train()(x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y != 0).float() / 0.7)


def test_dropout_is_the_identity_in_eval_mode_or_at_zero_and_zero_at_one():
    x = torch.randn(8, 9)
    assert Dropout(0.5).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))


def test_dropout_masks_follow_the_seed():
    x = torch.randn(30, 40)
    torch.manual_seed(3)
    first = Dropout(0.2).train()(x)
    torch.manual_seed(3)
    assert torch.equal(Dropout(0.2).train()(x), first)
