"""What the model does, taken apart: attention rollout, per-head statistics, head ablation and
importance, alignments, and the teaching views (one head's attention step by step, embeddings
and positional encodings, parameter counts). Pure functions of tensors, or of a model run again.

Shapes follow `Translation.attention`: encoder (L, H, S, S), decoder (L, H, T, T), cross (L, H, T, S).
"""

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from .checkpoint import IMPORTANCE_FILE, CheckpointError, read_json, write_json
from .data import collate, encode_pairs
from .embeddings import sinusoidal_table
from .evaluation import score
from .inside import inside_layer
from .model import ATTENTION_KINDS, HeadGates, Transformer
from .objective import label_smoothed_loss
from .translator import Translation, Translator

DEV_SENTENCES = 20  # of a dev sample: stable averages, a second or two to translate greedily


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


def dev_translations(translator: Translator, pairs: list[tuple[str, str]]) -> list[Translation]:
    """Greedy translations of the first DEV_SENTENCES sources of a dev sample: what every average
    "over the dev sample" is taken on (the Analysis page's grids, the head a page opens on, the
    lecture's numbers), so that they agree."""
    return translator.translate([source for source, _ in pairs[:DEV_SENTENCES]], beam_size=1)


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
    config = translator.config
    gates = {
        kind: torch.ones(config.layers(kind), config.n_heads, device=translator.device) for kind in ATTENTION_KINDS
    }
    for kind, heads in (disabled or {}).items():
        for layer, head in heads:
            gates[kind][layer, head] = 0.0
    return gates


def group_heads(heads: Iterable[tuple[str, int, int]]) -> dict[str, list[tuple[int, int]]]:
    """(kind, layer, head) triples as head_gates takes them: kind -> [(layer, head), ...]."""
    grouped: dict[str, list[tuple[int, int]]] = {}
    for kind, layer, head in heads:
        grouped.setdefault(kind, []).append((layer, head))
    return grouped


def attention_shift(original: dict, changed: dict) -> dict[str, torch.Tensor]:
    """{kind: (L, H)}: how far each head's attention moved from original to changed (both
    {kind: (L, H, T_q, T_k)}), as the total variation distance between the two distributions of
    each query, 0.5 * sum_k |p'_qk - p_qk| (0 = unchanged, 1 = disjoint), averaged over the queries."""
    return {kind: 0.5 * (changed[kind] - original[kind]).abs().sum(dim=-1).mean(dim=-1) for kind in original}


def sequence_log_prob(translator: Translator, result: Translation, gates: HeadGates | None = None) -> float:
    """log P(result's output | its source) under the model with the given head gates."""
    return translator.explain(result.source_ids, result.output_ids, gates).log_prob


def head_importance(
    translator: Translator, pairs: list[tuple[str, str]], batch_size: int = 32, progress=None
) -> dict[str, torch.Tensor]:
    """Michel et al. (2019): I_h = E_x |dL(x)/d xi_h|, the expected absolute gradient of the
    loss with respect to a gate xi_h = 1 on each head's output, over (source, reference) pairs.
    Gradients are taken one sentence at a time (the absolute value is per sentence, so they
    cannot be summed over a batch first); `progress` is called every batch_size sentences.
    Returns kind -> (L, H), each layer's row divided by its L2 norm as in the paper (§4.2, "we
    normalize the importance scores by their l2 norm" within each layer), so every row has norm 1
    and heads compare within a layer; across layers, the ranking compares normalised scores."""
    model, config = translator.model, translator.config
    examples = encode_pairs(translator.tokenizer, pairs, config.max_len)
    gates = {kind: g.requires_grad_(True) for kind, g in head_gates(translator).items()}
    totals = {kind: torch.zeros_like(g) for kind, g in gates.items()}
    for start in range(0, len(examples), batch_size):
        for i in range(start, min(start + batch_size, len(examples))):
            src, tgt = collate(examples, [i], config.pad_id, translator.device)
            logits, _ = model.forward_with_attention(src, tgt[:, :-1], gates)
            loss, _, count = label_smoothed_loss(logits, tgt[:, 1:], 0.0, config.pad_id)
            grads = torch.autograd.grad(loss / count, list(gates.values()))
            for kind, grad in zip(gates, grads):
                totals[kind] += grad.abs()
        if progress:
            progress(min(start + batch_size, len(examples)) / len(examples))
    importance = {kind: total / max(len(examples), 1) for kind, total in totals.items()}
    return {kind: imp / imp.norm(dim=-1, keepdim=True).clamp_min(1e-12) for kind, imp in importance.items()}


def heads_by_importance(importance: dict[str, torch.Tensor]) -> list[tuple[str, int, int]]:
    """Every (kind, layer, head), least important first."""
    heads = [
        (kind, layer, head)
        for kind, imp in importance.items()
        for layer, head in torch.ones_like(imp).nonzero().tolist()
    ]
    return sorted(heads, key=lambda h: importance[h[0]][h[1], h[2]].item())


def pruning_curve(
    translator: Translator,
    pairs: list[tuple[str, str]],
    importance: dict[str, torch.Tensor],
    counts: list[int],
    progress=None,
) -> list[dict]:
    """BLEU (greedy) on pairs with the `n` least important heads switched off, for each n in
    counts (Michel et al., 2019, Fig. 3). Returns [{"pruned": n, "bleu": ..., "heads": [...]}]."""
    order = heads_by_importance(importance)
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    curve = []
    for i, n in enumerate(counts):
        gates = head_gates(translator, group_heads(order[:n]))
        results = translator.translate(sources, beam_size=1, head_gates=gates)
        bleu = score([r.text for r in results], references)["bleu"]
        curve.append({"pruned": n, "bleu": bleu, "heads": order[:n]})
        if progress:
            progress((i + 1) / len(counts))
    return curve


