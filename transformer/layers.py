"""Encoder and decoder layers (§3.1): attention and feed-forward sub-layers, each wrapped in
a residual connection with layer normalisation."""

from typing import NamedTuple

import torch
from torch import nn

from .attention import MultiHeadAttention
from .config import ModelConfig

KV = tuple[torch.Tensor, torch.Tensor]  # keys and values, each (B, H, T, d_k)


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W1 + b1) W2 + b2, applied to each position alike (§3.3, Eq. 2)."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.w1 = nn.Linear(d_model, d_ff)
        self.w2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Not relu_: in place on the view a linear layer returns for 3-D input, autograd copies the whole
        # (B, T, d_ff) activation back and forth in the backward pass (1-2 % of a training step).
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


class KVCache(NamedTuple):
    """A decoder layer's self-attention keys and values, preallocated for `capacity` positions and
    written in place as decoding advances (no torch.cat per step). Positions past the decoded
    length hold garbage and are never read."""

    keys: torch.Tensor  # (B, H, capacity, d_k)
    values: torch.Tensor  # (B, H, capacity, d_k)

    def extend(self, k: torch.Tensor, v: torch.Tensor, start: int) -> KV:
        """Write k, v (B, H, T, d_k) at positions start..start+T-1; return all positions so far."""
        end = start + k.size(2)
        if end > self.keys.size(2):
            raise ValueError(f"the key/value cache holds {self.keys.size(2)} positions; decoding reached {end}")
        self.keys[:, :, start:end] = k
        self.values[:, :, start:end] = v
        return self.keys[:, :, :end], self.values[:, :, :end]

    def select(self, index: torch.Tensor, length: int) -> "KVCache":
        """The rows `index` (B',) of the cache, same capacity, only its first `length` (written)
        positions copied: the rest is never read."""
        keys, values = (t.new_empty((len(index), *t.shape[1:])) for t in self)
        keys[:, :, :length] = self.keys[:, :, :length].index_select(0, index)
        values[:, :, :length] = self.values[:, :, :length].index_select(0, index)
        return KVCache(keys, values)


class EncoderLayer(nn.Module):
    """Self-attention, then feed-forward."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(config.d_model, config.n_heads, config.attention_dropout)
        self.feed_forward = FeedForward(config.d_model, config.d_ff)
        self.attn_residual = Residual(config.d_model, config.dropout, config.pre_norm)
        self.ff_residual = Residual(config.d_model, config.dropout, config.pre_norm)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, head_gate: torch.Tensor | None = None, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, S, D), mask (B, 1, 1, S) -> (B, S, D) and self-attention weights (B, H, S, S)
        (None without need_weights)."""
        h = self.attn_residual.input(x)
        attended, weights = self.self_attn(h, h, mask, head_gate, need_weights)
        x = self.attn_residual.output(x, attended)
        x = self.ff_residual.output(x, self.feed_forward(self.ff_residual.input(x)))
        return x, weights


class DecoderLayerOutput(NamedTuple):
    hidden: torch.Tensor  # (B, T, D)
    self_weights: torch.Tensor | None  # (B, H, T, T_past + T)
    cross_weights: torch.Tensor | None  # (B, H, T, S)


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder attention, then feed-forward (§3.1)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.self_attn = MultiHeadAttention(config.d_model, config.n_heads, config.attention_dropout)
        self.cross_attn = MultiHeadAttention(config.d_model, config.n_heads, config.attention_dropout)
        self.feed_forward = FeedForward(config.d_model, config.d_ff)
        self.self_residual = Residual(config.d_model, config.dropout, config.pre_norm)
        self.cross_residual = Residual(config.d_model, config.dropout, config.pre_norm)
        self.ff_residual = Residual(config.d_model, config.dropout, config.pre_norm)

    def forward(
        self,
        x: torch.Tensor,
        cross_kv: KV,
        self_mask: torch.Tensor | None,
        cross_mask: torch.Tensor,
        cache: KVCache | None = None,
        start: int = 0,
        head_gates: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None),
        need_weights: bool = True,
    ) -> DecoderLayerOutput:
        """x (B, T, D) holds the target positions start..start+T-1; cross_kv the projected encoder
        output. With a cache (incremental decoding) the new self-attention keys/values are written
        into it and the queries see every cached position; without one, only the T given ones."""
        h = self.self_residual.input(x)
        k, v = self.self_attn.project_kv(h)
        if cache is not None:
            k, v = cache.extend(k, v, start)
        attended, self_weights = self.self_attn.attend(h, k, v, self_mask, head_gates[0], need_weights)
        x = self.self_residual.output(x, attended)

        h = self.cross_residual.input(x)
        attended, cross_weights = self.cross_attn.attend(h, *cross_kv, cross_mask, head_gates[1], need_weights)
        x = self.cross_residual.output(x, attended)

        x = self.ff_residual.output(x, self.feed_forward(self.ff_residual.input(x)))
        return DecoderLayerOutput(x, self_weights, cross_weights)
