"""The checkpoints we ship do what their model cards say."""

import random

import pytest

from conftest import ROOT
from transformer import load_checkpoint
from transformer.data import reverse_task_pairs
from transformer.evaluation import translate_all

CHECKPOINTS = ROOT / "checkpoints"


def test_toy_reverse_is_at_least_99_percent_exact_on_fresh_sequences():
    translator = load_checkpoint(CHECKPOINTS / "toy-reverse")
    pairs = reverse_task_pairs(500, seed=random.SystemRandom().randrange(2**31))
    outputs = translate_all(translator, [s for s, _ in pairs])
    exact = sum(out == ref for out, (_, ref) in zip(outputs, pairs)) / len(pairs)
    assert exact >= 0.99, f"exact match {exact:.1%}"


def test_toy_reverse_cross_attention_is_the_anti_diagonal():
    translator = load_checkpoint(CHECKPOINTS / "toy-reverse")
    result = translator.translate(["a b c d e f g h i j"])[0]
    assert result.text == "j i h g f e d c b a"
    alignment = result.attention["cross"].mean(dim=(0, 1)).argmax(dim=-1).tolist()  # (T,)
    # Decoder input t (after <s>, y1..) predicts y_{t+1} = source token 9 - t.
    assert alignment[:10] == list(range(9, -1, -1))


@pytest.mark.skipif(not (CHECKPOINTS / "en-de").is_dir(), reason="checkpoints/en-de not trained yet")
def test_en_de_translates_a_caption():
    translator = load_checkpoint(CHECKPOINTS / "en-de")
    text = translator.translate(["Two dogs are playing in the snow."])[0].text
    assert "Hunde" in text and "Schnee" in text, text
    assert translator.info["source_language"] == "en" and translator.info["target_language"] == "de"
