"""Sampling (transformer/sampling.py): the reshaped distribution, seeding, and temperature 0 (or
near it) giving exactly greedy decoding's output."""

import pytest
import torch

from tests.helpers import tiny_config
from transformer import Transformer
from transformer.decoding import greedy_decode
from transformer.sampling import Sampling, sample_decode, sampling_probs, step_distributions, top_tokens


@pytest.fixture
def model():
    return Transformer(tiny_config()).eval()


def test_temperature_reshapes_and_top_k_top_p_cut_the_distribution():
    log_probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    assert torch.allclose(sampling_probs(log_probs, Sampling()), log_probs.exp())
    sharp, flat = (
        sampling_probs(log_probs, Sampling(temperature=0.5)),
        sampling_probs(log_probs, Sampling(temperature=2)),
    )
    assert sharp[0, 0] > 0.5 > flat[0, 0] and flat[0, 3] > 0.05 > sharp[0, 3]
    assert torch.equal(sampling_probs(log_probs, Sampling(temperature=0)), torch.tensor([[1.0, 0, 0, 0]]))
    assert torch.allclose(sampling_probs(log_probs, Sampling(top_k=2)), torch.tensor([[0.625, 0.375, 0, 0]]))
    # top_p 0.7: 0.5 alone is not enough, 0.5 + 0.3 reaches it; the rest is cut.
    assert torch.allclose(sampling_probs(log_probs, Sampling(top_p=0.7)), torch.tensor([[0.625, 0.375, 0, 0]]))
    assert torch.allclose(sampling_probs(log_probs, Sampling(top_p=0.1)), torch.tensor([[1.0, 0, 0, 0]]))


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_k=0), dict(top_p=0), dict(top_p=1.5)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        Sampling(**bad)


def test_temperature_towards_zero_equals_greedy_decoding(model):
    src = torch.randint(3, model.config.src_vocab_size, (1, 7))
    [greedy] = greedy_decode(model, src, 12)
    assert sample_decode(model, src, 12, Sampling(temperature=0)) == greedy
    assert sample_decode(model, src, 12, Sampling(temperature=1e-4, seed=3)) == greedy


def test_a_seed_gives_the_same_sample_and_sampling_explores(model):
    src = torch.randint(3, model.config.src_vocab_size, (1, 7))
    settings = Sampling(temperature=1.5, seed=11)
    first = sample_decode(model, src, 12, settings)
    assert sample_decode(model, src, 12, settings) == first
    samples = {tuple(sample_decode(model, src, 12, Sampling(temperature=1.5, seed=seed))) for seed in range(8)}
    assert len(samples) > 1
    assert all(len(sample) <= 12 for sample in samples)


def test_step_distributions_are_the_models_and_the_reshaped_ones_of_the_sampled_steps(model):
    src = torch.randint(3, model.config.src_vocab_size, (1, 7))
    settings = Sampling(temperature=0.5, top_k=3, seed=5)
    output = sample_decode(model, src, 12, settings)
    model_probs, sampled = step_distributions(model, src, output, settings)
    assert model_probs.shape == sampled.shape == (len(output), model.config.tgt_vocab_size)
    assert torch.allclose(model_probs.sum(-1), torch.ones(len(output)))
    assert ((sampled > 0).sum(-1) <= 3).all()  # top_k = 3 cuts the rest
    assert all(sampled[step, token] > 0 for step, token in enumerate(output))  # every drawn token could be drawn
    rows = top_tokens(model_probs[0], sampled[0], output[0], k=3)
    assert [p for _, p, _ in rows] == sorted((p for _, p, _ in rows), reverse=True)
    assert sum(s for _, _, s in rows) == pytest.approx(1.0, abs=1e-5)


def test_top_tokens_adds_the_chosen_token_below_the_most_probable():
    probs = torch.tensor([0.1, 0.6, 0.05, 0.25])
    assert [i for i, _, _ in top_tokens(probs, probs, chosen=2, k=2)] == [1, 3, 2]
    assert top_tokens(probs, probs * 0, chosen=1, k=2) == [(1, pytest.approx(0.6), 0.0), (3, pytest.approx(0.25), 0.0)]


def test_a_limit_beyond_the_models_positions_stops_at_its_last_one():
    """High temperature rarely picks EOS; a limit past max_len (the app's is 1.5 x source + 10)
    must stop where the positional table ends, as greedy and beam search do."""
    model = Transformer(tiny_config(max_len=9)).eval()
    model.generator.weight.data[model.config.eos_id] = 0  # EOS only as likely as any token
    src = torch.randint(3, model.config.src_vocab_size, (1, 7))
    samples = [sample_decode(model, src, 50, Sampling(temperature=5, seed=seed)) for seed in range(4)]
    assert max(map(len, samples)) == 9
