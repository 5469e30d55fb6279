"""Number formats for inference and training on the CPU's matrix units (AMX, AVX-512 BF16/VNNI).

fp32 is the model as trained and the reference. For inference, `for_inference` returns a copy:
  - "bf16": every weight in bfloat16 (8 exponent bits like fp32, so no overflow; ~3 significant
    digits). Log-probabilities are taken in fp32 by the decoder all the same.
  - "int8": each nn.Linear replaced by a dynamically quantized one (weights int8 with one scale
    per matrix, activations quantized per call on the fly); embeddings, LayerNorm and attention
    stay fp32, so attention maps come out as before.
For training, `autocast` runs the matrix products in bf16 while the weights, the optimizer and
the loss stay fp32 (mixed precision; the loss's log_softmax already works in fp32).
"""

import contextlib
import copy
import warnings

import torch
from torch import nn

from .options import PRECISIONS, TRAINING_PRECISIONS
from .speed import plain_layers


def for_inference(model: nn.Module, precision: str) -> nn.Module:
    """The model itself for "fp32"; a converted copy (in eval mode) for "bf16" or "int8"."""
    if precision == "fp32":
        return model
    if precision == "bf16":
        return copy.deepcopy(model).to(torch.bfloat16).eval()
    if precision == "int8":
        if next(model.parameters()).device.type != "cpu":
            raise ValueError("int8 inference runs on the CPU only")
        copied = plain_layers(copy.deepcopy(model).eval())  # torch.ao quantizes a type of exactly nn.Linear
        with warnings.catch_warnings():  # torch.ao's eager quantization announces its successor
            warnings.simplefilter("ignore")
            # In place on our copy: quantize_dynamic would copy it again, 0.14 s of every CLI run.
            return torch.ao.quantization.quantize_dynamic(copied, {nn.Linear}, dtype=torch.qint8, inplace=True)
    raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed-precision context for a training step: bf16 matrix products, fp32 elsewhere."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    raise ValueError(f"training precision must be {' or '.join(TRAINING_PRECISIONS)}, got {precision!r}")
