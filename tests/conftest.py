"""Fixtures for every test. Every test gets fresh random inputs; the seed is printed so a failure
can be replayed with TEST_SEED=<seed>. Plain helpers live in tests/helpers.py."""

import os
import random
from pathlib import Path

import pytest
import torch

from tests.helpers import tiny_config
from transformer import Tokenizer, Transformer, save_checkpoint
from transformer.data import SYMBOLS

torch.set_num_threads(1)  # tiny models gain nothing from threads; and the suite may share the cores


@pytest.fixture(autouse=True)
def fresh_seed():
    seed = int(os.environ.get("TEST_SEED", random.SystemRandom().randrange(2**31)))
    torch.manual_seed(seed)
    print(f"TEST_SEED={seed}")
    return seed


@pytest.fixture
def fused_kernel(monkeypatch):
    """Attention without maps through torch's fused kernel at every length: on the CPU the
    written-out products serve the short sequences tests use (transformer.attention)."""
    monkeypatch.setattr("transformer.attention.CPU_WRITTEN_OUT_KEYS", 0)


@pytest.fixture
def word_tokenizer() -> Tokenizer:
    return Tokenizer.train_word_level([" ".join(SYMBOLS)])


@pytest.fixture
def tiny_checkpoint(tmp_path, word_tokenizer) -> Path:
    """A randomly initialised model on the toy alphabet, saved in float32."""
    vocab = word_tokenizer.vocab_size
    model = Transformer(tiny_config(src_vocab_size=vocab, tgt_vocab_size=vocab, tie_embeddings=True)).eval()
    folder = tmp_path / "tiny"
    info = {"source_language": "x", "target_language": "y", "decoding": {"beam_size": 1}}
    save_checkpoint(folder, model, word_tokenizer, info, dtype=torch.float32)
    return folder
