"""What the attention maps say: rollout, per-head statistics, head ablation and importance,
alignments. Pure functions of tensors (and of a Translator where the model must run again).

Shapes follow `Translation.attention`: encoder (L, H, S, S), decoder (L, H, T, T), cross (L, H, T, S).
"""

import unicodedata

import torch

from .model import ATTENTION_KINDS, HeadGates
from .training import collate, encode_pairs, label_smoothed_loss
from .translator import Translation, Translator


# -- attention rollout (Abnar & Zuidema, 2020) ------------------------------------------------
def attention_rollout(encoder_attention: torch.Tensor) -> torch.Tensor:
    """(L, H, S, S) encoder self-attention -> (L, S, S) rollout after each layer.

    Each layer's head-averaged map is mixed with the identity for the residual connection,
    0.5 A + 0.5 I, rows renormalised, and multiplied through the layers:
    R_1 = Â_1, R_l = Â_l R_{l-1}. Row i of R_l says how much each input token flowed into
    position i after layer l.
    """
    layers, _, size, _ = encoder_attention.shape
    identity = torch.eye(size, dtype=encoder_attention.dtype)
    rollout, result = identity, []
    for layer in range(layers):
        mixed = 0.5 * encoder_attention[layer].mean(dim=0) + 0.5 * identity
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        rollout = mixed @ rollout
        result.append(rollout)
    return torch.stack(result)


def source_relevance(cross_attention: torch.Tensor, encoder_attention: torch.Tensor) -> torch.Tensor:
    """(L_dec, T, S): for every decoder layer, its head-averaged cross-attention composed with the
    full encoder rollout, i.e. how much each *input token* (not encoder position) each target
    step drew on."""
    rollout = attention_rollout(encoder_attention)[-1]  # (S, S)
    return cross_attention.mean(dim=1) @ rollout


# -- per-head statistics ----------------------------------------------------------------------
def attention_entropy(attention: torch.Tensor) -> torch.Tensor:
    """(..., T_q, T_k) -> (...): mean over queries of -sum_k p log p, in nats."""
    p = attention.clamp_min(1e-12)
    return -(attention * p.log()).sum(dim=-1).mean(dim=-1)


def mean_attention_distance(attention: torch.Tensor) -> torch.Tensor:
    """(..., T_q, T_k) -> (...): mean over queries of sum_k p_qk |q - k|, in positions."""
    t_q, t_k = attention.shape[-2:]
    distance = (torch.arange(t_q)[:, None] - torch.arange(t_k)[None, :]).abs().to(attention.dtype)
    return (attention * distance).sum(dim=-1).mean(dim=-1)


def is_punctuation_or_eos(token: str) -> bool:
    """True for "</s>" and for tokens made only of punctuation (after the "▁" word marker)."""
    text = token.replace("▁", "")
    return token == "</s>" or (bool(text) and all(unicodedata.category(ch).startswith("P") for ch in text))


def weight_on(attention: torch.Tensor, key_tokens: list[str]) -> torch.Tensor:
    """(..., T_q, T_k) -> (...): the mean share of each query's weight on EOS/punctuation keys."""
    mask = torch.tensor([is_punctuation_or_eos(t) for t in key_tokens], dtype=attention.dtype)
    return (attention * mask).sum(dim=-1).mean(dim=-1)


def head_statistics(result: Translation) -> dict[str, dict[str, torch.Tensor]]:
    """kind -> {"entropy", "distance", "eos_punct"}, each (L, H), for one translation."""
    keys = {"encoder": result.source_tokens, "decoder": result.target_tokens, "cross": result.source_tokens}
    return {
        kind: {
            "entropy": attention_entropy(maps),
            "distance": mean_attention_distance(maps),
            "eos_punct": weight_on(maps, keys[kind]),
        }
        for kind, maps in result.attention.items()
    }


