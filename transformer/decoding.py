"""Greedy and beam-search decoding with a key/value cache.

Each step feeds only the newest target token: decoder self-attention keys/values of earlier
positions come from the cache and the encoder-decoder keys/values are projected once
(see `Transformer.start_decoding`). Results are token ids without BOS, ending with EOS when
the model produced one.
"""

from dataclasses import dataclass

import torch

from .model import HeadGates, Transformer


def next_token_log_probs(model: Transformer, logits: torch.Tensor) -> torch.Tensor:
    """(N, V) logits -> log-probabilities over tokens the decoder may emit (never PAD or BOS)."""
    c = model.config
    logits = logits.float()
    logits[:, [c.pad_id, c.bos_id]] = float("-inf")
    return logits.log_softmax(dim=-1)


def _first_input(model: Transformer, rows: int, prefix: list[int] | None, device) -> torch.Tensor:
    """BOS, then the forced prefix if any: (rows, 1 + len(prefix))."""
    c = model.config
    if prefix and {c.eos_id, c.pad_id, c.bos_id} & set(prefix):
        raise ValueError("a forced prefix cannot contain EOS, PAD or BOS")
    return torch.tensor([[c.bos_id] + list(prefix or [])] * rows, dtype=torch.long, device=device)


def _start(
    model: Transformer, src_ids: torch.Tensor, max_len: int | list[int], head_gates: HeadGates | None, repeat: int = 1
):
    """Encode, project the cross-attention keys/values, and clip the output limits to the
    positions the model has: one limit per sentence (max_len may be one int for all)."""
    memory, src_mask, _ = model.encode(src_ids, head_gates)
    if repeat > 1:
        memory, src_mask = memory.repeat_interleave(repeat, 0), src_mask.repeat_interleave(repeat, 0)
    limits = [max_len] * src_ids.size(0) if isinstance(max_len, int) else list(max_len)
    return model.start_decoding(memory, src_mask), [min(n, model.config.max_len) for n in limits]


@torch.inference_mode()
def greedy_decode(
    model: Transformer,
    src_ids: torch.Tensor,
    max_len: int | list[int],
    head_gates: HeadGates | None = None,
    prefix: list[int] | None = None,
) -> list[list[int]]:
    """Pick the most probable token at every step; src_ids (B, S) -> B token lists of at most
    max_len tokens (one limit for all, or one per sentence). A forced `prefix` (the same for every
    sentence) is fed as given and the model continues after it (teacher forcing made visible)."""
    c = model.config
    state, limits = _start(model, src_ids, max_len, head_gates)
    batch = src_ids.size(0)
    step_input = _first_input(model, batch, prefix, src_ids.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=src_ids.device)
    limits = torch.tensor(limits, device=src_ids.device)
    outputs = [torch.full((batch,), t, device=src_ids.device) for t in prefix or []]
    for step in range(len(outputs), int(limits.max())):
        logits, state, _, _ = model.decode(step_input, state, head_gates=head_gates)
        token = next_token_log_probs(model, logits[:, -1]).argmax(dim=-1)  # (B,)
        token = token.masked_fill(finished, c.pad_id)
        outputs.append(token)
        finished |= (token == c.eos_id) | (limits <= step + 1)
        if finished.all():
            break
        step_input = token[:, None]
    rows = torch.stack(outputs, dim=1).tolist() if outputs else [[] for _ in range(batch)]
    return [_cut(row, c.eos_id, limit) for row, limit in zip(rows, limits.tolist())]


