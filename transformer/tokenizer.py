"""Subword tokenization with the `tokenizers` library, saved as JSON beside the weights.

One joint vocabulary serves source and target, so their embeddings can be shared (§3.4).
"""

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, trainers
from tokenizers import Tokenizer as Backend

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]  # ids 0, 1, 2, 3 in every vocabulary we train


def _normalizer() -> normalizers.Normalizer:
    # NFKC also maps the non-breaking spaces of the Tatoeba files (U+00A0, U+202F) to spaces.
    return normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()])


class Tokenizer:
    """Text <-> ids, and ids -> display strings for the visualisations."""

    def __init__(self, backend: Backend):
        self.backend = backend
        ids = [backend.token_to_id(t) for t in SPECIAL_TOKENS]
        if ids != [0, 1, 2, 3]:
            raise ValueError(f"tokenizer must map {SPECIAL_TOKENS} to ids 0-3, got {ids}")
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = ids

    @classmethod
    def train_bpe(cls, texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> "Tokenizer":
        """Byte-pair encoding (Sennrich et al., 2016) with SentencePiece-style "▁" word starts."""
        backend = Backend(models.BPE(unk_token=UNK))
        backend.normalizer = _normalizer()
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation(), pre_tokenizers.Digits(individual_digits=True)]
        )
        backend.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS, show_progress=False
        )
        backend.train_from_iterator(texts, trainer)
        return cls(backend)

    @classmethod
    def train_word_level(cls, texts: Iterable[str]) -> "Tokenizer":
        """One token per whitespace-separated word: for toy tasks with a closed vocabulary."""
        backend = Backend(models.WordLevel(unk_token=UNK))
        backend.normalizer = _normalizer()
        backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        trainer = trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS, show_progress=False)
        backend.train_from_iterator(texts, trainer)
        return cls(backend)

    @classmethod
    def from_file(cls, path: str | Path) -> "Tokenizer":
        return cls(Backend.from_file(str(path)))

    @classmethod
    def from_str(cls, text: str) -> "Tokenizer":
        """From the JSON that save writes."""
        return cls(Backend.from_str(text))

    def save(self, path: str | Path) -> None:
        self.backend.save(str(path))

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Token ids of text, without BOS/EOS."""
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=True)

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Display strings, one per id (specials included)."""
        return [self.backend.id_to_token(i) for i in ids]
