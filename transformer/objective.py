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
    loss, nll = smoothed_nll(logits.float().log_softmax(dim=-1), target, smoothing)  # (B, T) each
    keep = target != pad_id
    return loss[keep].sum(), nll[keep].sum(), keep.sum()


def smoothed_target(target: torch.Tensor, vocab_size: int, smoothing: float) -> torch.Tensor:
    """The distribution a token is trained towards (§5.4): (1 - eps) on the right token plus eps / V
    on every token, (..., V). smoothed_nll is the cross-entropy against it."""
    return torch.nn.functional.one_hot(target, vocab_size) * (1 - smoothing) + smoothing / vocab_size


def smoothed_nll(log_probs: torch.Tensor, target: torch.Tensor, smoothing: float) -> tuple[torch.Tensor, torch.Tensor]:
    """log_probs (..., V), target (...) -> the label-smoothed loss and the plain NLL at each position."""
    nll = -log_probs.gather(-1, target[..., None])[..., 0]
    uniform = -log_probs.mean(dim=-1)  # cross-entropy against the uniform distribution
    return (1 - smoothing) * nll + smoothing * uniform, nll


CHUNK_LOGITS = 2**23  # logits per chunk (32 MB in fp32): 512 to 1,024 rows of 8,000 were fastest here


class _OutputLayerLoss(torch.autograd.Function):
    """Output layer and label-smoothed cross-entropy, one chunk of rows at a time.

    d loss / d logits = softmax - smoothed one-hot, so each chunk's gradients are made as soon
    as its log-probabilities are, and the (N, V) logits never exist whole: at the recipes'
    4,096-token batches they are 131 MB, and making, normalising and differentiating them took
    longer than the three matrix products around them.
    """

    @staticmethod
    def forward(ctx, hidden, weight, target, smoothing, needs_grad):
        # hidden (N, D) at non-pad targets, weight (V, D), target (N,)
        device = hidden.device.type
        autocasting = torch.is_autocast_enabled(device)  # bf16 training: bf16 products, fp32 softmax
        mm_dtype = torch.get_autocast_dtype(device) if autocasting else hidden.dtype
        rows = max(1, CHUNK_LOGITS // weight.size(0))
        h, w = hidden.to(mm_dtype), weight.to(mm_dtype)
        loss, nll = hidden.new_zeros((), dtype=torch.float32), hidden.new_zeros((), dtype=torch.float32)
        grad_h = torch.empty(hidden.shape, dtype=mm_dtype, device=hidden.device) if needs_grad else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if needs_grad else None
        with torch.autocast(device, enabled=False):
            for start in range(0, h.size(0), rows):
                h_chunk, t_chunk = h[start : start + rows], target[start : start + rows]
                log_probs = (h_chunk @ w.t()).float().log_softmax(dim=-1)  # (C, V)
                chunk_loss, chunk_nll = smoothed_nll(log_probs, t_chunk, smoothing)  # (C,) each
                loss += chunk_loss.sum()
                nll += chunk_nll.sum()
                if needs_grad:
                    grad = log_probs.exp_().sub_(smoothing / weight.size(0))  # softmax - eps / V ...
                    at_target = torch.full((len(t_chunk), 1), smoothing - 1, device=grad.device)
                    grad.scatter_add_(1, t_chunk[:, None], at_target)  # ... - (1 - eps) one-hot
                    grad = grad.to(mm_dtype)
                    torch.mm(grad, w, out=grad_h[start : start + rows])
                    grad_w += grad.t() @ h_chunk  # (V, D), summed in fp32
        ctx.save_for_backward(grad_h, grad_w)
        ctx.dtypes = hidden.dtype, weight.dtype
        ctx.mark_non_differentiable(nll)
        return loss, nll

    @staticmethod
    def backward(ctx, grad_loss, _):
        grad_h, grad_w = ctx.saved_tensors
        h_dtype, w_dtype = ctx.dtypes
        return (grad_h * grad_loss).to(h_dtype), (grad_w * grad_loss).to(w_dtype), None, None, None


def output_layer_loss(
    hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, smoothing: float, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """label_smoothed_loss(hidden @ weight.T, target, ...) without making the logits: the same
    (smoothed loss sum, NLL sum, number of tokens), computed for the non-pad targets only.

    hidden (B, T, D) the decoder's output, weight (V, D) the output layer's, target (B, T).
    """
    keep = target != pad_id
    needs_grad = torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad)
    loss, nll = _OutputLayerLoss.apply(hidden[keep], weight, target[keep], smoothing, needs_grad)
    return loss, nll, keep.sum()
