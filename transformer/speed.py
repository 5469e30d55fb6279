"""The speed-ups, applied by one explicit step: `speed_up(model)`.

The paper modules build plain nn.Linear and nn.Dropout, so they read like the paper. speed_up swaps
them, in place, for subclasses that compute the same function faster on this project's CPUs:
  - linear.OneRowLinear: the one-row products of a decoding step, on every core;
  - dropout.SixteenBitDropout: the keep-mask drawn from 16 random bits an element instead of 32.
The swapped layers hold the very same Parameter objects, so the state dict, tied weights and an
optimizer built before or after are unchanged. The loaders (translator.load_checkpoint) and the
trainer call it; `plain_layers` undoes it (torch.ao's int8 quantization wants nn.Linear exactly).
"""

import torch
from torch import nn

from .dropout import SixteenBitDropout
from .linear import OneRowLinear


def speed_up(model: nn.Module) -> nn.Module:
    """Replace every layer whose type is exactly nn.Linear or nn.Dropout by its faster subclass, in
    place (a second call changes nothing); returns the model."""
    return _swap(model, {nn.Linear: OneRowLinear, nn.Dropout: SixteenBitDropout})


def speed_up_decoding(model: nn.Module) -> nn.Module:
    """speed_up, and the output layer stored by columns: for a model that is only decoded, never
    trained (load_checkpoint's fp32 models, the exported checkpoint as it is scored); returns it."""
    speed_up(model)
    output_layer_by_columns(model)
    return model


def output_layer_by_columns(model: nn.Module) -> None:
    """Store the output layer's weight (V, d) column by column, in place: the same tensor, shape and
    values, laid out in memory as its (d, V) transpose. Decoding multiplies a few rows (one token
    per hypothesis) by the whole matrix at every step, and MKL's fp32 product of a few rows reads
    it several times faster this way (measured in the README's Speed section). Tied embeddings
    share the layout: their lookups read strided rows, which costs microseconds. For a model that
    is only decoded, never trained (load_checkpoint's fp32 models)."""
    weight = model.generator.weight
    weight.data = weight.data.t().contiguous().t()


def plain_layers(model: nn.Module) -> nn.Module:
    """Undo speed_up, in place: the faster layers back to nn.Linear and nn.Dropout; returns the model."""
    return _swap(model, {OneRowLinear: nn.Linear, SixteenBitDropout: nn.Dropout})


def _swap(model: nn.Module, kinds: dict[type, type]) -> nn.Module:
    swapped = {}  # a layer that appears twice in the model is replaced by one new layer
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) in kinds:
                if id(child) not in swapped:
                    swapped[id(child)] = _rebuilt(child, kinds[type(child)])
                setattr(parent, name, swapped[id(child)])
    return model


def _rebuilt(layer: nn.Module, kind: type) -> nn.Module:
    """A layer of type `kind` with layer's settings and its parameters themselves (not copies)."""
    if isinstance(layer, nn.Linear):
        with torch.device("meta"):  # nothing allocated: the parameters are layer's own
            new = kind(layer.in_features, layer.out_features, bias=layer.bias is not None)
        new.weight, new.bias = layer.weight, layer.bias
    else:
        new = kind(layer.p, layer.inplace)
    return new.train(layer.training)
