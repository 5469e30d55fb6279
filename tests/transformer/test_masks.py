import torch

from transformer.masks import decoder_mask, look_ahead_mask, padding_mask


def test_padding_mask_shape_and_values():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    mask = padding_mask(ids, pad_id=0)
    assert mask.shape == (2, 1, 1, 3)
    assert mask[:, 0, 0].tolist() == [[True, True, False], [True, False, False]]


def test_look_ahead_mask_is_lower_triangular():
    size = torch.randint(2, 9, ()).item()
    mask = look_ahead_mask(size)
    for i in range(size):
        for j in range(size):
            assert mask[i, j] == (j <= i)


def test_look_ahead_mask_with_cached_past():
    mask = look_ahead_mask(2, past=3)
    assert mask.tolist() == [[True, True, True, True, False], [True, True, True, True, True]]


def test_decoder_mask_combines_padding_and_look_ahead():
    ids = torch.tensor([[1, 5, 6, 0]])
    mask = decoder_mask(ids, pad_id=0)
    assert mask.shape == (1, 1, 4, 4)
    expected = look_ahead_mask(4) & torch.tensor([True, True, True, False])
    assert torch.equal(mask[0, 0], expected)
