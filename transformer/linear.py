"""The linear layers of the model (§3.2.2's projections, §3.3's feed-forward, the output layer):
nn.Linear, with faster products for the single row a decoding step multiplies on the CPU.

Decoding one sentence feeds one token per step, so every projection multiplies one row by its
weight. At en-de's size those weights (19 MB) are read once per step and have left the cache by the
next, and MKL reads them back slowly for one row, on one core: a 1024 x 256 weight took 145 us
(7 GB/s), the 8000 x 256 output layer 180 us. Two ways to read them on every core torch uses:
  - a weight stored by rows: multiply it elementwise by the row, then sum each output's inputs
    (1024 x 256: 45 us, 3.2x; 256 x 256: 1.4x; 256 x 1024: 1.2x; weights out of cache);
  - a weight stored by columns (the output layer, precision.output_layer_by_columns): one product
    per core, each with its share of the columns, as one batched product (110 us, 1.6x).
Greedy decoding of one en-de sentence is 1.1-1.3x faster (the README's Speed section, issue #11).
A model small enough to stay in cache gains nothing: toy-reverse (d_model 128) decodes a sentence
in 9.6 instead of 8.6 ms. Two rows and more keep MKL's product: it reads the weight once for all of
them, the elementwise way once per row. The elementwise way makes an (out, in) temporary at every
call, which glibc would page-fault back in every time without transformer.allocator's setting (the
CLI and the app make it).
"""

from functools import cache

import torch
import torch.nn.functional as F
from torch import nn


class Linear(nn.Linear):
    """y = x W^T + b, as nn.Linear (same parameters and state dict)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b = self.weight, self.bias  # (out, in), (out,) or None
        # One fp32 row on the CPU, outside autocast: the case measured faster.
        one_row = x.numel() == w.size(1) and x.shape[-1:] == w.shape[1:] and x.is_cpu
        if not (one_row and x.dtype == w.dtype == torch.float32) or torch.is_autocast_enabled("cpu"):
            return F.linear(x, w, b)
        if w.is_contiguous():  # by rows: (out, in) products, summed per output
            y = torch.mul(w, x.reshape(1, -1)).sum(dim=-1)  # (out,)
        elif w.t().is_contiguous():  # by columns: a block of columns per core, one product each
            blocks = _column_blocks(w.size(0), torch.get_num_threads())
            columns = w.t().view(w.size(1), blocks, -1).transpose(0, 1)  # (blocks, in, out / blocks)
            y = torch.bmm(x.reshape(1, 1, -1).expand(blocks, 1, -1), columns).view(-1)  # (out,)
        else:
            return F.linear(x, w, b)
        if b is not None:
            y = y + b
        return y.view(*x.shape[:-1], -1)


@cache  # asked at every decoding step with the same two numbers
def _column_blocks(columns: int, threads: int) -> int:
    """The most equal blocks, at most one per thread, that `columns` splits into."""
    return next(blocks for blocks in range(threads, 0, -1) if columns % blocks == 0)
