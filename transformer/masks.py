"""Padding and look-ahead masks (§3.2.3).

Convention used everywhere in this package: a boolean mask is True where attention is
*allowed*. Masks are shaped to broadcast against attention scores of shape (B, H, T_q, T_k).
"""

import torch


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, T) token ids -> (B, 1, 1, T): every query may attend to the non-pad keys."""
    return (ids != pad_id)[:, None, None, :]


def look_ahead_mask(size: int, device: torch.device | None = None, past: int = 0) -> torch.Tensor:
    """(T, past + T) mask: the query at position past + i may see key positions <= past + i.

    With past = 0 this is the square lower-triangular mask of training; past > 0 serves
    incremental decoding, where `past` earlier positions are already cached.
    """
    return torch.ones(size, past + size, dtype=torch.bool, device=device).tril(past)


def decoder_mask(tgt_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Decoder self-attention mask, padding and look-ahead combined: (B, 1, T, T)."""
    size = tgt_ids.size(1)
    return padding_mask(tgt_ids, pad_id) & look_ahead_mask(size, tgt_ids.device)
