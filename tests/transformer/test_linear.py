"""The linear layer's one-row products (decoding one sentence) against nn.Linear's."""

from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from transformer.linear import OneRowLinear


def linear(n_in: int, n_out: int, bias: bool, by_columns: bool) -> OneRowLinear:
    layer = OneRowLinear(n_in, n_out, bias=bias)
    with torch.no_grad():  # outputs of about unit size, as in a trained model
        layer.weight.normal_(std=n_in**-0.5)
        if bias:
            layer.bias.normal_()
    if by_columns:  # as speed.output_layer_by_columns stores the output layer
        layer.weight.data = layer.weight.data.t().contiguous().t()
    return layer


@pytest.fixture(params=[1, 2, 3])
def threads(request):
    """torch's thread count for one test: a weight by columns is cut into a block per thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize("by_columns", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 1, 64), (1, 64), (64,), (3, 64), (2, 5, 64)])
def test_it_computes_what_nn_linear_computes(shape, bias, by_columns, threads):
    layer = linear(64, 96, bias, by_columns)  # 96 columns: 1, 2 or 3 blocks
    x = torch.randn(shape)
    with torch.inference_mode():
        got = layer(x)
    expected = F.linear(x, layer.weight, layer.bias)
    assert got.shape == expected.shape == (*shape[:-1], 96)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("by_columns", [False, True])
def test_one_row_takes_its_own_products_and_more_rows_mkls(by_columns, threads):
    layer = linear(32, 50, True, by_columns)  # 50 columns: 2 blocks of 25 for 3 threads
    with mock.patch("transformer.linear.F.linear", side_effect=AssertionError("F.linear called")) as called:
        layer(torch.randn(1, 1, 32))  # one row: not through F.linear
        with pytest.raises(AssertionError, match="F.linear called"):
            layer(torch.randn(2, 1, 32))
    assert called.call_count == 1


def test_a_row_of_the_wrong_width_is_refused_as_nn_linear_refuses_it():
    layer = linear(4, 4, True, by_columns=False)
    with pytest.raises(RuntimeError):
        layer(torch.randn(2, 2))  # four numbers, but not a row of four


@pytest.mark.parametrize("by_columns", [False, True])
def test_one_row_trains_like_nn_linear(by_columns, threads):
    layer = linear(24, 40, True, by_columns)
    x = torch.randn(1, 24, requires_grad=True)
    layer(x).square().sum().backward()
    ours = [layer.weight.grad.clone(), layer.bias.grad.clone(), x.grad.clone()]
    layer.zero_grad(), x.grad.zero_()
    F.linear(x, layer.weight, layer.bias).square().sum().backward()
    for got, expected in zip(ours, [layer.weight.grad, layer.bias.grad, x.grad]):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_under_autocast_one_row_is_a_bf16_product_as_in_nn_linear():
    layer = linear(16, 32, True, by_columns=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(torch.randn(1, 16)).dtype == torch.bfloat16
