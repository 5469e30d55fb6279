"""Inside one layer: every intermediate tensor of one encoder or decoder layer (§3.1), computed by
re-running that layer with the model's own modules for one sentence.

An encoder layer is self-attention then feed-forward; a decoder layer is masked self-attention,
encoder-decoder attention, then feed-forward. Each sub-layer sits in a residual connection with
LayerNorm (`Residual.input` / `Residual.output`: post-norm as in the paper, or pre-norm), so

    attention sub-layer:     MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O      (§3.2.2)
                             head_i = softmax(Q_i K_i^T / sqrt(d_k) + M) V_i             (Eq. 1)
    feed-forward sub-layer:  FFN(x) = max(0, x W_1 + b_1) W_2 + b_2                      (Eq. 2)

`inside_layer` returns a `LayerTrace` of one layer, every head included; `AttentionTrace.steps`
serves the Masks page (one head, step by step) and `AttentionTrace.neuron` the neuron view (one
query against every key). Nothing is stored on the model: the trace is returned.

Shapes drop the batch: T_q queries, T_k keys, D = d_model, H heads of d_k = D / H.
"""

import math
from dataclasses import dataclass

import torch

from .attention import MultiHeadAttention
from .layers import FeedForward, Residual
from .masks import decoder_mask, padding_mask
from .model import ATTENTION_KINDS, Transformer


@dataclass(frozen=True)
class SublayerTrace:
    """A sub-layer in its residual connection: result = Residual.output(x, output), that is
    LayerNorm(x + output) post-norm, x + output pre-norm."""

    x: torch.Tensor  # (T, D) the residual stream entering the sub-layer
    input: torch.Tensor  # (T, D) Residual.input(x): what the sub-layer reads, LayerNorm(x) if pre-norm
    output: torch.Tensor  # (T, D) the sub-layer's output
    residual_sum: torch.Tensor  # (T, D) x + output, before the post-norm LayerNorm
    result: torch.Tensor  # (T, D) the residual stream leaving the sub-layer


@dataclass(frozen=True)
class NeuronView:
    """One query of one head against every key (BertViz's neuron view): the score of key j is
    sum(q ⊙ k_j), its weight the softmax of the scaled, masked scores; the head's output for
    the query is the weighted sum of the values."""

    query: torch.Tensor  # (d_k,) q
    keys: torch.Tensor  # (T_k, d_k) k_j
    products: torch.Tensor  # (T_k, d_k) q ⊙ k_j
    scores: torch.Tensor  # (T_k,) q · k_j = sum of the products
    scaled: torch.Tensor  # (T_k,) q · k_j / sqrt(d_k)
    allowed: torch.Tensor  # (T_k,) True where the mask lets the query attend
    weights: torch.Tensor  # (T_k,) softmax over the allowed keys
    weighted_values: torch.Tensor  # (T_k, d_k) weight_j v_j
    output: torch.Tensor  # (d_k,) the head's output for the query: sum_j weight_j v_j


@dataclass(frozen=True)
class AttentionTrace(SublayerTrace):
    """A multi-head attention sub-layer (§3.2.2), every head. `input` gives the queries; the keys
    and values come from key_input: the same tensor in self-attention, the encoder output in
    encoder-decoder attention."""

    key_input: torch.Tensor  # (T_k, D)
    queries: torch.Tensor  # (H, T_q, d_k) Q W_i^Q
    keys: torch.Tensor  # (H, T_k, d_k) K W_i^K
    values: torch.Tensor  # (H, T_k, d_k) V W_i^V
    scores: torch.Tensor  # (H, T_q, T_k) Q K^T
    scaled: torch.Tensor  # (H, T_q, T_k) Q K^T / sqrt(d_k)
    mask: torch.Tensor  # (H, T_q, T_k) True where the query may attend to the key
    masked: torch.Tensor  # (H, T_q, T_k) scaled, -inf where the mask forbids
    weights: torch.Tensor  # (H, T_q, T_k) softmax(masked): the attention maps
    heads: torch.Tensor  # (H, T_q, d_k) head_i = weights_i V_i
    concat: torch.Tensor  # (T_q, D) Concat(head_1, ..., head_h); output = concat W^O + b^O

    def steps(self, head: int) -> dict[str, torch.Tensor]:
        """Eq. 1 for one head, one step at a time, each (T_q, T_k) unless noted: "queries"
        (T_q, d_k), "keys" (T_k, d_k), "scores", "scaled", "mask", "masked", "weights"."""
        names = ("queries", "keys", "scores", "scaled", "mask", "masked", "weights")
        return {name: getattr(self, name)[head] for name in names}

    def neuron(self, head: int, query: int) -> NeuronView:
        q, keys, values = self.queries[head, query], self.keys[head], self.values[head]
        products = q * keys  # (T_k, d_k)
        weights = self.weights[head, query]
        return NeuronView(
            query=q,
            keys=keys,
            products=products,
            scores=products.sum(dim=-1),
            scaled=self.scaled[head, query],
            allowed=self.mask[head, query],
            weights=weights,
            weighted_values=weights[:, None] * values,
            output=self.heads[head, query],
        )


@dataclass(frozen=True)
class FeedForwardTrace(SublayerTrace):
    hidden: torch.Tensor  # (T, d_ff) max(0, input W_1 + b_1); output = hidden W_2 + b_2

    @property
    def zero_share(self) -> float:
        """The share of hidden activations the ReLU set to zero."""
        return (self.hidden == 0).float().mean().item()


