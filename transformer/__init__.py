"""A from-scratch encoder-decoder Transformer (Vaswani et al., 2017, "Attention Is All You Need")."""

from .checkpoint import CheckpointError, save_checkpoint
from .model import ModelConfig, Transformer
from .tokenizer import Tokenizer
from .translator import Translation, Translator, load_checkpoint

__all__ = [
    "CheckpointError",
    "ModelConfig",
    "Tokenizer",
    "Transformer",
    "Translation",
    "Translator",
    "load_checkpoint",
    "save_checkpoint",
]
