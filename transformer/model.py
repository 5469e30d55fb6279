"""The encoder-decoder Transformer (§3, Figure 1)."""

from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
from torch import nn

from .config import ATTENTION_KINDS, ModelConfig
from .embeddings import PositionalEncoding, TokenEmbedding, sinusoidal_table
from .layers import KV, DecoderLayer, EncoderLayer, KVCache
from .masks import decoder_mask, look_ahead_mask, padding_mask
from .objective import output_layer_loss

__all__ = ["ATTENTION_KINDS", "DecoderState", "Decoded", "HeadGates", "ModelConfig", "Transformer"]

HeadGates = dict[str, torch.Tensor]  # kind -> (L, H) multipliers on head outputs


@dataclass
class DecoderState:
    """What incremental decoding keeps between steps (the key/value cache).

    The self-attention caches are written in place: a state is advanced by `Transformer.decode`
    and the state it was advanced from must not be decoded again.
    """

    src_mask: torch.Tensor  # (B, 1, 1, S)
    cross_kv: list[KV]  # per decoder layer, projected once from the encoder output
    self_kv: list[KVCache]  # per decoder layer, preallocated, filled one position per step
    length: int = 0  # target positions decoded so far

    def select(self, index: torch.Tensor, same_sources: bool = False) -> "DecoderState":
        """Keep/reorder batch rows (beam search; dropping finished sentences): every cached
        tensor is indexed on dim 0, with index_select (2.3x faster than t[index] on the CPU here),
        and of the self-attention caches only the positions decoded so far are copied.

        same_sources=True says that each new row i reads the same source sentence as row i did
        (beam search reordering the hypotheses within each sentence, no sentence leaving): the
        encoder's keys/values and mask then stay as they are, uncopied."""
        src_mask, cross_kv = self.src_mask, self.cross_kv
        if not same_sources:
            src_mask = src_mask.index_select(0, index)
            cross_kv = [(k.index_select(0, index), v.index_select(0, index)) for k, v in cross_kv]
        return replace(
            self,
            src_mask=src_mask,
            cross_kv=cross_kv,
            self_kv=[cache.select(index, self.length) for cache in self.self_kv],
        )


class Decoded(NamedTuple):
    logits: torch.Tensor  # (B, T, V)
    state: DecoderState  # advanced by T positions
    self_weights: list[torch.Tensor | None]  # per layer (B, H, T, state.length + T); None without need_weights
    cross_weights: list[torch.Tensor | None]  # per layer (B, H, T, S)


def _gate(head_gates: HeadGates | None, kind: str, layer: int) -> torch.Tensor | None:
    return None if head_gates is None or kind not in head_gates else head_gates[kind][layer]


