"""What training minimises and at what pace: label-smoothed cross-entropy (§5.4) and the
learning-rate schedule with warm-up (§5.3, Eq. 3). transformer.training runs them."""

import torch


def learning_rate(step: int, d_model: int, warmup: int, scale: float = 1.0) -> float:
    """lrate = scale * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)  (§5.3, Eq. 3); step >= 1."""
    step = max(step, 1)
    return scale * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def label_smoothed_loss(
    logits: torch.Tensor, target: torch.Tensor, smoothing: float, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cross-entropy against (1 - eps) * one_hot + eps * uniform (§5.4), summed over non-pad targets.

    logits (B, T, V), target (B, T) -> (smoothed loss sum, plain NLL sum, number of tokens).
    """
    log_probs = logits.float().log_softmax(dim=-1)  # (B, T, V)
    nll = -log_probs.gather(-1, target[..., None])[..., 0]  # (B, T)
    uniform = -log_probs.mean(dim=-1)  # cross-entropy against the uniform distribution
    keep = target != pad_id
    loss = (1 - smoothing) * nll + smoothing * uniform
    return loss[keep].sum(), nll[keep].sum(), keep.sum()
