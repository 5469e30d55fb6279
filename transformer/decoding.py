"""Greedy and beam-search decoding with a key/value cache.

Each step feeds only the newest target token: decoder self-attention keys/values of earlier
positions come from the cache and the encoder-decoder keys/values are projected once
(see `Transformer.start_decoding`). Results are token ids without BOS, ending with EOS when
the model produced one.
"""

from dataclasses import dataclass, replace
from functools import cache

import torch

from .model import DecoderState, HeadGates, Transformer


def emittable_logits(model: Transformer, logits: torch.Tensor) -> torch.Tensor:
    """(N, V) logits in fp32 with the tokens the decoder may never emit (PAD, BOS) at -inf. Logits
    that are fp32 already are changed in place, not copied: decoding makes them for this alone."""
    config = model.config
    logits = logits.float()
    logits[:, [config.pad_id, config.bos_id]] = float("-inf")
    return logits


BLOCKWISE_ROWS = 16  # below, torch's argmax is as fast (8000 words: 8 against 21 us for one row, 57 / 53 us for 16)


@cache
def _block_width(vocab_size: int) -> int | None:
    """The widest divisor of the vocabulary size in 16..128, if any."""
    return next((width for width in range(128, 15, -1) if vocab_size % width == 0), None)


def argmax_last(scores: torch.Tensor) -> torch.Tensor:
    """scores.argmax(dim=-1) for (N, V) scores, the same index (the first of equal maxima), found
    block by block: torch's argmax is not vectorised on the CPU (3.5 ms for 512 x 8000 logits)
    while amax is (0.1 ms). Split V into blocks, find the block holding the maximum, then the
    maximum inside that block: 0.5 ms in all (issue #11). Below BLOCKWISE_ROWS rows, torch's argmax."""
    rows, vocab_size = scores.shape
    width = _block_width(vocab_size)
    if width is None or rows < BLOCKWISE_ROWS:
        return scores.argmax(dim=-1)
    blocks = scores.view(rows, vocab_size // width, width)  # (N, V / width, width)
    best_block = blocks.amax(dim=-1).argmax(dim=-1)  # (N,): the first block reaching the maximum
    inside = blocks[torch.arange(rows, device=scores.device), best_block].argmax(dim=-1)  # (N,)
    return best_block * width + inside


def next_token_log_probs(model: Transformer, logits: torch.Tensor) -> torch.Tensor:
    """(N, V) logits -> log-probabilities over tokens the decoder may emit (never PAD or BOS); see
    emittable_logits for what it does to the logits."""
    return emittable_logits(model, logits).log_softmax(dim=-1)


def _first_input(model: Transformer, rows: int, prefix: list[int] | None, device) -> torch.Tensor:
    """BOS, then the forced prefix if any: (rows, 1 + len(prefix))."""
    config = model.config
    if prefix and {config.eos_id, config.pad_id, config.bos_id} & set(prefix):
        raise ValueError("a forced prefix cannot contain EOS, PAD or BOS")
    return torch.tensor([[config.bos_id] + list(prefix or [])] * rows, dtype=torch.long, device=device)


def _start(
    model: Transformer,
    src_ids: torch.Tensor,
    max_len: int | list[int],
    head_gates: HeadGates | None,
    forced: int,
    repeat: int = 1,
):
    """Encode, project the cross-attention keys/values, allocate the self-attention caches, and
    clip the output limits to the positions the model has: one limit per sentence (max_len may
    be one int for all)."""
    memory, src_mask, _ = model.encode(src_ids, head_gates, need_weights=False)
    if repeat > 1:
        memory, src_mask = memory.repeat_interleave(repeat, 0), src_mask.repeat_interleave(repeat, 0)
    limits = [max_len] * src_ids.size(0) if isinstance(max_len, int) else list(max_len)
    limits = [min(n, model.config.max_len) for n in limits]
    # The decoder reads BOS, the forced prefix and every output token but the last.
    capacity = max(limits + [forced + 1])
    return model.start_decoding(memory, src_mask, capacity), limits


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
    sentence) is fed as given and the model continues after it (teacher forcing made visible).

    Sentences that are done (EOS or their limit) leave the batch, so the remaining steps cost
    only what the unfinished ones need; the rows are compacted once a quarter of them are done."""
    config = model.config
    forced = len(prefix or [])
    state, limits = _start(model, src_ids, max_len, head_gates, forced)
    batch, device = src_ids.size(0), src_ids.device
    step_input = _first_input(model, batch, prefix, device)
    longest = max(max(limits), forced)
    outputs = torch.full((batch, longest), config.pad_id, dtype=torch.long, device=device)  # (B, longest)
    outputs[:, :forced] = step_input[:, 1:]
    rows = torch.arange(batch, device=device)  # the sentence each live row decodes
    row_limits = torch.tensor(limits, device=device)
    finished = row_limits <= forced  # a limit within the forced prefix leaves nothing to decode
    for step in range(forced, longest):
        logits, state, _, _ = model.decode(step_input, state, head_gates=head_gates, need_weights=False)
        token = argmax_last(emittable_logits(model, logits[:, -1]))  # (live,): log_softmax keeps the order
        # Rows that finished earlier write too: _cut drops what follows their EOS or limit.
        outputs[rows, step] = token
        finished |= (token == config.eos_id) | (row_limits <= step + 1)
        done = int(finished.sum())
        if done == len(rows):
            break
        if 4 * done >= len(rows):  # drop the finished rows from the work
            live = (~finished).nonzero()[:, 0]
            rows, row_limits, token, state = rows[live], row_limits[live], token[live], state.select(live)
            finished = finished[live]
        step_input = token[:, None]
    return [_cut(row, config.eos_id, limit) for row, limit in zip(outputs.tolist(), limits)]


def _cut(ids: list[int], eos_id: int, limit: int) -> list[int]:
    ids = ids[:limit]
    return ids[: ids.index(eos_id) + 1] if eos_id in ids else ids


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
    config, k = model.config, beam_size
    forced = len(prefix or [])
    state, limits = _start(model, src_ids, max_len, head_gates, forced, repeat=k)
    beams = _first_beams(model, src_ids.size(0), k, prefix, limits, state)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in limits]
    for step in range(forced, max(limits)):
        logits, beams.state, _, _ = model.decode(
            beams.step_input, beams.state, head_gates=head_gates, need_weights=False
        )
        still_alive, next_rows = [], []  # next_rows: (row, token, score) of the hypotheses that go on
        for group, (sentence, ranked) in enumerate(zip(beams.alive, _best_extensions(model, logits, beams.scores))):
            at_limit = step == limits[sentence] - 1
            history = beams.history[group * k : (group + 1) * k]  # (K, tokens so far)
            kept, done_now, nodes = _sort_candidates(step, ranked, k, at_limit, config.eos_id, alpha, history)
            finished[sentence] += done_now
            if trace is not None and sentence == 0:
                trace.append(nodes)
            if len(finished[sentence]) < k:  # else done: its rows leave the batch
                still_alive.append(sentence)
                kept += [(0, config.pad_id, float("-inf"))] * (k - len(kept))  # pad dead beams
                next_rows += [(group * k + beam, token, score) for beam, token, score in kept]
        beams = beams.advance(still_alive, next_rows)
        if not beams.alive:
            break
    # A sentence with nothing finished had no room to decode: its forced prefix fills its limit.
    unfinished = {
        sentence: beams.history[group * k, : limits[sentence]].tolist() for group, sentence in enumerate(beams.alive)
    }
    unfinished |= {b: list(prefix or [])[:n] for b, n in enumerate(limits) if n <= forced}
    return [max(hyps, key=lambda h: h[0])[1] if hyps else unfinished[b] for b, hyps in enumerate(finished)]


@dataclass
class _Beams:
    """Beam search's live hypotheses: K rows for each sentence still decoding."""

    alive: list[int]  # the sentence each group of K rows decodes
    step_input: torch.Tensor  # (N * K, t): what the decoder reads next
    history: torch.Tensor  # (N * K, tokens so far)
    scores: torch.Tensor  # (N, K): each hypothesis's log-probability
    state: DecoderState

    def advance(self, alive: list[int], rows: list[tuple[int, int, float]]) -> "_Beams":
        """The hypotheses that go on, as (row they extend, token, score), K per sentence of `alive`."""
        if not alive:
            return replace(self, alive=[])
        same_sources = len(alive) == len(self.alive)  # every row still decodes the sentence it did
        index, tokens, scores = (torch.tensor(column, device=self.history.device) for column in zip(*rows))
        step_input = tokens[:, None]  # (N * K, 1)
        history = torch.cat([self.history[index], step_input], dim=1)
        return _Beams(alive, step_input, history, scores.view(len(alive), -1), self.state.select(index, same_sources))


