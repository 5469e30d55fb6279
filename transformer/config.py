"""The model's hyperparameters (§3, Table 3): one frozen record that every module reads."""

from dataclasses import asdict, dataclass, fields

ATTENTION_KINDS = ("encoder", "decoder", "cross")  # encoder self, masked decoder self, encoder-decoder


def check_heads(d_model: int, n_heads: int, where: str = "ModelConfig") -> None:
    """h heads of d_k = d_model / h dimensions each (§3.2.2): ValueError naming `where` unless
    n_heads cuts d_model evenly."""
    if n_heads < 1:
        raise ValueError(f"{where}: 'n_heads' must be >= 1, got {n_heads}")
    if d_model % n_heads:
        raise ValueError(f"{where}: 'd_model' {d_model} is not divisible by 'n_heads' {n_heads}")


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
        check_heads(self.d_model, self.n_heads)

    def layers(self, kind: str) -> int:
        """How many layers hold attention of this kind: "encoder" (self-attention of the encoder),
        "decoder" (masked self-attention) or "cross" (encoder-decoder), both in decoder layers."""
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"kind must be one of {', '.join(ATTENTION_KINDS)}, got {kind!r}")
        return self.n_encoder_layers if kind == "encoder" else self.n_decoder_layers

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown model config fields: {', '.join(unknown)}")
        return cls(**values)
