"""Plain helpers that tests in every folder share: where the repository and the data are, a tiny
model configuration, random token ids, a relabelled copy of a checkpoint, weights compared exactly,
the environment for a command-line subprocess, and the head view page's data. Fixtures live in the
conftest.py files; this module holds no fixture."""

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import torch

from transformer import ModelConfig
from transformer.checkpoint import CONFIG_FILE
from transformer.options import default_data_dir

ROOT = Path(__file__).resolve().parent.parent  # the repository
DATA_DIR = default_data_dir()  # $TRANSFORMER_DATA_DIR, else ../shared/data beside the repository


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


def language_copy(checkpoint: Path, folder: Path, name: str, target_language: str) -> Path:
    """A copy of checkpoint as folder/name whose config.json says that it translates into
    target_language: the same weights, but another language pair for the pages to tell apart."""
    copy = folder / name
    shutil.copytree(checkpoint, copy)
    config = json.loads((copy / CONFIG_FILE).read_text(encoding="utf-8"))
    config.update(name=name, target_language=target_language)
    (copy / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    return copy


def assert_same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=0, msg=name)


def cli_env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


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
