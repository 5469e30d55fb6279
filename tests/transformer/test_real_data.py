"""The readers on the real corpora in the data folder (tests.helpers.DATA_DIR; skipped where it is absent)."""

import pytest

from tests.helpers import DATA_DIR
from transformer import data as D
from transformer.recipe import CORPUS_SPLITS

pytestmark = pytest.mark.skipif(not (DATA_DIR / "multi30k").is_dir(), reason=f"no training data at {DATA_DIR}")


def test_multi30k_reads_whole():
    pairs, stats = D.read_parallel(DATA_DIR / "multi30k/val.en.gz", DATA_DIR / "multi30k/val.de.gz")
    assert stats.read == 1014 and stats.bad == 0
    assert len(pairs) + stats.duplicates == 1014


def test_tatoeba_split_has_no_english_sentence_on_two_sides():
    corpus = "tatoeba-anki/deu-eng/deu.txt.gz"
    pairs, stats = D.read_tsv(DATA_DIR / corpus)
    assert stats.read == 166_455 and stats.bad == 0
    assert not any("\u00a0" in s or "\u202f" in t for s, t in pairs)
    sides = {
        name: {s for s, _ in D.split_pairs(pairs, name, **CORPUS_SPLITS[corpus])} for name in ("train", "dev", "test")
    }
    assert not (sides["train"] & sides["dev"]) and not (sides["train"] & sides["test"])
    assert not (sides["dev"] & sides["test"])
    assert 0.015 < len(sides["dev"]) / len({s for s, _ in pairs}) < 0.025