@dataclass(frozen=True)
class LayerTrace:
    """One layer of one kind of attention: "encoder" (an encoder layer), "decoder" (a decoder
    layer, its masked self-attention traced) or "cross" (a decoder layer, its encoder-decoder
    attention traced). In a decoder layer the other attention sub-layer lies between `input`
    and `attention.x` (cross) or between `attention.result` and `feed_forward.x` (decoder)."""

    kind: str
    layer: int  # 0-based
    pre_norm: bool
    input: torch.Tensor  # (T_q, D) X, the layer's input: the previous layer's output
    memory: torch.Tensor | None  # (S, D) the encoder output (decoder layers), None in the encoder
    attention: AttentionTrace
    feed_forward: FeedForwardTrace

    @property
    def output(self) -> torch.Tensor:
        """(T_q, D) the layer's output, the next layer's input."""
        return self.feed_forward.result


def _residual(residual: Residual, x: torch.Tensor, output: torch.Tensor) -> dict[str, torch.Tensor]:
    """The residual connection's fields of a SublayerTrace, batch row 0; x and output (1, T, D)."""
    return {"x": x[0], "output": output[0], "residual_sum": (x + output)[0], "result": residual.output(x, output)[0]}


def trace_attention(
    attention: MultiHeadAttention,
    residual: Residual,
    x: torch.Tensor,
    mask: torch.Tensor,
    memory: torch.Tensor | None = None,
) -> AttentionTrace:
    """The attention sub-layer on the residual stream x (1, T_q, D), with mask (1, 1, T_q or 1,
    T_k); self-attention unless memory (1, T_k, D) gives the keys and values."""
    h = residual.input(x)  # (1, T_q, D)
    source = h if memory is None else memory  # (1, T_k, D)
    queries = attention.split_heads(attention.q_proj(h))[0]  # (H, T_q, d_k)
    keys, values = (t[0] for t in attention.project_kv(source))  # (H, T_k, d_k)
    scores = queries @ keys.transpose(-2, -1)  # (H, T_q, T_k)
    scaled = scores / math.sqrt(attention.d_k)
    allowed = mask[0].expand_as(scores)
    masked = scaled.masked_fill(~allowed, float("-inf"))
    weights = masked.softmax(dim=-1)
    heads = weights @ values  # (H, T_q, d_k)
    concat = heads.transpose(0, 1).reshape(h.size(1), -1)  # (T_q, D): head i in columns i d_k ... (i+1) d_k
    output = attention.out_proj(concat)[None]  # (1, T_q, D)
    return AttentionTrace(
        input=h[0],
        key_input=source[0],
        queries=queries,
        keys=keys,
        values=values,
        scores=scores,
        scaled=scaled,
        mask=allowed,
        masked=masked,
        weights=weights,
        heads=heads,
        concat=concat,
        **_residual(residual, x, output),
    )


def trace_feed_forward(feed_forward: FeedForward, residual: Residual, x: torch.Tensor) -> FeedForwardTrace:
    """The feed-forward sub-layer (Eq. 2) on the residual stream x (1, T, D)."""
    h = residual.input(x)
    hidden = torch.relu(feed_forward.w1(h))  # (1, T, d_ff)
    return FeedForwardTrace(input=h[0], hidden=hidden[0], **_residual(residual, x, feed_forward.w2(hidden)))


@torch.no_grad()
def inside_layer(model: Transformer, src_ids: torch.Tensor, tgt_ids: torch.Tensor, kind: str, layer: int) -> LayerTrace:
    """Re-run layer `layer` (0-based) of the stack that holds `kind` for the first sentence of the
    batch: src_ids (B, S) and tgt_ids (B, T), the decoder input (BOS, y1, ...), as in
    Transformer.forward_with_attention (padding kept, so its masks act). The layers below it run
    as the model runs them; the attention weights are the maps the model returns."""
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"kind must be one of {', '.join(ATTENTION_KINDS)}, got {kind!r}")
    src_ids, tgt_ids, pad_id = src_ids[:1], tgt_ids[:1], model.config.pad_id
    src_mask = padding_mask(src_ids, pad_id)
    if kind == "encoder":
        x, memory = model.positional(model.src_embed(src_ids)), None
        for block in model.encoder_layers[:layer]:
            x, _ = block(x, src_mask)
        block = model.encoder_layers[layer]
        attention = trace_attention(block.self_attn, block.attn_residual, x, src_mask)
        stream = attention.result
    else:
        memory, _, _ = model.encode(src_ids)
        self_mask = decoder_mask(tgt_ids, pad_id)
        x = model.positional(model.tgt_embed(tgt_ids))
        for block in model.decoder_layers[:layer]:
            x, *_ = block(x, block.cross_attn.project_kv(memory), self_mask, src_mask)
        block = model.decoder_layers[layer]
        masked_self = trace_attention(block.self_attn, block.self_residual, x, self_mask)
        cross = trace_attention(block.cross_attn, block.cross_residual, masked_self.result[None], src_mask, memory)
        attention, stream = (masked_self if kind == "decoder" else cross), cross.result
        memory = memory[0]
    feed_forward = trace_feed_forward(block.feed_forward, block.ff_residual, stream[None])
    return LayerTrace(kind, layer, model.config.pre_norm, x[0], memory, attention, feed_forward)
