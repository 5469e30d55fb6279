"""The encoder-decoder Transformer (§3, Figure 1)."""

from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

from .embeddings import PositionalEncoding, TokenEmbedding
from .layers import KV, DecoderLayer, EncoderLayer
from .masks import decoder_mask, look_ahead_mask, padding_mask

ATTENTION_KINDS = ("encoder", "decoder", "cross")  # encoder self, masked decoder self, encoder-decoder
HeadGates = dict[str, torch.Tensor]  # kind -> (L, H) multipliers on head outputs


@dataclass(frozen=True)
class ModelConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 512
    n_heads: int = 8
    n_encoder_layers: int = 6
    n_decoder_layers: int = 6
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 256
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    attention_dropout: float = 0.0
    pre_norm: bool = False
    tie_embeddings: bool = False  # one matrix for source, target and output embeddings (§3.4)

    def __post_init__(self):
        if self.tie_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError("tie_embeddings needs src_vocab_size == tgt_vocab_size")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown model config fields: {', '.join(unknown)}")
        return cls(**values)


@dataclass
class DecoderState:
    """What incremental decoding keeps between steps (the key/value cache)."""

    src_mask: torch.Tensor  # (B, 1, 1, S)
    cross_kv: list[KV]  # per decoder layer, projected once from the encoder output
    self_kv: list[KV | None]  # per decoder layer, grows by one position per step
    length: int = 0  # target positions decoded so far

    def select(self, index: torch.Tensor) -> "DecoderState":
        """Keep/reorder batch rows (beam search): every cached tensor is indexed on dim 0."""
        pick = lambda kv: None if kv is None else (kv[0][index], kv[1][index])  # noqa: E731
        return replace(
            self,
            src_mask=self.src_mask[index],
            cross_kv=[pick(kv) for kv in self.cross_kv],
            self_kv=[pick(kv) for kv in self.self_kv],
        )


def _gate(head_gates: HeadGates | None, kind: str, layer: int) -> torch.Tensor | None:
    return None if head_gates is None or kind not in head_gates else head_gates[kind][layer]


class Transformer(nn.Module):
    """model(src_ids (B, S), tgt_ids (B, T)) -> logits (B, T, tgt_vocab_size).

    tgt_ids is the decoder input (BOS, y1, ..., y_{T-1}); logits at position t predict y_{t+1}.
    Padding masks come from config.pad_id; the look-ahead mask is applied inside.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        layer_args = (c.d_model, c.n_heads, c.d_ff, c.dropout, c.attention_dropout, c.pre_norm)
        self.src_embed = TokenEmbedding(c.src_vocab_size, c.d_model, c.pad_id)
        self.tgt_embed = TokenEmbedding(c.tgt_vocab_size, c.d_model, c.pad_id)
        self.positional = PositionalEncoding(c.d_model, c.max_len, c.dropout)
        self.encoder_layers = nn.ModuleList(EncoderLayer(*layer_args) for _ in range(c.n_encoder_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(*layer_args) for _ in range(c.n_decoder_layers))
        # Pre-norm stacks end un-normalised, so they get a final LayerNorm; post-norm ones do not.
        self.encoder_norm = nn.LayerNorm(c.d_model) if c.pre_norm else nn.Identity()
        self.decoder_norm = nn.LayerNorm(c.d_model) if c.pre_norm else nn.Identity()
        self.generator = nn.Linear(c.d_model, c.tgt_vocab_size, bias=False)  # softmax is in the loss
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        if c.tie_embeddings:
            self.tgt_embed.table = self.src_embed.table
            self.generator.weight = self.src_embed.table.weight

    # -- encoder ---------------------------------------------------------------------------
    def encode(
        self, src_ids: torch.Tensor, head_gates: HeadGates | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """src_ids (B, S) -> memory (B, S, D), src_mask (B, 1, 1, S), per-layer weights (B, H, S, S)."""
        src_mask = padding_mask(src_ids, self.config.pad_id)
        x = self.positional(self.src_embed(src_ids))
        weights = []
        for i, layer in enumerate(self.encoder_layers):
            x, w = layer(x, src_mask, _gate(head_gates, "encoder", i))
            weights.append(w)
        return self.encoder_norm(x), src_mask, weights

    # -- decoder ---------------------------------------------------------------------------
    def start_decoding(self, memory: torch.Tensor, src_mask: torch.Tensor) -> DecoderState:
        """Project the encoder output to keys/values once for every decoder layer."""
        cross_kv = [layer.cross_attn.project_kv(memory) for layer in self.decoder_layers]
        return DecoderState(src_mask, cross_kv, [None] * len(self.decoder_layers))

    def decode(
        self,
        tgt_ids: torch.Tensor,
        state: DecoderState,
        self_mask: torch.Tensor | None = None,
        head_gates: HeadGates | None = None,
    ) -> tuple[torch.Tensor, DecoderState, list[torch.Tensor], list[torch.Tensor]]:
        """Run the decoder on the next target positions tgt_ids (B, T) after state.length cached ones.

        Returns logits (B, T, V), the advanced state, and per-layer self-attention
        (B, H, T, state.length + T) and cross-attention (B, H, T, S) weights.
        """
        if self_mask is None:  # no target padding among the new positions: look-ahead only
            self_mask = look_ahead_mask(tgt_ids.size(1), tgt_ids.device, past=state.length)
        x = self.positional(self.tgt_embed(tgt_ids), start=state.length)
        self_weights, cross_weights, self_kv = [], [], []
        for i, layer in enumerate(self.decoder_layers):
            gates = (_gate(head_gates, "decoder", i), _gate(head_gates, "cross", i))
            x, sw, cw, kv = layer(x, state.cross_kv[i], self_mask, state.src_mask, state.self_kv[i], gates)
            self_weights.append(sw)
            cross_weights.append(cw)
            self_kv.append(kv)
        logits = self.generator(self.decoder_norm(x))
        state = replace(state, self_kv=self_kv, length=state.length + tgt_ids.size(1))
        return logits, state, self_weights, cross_weights

    # -- whole model -----------------------------------------------------------------------
    def forward_with_attention(
        self, src_ids: torch.Tensor, tgt_ids: torch.Tensor, head_gates: HeadGates | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Teacher-forced pass returning logits (B, T, V) and every attention map, stacked per kind:
        "encoder" (B, L, H, S, S), "decoder" (B, L, H, T, T), "cross" (B, L, H, T, S)."""
        memory, src_mask, enc_weights = self.encode(src_ids, head_gates)
        state = self.start_decoding(memory, src_mask)
        self_mask = decoder_mask(tgt_ids, self.config.pad_id)
        logits, _, dec_weights, cross_weights = self.decode(tgt_ids, state, self_mask, head_gates)
        stack = lambda ws: torch.stack(ws, dim=1)  # noqa: E731
        return logits, {"encoder": stack(enc_weights), "decoder": stack(dec_weights), "cross": stack(cross_weights)}

    def forward(self, src_ids: torch.Tensor, tgt_ids: torch.Tensor) -> torch.Tensor:
        memory, src_mask, _ = self.encode(src_ids)
        state = self.start_decoding(memory, src_mask)
        logits, *_ = self.decode(tgt_ids, state, decoder_mask(tgt_ids, self.config.pad_id))
        return logits
