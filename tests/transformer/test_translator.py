import pytest
import torch

from transformer import load_checkpoint
from transformer.data import SYMBOLS
from transformer.evaluation import score


@pytest.fixture
def translator(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def random_sentence(length: int) -> str:
    return " ".join(SYMBOLS[i] for i in torch.randint(0, len(SYMBOLS), (length,)).tolist())


def test_attention_axes_match_the_token_lists(translator):
    texts = [random_sentence(n) for n in (3, 11, 6)]
    for beam in (1, 3):
        for text, result in zip(texts, translator.translate(texts, beam_size=beam, max_len=9)):
            S, T = len(result.source_tokens), len(result.target_tokens)
            assert result.source_tokens == text.split() + ["</s>"]
            assert result.target_tokens[0] == "<s>" and result.target_tokens[1:] == result.output_tokens[:-1]
            assert len(result.output_tokens) == len(result.token_probs) == T
            L, H = translator.config.n_encoder_layers, translator.config.n_heads
            assert result.attention["encoder"].shape == (L, H, S, S)
            assert result.attention["decoder"].shape == (translator.config.n_decoder_layers, H, T, T)
            assert result.attention["cross"].shape == (translator.config.n_decoder_layers, H, T, S)
            assert all(0 < p <= 1 for p in result.token_probs)


def test_batched_translation_equals_one_by_one(translator):
    texts = [random_sentence(n) for n in (2, 9, 5, 1)]
    batched = translator.translate(texts)
    for text, result in zip(texts, batched):
        single = translator.translate([text])[0]
        assert single.output_ids == result.output_ids
        torch.testing.assert_close(single.attention["cross"], result.attention["cross"], atol=1e-5, rtol=0)


def test_token_probabilities_match_the_model(translator):
    result = translator.translate([random_sentence(5)])[0]
    model, c = translator.model, translator.config
    src = torch.tensor([translator.tokenizer.encode(" ".join(result.source_tokens[:-1])) + [c.eos_id]])
    tgt = torch.tensor([[c.bos_id] + result.output_ids[:-1]])
    with torch.no_grad():
        logits = model(src, tgt)[0]
    logits[:, [c.pad_id, c.bos_id]] = float("-inf")
    expected = logits.softmax(-1).gather(1, torch.tensor(result.output_ids)[:, None])[:, 0]
    torch.testing.assert_close(torch.tensor(result.token_probs), expected, atol=1e-5, rtol=0)


def test_empty_unicode_and_oversize_input(translator):
    empty, odd, huge = translator.translate(["   ", "ünïcödé 🙂 \u202f z", random_sentence(500)], max_len=5)
    assert empty.text == "" and empty.source_tokens == [] and not empty.truncated
    assert odd.source_tokens[:2] == ["<unk>", "<unk>"] and odd.source_tokens[-2:] == ["z", "</s>"]
    assert huge.truncated and len(huge.source_tokens) == translator.config.max_len
    assert not odd.truncated


def test_bad_arguments(translator):
    with pytest.raises(ValueError, match="beam_size"):
        translator.translate(["a"], beam_size=0)
    with pytest.raises(ValueError, match="max_len"):
        translator.translate(["a"], max_len=0)


def test_alternatives_rank_the_steps_choices(translator):
    result = translator.translate([random_sentence(4)], max_len=6)[0]
    assert len(result.alternatives) == len(result.output_tokens)
    for (token, prob), choices in zip(zip(result.output_tokens, result.token_probs), result.alternatives):
        probs = [p for _, p in choices]
        assert probs == sorted(probs, reverse=True) and len(choices) == 5
        assert choices[0] == (token, pytest.approx(prob))  # greedy took the best


def test_text_prefix_and_beam_tree(translator):
    trace = []
    result = translator.translate(["a b c"], beam_size=2, max_len=6, prefix="z y", trace=trace)[0]
    assert result.output_tokens[:2] == ["z", "y"] and result.text.startswith("z y")
    assert trace and trace[0][0].step == 2  # the tree starts after the forced tokens


def test_translate_text_equals_the_full_results(translator):
    texts = [random_sentence(3), "", random_sentence(8)]
    for beam in (1, 2):
        assert translator.translate_text(texts, beam_size=beam) == [r.text for r in translator.translate(texts, beam)]


def test_scores_need_sentences_and_one_reference_each():
    with pytest.raises(ValueError, match="no sentences to score"):
        score([], [])  # sacreBLEU's own error here is an IndexError
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        score(["a", "b"], ["a"])
    assert score(["a b c d"], ["a b c d"])["exact_match"] == 100


def test_text_that_spells_a_control_token_is_unknown_text_in_the_source(translator):
    """ "<pad>" would otherwise be masked out as padding and "</s>" end the source early."""
    tokenizer = translator.tokenizer
    a, b, c = (tokenizer.encode(symbol)[0] for symbol in "abc")
    unk, eos = tokenizer.unk_id, tokenizer.eos_id
    assert translator.encode_source("a <pad> b </s> c <s>") == ([a, unk, b, unk, c, unk, eos], False)
    assert translator.translate_text(["a <pad> b </s> c"]) == translator.translate_text(["a <unk> b <unk> c"])