def average_statistics(results: list[Translation]) -> dict[str, dict[str, torch.Tensor]]:
    """head_statistics averaged over several translations (empty ones skipped)."""
    stats = [head_statistics(r) for r in results if r.source_tokens]
    if not stats:
        raise ValueError("no non-empty translation to average")
    return {
        kind: {name: torch.stack([s[kind][name] for s in stats]).mean(0) for name in stats[0][kind]}
        for kind in stats[0]
    }


# -- ablation and importance ------------------------------------------------------------------
def head_gates(translator: Translator, disabled: dict[str, list[tuple[int, int]]] | None = None) -> HeadGates:
    """Gates of 1 for every head, 0 for the (layer, head) pairs listed per kind in `disabled`."""
    c = translator.config
    layers = {"encoder": c.n_encoder_layers, "decoder": c.n_decoder_layers, "cross": c.n_decoder_layers}
    gates = {kind: torch.ones(layers[kind], c.n_heads) for kind in ATTENTION_KINDS}
    for kind, heads in (disabled or {}).items():
        for layer, head in heads:
            gates[kind][layer, head] = 0.0
    return gates


def sequence_log_prob(translator: Translator, result: Translation, gates: HeadGates | None = None) -> float:
    """log P(result's output | its source) under the model with the given head gates."""
    return translator.explain(result.source_ids, result.output_ids, gates).log_prob


def head_importance(
    translator: Translator, pairs: list[tuple[str, str]], batch_size: int = 32, progress=None
) -> dict[str, torch.Tensor]:
    """Michel et al. (2019): I_h = E_x |dL(x)/d xi_h|, the expected absolute gradient of the
    loss with respect to a gate xi_h = 1 on each head's output, over (source, reference) pairs.
    Returns kind -> (L, H), normalised per layer kind by its L2 norm as in the paper."""
    model, c = translator.model, translator.config
    examples = encode_pairs(translator.tokenizer, pairs, c.max_len)
    gates = {kind: g.requires_grad_(True) for kind, g in head_gates(translator).items()}
    totals = {kind: torch.zeros_like(g) for kind, g in gates.items()}
    for start in range(0, len(examples), batch_size):
        for i in range(start, min(start + batch_size, len(examples))):
            src, tgt = collate(examples, [i], c.pad_id, "cpu")
            logits, _ = model.forward_with_attention(src, tgt[:, :-1], gates)
            loss, _, count = label_smoothed_loss(logits, tgt[:, 1:], 0.0, c.pad_id)
            grads = torch.autograd.grad(loss / count, list(gates.values()))
            for kind, grad in zip(gates, grads):
                totals[kind] += grad.abs()
        if progress:
            progress(min(start + batch_size, len(examples)) / len(examples))
    importance = {kind: total / max(len(examples), 1) for kind, total in totals.items()}
    return {kind: imp / imp.norm().clamp_min(1e-12) for kind, imp in importance.items()}


# -- alignment --------------------------------------------------------------------------------
def alignment(result: Translation, layer: int, shifted: bool = False) -> torch.Tensor:
    """(n, S) source alignment of each output word y_1..y_n (EOS excluded), from the
    head-averaged cross-attention of one decoder layer.

    Standard reading: y_i is aligned by the step that *predicted* it (decoder row i-1).
    Shift-Att (Chen et al., 2020): by the step where y_i is the decoder *input* (row i), which
    often aligns better because the decoder has seen the word.
    """
    cross = result.attention["cross"][layer].mean(dim=0)  # (T, S)
    words = len(result.target_tokens) - 1  # y_1..y_n are the decoder inputs after <s>
    if shifted:
        return cross[1 : 1 + words]
    return cross[:words]


def argmax_links(aligned: torch.Tensor) -> list[tuple[int, int]]:
    """(n, S) alignment -> [(target word index, source position)] by the largest weight per row."""
    return list(enumerate(aligned.argmax(dim=-1).tolist()))