class Transformer(nn.Module):
    """model(src_ids (B, S), tgt_ids (B, T)) -> logits (B, T, tgt_vocab_size).

    tgt_ids is the decoder input (BOS, y1, ..., y_{T-1}); logits at position t predict y_{t+1}.
    Padding masks come from config.pad_id; the look-ahead mask is applied inside.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.src_embed = TokenEmbedding(config.src_vocab_size, config.d_model, config.pad_id)
        self.tgt_embed = TokenEmbedding(config.tgt_vocab_size, config.d_model, config.pad_id)
        self.positional = PositionalEncoding(config.d_model, config.max_len, config.dropout)
        self.encoder_layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_encoder_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.n_decoder_layers))
        # Pre-norm stacks end un-normalised, so they get a final LayerNorm; post-norm ones do not.
        self.encoder_norm = nn.LayerNorm(config.d_model) if config.pre_norm else nn.Identity()
        self.decoder_norm = nn.LayerNorm(config.d_model) if config.pre_norm else nn.Identity()
        self.generator = nn.Linear(config.d_model, config.tgt_vocab_size, bias=False)  # softmax is in the loss
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        self._tie_embeddings()

    def _tie_embeddings(self) -> None:
        if self.config.tie_embeddings:
            self.tgt_embed.table = self.src_embed.table
            self.generator.weight = self.src_embed.table.weight

    @classmethod
    def skeleton(cls, config: ModelConfig) -> "Transformer":
        """The model's shapes without its numbers (on the meta device): nothing is allocated."""
        with torch.device("meta"):
            return cls(config)

    def assign_weights(self, tensors: dict[str, torch.Tensor]) -> "Transformer":
        """Fill a skeleton with `tensors` (its state dict, tied weights once) and return it.
        No random initial weights are drawn first: at en-de's size those took 0.1-0.2 s of every load."""
        self.load_state_dict(tensors, strict=False, assign=True)
        device = next(iter(tensors.values())).device if tensors else None
        # Not saved: a function of the sizes.
        self.positional.table = sinusoidal_table(self.config.max_len, self.config.d_model).to(device)
        self._tie_embeddings()
        empty = [name for name, t in [*self.named_parameters(), *self.named_buffers()] if t.is_meta]
        if empty:
            raise ValueError(f"no weights given for {', '.join(empty)}")
        return self

    # -- encoder ---------------------------------------------------------------------------
    def encode(
        self, src_ids: torch.Tensor, head_gates: HeadGates | None = None, need_weights: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor | None]]:
        """src_ids (B, S) -> memory (B, S, D), src_mask (B, 1, 1, S), per-layer weights (B, H, S, S)
        (None without need_weights: the fused attention path)."""
        src_mask = padding_mask(src_ids, self.config.pad_id)
        x = self.positional(self.src_embed(src_ids))
        weights = []
        for i, layer in enumerate(self.encoder_layers):
            x, w = layer(x, src_mask, _gate(head_gates, "encoder", i), need_weights)
            weights.append(w)
        return self.encoder_norm(x), src_mask, weights

    # -- decoder ---------------------------------------------------------------------------
    def start_decoding(self, memory: torch.Tensor, src_mask: torch.Tensor, capacity: int | None = None) -> DecoderState:
        """Project the encoder output to keys/values once for every decoder layer, and allocate
        each layer's self-attention cache for `capacity` target positions (default: max_len)."""
        config = self.config
        shape = (memory.size(0), config.n_heads, capacity or config.max_len, config.d_model // config.n_heads)
        # Contiguous once here, or every step's single-query product would copy them (B, H, S, d_k).
        cross_kv = [tuple(t.contiguous() for t in layer.cross_attn.project_kv(memory)) for layer in self.decoder_layers]
        caches = [KVCache(memory.new_empty(shape), memory.new_empty(shape)) for _ in self.decoder_layers]
        return DecoderState(src_mask, cross_kv, caches)

    def decode(
        self,
        tgt_ids: torch.Tensor,
        state: DecoderState,
        self_mask: torch.Tensor | None = None,
        head_gates: HeadGates | None = None,
        need_weights: bool = True,
    ) -> Decoded:
        """Run the decoder on the next target positions tgt_ids (B, T) after state.length cached ones.

        Returns logits (B, T, V), the advanced state, and per-layer self-attention
        (B, H, T, state.length + T) and cross-attention (B, H, T, S) weights (None without
        need_weights: the fused attention path).
        """
        new = tgt_ids.size(1)
        if self_mask is None and new > 1:  # no target padding among the new positions: look-ahead only
            self_mask = look_ahead_mask(new, tgt_ids.device, past=state.length)
        x = self.positional(self.tgt_embed(tgt_ids), start=state.length)
        self_weights, cross_weights = [], []
        for i, layer in enumerate(self.decoder_layers):
            gates = (_gate(head_gates, "decoder", i), _gate(head_gates, "cross", i))
            x, sw, cw = layer(
                x, state.cross_kv[i], self_mask, state.src_mask, state.self_kv[i], state.length, gates, need_weights
            )
            self_weights.append(sw)
            cross_weights.append(cw)
        logits = self.generator(self.decoder_norm(x))
        return Decoded(logits, replace(state, length=state.length + new), self_weights, cross_weights)

    def decode_all(
        self,
        tgt_ids: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor,
        head_gates: HeadGates | None = None,
        need_weights: bool = True,
        output_layer: bool = True,
    ) -> tuple[torch.Tensor, list[torch.Tensor | None], list[torch.Tensor | None]]:
        """Teacher forcing: every target position at once, padding masked, no cache.
        tgt_ids (B, T) -> logits (B, T, V), self- and cross-attention weights per layer.
        output_layer=False gives the decoder's output (B, T, D) instead of the logits."""
        self_mask = decoder_mask(tgt_ids, self.config.pad_id)
        x = self.positional(self.tgt_embed(tgt_ids))
        self_weights, cross_weights = [], []
        for i, layer in enumerate(self.decoder_layers):
            gates = (_gate(head_gates, "decoder", i), _gate(head_gates, "cross", i))
            cross_kv = layer.cross_attn.project_kv(memory)
            x, sw, cw = layer(x, cross_kv, self_mask, src_mask, head_gates=gates, need_weights=need_weights)
            self_weights.append(sw)
            cross_weights.append(cw)
        x = self.decoder_norm(x)
        return self.generator(x) if output_layer else x, self_weights, cross_weights

    # -- whole model -----------------------------------------------------------------------
    def forward_with_attention(
        self, src_ids: torch.Tensor, tgt_ids: torch.Tensor, head_gates: HeadGates | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Teacher-forced pass returning logits (B, T, V) and every attention map, stacked per kind:
        "encoder" (B, L, H, S, S), "decoder" (B, L, H, T, T), "cross" (B, L, H, T, S)."""
        memory, src_mask, enc_weights = self.encode(src_ids, head_gates)
        logits, dec_weights, cross_weights = self.decode_all(tgt_ids, memory, src_mask, head_gates)
        maps = {"encoder": enc_weights, "decoder": dec_weights, "cross": cross_weights}
        return logits, {kind: torch.stack(weights, dim=1) for kind, weights in maps.items()}

    def forward(
        self, src_ids: torch.Tensor, tgt_ids: torch.Tensor, targets: torch.Tensor | None = None, smoothing: float = 0.0
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training and scoring: the fused attention path, no maps. -> logits (B, T, V).

        With targets (B, T) (tgt_ids shifted left by one), the loss instead of the logits:
        (label-smoothed loss sum, NLL sum, non-pad tokens), the output layer computed inside the
        loss in chunks (objective.output_layer_loss: the same numbers, faster).
        """
        memory, src_mask, _ = self.encode(src_ids, need_weights=False)
        if targets is None:
            return self.decode_all(tgt_ids, memory, src_mask, need_weights=False)[0]
        hidden = self.decode_all(tgt_ids, memory, src_mask, need_weights=False, output_layer=False)[0]
        return output_layer_loss(hidden, self.generator.weight, targets, smoothing, self.config.pad_id)
