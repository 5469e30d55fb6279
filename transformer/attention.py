"""Scaled dot-product attention (Eq. 1) and multi-head attention (§3.2.2).

Attention weights are *returned*, never stored on the module, so one model can serve many
concurrent callers (the app) without one request's maps leaking into another's.

Two paths compute the same thing. `scaled_dot_product_attention` below is the reference: Eq. 1
written out, returning the weights every figure of the app shows. When no caller needs the
weights (training, batch translation, scoring), `MultiHeadAttention.attend` uses PyTorch's fused
`torch.nn.functional.scaled_dot_product_attention` instead, which never materialises them, where
it is the faster of the two: not for a single query (a decoding step), and on the CPU not for
short sequences, the sentences this project translates.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import check_heads


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout: nn.Dropout | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(d_k)) V  (Eq. 1).

    q: (B, H, T_q, d_k), k and v: (B, H, T_k, d_k), mask: True where allowed, broadcastable
    to (B, H, T_q, T_k). Returns the output (B, H, T_q, d_k) and the weights (B, H, T_q, T_k).
    `dropout` (training) applies to the weights that multiply V; the returned weights are the
    ones before dropout, the map the model means.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T_q, T_k)
    if mask is not None:
        # -inf gives exactly zero weight after softmax, so masked keys contribute nothing.
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    mixing = weights if dropout is None else dropout(weights)
    return mixing @ v, weights


# Where the written-out products beat the fused kernel (2 CPU cores, 4 heads of 64): one query
# (a decoding step) everywhere, 2x; on the CPU, up to 64 keys: forward and backward 1.3x at 32
# keys, 1.8x at 12, even at 64; from about 100 keys the kernel wins (1.1x at 128).
CPU_WRITTEN_OUT_KEYS = 64


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O, head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        check_heads(d_model, n_heads, "MultiHeadAttention")  # h heads of d_k = d_model / h each
        self.n_heads = n_heads
        self.d_k = d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape  # (B, T, D) -> (B, H, T, d_k)
        return x.view(b, t, self.n_heads, self.d_k).transpose(1, 2)

    def project_kv(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of source (B, T_k, D), each (B, H, T_k, d_k); cacheable."""
        return self.split_heads(self.k_proj(source)), self.split_heads(self.v_proj(source))

    def attend(
        self,
        query: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        head_gate: torch.Tensor | None = None,
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query (B, T_q, D) against projected k, v. head_gate (H,) scales each head's output
        before W^O (1 keeps a head, 0 removes it): used for ablation and head importance.
        need_weights=False takes the faster path for the shapes (CPU_WRITTEN_OUT_KEYS) and returns None
        for the weights."""
        q = self.split_heads(self.q_proj(query))  # (B, H, T_q, d_k)
        short = q.size(2) == 1 or (q.device.type == "cpu" and k.size(2) <= CPU_WRITTEN_OUT_KEYS)
        if need_weights or short:
            heads, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout if self.training else None)
            weights = weights if need_weights else None
        else:
            p = self.dropout.p if self.training else 0.0
            heads, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p), None
        if head_gate is not None:
            heads = heads * head_gate.view(1, -1, 1, 1)
        b, _, t, _ = heads.shape
        out = heads.transpose(1, 2).reshape(b, t, self.n_heads * self.d_k)  # (B, T_q, D)
        return self.out_proj(out), weights

    def forward(
        self,
        query: torch.Tensor,
        source: torch.Tensor,
        mask: torch.Tensor | None = None,
        head_gate: torch.Tensor | None = None,
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from query (B, T_q, D) to source (B, T_k, D): self-attention when they are
        the same tensor. Returns (B, T_q, D) and weights (B, H, T_q, T_k) (None without need_weights)."""
        return self.attend(query, *self.project_kv(source), mask, head_gate, need_weights)