def _first_beams(
    model: Transformer, batch: int, k: int, prefix: list[int] | None, limits: list[int], state: DecoderState
) -> _Beams:
    """K hypotheses per sentence, all BOS and the forced prefix; the sentences whose limit leaves
    no room after the prefix are left out."""
    device = state.src_mask.device
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start identical: let only the first one expand at step 0
    step_input = _first_input(model, batch * k, prefix, device)  # (B * K, 1 + forced)
    beams = _Beams(list(range(batch)), step_input, step_input[:, 1:], scores, state)
    alive = [b for b in range(batch) if limits[b] > len(prefix or [])]
    if len(alive) == batch:
        return beams
    index = torch.tensor([b * k + beam for b in alive for beam in range(k)], dtype=torch.long, device=device)
    return _Beams(alive, step_input[index], beams.history[index], scores[alive], state.select(index))


def _best_extensions(
    model: Transformer, logits: torch.Tensor, scores: torch.Tensor
) -> list[list[tuple[float, int, int]]]:
    """Each live sentence's 2K best extensions (score, beam, token), best first. logits (N * K, 1, V)
    of the step, scores (N, K) of the hypotheses it extends."""
    log_probs = next_token_log_probs(model, logits[:, -1])  # (N * K, V)
    (live, k), vocab = scores.shape, log_probs.size(-1)
    candidates = log_probs.add_(scores.view(-1, 1)).view(live, k * vocab)  # in place: one (N, V) fewer
    top_scores, top_index = candidates.topk(min(2 * k, k * vocab), dim=1)  # (N, 2K)
    return [
        [(score, i // vocab, i % vocab) for score, i in zip(sentence_scores, sentence_index)]
        for sentence_scores, sentence_index in zip(top_scores.tolist(), top_index.tolist())
    ]


def _sort_candidates(
    step: int,
    ranked: list[tuple[float, int, int]],
    k: int,
    at_limit: bool,
    eos_id: int,
    alpha: float,
    beams: torch.Tensor,
) -> tuple[list[tuple[int, int, float]], list[tuple[float, list[int]]], list["BeamNode"]]:
    """One sentence's step of beam search. `ranked` holds its 2K best extensions (score, beam,
    token), best first; beams (K, t) the tokens of its live hypotheses so far. Among the K best,
    those that end in EOS (or reach the length limit) finish; the best of the others, up to K,
    go on; the rest are pruned. Returns the K that go on (beam, token, score), the finished
    hypotheses (normalised score, ids) and the step's nodes of the beam tree."""
    kept, done_now, nodes = [], [], []
    for rank, (score, beam, token) in enumerate(ranked):
        if score == float("-inf"):
            break
        status = "pruned"
        if token == eos_id or at_limit:
            if rank < k:
                ids = beams[beam].tolist() + [token]
                done_now.append((score / length_penalty(len(ids), alpha), ids))
                status = "finished"
        elif len(kept) < k:
            kept.append((beam, token, score))
            status = "kept"
        nodes.append(BeamNode(step, beam, token, score, status, score / length_penalty(step + 1, alpha)))
    return kept, done_now, nodes


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
