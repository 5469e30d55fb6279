"""Shared fixtures. Every test gets fresh random inputs; the seed is printed so a failure can
be replayed with TEST_SEED=<seed>."""

import json
import os
import random
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from transformer import ModelConfig, Tokenizer, Transformer, save_checkpoint
from transformer.data import SYMBOLS

ROOT = Path(__file__).resolve().parent.parent
torch.set_num_threads(1)  # tiny models gain nothing from threads; and the suite may share the cores

DATA_DIR = Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "data"))


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


def tiny_config(**overrides) -> ModelConfig:
    values = dict(
        src_vocab_size=23,
        tgt_vocab_size=29,
        d_model=32,
        n_heads=4,
        n_encoder_layers=2,
        n_decoder_layers=2,
        d_ff=48,
        dropout=0.1,
        max_len=40,
    )
    return ModelConfig(**{**values, **overrides})


def random_ids(batch: int, length: int, vocab: int, pad_to: list[int] | None = None) -> torch.Tensor:
    """Token ids >= 3 (no PAD/BOS/EOS); row i padded after pad_to[i] tokens."""
    ids = torch.randint(3, vocab, (batch, length))
    for row, keep in enumerate(pad_to or []):
        ids[row, keep:] = 0
    return ids


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


def language_copy(checkpoint: Path, folder: Path, name: str, target_language: str) -> Path:
    """A copy of checkpoint as folder/name whose config.json says that it translates into
    target_language: the same weights, but another language pair for the pages to tell apart."""
    copy = folder / name
    shutil.copytree(checkpoint, copy)
    config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    config.update(name=name, target_language=target_language)
    (copy / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return copy


class _Scripts(HTMLParser):
    """Every <script> of a page as (attributes, text), split where a browser would split them."""

    def __init__(self):
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self.inside = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append((dict(attrs), ""))
            self.inside = True

    def handle_endtag(self, tag):
        if tag == "script":
            self.inside = False

    def handle_data(self, data):
        if self.inside:
            attributes, text = self.scripts[-1]
            self.scripts[-1] = (attributes, text + data)


def page_scripts(page: str) -> list[tuple[dict, str]]:
    parser = _Scripts()
    parser.feed(page)
    parser.close()
    return parser.scripts


def head_view_data(page: str) -> dict:
    """The data a head view page (figures/head_view.py) carries in its JSON block."""
    [text] = [text for attributes, text in page_scripts(page) if attributes.get("id") == "head-view-data"]
    return json.loads(text)
