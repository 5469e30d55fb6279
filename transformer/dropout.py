"""SixteenBitDropout: dropout (Srivastava et al., 2014) as the paper applies it (§5.4), its keep-mask drawn cheaper.

Like nn.Dropout, it zeroes each element with probability p during training and scales the survivors
by 1 / (1 - p), so the expected value is unchanged and evaluation needs no rescaling. A mask needs one
uniform draw per element, and 16 random bits are plenty for one: each 64-bit random integer gives four
draws, where torch.rand spends 32 bits of fp32 per element. So p is rounded to a multiple of 1/65,536
(0.1 becomes 0.100006), and the survivors are scaled by 1 / (1 - that p), which keeps the mean exactly.
Applied by transformer.speed.speed_up; the figures are in docs/speed.md.
"""

import torch
from torch import nn

DRAW_STATES = 1 << 16  # values one 16-bit draw takes


def dropped_draws(p: float) -> int:
    """How many of the DRAW_STATES values of a draw drop an element: p rounded to a multiple of 1 / DRAW_STATES."""
    return round(p * DRAW_STATES)


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """True with probability 1 - dropped_draws(p) / DRAW_STATES, drawn 16 bits at a time."""
    dropped = dropped_draws(p)
    if dropped >= DRAW_STATES:  # nothing kept (and the threshold below would not fit in int16)
        return torch.zeros(shape, dtype=torch.bool, device=device)
    n = shape.numel()
    # Uniform over all 64 bits: random_() without a range never sets the top bit.
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    draws = words.view(torch.int16)[:n].view(shape)  # each uniform in [-32768, 32767]
    return draws >= dropped - DRAW_STATES // 2


class SixteenBitDropout(nn.Dropout):
    """nn.Dropout with the same semantics (and p, train/eval), its mask drawn by keep_mask."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        kept = DRAW_STATES - dropped_draws(self.p)
        return x * keep_mask(x.shape, self.p, x.device) * (DRAW_STATES / kept if kept else 0.0)
