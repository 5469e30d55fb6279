"""A from-scratch encoder-decoder Transformer (Vaswani et al., 2017, "Attention Is All You Need").

Read it in this order. The paper:
  1. config.py      the hyperparameters (§3, Table 3)
  2. masks.py       padding and look-ahead masks (§3.2.3)
  3. embeddings.py  token embeddings and the sinusoidal positional encoding (§3.4, §3.5)
  4. attention.py   scaled dot-product and multi-head attention (§3.2, Eq. 1)
  5. layers.py      feed-forward, residual + LayerNorm, encoder and decoder layers (§3.1, §3.3)
  6. model.py       the whole encoder-decoder, with the key/value cache for decoding (§3, Figure 1)
  7. objective.py   label-smoothed cross-entropy and the warm-up schedule (§5.3, §5.4)
  8. decoding.py    greedy decoding and beam search (§6.1); sampling.py beside them
Then the engineering:
  9. speed.py       speed_up(model): the faster linear.py and dropout.py layers, swapped in by one call
 10. precision.py   bf16 and int8 inference copies, bf16 mixed-precision training
 11. tokenizer.py, checkpoint.py, validation.py   subwords and the checkpoint folder, checked on load
 12. translator.py  text in, translation and attention maps out: load_checkpoint, Translator
 13. data.py, recipe.py                           the corpora and the training recipe (§5)
 14. training.py, export.py, evaluation.py        the training loop, the exported checkpoint, BLEU and chrF
 15. analysis.py, inside.py, attribution.py       what the app shows about a trained model
"""

from importlib import import_module

# Each public name and the module that defines it. Imported on first use (PEP 562), so that the
# command line can pause the garbage collector while torch loads (__main__.import_library).
_HOMES = {
    "CheckpointError": "checkpoint",
    "ModelConfig": "config",
    "Tokenizer": "tokenizer",
    "Transformer": "model",
    "Translation": "translator",
    "Translator": "translator",
    "load_checkpoint": "translator",
    "save_checkpoint": "checkpoint",
    "speed_up": "speed",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
