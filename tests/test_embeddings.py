import math

import pytest
import torch

from transformer.embeddings import PositionalEncoding, sinusoidal_table


def test_table_matches_the_formula():
    max_len, d_model = 50, 16
    table = sinusoidal_table(max_len, d_model)
    pos, i = torch.randint(0, max_len, ()).item(), torch.randint(0, d_model // 2, ()).item()
    angle = pos / 10000 ** (2 * i / d_model)
    assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
    assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_odd_model_width():
    assert sinusoidal_table(5, 7).shape == (5, 7)


def test_offset_positions_and_limit():
    pe = PositionalEncoding(8, 10, dropout=0.0)
    x = torch.randn(1, 3, 8)
    torch.testing.assert_close(pe(x, start=4), x + sinusoidal_table(10, 8)[4:7])
    with pytest.raises(ValueError, match="max_len"):
        pe(torch.randn(1, 11, 8))
