"""Gradient attribution of each output token to the source tokens, to set beside attention.

Attention weights say where a head looked, not what the output depends on (Jain & Wallace, 2019;
Wiegreffe & Pinter, 2019). A gradient answers the second question directly:

- **gradient × input** (Simonyan et al., 2014; Shrikumar et al., 2016): ∂f/∂x_s · x_s, the
  first-order Taylor estimate of how f changes when source token s is replaced by the baseline;
- **integrated gradients** (Sundararajan et al., 2017, Eq. 1): (x - x') · ∫₀¹ ∂f(x' + α(x - x'))/∂x dα,
  gradient × input averaged along the straight path from a baseline x' to x. Its attributions
  sum to f(x) - f(x') exactly ("completeness", Proposition 1 there); the integral is the Riemann
  sum of Eq. 3 at the midpoints of `steps` equal intervals, and how far the sum is from
  f(x) - f(x') is returned with the result. A trained model's f can turn sharply along the path
  (the toy model decides within a few hundredths of it), so it may need hundreds of steps.

Choices, each the common one for a translation model:
- x: the source *token embeddings* × √d_model (§3.4), before the positional encoding is added:
  a token's identity is what is attributed, its position stays in place;
- x': zero embeddings, which is also PAD's embedding (its row is zero and gets no gradient), so
  the baseline is "every token replaced by padding, positions and mask unchanged";
- f_t: log P(y_t | y_<t, x), each output token's log-probability under teacher forcing;
- per source token, the attribution is summed over the embedding dimension (a dot product):
  signed, so that the rows of integrated gradients sum to f(x) - f(x'), and so that the two
  methods are the same quantity (gradient × input is the one-point version of the integral).
"""

from dataclasses import dataclass

import torch

from .analysis import source_relevance
from .decoding import next_token_log_probs
from .masks import padding_mask
from .model import Transformer

DEFAULT_STEPS = 128  # Riemann steps: within 1 % on random models and most en-de sentences, not the toy
MAX_BATCH_ROWS = 256  # sentences per forward pass: every output token at several path points


@dataclass
class Attribution:
    """Attributions of one translation: rows = output tokens (T), columns = source tokens (S)."""

    gradient_x_input: torch.Tensor  # (T, S) ∂f_t/∂x_s · x_s
    integrated_gradients: torch.Tensor  # (T, S) signed; each row sums to output_change
    output_change: torch.Tensor  # (T,) f_t(x) - f_t(baseline)
    steps: int  # Riemann steps of the integral

    @property
    def completeness_error(self) -> float:
        """How far the integrated gradients are from summing to the change they explain
        (Sundararajan et al., Proposition 1): the largest gap over the output tokens,
        |Σ_s IG_ts - Δf_t|, as a share of the mean |Δf_t|. Not of each token's own |Δf_t|: a
        token whose log-probability barely moves would turn a negligible gap into a large share."""
        gap = (self.integrated_gradients.sum(dim=-1) - self.output_change).abs()
        return (gap.max() / self.output_change.abs().mean().clamp_min(1e-6)).item()


def output_log_probs(
    model: Transformer, src_embeddings: torch.Tensor, src_ids: torch.Tensor, decoder_input: torch.Tensor
) -> torch.Tensor:
    """The model with its source embeddings given instead of looked up: src_embeddings (B, S, D)
    (token embeddings × √d_model, as model.src_embed returns them), src_ids (B, S) only for the
    padding mask, decoder_input (B, T) -> log-probabilities (B, T, V) of the next target token.

    The model's own modules, in the order of Transformer.encode and Transformer.forward, so that
    gradients can reach the embeddings."""
    src_mask = padding_mask(src_ids, model.config.pad_id)  # (B, 1, 1, S)
    x = model.positional(src_embeddings)
    for layer in model.encoder_layers:
        x, _ = layer(x, src_mask, need_weights=False)
    logits, _, _ = model.decode_all(decoder_input, model.encoder_norm(x), src_mask, need_weights=False)
    return next_token_log_probs(model, logits.flatten(0, 1)).view(*logits.shape)  # (B, T, V)


