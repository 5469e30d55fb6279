"""transformer/config.py: ModelConfig, its checks, its dictionary round trip and the layers per kind."""

from dataclasses import FrozenInstanceError

import pytest

from tests.helpers import tiny_config
from transformer import ModelConfig
from transformer.config import ATTENTION_KINDS, check_heads


def test_config_round_trip_and_unknown_fields():
    c = tiny_config(pre_norm=True)
    assert ModelConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="bogus"):
        ModelConfig.from_dict({**c.to_dict(), "bogus": 1})


def test_layers_per_kind_come_from_the_config():
    c = tiny_config(n_encoder_layers=3, n_decoder_layers=1)
    assert [c.layers(kind) for kind in ("encoder", "decoder", "cross")] == [3, 1, 1]
    with pytest.raises(ValueError, match="kind"):
        c.layers("sideways")


def test_heads_must_cut_d_model_evenly():
    check_heads(32, 4)
    check_heads(32, 32)
    with pytest.raises(ValueError, match="^recipe.toml: 'd_model' 30 is not divisible by 'n_heads' 4$"):
        check_heads(30, 4, "recipe.toml")
    with pytest.raises(ValueError, match="^ModelConfig: 'n_heads' must be >= 1, got 0$"):
        check_heads(32, 0)
    with pytest.raises(ValueError, match="not divisible"):
        tiny_config(d_model=30, n_heads=4)


def test_tied_embeddings_need_one_vocabulary_and_the_config_is_frozen():
    with pytest.raises(ValueError, match="tie_embeddings needs src_vocab_size == tgt_vocab_size"):
        tiny_config(src_vocab_size=23, tgt_vocab_size=29, tie_embeddings=True)
    c = tiny_config(src_vocab_size=29, tgt_vocab_size=29, tie_embeddings=True)
    with pytest.raises(FrozenInstanceError):
        c.d_model = 64


def test_the_defaults_are_the_papers_base_model():
    c = ModelConfig(src_vocab_size=100, tgt_vocab_size=100)
    assert (c.d_model, c.n_heads, c.n_encoder_layers, c.n_decoder_layers, c.d_ff) == (512, 8, 6, 6, 2048)
    assert (c.dropout, c.pad_id, c.bos_id, c.eos_id, c.pre_norm) == (0.1, 0, 1, 2, False)
    assert ATTENTION_KINDS == ("encoder", "decoder", "cross")
