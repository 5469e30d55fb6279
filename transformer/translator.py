"""Text in, translation and every attention map out: what the CLI and the app call."""

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoint import load_model
from .decoding import BeamNode, beam_search, greedy_decode, next_token_log_probs
from .model import ATTENTION_KINDS, HeadGates, Transformer
from .options import PRECISIONS
from .precision import for_inference
from .speed import speed_up_decoding
from .tokenizer import Tokenizer


@dataclass
class Translation:
    """One translated sentence and the attention maps of the model that produced it.

    Axes (T = len(target_tokens), S = len(source_tokens)):
      attention["encoder"] (L, H, S, S): row = query source token, column = key source token.
      attention["decoder"] (L, H, T, T): row = query, column = key, both decoder *inputs*
                                         target_tokens = ["<s>", y1, ..., yn]; zero above the diagonal.
      attention["cross"]   (L, H, T, S): row = decoder input target_tokens[i], column = source token.
    Decoder row i is the step that predicted output_tokens[i] (= target_tokens[i + 1], or
    "</s>" at the end), with log-probability token_log_probs[i] (token_probs[i] = its exp);
    alternatives[i] lists that step's most probable tokens as (token, probability), best first.
    """

    text: str
    source_tokens: list[str]
    target_tokens: list[str]
    output_tokens: list[str]
    token_probs: list[float]
    attention: dict[str, torch.Tensor]
    alternatives: list[list[tuple[str, float]]] = field(default_factory=list, repr=False)
    truncated: bool = False  # the source was longer than the model's max_len and was cut
    source_ids: list[int] = field(default_factory=list, repr=False)
    output_ids: list[int] = field(default_factory=list, repr=False)
    token_log_probs: list[float] = field(default_factory=list, repr=False)

    @property
    def log_prob(self) -> float:
        """log P(output | source): summed log-probabilities, exact even where exp underflows."""
        return sum(self.token_log_probs)