def _output_gradients(
    model: Transformer, embeddings: torch.Tensor, src_ids: torch.Tensor, decoder_input: torch.Tensor, output_ids
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each of N source embeddings (N, S, D) and each output token t: f_t and ∂f_t/∂x.
    Returns (N, T) values and (N, T, S, D) gradients. Every (embedding, t) pair is its own row of
    one batch: the rows do not interact (eval mode), so one backward pass of the summed f gives
    each row's own gradient."""
    n, length = embeddings.size(0), output_ids.size(0)
    rows = embeddings.repeat_interleave(length, dim=0).detach().requires_grad_(True)  # (N·T, S, D)
    log_probs = output_log_probs(
        model, rows, src_ids.expand(n * length, -1), decoder_input.expand(n * length, -1)
    )  # (N·T, T, V)
    position = torch.arange(length, device=rows.device).repeat(n)  # row r explains output token r mod T
    chosen = log_probs[torch.arange(n * length), position, output_ids[position]]  # (N·T,)
    [gradients] = torch.autograd.grad(chosen.sum(), [rows])
    return chosen.detach().view(n, length), gradients.view(n, length, *embeddings.shape[1:])


def attribute(model: Transformer, src_ids: list[int], output_ids: list[int], steps: int = DEFAULT_STEPS) -> Attribution:
    """Gradient × input and integrated gradients of every output token's log-probability with
    respect to the source token embeddings, for one sentence and its translation output_ids
    (y_1 .. y_n and EOS, as Translation.output_ids); the integral in `steps` Riemann steps."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    config, device = model.config, model.src_embed.weight.device
    source = torch.tensor([src_ids], device=device)  # (1, S)
    decoder_input = torch.tensor([[config.bos_id, *output_ids[:-1]]], device=device)  # (1, T)
    outputs = torch.tensor(output_ids, device=device)  # (T,)
    with torch.enable_grad():
        embeddings = model.src_embed(source).detach()  # (1, S, D)
        baseline = torch.zeros_like(embeddings)  # PAD's embedding, at every position
        ends, gradient_at_input = _output_gradients(
            model, torch.cat([baseline, embeddings]), source, decoder_input, outputs
        )
        alphas = (torch.arange(steps, device=device) + 0.5) / steps  # interval midpoints
        path_gradient = torch.zeros_like(gradient_at_input[1])  # (T, S, D): ∫ ∂f/∂x dα
        chunk = max(1, MAX_BATCH_ROWS // len(output_ids))
        for alpha in alphas.split(chunk):
            points = baseline + alpha[:, None, None] * (embeddings - baseline)  # (k, S, D)
            _, gradients = _output_gradients(model, points, source, decoder_input, outputs)
            path_gradient += gradients.sum(dim=0) / steps
    difference = (embeddings - baseline)[0]  # (S, D)
    return Attribution(
        gradient_x_input=(gradient_at_input[1] * embeddings[0]).sum(dim=-1),
        integrated_gradients=(path_gradient * difference).sum(dim=-1),
        output_change=ends[1] - ends[0],
        steps=steps,
    )


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rank correlation of each row of a with the same row of b, both (..., N) -> (...):
    Pearson's correlation of the ranks, tied values given their average rank; NaN for a row
    whose values are all equal (its ranks do not vary)."""

    def ranks(values: torch.Tensor) -> torch.Tensor:
        # Rank from 1: the values below, plus the middle of the run of equal values.
        below = (values[..., None, :] < values[..., :, None]).sum(dim=-1)
        equal = (values[..., None, :] == values[..., :, None]).sum(dim=-1)
        return (below + (equal + 1) / 2).double()

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(dim=-1, keepdim=True), rb - rb.mean(dim=-1, keepdim=True)
    return (ra * rb).sum(dim=-1) / (ra.norm(dim=-1) * rb.norm(dim=-1))


def rank_agreement(
    saliency: torch.Tensor, cross_attention: torch.Tensor, encoder_attention: torch.Tensor
) -> dict[str, torch.Tensor]:
    """How far attention ranks the source tokens as an attribution does, per output token:
    Spearman's correlation of |saliency| (T, S) (how much a token matters, either way) with the
    last decoder layer's head-averaged cross-attention, and with that layer's rollout relevance
    (transformer.analysis.source_relevance), from cross (L_dec, H, T, S) and encoder (L, H, S, S)
    attention. Returns {"attention": (T,), "rollout": (T,)}."""
    last_layer = cross_attention[-1].mean(dim=0)  # (T, S)
    relevance = source_relevance(cross_attention, encoder_attention)[-1]  # (T, S)
    magnitude = saliency.abs()
    return {"attention": spearman(magnitude, last_layer), "rollout": spearman(magnitude, relevance)}
