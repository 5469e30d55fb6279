"""Encoder and decoder layers (§3.1): attention and feed-forward sub-layers, each wrapped in
a residual connection with layer normalisation."""

import torch
from torch import nn

from .attention import MultiHeadAttention

KV = tuple[torch.Tensor, torch.Tensor]  # keys and values, each (B, H, T, d_k)


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W1 + b1) W2 + b2, applied to each position alike (§3.3, Eq. 2)."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.w1 = nn.Linear(d_model, d_ff)
        self.w2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(torch.relu(self.w1(x)))  # (B, T, D)


class Residual(nn.Module):
    """The residual connection around a sub-layer, with dropout and LayerNorm (§3.1, §5.4).

    Post-norm (the paper): LayerNorm(x + Dropout(Sublayer(x))).
    Pre-norm (option):     x + Dropout(Sublayer(LayerNorm(x))).
    Split in two steps, `input` then `output`, so the caller can see what the sub-layer gets.
    """

    def __init__(self, d_model: int, dropout: float, pre_norm: bool):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.pre_norm = pre_norm

    def input(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x) if self.pre_norm else x

    def output(self, x: torch.Tensor, sublayer_out: torch.Tensor) -> torch.Tensor:
        y = x + self.dropout(sublayer_out)
        return y if self.pre_norm else self.norm(y)


class EncoderLayer(nn.Module):
    """Self-attention, then feed-forward."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, attention_dropout: float, pre_norm: bool):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, attention_dropout)
        self.feed_forward = FeedForward(d_model, d_ff)
        self.attn_residual = Residual(d_model, dropout, pre_norm)
        self.ff_residual = Residual(d_model, dropout, pre_norm)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, head_gate: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, S, D), mask (B, 1, 1, S) -> (B, S, D) and self-attention weights (B, H, S, S)."""
        h = self.attn_residual.input(x)
        attended, weights = self.self_attn(h, h, mask, head_gate)
        x = self.attn_residual.output(x, attended)
        x = self.ff_residual.output(x, self.feed_forward(self.ff_residual.input(x)))
        return x, weights


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder attention, then feed-forward (§3.1)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, attention_dropout: float, pre_norm: bool):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, attention_dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, attention_dropout)
        self.feed_forward = FeedForward(d_model, d_ff)
        self.self_residual = Residual(d_model, dropout, pre_norm)
        self.cross_residual = Residual(d_model, dropout, pre_norm)
        self.ff_residual = Residual(d_model, dropout, pre_norm)

    def forward(
        self,
        x: torch.Tensor,
        cross_kv: KV,
        self_mask: torch.Tensor | None,
        cross_mask: torch.Tensor,
        past_kv: KV | None = None,
        head_gates: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None),
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, KV]:
        """x (B, T, D) holds the new target positions; past_kv the self-attention keys/values
        of earlier positions (incremental decoding), cross_kv the projected encoder output.

        Returns x (B, T, D), self-attention weights (B, H, T, T_past+T), cross-attention
        weights (B, H, T, S), and the self-attention keys/values of all positions so far.
        """
        h = self.self_residual.input(x)
        k, v = self.self_attn.project_kv(h)
        if past_kv is not None:
            k, v = torch.cat([past_kv[0], k], dim=2), torch.cat([past_kv[1], v], dim=2)
        attended, self_weights = self.self_attn.attend(h, k, v, self_mask, head_gates[0])
        x = self.self_residual.output(x, attended)

        h = self.cross_residual.input(x)
        attended, cross_weights = self.cross_attn.attend(h, *cross_kv, cross_mask, head_gates[1])
        x = self.cross_residual.output(x, attended)

        x = self.ff_residual.output(x, self.feed_forward(self.ff_residual.input(x)))
        return x, self_weights, cross_weights, (k, v)