class Translator:
    """A loaded model with its tokenizer and default decoding settings. Thread-safe: inference
    only, no state is stored between calls.

    precision "fp32" runs the model as trained; "bf16" and "int8" run a converted copy for faster
    CPU inference (see transformer.precision); attention maps are available in every precision.
    """

    def __init__(self, model: Transformer, tokenizer: Tokenizer, info: dict | None = None, precision: str = "fp32"):
        self.precision = precision
        self.model = for_inference(model.eval(), precision)
        self.tokenizer = tokenizer
        self.info = info or {}
        self.config = model.config
        decoding = self.info.get("decoding", {})
        self.default_beam_size = int(decoding.get("beam_size", 1))
        self.length_penalty = float(decoding.get("length_penalty", 0.6))
        self.max_len_a = float(decoding.get("max_len_a", 1.5))  # output limit = a * source length + b
        self.max_len_b = int(decoding.get("max_len_b", 10))

    def output_limit(self, source_tokens: int, max_len: int | None = None) -> int:
        """How many tokens the output may have: max_len when given, else a * source length + b
        (the checkpoint's decoding settings, 1.5 and 10 by default)."""
        return max_len or int(self.max_len_a * source_tokens + self.max_len_b)

    @property
    def device(self) -> torch.device:
        return self.model.src_embed.table.weight.device  # int8 linear layers have no parameters

    @property
    def max_source_tokens(self) -> int:
        return self.config.max_len - 1  # room for the EOS the source always ends with

    def _with_eos(self, ids: list[int]) -> tuple[list[int], bool]:
        """ids cut to the model's max_len, plus EOS; and whether they were cut. Text that spells a
        control token ("<pad>", "<s>", "</s>": the tokenizer matches them) is unknown text here,
        never padding, a start or an early end of the source."""
        config, room = self.config, self.max_source_tokens
        control = (config.pad_id, config.bos_id, config.eos_id)
        kept = [self.tokenizer.unk_id if i in control else i for i in ids[:room]]
        return kept + [config.eos_id], len(ids) > room

    def encode_source(self, text: str) -> tuple[list[int], bool]:
        """Token ids of text plus EOS, cut to the model's max_len; and whether it was cut."""
        return self._with_eos(self.tokenizer.encode(text))

    def _encode_many(self, texts: list[str]) -> list[tuple[list[int], bool] | None]:
        """encode_source for many texts at once (the tokenizer works in parallel); None for blank."""
        encoded = iter(self.tokenizer.encode_batch([t for t in texts if t.strip()]))
        return [self._with_eos(next(encoded)) if text.strip() else None for text in texts]

    def encode_sources(self, texts: list[str]) -> list[list[int] | None]:
        """Source ids of many texts (see encode_source); None for blank texts, which translate to ""."""
        return [source and source[0] for source in self._encode_many(texts)]

    def translate(
        self,
        texts: list[str],
        beam_size: int | None = None,
        max_len: int | None = None,
        head_gates: HeadGates | None = None,
        prefix: str | None = None,
        trace: list[list[BeamNode]] | None = None,
    ) -> list["Translation"]:
        """Translate a batch. beam_size None uses the checkpoint's default, 1 is greedy.
        max_len caps the output length in tokens (default: 1.5 x source + 10). `prefix` forces
        the start of every translation; `trace` (a list) receives the first sentence's beam tree."""
        sources = self._encode_many(texts)
        outputs = iter(self._decode([s[0] for s in sources if s], beam_size, max_len, head_gates, prefix, trace))
        return [
            self._empty() if source is None else self.explain(source[0], next(outputs), head_gates, source[1])
            for source in sources
        ]

    def translate_text(self, texts: list[str], beam_size: int | None = None, max_len: int | None = None) -> list[str]:
        """Translations only, without attention maps or probabilities: for scoring many sentences
        (transformer.evaluation.translate_all batches them by length)."""
        return self.translate_ids(self.encode_sources(texts), beam_size, max_len)

    def translate_ids(
        self, sources: list[list[int] | None], beam_size: int | None = None, max_len: int | None = None
    ) -> list[str]:
        """Translations of sources encoded by encode_sources (None: a blank text -> "")."""
        outputs = iter(self._decode([s for s in sources if s], beam_size, max_len))
        return ["" if s is None else self.tokenizer.decode(next(outputs)) for s in sources]

    def _decode(
        self,
        sources: list[list[int]],
        beam_size: int | None,
        max_len: int | None = None,
        head_gates: HeadGates | None = None,
        prefix: str | None = None,
        trace: list[list[BeamNode]] | None = None,
    ) -> list[list[int]]:
        """Output ids for a batch of source ids (each ending in EOS)."""
        beam_size = self.default_beam_size if beam_size is None else beam_size
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if max_len is not None and max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        if not sources:
            return []
        longest = max(map(len, sources))
        src = torch.tensor([ids + [self.config.pad_id] * (longest - len(ids)) for ids in sources], device=self.device)
        limits = [self.output_limit(len(ids), max_len) for ids in sources]
        forced = self.tokenizer.encode(prefix) if prefix and prefix.strip() else None
        if beam_size == 1 and trace is None:
            return greedy_decode(self.model, src, limits, head_gates, forced)
        return beam_search(self.model, src, limits, beam_size, self.length_penalty, head_gates, forced, trace)

    def explain(
        self,
        src_ids: list[int],
        output_ids: list[int],
        head_gates: HeadGates | None = None,
        truncated: bool = False,
        top_k: int = 5,
    ) -> Translation:
        """Teacher-force output_ids on src_ids and collect attention and token probabilities."""
        config = self.config
        ends = bool(output_ids) and output_ids[-1] == config.eos_id
        # The last output token is never a decoder input (the model stopped or hit max_len).
        decoder_input = [config.bos_id] + output_ids[:-1]
        device = self.device
        with torch.inference_mode():
            logits, attention = self.model.forward_with_attention(
                torch.tensor([src_ids], device=device), torch.tensor([decoder_input], device=device), head_gates
            )
            log_probs = next_token_log_probs(self.model, logits[0])  # (T, V)
            chosen = log_probs.gather(1, torch.tensor(output_ids, device=device)[:, None])[:, 0]  # (T,)
            top_probs, top_ids = log_probs.exp().topk(min(top_k, log_probs.size(-1)), dim=-1)
        alternatives = [
            list(zip(self.tokenizer.tokens(ids), p)) for ids, p in zip(top_ids.tolist(), top_probs.tolist())
        ]
        words = output_ids[:-1] if ends else output_ids
        return Translation(
            text=self.tokenizer.decode(words),
            source_tokens=self.tokenizer.tokens(src_ids),
            target_tokens=self.tokenizer.tokens(decoder_input),
            output_tokens=self.tokenizer.tokens(output_ids),
            token_probs=chosen.exp().tolist(),
            token_log_probs=chosen.tolist(),
            attention={kind: maps[0].float().cpu() for kind, maps in attention.items()},
            alternatives=alternatives,
            truncated=truncated,
            source_ids=src_ids,
            output_ids=output_ids,
        )

    def _empty(self) -> Translation:
        config = self.config
        attention = {kind: torch.zeros(config.layers(kind), config.n_heads, 0, 0) for kind in ATTENTION_KINDS}
        return Translation(
            text="", source_tokens=[], target_tokens=[], output_tokens=[], token_probs=[], attention=attention
        )


def load_checkpoint(path: str | Path, precision: str = "fp32") -> Translator:
    """Load a checkpoint folder (see transformer.checkpoint) as a ready-to-use Translator;
    precision is one of PRECISIONS ("fp32", "bf16", "int8")."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    model, tokenizer, info = load_model(path)
    if precision == "fp32":  # the model is ours and only decodes (bf16 and int8 decode a converted copy)
        speed_up_decoding(model)
    return Translator(model, tokenizer, info, precision)
