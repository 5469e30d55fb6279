"""The tokenizer: special ids, round trips, normalisation, and the JSON it is saved as."""

import pytest

from transformer.tokenizer import SPECIAL_TOKENS, Tokenizer

CORPUS = ["two dogs are playing in the snow .", "a man is riding a bike .", "the dogs are in the park ."] * 20


@pytest.fixture(params=["bpe", "word"])
def tokenizer(request) -> Tokenizer:
    if request.param == "bpe":
        return Tokenizer.train_bpe(CORPUS, vocab_size=60, min_frequency=1)
    return Tokenizer.train_word_level(CORPUS)


def test_special_tokens_take_the_first_four_ids(tokenizer):
    assert (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id) == (0, 1, 2, 3)
    assert tokenizer.tokens([0, 1, 2, 3]) == SPECIAL_TOKENS


def test_known_text_survives_a_round_trip(tokenizer):
    text = "the dogs are playing in the snow ."
    ids = tokenizer.encode(text)
    assert all(i > 3 for i in ids)  # no specials added, nothing unknown
    assert tokenizer.decode(ids) == text
    assert tokenizer.encode_batch([text, "a bike ."]) == [ids, tokenizer.encode("a bike .")]


def test_unknown_characters_become_unk_and_specials_are_skipped_in_decoding(tokenizer):
    ids = tokenizer.encode("dogs 😀")
    assert tokenizer.unk_id in ids
    assert tokenizer.decode([tokenizer.bos_id, *tokenizer.encode("dogs"), tokenizer.eos_id, tokenizer.pad_id]) == "dogs"


def test_spaces_are_normalised_before_splitting(tokenizer):
    # Tatoeba's non-breaking spaces (U+00A0, U+202F), runs of spaces and edges all read as one space.
    assert tokenizer.encode("  dogs\u00a0are \u202f in   the park . ") == tokenizer.encode("dogs are in the park .")


def test_saved_json_loads_the_same_vocabulary(tokenizer, tmp_path):
    path = tmp_path / "tokenizer.json"
    tokenizer.save(path)
    for loaded in (Tokenizer.from_file(path), Tokenizer.from_str(path.read_text())):
        assert loaded.vocab_size == tokenizer.vocab_size
        assert loaded.encode("a man is riding a bike .") == tokenizer.encode("a man is riding a bike .")


def test_a_vocabulary_without_the_specials_in_place_is_refused(tmp_path):
    from tokenizers import Tokenizer as Backend
    from tokenizers import models

    backend = Backend(models.WordLevel({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}, unk_token="<unk>"))
    with pytest.raises(ValueError, match="ids 0-3"):
        Tokenizer(backend)
