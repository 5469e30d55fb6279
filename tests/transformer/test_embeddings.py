import math

import pytest
import torch

from transformer.embeddings import PositionalEncoding, sinusoidal_table


def formula_table(max_len: int, d_model: int) -> torch.Tensor:
    """§3.5 cell by cell, in float64: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...)."""
    rows = []
    for pos in range(max_len):
        row = []
        for column in range(d_model):
            angle = pos / 10000 ** (2 * (column // 2) / d_model)
            row.append(math.sin(angle) if column % 2 == 0 else math.cos(angle))
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float64)


@pytest.mark.parametrize("d_model", [16, 7, 1])  # even, odd (the last column a sine), one column
def test_whole_table_matches_the_formula(d_model):
    max_len = int(torch.randint(1, 60, ()).item())
    table = sinusoidal_table(max_len, d_model)
    assert table.shape == (max_len, d_model)
    torch.testing.assert_close(table.double(), formula_table(max_len, d_model), atol=1e-5, rtol=0)


def test_offset_positions_and_limit():
    pe = PositionalEncoding(8, 10, dropout=0.0)
    x = torch.randn(1, 3, 8)
    torch.testing.assert_close(pe(x, start=4), x + sinusoidal_table(10, 8)[4:7])
    with pytest.raises(ValueError, match="max_len"):
        pe(torch.randn(1, 11, 8))
