"""The checkpoints we ship do what their model cards say."""

import json
import random

import pytest
import torch

from tests.helpers import ROOT
from transformer import load_checkpoint
from transformer.checkpoint import CONFIG_FILE, METRICS_FILE, load_dev_sample
from transformer.data import reverse_task_pairs
from transformer.decoding import next_token_log_probs
from transformer.evaluation import score, translate_all

CHECKPOINTS = ROOT / "checkpoints"


SHIPPED = sorted(path.name for path in CHECKPOINTS.iterdir() if (path / CONFIG_FILE).is_file())


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


# A sentence each language model must get right, and words its translation must contain.
EVERYDAY = {
    "en-de": ("Two dogs are playing in the snow.", ["Hunde", "Schnee"]),
    "en-fr": ("Two dogs are playing in the snow.", ["chiens", "neige"]),
    "en-es": ("Where is the train station?", ["estación", "tren"]),
}


LANGUAGE_PAIRS = [name for name in SHIPPED if name in EVERYDAY]


@pytest.mark.parametrize("name", LANGUAGE_PAIRS)
def test_each_language_pair_translates_an_everyday_sentence(name):
    translator = load_checkpoint(CHECKPOINTS / name)
    sentence, words = EVERYDAY[name]
    text = translator.translate([sentence])[0].text
    assert all(word in text for word in words), text
    source, target = name.split("-")
    assert translator.info["source_language"] == source and translator.info["target_language"] == target


@pytest.mark.parametrize("name", LANGUAGE_PAIRS)
def test_the_model_cards_dev_score_holds_on_the_shipped_dev_sample(name):
    """metrics.json's dev BLEU (first 2,000 dev pairs, default beam) against a re-score of the
    100 dev pairs shipped beside it: a slice differs by a few points, broken weights by dozens."""
    translator = load_checkpoint(CHECKPOINTS / name)
    pairs = load_dev_sample(CHECKPOINTS / name)
    outputs = translate_all(translator, [s for s, _ in pairs])
    claimed = json.loads((CHECKPOINTS / name / METRICS_FILE).read_text())["dev"]["bleu"]
    assert score(outputs, [t for _, t in pairs])["bleu"] >= claimed - 10


def explicit_greedy(translator, text: str) -> list[int]:
    """Greedy decoding the slow, readable way: the whole prefix through forward_with_attention
    (Eq. 1 written out, no cache) at every step."""
    model, config = translator.model, translator.config
    src_ids, _ = translator.encode_source(text)
    limit = min(translator.output_limit(len(src_ids)), config.max_len)
    prefix = [config.bos_id]
    with torch.inference_mode():
        while len(prefix) <= limit:
            logits, _ = model.forward_with_attention(torch.tensor([src_ids]), torch.tensor([prefix]))
            prefix.append(int(next_token_log_probs(model, logits[:, -1]).argmax()))
            if prefix[-1] == config.eos_id:
                break
    return prefix[1:]


@pytest.mark.parametrize("name", SHIPPED)
def test_the_fused_cached_path_picks_the_explicit_paths_tokens(name):
    translator = load_checkpoint(CHECKPOINTS / name)
    sources = [source for source, _ in load_dev_sample(CHECKPOINTS / name)[:8]]
    fast = translator._decode([translator.encode_source(s)[0] for s in sources], beam_size=1)
    assert fast == [explicit_greedy(translator, s) for s in sources]


@pytest.mark.parametrize("name", SHIPPED)
def test_int8_translates_every_sentence_within_a_bleu_point_of_fp32(name):
    pairs = load_dev_sample(CHECKPOINTS / name)  # all 100: on 40, one changed sentence moved BLEU by 2
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    scores = {}
    for precision in ("fp32", "int8"):
        outputs = translate_all(load_checkpoint(CHECKPOINTS / name, precision), sources, beam_size=1)
        assert len(outputs) == len(sources) and all(outputs)
        scores[precision] = score(outputs, references)["bleu"]
    assert abs(scores["int8"] - scores["fp32"]) <= 1.0, scores