IMPORTANCE_PAIRS = 40  # dev pairs for the gradients and for each point of the pruning curve
PRUNING_POINTS = 9  # points of the curve, from no head to every head switched off


def pruning_counts(n_heads: int) -> list[int]:
    """PRUNING_POINTS numbers of heads to switch off, evenly from none to all."""
    return sorted({round(i * n_heads / (PRUNING_POINTS - 1)) for i in range(PRUNING_POINTS)})


def importance_report(
    translator: Translator, pairs: list[tuple[str, str]], progress: Callable[[float, str], None] | None = None
) -> dict:
    """Head importance and the pruning curve on pairs, as JSON-ready values: {"pairs": n,
    "importance": {kind: (L, H) lists}, "curve": pruning_curve's points}. progress(done, what)
    is told the share done: the gradients are quick, the curve translates the pairs once per
    point, so it gets most of the share."""
    report = progress or (lambda done, what: None)
    importance = head_importance(
        translator, pairs, batch_size=8, progress=lambda done: report(0.2 * done, "gradients on the dev pairs")
    )
    n_heads = sum(values.numel() for values in importance.values())
    curve = pruning_curve(
        translator,
        pairs,
        importance,
        pruning_counts(n_heads),
        progress=lambda done: report(0.2 + 0.8 * done, "BLEU with heads switched off"),
    )
    return {
        "pairs": len(pairs),
        "importance": {kind: values.tolist() for kind, values in importance.items()},
        "curve": [{**point, "heads": [list(head) for head in point["heads"]]} for point in curve],
    }


def read_importance_report(path: str | Path, config) -> dict | None:
    """importance_report's file with the importance as tensors, or None if it is missing or does
    not hold what the app draws for this model (damaged, cut, of another model)."""
    try:
        report = read_json(path)
        importance = {kind: torch.tensor(report["importance"][kind], dtype=torch.float32) for kind in ATTENTION_KINDS}
        curve = report["curve"]
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None
    fits = all(importance[kind].shape == (config.layers(kind), config.n_heads) for kind in ATTENTION_KINDS)
    points = isinstance(curve, list) and all(
        isinstance(point, dict) and {"pruned", "bleu", "heads"} <= point.keys() for point in curve
    )
    return {**report, "importance": importance} if fits and points else None


def write_importance_report(folder: str | Path, translator: Translator, pairs: list[tuple[str, str]]) -> None:
    """IMPORTANCE_FILE in a checkpoint folder, on its first IMPORTANCE_PAIRS dev pairs: the app's
    Head importance tab then opens at once instead of computing it."""
    write_json(Path(folder) / IMPORTANCE_FILE, importance_report(translator, pairs[:IMPORTANCE_PAIRS]))


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


# -- teaching views -----------------------------------------------------------------------------
def attention_steps(
    model: Transformer, src_ids: torch.Tensor, tgt_ids: torch.Tensor, kind: str, layer: int, head: int
) -> dict[str, torch.Tensor]:
    """Eq. 1 for one head of one layer, one step at a time, for the first sentence of the batch
    (transformer.inside.AttentionTrace.steps): each (T_q, T_k) unless noted, "queries" (T_q, d_k),
    "keys" (T_k, d_k), "scores" = Q K^T, "scaled" = scores / sqrt(d_k), "mask" (True = may
    attend), "masked" (-inf where masked), "weights" = softmax(masked), exactly the map the model
    itself returns for that head."""
    return inside_layer(model, src_ids, tgt_ids, kind, layer).attention.steps(head)


@torch.no_grad()
def embedding_parts(model: Transformer, src_ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The two summands of the encoder input (§3.4, §3.5): token embeddings x sqrt(d_model) and
    positional encodings, each (S, D)."""
    ids = torch.tensor([src_ids], device=model.positional.table.device)
    return model.src_embed(ids)[0], model.positional.table[: len(src_ids)]


def positional_similarity(max_len: int, d_model: int) -> torch.Tensor:
    """(P, P) dot products between positional encodings: a function of the distance |i - j|
    only (up to edge effects), which lets attention reason about relative positions (§3.5)."""
    table = sinusoidal_table(max_len, d_model)
    return table @ table.T


def parameter_counts(model: Transformer) -> dict[str, int]:
    """Parameters per component, tied matrices counted once (named after their first owner)."""

    def component(name: str) -> str:
        parts = name.split(".")
        if parts[0] in ("encoder_layers", "decoder_layers"):
            stack = "encoder" if parts[0] == "encoder_layers" else "decoder"
            sublayer = parts[2]
            what = {
                "self_attn": "self-attention" if stack == "encoder" else "masked self-attention",
                "cross_attn": "encoder-decoder attention",
                "feed_forward": "feed-forward",
            }.get(sublayer, "LayerNorm")
            return f"{stack} {what}"
        return {
            "src_embed": "source embedding" + (" (shared)" if model.config.tie_embeddings else ""),
            "tgt_embed": "target embedding",
            "generator": "output projection",
            "encoder_norm": "final LayerNorms",
            "decoder_norm": "final LayerNorms",
        }[parts[0]]

    counts = Counter()
    for name, parameter in model.named_parameters():  # named_parameters() skips tied duplicates
        counts[component(name)] += parameter.numel()
    return dict(counts)
