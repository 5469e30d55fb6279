import itertools

import pytest
import torch

from tests.helpers import random_ids, tiny_config
from transformer import Transformer, speed_up
from transformer.decoding import (
    argmax_last,
    beam_search,
    best_path,
    greedy_decode,
    length_penalty,
    next_token_log_probs,
)
from transformer.speed import output_layer_by_columns


@pytest.fixture
def model():
    return speed_up(Transformer(tiny_config()).eval())  # as loaded: one sentence decodes with one-row products


@pytest.mark.parametrize("output_by_columns", [False, True])
@pytest.mark.parametrize("rows", [1, 3])  # one sentence: every product is of one row (linear.OneRowLinear)
def test_cached_decoding_equals_full_recomputation(model, rows, output_by_columns):
    c = model.config
    if output_by_columns:
        output_layer_by_columns(model)
    src = random_ids(3, 8, c.src_vocab_size, pad_to=[8, 5, 2])[:rows]
    tgt = random_ids(3, 9, c.tgt_vocab_size)[:rows]
    full = model(src, tgt)
    memory, src_mask, _ = model.encode(src)
    state = model.start_decoding(memory, src_mask)
    for t in range(tgt.size(1)):
        logits, state, self_w, _ = model.decode(tgt[:, t : t + 1], state)
        assert self_w[0].shape == (rows, c.n_heads, 1, t + 1)
        torch.testing.assert_close(logits[:, 0], full[:, t], atol=1e-5, rtol=0)


