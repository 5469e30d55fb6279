"""Token embeddings and sinusoidal positional encoding (paper §3.4 and §3.5)."""

import math

import torch
from torch import nn


def sinusoidal_table(max_len: int, d_model: int) -> torch.Tensor:
    """The fixed positional encodings of §3.5, shape (max_len, d_model).

    PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
    PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))
    """
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (P, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(D/2),)
    angle = position / torch.pow(10000.0, two_i / d_model)  # (P, ceil(D/2))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return table


class TokenEmbedding(nn.Module):
    """Embedding lookup multiplied by sqrt(d_model) (§3.4)."""

    def __init__(self, vocab_size: int, d_model: int, pad_id: int):
        super().__init__()
        weight = torch.empty(vocab_size, d_model)  # N(0, 1/d_model), PAD's row zero
        if not weight.is_meta:  # a shape-only model (checking a checkpoint) draws no random numbers
            nn.init.normal_(weight, std=d_model**-0.5)
            weight[pad_id] = 0.0
        self.table = nn.Embedding(vocab_size, d_model, padding_idx=pad_id, _weight=weight)
        self.scale = math.sqrt(d_model)

    @property
    def weight(self) -> nn.Parameter:
        return self.table.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table(ids) * self.scale  # (B, T, D)


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal table to the embeddings, then dropout (§5.4, "Residual Dropout")."""

    def __init__(self, d_model: int, max_len: int, dropout: float):
        super().__init__()
        # Not a parameter and not saved: it is a pure function of (max_len, d_model).
        table = torch.empty(max_len, d_model)
        if not table.is_meta:  # a shape-only model (checking a checkpoint) computes no values
            table = sinusoidal_table(max_len, d_model)
        self.register_buffer("table", table, persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x: (B, T, D) embeddings of positions start .. start+T-1."""
        end = start + x.size(1)
        if end > self.table.size(0):
            raise ValueError(f"sequence of length {end} exceeds max_len {self.table.size(0)}")
        return self.dropout(x + self.table[start:end])
