import pytest
import torch

from transformer.dropout import DRAW_STATES, SixteenBitDropout, dropped_draws, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_zeroes_a_fraction_p_and_keeps_the_mean(p):
    x = torch.rand(400, 500) + 0.5
    y = SixteenBitDropout(p).train()(x)
    dropped = (y == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.01)  # 200,000 draws: the standard error is about 0.001
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - dropped_draws(p) / DRAW_STATES))  # p as drawn
    # The mean is kept, within 5 standard errors (an element's variance is E[x^2] / (1 - p) - E[x]^2).
    standard_error = ((x.square().mean() / (1 - p) - x.mean() ** 2) / x.numel()).sqrt().item()
    assert y.mean().item() == pytest.approx(x.mean().item(), abs=5 * standard_error)


@pytest.mark.parametrize("piece", range(4))
def test_each_16_bit_piece_of_a_random_word_is_a_fair_draw(piece):
    """The mask cuts 64-bit random integers in four: every piece (the top one included, whose
    highest bit torch's random_() alone never sets) drops a fraction p."""
    mask = keep_mask(torch.Size([400_000]), 0.1, torch.device("cpu"))
    dropped = 1 - mask[piece::4].float().mean().item()  # 100,000 draws: standard error 0.001
    assert dropped == pytest.approx(0.1, abs=0.005)


def test_p_is_drawn_rounded_to_a_sixteenth_of_a_bit_and_one_keeps_nothing():
    assert dropped_draws(0.1) == 6554  # p = 0.100006
    shape = torch.Size([1000])
    assert not keep_mask(shape, 1.0, torch.device("cpu")).any()
    assert not keep_mask(shape, 1 - 2**-18, torch.device("cpu")).any()  # rounds to 1
    assert keep_mask(shape, 2**-18, torch.device("cpu")).all()  # rounds to 0
    assert keep_mask(torch.Size([0]), 0.5, torch.device("cpu")).shape == (0,)


def test_dropout_gradient_flows_through_the_kept_elements_only():
    x = torch.randn(50, 60, requires_grad=True)
    y = SixteenBitDropout(0.3).train()(x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y != 0).float() / (1 - dropped_draws(0.3) / DRAW_STATES))


def test_dropout_is_the_identity_in_eval_mode_or_at_zero_and_zero_at_one():
    x = torch.randn(8, 9)
    assert SixteenBitDropout(0.5).eval()(x) is x
    assert SixteenBitDropout(0.0).train()(x) is x
    assert torch.equal(SixteenBitDropout(1.0).train()(x), torch.zeros_like(x))


def test_dropout_masks_follow_the_seed():
    x = torch.randn(30, 40)
    torch.manual_seed(3)
    first = SixteenBitDropout(0.2).train()(x)
    torch.manual_seed(3)
    assert torch.equal(SixteenBitDropout(0.2).train()(x), first)