def test_cached_decoding_of_several_positions_at_once(model):
    c = model.config
    src, tgt = random_ids(2, 6, c.src_vocab_size), random_ids(2, 7, c.tgt_vocab_size)
    full = model(src, tgt)
    state = model.start_decoding(*model.encode(src)[:2])
    first, state, _, _ = model.decode(tgt[:, :4], state)  # a forced prefix
    rest, state, _, _ = model.decode(tgt[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=1e-5, rtol=0)


def naive_greedy(model, src, max_len):
    """Greedy decoding by recomputing the whole prefix every step (no cache)."""
    c = model.config
    out = []
    for row in src:
        prefix = [c.bos_id]
        for _ in range(max_len):
            logits = model(row[None], torch.tensor([prefix]))[:, -1]
            token = next_token_log_probs(model, logits).argmax(-1).item()
            prefix.append(token)
            if token == c.eos_id:
                break
        out.append(prefix[1:])
    return out


def test_greedy_with_cache_equals_naive_greedy(model):
    c = model.config
    src = random_ids(4, 7, c.src_vocab_size, pad_to=[7, 3, 5, 1])
    with torch.no_grad():
        model.generator.weight[c.eos_id] += 0.5 * torch.randn(c.d_model)  # vary where EOS comes
        expected = naive_greedy(model, src, 12)
    assert greedy_decode(model, src, 12) == expected


def test_greedy_drops_finished_rows_without_changing_any_output(model):
    """A batch whose sentences finish at different steps (EOS or their own limit): rows leave the
    batch as they finish, and every output is what naive greedy gives that sentence alone."""
    c = model.config
    src = random_ids(12, 7, c.src_vocab_size, pad_to=torch.randint(1, 8, (12,)).tolist())
    limits = torch.randint(1, 15, (12,)).tolist()
    with torch.no_grad():
        model.generator.weight[c.eos_id] += 0.5 * torch.randn(c.d_model)
        expected = [naive_greedy(model, row[None], limit)[0] for row, limit in zip(src, limits)]
    assert greedy_decode(model, src, limits) == expected


def test_the_key_value_cache_refuses_to_overflow(model):
    c = model.config
    state = model.start_decoding(*model.encode(random_ids(2, 5, c.src_vocab_size))[:2], capacity=3)
    state = model.decode(random_ids(2, 3, c.tgt_vocab_size), state).state
    with pytest.raises(ValueError, match="holds 3 positions"):
        model.decode(random_ids(2, 1, c.tgt_vocab_size), state)


def test_beam_of_one_equals_greedy(model):
    c = model.config
    src = random_ids(5, 6, c.src_vocab_size, pad_to=[6, 2, 4, 6, 3])
    assert beam_search(model, src, 10, beam_size=1) == greedy_decode(model, src, 10)


def sequence_score(model, src, ids, alpha):
    tgt = torch.tensor([[model.config.bos_id] + ids[:-1]])
    log_probs = next_token_log_probs(model, model(src, tgt)[0])
    return log_probs.gather(1, torch.tensor(ids)[:, None]).sum().item() / length_penalty(len(ids), alpha)


def test_wide_beam_finds_the_exhaustive_best():
    # Vocabulary: PAD BOS EOS + 2 words; every output of up to 3 tokens can be enumerated.
    model = Transformer(tiny_config(src_vocab_size=5, tgt_vocab_size=5)).eval()
    eos, words = model.config.eos_id, [3, 4]
    src = random_ids(1, 4, 5)
    candidates = [list(p) + [eos] for n in range(3) for p in itertools.product(words, repeat=n)]
    candidates += [list(p) for p in itertools.product(words, repeat=3)]  # cut at max_len
    candidates += [list(p) + [eos] for p in itertools.product(words, repeat=2)]
    alpha = 0.6
    with torch.no_grad():
        best = max(candidates, key=lambda ids: sequence_score(model, src, ids, alpha))
    assert beam_search(model, src, max_len=3, beam_size=32, alpha=alpha) == [best]


def test_beam_search_batches_like_single_sentences(model):
    c = model.config
    src = random_ids(3, 6, c.src_vocab_size, pad_to=[6, 3, 5])
    batched = beam_search(model, src, 8, beam_size=3)
    singles = [beam_search(model, row[None, : int((row != 0).sum())], 8, beam_size=3)[0] for row in src]
    assert batched == singles


def test_beam_search_batches_like_single_sentences_with_their_own_limits(model):
    """Sentences leave the batch at different steps (their limits 2, 7 and 4): the rows that stay
    keep reading their own source."""
    c = model.config
    src = random_ids(3, 6, c.src_vocab_size, pad_to=[6, 3, 5])
    limits = [2, 7, 4]
    batched = beam_search(model, src, limits, beam_size=3)
    singles = [
        beam_search(model, row[None, : int((row != 0).sum())], limit, beam_size=3)[0] for row, limit in zip(src, limits)
    ]
    assert batched == singles


def test_selecting_rows_of_the_decoder_state_copies_what_decoding_reads(model):
    c = model.config
    src = random_ids(3, 5, c.src_vocab_size, pad_to=[5, 4, 2])
    memory, src_mask, _ = model.encode(src)
    state = model.start_decoding(memory, src_mask, capacity=6)
    for _ in range(3):
        state = model.decode(random_ids(3, 1, c.tgt_vocab_size), state).state
    index = torch.tensor([2, 0, 0])
    picked = state.select(index)
    assert picked.length == 3 and torch.equal(picked.src_mask, state.src_mask[index])
    for (k, v), (k_new, v_new) in zip(state.cross_kv, picked.cross_kv):
        assert torch.equal(k_new, k[index]) and torch.equal(v_new, v[index])
    for old, new in zip(state.self_kv, picked.self_kv):
        assert new.keys.shape == old.keys.shape  # room for the positions still to come
        assert torch.equal(new.keys[:, :, :3], old.keys[index, :, :3])
        assert torch.equal(new.values[:, :, :3], old.values[index, :, :3])
    reordered = state.select(torch.tensor([1, 0, 2]), same_sources=True)  # beam search within sentences
    assert reordered.cross_kv is state.cross_kv and reordered.src_mask is state.src_mask
    assert torch.equal(reordered.self_kv[0].keys[:, :, :3], state.self_kv[0].keys[[1, 0, 2], :, :3])


def test_outputs_end_at_eos_and_never_emit_pad_or_bos(model):
    c = model.config
    src = random_ids(4, 5, c.src_vocab_size)
    for out in greedy_decode(model, src, 15) + beam_search(model, src, 15, beam_size=2):
        assert c.pad_id not in out and c.bos_id not in out
        assert c.eos_id not in out[:-1]
        assert len(out) <= 15


def test_forced_prefix_starts_every_output(model):
    c = model.config
    src = random_ids(3, 6, c.src_vocab_size, pad_to=[6, 2, 4])
    prefix = torch.randint(3, c.tgt_vocab_size, (3,)).tolist()
    for out in greedy_decode(model, src, 9, prefix=prefix) + beam_search(model, src, 9, beam_size=3, prefix=prefix):
        assert out[:3] == prefix and len(out) <= 9
    with pytest.raises(ValueError, match="prefix"):
        greedy_decode(model, src, 9, prefix=[c.eos_id])
    # A prefix as long as the limit leaves nothing to decode: both give the prefix, cut to the limit.
    assert beam_search(model, src, 2, beam_size=2, prefix=prefix) == greedy_decode(model, src, 2, prefix=prefix)
    assert greedy_decode(model, src, 2, prefix=prefix) == [prefix[:2]] * 3


def test_a_prefix_longer_than_one_sentences_limit_cuts_that_sentence_alone(model):
    """Per-sentence limits in one batch: a sentence whose limit lies within the forced prefix
    gets the prefix cut to its limit, as it would alone, and the others decode as they would alone."""
    c = model.config
    src = torch.randint(3, c.src_vocab_size, (3, 6))
    prefix = torch.randint(3, c.tgt_vocab_size, (3,)).tolist()
    limits = [2, 9, 3]
    for decode in (greedy_decode, lambda *args, **kw: beam_search(*args, beam_size=3, **kw)):
        alone = [decode(model, src[i : i + 1], limit, prefix=prefix)[0] for i, limit in enumerate(limits)]
        assert decode(model, src, limits, prefix=prefix) == alone
        assert alone[0] == prefix[:2] and alone[2] == prefix and alone[1][:3] == prefix


def test_greedy_continuation_of_a_prefix_is_greedy_from_there(model):
    c = model.config
    src = random_ids(1, 7, c.src_vocab_size)
    with torch.no_grad():
        model.generator.weight[c.eos_id] = 0  # EOS logit 0: below the best of 26 random logits
    full = greedy_decode(model, src, 10)[0]
    assert c.eos_id not in full[:3]
    assert greedy_decode(model, src, 10, prefix=full[:3])[0] == full


def test_beam_tree_best_path_is_the_beam_output(model):
    c = model.config
    src = random_ids(1, 6, c.src_vocab_size)
    with torch.no_grad():
        model.generator.weight[c.eos_id] += 0.8 * torch.randn(c.d_model)  # make EOS come sometimes
    trace = []
    output = beam_search(model, src, 8, beam_size=3, trace=trace)[0]
    path = best_path(trace)
    assert [node.token for node in path] == output
    assert path[-1].status == "finished" and all(node.status == "kept" for node in path[:-1])
    for nodes in trace:
        assert sum(node.status == "kept" for node in nodes) <= 3
        scores = [node.score for node in nodes]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("vocab_size", [8000, 96, 97, 5])  # blocks of 125, of 96, none (prime), none (small)
def test_blockwise_argmax_is_torchs_argmax_ties_included(vocab_size):
    scores = torch.randn(64, vocab_size)
    assert torch.equal(argmax_last(scores), scores.argmax(dim=-1))
    # Ties: the first of equal maxima wins, also when they lie in different blocks.
    rounded = (scores * 2).round()  # many equal values
    rounded[:, -1] = rounded.max() + 1
    rounded[:32, 0] = rounded.max()
    assert torch.equal(argmax_last(rounded), rounded.argmax(dim=-1))
    assert argmax_last(rounded)[:32].eq(0).all() and argmax_last(rounded)[32:].eq(vocab_size - 1).all()
