"""Translation quality: sacreBLEU (cased, detokenized), chrF, and tokenized lowercased BLEU."""

from sacrebleu.metrics import BLEU, CHRF
from tqdm import tqdm

from .translator import Translator


def translate_all(
    translator: Translator,
    sources: list[str],
    beam_size: int | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> list[str]:
    """Translate many sentences in length-sorted batches (less padding), in the input order."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    outputs = [""] * len(sources)
    with tqdm(total=len(sources), desc="translating", unit="sent", disable=not progress) as bar:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            for i, text in zip(chunk, translator.translate_text([sources[i] for i in chunk], beam_size=beam_size)):
                outputs[i] = text
            bar.update(len(chunk))
    return outputs


def score(hypotheses: list[str], references: list[str]) -> dict:
    """Corpus scores. "bleu" is the standard sacreBLEU (13a tokenizer on detokenized, cased text);
    "bleu_tok_lc" lowercases first, close to the multi-bleu numbers older papers report."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    bleu, bleu_lc, chrf = BLEU(), BLEU(lowercase=True), CHRF()
    refs = [references]
    return {
        "bleu": round(bleu.corpus_score(hypotheses, refs).score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf": round(chrf.corpus_score(hypotheses, refs).score, 2),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_tok_lc": round(bleu_lc.corpus_score(hypotheses, refs).score, 2),
        "exact_match": round(100 * sum(h == r for h, r in zip(hypotheses, references)) / max(1, len(references)), 2),
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
