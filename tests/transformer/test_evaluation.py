"""The scores: sacreBLEU's numbers, tokenized lowercased BLEU, exact match, and what is refused."""

import pytest
from sacrebleu.metrics import BLEU

from transformer.evaluation import score


def test_scores_are_sacrebleus_and_exact_match_counts_identical_sentences():
    hypotheses = ["Zwei Hunde spielen im Schnee.", "Ein Mann fährt Rad.", "Die Katze schläft"]
    references = ["Zwei Hunde spielen im Schnee.", "Ein Mann fährt ein Fahrrad.", "Die Katze schläft."]
    scores = score(hypotheses, references)
    assert scores["bleu"] == round(BLEU().corpus_score(hypotheses, [references]).score, 2)
    assert scores["bleu_tok_lc"] == round(BLEU(lowercase=True).corpus_score(hypotheses, [references]).score, 2)
    assert 0 < scores["bleu"] < 100 and 0 < scores["chrf"] < 100
    assert scores["exact_match"] == round(100 / 3, 2)
    assert scores["sentences"] == 3
    assert scores["bleu_signature"].startswith("nrefs:1")


def test_identical_corpora_score_100_and_lowercased_bleu_ignores_case():
    lines = ["a man is riding a bike .", "two dogs play ."]
    assert score(lines, lines)["bleu"] == 100
    assert score([line.upper() for line in lines], lines)["bleu_tok_lc"] == 100


@pytest.mark.parametrize(
    "hypotheses,references,words", [(["a"], ["a", "b"], "1 hypotheses but 2"), ([], [], "no sentences")]
)
def test_mismatched_or_empty_corpora_are_refused(hypotheses, references, words):
    with pytest.raises(ValueError, match=words):
        score(hypotheses, references)
