"""OneRowLinear: nn.Linear with faster products for the single row a decoding step multiplies on the CPU.

Decoding one sentence feeds one token per step, so every projection multiplies one row by its whole
weight. Once the weights no longer fit in the cache, that product is bound by reading them, and MKL
reads them on one core for one row. OneRowLinear reads them on every core torch uses instead:
  - a weight stored by rows: multiply it elementwise by the row, then sum each output's inputs;
  - a weight stored by columns (the output layer, speed.output_layer_by_columns): one product
    per core, each with its share of the columns, as one batched product.
Anything else (two rows and more, other dtypes, the GPU, autocast) is nn.Linear's own product. The
elementwise way makes an (out, in) temporary at every call, which glibc would page-fault back in every
time without transformer.allocator's setting (the CLI and the app make it). Applied by
transformer.speed.speed_up; the figures are in docs/speed.md.
"""

from functools import cache

import torch
import torch.nn.functional as F
from torch import nn


class OneRowLinear(nn.Linear):
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
