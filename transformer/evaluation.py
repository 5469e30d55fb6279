"""Translation quality: sacreBLEU (cased, detokenized), chrF, and tokenized lowercased BLEU."""

from tqdm import tqdm

from .data import length_batches
from .options import BATCH_TOKENS
from .translator import Translator

BATCH_SENTENCES = 512


def translate_all(
    translator: Translator,
    sources: list[str],
    beam_size: int | None = None,
    max_len: int | None = None,
    max_tokens: int = BATCH_TOKENS,
    progress: bool = False,
) -> list[str]:
    """Translate many sentences without attention maps, in length-sorted batches of about
    max_tokens source tokens (beam search counts each of its hypotheses), in the input order."""
    encoded = translator.encode_sources(sources)
    beam = beam_size or translator.default_beam_size
    outputs = [""] * len(sources)
    batches = length_batches([len(ids or ()) for ids in encoded], max(1, max_tokens // beam), BATCH_SENTENCES)
    with tqdm(total=len(sources), desc="translating", unit="sent", disable=not progress) as bar:
        for batch in batches:
            for i, text in zip(batch, translator.translate_ids([encoded[i] for i in batch], beam_size, max_len)):
                outputs[i] = text
            bar.update(len(batch))
    return outputs


def score(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus scores. "bleu" is the standard sacreBLEU (13a tokenizer on detokenized, cased text);
    "bleu_tok_lc" lowercases first, close to the multi-bleu numbers older papers report."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise ValueError("no sentences to score")
    from sacrebleu.metrics import BLEU, CHRF  # here, not at the top: translating needs no scorer (38 ms of imports)

    bleu, bleu_lc, chrf = BLEU(), BLEU(lowercase=True), CHRF()
    refs = [references]
    return {
        "bleu": round(bleu.corpus_score(hypotheses, refs).score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf": round(chrf.corpus_score(hypotheses, refs).score, 2),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_tok_lc": round(bleu_lc.corpus_score(hypotheses, refs).score, 2),
        "exact_match": round(100 * sum(h == r for h, r in zip(hypotheses, references)) / len(references), 2),
        "sentences": len(hypotheses),
    }


def evaluate(
    translator: Translator,
    sources: list[str],
    references: list[str],
    beam_size: int | None = None,
    progress: bool = False,
) -> dict:
    hypotheses = translate_all(translator, sources, beam_size, progress=progress)
    return {**score(hypotheses, references), "beam_size": beam_size or translator.default_beam_size}