def _cut(ids: list[int], eos_id: int, limit: int) -> list[int]:
    return ids[: ids.index(eos_id) + 1] if eos_id in ids else ids[:limit]


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length normalisation ((5 + |Y|) / 6)^alpha (Wu et al., 2016); alpha = 0 disables it."""
    return ((5 + length) / 6) ** alpha


@torch.inference_mode()
def beam_search(
    model: Transformer,
    src_ids: torch.Tensor,
    max_len: int | list[int],
    beam_size: int = 4,
    alpha: float = 0.6,
    head_gates: HeadGates | None = None,
    prefix: list[int] | None = None,
    trace: list[list["BeamNode"]] | None = None,
) -> list[list[int]]:
    """Batched beam search; src_ids (B, S) -> B token lists, the best finished hypothesis each.
    `prefix` forces the first tokens as in greedy_decode. If `trace` is a list, every step of
    the first sentence appends its candidates there (see BeamNode): the beam tree.

    Every step extends each of the K live hypotheses of a sentence by every token, keeps the
    2K best extensions, moves those among the K best that end in EOS to the finished list
    (scored by log-probability / length_penalty) and continues with the K best that do not.
    A sentence is done once it has K finished hypotheses; at its max_len the live ones finish too.
    """
    c, k = model.config, beam_size
    batch, device = src_ids.size(0), src_ids.device
    state, limits = _start(model, src_ids, max_len, head_gates, repeat=k)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: let only the first one expand at step 0
    step_input = _first_input(model, batch * k, prefix, device)
    history = step_input[:, 1:]
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    done = [False] * batch

    for step in range(history.size(1), max(limits)):
        logits, state, _, _ = model.decode(step_input, state, head_gates=head_gates)
        log_probs = next_token_log_probs(model, logits[:, -1])  # (B*K, V)
        vocab = log_probs.size(-1)
        candidates = (scores.view(-1, 1) + log_probs).view(batch, k * vocab)
        top_scores, top_index = candidates.topk(min(2 * k, k * vocab), dim=1)  # (B, 2K)
        top_beam, top_token = top_index // vocab, top_index % vocab

        keep_rows, keep_tokens, keep_scores = [], [], []
        for b in range(batch):
            kept, nodes = [], []
            for rank, (score, beam, token) in enumerate(
                zip(top_scores[b].tolist(), top_beam[b].tolist(), top_token[b].tolist())
            ):
                if score == float("-inf"):
                    break
                row = b * k + beam
                status = "pruned"
                if token == c.eos_id or step == limits[b] - 1:
                    if rank < k and not done[b]:
                        ids = history[row].tolist() + [token]
                        finished[b].append((score / length_penalty(len(ids), alpha), ids))
                        status = "finished"
                elif len(kept) < k and not done[b]:
                    kept.append((row, token, score))
                    status = "kept"
                nodes.append(BeamNode(step, beam, token, score, status, score / length_penalty(step + 1, alpha)))
            if trace is not None and b == 0 and not done[b]:
                trace.append(nodes)
            done[b] = done[b] or len(finished[b]) >= k
            kept += [(b * k, c.pad_id, float("-inf"))] * (k - len(kept))  # pad dead beams
            for row, token, score in kept:
                keep_rows.append(row)
                keep_tokens.append(token)
                keep_scores.append(score if not done[b] else float("-inf"))
        if all(done):
            break
        rows = torch.tensor(keep_rows, device=device)
        step_input = torch.tensor(keep_tokens, device=device)[:, None]
        history = torch.cat([history[rows], step_input], dim=1)
        scores = torch.tensor(keep_scores, device=device).view(batch, k)
        state = state.select(rows)

    # A sentence with nothing finished had no room to decode: its forced prefix fills its limit.
    return [
        max(hyps, key=lambda h: h[0])[1] if hyps else history[b * k, : limits[b]].tolist()
        for b, hyps in enumerate(finished)
    ]


@dataclass(frozen=True)
class BeamNode:
    """One candidate extension in the beam tree. At step t, `parent` is the beam slot (0..K-1) of
    step t-1 it extends (the order of the "kept" nodes of t-1; 0 at the first step). Kept nodes
    become the slots of step t in their order of appearance; finished ones end in EOS (or at the
    length limit); pruned ones fell out of the beam."""

    step: int
    parent: int
    token: int
    score: float  # log-probability of the whole hypothesis
    status: str  # "kept" | "finished" | "pruned"
    normalized: float  # score / length penalty, what finished hypotheses are ranked by


def best_path(trace: list[list[BeamNode]]) -> list[BeamNode]:
    """The chain of nodes, first step to last, that ends in the best finished hypothesis."""
    finals = [node for nodes in trace for node in nodes if node.status == "finished"]
    if not finals:
        return []
    node = max(finals, key=lambda n: n.normalized)
    path = [node]
    for step in range(node.step - 1, trace[0][0].step - 1, -1):
        kept = [n for n in trace[step - trace[0][0].step] if n.status == "kept"]
        node = kept[node.parent]
        path.append(node)
    return path[::-1]
