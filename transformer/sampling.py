"""Sampling, beside greedy decoding and beam search: at every step the next token is drawn from
the model's distribution reshaped by a temperature (log-probabilities divided by it: below 1
sharper, above 1 flatter, 0 is greedy), cut to the top_k most probable tokens and to the smallest
set whose probability reaches top_p (nucleus sampling, Holtzman et al., 2020). Seeded: the same
settings give the same translation."""

from dataclasses import dataclass

import torch

from .decoding import next_token_log_probs
from .model import Transformer


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_k: int | None = None  # None: every token
    top_p: float | None = None  # None: no nucleus cut
    seed: int = 0

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, not {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, not {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], not {self.top_p}")


def sampling_probs(log_probs: torch.Tensor, settings: Sampling) -> torch.Tensor:
    """(N, V) log-probabilities -> the (N, V) distribution sampling draws from: tempered, cut to
    top_k and top_p, renormalised. Temperature 0 puts all the mass on the most probable token."""
    if settings.temperature == 0:
        return torch.nn.functional.one_hot(log_probs.argmax(dim=-1), log_probs.size(-1)).to(log_probs.dtype)
    probs = (log_probs / settings.temperature).softmax(dim=-1)
    ordered, order = probs.sort(dim=-1, descending=True)
    keep = torch.ones_like(ordered, dtype=torch.bool)
    if settings.top_k is not None:
        keep[:, settings.top_k :] = False
    if settings.top_p is not None:
        before = ordered.cumsum(dim=-1) - ordered  # the mass of the more probable tokens
        keep &= before < settings.top_p  # the most probable token always stays
    kept = torch.zeros_like(probs).scatter(-1, order, ordered * keep)
    return kept / kept.sum(dim=-1, keepdim=True)


@torch.no_grad()
def sample_decode(model: Transformer, src_ids: torch.Tensor, max_len: int, settings: Sampling) -> list[int]:
    """One sentence src_ids (1, S) -> the sampled output ids (ending in EOS unless max_len, or the
    positions the model has, cut it)."""
    if src_ids.size(0) != 1:
        raise ValueError(f"sample_decode takes one sentence, not {src_ids.size(0)}")
    config = model.config
    max_len = min(max_len, config.max_len)
    generator = torch.Generator(device=src_ids.device).manual_seed(settings.seed)
    memory, src_mask, _ = model.encode(src_ids, need_weights=False)
    state = model.start_decoding(memory, src_mask)
    step_input = torch.full((1, 1), config.bos_id, dtype=torch.long, device=src_ids.device)
    output: list[int] = []
    for _ in range(max_len):
        logits, state, _, _ = model.decode(step_input, state, need_weights=False)
        probs = sampling_probs(next_token_log_probs(model, logits[:, -1]), settings)
        token = torch.multinomial(probs, 1, generator=generator)  # (1, 1)
        output.append(int(token))
        if output[-1] == config.eos_id:
            break
        step_input = token
    return output


@torch.no_grad()
def step_distributions(
    model: Transformer, src_ids: torch.Tensor, output_ids: list[int], settings: Sampling
) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced on output_ids (a sampled output of one sentence src_ids (1, S)): every
    step's (T, V) next-token distribution at temperature 1, the model's own, and the one sampling
    with settings drew from."""
    decoder_input = torch.tensor([[model.config.bos_id, *output_ids[:-1]]], device=src_ids.device)
    log_probs = next_token_log_probs(model, model(src_ids, decoder_input)[0])
    return log_probs.exp(), sampling_probs(log_probs, settings)


def top_tokens(model_probs: torch.Tensor, sampled_probs: torch.Tensor, chosen: int, k: int = 5) -> list[tuple]:
    """One step's k most probable tokens as (id, model probability, sampling probability), best
    first, and the chosen token after them if it is not among them. Temperature keeps the order
    of the tokens, so the model's top k are also the sampling distribution's."""
    ids = model_probs.topk(min(k, model_probs.numel())).indices.tolist()
    if chosen not in ids:
        ids.append(chosen)
    return [(i, float(model_probs[i]), float(sampled_probs[i])) for i in ids]
