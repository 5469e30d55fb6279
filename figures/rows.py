"""Which token names a row: the one row convention of every attention figure.

A decoder position reads one token (its input: "<s>", y1, ..., y(n-1)) and writes the next (its
output: y1, ..., yn, "</s>"). People read a row as the word it writes, so every decoder
self-attention and encoder–decoder figure names a query row by the token its position WRITES
(transformer's Translation.output_tokens); the token it READS (Translation.target_tokens, the
decoder input) goes in the hover ("writes Hunde · reads Zwei") and in the CSV. The keys of decoder
self-attention stay what has been written so far: the decoder input ("<s>", y1, ...). Encoder rows
and keys are the source tokens.

token_axes (or translation_axes, from a Translation) gives a figure's rows, keys, what each row
reads and the axis titles; row_convention is the one sentence a page writes under such a figure.
markdown_token and shift_markdown show tokens in Markdown, "<s>" literally. Pure, no torch.
"""

from typing import NamedTuple

from .tokens import label

ENCODER = "encoder"
QUERY_TITLE = "query"
WRITES_TITLE = "query: token written"
KEY_TITLES = {
    "encoder": "key",
    "decoder": "keys: tokens written so far (decoder input)",
    "cross": "key: source token",
}
CONVENTION = (
    "Each decoder row is named by the token that position writes (its output); it reads the token before "
    "it (the decoder input, one step behind), shown in the hover."
)
DECODER_KEYS = " Its keys are the tokens written so far: the decoder input, from `<s>`."
_MARKDOWN_SPECIALS = "\\`*_{}[]<>()#+-.!|~"


class TokenAxes(NamedTuple):
    """The tokens of one kind of attention's axes: queries name the rows (decoder kinds: the
    tokens written), keys the columns; reads is what each row reads (decoder kinds; None for the
    encoder, whose rows read their own token)."""

    kind: str
    queries: list[str]
    keys: list[str]
    reads: list[str] | None

    @property
    def titles(self) -> tuple[str, str]:
        """The query and key axes' titles."""
        return (QUERY_TITLE if self.reads is None else WRITES_TITLE), KEY_TITLES[self.kind]

    @property
    def short_titles(self) -> tuple[str, str]:
        """The two titles in a word or two, for narrow columns (the head view's headings)."""
        query = "query" if self.reads is None else "writes"
        return query, {"encoder": "key", "decoder": "written so far", "cross": "source"}[self.kind]

    @property
    def options(self) -> dict:
        """attention_heatmap's keyword options that carry the convention (hover, axis titles)."""
        return dict(reads=self.reads, axis_titles=self.titles)


def token_axes(kind: str, source_tokens: list[str], inputs: list[str], outputs: list[str]) -> TokenAxes:
    """The axes of `kind` ("encoder", "decoder" or "cross") for a source and a decoder whose
    position i reads inputs[i] ("<s>", y1, ...) and writes outputs[i] (y1, ..., "</s>")."""
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} decoder inputs but {len(outputs)} outputs")
    if kind == ENCODER:
        return TokenAxes(kind, list(source_tokens), list(source_tokens), None)
    keys = list(inputs) if kind == "decoder" else list(source_tokens)
    if kind not in KEY_TITLES:
        raise ValueError(f"unknown attention kind {kind!r}")
    return TokenAxes(kind, list(outputs), keys, list(inputs))


def translation_axes(kind: str, translation) -> TokenAxes:
    """token_axes of a transformer Translation: its target_tokens are read, its output_tokens written."""
    return token_axes(kind, translation.source_tokens, translation.target_tokens, translation.output_tokens)


def written_tokens(inputs: list[str], end: str, pad: str | None = None) -> list[str]:
    """What each position of a teacher-forced decoder input writes, as in training: the next input,
    and `end` ("</s>") after the last real one; a `pad` position writes pad."""
    real = [token for token in inputs if token != pad]
    written = [*real[1:], end] if real else []
    return written + [pad] * (len(inputs) - len(real))


def writes_reads(written: str, read: str) -> str:
    """A decoder row's name where there is room for both of its tokens: "writes Hunde · reads Zwei"."""
    return f"writes {written} · reads {read}"


def query_hover(written: str, read: str) -> str:
    """writes_reads escaped for Plotly's markup (hovers, titles)."""
    return label(writes_reads(written, read))


def row_convention(kind: str) -> str:
    """The caption sentence under a figure of `kind` (Markdown); "" for the encoder."""
    if kind == ENCODER:
        return ""
    return CONVENTION + (DECODER_KEYS if kind == "decoder" else "")


def markdown_token(token: str) -> str:
    """token for st.markdown, shown literally: "<s>" would be read as HTML and vanish."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIALS else c for c in token)


def _cell(token: str) -> str:
    return markdown_token(token) or " "


def shift_markdown(reads: list[str], writes: list[str]) -> str:
    """A Markdown table of the shift: per position, the token it reads and the token it writes."""
    if len(reads) != len(writes):
        raise ValueError(f"{len(reads)} tokens read but {len(writes)} written")
    lines = [
        "| position | " + " | ".join(str(i) for i in range(len(reads))) + " |",
        "|---|" + "---|" * len(reads),
        "| reads (decoder input) | " + " | ".join(_cell(t) for t in reads) + " |",
        "| writes (its output: the row's name) | " + " | ".join(_cell(t) for t in writes) + " |",
    ]
    return "\n".join(lines)
